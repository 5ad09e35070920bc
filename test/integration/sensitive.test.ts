/**
 * A sensitive message (LIME `application/vnd.lime.sensitive+json`, "the server will not store the
 * message content") reaches the agent, marked so, and is never at rest in clear: the store's own
 * bytes are searched after delivery, and while it waits for a helpdesk that is down.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { IDENTIFIER, startHarness, until, type Harness } from '../helpers/harness.js';

const CARD = '4111 1111 1111 1111';
const ANA = '5511977770001@wa.gw.msging.net';

/** Every byte the store holds that could carry the card: SQLite's files (with the WAL), PostgreSQL's rows. */
async function storeHolds(h: Harness, needle: string): Promise<boolean> {
  const store = h.bridge.store;
  if (store.engine === 'sqlite') {
    await sql`PRAGMA wal_checkpoint(PASSIVE)`.execute(store.kysely);
    return readdirSync(h.dir)
      .filter((f) => f.startsWith('bridge.db'))
      .some((f) => readFileSync(join(h.dir, f)).includes(Buffer.from(needle)));
  }
  for (const table of ['attendances', 'messages', 'deliveries', 'dedupe', 'timers']) {
    const rows = await sql<{ t: string }>`select row_to_json(x)::text as t from ${sql.table(table)} x`.execute(store.kysely);
    if (rows.rows.some((r) => r.t.includes(needle))) return true;
  }
  return false;
}

describe('sensitive content', () => {
  let h: Harness;
  afterEach(async () => h?.stop());

  it('is forwarded to the helpdesk marked sensitive, then only a placeholder is kept; never in clear at rest', async () => {
    h = await startHarness();
    h.blip.addCustomer({ originator: ANA });
    await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: 'I want to pay' });
    await h.tool.waitFor((t) => t.eventsOfType('customer.message').length === 1);
    // The tool is down when the card comes: it waits in the store, sealed.
    h.tool.setDown(true, 'unavailable');
    await h.blip.customerSays(ANA, IDENTIFIER, { type: 'application/vnd.lime.sensitive+json', content: { type: 'text/plain', value: CARD } });
    await until(async () => (await h.bridge.store.listDeliveries({ state: 'pending', limit: 10 })).some((d) => d.attempts > 0), 5000, 'an attempt on the card');
    expect(await storeHolds(h, CARD)).toBe(false);
    h.tool.setDown(false);

    await h.tool.waitFor((t) => t.eventsOfType('customer.message').length === 2, 10_000);
    const got = h.tool.eventsOfType('customer.message')[1]!.data.message;
    expect(got).toMatchObject({ content: { type: 'text', text: CARD }, sensitive: true });

    const id = h.tool.eventsOfType('attendance.opened')[0]!.data.attendance.id;
    await until(async () => (await h.admin('GET', `/admin/attendances/${id}`)).body.messages.some((m: { status: string; content: { text?: string } }) => m.status === 'delivered' && m.content.text === '[sensitive]'), 5000, 'delivered');
    const view = await h.admin('GET', `/admin/attendances/${id}`);
    expect(JSON.stringify(view.body)).not.toContain(CARD);
    expect(JSON.stringify(view.body)).not.toContain('sealed');
    expect(await storeHolds(h, CARD)).toBe(false);
  });
});
