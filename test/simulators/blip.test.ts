/**
 * The Blip simulator against real HTTP: what a bot sees when it talks to "Blip" (auth, statuses,
 * command responses) and what Blip's router does to it (customer messages, Redirects, notifications).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BlipSimulator, type Received } from '../../simulators/blip/index.js';

const ACCESS_KEY = Buffer.from('s3cret-password').toString('base64'); // as the portal shows it
const ORIGINATOR = '5511999990001@wa.gw.msging.net';
const ROUTER = 'acmerouter';

/** A bot's inbound side: records what "Blip" POSTs to it. */
interface Hit {
  bot: string;
  kind: 'messages' | 'notifications';
  headers: Record<string, unknown>;
  body: Record<string, unknown> & { metadata?: Record<string, string> };
}

let sim: BlipSimulator;
let base: string;
let receiver: FastifyInstance;
let receiverUrl: string;
let hits: Hit[] = [];
let answerStatus = 202;

const auth = (identifier = 'acmehuman', key = ACCESS_KEY) =>
  `Key ${Buffer.from(`${identifier}:${Buffer.from(key, 'base64').toString()}`).toString('base64')}`;

async function call(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: auth(), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, any> };
}

const command = (c: Record<string, unknown>) => call('/commands', { id: crypto.randomUUID(), method: 'get', ...c });

async function until<T>(fn: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  receiver = Fastify();
  for (const kind of ['messages', 'notifications'] as const) {
    receiver.post<{ Params: { bot: string } }>(`/blip/:bot/${kind}`, async (req, reply) => {
      hits.push({ bot: req.params.bot, kind, headers: req.headers, body: req.body as Hit['body'] });
      return reply.code(answerStatus).send(answerStatus === 202 ? undefined : { error: 'nope' });
    });
  }
  receiverUrl = await receiver.listen({ host: '127.0.0.1', port: 0 });

  sim = new BlipSimulator({
    bots: [
      { identifier: 'acmehuman', accessKey: ACCESS_KEY, router: ROUTER, service: 'human' },
      {
        identifier: 'acmesales',
        accessKey: Buffer.from('other').toString('base64'),
        router: ROUTER,
        service: 'sales',
        messagesUrl: `${receiverUrl}/blip/sales/messages`,
        notificationsUrl: `${receiverUrl}/blip/sales/notifications`,
      },
    ],
    notifyDispatched: true,
  });
  base = await sim.start();
  // Bots usually come up after Blip: URLs and custom headers are set late.
  sim.setBotUrls('acmehuman', {
    messagesUrl: `${receiverUrl}/blip/acme/messages`,
    notificationsUrl: `${receiverUrl}/blip/acme/notifications`,
    headers: { authorization: 'Bearer inbound-token', 'x-extra': 'yes' },
  });
});

afterAll(async () => {
  await sim.stop();
  await receiver.close();
});

beforeEach(() => {
  sim.reset();
  hits = [];
  answerStatus = 202;
});

describe('authentication (research §1.2)', () => {
  const msg = () => ({ id: crypto.randomUUID(), to: sim.tunnelOf(ORIGINATOR, 'acmehuman'), type: 'text/plain', content: 'hi' });

  it('accepts Key base64(identifier:decoded accessKey) and nothing else', async () => {
    sim.addCustomer({ originator: ORIGINATOR });
    expect(sim.authorizationFor('acmehuman')).toBe(auth());
    expect((await call('/messages', msg())).status).toBe(202);
    // The portal's base64 key itself is not the password.
    const raw = `Key ${Buffer.from(`acmehuman:${ACCESS_KEY}`).toString('base64')}`;
    for (const authorization of [raw, auth('acmehuman', Buffer.from('wrong').toString('base64')), auth('nobody'), 'Bearer x', '']) {
      const r = await call('/messages', msg(), { authorization });
      expect(r.status, authorization).toBe(401);
    }
    for (const path of ['/notifications', '/commands']) {
      expect((await call(path, {}, { authorization: 'Key bm9wZTpub3Bl' })).status).toBe(401);
    }
    expect(sim.received.messages.filter((r) => r.status === 401).every((r) => r.bot === '')).toBe(true);
  });

  it('identifies the second bot by its own key', async () => {
    const r = await command({ to: 'postmaster@msging.net', uri: '/threads/x' });
    expect(r.json()['to']).toBe('acmehuman@msging.net');
    const r2 = await call('/commands', { id: '1', method: 'get', uri: '/threads/x' }, { authorization: sim.authorizationFor('acmesales') });
    expect(r2.json()['to']).toBe('acmesales@msging.net');
  });
});

describe('bad requests → 400 (research §1.2, §3.1)', () => {
  it('rejects non-JSON content types and bodies', async () => {
    expect((await call('/messages', '{"to":"a","type":"text/plain","content":"x"}', { 'content-type': 'text/plain' })).status).toBe(400);
    expect((await call('/messages', '{not json')).status).toBe(400);
    expect((await call('/messages', '[1,2]')).status).toBe(400);
  });

  it.each([
    ['/messages', { type: 'text/plain', content: 'x' }],
    ['/messages', { to: 'a@tunnel.msging.net', content: 'x' }],
    ['/messages', { to: 'a@tunnel.msging.net', type: 'text/plain' }],
    ['/messages', { to: 'a@tunnel.msging.net', type: 'text/plain', content: { not: 'a string' } }],
    ['/messages', { to: 'a@tunnel.msging.net', type: 'application/vnd.lime.redirect+json', content: 'main' }],
    ['/notifications', { event: 'consumed', to: 'a@tunnel.msging.net' }],
    ['/notifications', { id: '1', to: 'a@tunnel.msging.net' }],
    ['/notifications', { id: '1', event: 'consumed' }],
    ['/notifications', { id: '1', event: 'read', to: 'a@tunnel.msging.net' }],
    ['/commands', { method: 'get', uri: '/threads/x' }],
    ['/commands', { id: '1', uri: '/threads/x' }],
    ['/commands', { id: '1', method: 'get' }],
    ['/commands', { id: '1', method: 'fetch', uri: '/threads/x' }],
  ])('%s %j', async (path, body) => {
    const r = await call(path, body);
    expect(r.status).toBe(400);
    expect(sim.received[path === '/messages' ? 'messages' : path === '/notifications' ? 'notifications' : 'commands'].at(-1)?.status).toBe(400);
  });

  it('accepts messages and notifications with 202 and an empty body', async () => {
    const m = await call('/messages', { to: sim.tunnelOf(ORIGINATOR, 'acmehuman'), type: 'text/plain', content: 'fire and forget' });
    expect(m).toMatchObject({ status: 202, text: '' });
    const n = await call('/notifications', { id: 'x', event: 'consumed', to: sim.tunnelOf(ORIGINATOR, 'acmehuman') });
    expect(n).toMatchObject({ status: 202, text: '' });
  });
});

describe('commands (research §4.1, §4.2, §2.3)', () => {
  beforeEach(() => {
    sim.addCustomer({
      originator: ORIGINATOR,
      name: 'Maria Silva',
      email: 'maria@example.com',
      phoneNumber: '+5511999990001',
      extras: { plan: 'Gold' },
      history: [
        { direction: 'received', type: 'text/plain', content: 'oi' },
        { direction: 'sent', type: 'text/plain', content: 'Olá! Como posso ajudar?' },
        { direction: 'received', type: 'text/plain', content: 'quero falar com alguém' },
      ],
    });
  });

  it("reads the router's contact through lime://{router}, URL-encoded or not", async () => {
    for (const id of [ORIGINATOR, encodeURIComponent(ORIGINATOR)]) {
      const r = await command({ to: 'postmaster@crm.msging.net', uri: `lime://${ROUTER}@msging.net/contacts/${id}` });
      expect(r.status).toBe(200);
      expect(r.json()).toMatchObject({
        status: 'success',
        method: 'get',
        type: 'application/vnd.lime.contact+json',
        from: 'postmaster@crm.msging.net/#az-iris1',
        to: 'acmehuman@msging.net',
        resource: { identity: ORIGINATOR, name: 'Maria Silva', email: 'maria@example.com', phoneNumber: '+5511999990001', extras: { plan: 'Gold' } },
      });
    }
  });

  it("keeps the sub-bot's own roster apart: /contacts/{originator} is not found, /contacts/{tunnel} is after a message", async () => {
    const own = await command({ to: 'postmaster@crm.msging.net', uri: `/contacts/${ORIGINATOR}` });
    expect(own.status).toBe(200); // failures are still HTTP 200
    expect(own.json()).toMatchObject({ status: 'failure', reason: { code: 67 } });
    expect(own.json()['resource']).toBeUndefined();

    await sim.customerSays(ORIGINATOR, 'acmehuman', { type: 'text/plain', content: 'hello' });
    const tunnel = sim.tunnelOf(ORIGINATOR, 'acmehuman');
    const mine = await command({ to: 'postmaster@crm.msging.net', uri: `/contacts/${encodeURIComponent(tunnel)}` });
    expect(mine.json()).toMatchObject({ status: 'success', resource: { identity: tunnel } });
  });

  it('fails contacts sent to the wrong postmaster, unknown uris, other methods and other owners', async () => {
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ to: 'postmaster@msging.net', uri: `lime://${ROUTER}@msging.net/contacts/${ORIGINATOR}` }, 62],
      [{ to: 'postmaster@msging.net', uri: '/unknown/thing' }, 62],
      [{ to: 'postmaster@crm.msging.net', uri: '/contacts' }, 62],
      [{ to: 'postmaster@crm.msging.net', method: 'delete', uri: `lime://${ROUTER}@msging.net/contacts/${ORIGINATOR}` }, 63],
      [{ to: 'postmaster@crm.msging.net', uri: `lime://otherrouter@msging.net/contacts/${ORIGINATOR}` }, 31],
      [{ to: 'postmaster@crm.msging.net', uri: `lime://${ROUTER}@msging.net/contacts/nobody@wa.gw.msging.net` }, 67],
    ];
    for (const [c, code] of cases) {
      const r = await command(c);
      expect(r.status, JSON.stringify(c)).toBe(200);
      expect(r.json(), JSON.stringify(c)).toMatchObject({ status: 'failure', reason: { code } });
    }
  });

  it("returns the router's thread newest first, with the bot part, the customer and our replies", async () => {
    await sim.customerSays(ORIGINATOR, 'acmehuman', { type: 'text/plain', content: 'alguém aí?', id: 'cust-1' });
    const tunnel = sim.tunnelOf(ORIGINATOR, 'acmehuman');
    expect((await call('/messages', { id: 'agent-1', to: tunnel, type: 'text/plain', content: 'Oi Maria, sou a Ana.' })).status).toBe(202);

    const r = await command({ to: 'postmaster@msging.net', uri: `lime://${ROUTER}@msging.net/threads/${encodeURIComponent(ORIGINATOR)}?refreshExpiredMedia=true` });
    const body = r.json();
    expect(body).toMatchObject({ status: 'success', type: 'application/vnd.lime.collection+json', from: 'postmaster@msging.net/#az-iris1' });
    expect(body['resource'].itemType).toBe('application/vnd.iris.thread-message+json');
    const items = body['resource'].items as Array<Record<string, any>>;
    expect(items.map((i) => [i['direction'], i['content']])).toEqual([
      ['sent', 'Oi Maria, sou a Ana.'],
      ['received', 'alguém aí?'],
      ['received', 'quero falar com alguém'],
      ['sent', 'Olá! Como posso ajudar?'],
      ['received', 'oi'],
    ]);
    expect(items[0]).toMatchObject({ id: 'agent-1', type: 'text/plain', metadata: { '#tunnel.originalTo': tunnel } });
    expect(items[1]).toMatchObject({ id: 'cust-1', status: 'accepted' });
    for (const i of items) expect(Date.parse(i['date'])).not.toBeNaN();

    const two = await command({ uri: `lime://${ROUTER}@msging.net/threads/${ORIGINATOR}?$take=2` }); // `to` is optional for threads
    expect((two.json()['resource'].items as unknown[]).length).toBe(2);
  });

  it('takes 20 by default and at most 100', async () => {
    sim.addCustomer({
      originator: ORIGINATOR,
      history: Array.from({ length: 130 }, (_, i) => ({ direction: 'received' as const, type: 'text/plain', content: `m${i}` })),
    });
    const uri = `lime://${ROUTER}@msging.net/threads/${ORIGINATOR}`;
    const dflt = (await command({ to: 'postmaster@msging.net', uri })).json()['resource'].items as Array<{ content: string }>;
    expect(dflt.length).toBe(20);
    expect(dflt[0]?.content).toBe('m129');
    const max = (await command({ to: 'postmaster@msging.net', uri: `${uri}?$take=500` })).json()['resource'].items as unknown[];
    expect(max.length).toBe(100);
    const bad = await command({ to: 'postmaster@msging.net', uri: `${uri}?$take=abc` });
    expect(bad.json()).toMatchObject({ status: 'failure', reason: { code: 64 } });
  });

  it("gives the sub-bot's own /threads/{tunnel} only what passed through it; unknown threads fail", async () => {
    await sim.customerSays(ORIGINATOR, 'acmehuman', { type: 'text/plain', content: 'only this' });
    const tunnel = sim.tunnelOf(ORIGINATOR, 'acmehuman');
    const own = (await command({ to: 'postmaster@msging.net', uri: `/threads/${tunnel}` })).json();
    expect(own['resource'].items.map((i: { content: string }) => i.content)).toEqual(['only this']);
    const none = (await command({ to: 'postmaster@msging.net', uri: `/threads/${ORIGINATOR}` })).json();
    expect(none).toMatchObject({ status: 'failure', reason: { code: 67 } });
  });

  it('resolves a tunnel to owner, originator and destination', async () => {
    const tunnel = sim.tunnelOf(ORIGINATOR, 'acmehuman');
    for (const id of [tunnel, tunnel.split('@')[0]!]) {
      const r = await command({ to: 'postmaster@tunnel.msging.net', uri: `/tunnels/${id}` });
      expect(r.json()).toMatchObject({
        status: 'success',
        type: 'application/vnd.iris.tunnel+json',
        from: 'postmaster@tunnel.msging.net/#az-iris1',
        resource: { owner: `${ROUTER}@msging.net`, originator: ORIGINATOR, destination: 'acmehuman@msging.net' },
      });
    }
    const unknown = await command({ to: 'postmaster@tunnel.msging.net', uri: '/tunnels/00000000-0000-4000-8000-000000000000@tunnel.msging.net' });
    expect(unknown.json()).toMatchObject({ status: 'failure', reason: { code: 67 } });
    // Another bot's tunnel is not ours to resolve.
    const other = await command({ to: 'postmaster@tunnel.msging.net', uri: `/tunnels/${sim.tunnelOf(ORIGINATOR, 'acmesales')}` });
    expect(other.json()['status']).toBe('failure');
  });
});

describe('the router forwarding to the bot (research §2.2, §2.3)', () => {
  it('POSTs the customer message from the tunnel, with custom headers and tunnel metadata, and returns the answer', async () => {
    sim.addCustomer({ originator: ORIGINATOR, name: 'Maria' });
    const answer = await sim.customerSays(ORIGINATOR, 'acmehuman', { type: 'text/plain', content: 'Preciso de ajuda', id: 'wamid.ABC' });
    expect(answer).toEqual({ id: 'wamid.ABC', status: 202, body: '' });

    const hit = hits.find((h) => h.kind === 'messages')!;
    expect(hit.bot).toBe('acme');
    expect(hit.headers['authorization']).toBe('Bearer inbound-token');
    expect(hit.headers['x-extra']).toBe('yes');
    expect(hit.headers['content-type']).toMatch(/^application\/json/);
    const tunnel = sim.tunnelOf(ORIGINATOR, 'acmehuman');
    expect(tunnel).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}@tunnel\.msging\.net$/);
    expect(hit.body).toMatchObject({ id: 'wamid.ABC', from: tunnel, to: 'acmehuman@msging.net', type: 'text/plain', content: 'Preciso de ajuda' });
    expect(hit.body.metadata).toMatchObject({
      '#tunnel.owner': 'acmerouter@msging.net',
      '#tunnel.originator': ORIGINATOR,
      '#tunnel.originalFrom': expect.stringMatching(/^acmerouter@msging\.net\//),
      '#tunnel.originalTo': 'acmehuman%40msging.net@tunnel.msging.net/5511999990001%40wa.gw.msging.net',
      '#uniqueId': expect.any(String),
      date_created: expect.stringMatching(/^\d{13}$/),
    });
    expect(sim.threadOf(ORIGINATOR).at(-1)).toMatchObject({ id: 'wamid.ABC', direction: 'received' });
  });

  it('returns what the bot answered, and status 0 when the bot is unreachable', async () => {
    answerStatus = 401;
    const r = await sim.customerSays(ORIGINATOR, 'acmehuman', { type: 'text/plain', content: 'x' });
    expect(r.status).toBe(401);
    expect(r.body).toContain('nope');

    sim.setBotUrls('acmehuman', { messagesUrl: 'http://127.0.0.1:1/blip/acme/messages' });
    try {
      const down = await sim.customerSays(ORIGINATOR, 'acmehuman', { type: 'text/plain', content: 'x' });
      expect(down.status).toBe(0);
      expect(down.error).toBeTruthy();
    } finally {
      sim.setBotUrls('acmehuman', { messagesUrl: `${receiverUrl}/blip/acme/messages` });
    }
  });

  it('keeps tunnels stable per (router, originator, bot) and distinct between bots', () => {
    const a = sim.tunnelOf(ORIGINATOR, 'acmehuman');
    sim.reset();
    expect(sim.tunnelOf(ORIGINATOR, 'acmehuman')).toBe(a);
    expect(sim.tunnelOf(ORIGINATOR, 'acmesales')).not.toBe(a);
    expect(sim.tunnelOf('5511999990002@wa.gw.msging.net', 'acmehuman')).not.toBe(a);
  });
});

describe('messages from the bot to the customer', () => {
  it('delivers to the tunnel, appends to the thread and notifies accepted → dispatched → received', async () => {
    sim.addCustomer({ originator: ORIGINATOR });
    const tunnel = sim.tunnelOf(ORIGINATOR, 'acmehuman');
    expect((await call('/messages', { id: 'm-1', to: tunnel, type: 'text/plain', content: 'Olá!' })).status).toBe(202);

    expect(sim.messagesTo(tunnel).map((r) => r.body.content)).toEqual(['Olá!']);
    expect(sim.messagesTo(ORIGINATOR).map((r) => r.body.id)).toEqual(['m-1']);
    expect(sim.threadOf(ORIGINATOR).at(-1)).toMatchObject({ id: 'm-1', direction: 'sent', content: 'Olá!' });

    const notes = await until(() => {
      const n = hits.filter((h) => h.kind === 'notifications' && h.body['id'] === 'm-1');
      return n.length === 3 ? n : undefined;
    });
    expect(notes.map((n) => n.body['event'])).toEqual(['accepted', 'dispatched', 'received']);
    expect(notes[0]!.body).toMatchObject({ from: 'postmaster@msging.net/#az-iris1', to: 'acmehuman@msging.net', metadata: { '#message.to': tunnel } });
    expect(notes[1]!.body).toMatchObject({ from: tunnel, metadata: { '#tunnel.originator': ORIGINATOR } });
    expect(notes[0]!.headers['authorization']).toBe('Bearer inbound-token');
    await until(() => (sim.threadOf(ORIGINATOR).at(-1)?.status === 'received' ? true : undefined));
  });

  it('accepts a message to an unknown tunnel, then notifies failed (42)', async () => {
    const to = '11111111-2222-4333-8444-555555555555@tunnel.msging.net';
    expect((await call('/messages', { id: 'lost-1', to, type: 'text/plain', content: 'anyone?' })).status).toBe(202);
    const failed = await until(() => hits.find((h) => h.kind === 'notifications' && h.body['id'] === 'lost-1'));
    expect(failed.body).toMatchObject({ event: 'failed', reason: { code: 42 } });
    // Nor may a bot write to another bot's tunnel.
    await call('/messages', { id: 'lost-2', to: sim.tunnelOf(ORIGINATOR, 'acmesales'), type: 'text/plain', content: 'x' });
    await until(() => hits.find((h) => h.body['id'] === 'lost-2' && h.body['event'] === 'failed'));
    expect(sim.messagesTo(to)).toHaveLength(1);
    expect(sim.threadOf(ORIGINATOR)).toHaveLength(0);
  });

  it("moves a customer message's status with the bot's notifications", async () => {
    await sim.customerSays(ORIGINATOR, 'acmehuman', { type: 'text/plain', content: 'x', id: 'c-9' });
    await call('/notifications', { id: 'c-9', event: 'consumed', to: sim.tunnelOf(ORIGINATOR, 'acmehuman') });
    expect(sim.threadOf(ORIGINATOR).find((m) => m.id === 'c-9')?.status).toBe('consumed');
  });

  it('sends a notification from the tunnel to the bot on demand', async () => {
    const r = await sim.sendNotificationToBot(ORIGINATOR, 'acmehuman', { id: 'm-7', event: 'consumed' });
    expect(r.status).toBe(202);
    const n = hits.find((h) => h.kind === 'notifications')!;
    expect(n.body).toMatchObject({ id: 'm-7', event: 'consumed', from: sim.tunnelOf(ORIGINATOR, 'acmehuman'), to: 'acmehuman@msging.net' });
  });
});

describe('Redirect and the active service (research §2.4, §2.5)', () => {
  const redirect = (content: Record<string, unknown>) =>
    call('/messages', { id: crypto.randomUUID(), to: sim.tunnelOf(ORIGINATOR, 'acmehuman'), type: 'application/vnd.lime.redirect+json', content });

  it('a Redirect without address hands the customer back to main; the bot stops receiving until handed off again', async () => {
    sim.addCustomer({ originator: ORIGINATOR });
    expect(sim.activeService(ORIGINATOR, ROUTER)).toBe('human');
    expect((await redirect({ context: { type: 'text/plain', value: 'atendimento encerrado' } })).status).toBe(202);
    expect(sim.activeService(ORIGINATOR, ROUTER)).toBe('main');
    expect(sim.redirects.at(-1)).toMatchObject({ from: 'human', to: 'main', bot: 'acmehuman', context: { value: 'atendimento encerrado' } });
    expect(sim.otherServices.at(-1)).toMatchObject({ service: 'main', cause: 'redirect-context', content: 'atendimento encerrado' });

    const r = await sim.customerSays(ORIGINATOR, 'acmehuman', { type: 'text/plain', content: 'voltei' });
    expect(r.status).toBe(0);
    expect(hits.some((h) => h.kind === 'messages' && h.body['content'] === 'voltei')).toBe(false);
    expect(sim.otherServices.at(-1)).toMatchObject({ service: 'main', cause: 'customer', content: 'voltei' });
    expect(sim.threadOf(ORIGINATOR).at(-1)?.content).toBe('voltei'); // the router still keeps it

    sim.handOff(ORIGINATOR, 'acmehuman');
    expect((await sim.customerSays(ORIGINATOR, 'acmehuman', { type: 'text/plain', content: 'de novo' })).status).toBe(202);
    expect(hits.some((h) => h.kind === 'messages' && h.body['content'] === 'de novo')).toBe(true);
  });

  it('a Redirect to a service name or bot identity activates it and delivers the context as if the customer wrote it', async () => {
    sim.addCustomer({ originator: ORIGINATOR });
    await redirect({ address: 'sales', context: { type: 'text/plain', value: 'Get started' } });
    expect(sim.activeService(ORIGINATOR, ROUTER)).toBe('sales');
    const ctx = await until(() => hits.find((h) => h.bot === 'sales' && h.kind === 'messages'));
    expect(ctx.body).toMatchObject({ from: sim.tunnelOf(ORIGINATOR, 'acmesales'), to: 'acmesales@msging.net', type: 'text/plain', content: 'Get started' });

    sim.handOff(ORIGINATOR, 'acmehuman');
    await redirect({ address: 'acmesales@msging.net' });
    expect(sim.activeService(ORIGINATOR, ROUTER)).toBe('acmesales@msging.net');
    expect((await sim.customerSays(ORIGINATOR, 'acmehuman', { type: 'text/plain', content: 'x' })).status).toBe(0);
    expect((await sim.customerSays(ORIGINATOR, 'acmesales', { type: 'text/plain', content: 'y' })).status).toBe(202);
  });

  it('new customers can start in main', async () => {
    sim.addCustomer({ originator: ORIGINATOR, handedOff: false });
    expect(sim.activeService(ORIGINATOR)).toBe('main');
    expect((await sim.customerSays(ORIGINATOR, 'acmehuman', { type: 'text/plain', content: 'x' })).status).toBe(0);
  });
});

describe('fault injection', () => {
  const msg = () => ({ id: crypto.randomUUID(), to: sim.tunnelOf(ORIGINATOR, 'acmehuman'), type: 'text/plain', content: 'x' });

  it('failNext answers the given status the given number of times, with Retry-After', async () => {
    sim.failNext('/messages', { status: 503, count: 2, retryAfter: '3' });
    const a = await call('/messages', msg());
    const b = await call('/messages', msg());
    const c = await call('/messages', msg());
    expect([a.status, b.status, c.status]).toEqual([503, 503, 202]);
    expect(a.headers['retry-after']).toBe('3');
    expect(sim.received.messages.map((r) => r.status)).toEqual([503, 503, 202]);
    expect(typeof sim.received.messages[0]?.body.id).toBe('string'); // refused envelopes are inspectable
    // Other paths are unaffected.
    expect((await command({ uri: '/threads/x' })).status).toBe(200);
    // waitFor skips rejected attempts unless asked.
    const ok = await sim.waitFor((r) => r.kind === 'message', 100);
    expect(ok.status).toBe(202);
    const first = await sim.waitFor((r) => r.kind === 'message', 100, { includeRejected: true });
    expect(first.status).toBe(503);
  });

  it('setDown resets connections (or answers a status) until back up', async () => {
    sim.setDown(true);
    await expect(call('/messages', msg())).rejects.toThrow();
    sim.setDown(true, 503);
    expect((await call('/commands', { id: '1', method: 'get', uri: '/threads/x' })).status).toBe(503);
    sim.setDown(false);
    expect((await call('/messages', msg())).status).toBe(202);
  });

  it('setLatency delays answers', async () => {
    sim.setLatency(150);
    const t = Date.now();
    expect((await call('/messages', msg())).status).toBe(202);
    expect(Date.now() - t).toBeGreaterThanOrEqual(140);
  });

  it('waitFor resolves on a future request and times out otherwise', async () => {
    const waiting = sim.waitFor((r: Received) => r.body?.content === 'later', 2000);
    setTimeout(() => void call('/messages', { ...msg(), content: 'later' }), 50);
    expect((await waiting).kind).toBe('message');
    await expect(sim.waitFor(() => false, 50)).rejects.toThrow(/nothing matched/);
  });
});

describe('rate limit (research §1.2, 429 behaviour UNVERIFIED)', () => {
  it('answers 429 with Retry-After beyond messagesPerSecond, per bot', async () => {
    const limited = new BlipSimulator({
      bots: [
        { identifier: 'acmehuman', accessKey: ACCESS_KEY, router: ROUTER, service: 'human' },
        { identifier: 'acmesales', accessKey: Buffer.from('other').toString('base64'), router: ROUTER, service: 'sales' },
      ],
      rateLimit: { messagesPerSecond: 3 },
    });
    const url = await limited.start();
    try {
      const post = (path: string, body: unknown, authorization = auth()) =>
        request(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify(body) });
      const m = { to: limited.tunnelOf(ORIGINATOR, 'acmehuman'), type: 'text/plain', content: 'x' };
      // Five calls inside one fixed one-second window. A busy machine may stretch them over a
      // window boundary; that run proves nothing either way, so it is done again (a run that
      // stays inside its window is what the assertion is about).
      let statuses: number[] = [];
      let retryAfter: unknown;
      for (let run = 0; ; run++) {
        await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
        const window = Math.floor(Date.now() / 1000);
        statuses = [];
        for (let i = 0; i < 5; i++) {
          const r = await post('/messages', m);
          await r.body.dump();
          statuses.push(r.statusCode);
          if (r.statusCode === 429) retryAfter = r.headers['retry-after'];
        }
        if (Math.floor(Date.now() / 1000) === window || run === 4) break;
      }
      expect(statuses).toEqual([202, 202, 202, 429, 429]);
      expect(retryAfter).toBe('1');
      // Notifications and other bots have their own budgets.
      const n = await post('/notifications', { id: '1', event: 'consumed', to: m.to });
      await n.body.dump();
      expect(n.statusCode).toBe(202);
      const other = await post('/messages', m, limited.authorizationFor('acmesales'));
      await other.body.dump();
      expect(other.statusCode).toBe(202);
      // The next window admits messages again.
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
      const again = await post('/messages', m);
      await again.body.dump();
      expect(again.statusCode).toBe(202);
    } finally {
      await limited.stop();
    }
  });
});

describe('control routes for the sandbox (/_sim)', () => {
  it('lets a person play the customer over HTTP and inspect what happened', async () => {
    const enc = encodeURIComponent(ORIGINATOR);
    const says = await request(`${base}/_sim/customers/${enc}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'oi, preciso de ajuda' }),
    });
    expect(says.statusCode).toBe(200);
    expect(await says.body.json()).toMatchObject({ status: 202 });
    expect(hits.find((h) => h.kind === 'messages')?.body['content']).toBe('oi, preciso de ajuda');

    const tunnel = sim.tunnelOf(ORIGINATOR, 'acmehuman');
    await call('/messages', { id: 'r1', to: tunnel, type: 'text/plain', content: 'Claro!' });

    const customer = await request(`${base}/_sim/customers/${enc}`);
    const c = (await customer.body.json()) as Record<string, any>;
    expect(c).toMatchObject({ originator: ORIGINATOR, router: ROUTER, activeService: 'human', tunnels: { acmehuman: tunnel } });
    expect(c['messages'].map((m: Received) => m.body.content)).toEqual(['Claro!']);

    const rec = await request(`${base}/_sim/received`);
    const log = (await rec.body.json()) as Record<string, Received[]>;
    expect(log['messages']?.at(-1)?.body.id).toBe('r1');

    const bad = await request(`${base}/_sim/customers/${enc}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(bad.statusCode).toBe(400);
    await bad.body.dump();
    const unknown = await request(`${base}/_sim/customers/nobody%40wa.gw.msging.net`);
    expect(unknown.statusCode).toBe(404);
    await unknown.body.dump();
  });
});
