/**
 * helpdesk → us (DESIGN §3): verified, parsed events applied all together or not at all, in one
 * transaction {dedupe, match the attendance, enqueue to-blip deliveries, move the clocks}.
 */
import { randomUUID } from 'node:crypto';
import type { HelpdeskEvent } from '../helpdesks/adapter.js';
import { BridgeError } from '../http/errors.js';
import type { Core } from './context.js';
import { blipChatstate } from './deliveries/blip-chatstate.js';
import { blipMessage } from './deliveries/blip-message.js';
import { enqueue } from './deliveries/kind.js';
import { beginClose, onAgentMessage } from './lifecycle.js';
import { systemText } from './messages.js';

export interface HelpdeskInbound {
  accepted: number;
  duplicates: number;
  ignored: string[];
}

export async function receiveHelpdeskEvents(core: Core, botId: string, events: HelpdeskEvent[]): Promise<HelpdeskInbound> {
  const bot = core.bot(botId);
  const unmatched = bot.adapter.webhook?.unmatched ?? 'ignore';
  const now = core.clock.now();
  const out = await core.store.transaction(async (q) => {
    const res: HelpdeskInbound = { accepted: 0, duplicates: 0, ignored: [] };
    for (const ev of events) {
      if (ev.kind === 'ignored') {
        res.ignored.push(ev.reason);
        continue;
      }
      const m = ev.attendance;
      let att = 'key' in m ? await q.attendanceByHelpdeskKey(botId, m.key) : await q.attendance(m.id);
      // A vendor that echoes our id back (Omnize's `extra`) must name the same attendance.
      if (att && 'key' in m && m.id !== undefined && m.id !== att.id) att = undefined;
      // Such a vendor may send events while the hand-off is still in flight, before we have stored
      // its key (Omnize queues the interaction as it creates it): then our echoed id alone names
      // the attendance, but only one still opening, which has no key to contradict it.
      if (!att && 'key' in m && m.id !== undefined) {
        const opening = await q.attendance(m.id);
        if (opening && opening.state === 'opening' && opening.helpdesk_key === null) att = opening;
      }
      if (!att || att.bot_id !== botId) {
        if (unmatched === 'reject') throw new BridgeError('BRIDGE_ERR_UNKNOWN_ATTENDANCE', `no attendance ${JSON.stringify(ev.attendance)}`);
        res.ignored.push(`unknown attendance ${JSON.stringify(ev.attendance)}`);
        continue;
      }
      if (!(await q.claimDedupe(botId, 'helpdesk-event', ev.eventId, now))) {
        res.duplicates++;
        continue;
      }
      if (att.state === 'closing' || att.state === 'closed') {
        if (unmatched === 'reject') throw new BridgeError('BRIDGE_ERR_ATTENDANCE_CLOSED', `attendance ${att.id} is ${att.state}`);
        res.ignored.push(`attendance ${att.id} is ${att.state}`);
        continue;
      }
      switch (ev.kind) {
        case 'agent.message': {
          // The vendor's message id is its idempotency key, beside the event id.
          if (!(await q.claimDedupe(botId, 'agent-message', ev.message.id, now))) {
            res.duplicates++;
            continue;
          }
          const messageId = randomUUID();
          await q.insertMessage({ id: messageId, attendance_id: att.id, direction: 'agent', source_id: ev.message.id, content: { ...ev.message.content, ...(ev.message.agent ? { agent: ev.message.agent } : {}) }, status: 'queued', created_at: now });
          await enqueue(q, att, blipMessage, { messageId }, now);
          await onAgentMessage(q, att, bot.policy, now);
          break;
        }
        case 'agent.typing':
          await enqueue(q, att, blipChatstate, { state: ev.state, at: now }, now);
          break;
        case 'agent.assigned':
          await q.updateAttendance(att.id, { agent: JSON.stringify(ev.agent ?? {}) }, now);
          break;
        case 'attendance.ended':
          await beginClose(core, q, att, 'agent', now);
          break;
        case 'no-agent':
          // With a hand-back configured, a helpdesk that says nobody can take the customer ends it
          // at once rather than at the deadline; otherwise the customer is told and keeps waiting.
          if (bot.policy.waiting?.handBackMs && att.first_agent_at === null) await beginClose(core, q, att, 'no-agent', now);
          else if (ev.text) await systemText(q, att, ev.text, now);
          break;
        case 'notice':
          await systemText(q, att, ev.text, now);
          break;
      }
      res.accepted++;
    }
    return res;
  });
  if (out.accepted > 0) core.hooks.wake();
  return out;
}
