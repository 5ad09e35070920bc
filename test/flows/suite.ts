/**
 * The shared flow suite: the conversation every adapter must carry, written once.
 * customer says → agent sees (with transcript) → agent replies → customer gets → agent ends →
 * customer is redirected; plus duplicate webhooks and forged signatures.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IDENTIFIER, ROUTER, until } from '../helpers/harness.js';
import { TestClock } from '../helpers/clock.js';
import { startWorld, type FlowWorld, type HelpdeskFixture } from './world.js';

const REDIRECT = 'application/vnd.lime.redirect+json';

async function stored(w: FlowWorld): Promise<string> {
  const db = w.bridge.store.kysely;
  const counts = await Promise.all(
    (['attendances', 'messages', 'deliveries', 'dedupe'] as const).map(async (t) =>
      Number(
        (
          await db
            .selectFrom(t)
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ),
    ),
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
        context: {
          type: 'application/vnd.iris.ticket+json',
          value: { status: 'ClosedAttendant', closeReason: 'agent', externalId: expect.any(String), customerIdentity: customer },
        },
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

  describe(`shared lifecycle: ${name}`, () => {
    let w: FlowWorld | undefined;
    afterEach(async () => {
      await w?.stop();
      w = undefined;
    });

    /** Fires what is due once the lanes are idle (advancing past in-flight leases would fake a frozen replica). */
    async function later(world: FlowWorld, clock: TestClock, by: string): Promise<void> {
      await until(
        async () => world.bridge.worker.inFlight === 0 && (await world.admin('GET', '/admin/deliveries?state=pending')).body.deliveries.length === 0,
        10_000,
        'lanes idle',
      );
      clock.advance(by);
      await world.bridge.bridge.timers.runDue();
    }

    it('a customer who goes quiet is reminded, then closed: the helpdesk shows the close, the customer gets the farewell and the Redirect', async () => {
      const clock = new TestClock(Date.parse('2027-03-08T13:00:00Z'));
      const fixture = makeFixture();
      w = await startWorld(fixture, {
        clock,
        bot: {
          attendance: {
            transcriptMessages: 5,
            inactivity: { remindAfter: '5m', closeAfter: '10m' },
            messages: { closed: 'Goodbye!', reminder: 'Still there?', inactive: 'Closing for inactivity.' },
          },
        },
      });
      const world = w;
      const customer = '5511987650011@wa.gw.msging.net';
      world.blip.addCustomer({ originator: customer });
      await world.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'I need a person' });
      const { key } = await fixture.driver.waitOpened(customer);
      await fixture.driver.reply(key, 'How can I help?');
      await world.blip.waitFor((r) => r.body?.content === 'How can I help?', 10_000);
      await later(world, clock, '5m');
      await world.blip.waitFor((r) => r.body?.content === 'Still there?', 10_000);
      await later(world, clock, '5m');
      const redirect = await world.blip.waitFor(
        (r) => r.body?.type === REDIRECT && r.body?.to !== undefined && world.blip.messagesTo(customer).some((m) => m.body.id === r.body.id),
        10_000,
      );
      expect(redirect.body.content.context.value).toMatchObject({ closeReason: 'customer-inactive', status: 'ClosedClientInactivity' });
      const texts = world.blip.messagesTo(customer).map((r) => (r.body.type === REDIRECT ? 'REDIRECT' : r.body.content));
      expect(texts.filter((t) => typeof t === 'string')).toEqual(['How can I help?', 'Still there?', 'Closing for inactivity.', 'REDIRECT']);
      // The helpdesk shows the close its own way, with the reason for the agent.
      expect(fixture.driver.waitClosedByBridge, `${name}: the fixture must show the bridge's close`).toBeDefined();
      const shown = await fixture.driver.waitClosedByBridge!(key);
      expect(shown.note).toMatch(/customer-inactive/);
    });

    it('outside business hours the customer is told and handed back at once; nothing is opened in the helpdesk', async () => {
      const clock = new TestClock(Date.parse('2027-03-07T15:00:00Z')); // a Sunday
      const fixture = makeFixture();
      w = await startWorld(fixture, {
        clock,
        bot: {
          attendance: {
            timeZone: 'America/Sao_Paulo',
            hours: { 'mon-fri': ['08:00-18:00'] },
            outsideHours: 'handback',
            messages: { outsideHours: 'We are closed now.' },
          },
        },
      });
      const world = w;
      const customer = '5511987650012@wa.gw.msging.net';
      world.blip.addCustomer({ originator: customer });
      const said = await world.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'hello?' });
      expect(said.status).toBe(202);
      await until(() => world.blip.messagesTo(customer).some((r) => r.body.type === REDIRECT), 10_000, 'the Redirect');
      const texts = world.blip.messagesTo(customer).map((r) => (r.body.type === REDIRECT ? 'REDIRECT' : r.body.content));
      expect(texts).toEqual(['We are closed now.', 'REDIRECT']);
      const list = await world.admin('GET', '/admin/attendances');
      const att = await world.admin('GET', `/admin/attendances/${list.body.attendances[0].id}`);
      expect(att.body).toMatchObject({ closeReason: 'outside-hours', helpdesk: null });
      // Not one call to the helpdesk was queued.
      expect(att.body.deliveries.filter((d: { lane: string }) => d.lane === 'to-helpdesk')).toEqual([]);
    });
  });
}
