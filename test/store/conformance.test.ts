/**
 * One Store, two engines (DESIGN §5): the same describe runs on SQLite and on PostgreSQL, and
 * every Queries method must give the same results on both, with no per-engine exceptions. The
 * PostgreSQL half uses a real server (test/helpers/postgres.ts) and is skipped, saying why, only
 * where PostgreSQL is not installed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/engines.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import type { DeliveryRow, Lane, NewDelivery } from '../../src/store/schema.js';
import type { NewAttendance, NewMessage, Store } from '../../src/store/store.js';
import { createTestDatabase, postgres } from '../helpers/postgres.js';

/** Fixtures put attendances in any state; the legal moves are src/core/attendance.ts's business. */
const ANY_STATE = ['opening', 'open', 'closing', 'closed'] as const;

interface Opened {
  store: Store;
  dispose(): Promise<void>;
}

interface Engine {
  name: 'sqlite' | 'postgres';
  /** Why this engine cannot run here; undefined when it can. */
  unavailable: string | undefined;
  /** A store on a brand-new, unmigrated database. */
  open(): Promise<Opened>;
}

const pg = await postgres();
if (!pg.ok) console.warn(`[store conformance] PostgreSQL half skipped: ${pg.reason}`);

const engines: Engine[] = [
  {
    name: 'sqlite',
    unavailable: undefined,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'bridge-store-'));
      const store = await openStore(`sqlite:${join(dir, 'store.db')}`);
      return {
        store,
        async dispose() {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    unavailable: pg.ok ? undefined : pg.reason,
    async open() {
      const db = await createTestDatabase();
      const store = await openStore(db.url);
      return {
        store,
        async dispose() {
          await store.close();
          await db.drop();
        },
      };
    },
  },
];

/** Epoch milliseconds well past 2^32: PostgreSQL keeps them in int8, which must come back as numbers. */
const T0 = 1_700_000_000_000;
const BOT = 'acme';

function attendance(id: string, over: Partial<NewAttendance> = {}): NewAttendance {
  return { id, bot_id: BOT, customer_address: `${id}@tunnel.msging.net`, customer: { id, extras: { plan: 'gold' } }, opened_at: T0, ...over };
}

function message(id: string, attendanceId: string, over: Partial<NewMessage> = {}): NewMessage {
  return {
    id,
    attendance_id: attendanceId,
    direction: 'customer',
    source_id: `src-${id}`,
    content: { type: 'text', text: id },
    status: 'received',
    created_at: T0,
    ...over,
  };
}

function delivery(attendanceId: string, lane: Lane = 'to-helpdesk', over: Partial<NewDelivery> = {}): NewDelivery {
  return { attendance_id: attendanceId, bot_id: BOT, lane, kind: 'message', payload: JSON.stringify({ n: 1 }), ...over };
}

const ids = (rows: DeliveryRow[]) => rows.map((r) => r.id);

for (const engine of engines) {
  const title = engine.unavailable ? `Store on ${engine.name} (skipped: ${engine.unavailable})` : `Store on ${engine.name}`;

  describe.skipIf(engine.unavailable !== undefined)(title, () => {
    let opened: Opened;
    let store: Store;

    beforeAll(async () => {
      opened = await engine.open();
      store = opened.store;
      await store.migrate();
    });
    afterAll(async () => opened?.dispose());
    beforeEach(async () => {
      // Children first: messages and deliveries reference attendances.
      for (const t of ['timers', 'deliveries', 'messages', 'dedupe', 'attendances'] as const) await store.kysely.deleteFrom(t).execute();
    });

    describe('migrations', () => {
      it('a fresh database has every step pending; migrate applies them once, in order, then is a no-op', async () => {
        const fresh = await engine.open();
        try {
          expect(fresh.store.engine).toBe(engine.name);
          expect(MIGRATIONS.slice(0, 4)).toEqual(['0001_initial', '0002_attendance_transcript', '0003_pending_deliveries', '0004_timers']);
          expect(await fresh.store.pendingMigrations()).toEqual(MIGRATIONS);
          expect(await fresh.store.migrate()).toEqual(MIGRATIONS);
          expect(await fresh.store.pendingMigrations()).toEqual([]);
          expect(await fresh.store.migrate()).toEqual([]);
          expect(await fresh.store.pendingMigrations()).toEqual([]);
          await expect(fresh.store.ping()).resolves.toBeUndefined();
        } finally {
          await fresh.dispose();
        }
      });

      it('a step that fails leaves nothing of itself behind, and is not recorded', async () => {
        const fresh = await engine.open();
        try {
          // A table in the way of 0001's third: its first two tables and their indexes must not stay.
          await sql`create table dedupe (x integer)`.execute(fresh.store.kysely);
          await expect(fresh.store.migrate()).rejects.toThrow();
          const tables = await fresh.store.kysely.introspection.getTables();
          expect(tables.map((t) => t.name).filter((n) => !n.startsWith('kysely_')).sort()).toEqual(['dedupe']);
          expect(await fresh.store.pendingMigrations()).toEqual(MIGRATIONS);
        } finally {
          await fresh.dispose();
        }
      });

      it('a second Store on a migrated database finds nothing to do', async () => {
        expect(await store.pendingMigrations()).toEqual([]);
        expect(await store.migrate()).toEqual([]);
      });
    });

    describe('transactions', () => {
      it('commit together, return the callback value, and roll back whole on error', async () => {
        const value = await store.transaction(async (q) => {
          await q.createAttendance(attendance('a1'));
          await q.enqueue(delivery('a1'), T0);
          return 42;
        });
        expect(value).toBe(42);
        expect(await store.deliveriesOf('a1')).toHaveLength(1);

        const boom = store.transaction(async (q) => {
          await q.createAttendance(attendance('a2'));
          await q.enqueue(delivery('a2'), T0);
          await q.claimDedupe(BOT, 'blip-message', 'm-rolled-back', T0);
          throw new Error('boom');
        });
        await expect(boom).rejects.toThrow('boom');
        expect(await store.attendance('a2')).toBeUndefined();
        expect(await store.listDeliveries({ limit: 10 })).toHaveLength(1);
        expect(await store.claimDedupe(BOT, 'blip-message', 'm-rolled-back', T0)).toBe(true);
      });

      it('refuse messages and deliveries of an attendance that does not exist', async () => {
        await expect(store.insertMessage(message('m1', 'nobody'))).rejects.toThrow();
        await expect(store.enqueue(delivery('nobody'), T0)).rejects.toThrow();
      });
    });

    describe('dedupe', () => {
      it('claims an inbound id once per bot and scope', async () => {
        expect(await store.claimDedupe(BOT, 'blip-message', 'm1', T0)).toBe(true);
        expect(await store.claimDedupe(BOT, 'blip-message', 'm1', T0 + 1)).toBe(false);
        expect(await store.claimDedupe(BOT, 'helpdesk-event', 'm1', T0)).toBe(true);
        expect(await store.claimDedupe('other', 'blip-message', 'm1', T0)).toBe(true);
        expect(await store.transaction((q) => q.claimDedupe(BOT, 'blip-message', 'm1', T0))).toBe(false);
      });

      it('concurrent claims of one id: exactly one wins', async () => {
        const results = await Promise.all(Array.from({ length: 8 }, () => store.transaction((q) => q.claimDedupe(BOT, 'blip-message', 'race', T0))));
        expect(results.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('attendances', () => {
      it('are created opening, read back with numbers and JSON text, and found by id and active customer', async () => {
        await store.createAttendance(attendance('a1', { customer_address: 'c1@tunnel.msging.net' }));
        const row = await store.attendance('a1');
        expect(row).toEqual({
          id: 'a1',
          bot_id: BOT,
          customer_address: 'c1@tunnel.msging.net',
          state: 'opening',
          customer: JSON.stringify({ id: 'a1', extras: { plan: 'gold' } }),
          helpdesk_key: null,
          helpdesk_ref: null,
          agent: null,
          opened_at: T0,
          closed_at: null,
          close_reason: null,
          transcript: null,
          last_customer_at: null,
          last_agent_at: null,
          first_agent_at: null,
          updated_at: T0,
        });
        expect(typeof row!.opened_at).toBe('number');
        expect(await store.activeAttendance(BOT, 'c1@tunnel.msging.net')).toEqual(row);
        expect(await store.activeAttendance('other', 'c1@tunnel.msging.net')).toBeUndefined();
        expect(await store.activeAttendance(BOT, 'c2@tunnel.msging.net')).toBeUndefined();
        expect(await store.attendance('nope')).toBeUndefined();
      });

      it('at most one is not closed per (bot, customer): the partial unique index refuses a second', async () => {
        const address = 'c1@tunnel.msging.net';
        await store.createAttendance(attendance('a1', { customer_address: address }));
        await expect(store.createAttendance(attendance('a2', { customer_address: address }))).rejects.toThrow();
        await expect(store.transaction((q) => q.createAttendance(attendance('a2', { customer_address: address })))).rejects.toThrow();
        expect(await store.attendance('a2')).toBeUndefined();
        // The same customer of another bot is another attendance.
        await store.createAttendance(attendance('b1', { customer_address: address, bot_id: 'other' }));

        expect(await store.transitionAttendance('a1', ANY_STATE, 'closed', { closed_at: T0 + 5 }, T0 + 5)).toBe(true);
        expect(await store.activeAttendance(BOT, address)).toBeUndefined();
        await store.createAttendance(attendance('a2', { customer_address: address, opened_at: T0 + 10 }));
        expect((await store.activeAttendance(BOT, address))?.id).toBe('a2');
        // Closed ones do not count: a third after closing the second.
        await store.transitionAttendance('a2', ANY_STATE, 'closed', { closed_at: T0 + 20 }, T0 + 20);
        await store.createAttendance(attendance('a3', { customer_address: address, opened_at: T0 + 30 }));
        expect((await store.activeAttendance(BOT, address))?.id).toBe('a3');
      });

      it('are found by the helpdesk key, newest first, per bot', async () => {
        await store.createAttendance(attendance('a1', { opened_at: T0 }));
        await store.createAttendance(attendance('a2', { opened_at: T0 + 100 }));
        await store.createAttendance(attendance('b1', { bot_id: 'other', opened_at: T0 + 200 }));
        await store.transitionAttendance('a1', ANY_STATE, 'closed', { helpdesk_key: 'conv-1' }, T0 + 1);
        await store.updateAttendance('a2', { helpdesk_key: 'conv-1', helpdesk_ref: '{"key":"conv-1"}' }, T0 + 101);
        await store.updateAttendance('b1', { helpdesk_key: 'conv-1' }, T0 + 201);
        expect((await store.attendanceByHelpdeskKey(BOT, 'conv-1'))?.id).toBe('a2');
        expect((await store.attendanceByHelpdeskKey('other', 'conv-1'))?.id).toBe('b1');
        expect(await store.attendanceByHelpdeskKey(BOT, 'conv-2')).toBeUndefined();
      });

      it('transitionAttendance is a compare-and-set on the state; updateAttendance leaves the state alone', async () => {
        await store.createAttendance(attendance('a1'));
        expect(await store.transitionAttendance('a1', ['opening'], 'open', { helpdesk_key: 'k1', helpdesk_ref: '{"key":"k1"}' }, T0 + 1)).toBe(true);
        // A second opener loses: the state has moved on.
        expect(await store.transitionAttendance('a1', ['opening'], 'open', { helpdesk_key: 'k2' }, T0 + 2)).toBe(false);
        expect(await store.attendance('a1')).toMatchObject({ state: 'open', helpdesk_key: 'k1', updated_at: T0 + 1 });
        expect(await store.transitionAttendance('a1', ['opening', 'open'], 'closing', { close_reason: 'agent' }, T0 + 3)).toBe(true);
        expect(await store.updateAttendance('a1', { agent: '{"id":"ag"}' }, T0 + 4)).toBe(true);
        expect(await store.attendance('a1')).toMatchObject({ state: 'closing', close_reason: 'agent', agent: '{"id":"ag"}', updated_at: T0 + 4 });
        expect(await store.updateAttendance('nope', { agent: null }, T0 + 5)).toBe(false);
      });

      it('concurrent compare-and-sets: exactly one wins', async () => {
        await store.createAttendance(attendance('a1'));
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            store.transaction((q) => q.transitionAttendance('a1', ['opening'], 'open', { helpdesk_key: `k${i}` }, T0 + i)),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('listAttendances filters and pages by (opened_at, id) descending without gaps or repeats', async () => {
        // Ties on opened_at are broken by id.
        const made = [
          attendance('a-01', { opened_at: T0 + 10 }),
          attendance('a-02', { opened_at: T0 + 20 }),
          attendance('a-03', { opened_at: T0 + 20 }),
          attendance('a-04', { opened_at: T0 + 20 }),
          attendance('a-05', { opened_at: T0 + 30 }),
          attendance('a-06', { opened_at: T0 + 40, bot_id: 'other' }),
          attendance('a-07', { opened_at: T0 + 50 }),
        ];
        for (const a of made) await store.createAttendance(a);
        await store.transitionAttendance('a-02', ANY_STATE, 'open', {}, T0 + 60);
        await store.transitionAttendance('a-05', ANY_STATE, 'closed', {}, T0 + 60);

        const all = (await store.listAttendances({ limit: 100 })).map((a) => a.id);
        expect(all).toEqual(['a-07', 'a-06', 'a-05', 'a-04', 'a-03', 'a-02', 'a-01']);

        const paged: string[] = [];
        let before: { openedAt: number; id: string } | undefined;
        for (;;) {
          const page = await store.listAttendances({ limit: 2, bot: BOT, ...(before ? { before } : {}) });
          if (page.length === 0) break;
          paged.push(...page.map((a) => a.id));
          const last = page[page.length - 1]!;
          before = { openedAt: last.opened_at, id: last.id };
        }
        expect(paged).toEqual(['a-07', 'a-05', 'a-04', 'a-03', 'a-02', 'a-01']);

        expect((await store.listAttendances({ limit: 10, state: 'open' })).map((a) => a.id)).toEqual(['a-02']);
        expect((await store.listAttendances({ limit: 10, bot: 'other' })).map((a) => a.id)).toEqual(['a-06']);
        expect((await store.listAttendances({ limit: 10, customer: 'a-03@tunnel.msging.net' })).map((a) => a.id)).toEqual(['a-03']);
        expect((await store.listAttendances({ limit: 10, before: { openedAt: T0 + 20, id: 'a-03' } })).map((a) => a.id)).toEqual(['a-02', 'a-01']);
      });

      it('countOpenAttendances counts what is not closed, per bot and state', async () => {
        await store.createAttendance(attendance('a1'));
        await store.createAttendance(attendance('a2'));
        await store.createAttendance(attendance('a3'));
        await store.createAttendance(attendance('a4'));
        await store.createAttendance(attendance('b1', { bot_id: 'other' }));
        await store.transitionAttendance('a2', ANY_STATE, 'open', {}, T0);
        await store.transitionAttendance('a3', ANY_STATE, 'open', {}, T0);
        await store.transitionAttendance('a4', ANY_STATE, 'closed', {}, T0);
        const counts = (await store.countOpenAttendances()).sort((x, y) => `${x.bot_id}|${x.state}`.localeCompare(`${y.bot_id}|${y.state}`));
        expect(counts).toEqual([
          { bot_id: BOT, state: 'open', n: 2 },
          { bot_id: BOT, state: 'opening', n: 1 },
          { bot_id: 'other', state: 'opening', n: 1 },
        ]);
      });
    });

    describe('messages', () => {
      beforeEach(async () => {
        await store.createAttendance(attendance('a1'));
        await store.createAttendance(attendance('a2'));
      });

      it('are stored with JSON content and found by id', async () => {
        await store.insertMessage(message('m1', 'a1', { content: { type: 'text', text: 'olá' } }));
        expect(await store.messageById('m1')).toEqual({
          id: 'm1',
          attendance_id: 'a1',
          direction: 'customer',
          source_id: 'src-m1',
          content: JSON.stringify({ type: 'text', text: 'olá' }),
          status: 'received',
          vendor_id: null,
          created_at: T0,
          updated_at: T0,
        });
        expect(await store.messageById('nope')).toBeUndefined();
        await expect(store.insertMessage(message('m1', 'a1'))).rejects.toThrow();
      });

      it('updateMessage sets status and vendor id', async () => {
        await store.insertMessage(message('m1', 'a1'));
        await store.updateMessage('m1', { status: 'delivered', vendor_id: 'v-1' }, T0 + 5);
        expect(await store.messageById('m1')).toMatchObject({ status: 'delivered', vendor_id: 'v-1', updated_at: T0 + 5 });
        await store.updateMessage('m1', { status: 'consumed' }, T0 + 6);
        expect(await store.messageById('m1')).toMatchObject({ status: 'consumed', vendor_id: 'v-1', updated_at: T0 + 6 });
      });

      it('updateMessageStatusBySource touches only what we sent, optionally within one attendance', async () => {
        await store.insertMessage(message('c1', 'a1', { direction: 'customer', source_id: 'blip-1' }));
        await store.insertMessage(message('g1', 'a1', { direction: 'agent', source_id: 'blip-1', status: 'sent' }));
        await store.insertMessage(message('s1', 'a2', { direction: 'system', source_id: 'blip-1', status: 'sent' }));
        expect(await store.updateMessageStatusBySource('a1', 'blip-1', 'received', T0 + 1)).toBe(1);
        expect((await store.messageById('g1'))?.status).toBe('received');
        expect((await store.messageById('s1'))?.status).toBe('sent');
        expect(await store.updateMessageStatusBySource(null, 'blip-1', 'consumed', T0 + 2)).toBe(2);
        expect((await store.messageById('c1'))?.status).toBe('received');
        expect((await store.messageById('s1'))?.status).toBe('consumed');
        expect(await store.updateMessageStatusBySource(null, 'nope', 'consumed', T0 + 3)).toBe(0);
      });

      it('messagesOf lists one attendance in (created_at, id) order, up to a limit', async () => {
        await store.insertMessage(message('m-b', 'a1', { created_at: T0 + 2 }));
        await store.insertMessage(message('m-c', 'a1', { created_at: T0 + 1 }));
        await store.insertMessage(message('m-a', 'a1', { created_at: T0 + 2 }));
        await store.insertMessage(message('m-x', 'a2', { created_at: T0 }));
        expect((await store.messagesOf('a1')).map((m) => m.id)).toEqual(['m-c', 'm-a', 'm-b']);
        expect((await store.messagesOf('a1', 2)).map((m) => m.id)).toEqual(['m-c', 'm-a']);
        expect(await store.messagesOf('nope')).toEqual([]);
      });
    });

    describe('timers', () => {
      it('arm, re-arm (one per attendance and kind), cancel some or all; due ones soonest first', async () => {
        await store.createAttendance(attendance('a1'));
        await store.createAttendance(attendance('a2'));
        await store.armTimer('a1', BOT, 'inactivity-close', T0 + 600, T0);
        await store.armTimer('a1', BOT, 'expiry', T0 + 900, T0);
        await store.armTimer('a2', BOT, 'inactivity-close', T0 + 300, T0);
        await store.armTimer('a1', BOT, 'inactivity-close', T0 + 1200, T0 + 10); // re-armed later
        expect((await store.timersOf('a1')).map((t) => [t.kind, t.due_at])).toEqual([['expiry', T0 + 900], ['inactivity-close', T0 + 1200]]);
        expect((await store.dueTimers(T0 + 1000, 10)).map((t) => [t.attendance_id, t.kind])).toEqual([['a2', 'inactivity-close'], ['a1', 'expiry']]);
        expect(await store.nextTimerDue()).toBe(T0 + 300);
        await store.cancelTimers('a1', ['expiry']);
        expect((await store.timersOf('a1')).map((t) => t.kind)).toEqual(['inactivity-close']);
        await store.cancelTimers('a1');
        expect(await store.timersOf('a1')).toEqual([]);
      });

      it('takeTimer takes a due timer once, and not one that is not due (re-armed meanwhile)', async () => {
        await store.createAttendance(attendance('a1'));
        await store.armTimer('a1', BOT, 'expiry', T0 + 100, T0);
        expect(await store.takeTimer('a1', 'expiry', T0 + 99)).toBeUndefined();
        expect(await store.takeTimer('a1', 'expiry', T0 + 100)).toMatchObject({ attendance_id: 'a1', kind: 'expiry', due_at: T0 + 100, bot_id: BOT });
        expect(await store.takeTimer('a1', 'expiry', T0 + 100)).toBeUndefined();
      });

      it('concurrent takers (transactions, as replicas fire them): each due timer to exactly one', async () => {
        for (let i = 0; i < 20; i++) {
          await store.createAttendance(attendance(`t${i}`));
          await store.armTimer(`t${i}`, BOT, 'inactivity-close', T0 + i, T0);
        }
        const taken: string[] = [];
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            for (const t of await store.dueTimers(T0 + 100, 50)) {
              const got = await store.transaction((q) => q.takeTimer(t.attendance_id, t.kind, T0 + 100));
              if (got) taken.push(got.attendance_id);
            }
          }),
        );
        expect(taken.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `t${i}`).sort());
      });
    });

    describe('deliveries', () => {
      beforeEach(async () => {
        for (const id of ['a1', 'a2', 'a3']) await store.createAttendance(attendance(id));
      });

      it('enqueue returns increasing numeric ids; rows start pending, unleased, due now unless told', async () => {
        const d1 = await store.enqueue(delivery('a1', 'to-helpdesk', { kind: 'open', payload: '{}' }), T0);
        const d2 = await store.enqueue(delivery('a1', 'to-blip', { next_at: T0 + 500 }), T0 + 1);
        expect(typeof d1).toBe('number');
        expect(d2).toBeGreaterThan(d1);
        expect(await store.delivery(d1)).toEqual({
          id: d1,
          attendance_id: 'a1',
          bot_id: BOT,
          lane: 'to-helpdesk',
          kind: 'open',
          payload: '{}',
          state: 'pending',
          attempts: 0,
          next_at: T0,
          lease_until: null,
          last_error: null,
          trace: null, // traces are off in this process (test/integration/tracing.test.ts has them on)
          created_at: T0,
          updated_at: T0,
        });
        expect(await store.delivery(d2)).toMatchObject({ next_at: T0 + 500, created_at: T0 + 1 });
        expect(await store.delivery(d2 + 1000)).toBeUndefined();
        expect(ids(await store.deliveriesOf('a1'))).toEqual([d1, d2]);
        expect(await store.deliveriesOf('a2')).toEqual([]);
        // Enqueued inside a transaction, the id is as good.
        const d3 = await store.transaction((q) => q.enqueue(delivery('a2'), T0));
        expect(d3).toBeGreaterThan(d2);
      });

      it('dueHeads returns only the oldest pending delivery of each lane, due and unleased, by (next_at, id)', async () => {
        const a1h1 = await store.enqueue(delivery('a1', 'to-helpdesk', { next_at: T0 + 30 }), T0);
        const a1h2 = await store.enqueue(delivery('a1', 'to-helpdesk'), T0);
        const a1b1 = await store.enqueue(delivery('a1', 'to-blip', { next_at: T0 + 10 }), T0);
        const a2h1 = await store.enqueue(delivery('a2', 'to-helpdesk', { next_at: T0 + 10 }), T0);
        const a3h1 = await store.enqueue(delivery('a3', 'to-helpdesk', { next_at: T0 + 1000 }), T0);

        // a1h2 is due earlier than a1h1 but waits behind it: lanes are FIFO by id, not by time.
        expect(ids(await store.dueHeads(T0 + 5, 10))).toEqual([]);
        expect(ids(await store.dueHeads(T0 + 10, 10))).toEqual([a1b1, a2h1]);
        expect(ids(await store.dueHeads(T0 + 30, 10))).toEqual([a1b1, a2h1, a1h1]);
        expect(ids(await store.dueHeads(T0 + 30, 2))).toEqual([a1b1, a2h1]);
        expect(ids(await store.dueHeads(T0 + 1000, 10))).toEqual([a1b1, a2h1, a1h1, a3h1]);

        await store.markDone(a1h1, T0 + 31);
        expect(ids(await store.dueHeads(T0 + 31, 10))).toEqual([a1h2, a1b1, a2h1]);
        await store.markDone(a1h2, T0 + 32);
        await store.markDone(a2h1, T0 + 32);
        expect(ids(await store.dueHeads(T0 + 32, 10))).toEqual([a1b1]);
      });

      it('a head waiting for its retry holds its lane; a dead one does not', async () => {
        const first = await store.enqueue(delivery('a1'), T0);
        const second = await store.enqueue(delivery('a1'), T0);
        const third = await store.enqueue(delivery('a1'), T0);
        expect(await store.lease(first, T0 + 100, T0)).toBe(true);
        await store.markRetry(first, T0 + 50, 'attempt 1: 503', T0 + 1);
        expect(ids(await store.dueHeads(T0 + 49, 10))).toEqual([]);
        expect(ids(await store.dueHeads(T0 + 50, 10))).toEqual([first]);
        await store.markDead(first, 'attempt 2: 400', T0 + 51);
        expect(ids(await store.dueHeads(T0 + 51, 10))).toEqual([second]);
        await store.markDone(second, T0 + 52);
        expect(ids(await store.dueHeads(T0 + 52, 10))).toEqual([third]);
      });

      it('leased heads are not due until the lease expires; lease() takes one only once', async () => {
        const d = await store.enqueue(delivery('a1'), T0);
        const behind = await store.enqueue(delivery('a1'), T0);
        expect(await store.lease(d, T0 + 100, T0)).toBe(true);
        expect(await store.lease(d, T0 + 100, T0 + 1)).toBe(false);
        expect(await store.delivery(d)).toMatchObject({ attempts: 1, lease_until: T0 + 100 });
        expect(ids(await store.dueHeads(T0 + 99, 10))).toEqual([]);
        // The holder is presumed dead: the same head is due again, never the one behind it.
        expect(ids(await store.dueHeads(T0 + 100, 10))).toEqual([d]);
        expect(await store.lease(d, T0 + 300, T0 + 100)).toBe(true);
        expect(await store.delivery(d)).toMatchObject({ attempts: 2, lease_until: T0 + 300 });
        await store.markDone(d, T0 + 150);
        expect(await store.lease(d, T0 + 400, T0 + 200)).toBe(false);
        expect(ids(await store.dueHeads(T0 + 200, 10))).toEqual([behind]);
      });

      it('claimHeads leases what dueHeads would return, counting the attempt, and never the same head twice', async () => {
        const a1h1 = await store.enqueue(delivery('a1'), T0);
        const a1h2 = await store.enqueue(delivery('a1'), T0);
        const a2b1 = await store.enqueue(delivery('a2', 'to-blip', { next_at: T0 + 5 }), T0);
        const a3h1 = await store.enqueue(delivery('a3', 'to-helpdesk', { next_at: T0 + 1 }), T0);

        const due = await store.dueHeads(T0 + 10, 2);
        const claimed = await store.claimHeads(T0 + 10, 2, T0 + 1000);
        expect(ids(claimed)).toEqual(ids(due));
        expect(ids(claimed)).toEqual([a1h1, a3h1]);
        for (const row of claimed) expect(row).toMatchObject({ state: 'pending', attempts: 1, lease_until: T0 + 1000, updated_at: T0 + 10 });
        expect(await store.delivery(a1h1)).toEqual(claimed[0]);

        // What is left: one head (a2's); a1's next delivery waits behind its leased head.
        expect(ids(await store.claimHeads(T0 + 10, 10, T0 + 1000))).toEqual([a2b1]);
        expect(await store.claimHeads(T0 + 10, 10, T0 + 1000)).toEqual([]);
        expect(await store.claimHeads(T0 + 10, 0, T0 + 1000)).toEqual([]);

        // Leases expire: a claimer that died gives its heads up, and they count a second attempt.
        const again = await store.claimHeads(T0 + 1000, 10, T0 + 2000);
        expect(ids(again)).toEqual([a1h1, a3h1, a2b1]);
        expect(again.map((r) => r.attempts)).toEqual([2, 2, 2]);

        await store.markDone(a1h1, T0 + 1001);
        expect(ids(await store.claimHeads(T0 + 1001, 10, T0 + 2000))).toEqual([a1h2]);
      });

      it('claimHeads inside a transaction commits or rolls back with it', async () => {
        const d = await store.enqueue(delivery('a1'), T0);
        await expect(
          store.transaction(async (q) => {
            expect(ids(await q.claimHeads(T0, 10, T0 + 100))).toEqual([d]);
            throw new Error('undo');
          }),
        ).rejects.toThrow('undo');
        expect(await store.delivery(d)).toMatchObject({ attempts: 0, lease_until: null });
        expect(ids(await store.transaction((q) => q.claimHeads(T0, 10, T0 + 100)))).toEqual([d]);
        expect(await store.delivery(d)).toMatchObject({ attempts: 1, lease_until: T0 + 100 });
      });

      it('concurrent claimHeads share the heads out: each to exactly one claimer', async () => {
        const made: number[] = [];
        for (let i = 0; i < 30; i++) {
          await store.createAttendance(attendance(`c${i}`));
          made.push(await store.enqueue(delivery(`c${i}`), T0));
          await store.enqueue(delivery(`c${i}`), T0); // behind the head: never claimed now
        }
        const claims = await Promise.all(Array.from({ length: 6 }, () => store.claimHeads(T0, 10, T0 + 1000)));
        const all = claims.flatMap(ids).sort((x, y) => x - y);
        expect(all).toEqual(made);
      });

      it('releaseLease gives a claimed head back uncounted, due at the time given, only to its claimer', async () => {
        const d = await store.enqueue(delivery('a1', 'to-blip'), T0);
        const [claimed] = await store.claimHeads(T0, 10, T0 + 100);
        expect(claimed?.id).toBe(d);
        expect(await store.releaseLease(d, T0 + 999, T0 + 50, T0 + 1)).toBe(false);
        expect(await store.releaseLease(d, T0 + 100, T0 + 50, T0 + 1)).toBe(true);
        expect(await store.delivery(d)).toMatchObject({ state: 'pending', attempts: 0, lease_until: null, next_at: T0 + 50, updated_at: T0 + 1 });
        expect(await store.releaseLease(d, T0 + 100, T0 + 50, T0 + 2)).toBe(false);
        expect(await store.claimHeads(T0 + 49, 10, T0 + 200)).toEqual([]);
        expect(ids(await store.claimHeads(T0 + 50, 10, T0 + 200))).toEqual([d]);
      });

      it('markRetry, markDead and markDone record the outcome and drop the lease', async () => {
        const d = await store.enqueue(delivery('a1'), T0);
        await store.claimHeads(T0, 1, T0 + 100);
        await store.markRetry(d, T0 + 40, 'attempt 1: 503', T0 + 2);
        expect(await store.delivery(d)).toMatchObject({
          state: 'pending',
          attempts: 1,
          next_at: T0 + 40,
          lease_until: null,
          last_error: 'attempt 1: 503',
          updated_at: T0 + 2,
        });
        await store.claimHeads(T0 + 40, 1, T0 + 200);
        await store.markDead(d, 'attempt 2: 400', T0 + 41);
        expect(await store.delivery(d)).toMatchObject({ state: 'dead', attempts: 2, lease_until: null, last_error: 'attempt 2: 400', updated_at: T0 + 41 });

        const e = await store.enqueue(delivery('a2'), T0);
        await store.claimHeads(T0, 1, T0 + 100);
        await store.markRetry(e, T0, 'attempt 1: timeout', T0 + 1);
        await store.claimHeads(T0 + 1, 1, T0 + 100);
        await store.markDone(e, T0 + 3);
        expect(await store.delivery(e)).toMatchObject({ state: 'done', attempts: 2, lease_until: null, last_error: null, updated_at: T0 + 3 });
      });

      it('an outcome fenced by a claim is recorded only while that claim is the latest', async () => {
        const d = await store.enqueue(delivery('a1'), T0);
        const [first] = await store.claimHeads(T0, 1, T0 + 100);
        const fence1 = { attempts: first!.attempts, leaseUntil: first!.lease_until! };
        // The first attempt outlives its lease; another worker claims the delivery.
        const [second] = await store.claimHeads(T0 + 101, 1, T0 + 300);
        expect(second?.id).toBe(d);
        const fence2 = { attempts: second!.attempts, leaseUntil: second!.lease_until! };
        expect(await store.markDone(d, T0 + 150, fence1)).toBe(false);
        expect(await store.markRetry(d, T0 + 400, 'late', T0 + 150, fence1)).toBe(false);
        expect(await store.markDead(d, 'late', T0 + 150, fence1)).toBe(false);
        expect(await store.delivery(d)).toMatchObject({ state: 'pending', attempts: 2, lease_until: T0 + 300, last_error: null });
        expect(await store.markDone(d, T0 + 160, fence2)).toBe(true);
        expect(await store.delivery(d)).toMatchObject({ state: 'done', lease_until: null, updated_at: T0 + 160 });
        // Once recorded, the same claim cannot record another outcome.
        expect(await store.markDead(d, 'again', T0 + 170, fence2)).toBe(false);
        expect(await store.delivery(d)).toMatchObject({ state: 'done' });
      });

      it('revive puts a dead delivery back with a fresh budget, due now; nothing else', async () => {
        const d = await store.enqueue(delivery('a1'), T0);
        const other = await store.enqueue(delivery('a2'), T0);
        await store.claimHeads(T0, 10, T0 + 100);
        await store.markDead(d, 'attempt 1: 400', T0 + 1);
        expect(await store.revive(other, T0 + 2)).toBe(false);
        expect(await store.revive(d, T0 + 5)).toBe(true);
        expect(await store.delivery(d)).toMatchObject({
          state: 'pending',
          attempts: 0,
          next_at: T0 + 5,
          lease_until: null,
          last_error: 'attempt 1: 400',
          updated_at: T0 + 5,
        });
        expect(await store.revive(d, T0 + 6)).toBe(false);
        expect(await store.revive(d + 1000, T0 + 6)).toBe(false);
      });

      it('a revived delivery waits for a later one of its lane already in flight', async () => {
        const first = await store.enqueue(delivery('a1'), T0);
        const second = await store.enqueue(delivery('a1'), T0);
        await store.claimHeads(T0, 1, T0 + 100);
        await store.markDead(first, 'attempt 1: 400', T0 + 1);
        expect(ids(await store.claimHeads(T0 + 1, 10, T0 + 100))).toEqual([second]);
        await store.revive(first, T0 + 2);
        expect(await store.dueHeads(T0 + 2, 10)).toEqual([]);
        expect(await store.claimHeads(T0 + 2, 10, T0 + 200)).toEqual([]);
        await store.markDone(second, T0 + 3);
        expect(ids(await store.claimHeads(T0 + 3, 10, T0 + 200))).toEqual([first]);
      });

      it('listDeliveries filters by state, bot, lane and pages by id', async () => {
        const d1 = await store.enqueue(delivery('a1', 'to-helpdesk'), T0);
        const d2 = await store.enqueue(delivery('a1', 'to-blip'), T0);
        const d3 = await store.enqueue(delivery('a2', 'to-blip', { bot_id: 'other' }), T0);
        const d4 = await store.enqueue(delivery('a3', 'to-helpdesk'), T0);
        await store.markDead(d2, 'x', T0);
        await store.markDead(d3, 'x', T0);
        await store.markDone(d4, T0);
        expect(ids(await store.listDeliveries({ limit: 10 }))).toEqual([d1, d2, d3, d4]);
        expect(ids(await store.listDeliveries({ limit: 10, state: 'dead' }))).toEqual([d2, d3]);
        expect(ids(await store.listDeliveries({ limit: 10, state: 'dead', bot: BOT }))).toEqual([d2]);
        expect(ids(await store.listDeliveries({ limit: 10, lane: 'to-helpdesk' }))).toEqual([d1, d4]);
        expect(ids(await store.listDeliveries({ limit: 2 }))).toEqual([d1, d2]);
        expect(ids(await store.listDeliveries({ limit: 2, afterId: d2 }))).toEqual([d3, d4]);
        expect(ids(await store.listDeliveries({ limit: 2, afterId: d4 }))).toEqual([]);
      });

      it('countDeliveries counts what is not done per lane and state; pendingInLane counts one lane', async () => {
        const h1 = await store.enqueue(delivery('a1', 'to-helpdesk'), T0);
        await store.enqueue(delivery('a1', 'to-helpdesk'), T0);
        await store.enqueue(delivery('a1', 'to-helpdesk'), T0);
        const b1 = await store.enqueue(delivery('a1', 'to-blip'), T0);
        await store.enqueue(delivery('a1', 'to-blip'), T0);
        await store.enqueue(delivery('a2', 'to-blip'), T0);
        await store.markDone(h1, T0);
        await store.markDead(b1, 'x', T0);
        const counts = (await store.countDeliveries()).sort((x, y) => `${x.lane}|${x.state}`.localeCompare(`${y.lane}|${y.state}`));
        expect(counts).toEqual([
          { lane: 'to-blip', state: 'dead', n: 1 },
          { lane: 'to-blip', state: 'pending', n: 2 },
          { lane: 'to-helpdesk', state: 'pending', n: 2 },
        ]);
        expect(await store.pendingInLane('a1', 'to-helpdesk')).toBe(2);
        expect(await store.pendingInLane('a1', 'to-blip')).toBe(1);
        expect(await store.pendingInLane('a2', 'to-blip')).toBe(1);
        expect(await store.pendingInLane('a3', 'to-blip')).toBe(0);
      });

      it('releaseAllLeases frees every pending lease (a single process restarting)', async () => {
        const d1 = await store.enqueue(delivery('a1'), T0);
        const d2 = await store.enqueue(delivery('a2'), T0);
        await store.claimHeads(T0, 10, T0 + 10_000);
        await store.markDone(d2, T0 + 1);
        await store.releaseAllLeases();
        expect(await store.delivery(d1)).toMatchObject({ state: 'pending', lease_until: null, attempts: 1 });
        expect(ids(await store.dueHeads(T0 + 2, 10))).toEqual([d1]);
      });
    });
  });
}
