/**
 * The attendance's state has one writer (src/core/attendance.ts) whose legal moves are one table:
 * every move it lists works, every other one is refused before the store is touched. And business
 * hours read the wall clock of the configured time zone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IllegalTransition, TRANSITIONS, createAttendance, transition } from '../../src/core/attendance.js';
import { compilePolicy, durationMs, isOpenAt } from '../../src/core/policy.js';
import { parseConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/engines.js';
import type { AttendanceState } from '../../src/store/schema.js';
import type { Store } from '../../src/store/store.js';

const STATES: AttendanceState[] = ['opening', 'open', 'closing', 'closed'];

describe('attendance state', () => {
  let store: Store;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bridge-states-'));
    store = await openStore(`sqlite:${join(dir, 'b.db')}`);
    await store.migrate();
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the table is the lifecycle of DESIGN §2, forward only', () => {
    expect(TRANSITIONS).toEqual({ opening: ['open', 'closing'], open: ['closing'], closing: ['closed'], closed: [] });
  });

  for (const from of STATES) {
    for (const to of STATES) {
      const legal = TRANSITIONS[from].includes(to);
      it(`${from} → ${to} is ${legal ? 'taken' : 'refused'}`, async () => {
        await store.transaction(async (q) => {
          const att = await createAttendance(q, 'bot', `${from}-${to}-${Math.random()}@tunnel.msging.net`, { id: 'c', address: 'c', extras: {} }, 1);
          // Put it in `from` directly at the store (fixture), then ask the owner to move it.
          if (from !== 'opening') await q.transitionAttendance(att.id, ['opening'], from, {}, 2);
          const at = { id: att.id, state: from };
          if (legal) {
            expect(await transition(q, at, to, {}, 3)).toBe(true);
            expect((await q.attendance(att.id))!.state).toBe(to);
          } else {
            await expect(transition(q, at, to, {}, 3)).rejects.toBeInstanceOf(IllegalTransition);
            expect((await q.attendance(att.id))!.state).toBe(from);
          }
          // Closed, so the next fixture of this customer key never collides.
          await q.transitionAttendance(att.id, STATES, 'closed', {}, 4);
        });
      });
    }
  }

  it('a move raced by another writer (the state read is stale) changes nothing and says so', async () => {
    await store.transaction(async (q) => {
      const att = await createAttendance(q, 'bot', 'race@tunnel.msging.net', { id: 'c', address: 'c', extras: {} }, 1);
      expect(await transition(q, att, 'closing', { close_reason: 'admin' }, 2)).toBe(true);
      // `att` still says opening: the compare-and-set refuses.
      expect(await transition(q, att, 'open', {}, 3)).toBe(false);
      expect((await q.attendance(att.id))!).toMatchObject({ state: 'closing', close_reason: 'admin' });
    });
  });
});

describe('durations and business hours', () => {
  it('durations need their unit', () => {
    expect(durationMs('90s')).toBe(90_000);
    expect(durationMs('5m')).toBe(300_000);
    expect(durationMs('2h')).toBe(7_200_000);
    expect(durationMs('3d')).toBe(259_200_000);
    expect(() => durationMs('10')).toThrow(/not a duration/);
  });

  function policy(attendance: Record<string, unknown>) {
    const config = parseConfig({
      server: { adminToken: 'a'.repeat(16) },
      bots: [{ id: 'b', blip: { identifier: 'x', accessKey: 'eA==', inboundToken: 'i'.repeat(16) }, helpdesk: { type: 'webhook', url: 'https://t.example.com', secret: `whsec_${Buffer.from('x'.repeat(32)).toString('base64')}` }, attendance }],
    });
    return compilePolicy(config.bots[0]!.attendance);
  }

  it('slots are read on the wall clock of the time zone, a range of days wraps past Sunday, 24:00 is midnight', () => {
    const p = policy({ timeZone: 'America/Sao_Paulo', hours: { 'mon-fri': ['08:00-12:00', '13:00-18:00'], 'sat-sun': ['20:00-24:00'] } });
    const at = (iso: string) => isOpenAt(p, Date.parse(iso));
    expect(at('2027-03-08T11:00:00Z')).toBe(true); // Mon 08:00 in São Paulo
    expect(at('2027-03-08T10:59:00Z')).toBe(false); // Mon 07:59
    expect(at('2027-03-08T15:30:00Z')).toBe(false); // Mon 12:30, lunch
    expect(at('2027-03-08T20:59:00Z')).toBe(true); // Mon 17:59
    expect(at('2027-03-08T21:00:00Z')).toBe(false); // Mon 18:00: the end is not inside
    expect(at('2027-03-07T02:59:00Z')).toBe(true); // Sat 23:59 (UTC is already Sunday)
    expect(at('2027-03-07T23:30:00Z')).toBe(true); // Sun 20:30
    expect(at('2027-03-06T15:00:00Z')).toBe(false); // Sat 12:00
  });

  it('holidays close the whole day in the time zone; no hours means always open', () => {
    const p = policy({ timeZone: 'Asia/Tokyo', holidays: ['2027-01-01'] });
    expect(isOpenAt(p, Date.parse('2026-12-31T15:30:00Z'))).toBe(false); // 00:30 on 1 January in Tokyo
    expect(isOpenAt(p, Date.parse('2026-12-31T14:30:00Z'))).toBe(true); // 23:30 on 31 December in Tokyo
    expect(isOpenAt(policy({}), Date.parse('2027-01-01T03:00:00Z'))).toBe(true);
  });

  it('follows daylight saving time (New York: 09:00 local is 14:00 UTC in winter, 13:00 UTC in summer)', () => {
    const p = policy({ timeZone: 'America/New_York', hours: { 'mon-fri': ['09:00-17:00'] } });
    expect(isOpenAt(p, Date.parse('2027-01-11T14:00:00Z'))).toBe(true);
    expect(isOpenAt(p, Date.parse('2027-01-11T13:30:00Z'))).toBe(false);
    expect(isOpenAt(p, Date.parse('2027-07-12T13:00:00Z'))).toBe(true);
  });
});
