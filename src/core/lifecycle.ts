/**
 * The attendance's lifecycle (issue 10): the timers that keep a customer from being left talking to
 * nobody, and the close that tells everyone. Timers are rows (src/store: `timers`) armed, re-armed
 * and cancelled in the transaction of the event that causes them, and fired in a transaction that
 * deletes the row and applies what it does (src/core/timers.ts): no in-memory timer holds state.
 *
 *   timer               armed by                          cancelled by                fires
 *   waiting-notify      the hand-off; re-armed on firing   the first agent message     messages.waiting
 *   waiting-handback    the hand-off                       the first agent message     close: no-agent
 *   inactivity-remind   an agent message (*)               a customer message (*)      messages.reminder
 *   inactivity-close    an agent message (*)               a customer message (*)      close: customer-inactive
 *   expiry              the hand-off                       —                           close: expired
 *   every timer is cancelled when the attendance begins closing.
 *   (*) keepWhileCustomerWaits: false re-arms both on a customer message instead (any silence counts).
 */
import type { CloseReason } from '../helpdesks/adapter.js';
import type { AttendanceRow, TimerKind, TimerRow } from '../store/schema.js';
import type { Queries } from '../store/store.js';
import { transition } from './attendance.js';
import type { Core } from './context.js';
import { helpdeskClose } from './deliveries/helpdesk-close.js';
import { enqueue } from './deliveries/kind.js';
import { redirect } from './deliveries/redirect.js';
import { systemText } from './messages.js';
import type { Policy } from './policy.js';

const INACTIVITY: readonly TimerKind[] = ['inactivity-remind', 'inactivity-close'];
const WAITING: readonly TimerKind[] = ['waiting-notify', 'waiting-handback'];

/** The hand-off: the clocks that run from it. */
export async function onHandOff(q: Queries, att: Pick<AttendanceRow, 'id' | 'bot_id'>, p: Policy, now: number): Promise<void> {
  if (p.waiting?.notifyMs) await q.armTimer(att.id, att.bot_id, 'waiting-notify', now + p.waiting.notifyMs, now);
  if (p.waiting?.handBackMs) await q.armTimer(att.id, att.bot_id, 'waiting-handback', now + p.waiting.handBackMs, now);
  if (p.maxDurationMs) await q.armTimer(att.id, att.bot_id, 'expiry', now + p.maxDurationMs, now);
}

export async function onCustomerMessage(q: Queries, att: AttendanceRow, p: Policy, now: number): Promise<void> {
  // Only what a policy reads is written: this runs for every message.
  if (!p.inactivity) return;
  await q.updateAttendance(att.id, { last_customer_at: now }, now);
  if (p.inactivity.keepWhileCustomerWaits) await q.cancelTimers(att.id, INACTIVITY);
  else if (att.last_agent_at !== null) await armInactivity(q, att, p.inactivity, now);
}

export async function onAgentMessage(q: Queries, att: AttendanceRow, p: Policy, now: number): Promise<void> {
  await q.updateAttendance(att.id, { last_agent_at: now, ...(att.first_agent_at === null ? { first_agent_at: now } : {}) }, now);
  if (p.waiting && att.first_agent_at === null) await q.cancelTimers(att.id, WAITING);
  if (p.inactivity) await armInactivity(q, att, p.inactivity, now);
}

async function armInactivity(q: Queries, att: Pick<AttendanceRow, 'id' | 'bot_id'>, i: NonNullable<Policy['inactivity']>, now: number): Promise<void> {
  if (i.remindMs) await q.armTimer(att.id, att.bot_id, 'inactivity-remind', now + i.remindMs, now);
  await q.armTimer(att.id, att.bot_id, 'inactivity-close', now + i.closeMs, now);
}

/** The customer's last words from us, by why it ended. */
export function farewell(p: Policy, reason: CloseReason): string | undefined {
  const m = p.messages;
  switch (reason) {
    case 'outside-hours':
      return m.outsideHours;
    case 'failed':
      return m.failed;
    case 'customer-inactive':
      return m.inactive ?? m.closed;
    case 'no-agent':
      return m.noAgents ?? m.closed;
    default:
      return m.closed;
  }
}

/**
 * Every close, whatever caused it (DESIGN §3): closing → the to-blip lane keeps its order, so
 * pending agent messages go first, then the farewell, then the Redirect (whose delivery closes the
 * attendance); the helpdesk hears of it on its own lane, behind what is still queued for it.
 * False when the attendance was no longer opening or open.
 */
export async function beginClose(
  core: Core,
  q: Queries,
  att: AttendanceRow,
  reason: CloseReason,
  now: number,
  /** False when the helpdesk was never asked to open it (outside hours): nothing to tell it. */
  helpdeskKnows = true,
): Promise<boolean> {
  // On PostgreSQL the state read may be stale by the time the update runs (the open completing in
  // another transaction: opening → open); closing is legal from both, so read again and retry.
  let cur: AttendanceRow | undefined = att;
  for (let tries = 0; ; tries++) {
    if (!cur || (cur.state !== 'opening' && cur.state !== 'open')) return false;
    if (await transition(q, cur, 'closing', { close_reason: reason, closed_at: now }, now)) break;
    if (tries === 2) return false;
    cur = await q.attendance(att.id);
  }
  await q.cancelTimers(att.id);
  const bot = core.bot(att.bot_id);
  const text = farewell(bot.policy, reason);
  if (text) await systemText(q, att, text, now);
  await enqueue(q, att, redirect, { reason }, now);
  if (bot.adapter.close && helpdeskKnows) await enqueue(q, att, helpdeskClose, { reason }, now);
  core.hooks.closing(att.bot_id, reason);
  core.log.info({ bot: att.bot_id, attendance: att.id, reason }, 'attendance closing');
  return true;
}

/** What a due timer does, in the transaction that took it. */
export async function fireTimer(core: Core, q: Queries, t: TimerRow, now: number): Promise<void> {
  const att = await q.attendance(t.attendance_id);
  if (!att || (att.state !== 'opening' && att.state !== 'open')) return;
  const bot = core.bots.get(att.bot_id);
  // A bot removed from the config, or a policy changed since the timer was armed: do what the
  // current policy says, which may be nothing.
  if (!bot) return;
  const p = bot.policy;
  core.log.info({ bot: att.bot_id, attendance: att.id, timer: t.kind }, 'timer fired');
  switch (t.kind) {
    case 'inactivity-remind':
      if (p.inactivity?.remindMs && p.messages.reminder) await systemText(q, att, p.messages.reminder, now);
      return;
    case 'inactivity-close':
      if (p.inactivity) await beginClose(core, q, att, 'customer-inactive', now);
      return;
    case 'waiting-notify':
      if (!p.waiting?.notifyMs || att.first_agent_at !== null) return;
      if (p.messages.waiting) await systemText(q, att, p.messages.waiting, now);
      await q.armTimer(att.id, att.bot_id, 'waiting-notify', now + p.waiting.notifyMs, now);
      return;
    case 'waiting-handback':
      if (p.waiting?.handBackMs && att.first_agent_at === null) await beginClose(core, q, att, 'no-agent', now);
      return;
    case 'expiry':
      if (p.maxDurationMs) await beginClose(core, q, att, 'expired', now);
      return;
  }
}
