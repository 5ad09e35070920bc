/**
 * The hot statements: the ones every message runs several times. Building a query with Kysely
 * cost more than running it (bench/: an insert of a delivery took ~150 µs to build and ~15 µs to
 * run on SQLite), so each is built once per engine when a store opens (`compileStatements`) and
 * then run from its SQL text with its values bound by name.
 *
 * Each statement is built with a distinct placeholder for every parameter, and its bind order is
 * read back from the compiled query: it is never written by hand, so no edit can bind a value to
 * the wrong column, and each name is one statement (test/store/statements.test.ts binds a distinct
 * value to every parameter of every statement and checks the result against Kysely's own).
 */
import { CompiledQuery, PostgresAdapter, sql, type Compilable, type Kysely, type Transaction } from 'kysely';
import type { Database, TimerKind } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A statement's definition: how Kysely builds it from its parameters. */
interface Definition<P> {
  build(db: Db, p: P): Compilable<unknown>;
}

function def<P>(build: (db: Db, p: P) => Compilable<unknown>): Definition<P> {
  return { build };
}

/**
 * Lane heads that are due (see Queries.dueHeads): the oldest pending delivery of each (attendance,
 * lane) whose time has come, leased by nobody, with nothing after it in flight.
 */
export function heads(db: Db, now: number) {
  // Written as two correlated scalar subqueries rather than NOT EXISTS: PostgreSQL's planner,
  // misled by the statistics of a table that grows and churns fast, turned the NOT EXISTS into a
  // nested-loop anti join over every pending row (quadratic: 120 ms a claim with 2,000 pending,
  // bench/). A scalar subquery is always run per candidate, as one probe of deliveries_lane.
  return (
    db
      .selectFrom('deliveries as d')
      .where('d.state', '=', 'pending')
      .where('d.next_at', '<=', now)
      .where((eb) => eb.or([eb('d.lease_until', 'is', null), eb('d.lease_until', '<=', now)]))
      // The head of its lane: no pending delivery before it…
      .where(({ eb, selectFrom }) =>
        eb(
          'd.id',
          '=',
          selectFrom('deliveries as p')
            .select(({ fn }) => fn.min('p.id').as('head'))
            .whereRef('p.attendance_id', '=', 'd.attendance_id')
            .whereRef('p.lane', '=', 'd.lane')
            .where('p.state', '=', 'pending'),
        ),
      )
      // …and none after it in flight (a dead delivery revived behind one being attempted waits).
      .where(({ eb, fn, selectFrom }) =>
        eb(
          fn.coalesce(
            selectFrom('deliveries as p')
              .select(({ fn: f }) => f.max('p.lease_until').as('leased'))
              .whereRef('p.attendance_id', '=', 'd.attendance_id')
              .whereRef('p.lane', '=', 'd.lane')
              .where('p.state', '=', 'pending')
              .whereRef('p.id', '<>', 'd.id'),
            sql.lit(0),
          ),
          '<=',
          now,
        ),
      )
  );
}

interface Fenced {
  id: number;
  /** The claim the attempt ran under: `attempts` grows with every claim, so it tells this claim from a later one even with the same lease end. */
  attempts: number;
  leaseUntil: number;
}

const fenced = <Q extends { where: (...a: any[]) => Q }>(q: Q, p: Fenced): Q =>
  q.where('state', '=', 'pending').where('attempts', '=', p.attempts).where('lease_until', '=', p.leaseUntil);

export const DEFINITIONS = {
  claimDedupe: def<{ bot: string; scope: string; key: string; now: number }>((db, p) =>
    db
      .insertInto('dedupe')
      .values({ bot_id: p.bot, scope: p.scope, key: p.key, created_at: p.now })
      .onConflict((oc) => oc.columns(['bot_id', 'scope', 'key']).doNothing()),
  ),
  activeAttendance: def<{ bot: string; address: string }>((db, p) =>
    db.selectFrom('attendances').selectAll().where('bot_id', '=', p.bot).where('customer_address', '=', p.address).where('state', '<>', 'closed'),
  ),
  attendance: def<{ id: string }>((db, p) => db.selectFrom('attendances').selectAll().where('id', '=', p.id)),
  insertMessage: def<{ id: string; attendanceId: string; direction: string; sourceId: string | null; content: string; status: string; createdAt: number }>((db, p) =>
    db.insertInto('messages').values({
      id: p.id,
      attendance_id: p.attendanceId,
      direction: p.direction as 'customer',
      source_id: p.sourceId,
      content: p.content,
      status: p.status,
      created_at: p.createdAt,
      vendor_id: null,
      updated_at: p.createdAt,
    }),
  ),
  updateMessageStatus: def<{ id: string; status: string; now: number }>((db, p) => db.updateTable('messages').set({ status: p.status, updated_at: p.now }).where('id', '=', p.id)),
  updateMessageVendor: def<{ id: string; vendorId: string | null; now: number }>((db, p) =>
    db.updateTable('messages').set({ vendor_id: p.vendorId, updated_at: p.now }).where('id', '=', p.id),
  ),
  updateMessageStatusVendor: def<{ id: string; status: string; vendorId: string | null; now: number }>((db, p) =>
    db.updateTable('messages').set({ status: p.status, vendor_id: p.vendorId, updated_at: p.now }).where('id', '=', p.id),
  ),
  messageById: def<{ id: string }>((db, p) => db.selectFrom('messages').selectAll().where('id', '=', p.id)),
  enqueue: def<{ attendanceId: string; bot: string; lane: string; kind: string; payload: string; nextAt: number; trace: string | null; now: number }>((db, p) =>
    db
      .insertInto('deliveries')
      .values({
        attendance_id: p.attendanceId,
        bot_id: p.bot,
        lane: p.lane as 'to-blip',
        kind: p.kind,
        payload: p.payload,
        state: 'pending',
        attempts: 0,
        next_at: p.nextAt,
        lease_until: null,
        last_error: null,
        trace: p.trace,
        created_at: p.now,
        updated_at: p.now,
      })
      .returning('id'),
  ),
  // One statement, so one round trip and no transaction of its own. On PostgreSQL only the head
  // rows are locked (`of d`); the rows the subqueries look at stay free, and a replica passes over
  // the heads another one is claiming instead of queueing behind it. A head that another replica
  // leased and committed meanwhile is re-checked by PostgreSQL on locking and dropped, because its
  // lease no longer matches. RETURNING has no defined order.
  claimHeads: def<{ now: number; limit: number; leaseUntil: number }>((db, p) => {
    let due = heads(db, p.now).select('d.id').orderBy('d.next_at').orderBy('d.id').limit(p.limit);
    if (db.getExecutor().adapter instanceof PostgresAdapter) due = due.forUpdate('d').skipLocked();
    return db
      .updateTable('deliveries')
      .set({ lease_until: p.leaseUntil, attempts: sql`attempts + 1`, updated_at: p.now })
      .where('id', 'in', due)
      .returningAll();
  }),
  armTimer: def<{ attendanceId: string; bot: string; kind: string; dueAt: number; now: number }>((db, p) =>
    db
      .insertInto('timers')
      .values({ attendance_id: p.attendanceId, kind: p.kind as TimerKind, bot_id: p.bot, due_at: p.dueAt, created_at: p.now })
      .onConflict((oc) => oc.columns(['attendance_id', 'kind']).doUpdateSet({ due_at: p.dueAt })),
  ),
  takeTimer: def<{ attendanceId: string; kind: string; now: number }>((db, p) =>
    db.deleteFrom('timers').where('attendance_id', '=', p.attendanceId).where('kind', '=', p.kind as TimerKind).where('due_at', '<=', p.now).returningAll(),
  ),
  markDone: def<{ id: number; now: number }>((db, p) => db.updateTable('deliveries').set({ state: 'done', last_error: null, updated_at: p.now, lease_until: null }).where('id', '=', p.id)),
  markDoneFenced: def<Fenced & { now: number }>((db, p) =>
    fenced(db.updateTable('deliveries').set({ state: 'done', last_error: null, updated_at: p.now, lease_until: null }).where('id', '=', p.id), p),
  ),
  markRetry: def<{ id: number; nextAt: number; error: string; now: number }>((db, p) =>
    db.updateTable('deliveries').set({ next_at: p.nextAt, last_error: p.error, updated_at: p.now, lease_until: null }).where('id', '=', p.id),
  ),
  markRetryFenced: def<Fenced & { nextAt: number; error: string; now: number }>((db, p) =>
    fenced(db.updateTable('deliveries').set({ next_at: p.nextAt, last_error: p.error, updated_at: p.now, lease_until: null }).where('id', '=', p.id), p),
  ),
  markDead: def<{ id: number; error: string; now: number }>((db, p) =>
    db.updateTable('deliveries').set({ state: 'dead', last_error: p.error, updated_at: p.now, lease_until: null }).where('id', '=', p.id),
  ),
  markDeadFenced: def<Fenced & { error: string; now: number }>((db, p) =>
    fenced(db.updateTable('deliveries').set({ state: 'dead', last_error: p.error, updated_at: p.now, lease_until: null }).where('id', '=', p.id), p),
  ),
};

export type StatementName = keyof typeof DEFINITIONS;
export type ParamsOf<K extends StatementName> = (typeof DEFINITIONS)[K] extends Definition<infer P> ? P : never;

/** A parameter position: a named value, or a constant the builder put there itself. */
type Slot = { name: string } | { value: unknown };

export interface Statement {
  sql: string;
  slots: readonly Slot[];
}

export type Statements = { readonly [K in StatementName]: Statement };

const MARK = '\u0000param:';

/** Every placeholder a definition's parameters need, as distinct marked strings. */
function placeholders(): Record<string, unknown> {
  return new Proxy({} as Record<string, unknown>, { get: (_t, name) => `${MARK}${String(name)}` });
}

/** Builds and compiles every hot statement for the engine of `db` (no connection is used). */
export function compileStatements(db: Kysely<Database>): Statements {
  const out = {} as Record<StatementName, Statement>;
  for (const [name, d] of Object.entries(DEFINITIONS) as Array<[StatementName, Definition<never>]>) {
    const compiled = d.build(db, placeholders() as never).compile();
    out[name] = {
      sql: compiled.sql,
      slots: compiled.parameters.map((v) => (typeof v === 'string' && v.startsWith(MARK) ? { name: v.slice(MARK.length) } : { value: v })),
    };
  }
  return out;
}

/** The statement with its values bound in the order it was compiled with. */
export function bind<K extends StatementName>(statements: Statements, name: K, values: ParamsOf<K>): CompiledQuery {
  const s = statements[name];
  const v = values as Record<string, unknown>;
  const parameters = s.slots.map((slot) => {
    if ('value' in slot) return slot.value;
    const x = v[slot.name];
    if (x === undefined) throw new Error(`store: statement ${name} needs a value for ${slot.name}`);
    return x;
  });
  return CompiledQuery.raw(s.sql, parameters);
}
