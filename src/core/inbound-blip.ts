/**
 * Blip → us (DESIGN §3): validate, then one transaction {dedupe, find or open the attendance, log
 * the message, enqueue its delivery, arm or cancel the clocks it affects}.
 */
import { randomUUID } from 'node:crypto';
import { customerFromEnvelope } from '../blip/customer.js';
import { BridgeError } from '../http/errors.js';
import { MIME, identityOf, type MessageEnvelope, type NotificationEnvelope } from '../lime/envelope.js';
import type { Queries } from '../store/store.js';
import { createAttendance } from './attendance.js';
import type { Core } from './context.js';
import { limeToContent } from './convert.js';
import { agentStatus } from './deliveries/agent-status.js';
import { blipNotification } from './deliveries/blip-notification.js';
import { customerMessage } from './deliveries/customer-message.js';
import { customerTyping } from './deliveries/customer-typing.js';
import { enqueue } from './deliveries/kind.js';
import { open } from './deliveries/open.js';
import { beginClose, onCustomerMessage, onHandOff } from './lifecycle.js';
import { systemText } from './messages.js';
import { isOpenAt } from './policy.js';
import { FAILURES } from './reasons.js';
import { SENSITIVE_PLACEHOLDER, seal } from './sensitive.js';

export type Inbound = { outcome: 'accepted' | 'duplicate'; attendanceId?: string };

export async function receiveBlipMessage(core: Core, botId: string, env: MessageEnvelope): Promise<Inbound> {
  const bot = core.bot(botId);
  // Convert before writing anything: a malformed content is rejected whole.
  const converted = limeToContent(env.type, env.content);
  if (converted.kind === 'invalid') throw new BridgeError('BRIDGE_ERR_INVALID_CONTENT', `${env.type}: ${converted.error}`);
  const address = identityOf(env.from);
  const now = core.clock.now();
  // Sealed before it is written anywhere; a message never forwarded keeps only the placeholder.
  const sensitive = env.type === MIME.sensitive && converted.kind === 'content';
  const stored = sensitive && converted.kind === 'content' ? seal(converted.content, core.sealKey) : undefined;
  const result = await retryOnUniqueViolation(() =>
    core.store.transaction(async (q): Promise<Inbound> => {
      if (env.id !== undefined && !(await q.claimDedupe(botId, 'blip-message', env.id, now))) return { outcome: 'duplicate' };
      let att = await q.activeAttendance(botId, address);
      if (converted.kind === 'chatstate') {
        // A typing indicator alone never opens an attendance.
        if (!att || att.state === 'closing') return { outcome: 'accepted' };
        await enqueue(q, att, customerTyping, { state: converted.state, at: now }, now);
        return { outcome: 'accepted', attendanceId: att.id };
      }
      const messageId = randomUUID();
      if (!att) {
        att = await createAttendance(q, botId, address, customerFromEnvelope(address, env.metadata ?? undefined), now);
        const inHours = isOpenAt(bot.policy, now);
        if (!inHours && bot.policy.outsideHours === 'handback') {
          // Nobody is at work: tell the customer and hand them back at once; nothing is opened in
          // the helpdesk, and the message is logged (not forwarded) and acknowledged to Blip.
          await afterEnd(q, att, messageId, env.id, sensitive ? SENSITIVE_PLACEHOLDER : converted.content, now);
          await beginClose(core, q, att, 'outside-hours', now, false);
          core.log.info({ bot: botId, attendance: att.id, customer: address }, 'hand-off outside business hours: customer handed back');
          return { outcome: 'accepted', attendanceId: att.id };
        }
        await enqueue(q, att, open, {}, now);
        await onHandOff(q, att, bot.policy, now);
        if (!inHours && bot.policy.messages.outsideHours) await systemText(q, att, bot.policy.messages.outsideHours, now);
        core.log.info({ bot: botId, attendance: att.id, customer: address }, 'attendance opening');
      }
      if (att.state === 'closing') {
        // The Redirect is on its way: the helpdesk has ended. Keep it in the log and acknowledge
        // it to Blip so nothing looks lost; it is not forwarded to a closed conversation.
        await afterEnd(q, att, messageId, env.id, sensitive ? SENSITIVE_PLACEHOLDER : converted.content, now);
        return { outcome: 'accepted', attendanceId: att.id };
      }
      await q.insertMessage({ id: messageId, attendance_id: att.id, direction: 'customer', source_id: env.id ?? null, content: stored ?? converted.content, status: 'received', created_at: now });
      await enqueue(q, att, customerMessage, { messageId }, now);
      await onCustomerMessage(q, att, bot.policy, now);
      return { outcome: 'accepted', attendanceId: att.id };
    }),
  );
  if (result.outcome === 'accepted') core.hooks.wake();
  return result;
}

async function afterEnd(q: Queries, att: { id: string; bot_id: string }, messageId: string, sourceId: string | undefined, content: unknown, now: number): Promise<void> {
  await q.insertMessage({ id: messageId, attendance_id: att.id, direction: 'customer', source_id: sourceId ?? null, content, status: 'after-end', created_at: now });
  if (sourceId) await enqueue(q, att, blipNotification, { id: sourceId, event: 'consumed' }, now);
}

const RANK: Record<string, number> = { queued: 0, sent: 1, accepted: 2, dispatched: 3, received: 4, consumed: 5 };

/** Notifications can arrive out of order; a status only moves forward (failed always wins, once). */
function shouldAdvance(current: string, event: string): boolean {
  if (current.startsWith('failed')) return false;
  if (event === 'failed') return true;
  const next = RANK[event];
  if (next === undefined) return false;
  return next > (RANK[current] ?? -1);
}

/** What agent messages became on the customer's side, as the helpdesk hears it (issue 11). */
const TO_AGENT: Record<string, 'delivered' | 'read' | 'failed' | undefined> = { received: 'delivered', consumed: 'read', failed: 'failed' };

/** Blip's notifications about what we sent (accepted → dispatched → received → consumed, or failed). */
export async function receiveBlipNotification(core: Core, botId: string, env: NotificationEnvelope): Promise<Inbound> {
  const bot = core.bot(botId);
  const now = core.clock.now();
  let enqueued = false;
  const out = await core.store.transaction(async (q): Promise<Inbound> => {
    if (!(await q.claimDedupe(botId, 'blip-notification', `${env.id}|${env.event}`, now))) return { outcome: 'duplicate' };
    const message = await q.messageById(env.id);
    if (message && message.direction !== 'customer' && shouldAdvance(message.status, env.event)) {
      // Blip's own words stay in our log; the agent gets a stable code and a plain sentence.
      await q.updateMessage(message.id, { status: env.event === 'failed' ? `failed: ${env.reason?.description ?? 'no reason'}` : env.event }, now);
      const status = TO_AGENT[env.event];
      if (message.direction === 'agent' && status && bot.adapter.messageStatus) {
        const att = await q.attendance(message.attendance_id);
        if (att) {
          await enqueue(q, att, agentStatus, { messageId: message.id, status, ...(status === 'failed' ? { code: 'BLIP_REFUSED', reason: FAILURES.BLIP_REFUSED.text } : {}) }, now);
          enqueued = true;
        }
      }
    }
    return { outcome: 'accepted', ...(message ? { attendanceId: message.attendance_id } : {}) };
  });
  if (enqueued) core.hooks.wake();
  return out;
}

/**
 * Two first messages of one customer at once (two replicas, or two connections) both try to open
 * an attendance; the partial unique index lets one win. The loser runs again and finds it.
 */
async function retryOnUniqueViolation<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as { code?: string };
    if (e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE') return fn();
    throw err;
  }
}
