/**
 * One kind of delivery, defined in one place (DESIGN §10): its lane, its payload's schema, what an
 * attempt does, what happens when it dies, and whether an operator may replay it. The worker knows
 * none of this; src/core/deliveries/index.ts dispatches by (lane, kind).
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { DeliveryError } from '../../delivery/errors.js';
import type { Effects } from '../../delivery/worker.js';
import type { AttendanceInfo, CallContext } from '../../helpdesks/adapter.js';
import type { AttendanceRow, DeliveryRow, Lane } from '../../store/schema.js';
import type { Queries } from '../../store/store.js';
import type { Core } from '../context.js';
import type { BotRuntime } from '../runtime.js';

export interface RunContext {
  core: Core;
  d: DeliveryRow;
  att: AttendanceRow;
  bot: BotRuntime;
  info: AttendanceInfo;
  call: CallContext;
}

export interface DeadContext {
  core: Core;
  q: Queries;
  d: DeliveryRow;
  att: AttendanceRow;
  /** The last attempt's error, for our logs and the admin API only: never sent outside as is. */
  error: string;
  now: number;
}

export interface ReplayContext {
  core: Core;
  att: AttendanceRow;
  /** The customer's attendance that is not closed, when it is another one than `att`. */
  newer: AttendanceRow | undefined;
}

export interface DeliveryKind<S extends TSchema = TSchema> {
  lane: Lane;
  kind: string;
  payload: S;
  /** Performs the delivery; returns effects committed with its completion. Throws DeliveryError to retry. */
  run(x: RunContext, p: Static<S>): Promise<Effects | void>;
  /** In the transaction that marks it dead: who must hear of it. */
  onDead?(x: DeadContext, p: Static<S>): Promise<void>;
  /** Why an operator's replay would do harm now (it is refused with 409), or undefined when it is safe. */
  replayRefusal?(x: ReplayContext, p: Static<S>): string | undefined;
}

export function defineKind<S extends TSchema>(k: DeliveryKind<S>): DeliveryKind<S> & { check: TypeCheck<S> } {
  return { ...k, check: TypeCompiler.Compile(k.payload) };
}

export type AnyKind = DeliveryKind & { check: TypeCheck<TSchema> };

/** Enqueues a delivery of `kind` in the caller's transaction (DESIGN §3: persisted with its cause). */
export async function enqueue<S extends TSchema>(q: Queries, att: Pick<AttendanceRow, 'id' | 'bot_id'>, kind: DeliveryKind<S>, payload: Static<S>, now: number): Promise<number> {
  return q.enqueue({ attendance_id: att.id, bot_id: att.bot_id, lane: kind.lane, kind: kind.kind, payload: JSON.stringify(payload) }, now);
}

/** The stored payload, validated: a row we cannot read is a permanent failure, not a cast. */
export function payloadOf<S extends TSchema>(kind: DeliveryKind<S> & { check: TypeCheck<S> }, d: Pick<DeliveryRow, 'id' | 'payload'>): Static<S> {
  let value: unknown;
  try {
    value = JSON.parse(d.payload);
  } catch {
    throw new DeliveryError(`delivery ${d.id}: its payload is not JSON`, false);
  }
  if (!kind.check.Check(value)) {
    const first = kind.check.Errors(value).First();
    throw new DeliveryError(`delivery ${d.id}: its ${kind.lane} ${kind.kind} payload is invalid at ${first?.path || '/'}: ${first?.message ?? 'invalid'}`, false);
  }
  return value;
}
