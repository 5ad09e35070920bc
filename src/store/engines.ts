/**
 * Makes a Store from `store.url`: `sqlite:<path>`, the embedded single-process default, or
 * `postgres://…` / `postgresql://…`, one database shared by any number of replicas (DESIGN §3).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { Store } from './store.js';

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
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return new Store(kysely, 'sqlite');
}

function openPostgres(url: string): Store {
  const { connectionString, poolSize } = splitPoolSize(url);
  // Times and ids are int8 columns, which pg hands back as strings (they may exceed 2^53). Ours
  // are epoch milliseconds and sequence values, far below it, and the rest of the code (and SQLite)
  // deals in numbers. Set on this pool only, so other pg users in the process are unaffected.
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, (text: string) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n)) throw new Error(`store: int8 value ${text} does not fit a JavaScript number`);
    return n;
  });
  const pool = new pg.Pool({ connectionString, max: poolSize, types, application_name: 'blip-helpdesk-bridge' });
  // An idle connection that drops (server restart, network) must not crash the process: the pool
  // discards it, and the next query reports the failure where it happens (worker, /readyz).
  pool.on('error', () => {});
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return new Store(kysely, 'postgres');
}

/** `pool_size` is ours, not libpq's: taken out of the URL before pg sees it. */
function splitPoolSize(url: string): { connectionString: string; poolSize: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Never echo the URL: it usually carries the password.
    throw new Error('store.url: not a valid postgres:// URL (percent-encode special characters in the user and password)');
  }
  const raw = u.searchParams.get('pool_size');
  if (raw === null) return { connectionString: url, poolSize: DEFAULT_POOL_SIZE };
  const poolSize = Number(raw);
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) throw new Error(`store.url: pool_size must be an integer from 1 to 1000, got "${raw}"`);
  u.searchParams.delete('pool_size');
  return { connectionString: u.toString(), poolSize };
}
