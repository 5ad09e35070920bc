/**
 * Every PostgreSQL session is bounded (src/store/engines.ts SESSION_DEFAULTS): a replica frozen
 * inside a transaction (SIGSTOP, a paused VM) loses that transaction and its row locks after
 * idle_in_transaction_session_timeout, and a write that meets one of its locks meanwhile gives up
 * after lock_timeout instead of holding a pool connection for the whole freeze.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { SESSION_DEFAULTS, openStore } from '../../src/store/engines.js';
import { createTestDatabase, postgres } from '../helpers/postgres.js';

const pg = await postgres();
if (!pg.ok) console.warn(`[postgres sessions] skipped: ${pg.reason}`);

const withParams = (url: string, params: string) => `${url}${url.includes('?') ? '&' : '?'}${params}`;

describe.skipIf(!pg.ok)('PostgreSQL session bounds', () => {
  it('defaults apply to every connection; the URL overrides them, in milliseconds only', async () => {
    const db = await createTestDatabase();
    const plain = await openStore(db.url);
    const tuned = await openStore(withParams(db.url, 'lock_timeout=1500&statement_timeout=0&pool_size=2'));
    try {
      const show = async (s: typeof plain) => {
        const row = await sql<Record<string, string>>`select current_setting('statement_timeout') as statement_timeout, current_setting('lock_timeout') as lock_timeout, current_setting('idle_in_transaction_session_timeout') as idle`.execute(s.kysely);
        return row.rows[0];
      };
      expect(SESSION_DEFAULTS).toEqual({ statement_timeout: 60_000, lock_timeout: 5_000, idle_in_transaction_session_timeout: 5_000 });
      expect(await show(plain)).toEqual({ statement_timeout: '1min', lock_timeout: '5s', idle: '5s' });
      expect(await show(tuned)).toEqual({ statement_timeout: '0', lock_timeout: '1500ms', idle: '5s' });
      await expect(openStore(withParams(db.url, 'lock_timeout=5s'))).rejects.toThrow('store.url: lock_timeout (milliseconds) must be an integer from 0 to 86400000, got "5s"');
    } finally {
      await plain.close();
      await tuned.close();
      await db.drop();
    }
  });

  it('a transaction left idle loses its locks; a write meeting them gives up after lock_timeout, then gets through', async () => {
    const db = await createTestDatabase();
    const frozen = await openStore(withParams(db.url, 'idle_in_transaction_session_timeout=600'));
    const other = await openStore(withParams(db.url, 'lock_timeout=200'));
    try {
      await frozen.migrate();
      let locked!: () => void;
      const holding = new Promise<void>((r) => (locked = r));
      // The frozen replica took the dedupe key of a customer's message, then stopped in the middle.
      const stuck = frozen.kysely.transaction().execute(async (trx) => {
        await sql`insert into dedupe (bot_id, scope, key, created_at) values ('b', 'blip-message', 'm1', 1)`.execute(trx);
        locked();
        await new Promise((r) => setTimeout(r, 2_000));
        await sql`select 1`.execute(trx);
      });
      stuck.catch(() => undefined);
      await holding;
      // The same message retried through the other replica waits for that row, but not for long.
      const t0 = Date.now();
      await expect(other.claimDedupe('b', 'blip-message', 'm1', 2)).rejects.toMatchObject({ code: '55P03' });
      expect(Date.now() - t0).toBeLessThan(1_500);
      // Once PostgreSQL ends the idle transaction, the key is free again: the retry is accepted.
      let accepted = false;
      const giveUp = Date.now() + 5_000;
      while (!accepted && Date.now() < giveUp) accepted = await other.claimDedupe('b', 'blip-message', 'm1', 3).catch(() => false);
      expect(accepted).toBe(true);
      expect(Date.now() - t0).toBeLessThan(3_000);
      // The frozen replica's transaction did not commit.
      await expect(stuck).rejects.toThrow();
    } finally {
      await frozen.close().catch(() => undefined);
      await other.close();
      await db.drop();
    }
  });
});
