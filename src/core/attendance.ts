/**
 * The one writer of an attendance's state (DESIGN §2: opening → open → closing → closed). Its legal
 * transitions are this table; every other one is refused here, before the store is touched, and
 * each transition is a compare-and-set on the state read in the same transaction, so two writers
 * racing (a webhook and a timer, two replicas) cannot both move it.
 */
import { randomUUID } from 'node:crypto';
import type { Customer } from '../helpdesks/adapter.js';
import type { AttendanceRow, AttendanceState } from '../store/schema.js';
import type { Queries } from '../store/store.js';

export const TRANSITIONS: Readonly<Record<AttendanceState, readonly AttendanceState[]>> = {
  // open: the helpdesk took it; closing: it ended before that (failed, outside hours, a timer).
  opening: ['open', 'closing'],
  open: ['closing'],
  // closed: the Redirect went out (or died: the customer must still be able to start again).
  closing: ['closed'],
  closed: [],
};

export class IllegalTransition extends Error {
  constructor(
    readonly from: AttendanceState,
    readonly to: AttendanceState,
  ) {
    super(`an attendance cannot go from ${from} to ${to}`);
    this.name = 'IllegalTransition';
  }
}

export function isLegal(from: AttendanceState, to: AttendanceState): boolean {
  return TRANSITIONS[from].includes(to);
}

type TransitionPatch = Partial<Pick<AttendanceRow, 'customer' | 'helpdesk_key' | 'helpdesk_ref' | 'closed_at' | 'close_reason'>>;

/**
 * Moves `att` (as read in this transaction) to `to`. Throws IllegalTransition for a move the table
 * does not allow; false when the attendance was moved by someone else meanwhile.
 */
export async function transition(q: Queries, att: Pick<AttendanceRow, 'id' | 'state'>, to: AttendanceState, patch: TransitionPatch, now: number): Promise<boolean> {
  if (!isLegal(att.state, to)) throw new IllegalTransition(att.state, to);
  return q.transitionAttendance(att.id, [att.state], to, patch, now);
}

/** A new attendance is always `opening`. */
export async function createAttendance(q: Queries, bot: string, address: string, customer: Customer, now: number): Promise<AttendanceRow> {
  const id = randomUUID();
  await q.createAttendance({ id, bot_id: bot, customer_address: address, customer, opened_at: now });
  return (await q.attendance(id))!;
}
