/**
 * Many replicas on one PostgreSQL database (DESIGN §3, §8): they migrate once when started
 * together, share the lanes without ever running two deliveries of a lane at once or out of order,
 * and a replica that dies leaves its work to the others once its leases expire. SQLite is one
 * process per file by design, so these hold for PostgreSQL only; the conformance suite holds the
 * single-store behaviour of both engines to the same assertions.
 */
import { sql } from 'kysely';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { DeliveryConfig } from '../../src/config/schema.js';
import { DeliveryError } from '../../src/delivery/errors.js';
import { attemptTiming } from '../../src/delivery/attempt.js';
import { DeliveryWorker, type Executor } from '../../src/delivery/worker.js';
import { openStore } from '../../src/store/engines.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import type { DeliveryRow, Lane } from '../../src/store/schema.js';
import type { Store } from '../../src/store/store.js';
import { createTestDatabase, postgres, type TestDatabase } from '../helpers/postgres.js';

const pg = await postgres();
if (!pg.ok) console.warn(`[postgres replicas] skipped: ${pg.reason}`);
const title = pg.ok ? 'PostgreSQL replicas' : `PostgreSQL replicas (skipped: ${pg.reason})`;

const log = pino({ level: 'silent' });
const LANES: Lane[] = ['to-helpdesk', 'to-blip'];

async function replicas(n: number): Promise<{ db: TestDatabase; stores: Store[]; close(): Promise<void> }> {
  const db = await createTestDatabase();
  const stores = await Promise.all(Array.from({ length: n }, () => openStore(db.url)));
  return {
    db,
    stores,
    async close() {
      await Promise.all(stores.map((s) => s.close()));
      await db.drop();
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const laneOf = (d: Pick<DeliveryRow, 'attendance_id' | 'lane'>) => `${d.attendance_id}|${d.lane}`;

async function pending(store: Store): Promise<number> {
  return (await store.countDeliveries()).filter((c) => c.state === 'pending').reduce((n, c) => n + c.n, 0);
}

/** Attendances with one FIFO per lane; returns each lane's ids in enqueue order. */
async function seed(
  store: Store,
  attendances: number,
  perLane: number,
  lanes: Record<string, number[]> = {},
  prefix = 'att',
): Promise<Record<string, number[]>> {
  const now = Date.now();
  for (let a = 0; a < attendances; a++) {
    const id = `${prefix}-${a}`;
    if (!(await store.attendance(id)))
      await store.createAttendance({ id, bot_id: 'acme', customer_address: `${id}@tunnel.msging.net`, customer: {}, opened_at: now });
  }
  // Round-robin over the lanes so their ids interleave, as they do under real traffic.
  for (let i = 0; i < perLane; i++) {
    for (let a = 0; a < attendances; a++) {
      for (const lane of LANES) {
        const d = { attendance_id: `${prefix}-${a}`, bot_id: 'acme', lane, kind: 'message', payload: JSON.stringify({ i }) };
        (lanes[laneOf(d)] ??= []).push(await store.enqueue(d, now));
      }
    }
  }
  return lanes;
}

const cfg = (over: Partial<DeliveryConfig> = {}): DeliveryConfig => ({
  maxAttempts: 50,
  baseDelayMs: 5,
  maxDelayMs: 20,
  timeoutMs: 1000,
  concurrency: 4,
  pollIntervalMs: 20,
  ...over,
});

describe.skipIf(!pg.ok)(title, () => {
  it('several replicas starting at once apply each migration exactly once', async () => {
    for (let round = 0; round < 3; round++) {
      const r = await replicas(8);
      try {
        const applied = await Promise.all(r.stores.map((s) => s.migrate()));
        expect(applied.flat()).toEqual(MIGRATIONS);
        for (const s of r.stores) expect(await s.pendingMigrations()).toEqual([]);
        const recorded = await sql<{ name: string }>`select name from kysely_migration`.execute(r.stores[0]!.kysely);
        expect(recorded.rows.map((x) => x.name)).toEqual(MIGRATIONS);
        // Every replica sees the whole schema.
        await Promise.all(r.stores.map((s) => s.listDeliveries({ limit: 1 })));
      } finally {
        await r.close();
      }
    }
  });

  it('two workers on two replicas: every delivery once to success, each lane in order, never two of a lane in flight', async () => {
    const r = await replicas(2);
    const [a, b] = r.stores as [Store, Store];
    const workers: DeliveryWorker[] = [];
    try {
      await Promise.all([a.migrate(), b.migrate()]);
      const lanes = await seed(a, 20, 6);

      const executions: Array<{ worker: string; lane: string; id: number; attempt: number; ok: boolean }> = [];
      const inFlight = new Set<string>();
      const overlaps: string[] = [];
      const dead: number[] = [];
      const executor = (worker: string): Executor => ({
        async execute(d) {
          const lane = laneOf(d);
          if (inFlight.has(lane)) overlaps.push(`${lane} #${d.id} (${worker})`);
          inFlight.add(lane);
          try {
            await sleep(Math.random() * 3);
            // About one attempt in four fails, retryably; on to-blip as a 429, which pauses the bot.
            const fails = d.attempts < 4 && Math.random() < 0.25;
            executions.push({ worker, lane, id: d.id, attempt: d.attempts, ok: !fails });
            if (fails)
              throw d.lane === 'to-blip' ? new DeliveryError('429 from the fake', true, 10, 429) : new DeliveryError('503 from the fake', true, undefined, 503);
          } finally {
            inFlight.delete(lane);
          }
        },
        async onDead(_q, d) {
          dead.push(d.id);
        },
        pauseKey: (d) => (d.lane === 'to-blip' ? `blip:${d.bot_id}` : undefined),
      });
      workers.push(new DeliveryWorker(a, executor('A'), cfg(), log), new DeliveryWorker(b, executor('B'), cfg(), log));
      for (const w of workers) w.start();

      // More arrives while they run, in order within each lane.
      await sleep(50);
      await seed(a, 20, 4, lanes);
      for (const w of workers) w.wake();
      await until('every delivery done', async () => (await pending(a)) === 0, 30_000);

      expect(overlaps).toEqual([]);
      expect(dead).toEqual([]);
      expect(new Set(executions.map((e) => e.worker))).toEqual(new Set(['A', 'B']));
      for (const [lane, ids] of Object.entries(lanes)) {
        const here = executions.filter((e) => e.lane === lane);
        // Retries repeat an id; a later id never runs before an earlier one has succeeded.
        expect(here.filter((e) => e.ok).map((e) => e.id)).toEqual(ids);
        const seen = here.map((e) => e.id);
        expect(seen).toEqual([...seen].sort((x, y) => x - y));
      }
      const rows = await a.listDeliveries({ limit: 10_000 });
      expect(rows).toHaveLength(20 * 2 * 10);
      for (const row of rows) {
        expect(row.state).toBe('done');
        // Claims given back while paused do not count: attempts are exactly the executions.
        expect(row.attempts).toBe(executions.filter((e) => e.id === row.id).length);
      }
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await r.close();
    }
  }, 40_000);

  it('a replica that dies holding leases: another one picks its work up when they expire, in order', async () => {
    const r = await replicas(2);
    const [a, b] = r.stores as [Store, Store];
    const config = cfg({ timeoutMs: 100 });
    const { leaseMs } = attemptTiming({ delivery: config }); // the worker's own rule
    let dying: DeliveryWorker | undefined;
    let survivor: DeliveryWorker | undefined;
    try {
      await a.migrate();
      const lanes = await seed(a, 6, 3);

      // A takes heads and never finishes them: the process is as good as gone.
      const held: DeliveryRow[] = [];
      const hang: Executor = {
        execute(d) {
          held.push(d);
          return new Promise(() => {});
        },
        onDead: async () => {},
      };
      dying = new DeliveryWorker(a, hang, config, log);
      dying.start();
      await until('the dying replica to hold its heads', async () => held.length === config.concurrency, 5_000);
      const diedAt = Date.now();
      await dying.stop(0);
      await a.close();

      const done: Array<{ lane: string; id: number; attempt: number; at: number }> = [];
      survivor = new DeliveryWorker(
        b,
        { execute: async (d) => void done.push({ lane: laneOf(d), id: d.id, attempt: d.attempts, at: Date.now() }), onDead: async () => {} },
        config,
        log,
      );
      survivor.start();
      await until('every delivery done', async () => (await pending(b)) === 0, leaseMs + 10_000);

      for (const [lane, ids] of Object.entries(lanes)) expect(done.filter((e) => e.lane === lane).map((e) => e.id)).toEqual(ids);
      for (const h of held) {
        const retried = done.find((e) => e.id === h.id)!;
        // Its second attempt, and only once the dead replica's lease ran out.
        expect(retried.attempt).toBe(2);
        expect(retried.at).toBeGreaterThanOrEqual(diedAt + leaseMs - 1_000);
      }
    } finally {
      await survivor?.stop();
      await dying?.stop(0);
      // Closing twice only complains.
      await Promise.all([a.close().catch(() => {}), b.close().catch(() => {})]);
      await r.db.drop();
    }
  }, 40_000);

  it('a table changed under a prepared statement (a newer replica migrated) fails one transaction, then the statement runs unprepared', async () => {
    const db = await createTestDatabase();
    // One connection, so the second call meets the statement the first one prepared.
    const store = await openStore(`${db.url}${db.url.includes('?') ? '&' : '?'}pool_size=1`);
    const other = await openStore(db.url);
    try {
      await store.migrate();
      await store.transaction(async (q) => q.createAttendance({ id: 'a1', bot_id: 'b', customer_address: 'c@t', customer: {}, opened_at: 1 }));
      expect((await store.attendance('a1'))?.id).toBe('a1');
      await sql`ALTER TABLE attendances ADD COLUMN added_by_a_newer_replica text`.execute(other.kysely);
      await expect(store.attendance('a1')).rejects.toThrow(/cached plan/);
      expect((await store.attendance('a1'))?.id).toBe('a1');
      expect((await store.attendance('a1'))?.id).toBe('a1');
    } finally {
      await store.close();
      await other.close();
      await db.drop();
    }
  });
});
