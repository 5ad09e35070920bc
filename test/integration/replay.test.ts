/**
 * Replaying a dead delivery cannot do harm (issue 11): a replay whose attendance moved on is
 * refused with 409 BRIDGE_ERR_REPLAY_UNSAFE and the reason, changing nothing; the one safe replay
 * (a dead Redirect of a customer still routed to us) is done.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IDENTIFIER, startHarness, until, type Harness } from '../helpers/harness.js';

const ANA = '5511955550001@wa.gw.msging.net';
const REDIRECT = 'application/vnd.lime.redirect+json';

describe('replaying dead deliveries', () => {
  let h: Harness;
  afterEach(async () => h?.stop());

  async function dead(kind: string): Promise<{ id: number; attendanceId: string }> {
    const d = await until(async () => (await h.admin('GET', '/admin/deliveries?state=dead')).body.deliveries.find((x: { kind: string }) => x.kind === kind), 10_000, `a dead ${kind}`);
    return d;
  }

  it('the dead open of an attendance that has since ended is refused, and nothing changes', async () => {
    h = await startHarness();
    h.tool.failNext(1, 403);
    h.blip.addCustomer({ originator: ANA });
    await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: 'hello' });
    const open = await dead('open');
    await until(async () => (await h.admin('GET', `/admin/attendances/${open.attendanceId}`)).body.state === 'closed', 10_000, 'closed');
    const res = await h.admin('POST', `/admin/deliveries/${open.id}/retry`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('BRIDGE_ERR_REPLAY_UNSAFE');
    expect(res.body.error.detail).toMatch(/closed \(failed\)/);
    expect((await h.admin('GET', '/admin/deliveries?state=dead')).body.deliveries.map((d: { id: number }) => d.id)).toContain(open.id);
    expect(h.tool.eventsOfType('attendance.opened')).toHaveLength(0);
  });

  it('a dead Redirect is replayed while the customer has no newer attendance, and refused once they have one', async () => {
    h = await startHarness({ delivery: { maxAttempts: 2 } });
    h.blip.addCustomer({ originator: ANA });
    await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: 'hello' });
    await h.tool.waitFor((t) => t.eventsOfType('attendance.opened').length === 1);
    const first = h.tool.eventsOfType('attendance.opened')[0]!.data.attendance.id;
    h.blip.failNext('/messages', { status: 400, count: 1 }); // permanent: dead at once
    expect((await h.tool.end(first)).status).toBe(202);
    const redirect = await dead('redirect');
    // The one safe replay: the customer is still with us.
    expect((await h.admin('POST', `/admin/deliveries/${redirect.id}/retry`)).status).toBe(202);
    await until(() => h.blip.messagesTo(ANA).some((r) => r.body.type === REDIRECT), 10_000, 'the replayed Redirect');

    // Now the same, but the customer wrote again (a newer attendance) before the operator looked.
    h.blip.handOff(ANA, IDENTIFIER);
    await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: 'again' });
    await h.tool.waitFor((t) => t.eventsOfType('attendance.opened').length === 2);
    const second = h.tool.eventsOfType('attendance.opened')[1]!.data.attendance.id;
    h.blip.failNext('/messages', { status: 400, count: 1 });
    await h.tool.end(second);
    const again = await until(async () => (await h.admin('GET', '/admin/deliveries?state=dead')).body.deliveries.find((x: { kind: string; attendanceId: string }) => x.kind === 'redirect' && x.attendanceId === second), 10_000, 'the second dead Redirect');
    h.blip.handOff(ANA, IDENTIFIER);
    await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: 'third time' });
    await h.tool.waitFor((t) => t.eventsOfType('attendance.opened').length === 3);
    const before = h.blip.messagesTo(ANA).filter((r) => r.body.type === REDIRECT).length;
    const res = await h.admin('POST', `/admin/deliveries/${again.id}/retry`);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'BRIDGE_ERR_REPLAY_UNSAFE' });
    expect(res.body.error.detail).toMatch(/newer attendance/);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.blip.messagesTo(ANA).filter((r) => r.body.type === REDIRECT)).toHaveLength(before);
  });
});
