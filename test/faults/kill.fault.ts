/**
 * SIGKILL mid-load on SQLite, twice, each time restarted on the same port: everything the service
 * acknowledged before dying reaches the helpdesk and the customer once, in lane order.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startLoad } from './lib/load.js';
import { report } from './lib/summary.js';
import { World, until } from './lib/world.js';

describe('SIGKILL mid-load (SQLite)', () => {
  let world: World | undefined;
  afterAll(async () => world?.stop());

  it('loses nothing acknowledged and applies nothing twice across two kills', async (ctx) => {
    world = await World.start();
    const w = world;
    // Slow peers a little so deliveries are in flight when the kill lands.
    w.tool.setLatency(3);
    w.blip.setLatency(3);
    const load = startLoad(w, { tag: 'kill', customers: 12, messages: 25, replies: 10, pauseMs: 3 });
    const kills: number[] = [];
    for (const fraction of [0.3, 0.6]) {
      await until(`${fraction * 100}% of the load acknowledged`, () => load.acked() >= load.total * fraction, 60_000);
      kills.push(await w.inFlight(0));
      await w.kill(0, 'SIGKILL');
      await w.restart(0);
    }
    await load.done;
    await w.settle();

    const notes = `killed with ${kills.join(' and ')} deliveries in flight`;
    const rows = [w.ledger.customerRow('SIGKILL ×2 mid-load, restart (SQLite)', w.tool, notes), w.ledger.agentRow('SIGKILL ×2 mid-load, restart (SQLite)', w.blip, w.tool)];
    for (const r of rows) report(ctx, r);
    expect(await w.deliveries('dead')).toEqual([]);
    for (const r of rows) expect(r, w.output()).toMatchObject({ lost: 0, duplicated: 0, orderViolations: 0, delivered: r.inputs });
    expect(w.tool.eventsOfType('attendance.opened')).toHaveLength(12);
  });
});
