/**
 * Omnize / Zenvia Chat (`type: omnize`) through the shared flow suite, against the Omnize simulator;
 * then what only Omnize has: queue positions and "no agents" told to the customer, and the bot
 * transcript fetched by Omnize from the bridge (`external_history`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, IDENTIFIER, until } from '../helpers/harness.js';
import { flowSuite } from './suite.js';
import { omnizeFixture, startPublicUrl, type OmnizeFixture } from './omnize-fixture.js';
import { startWorld, type FlowWorld } from './world.js';

flowSuite(() => omnizeFixture());

const QUEUED = 'You are number {position} in line.';
const UNAVAILABLE = 'No agents are available right now; we will answer as soon as one is.';
const ACCEPTED = 'An agent is with you now.';

describe('omnize flows', () => {
  let w: FlowWorld | undefined;
  let proxy: Awaited<ReturnType<typeof startPublicUrl>> | undefined;
  afterEach(async () => {
    await w?.stop();
    await proxy?.stop();
    w = undefined;
    proxy = undefined;
  });

  const textsTo = (customer: string) => w!.blip.messagesTo(customer).map((r) => r.body.content).filter((c): c is string => typeof c === 'string');

  it('queued with a position and unavailable reach the customer as the configured messages, once each', async () => {
    const fixture = omnizeFixture({ helpdesk: { messages: { queued: QUEUED, unavailable: UNAVAILABLE, accepted: ACCEPTED } } });
    w = await startWorld(fixture);
    const customer = '5511987650101@wa.gw.msging.net';
    w.blip.addCustomer({ originator: customer, name: 'Bia' });
    await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'I need a person' });
    const { key } = await fixture.driver.waitOpened(customer);
    const sim = (fixture as OmnizeFixture).sim;

    await sim.queue(key, 3);
    await w.blip.waitFor((r) => r.body?.content === 'You are number 3 in line.', 10_000);
    await sim.queue(key, 2);
    await w.blip.waitFor((r) => r.body?.content === 'You are number 2 in line.', 10_000);
    expect((await sim.redeliver()).status).toBeLessThan(300); // "2" again: a duplicate
    await sim.unavailable(key);
    await w.blip.waitFor((r) => r.body?.content === UNAVAILABLE, 10_000);
    await sim.accept(key, { id: 7, name: 'Carla' });
    await w.blip.waitFor((r) => r.body?.content === 'An agent is with you now.', 10_000);
    await fixture.driver.reply(key, 'Hi Bia, Carla here.');
    await w.blip.waitFor((r) => r.body?.content === 'Hi Bia, Carla here.', 10_000);
    expect(textsTo(customer)).toEqual(['You are number 3 in line.', 'You are number 2 in line.', UNAVAILABLE, 'An agent is with you now.', 'Hi Bia, Carla here.']);
  });

  it('without messages configured, queued and unavailable tell the customer nothing', async () => {
    const fixture = omnizeFixture();
    w = await startWorld(fixture);
    const customer = '5511987650102@wa.gw.msging.net';
    w.blip.addCustomer({ originator: customer });
    await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'hello' });
    const { key } = await fixture.driver.waitOpened(customer);
    const sim = (fixture as OmnizeFixture).sim;
    expect((await sim.queue(key, 1)).delivery?.status).toBe(200); // ignored: nothing to say
    expect((await sim.unavailable(key)).delivery?.status).toBe(202); // a no-agent event, with no text
    await fixture.driver.reply(key, 'here now');
    await w.blip.waitFor((r) => r.body?.content === 'here now', 10_000);
    expect(textsTo(customer)).toEqual(['here now']);
  });

  it('with server.publicUrl, Omnize fetches the bot transcript from the bridge in its documented shape; no transcript message', async () => {
    proxy = await startPublicUrl();
    const fixture = omnizeFixture();
    w = await startWorld(fixture, { config: { server: { port: 0, host: '127.0.0.1', adminToken: ADMIN_TOKEN, publicUrl: proxy.url } } });
    proxy.setTarget(w.url);
    const customer = '5511987650103@wa.gw.msging.net';
    w.blip.addCustomer({
      originator: customer,
      name: 'Caio',
      history: [
        { direction: 'received', type: 'text/plain', content: 'Oi' },
        { direction: 'sent', type: 'text/plain', content: 'Olá! Como posso ajudar?' },
        { direction: 'received', type: 'text/plain', content: 'Quero falar com alguém' },
      ],
    });
    await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'alô?' });
    const opened = await fixture.driver.waitOpened(customer);
    const i = (fixture as OmnizeFixture).sim.interaction(opened.key)!;
    expect(i.externalHistory).toMatch(new RegExp(`^${proxy.url}/transcripts/`));
    const fetched = i.history[0]!;
    expect(fetched).toMatchObject({ status: 200, valid: true, problems: [], unknownKeys: [] });
    expect(fetched.messages!.map((m) => [m.direction, m.content])).toEqual([
      ['CLIENT', 'Oi'],
      ['AGENT', 'Olá! Como posso ajudar?'],
      ['CLIENT', 'Quero falar com alguém'],
    ]);
    // The agent sees only what the customer typed: the transcript is not also a message.
    expect(i.messages.map((m) => m.content)).toEqual(['alô?']);
    await until(() => fixture.driver.customerTexts(opened.key).length === 1, 5_000, 'one customer message');
  });
});

describe('omnize: triggers during the hand-off', () => {
  let w: FlowWorld | undefined;
  afterEach(async () => {
    await w?.stop();
    w = undefined;
  });

  it('a trigger that arrives before the bridge stored the interaction_hash is matched by the echoed attendance id', async () => {
    const fixture = omnizeFixture({ helpdesk: { messages: { queued: QUEUED } } }) as OmnizeFixture;
    w = await startWorld(fixture);
    // Omnize has created the interaction but its answer has not been recorded yet: the hand-off
    // keeps failing here, so the attendance stays `opening`, with no hash stored.
    fixture.sim.setDown(true, 503);
    const customer = '5511987650109@wa.gw.msging.net';
    w.blip.addCustomer({ originator: customer, name: 'Rui' });
    await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'a person, please' });
    const list = await until(async () => {
      const r = await w!.admin('GET', '/admin/attendances');
      return r.body.attendances?.length ? r.body.attendances : undefined;
    }, 10_000);
    const attendance = list[0] as { id: string; state: string };
    expect(attendance.state).toBe('opening');
    const post = (body: unknown) =>
      fetch(fixture.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.status);
    // Another attendance's id, or none: still not ours (acknowledged, ignored: the URL is account-wide).
    expect(await post({ interaction_hash: 'not-stored-yet', state: 'queued', position: 4, extra: { bridgeAttendanceId: '00000000-0000-4000-8000-000000000000' } })).toBe(200);
    expect(await post({ interaction_hash: 'not-stored-yet', state: 'queued', position: 4, extra: { bridgeAttendanceId: attendance.id } })).toBeLessThan(300);
    await w.blip.waitFor((r) => r.body?.content === 'You are number 4 in line.', 10_000);
    expect(textsTo(customer)).toEqual(['You are number 4 in line.']);
  });

  const textsTo = (customer: string) => w!.blip.messagesTo(customer).map((r) => r.body.content).filter((c): c is string => typeof c === 'string');
});
