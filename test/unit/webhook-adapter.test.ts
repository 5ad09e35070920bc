/**
 * The custom-tool adapter against the custom-tool simulator, over real HTTP on loopback: what we
 * send lands signed and valid, retries keep their webhook-id, failures are classified, and what the
 * tool sends us is verified and parsed (or refused with a coded error).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AttendanceInfo, Customer, HelpdeskAdapter, HelpdeskEvent } from '../../src/helpdesks/adapter.js';
import { DeliveryError } from '../../src/delivery/errors.js';
import { HttpClient } from '../../src/delivery/http.js';
import { BridgeError } from '../../src/http/errors.js';
import { WebhookHelpdeskConfig, headerSafeId, webhookAdapter } from '../../src/helpdesks/webhook/index.js';
import { WebhookToolSimulator } from '../../simulators/webhook-tool/index.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const log = pino({ level: 'silent' });
const media = { allowedHosts: ['127.0.0.1'], maxBytes: 1024 * 1024, timeoutMs: 5000 };
const http = new HttpClient(2_000);

const attendance: AttendanceInfo = { id: 'att-1', bot: 'acme', openedAt: '2024-05-01T12:00:00.000Z' };
const customer: Customer = {
  id: '5511999990000@wa.gw.msging.net',
  address: 'c0ffee@tunnel.msging.net',
  originator: '5511999990000@wa.gw.msging.net',
  router: 'acmerouter@msging.net',
  channel: 'wa.gw.msging.net',
  name: 'Maria',
  extras: { plan: 'gold' },
};
const ctx = (deliveryId: number, attempt = 1) => ({ deliveryId, attempt });

/** A stand-in for the bridge's `/helpdesk/{bot}/webhook` route: verify raw bytes, then parse. */
async function startReceiver(adapter: HelpdeskAdapter, received: HelpdeskEvent[]): Promise<{ server: Server; url: string }> {
  const hook = adapter.webhook!;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      const verdict = hook.verify(raw, req.headers);
      if (!verdict.ok) return send(401, { error: { code: 'BRIDGE_ERR_BAD_SIGNATURE', detail: verdict.reason } });
      try {
        received.push(...hook.parse(JSON.parse(raw.toString('utf8')), req.headers));
        send(202, { accepted: true });
      } catch (err) {
        if (err instanceof BridgeError) send(err.status, err.toJSON());
        else send(400, { error: String(err) });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/helpdesk/acme/webhook` };
}

function expectInvalidEvent(fn: () => unknown, detail: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BridgeError);
    expect((err as BridgeError).code).toBe('BRIDGE_ERR_INVALID_EVENT');
    expect((err as BridgeError).status).toBe(400);
    expect((err as BridgeError).detail).toMatch(detail);
    return;
  }
  throw new Error('expected BRIDGE_ERR_INVALID_EVENT');
}

async function deliveryError(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error('expected a DeliveryError');
}

describe('config schema', () => {
  const valid = { type: 'webhook', url: 'https://tool.example.com/bridge', secret: SECRET };

  it('accepts a minimal config and defaults timeoutMs', () => {
    expect(Value.Check(WebhookHelpdeskConfig, valid)).toBe(true);
    expect(Value.Default(WebhookHelpdeskConfig, structuredClone(valid))).toMatchObject({ timeoutMs: 10_000 });
    expect(Value.Check(WebhookHelpdeskConfig, { ...valid, headers: { authorization: 'Bearer x' }, timeoutMs: 5000 })).toBe(true);
    // A Svix-style secret: 24 bytes, no padding.
    expect(Value.Check(WebhookHelpdeskConfig, { ...valid, secret: `whsec_${randomBytes(24).toString('base64')}` })).toBe(true);
  });

  it.each([
    ['no whsec_ prefix', { secret: randomBytes(32).toString('base64') }],
    ['fewer than 24 bytes', { secret: `whsec_${randomBytes(16).toString('base64')}` }],
    ['not base64', { secret: 'whsec_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' }],
    ['a non-http URL', { url: 'ftp://tool.example.com' }],
    ['a relative URL', { url: '/bridge' }],
    ['an unknown key', { retries: 3 }],
    ['a tiny timeout', { timeoutMs: 1 }],
  ])('rejects %s', (_name, patch) => {
    expect(Value.Check(WebhookHelpdeskConfig, { ...valid, ...patch })).toBe(false);
  });

  it('describes every field (descriptions become docs)', () => {
    for (const [key, schema] of Object.entries(WebhookHelpdeskConfig.properties)) {
      expect((schema as { description?: string }).description, key).toBeTruthy();
    }
  });
});

describe('webhook adapter ↔ tool simulator', () => {
  let sim: WebhookToolSimulator;
  let adapter: HelpdeskAdapter;
  let receiver: { server: Server; url: string };
  const received: HelpdeskEvent[] = [];

  beforeAll(async () => {
    sim = new WebhookToolSimulator({ secret: SECRET });
    const base = await sim.start();
    adapter = webhookAdapter.create(
      { type: 'webhook', url: `${base}/bridge`, secret: SECRET, timeoutMs: 2_000, headers: { authorization: 'Bearer gateway', 'Webhook-Id': 'clobber' } },
      { http, log, botId: 'acme', media },
    );
    receiver = await startReceiver(adapter, received);
    sim.setBridgeWebhookUrl(receiver.url);
  });

  afterAll(async () => {
    await sim.stop();
    await new Promise((r) => receiver.server.close(r));
  });

  beforeEach(() => {
    sim.setDown(false);
    sim.setLatency(0);
  });

  it('declares every canonical content and typing', () => {
    expect(adapter.type).toBe('webhook');
    expect([...adapter.capabilities.contents].sort()).toEqual(['choices', 'contact', 'location', 'media', 'reply', 'text', 'unsupported']);
    expect(adapter.capabilities.typing).toBe(true);
    expect(adapter.webhook?.unmatched).toBe('reject');
  });

  it('open posts attendance.opened, signed, with a webhook-id stable across retries', async () => {
    const transcript = [
      { direction: 'bot' as const, at: '2024-05-01T11:59:00.000Z', content: { type: 'text' as const, text: 'How can I help?' } },
      { direction: 'customer' as const, at: '2024-05-01T11:59:30.000Z', content: { type: 'text' as const, text: 'A human, please' } },
    ];
    sim.failNext(1, 503);
    const err = await deliveryError(adapter.open(attendance, customer, transcript, ctx(1)));
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(503);

    const ref = await adapter.open(attendance, customer, transcript, ctx(1, 2));
    expect(ref).toEqual({ key: 'att-1' });

    const tries = sim.attempts.filter((a) => a.type === 'attendance.opened' || a.webhookId === 'att_open_att-1');
    expect(tries.map((a) => [a.webhookId, a.status])).toEqual([
      ['att_open_att-1', 503],
      ['att_open_att-1', 200],
    ]);
    // Extra static headers go out; they cannot replace the signature headers.
    expect(tries[1]?.headers.authorization).toBe('Bearer gateway');
    expect(tries[1]?.headers['webhook-id']).toBe('att_open_att-1');

    const [opened] = sim.eventsOfType('attendance.opened');
    expect(opened?.data).toEqual({ attendance, customer, transcript });
    expect(sim.attendances.get('att-1')?.customer.name).toBe('Maria');

    // A retry after a lost 2xx is recognised by the tool and not applied twice.
    await adapter.open(attendance, customer, transcript, ctx(1, 3));
    expect(sim.eventsOfType('attendance.opened')).toHaveLength(1);
    expect(sim.attempts.at(-1)?.outcome).toBe('duplicate');
  });

  it('deliver posts customer.message keyed by our message id; Retry-After is passed on', async () => {
    const message = { id: 'm-1', at: '2024-05-01T12:00:05.000Z', content: { type: 'text' as const, text: 'Hello?' } };
    sim.failNext(1, 429, 7);
    const err = await deliveryError(adapter.deliver({ key: 'att-1' }, attendance, message, ctx(2)));
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(7_000);
    expect(err.status).toBe(429);

    await expect(adapter.deliver({ key: 'att-1' }, attendance, message, ctx(2, 2))).resolves.toEqual({});
    await adapter.deliver({ key: 'att-1' }, attendance, message, ctx(2, 3));

    expect(sim.attempts.filter((a) => a.webhookId === 'msg_m-1').map((a) => a.outcome)).toEqual(['injected', 'accepted', 'duplicate']);
    const got = sim.eventsOfType('customer.message');
    expect(got).toHaveLength(1);
    expect(got[0]?.data).toEqual({ attendanceId: 'att-1', message });
    expect(sim.attendances.get('att-1')?.messages.map((m) => m.id)).toEqual(['m-1']);
  });

  it('sends every canonical content the schema accepts', async () => {
    const contents = [
      { type: 'media' as const, text: 'photo.jpg https://cdn/x.jpg', url: 'https://cdn/x.jpg', mimeType: 'image/jpeg', name: 'photo.jpg', size: 10 },
      { type: 'location' as const, text: 'https://maps/?q=1,2', latitude: 1, longitude: 2 },
      { type: 'contact' as const, text: 'Ana +55 11', name: 'Ana', phone: '+55 11' },
      { type: 'choices' as const, text: 'Pick\n1. A\n2. B', prompt: 'Pick', options: [{ label: 'A' }, { label: 'B', value: 'b' }] },
      { type: 'reply' as const, text: '> hi\nyes', reply: 'yes', inReplyTo: { id: 'x', text: 'hi' } },
      { type: 'unsupported' as const, text: '[sticker]', mimeType: 'application/vnd.lime.sticker+json' },
    ];
    for (const [i, content] of contents.entries()) {
      await adapter.deliver({ key: 'att-1' }, attendance, { id: `c-${i}`, at: new Date().toISOString(), content }, ctx(10 + i));
    }
    expect(sim.eventsOfType('customer.message').filter((e) => e.data.message.id.startsWith('c-')).map((e) => e.data.message.content)).toEqual(contents);
  });

  it('an id unsafe for a header becomes a stable hash', async () => {
    expect(headerSafeId('msg_', 'abc-DEF_1')).toBe('msg_abc-DEF_1');
    const hashed = headerSafeId('msg_', 'fwd:1.2 é');
    expect(hashed).toMatch(/^msg_h_[A-Za-z0-9_-]{43}$/);
    expect(headerSafeId('msg_', 'fwd:1.2 é')).toBe(hashed);
    await adapter.deliver({ key: 'att-1' }, attendance, { id: 'fwd:1.2 é', at: new Date().toISOString(), content: { type: 'text', text: 'x' } }, ctx(30));
    expect(sim.events.at(-1)?.webhookId).toBe(hashed);
  });

  it('a 400 from the tool is permanent', async () => {
    sim.failNext(1, 400);
    const err = await deliveryError(
      adapter.deliver({ key: 'att-1' }, attendance, { id: 'm-400', at: new Date().toISOString(), content: { type: 'text', text: 'x' } }, ctx(3)),
    );
    expect(err.retryable).toBe(false);
    expect(err.status).toBe(400);
  });

  it('a network error or a timeout is retryable', async () => {
    sim.setDown(true);
    const down = await deliveryError(adapter.signal!({ key: 'att-1' }, attendance, 'typing', ctx(4)));
    expect(down.retryable).toBe(true);
    expect(down.status).toBeUndefined();
    sim.setDown(false);

    const slow = webhookAdapter.create(
      { type: 'webhook', url: `${sim.baseUrl}/bridge`, secret: SECRET, timeoutMs: 150 },
      { http, log, botId: 'acme', media },
    );
    sim.setLatency(600);
    const late = await deliveryError(slow.signal!({ key: 'att-1' }, attendance, 'paused', ctx(5)));
    expect(late.retryable).toBe(true);
    sim.setLatency(0);
  });

  it('signal and close post with webhook-ids from the delivery id', async () => {
    await adapter.signal!({ key: 'att-1' }, attendance, 'typing', ctx(41));
    await adapter.signal!({ key: 'att-1' }, attendance, 'typing', ctx(41, 2));
    const typing = sim.eventsOfType('customer.typing').filter((e) => e.webhookId === 'dlv_41');
    expect(typing).toHaveLength(1);
    expect(typing[0]?.data).toEqual({ attendanceId: 'att-1', state: 'typing' });
    expect(sim.attendances.get('att-1')?.customerTyping).toBe('typing');

    await adapter.close!({ key: 'att-1' }, attendance, 'customer-inactive', ctx(42));
    const [closed] = sim.eventsOfType('attendance.closed');
    expect(closed?.webhookId).toBe('dlv_42');
    expect(closed?.data).toMatchObject({ attendanceId: 'att-1', reason: 'customer-inactive' });
    expect(Date.now() - Date.parse(closed?.data.closedAt ?? '')).toBeLessThan(10_000);
    expect(sim.attendances.get('att-1')?.closed?.reason).toBe('customer-inactive');
  });

  it('check: reachable with a usable secret; unreachable is reported, not thrown', async () => {
    const ok = await adapter.check();
    expect(ok.ok).toBe(true);
    expect(ok.detail).toMatch(/reachable \(GET answered 404\).*32 bytes/);

    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const gone = webhookAdapter.create({ type: 'webhook', url: `http://127.0.0.1:${port}/bridge?token=secret`, secret: SECRET }, { http, log, botId: 'acme', media });
    const bad = await gone.check();
    expect(bad.ok).toBe(false);
    expect(bad.detail).toMatch(/unreachable/);
    expect(bad.detail).not.toMatch(/token=secret/);

    const weak = webhookAdapter.create({ type: 'webhook', url: `${sim.baseUrl}/bridge`, secret: 'whsec_c2hvcnQ=' }, { http, log, botId: 'acme', media });
    expect(await weak.check()).toMatchObject({ ok: false, detail: expect.stringMatching(/secret: decodes to 5 bytes/) });
    const err = await deliveryError(weak.deliver({ key: 'a' }, attendance, { id: 'x', at: attendance.openedAt, content: { type: 'text', text: 'x' } }, ctx(1)));
    expect(err.retryable).toBe(false);
    expect(weak.webhook?.verify(Buffer.from('{}'), {})).toMatchObject({ ok: false });
  });

  describe('inbound: what the tool sends', () => {
    beforeEach(() => {
      received.length = 0;
    });

    it('agent.message, agent.typing and attendance.end are verified and mapped', async () => {
      const reply = await sim.reply('att-1', 'Hi Maria, I am Ana', { messageId: 'tool-42', agent: { id: 'ag-7', name: 'Ana' } });
      expect(reply.status).toBe(202);
      const typing = await sim.typing('att-1', 'typing');
      expect(typing.status).toBe(202);
      const end = await sim.end('att-1', 'solved');
      expect(end.status).toBe(202);

      expect(received).toEqual([
        {
          kind: 'agent.message',
          eventId: 'msg_tool-42',
          attendance: { id: 'att-1' },
          message: { id: 'tool-42', content: { type: 'text', text: 'Hi Maria, I am Ana' }, agent: { id: 'ag-7', name: 'Ana' } },
        },
        { kind: 'agent.typing', eventId: typing.webhookId, attendance: { id: 'att-1' }, state: 'typing' },
        { kind: 'attendance.ended', eventId: 'end_att-1', attendance: { id: 'att-1' }, reason: 'solved' },
      ]);
    });

    it('a rich agent content passes through unchanged', async () => {
      const content = { type: 'choices' as const, text: 'Rate us', options: [{ label: 'Good' }, { label: 'Bad', value: 'bad' }] };
      expect((await sim.reply('att-1', content)).status).toBe(202);
      expect(received[0]).toMatchObject({ kind: 'agent.message', message: { content } });
      expect(received[0]).not.toHaveProperty('message.agent');
    });

    it('a tampered body is refused', async () => {
      const body = JSON.stringify({ type: 'agent.typing', timestamp: new Date().toISOString(), data: { attendanceId: 'att-1', state: 'typing' } });
      const headers = sim.sign(body);
      const answer = await sim.postRaw(body.replace('typing"}', 'paused"}'), headers);
      expect(answer.status).toBe(401);
      expect(JSON.stringify(answer.body)).toMatch(/no webhook-signature matches/);
      expect(received).toEqual([]);
    });

    it('a signature made with another secret is refused', async () => {
      const other = new WebhookToolSimulator({ secret: `whsec_${randomBytes(32).toString('base64')}`, bridgeWebhookUrl: receiver.url });
      try {
        expect((await other.reply('att-1', 'spoof')).status).toBe(401);
      } finally {
        await other.stop();
      }
      expect(received).toEqual([]);
    });

    it('a timestamp more than 5 minutes off is refused, either way', async () => {
      const body = JSON.stringify({ type: 'attendance.end', timestamp: new Date().toISOString(), data: { attendanceId: 'att-1' } });
      const stale = sim.sign(body, 'msg_old', new Date(Date.now() - 6 * 60_000));
      const future = sim.sign(body, 'msg_new', new Date(Date.now() + 6 * 60_000));
      const fresh = sim.sign(body, 'msg_ok', new Date(Date.now() - 4 * 60_000));
      expect(adapter.webhook!.verify(Buffer.from(body), stale)).toEqual({ ok: false, reason: 'webhook-timestamp is outside the 5-minute tolerance' });
      expect(adapter.webhook!.verify(Buffer.from(body), future)).toMatchObject({ ok: false });
      expect(adapter.webhook!.verify(Buffer.from(body), fresh)).toEqual({ ok: true });
      expect((await sim.postRaw(body, stale)).status).toBe(401);
    });

    it('missing or malformed signature headers are refused without throwing', async () => {
      const body = '{"type":"attendance.end"}';
      const good = sim.sign(body);
      for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
        const headers: Record<string, string | undefined> = { ...good, [name]: undefined };
        expect(adapter.webhook!.verify(Buffer.from(body), headers)).toMatchObject({ ok: false, reason: expect.stringMatching(/missing/) });
        expect((await sim.postRaw(body, { [name]: undefined })).status).toBe(401);
      }
      const verify = (h: Record<string, string | string[] | undefined>) => adapter.webhook!.verify(Buffer.from(body), h);
      expect(verify({ ...good, 'webhook-timestamp': `${good['webhook-timestamp']}abc` })).toMatchObject({ ok: false });
      expect(verify({ ...good, 'webhook-id': ['a', 'b'] })).toMatchObject({ ok: false });
      expect(verify({ ...good, 'webhook-signature': 'v1' })).toMatchObject({ ok: false });
      expect(verify({ ...good, 'webhook-signature': 'v2,abc' })).toMatchObject({ ok: false });
      expect(verify({ ...good, 'webhook-signature': ['v1,AAAA', good['webhook-signature'] as string] })).toEqual({ ok: true });
      // Header names are case-insensitive.
      const upper = Object.fromEntries(Object.entries(good).map(([k, v]) => [k.toUpperCase(), v]));
      expect(verify(upper)).toEqual({ ok: true });
      // A JSON-invalid body with a good signature is a parse problem (400), not a signature one.
      const junk = 'not json';
      expect(adapter.webhook!.verify(Buffer.from(junk), sim.sign(junk))).toEqual({ ok: true });
    });

    it('a bad body with a good signature is a 400 naming the field', async () => {
      const answer = await sim.postRaw({ type: 'agent.message', timestamp: new Date().toISOString(), data: { attendanceId: 'att-1', message: { id: '', content: { type: 'text', text: 'x' } } } });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: 'BRIDGE_ERR_INVALID_EVENT', detail: expect.stringMatching(/\/data\/message\/id/) } });
      expect(received).toEqual([]);
    });
  });
});

describe('parse', () => {
  const adapter = webhookAdapter.create({ type: 'webhook', url: 'http://127.0.0.1:9/bridge', secret: SECRET }, { http, log, botId: 'acme', media });
  const parse = (body: unknown, id: string | null = 'evt_1') => adapter.webhook!.parse(body, id === null ? {} : { 'webhook-id': id });
  const ts = '2024-05-01T12:00:00Z';
  const msg = (message: unknown) => ({ type: 'agent.message', timestamp: ts, data: { attendanceId: 'att-1', message } });

  it('maps each inbound event, tolerating unknown fields', () => {
    expect(parse({ ...msg({ id: 'x1', content: { type: 'text', text: 'hi', extra: 1 }, foo: true }), v: 2 })).toEqual([
      { kind: 'agent.message', eventId: 'evt_1', attendance: { id: 'att-1' }, message: { id: 'x1', content: { type: 'text', text: 'hi', extra: 1 } } },
    ]);
    expect(parse({ type: 'agent.typing', timestamp: ts, data: { attendanceId: 'att-1', state: 'paused' } })).toEqual([
      { kind: 'agent.typing', eventId: 'evt_1', attendance: { id: 'att-1' }, state: 'paused' },
    ]);
    expect(parse({ type: 'attendance.end', timestamp: '2024-05-01T09:00:00.123-03:00', data: { attendanceId: 'att-1' } })).toEqual([
      { kind: 'attendance.ended', eventId: 'evt_1', attendance: { id: 'att-1' } },
    ]);
  });

  it.each([
    ['a non-object body', [1, 2], /JSON object/],
    ['a missing type', { timestamp: ts, data: {} }, /\/type: must be a string/],
    ['an unknown type', { type: 'agent.poke', timestamp: ts, data: {} }, /unknown event type 'agent.poke'; accepted: agent.message, agent.typing, attendance.end/],
    ['one of our own events', { type: 'customer.message', timestamp: ts, data: {} }, /an event the bridge sends/],
    ['a bad timestamp', { ...msg({ id: 'x', content: { type: 'text', text: 'x' } }), timestamp: 'yesterday' }, /\/timestamp: Expected an ISO-8601 date-time/],
    ['no attendanceId', { type: 'agent.typing', timestamp: ts, data: { state: 'typing' } }, /\/data\/attendanceId/],
    ['a bad typing state', { type: 'agent.typing', timestamp: ts, data: { attendanceId: 'a', state: 'thinking' } }, /\/data\/state/],
    ['no message id', msg({ content: { type: 'text', text: 'x' } }), /\/data\/message\/id: Expected required property/],
    ['an empty message id', msg({ id: '', content: { type: 'text', text: 'x' } }), /\/data\/message\/id/],
    ['a content without text', msg({ id: 'x', content: { type: 'media', url: 'https://x', mimeType: 'image/png' } }), /\/data\/message\/content\/text/],
    ['a media without url', msg({ id: 'x', content: { type: 'media', text: 'x', mimeType: 'image/png' } }), /\/data\/message\/content\/url/],
    ['an unknown content type', msg({ id: 'x', content: { type: 'sticker', text: 'x' } }), /content\/type: Unknown type 'sticker'/],
    ['an agent without a name', msg({ id: 'x', content: { type: 'text', text: 'x' }, agent: { id: 'a' } }), /\/data\/message\/agent\/name/],
  ])('refuses %s with BRIDGE_ERR_INVALID_EVENT', (_name, body, detail) => {
    expectInvalidEvent(() => parse(body), detail);
  });

  it('needs the webhook-id header for the event id', () => {
    expect(() => parse(msg({ id: 'x', content: { type: 'text', text: 'x' } }), null)).toThrow(
      expect.objectContaining({ code: 'BRIDGE_ERR_BAD_SIGNATURE' }),
    );
  });
});
