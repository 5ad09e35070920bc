/**
 * The lifecycle's timers are stored work (issue 10): with three replicas on one PostgreSQL
 * database and one SIGKILLed just as the timers come due, every timer still fires, and fires once.
 * Ten customers go quiet after an agent's reply: each must get one reminder, one farewell and one
 * Redirect, in that order — a timer fired twice would send a second reminder (each firing writes a
 * new message), a lost one would leave the customer stuck.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { postgres } from '../helpers/postgres.js';
import { originatorsFor } from './lib/load.js';
import { report } from './lib/summary.js';
import { World, sleep, until } from './lib/world.js';

const pg = await postgres();
if (!pg.ok) console.warn(`[faults] PostgreSQL scenarios skipped: ${pg.reason}`);

const REMINDER = 'Are you still there?';
const FAREWELL = 'Closing for inactivity.';
const REDIRECT = 'application/vnd.lime.redirect+json';

describe.skipIf(!pg.ok)('timers across replicas', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it('SIGKILL one of three replicas as the timers come due: each fires once', async (ctx) => {
    world = await World.start({
      engine: 'postgres',
      replicas: 3,
      bot: { attendance: { inactivity: { remindAfter: '3s', closeAfter: '6s' }, messages: { reminder: REMINDER, inactive: FAREWELL } } },
    });
    const w = world;
    const customers = originatorsFor('timers', 10);
    for (const c of customers) w.blip.addCustomer({ originator: c });
    await Promise.all(customers.map((c) => w.say(c, 'I need a person')));
    await until('ten attendances opened', () => w.tool.eventsOfType('attendance.opened').length === 10, 30_000);
    const ids = w.tool.eventsOfType('attendance.opened').map((e) => e.data.attendance.id);
    const repliedAt = Date.now();
    await Promise.all(ids.map((id) => w.reply(id, 'How can I help?')));
    // Just as the reminders come due, somewhere in the three replicas' polls.
    await sleep(Math.max(0, repliedAt + 2_900 - Date.now()));
    await w.kill(0, 'SIGKILL');
    await until('every customer handed back', () => customers.every((c) => w.blip.messagesTo(c).some((r) => r.body?.type === REDIRECT)), 60_000);
    await sleep(2_000); // a timer fired twice would show by now

    const seen = customers.map((c) => w.blip.messagesTo(c).map((r) => (r.body.type === REDIRECT ? 'REDIRECT' : r.body.content)).filter((x) => x !== 'How can I help?'));
    const twice = seen.filter((s) => s.filter((x) => x === REMINDER).length > 1 || s.filter((x) => x === FAREWELL).length > 1 || s.filter((x) => x === 'REDIRECT').length > 1).length;
    const missing = seen.filter((s) => !s.includes(REMINDER) || !s.includes(FAREWELL)).length;
    const disordered = seen.filter((s) => JSON.stringify(s) !== JSON.stringify([REMINDER, FAREWELL, 'REDIRECT'])).length;
    report(ctx, {
      scenario: 'SIGKILL 1 of 3 replicas as timers come due (PostgreSQL)',
      direction: 'timers→customer',
      inputs: customers.length * 2,
      delivered: seen.reduce((n, s) => n + s.filter((x) => x === REMINDER || x === FAREWELL).length, 0),
      lost: missing,
      duplicated: twice,
      resentDeduped: 0,
      orderViolations: disordered - twice - missing > 0 ? disordered - twice - missing : 0,
      notes: 'reminder at 3 s, close at 6 s after the agent; replica 0 killed at 2.9 s',
    });
    expect(seen, w.output()).toEqual(customers.map(() => [REMINDER, FAREWELL, 'REDIRECT']));
    const list = await w.admin('/admin/attendances?limit=50', w.liveUrl());
    expect(list.body.attendances.map((a: { closeReason: string }) => a.closeReason)).toEqual(customers.map(() => 'customer-inactive'));
  });
});
