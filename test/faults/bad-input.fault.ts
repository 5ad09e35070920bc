/**
 * A bad-input corpus against the running service (DESIGN §8 "Bad input is tests"): malformed JSON,
 * wrong types, oversized bodies, unknown content types, bad, stale and replayed signatures,
 * unknown bots, wrong tokens. Each gets a clear 4xx with a coded error; nothing is stored (rows
 * counted in the store itself, before and after); the service keeps serving, and an id first seen
 * in a rejected request still works afterwards (a rejection claims nothing). Then inputs that are
 * odd but within the contract (longest ids in 3- and 4-byte characters) are never answered 5xx.
 */
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, BOT, INBOUND_TOKEN } from '../helpers/harness.js';
import { postOverLimit } from '../helpers/over-limit.js';
import { postgres } from '../helpers/postgres.js';
import { originatorsFor } from './lib/load.js';
import { report } from './lib/summary.js';
import { World, until, type HttpAnswer } from './lib/world.js';

const pg = await postgres();
if (!pg.ok) console.warn(`[faults] PostgreSQL scenarios skipped: ${pg.reason}`);
const engines = [{ engine: 'sqlite' as const, label: 'SQLite' }, ...(pg.ok ? [{ engine: 'postgres' as const, label: 'PostgreSQL' }] : [])];

const JSON_TYPE = { 'content-type': 'application/json' };
const AUTH = { authorization: `Bearer ${INBOUND_TOKEN}` };
const OTHER_SECRET = `whsec_${Buffer.from('another-secret-of-at-least-24-bytes!!!').toString('base64')}`;
const MINUTE = 60_000;

interface Case {
  name: string;
  method?: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** Send only the head, declaring a body of this many bytes (see test/helpers/over-limit.ts). */
  declaredBytes?: number;
  status: number;
  code: string;
}

/** Random CJK text: 3 bytes a character in UTF-8, and incompressible. */
function cjk(n: number): string {
  return Array.from({ length: n }, () => String.fromCharCode(0x4e00 + Math.floor(Math.random() * 0x5000))).join('');
}

describe.each(engines)('bad input ($label)', ({ engine, label }) => {
  let world: World | undefined;
  afterAll(async () => world?.stop());

  const blipPath = `/blip/${BOT}/messages`;
  const hookPath = `/helpdesk/${BOT}/webhook`;
  let attendanceId = '';
  let tunnel = '';
  /** An agent message the bridge accepted, to replay. */
  let accepted = { body: '', webhookId: '' };

  const envelope = (over: Record<string, unknown> = {}) => ({
    id: randomUUID(),
    from: `${randomUUID()}@tunnel.msging.net/whatever`,
    to: 'acmehuman@msging.net',
    type: 'text/plain',
    content: 'hello',
    ...over,
  });
  const agentEvent = (over: Record<string, unknown> = {}, message: Record<string, unknown> = {}) => ({
    type: 'agent.message',
    timestamp: new Date().toISOString(),
    data: { attendanceId, message: { id: `bad_${randomUUID()}`, content: { type: 'text', text: 'hi' }, ...message } },
    ...over,
  });
  const signed = (body: unknown, opts: { at?: Date; id?: string; secret?: string } = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const id = opts.id ?? `bad_${randomUUID()}`;
    const at = opts.at ?? new Date();
    const headers = opts.secret
      ? { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(opts.secret).sign(id, at, text) }
      : world!.tool.sign(text, id, at);
    return { headers, body: text };
  };

  function corpus(): Case[] {
    const bigEvent = JSON.stringify(agentEvent({}, { content: { type: 'text', text: 'y'.repeat(1_200_000) } }));
    const goodEvent = JSON.stringify(agentEvent());
    const tampered = signed(agentEvent());
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    return [
      // Blip → /blip/{bot}/messages
      { name: 'malformed JSON', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: '{"id": "x", "from": ', status: 400, code: 'BRIDGE_ERR_INVALID_JSON' },
      { name: 'empty body', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: '', status: 400, code: 'BRIDGE_ERR_INVALID_JSON' },
      { name: 'JSON null', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: 'null', status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'JSON array', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: '[1,2]', status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'JSON string', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: '"hello"', status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: '200k nested arrays', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: deep, status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'from is a number', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ from: 42 })), status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'no from', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ from: undefined })), status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'no type', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ type: undefined })), status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'id is a number', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ id: 123 })), status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'id is empty', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ id: '' })), status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'id longer than 512', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ id: 'i'.repeat(513) })), status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'from: 1024 CJK', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ from: `${cjk(1000)}@tunnel.msging.net` })), status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      // PostgreSQL cannot store U+0000, so no engine takes it (a 5xx would have the sender retry forever).
      { name: 'id with NUL', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ id: `nul\u0000${randomUUID()}` })), status: 400, code: 'BRIDGE_ERR_INVALID_JSON' },
      { name: 'from with NUL', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ from: `nul\u0000${randomUUID()}@tunnel.msging.net` })), status: 400, code: 'BRIDGE_ERR_INVALID_JSON' },
      { name: 'text with NUL', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ content: 'a\u0000b' })), status: 400, code: 'BRIDGE_ERR_INVALID_JSON' },
      { name: 'metadata is a string', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ metadata: 'x' })), status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'metadata value is an object', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ metadata: { a: { b: 1 } } })), status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'text/plain with an object', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ content: { text: 'hi' } })), status: 400, code: 'BRIDGE_ERR_INVALID_CONTENT' },
      { name: 'location out of range', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ type: 'application/vnd.lime.location+json', content: { latitude: 200, longitude: 0 } })), status: 400, code: 'BRIDGE_ERR_INVALID_CONTENT' },
      { name: 'media-link without uri', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ type: 'application/vnd.lime.media-link+json', content: { type: 'image/png' } })), status: 400, code: 'BRIDGE_ERR_INVALID_CONTENT' },
      { name: 'select with a numeric option text', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ type: 'application/vnd.lime.select+json', content: { text: 'pick', options: [{ text: 5 }] } })), status: 400, code: 'BRIDGE_ERR_INVALID_CONTENT' },
      { name: 'oversized body (1.2 MB)', path: blipPath, headers: { ...JSON_TYPE, ...AUTH }, declaredBytes: 1_200_000, status: 413, code: 'BRIDGE_ERR_BODY_TOO_LARGE' },
      { name: 'Content-Type text/plain', path: blipPath, headers: { 'content-type': 'text/plain', ...AUTH }, body: JSON.stringify(envelope()), status: 415, code: 'BRIDGE_ERR_UNSUPPORTED_MEDIA_TYPE' },
      { name: 'Content-Type application/xml', path: blipPath, headers: { 'content-type': 'application/xml', ...AUTH }, body: '<message/>', status: 415, code: 'BRIDGE_ERR_UNSUPPORTED_MEDIA_TYPE' },
      { name: 'Content-Type form-urlencoded', path: blipPath, headers: { 'content-type': 'application/x-www-form-urlencoded', ...AUTH }, body: 'a=1', status: 415, code: 'BRIDGE_ERR_UNSUPPORTED_MEDIA_TYPE' },
      { name: 'Content-Type multipart', path: blipPath, headers: { 'content-type': 'multipart/form-data; boundary=x', ...AUTH }, body: '--x--', status: 415, code: 'BRIDGE_ERR_UNSUPPORTED_MEDIA_TYPE' },
      { name: 'no Content-Type', path: blipPath, headers: { ...AUTH }, body: JSON.stringify(envelope()), status: 415, code: 'BRIDGE_ERR_UNSUPPORTED_MEDIA_TYPE' },
      { name: 'unknown bot', path: '/blip/nobody/messages', headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope()), status: 404, code: 'BRIDGE_ERR_UNKNOWN_BOT' },
      { name: 'wrong token', path: blipPath, headers: { ...JSON_TYPE, authorization: 'Bearer not-the-token' }, body: JSON.stringify(envelope()), status: 401, code: 'BRIDGE_ERR_UNAUTHORIZED' },
      { name: 'no token', path: blipPath, headers: { ...JSON_TYPE }, body: JSON.stringify(envelope()), status: 401, code: 'BRIDGE_ERR_UNAUTHORIZED' },
      { name: 'token as Basic', path: blipPath, headers: { ...JSON_TYPE, authorization: `Basic ${INBOUND_TOKEN}` }, body: JSON.stringify(envelope()), status: 401, code: 'BRIDGE_ERR_UNAUTHORIZED' },
      { name: 'the admin token instead', path: blipPath, headers: { ...JSON_TYPE, authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify(envelope()), status: 401, code: 'BRIDGE_ERR_UNAUTHORIZED' },
      // Blip → /blip/{bot}/notifications
      { name: 'notification: malformed JSON', path: `/blip/${BOT}/notifications`, headers: { ...JSON_TYPE, ...AUTH }, body: '{"id":', status: 400, code: 'BRIDGE_ERR_INVALID_JSON' },
      { name: 'notification: no id', path: `/blip/${BOT}/notifications`, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify({ event: 'received', from: tunnel }), status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'notification: event is a number', path: `/blip/${BOT}/notifications`, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify({ id: 'n1', event: 3 }), status: 400, code: 'BRIDGE_ERR_INVALID_ENVELOPE' },
      { name: 'notification: wrong token', path: `/blip/${BOT}/notifications`, headers: { ...JSON_TYPE, authorization: 'Bearer nope' }, body: JSON.stringify({ id: 'n1', event: 'received' }), status: 401, code: 'BRIDGE_ERR_UNAUTHORIZED' },
      // The tool → /helpdesk/{bot}/webhook
      { name: 'webhook: body changed after signing', path: hookPath, headers: tampered.headers, body: tampered.body.replace('"hi"', '"ho"'), status: 401, code: 'BRIDGE_ERR_BAD_SIGNATURE' },
      { name: 'webhook: signed with another secret', path: hookPath, ...signed(agentEvent(), { secret: OTHER_SECRET }), status: 401, code: 'BRIDGE_ERR_BAD_SIGNATURE' },
      { name: 'webhook: no signature headers', path: hookPath, headers: { ...JSON_TYPE }, body: goodEvent, status: 401, code: 'BRIDGE_ERR_BAD_SIGNATURE' },
      { name: 'webhook: garbage signature', path: hookPath, headers: { ...signed(goodEvent).headers, 'webhook-signature': 'v1,@@@not base64@@@' }, body: goodEvent, status: 401, code: 'BRIDGE_ERR_BAD_SIGNATURE' },
      { name: 'webhook: timestamp not a number', path: hookPath, headers: { ...signed(goodEvent).headers, 'webhook-timestamp': '12abc' }, body: goodEvent, status: 401, code: 'BRIDGE_ERR_BAD_SIGNATURE' },
      { name: 'webhook: valid signature 6 min old', path: hookPath, ...signed(agentEvent(), { at: new Date(Date.now() - 6 * MINUTE) }), status: 401, code: 'BRIDGE_ERR_BAD_SIGNATURE' },
      { name: 'webhook: valid signature 6 min ahead', path: hookPath, ...signed(agentEvent(), { at: new Date(Date.now() + 6 * MINUTE) }), status: 401, code: 'BRIDGE_ERR_BAD_SIGNATURE' },
      { name: 'webhook: accepted event replayed 6 min later', path: hookPath, ...signed(accepted.body, { id: accepted.webhookId, at: new Date(Date.now() - 6 * MINUTE) }), status: 401, code: 'BRIDGE_ERR_BAD_SIGNATURE' },
      { name: 'webhook: malformed JSON, signed', path: hookPath, ...signed('{"type": "agent.message", '), status: 400, code: 'BRIDGE_ERR_INVALID_JSON' },
      { name: 'webhook: JSON array, signed', path: hookPath, ...signed('[]'), status: 400, code: 'BRIDGE_ERR_INVALID_EVENT' },
      { name: 'webhook: unknown event type', path: hookPath, ...signed(agentEvent({ type: 'agent.dance' })), status: 400, code: 'BRIDGE_ERR_INVALID_EVENT' },
      { name: 'webhook: an event the bridge sends', path: hookPath, ...signed(agentEvent({ type: 'customer.message' })), status: 400, code: 'BRIDGE_ERR_INVALID_EVENT' },
      { name: 'webhook: attendanceId is a number', path: hookPath, ...signed({ ...agentEvent(), data: { attendanceId: 5, message: { id: 'm', content: { type: 'text', text: 'x' } } } }), status: 400, code: 'BRIDGE_ERR_INVALID_EVENT' },
      { name: 'webhook: unknown content type', path: hookPath, ...signed(agentEvent({}, { content: { type: 'hologram', text: 'x' } })), status: 400, code: 'BRIDGE_ERR_INVALID_EVENT' },
      { name: 'webhook: text is a number', path: hookPath, ...signed(agentEvent({}, { content: { type: 'text', text: 7 } })), status: 400, code: 'BRIDGE_ERR_INVALID_EVENT' },
      { name: 'webhook: no timestamp', path: hookPath, ...signed(agentEvent({ timestamp: undefined })), status: 400, code: 'BRIDGE_ERR_INVALID_EVENT' },
      { name: 'webhook: message id longer than 1024', path: hookPath, ...signed(agentEvent({}, { id: 'm'.repeat(1025) })), status: 400, code: 'BRIDGE_ERR_INVALID_EVENT' },
      { name: 'webhook: unknown attendance', path: hookPath, ...signed(agentEvent({ data: { attendanceId: randomUUID(), message: { id: 'm1', content: { type: 'text', text: 'x' } } } })), status: 404, code: 'BRIDGE_ERR_UNKNOWN_ATTENDANCE' },
      { name: 'webhook: unknown bot', path: '/helpdesk/nobody/webhook', ...signed(agentEvent()), status: 404, code: 'BRIDGE_ERR_UNKNOWN_BOT' },
      { name: 'webhook: Content-Type text/plain', path: hookPath, headers: { ...signed(goodEvent).headers, 'content-type': 'text/plain' }, body: goodEvent, status: 415, code: 'BRIDGE_ERR_UNSUPPORTED_MEDIA_TYPE' },
      { name: 'webhook: oversized body (1.2 MB)', path: hookPath, headers: signed(bigEvent).headers, declaredBytes: Buffer.byteLength(bigEvent), status: 413, code: 'BRIDGE_ERR_BODY_TOO_LARGE' },
      // Admin and the rest
      { name: 'admin: wrong token', method: 'GET', path: '/admin/attendances', headers: { authorization: 'Bearer nope' }, status: 401, code: 'BRIDGE_ERR_UNAUTHORIZED' },
      { name: 'admin: the inbound token instead', method: 'GET', path: '/admin/deliveries', headers: { authorization: `Bearer ${INBOUND_TOKEN}` }, status: 401, code: 'BRIDGE_ERR_UNAUTHORIZED' },
      { name: 'admin: bad query', method: 'GET', path: '/admin/attendances?state=sleeping', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, status: 400, code: 'BRIDGE_ERR_INVALID_REQUEST' },
      { name: 'admin: close an unknown attendance', path: `/admin/attendances/${randomUUID()}/close`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, status: 404, code: 'BRIDGE_ERR_UNKNOWN_ATTENDANCE' },
      { name: 'admin: close with a bad reason', path: `/admin/attendances/${attendanceId}/close`, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...JSON_TYPE }, body: '{"reason":"boredom"}', status: 400, code: 'BRIDGE_ERR_INVALID_REQUEST' },
      { name: 'admin: retry a non-numeric delivery', path: '/admin/deliveries/abc/retry', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, status: 400, code: 'BRIDGE_ERR_INVALID_REQUEST' },
      { name: 'unknown route', method: 'GET', path: '/wp-login.php', headers: {}, status: 404, code: 'BRIDGE_ERR_NOT_FOUND' },
      { name: 'GET on a POST route', method: 'GET', path: blipPath, headers: { ...AUTH }, status: 404, code: 'BRIDGE_ERR_NOT_FOUND' },
    ];
  }

  it('every bad input: a coded 4xx, nothing stored, and the service keeps serving', async (ctx) => {
    world = await World.start({ engine });
    const w = world;
    const [o] = originatorsFor(`bad-${engine}`, 1);
    w.blip.addCustomer({ originator: o! });
    tunnel = w.blip.tunnelOf(o!, 'acmehuman');
    await w.say(o!, `bad-${engine} hello`);
    attendanceId = await w.attendanceOf(o!);
    const first = await w.reply(attendanceId, `bad-${engine} agent hello`);
    accepted = {
      webhookId: `msg_${first.messageId}`,
      body: JSON.stringify({ type: 'agent.message', timestamp: new Date().toISOString(), data: { attendanceId, message: { id: first.messageId, content: { type: 'text', text: `bad-${engine} agent hello` } } } }),
    };
    await w.settle();
    const before = await w.rowCounts();

    const failures: string[] = [];
    const cases = corpus();
    for (const c of cases) {
      const a: HttpAnswer =
        c.declaredBytes !== undefined
          ? await postOverLimit(`${w.entry}${c.path}`, c.declaredBytes, c.headers).catch((err: Error) => ({ status: 0, body: undefined, text: err.message }))
          : await w.http(c.method ?? 'POST', c.path, { headers: c.headers, ...(c.body !== undefined ? { body: c.body } : {}) });
      const code = a.body?.error?.code;
      if (a.status !== c.status || code !== c.code || typeof a.body?.error?.message !== 'string') {
        failures.push(`${c.name}: expected ${c.status} ${c.code}, got ${a.status} ${a.text.slice(0, 200)}`);
      }
    }
    // A replay inside the tolerance is a duplicate: acknowledged, not applied again.
    const replay = await w.postSigned(accepted.body, accepted.webhookId);
    if (replay.status !== 202 || replay.body?.duplicates !== 1) failures.push(`replay within 5 min: expected 202 duplicate, got ${replay.status} ${replay.text}`);
    const after = await w.rowCounts();
    const health = await w.http('GET', '/healthz');

    // A rejection claims nothing: ids first seen in rejected requests work afterwards.
    const probeId = `probe-${randomUUID()}`;
    const rejected = await w.http('POST', blipPath, { headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ id: probeId, from: tunnel, content: { not: 'text' } })) });
    const good = await w.say(o!, `bad-${engine} after the corpus`, { id: probeId });
    const hookProbe = `probe_${randomUUID()}`;
    const badHook = await w.postSigned(agentEvent({}, { id: hookProbe, content: { type: 'text' } }), `msg_${hookProbe}`);
    const goodHook = await w.reply(attendanceId, `bad-${engine} agent after the corpus`, { messageId: hookProbe });
    await w.settle();

    const notes = `${cases.length + 1 - failures.length}/${cases.length + 1} bad inputs answered as expected; rows ${JSON.stringify(before) === JSON.stringify(after) ? 'unchanged' : 'CHANGED'}`;
    const title = `bad-input corpus (${label})`;
    const rows = [w.ledger.customerRow(title, w.tool, notes), w.ledger.agentRow(title, w.blip, w.tool)];
    for (const r of rows) report(ctx, r);
    expect(failures).toEqual([]);
    expect(after).toEqual(before);
    expect(health.status).toBe(200);
    expect(rejected.status).toBe(400);
    expect(good).toMatchObject({ duplicates: 0 });
    expect(badHook.status).toBe(400);
    expect(goodHook).toMatchObject({ duplicates: 0 });
    for (const r of rows) expect(r, w.output()).toMatchObject({ lost: 0, duplicated: 0, orderViolations: 0, delivered: r.inputs });
  });

  it('inputs odd but within the contract are never answered 5xx', async (ctx) => {
    const w = world!;
    // The envelope schema and the tool's contract allow ids and addresses of up to 512 characters:
    // 3 bytes each in CJK, 4 for a pair of surrogates, all of it indexed.
    const cases: Array<{ name: string; send: () => Promise<HttpAnswer> }> = [
      { name: 'id: 512 CJK', send: () => w.http('POST', blipPath, { headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ id: cjk(512), from: tunnel })) }) },
      { name: 'from: 512 CJK', send: () => w.http('POST', blipPath, { headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ from: `${cjk(494)}@tunnel.msging.net` })) }) },
      { name: 'id: 256 emoji', send: () => w.http('POST', blipPath, { headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(envelope({ id: `${'😀'.repeat(255)}${randomUUID().slice(0, 2)}`, from: tunnel })) }) },
      { name: 'notification id: 512 CJK', send: () => w.http('POST', `/blip/${BOT}/notifications`, { headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify({ id: cjk(512), event: 'consumed', from: tunnel }) }) },
      { name: 'agent message id: 512 CJK', send: () => { const s = signed(agentEvent({}, { id: cjk(512) })); return w.http('POST', hookPath, s); } },
      { name: 'webhook-id: 3000 characters', send: () => { const s = signed(agentEvent(), { id: `msg_${'w'.repeat(2996)}` }); return w.http('POST', hookPath, s); } },
    ];
    const fivexx: string[] = [];
    const names: string[] = [];
    for (const c of cases) {
      const a = await c.send();
      // Answered (2xx or a coded 4xx) is what counts; which one is the contract's business.
      if (a.status >= 500 || a.status === 0) {
        fivexx.push(`${c.name}: ${a.status} ${a.text.slice(0, 160)}`);
        names.push(c.name);
      }
    }
    await until('the service still answers', async () => (await w.http('GET', '/healthz')).status === 200, 5_000);
    // A 5xx tells the sender to retry: an input that always fails so is retried forever and never
    // stored, so it counts as lost.
    report(ctx, {
      scenario: `odd but valid inputs (${label})`,
      direction: 'both, never 5xx',
      inputs: cases.length,
      delivered: cases.length - fivexx.length,
      lost: fivexx.length,
      duplicated: 0,
      resentDeduped: 0,
      orderViolations: 0,
      notes: names.length ? `5xx for ${names.join('; ')}` : '3- and 4-byte characters in ids and addresses up to 512, a 3000-character webhook-id',
    });
    expect(fivexx, w.output()).toEqual([]);
  });
});
