/**
 * Peers failing under load, one service process on SQLite: the helpdesk down (connections reset,
 * then 503) and back; a storm of 429s with Retry-After from the helpdesk and from Blip; both peers
 * answering after our deadline; Blip down while agents keep replying and end the attendances. Retries carry the same ids, so each input
 * arrives once, in lane order; Retry-After is honoured; one direction's outage never holds up the
 * other direction.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startLoad, originatorsFor } from './lib/load.js';
import { report } from './lib/summary.js';
import { World, sleep, until } from './lib/world.js';

describe('peer outages', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it('the helpdesk down for a while (reset, then 503), then back', async (ctx) => {
    world = await World.start();
    const w = world;
    const load = startLoad(w, { tag: 'hd-down', customers: 8, messages: 15, replies: 5, pauseMs: 15 });
    await until('a fifth of the load acknowledged', () => load.acked() >= load.total * 0.2, 30_000);
    const before = w.tool.attempts.length;
    w.tool.setDown(true, 'reset');
    await sleep(2_500);
    w.tool.setDown(true, 'unavailable');
    await sleep(1_500);
    w.tool.setDown(false);
    const failed = w.tool.attempts.slice(before).filter((a) => a.outcome === 'reset' || a.outcome === 'injected').length;
    await load.done;
    await w.settle();

    const title = 'helpdesk down 4 s, then back';
    const rows = [w.ledger.customerRow(title, w.tool, `${failed} attempts refused while down`), w.ledger.agentRow(title, w.blip, w.tool)];
    for (const r of rows) report(ctx, r);
    expect(failed).toBeGreaterThan(0);
    expect(await w.deliveries('dead')).toEqual([]);
    for (const r of rows) expect(r, w.output()).toMatchObject({ lost: 0, duplicated: 0, orderViolations: 0, delivered: r.inputs });
  });

  it('a 429 storm with Retry-After from the helpdesk and from Blip', async (ctx) => {
    world = await World.start();
    const w = world;
    const load = startLoad(w, { tag: '429', customers: 8, messages: 15, replies: 8, pauseMs: 15 });
    await until('a fifth of the load acknowledged', () => load.acked() >= load.total * 0.2, 30_000);
    w.tool.failNext(40, 429, 1);
    w.blip.failNext('/messages', { status: 429, count: 20, retryAfter: '1' });
    await load.done;
    await w.settle();

    // Retry-After: 1 → the same delivery is not tried again within the second (allowing 50 ms of clock slack).
    let toolRetries = 0;
    let toolEarly = 0;
    const byId = new Map<string, number[]>();
    for (const a of w.tool.attempts) if (a.webhookId) byId.set(a.webhookId, [...(byId.get(a.webhookId) ?? []), Date.parse(a.at)]);
    for (const a of w.tool.attempts) {
      if (a.status !== 429 || !a.webhookId) continue;
      const next = byId.get(a.webhookId)!.find((t) => t > Date.parse(a.at));
      if (next === undefined) continue;
      toolRetries++;
      if (next - Date.parse(a.at) < 950) toolEarly++;
    }
    let blipRetries = 0;
    let blipEarly = 0;
    const blipById = new Map<string, number[]>();
    for (const r of w.blip.received.messages) if (typeof r.body?.id === 'string') blipById.set(r.body.id, [...(blipById.get(r.body.id) ?? []), r.at]);
    for (const r of w.blip.received.messages) {
      if (r.status !== 429 || typeof r.body?.id !== 'string') continue;
      const next = blipById.get(r.body.id)!.find((t) => t > r.at);
      if (next === undefined) continue;
      blipRetries++;
      if (next - r.at < 950) blipEarly++;
    }

    const title = '429 storm, Retry-After: 1';
    const rows = [
      w.ledger.customerRow(title, w.tool, `40 × 429 from the tool; ${toolEarly}/${toolRetries} retries sooner than Retry-After`),
      w.ledger.agentRow(title, w.blip, w.tool, `20 × 429 from Blip; ${blipEarly}/${blipRetries} retries sooner than Retry-After`),
    ];
    for (const r of rows) report(ctx, r);
    expect(toolRetries).toBeGreaterThan(0);
    expect(blipRetries).toBeGreaterThan(0);
    expect({ toolEarly, blipEarly }).toEqual({ toolEarly: 0, blipEarly: 0 });
    expect(await w.deliveries('dead')).toEqual([]);
    for (const r of rows) expect(r, w.output()).toMatchObject({ lost: 0, duplicated: 0, orderViolations: 0, delivered: r.inputs });
  });

  it('both peers slower than the call deadline for a while: they get the same message again, never a second one', async (ctx) => {
    // A peer that answers after our deadline has usually applied the call: the retry must carry
    // the same id (webhook-id to the tool, LIME id to Blip) so that it can recognise it.
    world = await World.start({ delivery: { timeoutMs: 1_000 }, bot: { helpdesk: { timeoutMs: 1_000 } } });
    const w = world;
    const load = startLoad(w, { tag: 'slow', customers: 6, messages: 12, replies: 8, pauseMs: 20 });
    await until('a fifth of the load acknowledged', () => load.acked() >= load.total * 0.2, 30_000);
    w.tool.setLatency(1_300);
    w.blip.setLatency(1_300);
    await sleep(3_000);
    w.tool.setLatency(0);
    w.blip.setLatency(0);
    await load.done;
    await w.settle();

    const title = 'peers slower than the deadline for 3 s';
    const rows = [w.ledger.customerRow(title, w.tool, 'tool answers after 1.3 s, deadline 1 s'), w.ledger.agentRow(title, w.blip, w.tool, 'Blip answers after 1.3 s, deadline 1 s')];
    for (const r of rows) report(ctx, r);
    expect(await w.deliveries('dead')).toEqual([]);
    for (const r of rows) expect(r, w.output()).toMatchObject({ lost: 0, duplicated: 0, orderViolations: 0, delivered: r.inputs });
    // The slow answers did cause re-sends, which the peers recognised.
    expect(rows.map((r) => r.resentDeduped > 0)).toEqual([true, true]);
  });

  it('Blip down while agents reply and end: replies pile up, then arrive in order before the farewell and the Redirect', async (ctx) => {
    const FAREWELL = 'Thanks, bye!';
    world = await World.start({ bot: { attendance: { messages: { closed: FAREWELL } } } });
    const w = world;
    const originators = originatorsFor('blip-down', 6);
    for (const o of originators) w.blip.addCustomer({ originator: o });
    await Promise.all(originators.map((o, i) => w.say(o, `blip-down c${i} m0`)));
    const attendances = await Promise.all(originators.map((o) => w.attendanceOf(o)));

    w.blip.setDown(true);
    const downAt = Date.now();
    await Promise.all(
      originators.flatMap((o, i) => [
        (async () => {
          for (let j = 1; j <= 10; j++) await w.say(o, `blip-down c${i} m${j}`);
        })(),
        (async () => {
          for (let j = 0; j < 10; j++) await w.reply(attendances[i]!, `blip-down a${i} r${j}`);
        })(),
      ]),
    );
    // Customer → helpdesk does not wait for Blip: everything the customers said is at the tool.
    await until('customer messages at the tool while Blip is down', () => w.ledger.customerRow('', w.tool).lost === 0, 15_000);
    for (const a of attendances) await w.end(a);
    // New customers arrive during the outage: their attendances open once Blip is back (opening
    // reads the contact and the thread from Blip), then their messages follow in order.
    const newcomers = originatorsFor('blip-down-new', 3);
    for (const o of newcomers) w.blip.addCustomer({ originator: o });
    const late = Promise.all(
      newcomers.map(async (o, i) => {
        for (let j = 0; j < 5; j++) await w.say(o, `blip-down n${i} m${j}`);
      }),
    );
    const reachedBlip = () => w.blip.received.messages.filter((r) => r.at >= downAt && r.status === 202 && r.body?.type === 'text/plain').length;
    const reachedWhileReset = reachedBlip();
    // Connections reset for the first half of the outage, 503 for the second.
    await sleep(Math.max(0, 1_500 - (Date.now() - downAt)));
    w.blip.setDown(true, 503);
    await sleep(1_500);
    w.blip.setDown(false);
    const reachedWhileDown = reachedBlip();
    const openedWhileDown = newcomers.filter((o) => w.tool.eventsOfType('attendance.opened').some((e) => e.data.customer.originator === o)).length;
    await late;
    const downMs = Date.now() - downAt;
    await until('every Redirect at Blip', () => w.blip.redirects.length >= originators.length, 30_000);
    await w.settle();

    // Each lane ends with the farewell, then the Redirect, and nothing after.
    let closingViolations = 0;
    for (const o of originators) {
      const seen = new Set<string>();
      const lane = w.blip.messagesTo(o).filter((r) => {
        const id = String(r.body?.id);
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      });
      const tail = lane.slice(-2).map((r) => (r.body.type === 'text/plain' ? r.body.content : r.body.type));
      if (tail[0] !== FAREWELL || tail[1] !== 'application/vnd.lime.redirect+json') closingViolations++;
    }
    const closed = await w.admin('/admin/attendances?state=closed&limit=100');

    const title = `Blip down ${(downMs / 1000).toFixed(1)} s (reset, 503), agents end`;
    const agent = w.ledger.agentRow(title, w.blip, w.tool, `${reachedWhileDown} accepted by Blip while down; farewell+Redirect last in ${originators.length - closingViolations}/${originators.length} lanes`);
    agent.orderViolations += closingViolations;
    const rows = [w.ledger.customerRow(title, w.tool, `open attendances' messages at the tool during the outage; ${newcomers.length} opened after it`), agent];
    for (const r of rows) report(ctx, r);
    expect({ reachedWhileReset, reachedWhileDown, openedWhileDown }).toEqual({ reachedWhileReset: 0, reachedWhileDown: 0, openedWhileDown: 0 });
    expect(await w.deliveries('dead')).toEqual([]);
    for (const r of rows) expect(r, w.output()).toMatchObject({ lost: 0, duplicated: 0, orderViolations: 0, delivered: r.inputs });
    expect(closed.body.attendances).toHaveLength(originators.length);
  });
});
