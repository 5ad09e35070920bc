/**
 * Admin API (bearer token), health, readiness and metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_KEY, IDENTIFIER, INBOUND_TOKEN, TOOL_SECRET, startHarness, until, type Harness } from '../helpers/harness.js';

const C = '5511000000009@wa.gw.msging.net';

describe('admin API and operations endpoints', () => {
  let h: Harness;
  let attendanceId: string;
  beforeAll(async () => {
    h = await startHarness({ bot: { blip: { returnTo: 'principal' } } });
    h.blip.addCustomer({ originator: C, name: 'Carla' });
    await h.blip.customerSays(C, IDENTIFIER, { type: 'text/plain', content: 'hello admin' });
    const ev = await until(() => h.tool.eventsOfType('attendance.opened')[0]);
    attendanceId = ev.data.attendance.id;
    await h.tool.waitFor((t) => t.eventsOfType('customer.message').length === 1);
  });
  afterAll(async () => h.stop());

  it('refuses requests without the admin token', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-xxxxxxxx' }, { authorization: `Bearer ${INBOUND_TOKEN}` }]) {
      const res = await h.get('/admin/attendances', headers);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('BRIDGE_ERR_UNAUTHORIZED');
    }
  });

  it('lists and gets attendances with their message log and deliveries, without secrets', async () => {
    const list = await h.admin('GET', '/admin/attendances?state=open');
    expect(list.status).toBe(200);
    expect(list.body.attendances.map((a: { id: string }) => a.id)).toEqual([attendanceId]);
    const one = await h.admin('GET', `/admin/attendances/${attendanceId}`);
    expect(one.body).toMatchObject({ id: attendanceId, state: 'open', customer: { originator: C, name: 'Carla' } });
    expect(one.body.messages).toHaveLength(1);
    expect(one.body.messages[0]).toMatchObject({ direction: 'customer', status: 'delivered', content: { type: 'text', text: 'hello admin' } });
    expect(one.body.deliveries.map((d: { kind: string; state: string }) => `${d.kind}:${d.state}`)).toEqual(expect.arrayContaining(['open:done', 'message:done']));
    const text = JSON.stringify(one.body) + JSON.stringify(list.body);
    for (const secret of [ACCESS_KEY, INBOUND_TOKEN, TOOL_SECRET]) expect(text).not.toContain(secret);
    expect((await h.admin('GET', '/admin/attendances/nope')).status).toBe(404);
    expect((await h.admin('GET', '/admin/attendances?state=weird')).status).toBe(400);
    expect((await h.admin('GET', '/admin/deliveries?state=dead')).body.deliveries).toEqual([]);
  });

  it('health, readiness and metrics', async () => {
    expect((await h.get('/healthz')).status).toBe(200);
    const ready = await h.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', store: process.env['TEST_STORE'] ?? 'sqlite' });
    const m = (await h.get('/metrics')).text;
    expect(m).toMatch(/bridge_attendances_open\{bot="acme",state="open"\} 1/);
    expect(m).toMatch(/bridge_deliveries_total\{lane="to-helpdesk",kind="open",outcome="delivered"\} 1/);
    expect(m).toMatch(/bridge_delivery_latency_seconds_bucket\{le="[0-9.]+",lane="to-helpdesk"\}/);
    expect(m).toMatch(/bridge_inbound_total\{route="blip-message",outcome="accepted"\} 1/);
  });

  it('answers HEAD on the webhook URL, as vendors check it when the webhook is saved', async () => {
    const res = await fetch(`${h.url}/helpdesk/acme/webhook`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect((await fetch(`${h.url}/helpdesk/nobody/webhook`, { method: 'HEAD' })).status).toBe(404);
  });

  it('pauses only the lane on a 429, or every lane of the bot for account-wide vendor limits', () => {
    const row = (lane: 'to-blip' | 'to-helpdesk') => ({ bot_id: 'acme', lane }) as Parameters<typeof h.bridge.bridge.pauseKey>[0];
    expect(h.bridge.bridge.pauseKey(row('to-blip'))).toBe('blip:acme');
    expect(h.bridge.bridge.pauseKey(row('to-helpdesk'))).toBeUndefined(); // the custom tool: per lane
  });

  it('serves the custom-tool JSON Schemas', async () => {
    const s = await h.get('/schemas/webhook/agent.message.json');
    expect(s.status).toBe(200);
    expect(s.body.$schema).toMatch(/json-schema/);
    const status = await h.get('/schemas/webhook/agent.message.status.json');
    expect(status.status).toBe(200);
    expect(status.body.properties.data.properties.status.anyOf.map((v: { const: string }) => v.const)).toEqual(['delivered', 'read', 'failed']);
    expect((await h.get('/schemas/webhook/nothing.json')).status).toBe(404);
  });

  it('closes an attendance: the customer is redirected and the tool told', async () => {
    const res = await h.admin('POST', `/admin/attendances/${attendanceId}/close`, {});
    expect(res.status).toBe(202);
    expect(res.body.state).toBe('closing');
    const redirect = await h.blip.waitFor((r) => r.body?.type === 'application/vnd.lime.redirect+json');
    expect(redirect.body.content).toMatchObject({ address: 'principal', context: { type: 'application/vnd.iris.ticket+json', value: { status: 'ClosedAttendant', closeReason: 'admin' } } });
    await h.tool.waitFor((t) => t.eventsOfType('attendance.closed').length === 1);
    expect(h.tool.eventsOfType('attendance.closed')[0]!.data.reason).toBe('admin');
    const again = await h.admin('POST', `/admin/attendances/${attendanceId}/close`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('BRIDGE_ERR_ATTENDANCE_CLOSED');
    expect((await h.admin('POST', `/admin/attendances/${attendanceId}/close`, { reason: 'because' })).status).toBe(400);
  });
});
