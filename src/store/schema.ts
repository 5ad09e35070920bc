/**
 * Row shapes of every table (the id map of DESIGN §5 lives in `attendances`). Times are epoch
 * milliseconds; JSON columns are text so both engines store them alike.
 *
 * attendances  one hand-off. `customer_address` is the tunnel address Blip routes to us; at most one
 *              attendance per (bot, customer) is not closed (partial unique index). `helpdesk_key` is
 *              the vendor's id for the attendance (ticket/conversation/…), how webhooks find it.
 * messages     the message log: every customer, agent and system message of an attendance, with the
 *              id its source gave it (Blip message id, the tool's message id) and the vendor's id.
 * dedupe       inbound ids already accepted, per bot and scope (blip-message, helpdesk-event…).
 * deliveries   durable outbound work; a lane is (attendance_id, lane) and runs in id order. `trace`
 *              carries the enqueuer's trace context to the attempts (src/telemetry/deliveries.ts).
 * timers       the attendance's clocks (src/core/lifecycle.ts): at most one per (attendance, kind),
 *              armed, re-armed and cancelled in the transaction of the event that causes them, and
 *              fired by deleting the row in the transaction that applies what the timer does.
 */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

export type AttendanceState = 'opening' | 'open' | 'closing' | 'closed';
export type Lane = 'to-helpdesk' | 'to-blip';
export type DeliveryState = 'pending' | 'done' | 'dead';
export type MessageDirection = 'customer' | 'agent' | 'system';

export interface AttendancesTable {
  id: string;
  bot_id: string;
  customer_address: string;
  state: AttendanceState;
  customer: string;
  helpdesk_key: string | null;
  helpdesk_ref: string | null;
  agent: string | null;
  opened_at: number;
  closed_at: number | null;
  close_reason: string | null;
  /** JSON TranscriptEntry[] as handed to the helpdesk (null until the attendance opened). */
  transcript: string | null;
  /** When the customer / an agent last wrote, and when an agent first did (the lifecycle's facts). */
  last_customer_at: number | null;
  last_agent_at: number | null;
  first_agent_at: number | null;
  updated_at: number;
}

export interface MessagesTable {
  id: string;
  attendance_id: string;
  direction: MessageDirection;
  source_id: string | null;
  content: string;
  status: string;
  vendor_id: string | null;
  created_at: number;
  updated_at: number;
}

export interface DedupeTable {
  bot_id: string;
  scope: string;
  key: string;
  created_at: number;
}

export interface DeliveriesTable {
  id: Generated<number>;
  attendance_id: string;
  bot_id: string;
  lane: Lane;
  kind: string;
  payload: string;
  state: DeliveryState;
  attempts: ColumnType<number, number | undefined, number>;
  next_at: number;
  lease_until: number | null;
  last_error: string | null;
  /** W3C traceparent of the work that enqueued it, when traces are on (src/telemetry/deliveries.ts). */
  trace: string | null;
  created_at: number;
  updated_at: number;
}

export type TimerKind = 'inactivity-remind' | 'inactivity-close' | 'waiting-notify' | 'waiting-handback' | 'expiry';

export interface TimersTable {
  attendance_id: string;
  kind: TimerKind;
  bot_id: string;
  due_at: number;
  created_at: number;
}

export interface Database {
  attendances: AttendancesTable;
  messages: MessagesTable;
  dedupe: DedupeTable;
  deliveries: DeliveriesTable;
  timers: TimersTable;
}

export type AttendanceRow = Selectable<AttendancesTable>;
export type MessageRow = Selectable<MessagesTable>;
export type DeliveryRow = Selectable<DeliveriesTable>;
export type TimerRow = Selectable<TimersTable>;
export type NewDelivery = Omit<Insertable<DeliveriesTable>, 'id' | 'state' | 'attempts' | 'created_at' | 'updated_at' | 'lease_until' | 'last_error' | 'next_at' | 'trace'> & { next_at?: number };
