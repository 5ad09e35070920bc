/**
 * A replica that freezes rather than dies (issue 15): SIGSTOP, as a paused VM or a stalled host,
 * for longer than its leases, on two replicas sharing one PostgreSQL database. It keeps its
 * connections, its leases and whatever transaction it was in. The other replica must take its lanes
 * over when the leases end (PostgreSQL ends the frozen transactions before then, releasing their
 * row locks), and once thawed the frozen replica must send nothing: every attempt it had in flight
 * is past its deadline. Nothing lost, nothing applied twice, no stale copy after a later message.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { postgres } from '../helpers/postgres.js';
import { staleResends } from './lib/ledger.js';
import { startLoad } from './lib/load.js';
import { report } from './lib/summary.js';
import { World, sleep, until } from './lib/world.js';

const pg = await postgres();
if (!pg.ok) console.warn(`[faults] PostgreSQL scenarios skipped: ${pg.reason}`);

describe.skipIf(!pg.ok)('a replica frozen past its lease (PostgreSQL ×2)', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  for (const [n, tag] of [
    [1, 'freeze-a'],
    [2, 'freeze-b'],
  ] as const) {
    it(`SIGSTOP for the lease + 4 s (run ${n}): its lanes resume within the lease; thawed, it sends nothing stale`, async (ctx) => {
      world = await World.start({ engine: 'postgres', replicas: 2 });
      const w = world;
      const { leaseMs } = w.timing;
      // Slow enough peers that the frozen replica is caught with attempts in flight.
      w.tool.setLatency(30);
      w.blip.setLatency(15);
      const load = startLoad(w, { tag, customers: 12, messages: 20, replies: 8, pauseMs: 5 });
      await until('a third of the load acknowledged', () => load.acked() >= load.total * 0.35, 60_000);
      const inFlight = await until('replica 0 with attempts in flight', async () => (await w.inFlight(0)) || false, 30_000);
      const frozenAt = Date.now();
      w.freeze(0);
      // What was leased at the freeze: the frozen replica's attempts, and the other's own.
      const held = await w.query<{ id: number | string }>(`SELECT id FROM deliveries WHERE state = 'pending' AND lease_until > ?`, [frozenAt]);
      await sleep(frozenAt + leaseMs + 4_000 - Date.now());
      const thawedAt = Date.now();
      w.thaw(0);
      await load.done;
      await w.settle(90_000);

      const ids = held.map((h) => Number(h.id));
      const rows = ids.length
        ? await w.query<{ id: number | string; state: string; updated_at: number | string }>(`SELECT id, state, updated_at FROM deliveries WHERE id IN (${ids.map(() => '?').join(', ')})`, ids)
        : [];
      const doneAt = rows.map((r) => Number(r.updated_at));
      // Taken over: finished by the other replica after the frozen one's lease ended.
      const takenOver = doneAt.filter((t) => t >= frozenAt + leaseMs - 1_000).length;
      const resumedMs = Math.max(0, ...doneAt.map((t) => t - frozenAt));
      const stale = staleResends(w.ledger, w.blip, w.tool);

      const title = `SIGSTOP 1 of 2 replicas past its lease, run ${n} (PostgreSQL)`;
      const notes = `frozen ${((thawedAt - frozenAt) / 1000).toFixed(1)} s with ${inFlight} in flight; lease ${(leaseMs / 1000).toFixed(1)} s; ${takenOver} taken over, all resumed ${(resumedMs / 1000).toFixed(1)} s after the freeze; stale re-sends ${stale.customer}/${stale.agent}`;
      const out = [w.ledger.customerRow(title, w.tool, notes), w.ledger.agentRow(title, w.blip, w.tool)];
      for (const r of out) report(ctx, r);

      expect(await w.deliveries('dead')).toEqual([]);
      for (const r of out) expect(r, w.output()).toMatchObject({ lost: 0, duplicated: 0, orderViolations: 0, delivered: r.inputs });
      // Thawed, the frozen replica sent no copy of anything its successor had already moved past.
      expect(stale, w.output()).toEqual({ customer: 0, agent: 0 });
      // Everything leased at the freeze was done, by the other replica, before the thaw: its lanes
      // did not wait for the frozen one, only for its leases (plus a poll and a retry's backoff).
      expect(rows.every((r) => r.state === 'done')).toBe(true);
      expect(takenOver).toBeGreaterThan(0);
      expect(resumedMs).toBeLessThan(leaseMs + 3_000);
      expect(Math.max(0, ...doneAt)).toBeLessThan(thawedAt);
    });
  }
});
