/** Retention: closed attendances past the age go with their log; open ones and recent ones stay. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { purgeOnce } from '../../src/app.js';
import { openStore } from '../../src/store/engines.js';

/** Fixtures put attendances in any state; the legal moves are src/core/attendance.ts's business. */
const ANY_STATE = ['opening', 'open', 'closing', 'closed'] as const;

describe('purgeOnce', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-retention-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('deletes closed attendances older than the age, with their messages and deliveries, and old dedupe ids', async () => {
    const store = await openStore(`sqlite:${join(dir, 'r.db')}`);
    await store.migrate();
    const day = 86_400_000;
    const now = Date.now();
    const make = async (id: string, closedDaysAgo: number | null) => {
      await store.createAttendance({ id, bot_id: 'b', customer_address: `${id}@tunnel.msging.net`, customer: {}, opened_at: now - 40 * day });
      await store.insertMessage({ id: `${id}-m`, attendance_id: id, direction: 'customer', source_id: null, content: { type: 'text', text: 'x' }, status: 'delivered', created_at: now - 40 * day });
      await store.enqueue({ attendance_id: id, bot_id: 'b', lane: 'to-helpdesk', kind: 'message', payload: '{}' }, now - 40 * day);
      if (closedDaysAgo !== null) await store.transitionAttendance(id, ANY_STATE, 'closed', { closed_at: now - closedDaysAgo * day }, now);
    };
    // More than one batch (500) of old closed attendances.
    for (let i = 0; i < 520; i++) await make(`old${i}`, 31);
    await make('recent', 5);
    await make('open', null);
    await store.claimDedupe('b', 'blip-message', 'ancient', now - 31 * day);
    await store.claimDedupe('b', 'blip-message', 'fresh', now);

    expect(await purgeOnce(store, 30)).toEqual({ attendances: 520, dedupe: 1 });
    const left = (await store.listAttendances({ limit: 1000 })).map((a) => a.id).sort();
    expect(left).toEqual(['open', 'recent']);
    expect(await store.messagesOf('old0')).toEqual([]);
    expect(await store.deliveriesOf('old0')).toEqual([]);
    expect(await store.messagesOf('recent')).toHaveLength(1);
    // A dedupe id past the age is gone (the same message id would be accepted again); a fresh one stays.
    expect(await store.claimDedupe('b', 'blip-message', 'ancient', now)).toBe(true);
    expect(await store.claimDedupe('b', 'blip-message', 'fresh', now)).toBe(false);
    await store.close();
  });
});
