/**
 * Blip's two URLs: token checked, envelope validated, nothing stored on rejection, 202 once
 * stored, the same message id stored and forwarded once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BOT, IDENTIFIER, INBOUND_TOKEN, startHarness, until, type Harness } from '../helpers/harness.js';
import { postOverLimit } from '../helpers/over-limit.js';

const AUTH = { authorization: `Bearer ${INBOUND_TOKEN}` };
const TUNNEL = '0a1b2c3d-0000-4000-8000-000000000001@tunnel.msging.net';

describe('POST /blip/{bot}/messages and /notifications', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.stop());

  async function stored(): Promise<{ attendances: number; messages: number; deliveries: number; dedupe: number }> {
    const db = h.bridge.store.kysely;
    const count = async (t: 'attendances' | 'messages' | 'deliveries' | 'dedupe') =>
      Number((await db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    return { attendances: await count('attendances'), messages: await count('messages'), deliveries: await count('deliveries'), dedupe: await count('dedupe') };
  }

  let before: Awaited<ReturnType<typeof stored>>;
  beforeEach(async () => {
    before = await stored();
  });

  const msg = (over: Record<string, unknown> = {}) => ({ id: `m-${Math.random()}`, from: TUNNEL, to: `${IDENTIFIER}@msging.net`, type: 'text/plain', content: 'hi', ...over });

  it.each([
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer nope-nope-nope-nope' }],
    ['the token without Bearer', { authorization: INBOUND_TOKEN }],
  ])('answers 401 to %s and stores nothing', async (_name, headers) => {
    const res = await h.post(`/blip/${BOT}/messages`, msg(), headers as Record<string, string>);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('BRIDGE_ERR_UNAUTHORIZED');
    expect(JSON.stringify(res.body)).not.toContain(INBOUND_TOKEN);
    expect(await stored()).toEqual(before);
  });

  it.each([
    ['malformed JSON', '{"id": "x", ', 'BRIDGE_ERR_INVALID_JSON'],
    ['no from', JSON.stringify({ id: 'a', type: 'text/plain', content: 'x' }), 'BRIDGE_ERR_INVALID_ENVELOPE'],
    ['no type', JSON.stringify({ id: 'a', from: TUNNEL, content: 'x' }), 'BRIDGE_ERR_INVALID_ENVELOPE'],
    ['type not a string', JSON.stringify({ id: 'a', from: TUNNEL, type: 5, content: 'x' }), 'BRIDGE_ERR_INVALID_ENVELOPE'],
    ['an array', '[]', 'BRIDGE_ERR_INVALID_ENVELOPE'],
    // PostgreSQL cannot store U+0000: refused alike on both engines rather than a 5xx on one.
    ['a NUL in the text', JSON.stringify({ id: 'a', from: TUNNEL, type: 'text/plain', content: 'a\u0000b' }), 'BRIDGE_ERR_INVALID_JSON'],
    ['a NUL in a metadata key', JSON.stringify({ id: 'a', from: TUNNEL, type: 'text/plain', content: 'x', metadata: { 'k\u0000': 'v' } }), 'BRIDGE_ERR_INVALID_JSON'],
    ['text content not a string', JSON.stringify({ id: 'a', from: TUNNEL, type: 'text/plain', content: { x: 1 } }), 'BRIDGE_ERR_INVALID_CONTENT'],
    ['media-link without uri', JSON.stringify({ id: 'a', from: TUNNEL, type: 'application/vnd.lime.media-link+json', content: { type: 'image/png' } }), 'BRIDGE_ERR_INVALID_CONTENT'],
  ])('answers 400 to %s with a coded error and stores nothing', async (_name, body, code) => {
    const res = await h.post(`/blip/${BOT}/messages`, body, AUTH);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.detail).toBe('string');
    expect(await stored()).toEqual(before);
  });

  it('takes an escaped backslash followed by "u0000" as the text it is', async () => {
    const res = await h.post(`/blip/${BOT}/messages`, JSON.stringify(msg({ content: 'C:\\u0000' })), AUTH);
    expect(res.status).toBe(202);
  });

  it('answers 415 to a body that is not JSON, and 413 to one over the limit', async () => {
    const text = await h.post(`/blip/${BOT}/messages`, 'hello', { ...AUTH, 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(text.body.error.code).toBe('BRIDGE_ERR_UNSUPPORTED_MEDIA_TYPE');
    const big = await postOverLimit(`${h.url}/blip/${BOT}/messages`, 1024 * 1024 + 10, { ...AUTH, 'content-type': 'application/json' });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('BRIDGE_ERR_BODY_TOO_LARGE');
    expect(await stored()).toEqual(before);
  });

  it('answers 404 to an unknown bot', async () => {
    const res = await h.post(`/blip/nobody/messages`, msg(), AUTH);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('BRIDGE_ERR_UNKNOWN_BOT');
  });

  it('stores and forwards the same message id once', async () => {
    const m = msg({ id: 'dup-1', content: 'only once', from: '0a1b2c3d-0000-4000-8000-000000000002@tunnel.msging.net' });
    const a = await h.post(`/blip/${BOT}/messages`, m, AUTH);
    const b = await h.post(`/blip/${BOT}/messages`, m, AUTH);
    expect(a.status).toBe(202);
    expect(a.body.outcome).toBe('accepted');
    expect(b.status).toBe(202);
    expect(b.body.outcome).toBe('duplicate');
    await h.tool.waitFor((t) => t.eventsOfType('customer.message').some((e) => e.data.message.content.text === 'only once'));
    await new Promise((r) => setTimeout(r, 200));
    expect(h.tool.eventsOfType('customer.message').filter((e) => e.data.message.content.text === 'only once')).toHaveLength(1);
    expect(h.tool.attempts.filter((a) => a.type === 'customer.message' && a.outcome === 'duplicate')).toHaveLength(0);
  });

  it('accepts a message without id (fire-and-forget) and an unknown content type as readable text', async () => {
    const from = '0a1b2c3d-0000-4000-8000-000000000003@tunnel.msging.net';
    const { id: _drop, ...noId } = msg({ from, content: 'no id here' });
    expect((await h.post(`/blip/${BOT}/messages`, noId, AUTH)).status).toBe(202);
    expect((await h.post(`/blip/${BOT}/messages`, msg({ from, type: 'application/x-custom+json', content: { a: 1 } }), AUTH)).status).toBe(202);
    await h.tool.waitFor((t) => t.eventsOfType('customer.message').filter((e) => e.data.message.content.type === 'unsupported').length === 1);
    const u = h.tool.eventsOfType('customer.message').find((e) => e.data.message.content.type === 'unsupported')!;
    expect(u.data.message.content).toMatchObject({ mimeType: 'application/x-custom+json' });
    expect(u.data.message.content.text).toContain('"a":1');
  });

  it('records Blip notifications about our messages, deduped, status only moving forward', async () => {
    const from = '0a1b2c3d-0000-4000-8000-000000000004@tunnel.msging.net';
    await h.post(`/blip/${BOT}/messages`, msg({ from, content: 'status please' }), AUTH);
    const opened = await until(() => h.tool.eventsOfType('attendance.opened').find((e) => e.data.customer.address === from));
    const att = opened.data.attendance.id;
    await h.tool.reply(att, 'agent says hi');
    const sent = await h.blip.waitFor((r) => r.body?.content === 'agent says hi');
    const id = sent.body.id as string;
    const n = (event: string) => h.post(`/blip/${BOT}/notifications`, { id, from, event }, AUTH);
    expect((await n('received')).status).toBe(202);
    expect((await n('dispatched')).status).toBe(202); // late, older event: must not move the status back
    expect((await n('received')).body.outcome).toBe('duplicate');
    const view = await h.admin('GET', `/admin/attendances/${att}`);
    expect(view.body.messages.find((m: { id: string }) => m.id === id).status).toBe('received');
    expect((await h.post(`/blip/${BOT}/notifications`, { id, from }, AUTH)).status).toBe(400);
  });

  it("answers 400 to a notification event outside LIME's list, naming the list, and stores nothing", async () => {
    const res = await h.post(`/blip/${BOT}/notifications`, { id: 'n-1', from: TUNNEL, event: 'delivered' }, AUTH);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BRIDGE_ERR_INVALID_ENVELOPE');
    expect(res.body.error.detail).toBe('/event: "delivered" is not one of: accepted, validated, authorized, dispatched, received, consumed, failed, deleted');
    expect(await stored()).toEqual(before);
  });

  it.each([
    ['a bot identity', 'someone@msging.net'],
    ['a WhatsApp customer (the sub-bot reached without its router)', '5511999990009@wa.gw.msging.net/instance'],
    ['a Blip Chat visitor', 'c1d2e3f4@0mn.io'],
  ])('answers 400 BRIDGE_ERR_NOT_ROUTED to a message from %s, and stores nothing', async (_name, from) => {
    const res = await h.post(`/blip/${BOT}/messages`, msg({ from }), AUTH);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BRIDGE_ERR_NOT_ROUTED');
    expect(res.body.error.detail).toContain('acceptDirectAddresses');
    expect(await stored()).toEqual(before);
  });

  it('counts rejected requests in bridge_inbound_total by route and code (a wrong token shows)', async () => {
    const metric = async (route: string, outcome: string) => {
      const m = (await h.get('/metrics')).text;
      const line = m.split('\n').find((l) => l.startsWith(`bridge_inbound_total{route="${route}",outcome="${outcome}"}`));
      return line === undefined ? 0 : Number(line.split(' ').at(-1));
    };
    const wrong = await metric('blip-message', 'BRIDGE_ERR_UNAUTHORIZED');
    const bad = await metric('blip-notification', 'BRIDGE_ERR_INVALID_ENVELOPE');
    const tooBig = await metric('blip-message', 'BRIDGE_ERR_BODY_TOO_LARGE');
    const forged = await metric('helpdesk-webhook', 'BRIDGE_ERR_BAD_SIGNATURE');
    await h.post(`/blip/${BOT}/messages`, msg(), { authorization: 'Bearer the-token-from-another-bot' });
    await h.post(`/blip/${BOT}/messages`, msg(), {});
    await h.post(`/blip/${BOT}/notifications`, { id: 'x' }, AUTH);
    await postOverLimit(`${h.url}/blip/${BOT}/messages`, 2 * 1024 * 1024, { ...AUTH, 'content-type': 'application/json' });
    await h.post(`/helpdesk/${BOT}/webhook`, { type: 'agent.typing' }, { 'webhook-id': 'x', 'webhook-timestamp': '1', 'webhook-signature': 'v1,AAAA' });
    expect(await metric('blip-message', 'BRIDGE_ERR_UNAUTHORIZED')).toBe(wrong + 2);
    expect(await metric('blip-notification', 'BRIDGE_ERR_INVALID_ENVELOPE')).toBe(bad + 1);
    expect(await metric('blip-message', 'BRIDGE_ERR_BODY_TOO_LARGE')).toBe(tooBig + 1);
    expect(await metric('helpdesk-webhook', 'BRIDGE_ERR_BAD_SIGNATURE')).toBe(forged + 1);
    expect(await stored()).toEqual(before);
  });
});

describe('bots[].blip.acceptDirectAddresses: true', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ bot: { blip: { acceptDirectAddresses: true } } });
  });
  afterAll(async () => h.stop());

  it('opens an attendance for a customer who is not behind a router', async () => {
    const from = '5511999990010@wa.gw.msging.net';
    const res = await h.post(`/blip/${BOT}/messages`, { id: 'direct-1', from, type: 'text/plain', content: 'hello without a router' }, AUTH);
    expect(res.status).toBe(202);
    const opened = await until(() => h.tool.eventsOfType('attendance.opened').find((e) => e.data.customer.address === from));
    await h.tool.waitFor((t) => t.eventsOfType('customer.message').some((e) => e.data.attendanceId === opened.data.attendance.id));
  });
});
