/**
 * The store: one interface over Kysely (DESIGN §5). Engines differ only in how the Kysely instance
 * is made (engines.ts) and in one clause: PostgreSQL replicas claim lane heads with
 * `FOR UPDATE SKIP LOCKED`. Every other query is portable SQL, and one conformance suite holds
 * both engines to the same results. `Queries` works on the database or inside a transaction alike.
 */
import { createHash } from 'node:crypto';
import { Migrator, sql, type Kysely, type QueryResult, type Transaction } from 'kysely';
import type { AttendanceRow, AttendanceState, Database, DeliveryRow, Lane, MessageDirection, MessageRow, NewDelivery, TimerKind, TimerRow } from './schema.js';
import { activeTraceparent } from '../telemetry/deliveries.js';
import { migrationProvider } from './migrations.js';
import { bind, compileStatements, heads, type ParamsOf, type StatementName, type Statements } from './statements.js';

function affected(res: QueryResult<unknown>): boolean {
  return Number(res.numAffectedRows ?? 0n) > 0;
}

type Db = Kysely<Database> | Transaction<Database>;

export type Engine = 'sqlite' | 'postgres';

export interface NewAttendance {
  id: string;
  bot_id: string;
  customer_address: string;
  customer: unknown;
  opened_at: number;
}

export interface NewMessage {
  id: string;
  attendance_id: string;
  direction: MessageDirection;
  source_id: string | null;
  content: unknown;
  status: string;
  created_at: number;
}

export interface AttendanceFilter {
  bot?: string;
  state?: AttendanceState;
  customer?: string;
  /** Close reason (src/helpdesks/adapter.ts CLOSE_REASONS). */
  reason?: string;
  limit: number;
  /** Keyset paging: attendances opened before this one (id of the last row seen). */
  before?: { openedAt: number; id: string };
}

/** The claim an attempt runs under (DeliveryRow's values as claimHeads returned them). */
export interface Fence {
  attempts: number;
  leaseUntil: number;
}

export class Queries {
  constructor(
    protected readonly db: Db,
    readonly engine: Engine,
    /** The hot statements, compiled for this engine when the store opened (statements.ts). */
    protected readonly statements: Statements,
  ) {}

  private run<K extends StatementName>(name: K, values: ParamsOf<K>): Promise<QueryResult<any>> {
    return this.db.executeQuery(bind(this.statements, name, values));
  }

  /** Records an inbound id; false when it was already there (a duplicate). */
  async claimDedupe(bot: string, scope: string, key: string, now: number): Promise<boolean> {
    // Vendors bound their ids loosely or not at all; a key past PostgreSQL's B-tree row limit would
    // fail the insert, so long keys are kept as their hash (collisions: SHA-256, none in practice).
    const stored = Buffer.byteLength(key) > 256 ? `sha256:${createHash('sha256').update(key).digest('hex')}` : key;
    const res = await this.run('claimDedupe', { bot, scope, key: stored, now });
    return Number(res.numAffectedRows ?? 0n) > 0;
  }

  async activeAttendance(bot: string, address: string): Promise<AttendanceRow | undefined> {
    const res = await this.run('activeAttendance', { bot, address });
    return res.rows[0];
  }

  async createAttendance(a: NewAttendance): Promise<void> {
    await this.db
      .insertInto('attendances')
      .values({
        id: a.id,
        bot_id: a.bot_id,
        customer_address: a.customer_address,
        state: 'opening',
        customer: JSON.stringify(a.customer),
        helpdesk_key: null,
        helpdesk_ref: null,
        agent: null,
        opened_at: a.opened_at,
        closed_at: null,
        close_reason: null,
        transcript: null,
        last_customer_at: null,
        last_agent_at: null,
        first_agent_at: null,
        updated_at: a.opened_at,
      })
      .execute();
  }

  async attendance(id: string): Promise<AttendanceRow | undefined> {
    return (await this.run('attendance', { id })).rows[0];
  }

  async attendanceByHelpdeskKey(bot: string, key: string): Promise<AttendanceRow | undefined> {
    // The newest one: a vendor key could be reused after a close (e.g. one conversation per customer).
    return this.db
      .selectFrom('attendances')
      .selectAll()
      .where('bot_id', '=', bot)
      .where('helpdesk_key', '=', key)
      .orderBy('opened_at', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /** Everything but the state, which only src/core/attendance.ts changes (through `transitionAttendance`). */
  async updateAttendance(
    id: string,
    patch: Partial<Pick<AttendanceRow, 'customer' | 'helpdesk_key' | 'helpdesk_ref' | 'agent' | 'transcript' | 'last_customer_at' | 'last_agent_at' | 'first_agent_at'>>,
    now: number,
  ): Promise<boolean> {
    const res = await this.db.updateTable('attendances').set({ ...patch, updated_at: now }).where('id', '=', id).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Compare-and-set of the state: only from one of `from`; false when the attendance was elsewhere. */
  async transitionAttendance(
    id: string,
    from: readonly AttendanceState[],
    to: AttendanceState,
    patch: Partial<Pick<AttendanceRow, 'customer' | 'helpdesk_key' | 'helpdesk_ref' | 'closed_at' | 'close_reason'>>,
    now: number,
  ): Promise<boolean> {
    const res = await this.db
      .updateTable('attendances')
      .set({ ...patch, state: to, updated_at: now })
      .where('id', '=', id)
      .where('state', 'in', [...from])
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async listAttendances(f: AttendanceFilter): Promise<AttendanceRow[]> {
    let q = this.db.selectFrom('attendances').selectAll();
    if (f.bot) q = q.where('bot_id', '=', f.bot);
    if (f.state) q = q.where('state', '=', f.state);
    if (f.customer) q = q.where('customer_address', '=', f.customer);
    if (f.reason) q = q.where('close_reason', '=', f.reason);
    if (f.before) {
      const b = f.before;
      q = q.where((eb) => eb.or([eb('opened_at', '<', b.openedAt), eb.and([eb('opened_at', '=', b.openedAt), eb('id', '<', b.id)])]));
    }
    return q.orderBy('opened_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
  }

  async countOpenAttendances(): Promise<Array<{ bot_id: string; state: string; n: number }>> {
    const rows = await this.db
      .selectFrom('attendances')
      .select(['bot_id', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('state', '<>', 'closed')
      .groupBy(['bot_id', 'state'])
      .execute();
    return rows.map((r) => ({ ...r, n: Number(r.n) }));
  }

  async insertMessage(m: NewMessage): Promise<void> {
    await this.run('insertMessage', {
      id: m.id,
      attendanceId: m.attendance_id,
      direction: m.direction,
      sourceId: m.source_id,
      content: JSON.stringify(m.content),
      status: m.status,
      createdAt: m.created_at,
    });
  }

  async updateMessage(id: string, patch: { status?: string; vendor_id?: string | null; content?: unknown }, now: number): Promise<void> {
    const { status, vendor_id: vendorId, content } = patch;
    if (content !== undefined) {
      // Not one of the hot statements: a message's content changes rarely (sealed after sending).
      const set: { status?: string; vendor_id?: string | null; content: string; updated_at: number } = { content: JSON.stringify(content), updated_at: now };
      if (status !== undefined) set.status = status;
      if (vendorId !== undefined) set.vendor_id = vendorId;
      await this.db.updateTable('messages').set(set).where('id', '=', id).execute();
      return;
    }
    if (status !== undefined && vendorId !== undefined) await this.run('updateMessageStatusVendor', { id, status, vendorId, now });
    else if (status !== undefined) await this.run('updateMessageStatus', { id, status, now });
    else if (vendorId !== undefined) await this.run('updateMessageVendor', { id, vendorId, now });
  }

  /** Status updates from Blip notifications name the id we sent the message with. */
  async updateMessageStatusBySource(attendanceId: string | null, sourceId: string, status: string, now: number): Promise<number> {
    let q = this.db.updateTable('messages').set({ status, updated_at: now }).where('source_id', '=', sourceId).where('direction', '<>', 'customer');
    if (attendanceId) q = q.where('attendance_id', '=', attendanceId);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async messageById(id: string): Promise<MessageRow | undefined> {
    return (await this.run('messageById', { id })).rows[0];
  }

  async messagesOf(attendanceId: string, limit = 1000): Promise<MessageRow[]> {
    return this.db.selectFrom('messages').selectAll().where('attendance_id', '=', attendanceId).orderBy('created_at').orderBy('id').limit(limit).execute();
  }

  async enqueue(d: NewDelivery, now: number): Promise<number> {
    // The enqueuer's trace continues in the delivery's attempts (null when traces are off).
    const res = await this.run('enqueue', { attendanceId: d.attendance_id, bot: d.bot_id, lane: d.lane, kind: d.kind, payload: d.payload, nextAt: d.next_at ?? now, trace: activeTraceparent(), now });
    return Number(res.rows[0]!.id);
  }

  async delivery(id: number): Promise<DeliveryRow | undefined> {
    return this.db.selectFrom('deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async deliveriesOf(attendanceId: string): Promise<DeliveryRow[]> {
    return this.db.selectFrom('deliveries').selectAll().where('attendance_id', '=', attendanceId).orderBy('id').execute();
  }

  /**
   * Heads of lanes that are due: the oldest pending delivery of each (attendance, lane), when its
   * time has come and nobody holds a lease on it nor on any other delivery of its lane (a dead
   * delivery revived behind one in flight waits for it). FIFO holds because only a head is ever
   * returned. Ids come from a sequence, so on PostgreSQL two transactions enqueueing to one lane
   * may commit out of id order; each transaction's own deliveries still run in order, and the
   * order between concurrent inputs was never defined.
   */
  async dueHeads(now: number, limit: number): Promise<DeliveryRow[]> {
    return heads(this.db, now).selectAll('d').orderBy('d.next_at').orderBy('d.id').limit(limit).execute();
  }

  /**
   * Takes up to `limit` due heads (as dueHeads chooses them) and leases them until `leaseUntil`,
   * counting the attempt about to be made: the rows come back with `attempts` already incremented.
   * Atomic, so two workers never hold the same head; on PostgreSQL a replica passes over the heads
   * another replica is claiming instead of queueing behind its transaction.
   */
  async claimHeads(now: number, limit: number, leaseUntil: number): Promise<DeliveryRow[]> {
    if (limit <= 0) return [];
    // One statement: one round trip, no transaction of its own (statements.ts says how it locks).
    const res = await this.run('claimHeads', { now, limit, leaseUntil });
    return (res.rows as DeliveryRow[]).sort((a, b) => a.next_at - b.next_at || a.id - b.id);
  }

  /**
   * Gives back a head claimed but not attempted (e.g. its bot is paused): the lease is dropped,
   * the attempt is not counted and it is due again at `nextAt`. Only while the lease is still the
   * one taken (`leaseUntil`); false otherwise.
   */
  async releaseLease(id: number, leaseUntil: number, nextAt: number, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable('deliveries')
      .set({ lease_until: null, attempts: sql`attempts - 1`, next_at: nextAt, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .where('lease_until', '=', leaseUntil)
      .where('attempts', '>', 0)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Takes a lease on a head; false when someone else got it first. */
  async lease(id: number, until: number, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable('deliveries')
      .set({ lease_until: until, attempts: sql`attempts + 1`, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * The outcome of an attempt. With `fence` (the claim the attempt ran under), it is recorded only
   * if that claim is still the delivery's latest: an attempt that outlived its lease while another
   * worker or replica took the delivery over must not record it (nor commit the effects that go
   * with it), or both attempts' consequences would apply. False when the fence no longer holds.
   */
  async markDone(id: number, now: number, fence?: Fence): Promise<boolean> {
    return affected(await (fence ? this.run('markDoneFenced', { id, now, ...fence }) : this.run('markDone', { id, now })));
  }

  async markRetry(id: number, nextAt: number, error: string, now: number, fence?: Fence): Promise<boolean> {
    return affected(await (fence ? this.run('markRetryFenced', { id, nextAt, error, now, ...fence }) : this.run('markRetry', { id, nextAt, error, now })));
  }

  async markDead(id: number, error: string, now: number, fence?: Fence): Promise<boolean> {
    return affected(await (fence ? this.run('markDeadFenced', { id, error, now, ...fence }) : this.run('markDead', { id, error, now })));
  }

  async listDeliveries(f: { state?: 'pending' | 'done' | 'dead'; bot?: string; lane?: Lane; limit: number; afterId?: number }): Promise<DeliveryRow[]> {
    let q = this.db.selectFrom('deliveries').selectAll();
    if (f.state) q = q.where('state', '=', f.state);
    if (f.bot) q = q.where('bot_id', '=', f.bot);
    if (f.lane) q = q.where('lane', '=', f.lane);
    if (f.afterId !== undefined) q = q.where('id', '>', f.afterId);
    return q.orderBy('id').limit(f.limit).execute();
  }

  /** A dead delivery goes back to pending with a fresh budget, due now. */
  async revive(id: number, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable('deliveries')
      .set({ state: 'pending', attempts: 0, next_at: now, lease_until: null, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'dead')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async countDeliveries(): Promise<Array<{ lane: string; state: string; n: number }>> {
    const rows = await this.db
      .selectFrom('deliveries')
      .select(['lane', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('state', '<>', 'done')
      .groupBy(['lane', 'state'])
      .execute();
    return rows.map((r) => ({ ...r, n: Number(r.n) }));
  }

  /**
   * The pending deliveries right behind `afterId` in its lane, while they are of `kind` (a batch
   * of consecutive customer messages). Not heads, so no other worker can take them meanwhile.
   */
  async laneFollowers(attendanceId: string, lane: Lane, afterId: number, kind: string, limit: number): Promise<DeliveryRow[]> {
    const rows = await this.db
      .selectFrom('deliveries')
      .selectAll()
      .where('attendance_id', '=', attendanceId)
      .where('lane', '=', lane)
      .where('state', '=', 'pending')
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
    const out: DeliveryRow[] = [];
    for (const r of rows) {
      if (r.kind !== kind) break;
      out.push(r);
    }
    return out;
  }

  /**
   * Retention: deletes attendances closed before `before` with their message log and deliveries,
   * and inbound dedupe ids older than `before` (a sender retrying after that long is not a retry).
   * At most `limit` attendances per call, so a large backlog is purged in short transactions.
   */
  async purgeClosed(before: number, limit: number): Promise<{ attendances: number; dedupe: number }> {
    const ids = (
      await this.db.selectFrom('attendances').select('id').where('state', '=', 'closed').where('closed_at', '<', before).orderBy('closed_at').limit(limit).execute()
    ).map((r) => r.id);
    if (ids.length) {
      await this.db.deleteFrom('deliveries').where('attendance_id', 'in', ids).execute();
      await this.db.deleteFrom('timers').where('attendance_id', 'in', ids).execute();
      await this.db.deleteFrom('messages').where('attendance_id', 'in', ids).execute();
      await this.db.deleteFrom('attendances').where('id', 'in', ids).execute();
    }
    const dedupe = await this.db.deleteFrom('dedupe').where('created_at', '<', before).executeTakeFirst();
    return { attendances: ids.length, dedupe: Number(dedupe.numDeletedRows) };
  }

  // ── timers (src/core/lifecycle.ts) ──────────────────────────────────────────────────────

  /** Arms (or re-arms) the attendance's timer of this kind to fire at `dueAt`. */
  async armTimer(attendanceId: string, bot: string, kind: TimerKind, dueAt: number, now: number): Promise<void> {
    await this.run('armTimer', { attendanceId, bot, kind, dueAt, now });
  }

  /** Cancels the attendance's timers of these kinds (all of them without `kinds`). */
  async cancelTimers(attendanceId: string, kinds?: readonly TimerKind[]): Promise<void> {
    let q = this.db.deleteFrom('timers').where('attendance_id', '=', attendanceId);
    if (kinds) q = q.where('kind', 'in', [...kinds]);
    await q.execute();
  }

  /** Timers due at `now`, soonest first: candidates for `takeTimer`, which settles who fires them. */
  async dueTimers(now: number, limit: number): Promise<TimerRow[]> {
    return this.db.selectFrom('timers').selectAll().where('due_at', '<=', now).orderBy('due_at').limit(limit).execute();
  }

  /**
   * Takes a due timer for firing: deletes it and returns it, or undefined when it is not due (any
   * more) or another worker took it. Run in the transaction that applies what the timer does: the
   * delete and its effects commit together or not at all, and on PostgreSQL a second replica's
   * delete waits on the row lock and then finds nothing, so a timer fires once.
   */
  async takeTimer(attendanceId: string, kind: TimerKind, now: number): Promise<TimerRow | undefined> {
    const res = await this.run('takeTimer', { attendanceId, kind, now });
    return res.rows[0];
  }

  async timersOf(attendanceId: string): Promise<TimerRow[]> {
    return this.db.selectFrom('timers').selectAll().where('attendance_id', '=', attendanceId).orderBy('due_at').execute();
  }

  /** When the soonest timer is due (undefined: none armed). */
  async nextTimerDue(): Promise<number | undefined> {
    const r = await this.db.selectFrom('timers').select((eb) => eb.fn.min('due_at').as('due')).executeTakeFirst();
    return r?.due === null || r?.due === undefined ? undefined : Number(r.due);
  }

  /** Pending deliveries of a lane (used to decide when a closing attendance is drained). */
  async pendingInLane(attendanceId: string, lane: Lane): Promise<number> {
    const r = await this.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('attendance_id', '=', attendanceId)
      .where('lane', '=', lane)
      .where('state', '=', 'pending')
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

const LOCK_NOT_AVAILABLE = '55P03';
const MIGRATION_LOCK_WAIT_MS = 10 * 60_000;

export class Store extends Queries {
  constructor(
    readonly kysely: Kysely<Database>,
    engine: Engine,
  ) {
    // Compiled up front: a statement that cannot be built fails the store's opening, not a message.
    super(kysely, engine, compileStatements(kysely));
  }

  /** Queries inside a transaction, with this store's compiled statements. */
  protected queriesOf(trx: Transaction<Database>): Queries {
    return new Queries(trx, this.engine, this.statements);
  }

  transaction<T>(fn: (q: Queries) => Promise<T>): Promise<T> {
    return this.kysely.transaction().execute((trx) => fn(this.queriesOf(trx)));
  }

  private migrator(): Migrator {
    return new Migrator({ db: this.kysely, provider: migrationProvider });
  }

  /** Applies pending migrations; returns the names applied. */
  async migrate(): Promise<string[]> {
    // Replicas starting together queue on the migrator's lock; PostgreSQL's lock_timeout (a session
    // bound, engines.ts) ends such a wait after a couple of seconds, so the wait is repeated here
    // for as long as a migration may reasonably take.
    if (this.engine === 'sqlite') return this.migrateSqlite();
    const giveUpAt = Date.now() + MIGRATION_LOCK_WAIT_MS;
    for (;;) {
      const { error, results } = await this.migrator().migrateToLatest();
      if (!error) return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE || Date.now() > giveUpAt) throw error instanceof Error ? error : new Error(String(error));
    }
  }

  /**
   * SQLite's DDL is transactional, but Kysely's SQLite adapter does not say so, and its Migrator
   * then runs steps outside any transaction: a step failing halfway would leave half a schema,
   * and a crash between a step and its record would run it again. Here each step runs with its
   * record in an explicit transaction of its own, on the one connection SQLite has.
   */
  private async migrateSqlite(): Promise<string[]> {
    const applied: string[] = [];
    for (;;) {
      const step = await this.kysely.connection().execute(async (conn) => {
        await sql`begin immediate`.execute(conn);
        try {
          const { error, results } = await new Migrator({ db: conn, provider: migrationProvider }).migrateUp();
          if (error) throw error instanceof Error ? error : new Error(String(error));
          await sql`commit`.execute(conn);
          return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
        } catch (err) {
          await sql`rollback`.execute(conn);
          throw err;
        }
      });
      if (step.length === 0) return applied;
      applied.push(...step);
    }
  }

  async pendingMigrations(): Promise<string[]> {
    const all = await this.migrator().getMigrations();
    return all.filter((m) => !m.executedAt).map((m) => m.name);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.kysely);
  }

  /** Single-process engines: leases left by a killed process are void at start. */
  async releaseAllLeases(): Promise<void> {
    await this.kysely.updateTable('deliveries').set({ lease_until: null }).where('state', '=', 'pending').where('lease_until', 'is not', null).execute();
  }

  async close(): Promise<void> {
    await this.kysely.destroy();
  }
}
