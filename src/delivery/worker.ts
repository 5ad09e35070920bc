/**
 * Runs deliveries: heads of lanes only (per-lane FIFO), many lanes at once, retries with
 * exponential backoff and jitter honouring Retry-After, dead after the budget (DESIGN §3).
 * The worker is generic: what a delivery does is the executor's business; the follow-up effects
 * an executor returns are applied in the same transaction that marks the delivery done, so a
 * crash never leaves a sent delivery without its consequences, or consequences without the send.
 */
import type { Logger } from 'pino';
import type { DeliveryConfig } from '../config/schema.js';
import type { Fence, Queries, Store } from '../store/store.js';
import type { DeliveryRow } from '../store/schema.js';
import { attemptTiming, withDeadline, LEASE_MARGIN_MS, type AttemptTiming } from './attempt.js';
import { inAttemptSpan, type RecordOutcome } from '../telemetry/deliveries.js';
import { DeliveryError } from './errors.js';

export type Effects = (q: Queries, now: number) => Promise<void>;

export interface Executor {
  /** Performs the delivery; returns effects to commit with its completion. Throws DeliveryError to retry. */
  execute(d: DeliveryRow): Promise<Effects | void>;
  /** Called in the transaction that marks a delivery dead. */
  onDead(q: Queries, d: DeliveryRow, error: string, now: number): Promise<void>;
  /** A key shared by deliveries that one 429 should pause together (e.g. all to-blip lanes of a bot). */
  pauseKey?(d: DeliveryRow): string | undefined;
}

export interface WorkerEvents {
  onOutcome?(d: DeliveryRow, outcome: 'delivered' | 'retry' | 'dead', seconds: number): void;
}

const MAX_RETRY_AFTER_MS = 3_600_000;

export function backoffMs(attempt: number, cfg: Pick<DeliveryConfig, 'baseDelayMs' | 'maxDelayMs'>, retryAfterMs?: number, random = Math.random): number {
  const exp = Math.min(cfg.maxDelayMs, cfg.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  // "Equal jitter": at least half the delay, so retries spread without collapsing to zero.
  const jittered = exp / 2 + random() * (exp / 2);
  return Math.round(retryAfterMs !== undefined ? Math.min(MAX_RETRY_AFTER_MS, Math.max(jittered, retryAfterMs)) : jittered);
}

export class DeliveryWorker {
  private running = false;
  private readonly inflight = new Set<number>();
  private readonly busyLanes = new Set<string>();
  private readonly pausedUntil = new Map<string, number>();
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private loop: Promise<void> | undefined;
  private readonly leaseMs: number;

  constructor(
    private readonly store: Store,
    private readonly executor: Executor,
    private readonly cfg: DeliveryConfig,
    private readonly log: Logger,
    private readonly events: WorkerEvents = {},
    /** From the whole config (attemptTiming): the helpdesks' and media's own call deadlines count. */
    timing: AttemptTiming = attemptTiming({ delivery: cfg }),
    /** The lifecycle's clock (tests inject one): deliveries are due by it. */
    private readonly now: () => number = Date.now,
  ) {
    // Long enough for one attempt with its deadline; a holder that died or froze frees it after this.
    this.leaseMs = timing.leaseMs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** New work was enqueued: look now instead of at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stops taking work and waits for attempts in flight (up to `graceMs`). */
  async stop(graceMs = 10_000): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    const deadline = Date.now() + graceMs;
    while (this.inflight.size > 0 && Date.now() < deadline) await sleep(20);
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let started = 0;
      let drained = false;
      try {
        ({ started, drained } = await this.fill());
      } catch (err) {
        this.log.error({ err }, 'delivery worker: cannot read the store');
      }
      if (!this.running) break;
      // `drained`: the store had fewer due heads than we asked for, so asking again at once would
      // find nothing; new work and finished attempts wake us (bench/: half the claims were empty).
      if (started === 0 || drained || this.inflight.size >= this.cfg.concurrency) await this.idle();
    }
  }

  private async idle(): Promise<void> {
    if (!this.woken) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.cfg.pollIntervalMs);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wakeUp = done;
      });
      this.wakeUp = undefined;
    }
    // Wake-ups come in bursts (every enqueue and every finished attempt calls wake()): let the rest
    // of this event-loop turn's I/O land first, so that one claim serves them all instead of one
    // claim each. Costs at most one turn of latency.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.woken = false;
  }

  private async fill(): Promise<{ started: number; drained: boolean }> {
    const free = this.cfg.concurrency - this.inflight.size;
    if (free <= 0) return { started: 0, drained: false };
    const now = this.now();
    const leaseUntil = now + this.leaseMs;
    // Claimed heads are leased to this worker, so no other worker or replica takes them (nor
    // anything behind them in their lane) until we finish or the lease expires.
    const heads = await this.store.claimHeads(now, free, leaseUntil);
    let progressed = 0;
    for (const d of heads) {
      const lane = `${d.attendance_id}|${d.lane}`;
      const key = this.executor.pauseKey?.(d);
      const pausedUntil = key === undefined ? 0 : (this.pausedUntil.get(key) ?? 0);
      if (pausedUntil > now) {
        // Not due until the pause ends: no replica keeps claiming it meanwhile, and it does not
        // crowd out heads of lanes that are not paused.
        await this.store.releaseLease(d.id, leaseUntil, pausedUntil, now);
        progressed++;
        continue;
      }
      if (this.inflight.has(d.id) || this.busyLanes.has(lane)) {
        // Only if an attempt outlived its lease here; let that attempt settle the delivery.
        await this.store.releaseLease(d.id, leaseUntil, d.next_at, now);
        continue;
      }
      this.inflight.add(d.id);
      this.busyLanes.add(lane);
      progressed++;
      void this.attempt(d).finally(() => {
        this.inflight.delete(d.id);
        this.busyLanes.delete(lane);
        this.wake();
      });
    }
    return { started: progressed, drained: heads.length < free };
  }

  /** One attempt, in its trace span when traces are on (the span continues the enqueuer's trace). */
  private attempt(d: DeliveryRow): Promise<void> {
    return inAttemptSpan(d, (record) => this.attemptOnce(d, record));
  }

  private async attemptOnce(d: DeliveryRow, record: RecordOutcome): Promise<void> {
    const started = Date.now();
    let effects: Effects | void;
    try {
      // Nothing is sent for this attempt after its deadline, which ends before its lease does:
      // a replica that froze past its lease and resumes sends nothing its successor sent.
      effects = await withDeadline((d.lease_until ?? 0) - LEASE_MARGIN_MS, () => this.executor.execute(d));
    } catch (err) {
      await this.failed(d, err, record);
      return;
    }
    try {
      // Transactions are committed in groups on both engines (engines.ts): a completion alone
      // joins the others' commit instead of paying for its own.
      await this.store.transaction(async (q) => {
        const now = this.now();
        // Fenced first: if the delivery was taken over meanwhile, the transaction rolls back
        // before any effect is written, and the new holder's attempt records the outcome.
        if (!(await q.markDone(d.id, now, fenceOf(d)))) throw new LeaseLost();
        if (effects) await effects(q, now);
      });
      record('delivered');
      this.events.onOutcome?.(d, 'delivered', (Date.now() - d.created_at) / 1000);
      this.log.debug({ delivery: d.id, lane: d.lane, kind: d.kind, ms: Date.now() - started }, 'delivered');
    } catch (err) {
      if (err instanceof LeaseLost) return this.lost(d, record);
      // The peer has it but we could not record it: the lease expires and it is retried, which the
      // stable ids we send make harmless.
      this.log.error({ err, delivery: d.id }, 'delivered but could not record it');
    }
  }

  private async failed(d: DeliveryRow, err: unknown, record: RecordOutcome): Promise<void> {
    const e = err instanceof DeliveryError ? err : new DeliveryError(`${(err as Error)?.message ?? String(err)}`, false);
    if (!(err instanceof DeliveryError)) this.log.error({ err, delivery: d.id, kind: d.kind }, 'delivery failed with an unexpected error');
    const now = this.now();
    const message = `attempt ${d.attempts}: ${e.message}`.slice(0, 2000);
    try {
      if (e.retryable && d.attempts < this.cfg.maxAttempts) {
        const wait = backoffMs(d.attempts, this.cfg, e.retryAfterMs);
        if (e.status === 429) {
          const key = this.executor.pauseKey?.(d);
          if (key !== undefined) this.pausedUntil.set(key, now + wait);
        }
        if (!(await this.store.markRetry(d.id, now + wait, message, now, fenceOf(d)))) return this.lost(d, record);
        record('retry', e);
        this.events.onOutcome?.(d, 'retry', (now - d.created_at) / 1000);
        this.log.warn({ delivery: d.id, lane: d.lane, kind: d.kind, attempt: d.attempts, retryInMs: wait, error: e.message }, 'delivery will be retried');
      } else {
        const recorded = await this.store.transaction(async (q) => {
          if (!(await q.markDead(d.id, message, now, fenceOf(d)))) return false;
          await this.executor.onDead(q, d, e.message, now);
          return true;
        });
        if (!recorded) return this.lost(d, record);
        record('dead', e);
        this.events.onOutcome?.(d, 'dead', (now - d.created_at) / 1000);
        this.log.error({ delivery: d.id, lane: d.lane, kind: d.kind, attempts: d.attempts, error: e.message }, 'delivery is dead');
      }
    } catch (storeErr) {
      this.log.error({ err: storeErr, delivery: d.id }, 'cannot record a failed attempt; the lease will expire and it is retried');
    }
  }

  private lost(d: DeliveryRow, record: RecordOutcome): void {
    record('lost');
    this.log.warn({ delivery: d.id, lane: d.lane, kind: d.kind }, 'the attempt outlived its lease and the delivery was taken over: its outcome is left to the new holder');
  }
}

class LeaseLost extends Error {}

function fenceOf(d: DeliveryRow): Fence {
  // Claimed rows always carry their lease (claimHeads sets it and returns the row).
  return { attempts: d.attempts, leaseUntil: d.lease_until ?? -1 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
