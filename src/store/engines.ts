/**
 * Makes a Store from `store.url`. SQLite is the embedded default; PostgreSQL is planned (TODO #5).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';
import { Store } from './store.js';

export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
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
  throw new Error(`store.url: engine not supported yet: ${url.split(':')[0]} (only sqlite: for now)`);
}
