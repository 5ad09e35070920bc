/**
 * Durable, per-lane FIFO deliveries: retried with backoff honouring Retry-After, in order,
 * without blocking other attendances; dead after the budget, listed and replayable.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BOT, IDENTIFIER, startHarness, until, type Harness } from '../helpers/harness.js';

const A = '5511000000001@wa.gw.msging.net';
const B = '5511000000002@wa.gw.msging.net';

describe('deliveries', () => {
  let h: Harness;
  afterEach(async () => h?.stop());

  async function openFor(originator: string, text = 'hello'): Promise<string> {
    h.blip.addCustomer({ originator });
    await h.blip.customerSays(originator, IDENTIFIER, { type: 'text/plain', content: text });
    const ev = await until(() => h.tool.eventsOfType('attendance.opened').find((e) => e.data.customer.originator === originator), 5000, `open ${originator}`);
    return ev.data.attendance.id;
  }

  const textsFor = (attendanceId: string) =>
    h.tool.eventsOfType('customer.message').filter((e) => e.data.attendanceId === attendanceId).map((e) => e.data.message.content.text);

  it('retries 5xx and honours Retry-After, keeping the lane in order', async () => {
    h = await startHarness({ delivery: { maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 50 } });
    const att = await openFor(A, 'm0');
    await h.tool.waitFor(() => textsFor(att).length === 1);
    h.tool.failNext(3, 503);
    h.tool.failNext(1, 429, '1');
    const started = Date.now();
    for (let i = 1; i <= 5; i++) await h.blip.customerSays(A, IDENTIFIER, { type: 'text/plain', content: `m${i}` });
    await h.tool.waitFor(() => textsFor(att).length === 6, 8000);
    expect(textsFor(att)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    // Retry-After: 1 second was honoured (the backoff alone would be well under 100 ms).
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const failedAttempts = h.tool.attempts.filter((a) => a.outcome === 'injected');
    expect(failedAttempts).toHaveLength(4);
    // Every retry of m1 carried the same webhook-id, so the tool could dedupe.
    expect(new Set(failedAttempts.map((a) => a.webhookId)).size).toBe(1);
  });

  it('a slow or failing attendance does not block another one', async () => {
    h = await startHarness({ delivery: { maxAttempts: 50, baseDelayMs: 200, maxDelayMs: 400 } });
    const a = await openFor(A, 'a0');
    const b = await openFor(B, 'b0');
    await h.tool.waitFor(() => textsFor(a).length === 1 && textsFor(b).length === 1);
    // A's next delivery fails (the tool answers 503 once, then is slow to retry: backoff ≥ 100 ms).
    h.tool.failNext(1, 503);
    await h.blip.customerSays(A, IDENTIFIER, { type: 'text/plain', content: 'a1' });
    await until(() => h.tool.attempts.some((x) => x.outcome === 'injected'));
    const t0 = Date.now();
    await h.blip.customerSays(B, IDENTIFIER, { type: 'text/plain', content: 'b1' });
    await h.tool.waitFor(() => textsFor(b).length === 2, 3000);
    const bLatency = Date.now() - t0;
    expect(textsFor(a)).toEqual(['a0']); // still waiting for its retry
    expect(bLatency).toBeLessThan(100);
    await h.tool.waitFor(() => textsFor(a).length === 2, 3000);
  });

  it('after the budget a delivery is dead: the customer gets `failed`, the admin API lists it and can retry it', async () => {
    h = await startHarness({ delivery: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 } });
    const att = await openFor(A, 'first');
    await h.tool.waitFor(() => textsFor(att).length === 1);
    h.tool.failNext(3, 500);
    const said = await h.blip.customerSays(A, IDENTIFIER, { type: 'text/plain', content: 'lost?' });
    const failed = await h.blip.waitFor((r) => r.kind === 'notification' && r.body.event === 'failed', 5000);
    expect(failed.body.id).toBe(said.id);
    // A stable code and a plain sentence: never the tool's URL, status or body (issue 11).
    expect(failed.body.reason).toEqual({ code: 101, description: 'The message could not be delivered to the support team.' });

    const dead = await h.admin('GET', '/admin/deliveries?state=dead');
    expect(dead.status).toBe(200);
    expect(dead.body.deliveries).toHaveLength(1);
    const d = dead.body.deliveries[0];
    expect(d).toMatchObject({ attendanceId: att, lane: 'to-helpdesk', kind: 'message', state: 'dead', attempts: 3 });
    expect(d.lastError).toMatch(/500/);

    // The next message still goes through: a dead delivery does not wedge its lane.
    await h.blip.customerSays(A, IDENTIFIER, { type: 'text/plain', content: 'after' });
    await h.tool.waitFor(() => textsFor(att).includes('after'));

    const retried = await h.admin('POST', `/admin/deliveries/${d.id}/retry`);
    expect(retried.status).toBe(202);
    await h.tool.waitFor(() => textsFor(att).includes('lost?'));
    expect((await h.admin('POST', `/admin/deliveries/${d.id}/retry`)).body.error.code).toBe('BRIDGE_ERR_DELIVERY_NOT_DEAD');
    const metrics = (await h.get('/metrics')).text;
    expect(metrics).toMatch(/bridge_deliveries_total\{lane="to-helpdesk",kind="message",outcome="dead"\} 1/);
  });

  it('when the helpdesk never opens the attendance, the customer is told and handed back', async () => {
    h = await startHarness({ delivery: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 }, bot: { attendance: { messages: { failed: 'Sorry, no agents can be reached right now.' } } } });
    h.tool.failNext(2, 502);
    h.blip.addCustomer({ originator: A });
    const said = await h.blip.customerSays(A, IDENTIFIER, { type: 'text/plain', content: 'anyone?' });
    const redirect = await h.blip.waitFor((r) => r.body?.type === 'application/vnd.lime.redirect+json', 5000);
    const toCustomer = h.blip.received.messages.filter((r) => r.body.to === redirect.body.to).map((r) => r.body.content);
    expect(toCustomer[0]).toBe('Sorry, no agents can be reached right now.');
    expect(h.blip.received.notifications.some((n) => n.body.event === 'failed' && n.body.id === said.id)).toBe(true);
    const list = await h.admin('GET', `/admin/attendances?bot=${BOT}`);
    await until(async () => (await h.admin('GET', `/admin/attendances/${list.body.attendances[0].id}`)).body.state === 'closed');
    expect(h.tool.eventsOfType('attendance.closed')).toHaveLength(0);
  });

  it('Blip answering 429 pauses that bot, then every message arrives in order', async () => {
    h = await startHarness({ delivery: { maxAttempts: 10, baseDelayMs: 5, maxDelayMs: 20 } });
    const att = await openFor(A);
    h.blip.failNext('/messages', { status: 429, count: 1, retryAfter: '1' });
    for (let i = 0; i < 4; i++) await h.tool.reply(att, `r${i}`);
    await until(() => h.blip.received.messages.filter((r) => r.status === 202 && /^r\d$/.test(r.body.content)).length === 4, 5000);
    const got = h.blip.received.messages.filter((r) => r.status === 202 && /^r\d$/.test(r.body.content));
    expect(got.map((r) => r.body.content)).toEqual(['r0', 'r1', 'r2', 'r3']);
    const rejected = h.blip.received.messages.find((r) => r.status === 429)!;
    expect(got[0]!.at - rejected.at).toBeGreaterThanOrEqual(950);
  });
});
