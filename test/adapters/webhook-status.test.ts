/**
 * `agent.message.status` (issue 11, docs/helpdesks/webhook.md): the custom tool learns what became
 * of an agent message. `failed` always; `delivered` / `read` only when `helpdesk.messageStatus`
 * asks for them; `sent` never (it is not in the contract). Checked against the tool simulator,
 * which verifies the signature and validates every event against the published schema, and
 * through the whole bridge for a reply that Blip refuses.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookToolSimulator } from '../../simulators/webhook-tool/index.js';
import { HttpClient } from '../../src/delivery/http.js';
import type { AttendanceInfo, HelpdeskAdapter } from '../../src/helpdesks/adapter.js';
import { WebhookHelpdeskConfig, webhookAdapter } from '../../src/helpdesks/webhook/index.js';
import { parseConfig } from '../../src/config/load.js';
import { IDENTIFIER, rawConfig, startHarness, until, type Harness } from '../helpers/harness.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const log = pino({ level: 'silent' });
const media = { allowedHosts: ['127.0.0.1'], maxBytes: 1024 * 1024, timeoutMs: 5000 };
const http = new HttpClient(2_000);
const ctx = (deliveryId: number, attempt = 1) => ({ deliveryId, attempt });

describe('the adapter posts agent.message.status to the tool simulator', () => {
  let sim: WebhookToolSimulator;
  let base = '';
  const make = (messageStatus?: Array<'delivered' | 'read'>): HelpdeskAdapter =>
    webhookAdapter.create(
      { type: 'webhook', url: `${base}/bridge`, secret: SECRET, timeoutMs: 2_000, ...(messageStatus ? { messageStatus } : {}) },
      { http, log, botId: 'acme', media },
    );
  const att = (id: string): AttendanceInfo => ({ id, bot: 'acme', openedAt: '2024-05-01T12:00:00.000Z' });

  beforeAll(async () => {
    sim = new WebhookToolSimulator({ secret: SECRET });
    base = await sim.start();
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('by default: failed only, with its code and reason; sent, delivered and read are not posted', async () => {
    const adapter = make();
    const a = att('att-default');
    await adapter.messageStatus!({ key: a.id }, a, { sourceId: 'tool-m1', status: 'sent' }, ctx(1));
    await adapter.messageStatus!({ key: a.id }, a, { sourceId: 'tool-m1', status: 'delivered' }, ctx(2));
    await adapter.messageStatus!({ key: a.id }, a, { sourceId: 'tool-m1', status: 'read' }, ctx(3));
    await adapter.messageStatus!({ key: a.id }, a, { sourceId: 'tool-m1', status: 'failed', code: 'BLIP_REFUSED', reason: 'Blip refused the message: the 24-hour window is closed.' }, ctx(4));
    const got = sim.eventsOfType('agent.message.status').filter((e) => e.data.attendanceId === a.id);
    expect(got.map((e) => e.data)).toEqual([
      { attendanceId: a.id, messageId: 'tool-m1', status: 'failed', code: 'BLIP_REFUSED', reason: 'Blip refused the message: the 24-hour window is closed.' },
    ]);
    expect(got[0]?.webhookId).toBe('sts_failed_tool-m1');
    // Nothing else reached the tool for this attendance: the other statuses made no call at all.
    expect(sim.attempts.filter((x) => x.webhookId?.startsWith('sts_') && x.webhookId.endsWith('tool-m1'))).toHaveLength(1);
  });

  it('with messageStatus [delivered, read]: those too, each once (a retry carries the same webhook-id)', async () => {
    const adapter = make(['delivered', 'read']);
    const a = att('att-all');
    await adapter.messageStatus!({ key: a.id }, a, { sourceId: 'tool-m2', status: 'sent' }, ctx(11));
    await adapter.messageStatus!({ key: a.id }, a, { sourceId: 'tool-m2', status: 'delivered' }, ctx(12));
    await adapter.messageStatus!({ key: a.id }, a, { sourceId: 'tool-m2', status: 'delivered' }, ctx(12, 2));
    await adapter.messageStatus!({ key: a.id }, a, { sourceId: 'tool-m2', status: 'read' }, ctx(13));
    const got = sim.eventsOfType('agent.message.status').filter((e) => e.data.attendanceId === a.id);
    expect(got.map((e) => [e.webhookId, e.data.status])).toEqual([
      ['sts_delivered_tool-m2', 'delivered'],
      ['sts_read_tool-m2', 'read'],
    ]);
    expect(sim.attempts.filter((x) => x.webhookId === 'sts_delivered_tool-m2').map((x) => x.outcome)).toEqual(['accepted', 'duplicate']);
  });

  it('only delivered when only delivered is asked for; a long reason is cut to what the schema allows', async () => {
    const adapter = make(['delivered']);
    const a = att('att-delivered');
    await adapter.messageStatus!({ key: a.id }, a, { sourceId: 'tool-m3', status: 'read' }, ctx(21));
    await adapter.messageStatus!({ key: a.id }, a, { sourceId: 'tool-m3', status: 'delivered' }, ctx(22));
    await adapter.messageStatus!({ key: a.id }, a, { sourceId: 'tool-m3', status: 'failed', code: 'DELIVERY_DEAD', reason: 'x'.repeat(5000) }, ctx(23));
    const got = sim.eventsOfType('agent.message.status').filter((e) => e.data.attendanceId === a.id);
    expect(got.map((e) => e.data.status)).toEqual(['delivered', 'failed']);
    expect(got[1]?.data.reason).toHaveLength(1024);
  });

  it('the config takes delivered and read, nothing else', () => {
    const valid = { type: 'webhook', url: 'https://tool.example.com/bridge', secret: SECRET };
    const check = (messageStatus: unknown) => {
      try {
        parseConfig(rawConfigWith({ ...valid, messageStatus }), 'test');
        return 'ok';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(check(['delivered', 'read'])).toBe('ok');
    expect(check([])).toBe('ok');
    expect(check(['sent'])).toMatch(/bots\[0\]\.helpdesk\.messageStatus\[0\]/);
    expect(check(['failed'])).toMatch(/bots\[0\]\.helpdesk\.messageStatus\[0\]/);
    expect(check(['read', 'read'])).toMatch(/bots\[0\]\.helpdesk\.messageStatus/);
    expect(WebhookHelpdeskConfig.properties.messageStatus.description).toMatch(/failed` is always sent/);
  });
});

function rawConfigWith(helpdesk: Record<string, unknown>): Record<string, unknown> {
  const raw = rawConfig('http://127.0.0.1:9', 'http://127.0.0.1:9', '/tmp');
  const bots = raw['bots'] as Array<Record<string, unknown>>;
  bots[0] = { ...bots[0], helpdesk };
  return raw;
}

describe('through the bridge: a reply Blip refuses reaches the tool as failed', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.stop());

  it('the agent message is reported failed under the tool’s own message id; the next one is not', async () => {
    const customer = '5511999990031@wa.gw.msging.net';
    h.blip.addCustomer({ originator: customer });
    expect((await h.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'hello' })).status).toBe(202);
    const opened = await until(() => h.tool.eventsOfType('attendance.opened').find((e) => e.data.customer.originator === customer));
    const attendanceId = opened.data.attendance.id;

    // Blip refuses the next message for good (a 4xx other than 408/409/429 is permanent).
    h.blip.failNext('/messages', { status: 400, count: 1 });
    expect((await h.tool.reply(attendanceId, 'you will not get this', { messageId: 'agent-msg-refused' })).status).toBe(202);
    const failed = await until(() => h.tool.eventsOfType('agent.message.status').find((e) => e.data.messageId === 'agent-msg-refused'), 10_000);
    expect(failed.data).toMatchObject({ attendanceId, messageId: 'agent-msg-refused', status: 'failed' });
    expect(h.tool.attendances.get(attendanceId)?.messages.find((m) => m.id === 'agent-msg-refused')?.status).toBe('failed');

    expect((await h.tool.reply(attendanceId, 'but this one arrives', { messageId: 'agent-msg-ok' })).status).toBe(202);
    await h.blip.waitFor((r) => r.body?.content === 'but this one arrives');
    // Its `sent` is not part of the contract, so nothing is posted about it.
    await until(async () => (await h.admin('GET', `/admin/deliveries?state=pending`)).body.deliveries.length === 0);
    expect(h.tool.eventsOfType('agent.message.status').map((e) => e.data.messageId)).toEqual(['agent-msg-refused']);
  });
});
