/**
 * Makes a Store from `store.url`: `sqlite:<path>`, the embedded single-process default, or
 * `postgres://…` / `postgresql://…`, one database shared by any number of replicas (DESIGN §3).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, type PostgresPool, type PostgresPoolClient, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { PostgresGroupStore } from './pg-group.js';
import { Queries, Store, type Engine } from './store.js';

export const DEFAULT_POOL_SIZE = 10;

export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url);
  throw new Error(`store.url: unsupported engine "${url.split(':')[0]}" (use sqlite:<path> or postgres://…)`);
}

function openSqlite(path: string): Store {
  if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new BetterSqlite3(path === '' ? ':memory:' : path);
  // WAL + NORMAL: a committed transaction survives a killed process (what "persist before ack"
  // needs); only an OS crash or power loss could lose the last commits.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const file = path !== ':memory:' && path !== '';
  // Checkpoints (copying the WAL back and fsyncing) run on a thread of their own; SQLite's own
  // automatic one stays as a backstop, far enough out that it only fires if that thread lags.
  if (file) sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  return new GroupCommitStore(kysely, 'sqlite', file ? startCheckpointer(path) : undefined);
}

/** ~40 MB of WAL with 4 KiB pages. */
const BACKSTOP_CHECKPOINT_PAGES = 10_000;
const CHECKPOINT_INTERVAL_MS = 100;

/**
 * A WAL checkpoint copies committed pages into the database file and fsyncs both files. SQLite
 * runs it inside whichever commit crosses wal_autocheckpoint (1,000 pages), which on our single
 * thread stalled everything for up to ~100 ms at a time (bench/: 5 % of commits took 75 % of all
 * commit time). Here a worker thread with its own connection checkpoints every
 * CHECKPOINT_INTERVAL_MS in PASSIVE mode, which never waits for nor blocks our writes; the WAL is
 * reused from its start once a checkpoint has caught up. Durability is unchanged: commits still
 * go to the WAL exactly as before (synchronous = NORMAL), only the copying moves.
 */
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or gone: the next round, or the backstop */ }
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  try { db.close(); } catch { /* closing anyway */ }
  parentPort.close();
});
`;

interface Checkpointer {
  stop(): Promise<void>;
}

function startCheckpointer(path: string): Checkpointer {
  const worker = new Worker(CHECKPOINTER, {
    eval: true,
    workerData: { path, driver: createRequire(import.meta.url).resolve('better-sqlite3'), intervalMs: CHECKPOINT_INTERVAL_MS },
  });
  worker.unref();
  // A failing checkpoint thread must not take the service down: the backstop still checkpoints.
  worker.on('error', () => {});
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    async stop() {
      worker.postMessage('stop');
      const timeout = setTimeout(() => void worker.terminate(), 2_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}

interface Pending {
  fn: (q: Queries) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

const SAVEPOINT = CompiledQuery.raw('savepoint grp');
const RELEASE = CompiledQuery.raw('release grp');
const ROLLBACK_TO = CompiledQuery.raw('rollback to grp');

/** Transactions committed together at most; bounds how long one group holds the connection. */
const MAX_GROUP = 64;

/**
 * Group commit for SQLite. A commit (the transaction's pages appended to the WAL) cost more than
 * all the statements before it (bench/: ~5 commits per message loop were the largest single cost),
 * and SQLite has one writer anyway. Transactions asked for in the same event-loop turn run one
 * after the other inside one database transaction, each in its own savepoint so that each still
 * applies whole or not at all (a callback that throws is rolled back alone), and are committed
 * together. None resolves before that commit: persist-before-ack holds for every one; if the
 * commit fails, all of them fail and nothing of any is written. They run in the order asked, as
 * they queued for the connection before.
 */
class GroupCommitStore extends Store {
  private queue: Pending[] = [];
  private draining = false;

  constructor(
    kysely: Kysely<Database>,
    engine: Engine,
    private readonly checkpointer?: Checkpointer,
  ) {
    super(kysely, engine);
  }

  override async close(): Promise<void> {
    await this.checkpointer?.stop();
    await super.close();
  }

  override transaction<T>(fn: (q: Queries) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        // Let this turn's other requests and finished deliveries join the group.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) await this.commitGroup(this.queue.splice(0, MAX_GROUP));
    this.draining = false;
  }

  private async commitGroup(group: Pending[]): Promise<void> {
    if (group.length === 1) {
      const one = group[0]!;
      await super.transaction(one.fn).then(one.resolve, one.reject);
      return;
    }
    const applied: Array<{ p: Pending; value: unknown }> = [];
    try {
      await this.kysely.transaction().execute(async (trx) => {
        const q = this.queriesOf(trx);
        for (const p of group) {
          await trx.executeQuery(SAVEPOINT);
          try {
            const value = await p.fn(q);
            await trx.executeQuery(RELEASE);
            applied.push({ p, value });
          } catch (err) {
            await trx.executeQuery(ROLLBACK_TO);
            await trx.executeQuery(RELEASE);
            p.reject(err);
          }
        }
      });
    } catch (err) {
      for (const { p } of applied) p.reject(err);
      return;
    }
    for (const { p, value } of applied) p.resolve(value);
  }
}

/**
 * Kysely's SQLite driver prepares every query anew, and preparing cost about as much as running
 * ours (bench/: `prepare` was the second-hottest function). Statements are reused by SQL text; our
 * queries come in a few dozen shapes, so the cache is small and bounded. better-sqlite3 cannot
 * reuse a statement that is still being iterated (a streamed select): then a fresh one is made.
 */
function cachingStatements(db: BetterSqlite3.Database, max = 256): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => db.close(),
    prepare(sql: string) {
      const cached = cache.get(sql);
      if (cached && !cached.busy) return cached;
      const stmt = db.prepare(sql);
      if (!cached) {
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        cache.set(sql, stmt);
      }
      return stmt;
    },
  };
}

function openPostgres(url: string): Store {
  const { connectionString, poolSize, session } = poolOptions(url);
  // Times and ids are int8 columns, which pg hands back as strings (they may exceed 2^53). Ours
  // are epoch milliseconds and sequence values, far below it, and the rest of the code (and SQLite)
  // deals in numbers. Set on this pool only, so other pg users in the process are unaffected.
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, (text: string) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n)) throw new Error(`store: int8 value ${text} does not fit a JavaScript number`);
    return n;
  });
  const pool = new pg.Pool({ connectionString, max: poolSize, types, application_name: 'blip-helpdesk-bridge', ...session });
  // An idle connection that drops (server restart, network) must not crash the process: the pool
  // discards it, and the next query reports the failure where it happens (worker, /readyz).
  pool.on('error', () => {});
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparing(pool) }) });
  // Half the pool commits groups of transactions; the other half serves single statements (claims,
  // the executor's reads) so they never queue behind a group.
  return new PostgresGroupStore(kysely, Math.max(1, Math.floor(poolSize / 2)));
}

/**
 * BRIDGE_SQL_STATS=<path> (investigations, e.g. `BRIDGE_SQL_STATS=/tmp/sql npm run bench -- --only pg1`):
 * each process writes every PostgreSQL statement it ran with its count and the time it waited for
 * it to `<path>.<pid>.json` every 2 s. How issue 15 counted round trips per message without
 * pg_stat_statements (which needs a server restart to load).
 */
const STATS: Map<string, { n: number; ms: number }> | undefined = process.env['BRIDGE_SQL_STATS'] ? new Map() : undefined;
if (STATS) {
  const dump = () => {
    const rows = [...STATS].map(([sql, e]) => ({ n: e.n, ms: Math.round(e.ms), avg: +(e.ms / e.n).toFixed(3), sql: sql.slice(0, 160) })).sort((a, b) => b.ms - a.ms);
    writeFileSync(`${process.env['BRIDGE_SQL_STATS']}.${process.pid}.json`, JSON.stringify(rows, null, 1));
  };
  setInterval(dump, 2000).unref();
}

/**
 * Every statement as a named prepared statement, which pg prepares once per connection and then
 * only binds and executes: unnamed, PostgreSQL parsed and planned each of the ~30 statements a
 * message costs every time, most of its CPU (bench/). Our SQL comes in a bounded set of shapes
 * (values are always parameters), so the set of names per connection stays small.
 */
function preparing(pool: pg.Pool): PostgresPool {
  const names = new Map<string, string>();
  const stale = new Set<string>();
  const nameOf = (text: string): string => {
    let name = names.get(text);
    if (name === undefined) {
      name = `b${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      if (names.size < 10_000) names.set(text, name);
    }
    return name;
  };
  const guarded = new WeakSet<pg.PoolClient>();
  return {
    async connect() {
      const client = await pool.connect();
      if (!guarded.has(client)) {
        // The server may end a session while it is checked out (idle_in_transaction_session_timeout
        // after a freeze, a restart): pg then emits 'error' on the client, which must not crash the
        // process. The transaction's next statement fails instead, and the pool drops the client.
        client.on('error', () => {});
        guarded.add(client);
      }
      return {
        query(sqlOrCursor: any, parameters?: ReadonlyArray<unknown>): any {
          if (STATS && typeof sqlOrCursor === 'string') {
            const t0 = process.hrtime.bigint();
            const p = run(sqlOrCursor, parameters);
            const done = () => {
              const e = STATS.get(sqlOrCursor) ?? { n: 0, ms: 0 };
              e.n++;
              e.ms += Number(process.hrtime.bigint() - t0) / 1e6;
              STATS.set(sqlOrCursor, e);
            };
            p.then(done, done);
            return p;
          }
          return run(sqlOrCursor, parameters);
        },
        release: (destroy?: boolean) => client.release(destroy),
      } as PostgresPoolClient;
      function run(sqlOrCursor: any, parameters?: ReadonlyArray<unknown>): any {
          // Cursors (streamed selects) and statements without parameters (BEGIN, COMMIT) go as they are.
          if (typeof sqlOrCursor !== 'string' || !parameters?.length || stale.has(sqlOrCursor)) return client.query(sqlOrCursor, parameters as unknown[]);
          const text = sqlOrCursor;
          return client.query({ name: nameOf(text), text, values: parameters as unknown[] }).catch((err: { code?: string; message?: string }) => {
            // A migration by a newer replica changed a table under a prepared `select *` (a rolling
            // upgrade): PostgreSQL refuses to run it again. That transaction fails (it is retried by
            // whoever asked); from now on this statement goes unprepared in this process.
            if (err.code === '0A000' && err.message?.includes('cached plan')) stale.add(text);
            throw err;
          });
      }
    },
    end: () => pool.end(),
  };
}

/**
 * Every session's bounds (milliseconds), PostgreSQL's own settings, sent when each connection
 * starts. A replica that freezes (SIGSTOP, a paused VM) inside a transaction would otherwise hold
 * its row locks for the whole freeze: the other replicas' claims skip those lanes and their writes
 * to the same rows queue behind it, each holding a pool connection. With these, PostgreSQL ends a
 * transaction left idle (the frozen replica's session is closed and its locks released well within
 * a lease), a write gives up waiting for a lock held longer than that (the request fails and its sender
 * retries it), and
 * no statement runs away. Our transactions never wait on anything but the database, so any idle
 * time inside one means the process is stalled. Each can be set in the URL, e.g.
 * `?lock_timeout=5000`; 0 turns one off.
 */
export const SESSION_DEFAULTS = {
  statement_timeout: 60_000,
  lock_timeout: 5_000,
  idle_in_transaction_session_timeout: 5_000,
} as const;

type SessionSettings = { -readonly [K in keyof typeof SESSION_DEFAULTS]: number };

/** `pool_size` is ours, not libpq's, and taken out of the URL before pg sees it; the session bounds are checked here. */
export function poolOptions(url: string): { connectionString: string; poolSize: number; session: SessionSettings } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Never echo the URL: it usually carries the password.
    throw new Error('store.url: not a valid postgres:// URL (percent-encode special characters in the user and password)');
  }
  const integer = (name: string, raw: string, min: number, max: number): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) throw new Error(`store.url: ${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    return n;
  };
  const raw = u.searchParams.get('pool_size');
  const poolSize = raw === null ? DEFAULT_POOL_SIZE : integer('pool_size', raw, 1, 1000);
  u.searchParams.delete('pool_size');
  const session = { ...SESSION_DEFAULTS } as SessionSettings;
  for (const name of Object.keys(SESSION_DEFAULTS) as Array<keyof SessionSettings>) {
    const given = u.searchParams.get(name);
    // Milliseconds only: pg would read "5s" as 5 (ms), silently.
    if (given !== null) session[name] = integer(`${name} (milliseconds)`, given, 0, 86_400_000);
    u.searchParams.delete(name);
  }
  return { connectionString: u.toString(), poolSize, session };
}
