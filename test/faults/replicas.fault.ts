/**
 * Three replicas on one PostgreSQL database behind a load balancer that spreads every request at
 * random (one customer's messages and one tool's webhooks land on all three). One replica is
 * SIGKILLed mid-load and not restarted: the survivors take over its leases once they expire, and
 * every acknowledged input still arrives once, in lane order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { postgres } from '../helpers/postgres.js';
import { startLoad } from './lib/load.js';
import { report } from './lib/summary.js';
import { originatorsFor } from './lib/load.js';
import { World, sleep, until } from './lib/world.js';

const pg = await postgres();
if (!pg.ok) console.warn(`[faults] PostgreSQL scenarios skipped: ${pg.reason}`);

describe.skipIf(!pg.ok)('replicas on one PostgreSQL', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it('the survivors take over its leases; nothing lost, nothing doubled, lanes in order', async (ctx) => {
    world = await World.start({ engine: 'postgres', replicas: 3 });
    const w = world;
    w.tool.setLatency(5);
    w.blip.setLatency(3);
    const load = startLoad(w, { tag: 'replicas', customers: 15, messages: 20, replies: 8, pauseMs: 5 });
    await until('a third of the load acknowledged', () => load.acked() >= load.total * 0.35, 60_000);
    const inFlight = await w.inFlight(0);
    const killedAt = Date.now();
    await w.kill(0, 'SIGKILL');
    await load.done;
    await w.settle(90_000);
    const drainedMs = Date.now() - killedAt;

    const spread = [...w.balancer!.forwarded.values()].join('/');
    const notes = `killed with ${inFlight} in flight; requests/replica ${spread}; drained ${(drainedMs / 1000).toFixed(1)} s after`;
    const title = 'SIGKILL 1 of 3 replicas (PostgreSQL)';
    const rows = [w.ledger.customerRow(title, w.tool, notes), w.ledger.agentRow(title, w.blip, w.tool)];
    for (const r of rows) report(ctx, r);
    expect(await w.deliveries('dead')).toEqual([]);
    for (const r of rows) expect(r, w.output()).toMatchObject({ lost: 0, duplicated: 0, orderViolations: 0, delivered: r.inputs });
    expect(w.tool.eventsOfType('attendance.opened')).toHaveLength(15);
    // Every replica took traffic before the kill.
    expect([...w.balancer!.forwarded.values()].every((n) => n > 0)).toBe(true);
  });

  it('a helpdesk call longer than delivery.timeoutMs is covered by the lease: the open runs once', async (ctx) => {
    const GREETING = 'An agent will be with you shortly.';
    // delivery.timeoutMs 300, but the custom tool's own call deadline is 10 s: the lease covers the
    // longest call an attempt may make (src/delivery/attempt.ts), so a 6.5 s answer is still the
    // first attempt's, and no other replica takes the open over meanwhile.
    world = await World.start({
      engine: 'postgres',
      replicas: 2,
      delivery: { timeoutMs: 300 },
      bot: { helpdesk: { timeoutMs: 10_000 }, attendance: { messages: { opened: GREETING } } },
    });
    const w = world;
    expect(w.timing.leaseMs).toBeGreaterThan(10_000);
    const originators = originatorsFor('lease', 3);
    for (const o of originators) w.blip.addCustomer({ originator: o });
    // The tool takes 6.5 s to answer the attendance.opened calls that arrive now, then is fast again.
    w.tool.setLatency(6_500);
    await Promise.all(originators.map((o, i) => w.say(o, `lease c${i} m0`)));
    // By now the workers have posted the three attendance.opened calls, which the tool holds.
    await sleep(1_000);
    w.tool.setLatency(0);
    await Promise.all(originators.map(async (o, i) => {
      for (let j = 1; j < 4; j++) await w.say(o, `lease c${i} m${j}`);
    }));
    await w.settle(30_000);
    await sleep(3_000); // until the first, slow attempts have answered and been recorded too

    const opens = w.tool.attempts.filter((a) => a.type === 'attendance.opened');
    const greetings = originators.map((o) => new Set(w.blip.messagesTo(o).filter((r) => r.body?.content === GREETING).map((r) => r.body.id)).size);
    const extra = greetings.reduce((n, g) => n + Math.max(0, g - 1), 0);
    const title = 'helpdesk slower than delivery.timeoutMs (PostgreSQL ×2)';
    const rows = [
      w.ledger.customerRow(title, w.tool, `${opens.length} attendance.opened calls for ${originators.length} attendances`),
      {
        scenario: title,
        direction: 'greeting→customer',
        inputs: originators.length,
        delivered: greetings.filter((g) => g > 0).length,
        lost: greetings.filter((g) => g === 0).length,
        duplicated: extra,
        resentDeduped: 0,
        orderViolations: 0,
        notes: `greetings per customer: ${greetings.join('/')}`,
      },
    ];
    for (const r of rows) report(ctx, r);
    // Each customer is greeted once: the open ran, and had its effects applied, once.
    expect(greetings, `${w.output()}\n${opens.length} attendance.opened calls`).toEqual(originators.map(() => 1));
    // One call each: no replica took an open over while the tool was still answering it.
    expect(opens).toHaveLength(originators.length);
    for (const r of rows) expect(r, w.output()).toMatchObject({ lost: 0, duplicated: 0, orderViolations: 0, delivered: r.inputs });
  });
});
