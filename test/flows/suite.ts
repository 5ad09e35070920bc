/**
 * The shared flow suite: the conversation every adapter must carry, written once.
 * customer says → agent sees (with transcript) → agent replies → customer gets → agent ends →
 * customer is redirected; plus duplicate webhooks and forged signatures.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IDENTIFIER, ROUTER, until } from '../helpers/harness.js';
import { startWorld, type FlowWorld, type HelpdeskFixture } from './world.js';

const REDIRECT = 'application/vnd.lime.redirect+json';

async function stored(w: FlowWorld): Promise<string> {
  const db = w.bridge.store.kysely;
  const counts = await Promise.all(
    (['attendances', 'messages', 'deliveries', 'dedupe'] as const).map(async (t) => Number((await db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)),
  );
  return counts.join(',');
}

export function flowSuite(makeFixture: () => HelpdeskFixture): void {
  const name = makeFixture().name;
  describe(`shared flows: ${name}`, () => {
    let w: FlowWorld;
    beforeEach(async () => {
      w = await startWorld(makeFixture());
    });
    afterEach(async () => w.stop());

    it('open with transcript → messages both ways in order → end → Redirect', async () => {
      const customer = '5511987650001@wa.gw.msging.net';
      const { tunnel } = w.blip.addCustomer({
        originator: customer,
        name: 'Ana Souza',
        history: [
          { direction: 'received', type: 'text/plain', content: 'Oi' },
          { direction: 'sent', type: 'text/plain', content: 'Hello! How can I help?' },
          { direction: 'received', type: 'text/plain', content: 'I want a person' },
        ],
      });
      for (const text of ['first', 'second', 'third']) await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: text });
      const d = w.helpdesk.driver;
      const opened = await d.waitOpened(customer);
      expect(opened.customerName).toBe('Ana Souza');
      expect(opened.transcript.join('\n')).toContain('Hello! How can I help?');
      expect(opened.transcript.join('\n')).toContain('I want a person');
      await until(() => d.customerTexts(opened.key).length >= 3, 10_000, 'customer messages at the agent');
      expect(d.customerTexts(opened.key).filter((t) => ['first', 'second', 'third'].includes(t))).toEqual(['first', 'second', 'third']);

      for (const text of ['reply one', 'reply two', 'reply three']) await d.reply(opened.key, text);
      await d.end(opened.key);

      const redirect = await w.blip.waitFor((r) => r.body?.type === REDIRECT && r.body?.to === tunnel, 10_000);
      // A Blip-Desk-shaped ticket for the main bot (blip.redirectContext defaults to ticket).
      expect(redirect.body.content).toMatchObject({
        address: 'principal',
        context: { type: 'application/vnd.iris.ticket+json', value: { status: 'ClosedAttendant', closeReason: 'agent', externalId: expect.any(String), customerIdentity: customer } },
      });
      const got = w.blip.messagesTo(customer).map((r) => (r.body.type === REDIRECT ? 'REDIRECT' : r.body.content));
      expect(got.filter((x) => typeof x === 'string')).toEqual(['reply one', 'reply two', 'reply three', 'Goodbye!', 'REDIRECT']);
      expect(w.blip.activeService(customer, ROUTER)).toBe('principal');
      const list = await w.admin('GET', '/admin/attendances');
      await until(async () => (await w.admin('GET', `/admin/attendances/${list.body.attendances[0].id}`)).body.state === 'closed', 10_000, 'closed');
    });

    it('a webhook delivered twice reaches the customer once', async () => {
      const customer = '5511987650002@wa.gw.msging.net';
      w.blip.addCustomer({ originator: customer });
      await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'hello' });
      const d = w.helpdesk.driver;
      const { key } = await d.waitOpened(customer);
      await d.reply(key, 'only once please');
      await w.blip.waitFor((r) => r.body?.content === 'only once please', 10_000);
      const status = await d.redeliverLastWebhook();
      expect(status).toBeLessThan(300);
      await new Promise((r) => setTimeout(r, 300));
      expect(w.blip.received.messages.filter((r) => r.body?.content === 'only once please')).toHaveLength(1);
    });

    it('a forged webhook is refused with 401 and stores nothing', async () => {
      const customer = '5511987650003@wa.gw.msging.net';
      w.blip.addCustomer({ originator: customer });
      await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'hello' });
      await w.helpdesk.driver.waitOpened(customer);
      await until(async () => (await w.admin('GET', '/admin/deliveries?state=pending')).body.deliveries.length === 0, 10_000, 'idle');
      const before = await stored(w);
      expect(await w.helpdesk.driver.forgedWebhook()).toBe(401);
      expect(await stored(w)).toBe(before);
    });
  });
}
