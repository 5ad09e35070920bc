/**
 * The agent knows what became of their reply (issue 11): Blip's `received` / `consumed` / `failed`
 * notifications for a message we sent reach the custom tool as `agent.message.status` under the
 * tool's own message id (delivered / read where the tool asked for them; failed always, with a
 * stable code and a plain reason, never Blip's own words).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BOT, INBOUND_TOKEN, IDENTIFIER, startHarness, until, type Harness } from '../helpers/harness.js';

const ANA = '5511944440001@wa.gw.msging.net';
const AUTH = { authorization: `Bearer ${INBOUND_TOKEN}` };

describe('agent message status', () => {
  let h: Harness;
  afterEach(async () => h?.stop());

  async function replied(messageId: string, text: string): Promise<{ id: string; to: string }> {
    const sent = await h.blip.waitFor((r) => r.body?.content === text, 10_000);
    return { id: sent.body.id, to: sent.body.to };
  }

  it('delivered and read when the tool asks for them, failed always', async () => {
    h = await startHarness({ bot: { helpdesk: { messageStatus: ['delivered', 'read'] } } });
    h.blip.addCustomer({ originator: ANA });
    await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: 'hi' });
    await h.tool.waitFor((t) => t.eventsOfType('attendance.opened').length === 1);
    const att = h.tool.eventsOfType('attendance.opened')[0]!.data.attendance.id;
    await h.tool.reply(att, 'first reply', { messageId: 'tool-msg-1' });
    await h.tool.reply(att, 'second reply', { messageId: 'tool-msg-2' });
    const one = await replied('tool-msg-1', 'first reply');
    const two = await replied('tool-msg-2', 'second reply');
    const notify = (id: string, from: string, event: string, reason?: unknown) => h.post(`/blip/${BOT}/notifications`, { id, from, to: `${IDENTIFIER}@msging.net`, event, ...(reason ? { reason } : {}) }, AUTH);
    expect((await notify(one.id, one.to, 'received')).status).toBe(202);
    expect((await notify(one.id, one.to, 'consumed')).status).toBe(202);
    expect((await notify(two.id, two.to, 'failed', { code: 86, description: 'WhatsApp: outside the 24-hour window for +55119…' })).status).toBe(202);
    await h.tool.waitFor((t) => t.eventsOfType('agent.message.status').length === 3, 10_000);
    const got = h.tool.eventsOfType('agent.message.status').map((e) => e.data);
    expect(got).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ attendanceId: att, messageId: 'tool-msg-1', status: 'delivered' }),
        expect.objectContaining({ attendanceId: att, messageId: 'tool-msg-1', status: 'read' }),
        expect.objectContaining({ attendanceId: att, messageId: 'tool-msg-2', status: 'failed', code: 'BLIP_REFUSED', reason: 'The customer could not receive this message.' }),
      ]),
    );
    expect(JSON.stringify(got)).not.toContain('24-hour');
  });

  it('without asking, only failed reaches the tool', async () => {
    h = await startHarness();
    h.blip.addCustomer({ originator: ANA });
    await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: 'hi' });
    await h.tool.waitFor((t) => t.eventsOfType('attendance.opened').length === 1);
    const att = h.tool.eventsOfType('attendance.opened')[0]!.data.attendance.id;
    await h.tool.reply(att, 'a reply', { messageId: 'tool-msg-3' });
    const one = await replied('tool-msg-3', 'a reply');
    for (const event of ['received', 'consumed', 'failed']) await h.post(`/blip/${BOT}/notifications`, { id: one.id, from: one.to, to: `${IDENTIFIER}@msging.net`, event }, AUTH);
    await h.tool.waitFor((t) => t.eventsOfType('agent.message.status').length >= 1, 10_000);
    await until(async () => (await h.bridge.store.listDeliveries({ state: 'pending', limit: 5 })).length === 0, 10_000, 'idle');
    expect(h.tool.eventsOfType('agent.message.status').map((e) => e.data.status)).toEqual(['failed']);
  });
});
