/**
 * SIGTERM under load (a deploy): the service stops taking work, lets the deliveries in flight
 * finish (or gives them back), and exits 0. Nothing is half-sent: whatever a peer accepted is
 * recorded as done, and nothing is left leased. After a restart (SQLite), or on the replica that
 * stays (PostgreSQL, a rolling deploy), every acknowledged input arrives once, in order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { postgres } from '../helpers/postgres.js';
import { startLoad } from './lib/load.js';
import { report } from './lib/summary.js';
import { World, sleep, until } from './lib/world.js';

const pg = await postgres();
if (!pg.ok) console.warn(`[faults] PostgreSQL scenarios skipped: ${pg.reason}`);

describe('SIGTERM under load', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it('SQLite: in-flight deliveries finish or are released, nothing half-sent; after a restart all arrive once', async (ctx) => {
    world = await World.start();
    const w = world;
    // Slow peers: deliveries are mid-request when the signal lands.
    w.tool.setLatency(100);
    w.blip.setLatency(30);
    const load = startLoad(w, { tag: 'term', customers: 10, messages: 20, replies: 8, pauseMs: 5 });
    await until('a third of the load acknowledged', () => load.acked() >= load.total * 0.35, 60_000);
    const inFlight = await w.inFlight(0);
    const { code, ms } = await w.kill(0, 'SIGTERM');

    // The process is gone: what it left in the store is final.
    const leased = Number((await w.query<{ n: number }>("SELECT count(*) AS n FROM deliveries WHERE state = 'pending' AND lease_until IS NOT NULL"))[0]?.n);
    const status = new Map((await w.query<{ id: string; status: string }>('SELECT id, status FROM messages')).map((m) => [m.id, m.status]));
    const opening = new Set((await w.query<{ id: string }>("SELECT id FROM attendances WHERE state = 'opening'")).map((a) => a.id));
    const halfSent = [
      // At the tool, but not recorded as delivered.
      ...w.tool.eventsOfType('customer.message').filter((e) => status.get(e.data.message.id) !== 'delivered').map((e) => `customer.message ${e.data.message.id}`),
      ...w.tool.eventsOfType('attendance.opened').filter((e) => opening.has(e.data.attendance.id)).map((e) => `attendance.opened ${e.data.attendance.id}`),
      // At Blip, but still queued.
      ...w.blip.received.messages.filter((r) => r.status === 202 && r.body?.type === 'text/plain' && status.get(r.body.id) === 'queued').map((r) => `agent message ${r.body.id}`),
    ];

    await w.restart(0);
    await load.done;
    await w.settle();

    const title = 'SIGTERM mid-load, restart (SQLite)';
    const notes = `${inFlight} in flight; exit ${code} after ${ms} ms; ${leased} left leased, ${halfSent.length} half-sent`;
    const rows = [w.ledger.customerRow(title, w.tool, notes), w.ledger.agentRow(title, w.blip, w.tool)];
    for (const r of rows) report(ctx, r);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(12_000);
    expect(leased).toBe(0);
    expect(halfSent).toEqual([]);
    expect(await w.deliveries('dead')).toEqual([]);
    for (const r of rows) expect(r, w.output()).toMatchObject({ lost: 0, duplicated: 0, orderViolations: 0, delivered: r.inputs });
  });

  it.skipIf(!pg.ok)('PostgreSQL, rolling: SIGTERM one of two replicas; it leaves no lease behind and the other carries on', async (ctx) => {
    world = await World.start({ engine: 'postgres', replicas: 2 });
    const w = world;
    w.tool.setLatency(100);
    w.blip.setLatency(30);
    const load = startLoad(w, { tag: 'term-pg', customers: 10, messages: 20, replies: 8, pauseMs: 5 });
    await until('a third of the load acknowledged', () => load.acked() >= load.total * 0.35, 60_000);
    const inFlight = await w.inFlight(0);
    const { code, ms } = await w.kill(0, 'SIGTERM');
    const stoppedAt = Date.now();

    // A live replica's attempt lasts at most delivery.timeoutMs (1 s here), renewing its lease with
    // every claim; a lease unchanged for 2.5 s belongs to the replica that left.
    const leases = async () =>
      new Set((await w.query<{ id: number; lease_until: number }>("SELECT id, lease_until FROM deliveries WHERE state = 'pending' AND lease_until IS NOT NULL")).map((d) => `${d.id}@${d.lease_until}`));
    const first = await leases();
    await sleep(2_500);
    const second = await leases();
    const stale = [...first].filter((l) => second.has(l));

    await load.done;
    await w.settle();
    const drainedMs = Date.now() - stoppedAt;

    const title = 'SIGTERM 1 of 2 replicas (PostgreSQL)';
    const notes = `${inFlight} in flight; exit ${code} after ${ms} ms; ${stale.length} stale leases; drained ${(drainedMs / 1000).toFixed(1)} s after`;
    const rows = [w.ledger.customerRow(title, w.tool, notes), w.ledger.agentRow(title, w.blip, w.tool)];
    for (const r of rows) report(ctx, r);
    expect(code).toBe(0);
    expect(stale).toEqual([]);
    expect(await w.deliveries('dead')).toEqual([]);
    for (const r of rows) expect(r, w.output()).toMatchObject({ lost: 0, duplicated: 0, orderViolations: 0, delivered: r.inputs });
  });
});
