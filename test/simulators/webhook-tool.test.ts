/**
 * The custom-tool simulator keeps the promises the contract asks of a tool (docs/helpdesks/webhook.md):
 * it refuses unsigned or invalid calls, dedupes on webhook-id, and signs what it sends. Driven here
 * with plain HTTP and the standardwebhooks library, independently of our adapter.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebhookToolSimulator } from '../../simulators/webhook-tool/index.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const wh = new Webhook(SECRET);

const opened = (id: string) => ({
  type: 'attendance.opened',
  timestamp: '2024-05-01T12:00:00.000Z',
  data: {
    attendance: { id, bot: 'acme', openedAt: '2024-05-01T12:00:00.000Z' },
    customer: { id: 'c1', address: 'c1@tunnel.msging.net', extras: {} },
    transcript: [],
  },
});
const message = (attendanceId: string, id: string, text = 'hello') => ({
  type: 'customer.message',
  timestamp: '2024-05-01T12:00:01.000Z',
  data: { attendanceId, message: { id, at: '2024-05-01T12:00:01.000Z', content: { type: 'text', text } } },
});

/** What the bridge does: sign the exact body and POST it. */
async function postSigned(url: string, body: unknown, webhookId: string, at = new Date(), extra: Record<string, string> = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await request(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': wh.sign(webhookId, at, text),
      ...extra,
    },
    body: text,
  });
  return { status: res.statusCode, headers: res.headers, body: (await res.body.json().catch(() => undefined)) as unknown };
}

/** A stand-in bridge webhook that verifies with standardwebhooks and records what it got. */
interface Received {
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}
async function startBridge(received: Received[], status = () => 202): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      try {
        wh.verify(raw, req.headers as Record<string, string>);
      } catch {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"BRIDGE_ERR_BAD_SIGNATURE"}}');
        return;
      }
      received.push({ headers: req.headers, body: JSON.parse(raw) as Record<string, unknown> });
      const s = status();
      res.writeHead(s, { 'content-type': 'application/json' }).end(JSON.stringify(s === 202 ? { accepted: 1 } : { error: { code: 'X' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/helpdesk/acme/webhook` };
}

describe('WebhookToolSimulator: receiving the bridge', () => {
  let sim: WebhookToolSimulator;
  let url: string;

  beforeEach(async () => {
    sim = new WebhookToolSimulator({ secret: SECRET });
    url = `${await sim.start()}/bridge`;
  });
  afterEach(async () => {
    await sim.stop();
  });

  it('records a signed, valid event and tracks the attendance', async () => {
    expect((await postSigned(url, opened('a1'), 'att_open_a1')).status).toBe(200);
    expect((await postSigned(url, message('a1', 'm1'), 'msg_m1')).status).toBe(200);
    expect(sim.events.map((e) => [e.webhookId, e.type])).toEqual([
      ['att_open_a1', 'attendance.opened'],
      ['msg_m1', 'customer.message'],
    ]);
    expect(sim.attendances.get('a1')?.messages).toEqual([
      { direction: 'customer', id: 'm1', at: '2024-05-01T12:00:01.000Z', content: { type: 'text', text: 'hello' } },
    ]);
  });

  it('acknowledges a duplicate webhook-id without applying it again', async () => {
    await postSigned(url, opened('a1'), 'att_open_a1');
    const again = await postSigned(url, opened('a1'), 'att_open_a1', new Date(Date.now() + 1_000));
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ duplicate: true });
    expect(sim.events).toHaveLength(1);
    expect(sim.attempts.map((a) => a.outcome)).toEqual(['accepted', 'duplicate']);
  });

  it('refuses bad signatures with 401 and records nothing', async () => {
    const body = JSON.stringify(opened('a1'));
    const cases: Array<Record<string, string>> = [
      { 'webhook-signature': 'v1,AAAA' },
      { 'webhook-signature': new Webhook(`whsec_${randomBytes(32).toString('base64')}`).sign('x', new Date(), body) },
    ];
    for (const headers of cases) expect((await postSigned(url, body, 'x', new Date(), headers)).status).toBe(401);
    expect((await postSigned(url, body, 'x', new Date(Date.now() - 10 * 60_000))).status).toBe(401);
    const unsigned = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(unsigned.statusCode).toBe(401);
    await unsigned.body.dump();
    expect(sim.events).toEqual([]);
  });

  it('refuses invalid bodies with 400 naming the field', async () => {
    const noText = message('a1', 'm1');
    delete (noText.data.message.content as { text?: string }).text;
    const r = await postSigned(url, noText, 'msg_m1');
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ path: '/data/message/content/text' });
    expect((await postSigned(url, { type: 'agent.message', timestamp: '2024-05-01T12:00:00Z', data: {} }, 'x1')).status).toBe(400);
    expect((await postSigned(url, 'not json', 'x2')).status).toBe(400);
    expect(sim.events).toEqual([]);
    // A refused id is not remembered: the fixed event with the same id goes through.
    expect((await postSigned(url, message('a1', 'm1'), 'msg_m1')).status).toBe(200);
  });

  it('failNext answers the given status and Retry-After, then recovers', async () => {
    sim.failNext(2, 429, 3);
    const first = await postSigned(url, opened('a1'), 'att_open_a1');
    expect(first.status).toBe(429);
    expect(first.headers['retry-after']).toBe('3');
    expect((await postSigned(url, opened('a1'), 'att_open_a1')).status).toBe(429);
    expect((await postSigned(url, opened('a1'), 'att_open_a1')).status).toBe(200);
    expect(sim.attempts.map((a) => [a.webhookId, a.status])).toEqual([
      ['att_open_a1', 429],
      ['att_open_a1', 429],
      ['att_open_a1', 200],
    ]);
  });

  it('setDown resets connections or answers 503; setLatency delays', async () => {
    sim.setDown(true);
    await expect(postSigned(url, opened('a1'), 'att_open_a1')).rejects.toThrow();
    sim.setDown(true, 'unavailable');
    expect((await postSigned(url, opened('a1'), 'att_open_a1')).status).toBe(503);
    sim.setDown(false);
    sim.setLatency(150);
    const t0 = Date.now();
    expect((await postSigned(url, opened('a1'), 'att_open_a1')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(sim.attempts.map((a) => a.outcome)).toEqual(['reset', 'injected', 'accepted']);
  });

  it('requireOpened refuses events about unknown attendances', async () => {
    const strict = new WebhookToolSimulator({ secret: SECRET, requireOpened: true });
    const base = await strict.start();
    try {
      expect((await postSigned(`${base}/bridge`, message('nope', 'm1'), 'msg_m1')).status).toBe(404);
      expect(strict.events).toEqual([]);
    } finally {
      await strict.stop();
    }
  });

  it('waitFor resolves on the condition and rejects on timeout', async () => {
    const waiting = sim.waitFor((s) => s.events.length === 1, 2_000);
    await postSigned(url, opened('a1'), 'att_open_a1');
    await expect(waiting).resolves.toBeUndefined();
    await expect(sim.waitFor(() => false, 30)).rejects.toThrow(/not met within 30 ms/);
  });
});

describe('WebhookToolSimulator: acting as the agent', () => {
  let sim: WebhookToolSimulator;
  let base: string;
  let bridge: { server: Server; url: string };
  const received: Received[] = [];
  let nextStatus = 202;

  beforeAll(async () => {
    bridge = await startBridge(received, () => nextStatus);
    sim = new WebhookToolSimulator({ secret: SECRET, bridgeWebhookUrl: bridge.url });
    base = await sim.start();
    await postSigned(`${base}/bridge`, opened('a1'), 'att_open_a1');
  });
  afterAll(async () => {
    await sim.stop();
    await new Promise((r) => bridge.server.close(r));
  });
  beforeEach(() => {
    received.length = 0;
    nextStatus = 202;
  });

  it('reply, typing and end are signed contract events', async () => {
    const r = await sim.reply('a1', 'Hi!', { messageId: 't-1', agent: { id: 'ag', name: 'Ana' } });
    expect(r).toEqual({ status: 202, body: { accepted: 1 }, webhookId: 'msg_t-1' });
    await sim.typing('a1', 'paused');
    await sim.end('a1', 'solved');
    expect(received.map((x) => x.body.type)).toEqual(['agent.message', 'agent.typing', 'attendance.end']);
    expect(received[0]?.body.data).toEqual({
      attendanceId: 'a1',
      message: { id: 't-1', content: { type: 'text', text: 'Hi!' }, agent: { id: 'ag', name: 'Ana' } },
    });
    expect(received[1]?.body.data).toEqual({ attendanceId: 'a1', state: 'paused' });
    expect(received[2]?.body.data).toEqual({ attendanceId: 'a1', reason: 'solved' });
    expect(received[2]?.headers['webhook-id']).toBe('end_a1');
    expect(sim.attendances.get('a1')?.messages.at(-1)).toMatchObject({ direction: 'agent', id: 't-1' });
  });

  it('re-sending a message id re-uses its webhook-id; a refused reply is not recorded as sent', async () => {
    const a = await sim.reply('a1', { type: 'text', text: 'x' }, { messageId: 'same' });
    const b = await sim.reply('a1', { type: 'text', text: 'x' }, { messageId: 'same' });
    expect(a.webhookId).toBe(b.webhookId);
    nextStatus = 409;
    const before = sim.attendances.get('a1')?.messages.length;
    expect((await sim.reply('a1', 'late')).status).toBe(409);
    expect(sim.attendances.get('a1')?.messages.length).toBe(before);
    expect(sim.sent.at(-1)).toMatchObject({ type: 'agent.message', status: 409 });
  });

  it('postRaw signs correctly, then applies header overrides', async () => {
    expect((await sim.postRaw({ type: 'agent.typing', timestamp: new Date().toISOString(), data: { attendanceId: 'a1', state: 'typing' } })).status).toBe(202);
    expect((await sim.postRaw('{}', { 'webhook-signature': 'v1,AAAA' })).status).toBe(401);
    expect((await sim.postRaw('{}', { 'webhook-id': undefined })).status).toBe(401);
    expect(received).toHaveLength(1);
  });

  it('HTTP control routes relay what the bridge answered', async () => {
    const call = async (path: string, body?: unknown) => {
      const res = await request(`${base}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    };
    expect(await call('/_sim/attendances/a1/reply', { text: 'from the sandbox' })).toEqual({ status: 202, body: { accepted: 1 } });
    expect((await call('/_sim/attendances/latest/reply', { content: { type: 'location', text: 'here', latitude: 1, longitude: 2 } })).status).toBe(202);
    expect((await call('/_sim/attendances/a1/typing', { state: 'typing' })).status).toBe(202);
    nextStatus = 404;
    expect(await call('/_sim/attendances/a1/end', {})).toEqual({ status: 404, body: { error: { code: 'X' } } });
    expect(received.map((r) => (r.body.data as { attendanceId: string }).attendanceId)).toEqual(['a1', 'a1', 'a1', 'a1']);

    expect((await call('/_sim/attendances/a1/reply', { nope: 1 })).status).toBe(400);
    expect((await call('/_sim/attendances/a1/typing', { state: 'sleeping' })).status).toBe(400);

    const events = await call('/_sim/events');
    expect(events.status).toBe(200);
    expect(events.body.events).toEqual([expect.objectContaining({ type: 'attendance.opened', webhookId: 'att_open_a1' })]);
    expect(events.body.attendances).toEqual([expect.objectContaining({ id: 'a1' })]);
  });

  it('control routes answer 409 without a bridge URL and 404 for latest with no attendance', async () => {
    const lone = new WebhookToolSimulator({ secret: SECRET });
    const b = await lone.start();
    try {
      const post = (path: string) => request(`${b}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"x"}' });
      const r1 = await post('/_sim/attendances/a1/reply');
      expect(r1.statusCode).toBe(409);
      await r1.body.dump();
      lone.setBridgeWebhookUrl(bridge.url);
      const r2 = await post('/_sim/attendances/latest/reply');
      expect(r2.statusCode).toBe(404);
      await r2.body.dump();
    } finally {
      await lone.stop();
    }
  });
});
