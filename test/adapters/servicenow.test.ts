/**
 * The ServiceNow adapter (`type: servicenow`) against the ServiceNow simulator over real HTTP on
 * loopback: what it sends to the Virtual Agent API (hand-off, history, each auth mode, requestIds,
 * attachments and the media upload, typing, UPDATE_MESSAGES, END_CONVERSATION), how it reads the
 * VA response bodies the simulator POSTs (every body[] control, action messages, end signals),
 * how it fails (401, 429 with Retry-After), and — through the real service with the Blip simulator
 * — that an unauthenticated response stores nothing and a duplicate response reaches the customer once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ServiceNowSimulator, b2bSignature, type ServiceNowSimulatorOptions, type VaResponse } from '../../simulators/servicenow/index.js';
import type { Content } from '../../src/core/content.js';
import { DeliveryError } from '../../src/delivery/errors.js';
import { HttpClient } from '../../src/delivery/http.js';
import type { AttendanceInfo, Customer, HelpdeskAdapter, HelpdeskEvent, TranscriptEntry } from '../../src/helpdesks/adapter.js';
import { ServiceNowConfig, serviceNowAdapter } from '../../src/helpdesks/servicenow/index.js';
import { BridgeError } from '../../src/http/errors.js';
import { IDENTIFIER, until } from '../helpers/harness.js';
import { SN_RESPONSE, serviceNowFixture } from '../flows/servicenow-fixture.js';
import { startWorld, type FlowWorld } from '../flows/world.js';

const USER = { username: 'blip.bridge', password: 'integration-user-pass' };
const BEARER = 'oauth-access-token-0123';
const STATIC = 'static-message-auth-token';
const HASH = 'hash-message-verification-secret';
const HOOK = { username: 'servicenow', password: 'response-endpoint-pass' };
const log = pino({ level: 'silent' });
const http = new HttpClient(5_000);
const media = { allowedHosts: ['127.0.0.1'], maxBytes: 1024 * 1024, timeoutMs: 5000 };
const ctx = (attempt = 1, deliveryId = 1) => ({ attempt, deliveryId });

// ─── a stand-in for the bridge's webhook route (verify, then parse) and a media host ─────────────

interface Hit {
  status: number;
  body: VaResponse;
  events: HelpdeskEvent[];
}
let hits: Hit[] = [];
let receiverAdapter: HelpdeskAdapter | undefined;
let server: Server;
let serverUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/files/')) {
      res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from('PNG-BYTES'));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(raw.toString('utf8')) as VaResponse;
      const hit: Hit = { status: 200, body, events: [] };
      hits.push(hit);
      const hook = receiverAdapter?.webhook;
      if (!hook || !hook.verify(raw, req.headers).ok) hit.status = 401;
      else {
        try {
          hit.events = hook.parse(body, req.headers);
        } catch (err) {
          hit.status = err instanceof BridgeError ? err.status : 500;
        }
      }
      res.writeHead(hit.status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await http.close();
});

let sim: ServiceNowSimulator | undefined;
let base: string;

async function startSim(over: Partial<ServiceNowSimulatorOptions> = {}): Promise<ServiceNowSimulator> {
  const s = new ServiceNowSimulator({
    auth: { basic: [USER], bearer: [BEARER] },
    responseEndpoint: { url: `${serverUrl}/hook`, auth: { type: 'basic', ...HOOK } },
    agents: [{ id: 'a'.repeat(32), name: 'Beth Anglin', avatar: 'https://instance.example/beth.iix' }],
    ...over,
  });
  base = await s.start();
  sim = s;
  return s;
}
const S = () => sim!;

beforeEach(() => {
  hits = [];
  receiverAdapter = undefined;
});
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

function config(over: Partial<ServiceNowConfig> = {}): ServiceNowConfig {
  const c = Value.Default(ServiceNowConfig, {
    type: 'servicenow',
    instanceUrl: base,
    auth: 'basic',
    ...USER,
    response: { ...HOOK },
    timeoutMs: 2_000,
    ...over,
  }) as ServiceNowConfig;
  expect(Value.Check(ServiceNowConfig, c), JSON.stringify([...Value.Errors(ServiceNowConfig, c)].slice(0, 2))).toBe(true);
  return c;
}
function make(over: Partial<ServiceNowConfig> = {}): HelpdeskAdapter {
  const a = serviceNowAdapter.create(config(over), { http, log, botId: 'acme', media });
  receiverAdapter = a;
  return a;
}

function newCustomer(over: Partial<Customer> = {}): Customer {
  const originator = `55119${Math.floor(Math.random() * 1e8)}@wa.gw.msging.net`;
  return { id: originator, address: `${randomUUID()}@tunnel.msging.net`, originator, name: 'Ana Souza', email: 'ana@example.com', extras: { plan: 'gold' }, ...over };
}
const attendanceInfo = (): AttendanceInfo => ({ id: randomUUID(), bot: 'acme', openedAt: new Date().toISOString() });
const text = (t: string): Content => ({ type: 'text', text: t });
const message = (content: Content) => ({ id: randomUUID(), at: new Date().toISOString(), content });
const integrationBodies = () => S().requests.filter((r) => r.path === '/api/sn_va_as_service/bot/integration').map((r) => r.body as Record<string, any>);

async function deliveryError(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error('expected a DeliveryError');
}

/** Opens an attendance and has the simulated agent accept it; returns what the tests need. */
async function live(adapter: HelpdeskAdapter, customer = newCustomer()) {
  const att = attendanceInfo();
  const ref = await adapter.open(att, customer, [], ctx());
  const conv = S().conversationBySession(att.id)!;
  await S().accept(conv.id);
  return { att, ref, customer, conv };
}

/** The events the adapter parsed from the last response the simulator POSTed. */
async function lastEvents(n: number): Promise<HelpdeskEvent[]> {
  await until(() => hits.length >= n, 5_000, `${n} responses`);
  const h = hits[n - 1]!;
  expect(h.status).toBe(200);
  return h.events;
}

// ─── the hand-off ───────────────────────────────────────────────────────────────────────────────

describe('hand-off (action AGENT)', () => {
  beforeEach(async () => {
    await startSim({ queues: [{ name: 'Gold support', conditions: { b2b_category: 'support', plan: 'gold' } }] });
  });

  it('sends our attendance id as clientSessionId, a stable userId, emailId, queue routing and the transcript as history[]', async () => {
    const adapter = make({ contextVariables: { b2b_category: 'support' }, contextFromExtras: { plan: 'plan' }, handoffText: 'Customer wants a person' });
    const customer = newCustomer();
    const att = attendanceInfo();
    const transcript: TranscriptEntry[] = [
      { direction: 'customer', at: '2024-05-01T12:00:00.000Z', content: text('Oi') },
      { direction: 'bot', at: '2024-05-01T12:00:01.250Z', content: text('Hello! How can I help?') },
    ];
    const ref = await adapter.open(att, customer, transcript, ctx());
    expect(ref).toEqual({ key: att.id, data: { userId: customer.id } });
    const [body] = integrationBodies();
    expect(body).toMatchObject({
      requestId: `open-${att.id}`,
      action: 'AGENT',
      clientSessionId: att.id,
      userId: customer.originator,
      emailId: 'ana@example.com',
      message: { text: 'Customer wants a person', typed: true },
      contextVariables: { b2b_category: 'support', plan: 'gold' },
      history: [
        { displayName: 'Ana Souza', isBotMessage: false, timestamp: '1714564800000', type: 'text', value: 'Oi' },
        { displayName: 'Bot', isBotMessage: true, timestamp: '1714564801250', type: 'text', value: 'Hello! How can I help?' },
      ],
    });
    expect(typeof body!['timestamp']).toBe('number');
    const conv = S().conversationBySession(att.id)!;
    expect(conv).toMatchObject({ state: 'queued', queue: 'Gold support', userId: customer.originator });
    expect(conv.history).toHaveLength(2);
  });

  it('no emailId when the contact has none; the same userId for the same customer', async () => {
    const adapter = make();
    const customer = newCustomer({ email: undefined as never });
    delete (customer as Partial<Customer>).email;
    await adapter.open(attendanceInfo(), customer, [], ctx());
    await adapter.open(attendanceInfo(), customer, [], ctx());
    const [a, b] = integrationBodies();
    expect(a).not.toHaveProperty('emailId');
    expect(a!['userId']).toBe(b!['userId']);
  });
});

// ─── authentication ─────────────────────────────────────────────────────────────────────────────

describe('authentication to the API', () => {
  const cases: Array<[string, Record<string, unknown>, Partial<ServiceNowSimulatorOptions>, string]> = [
    ['basic', {}, {}, 'basic:blip.bridge'],
    ['oauth', { auth: 'oauth', token: BEARER }, {}, 'oauth:0'],
    ['token', { auth: 'token', token: STATIC, username: undefined, password: undefined }, { auth: { token: STATIC } }, 'token'],
    ['hash', { auth: 'hash', secret: HASH, username: undefined, password: undefined }, { auth: { hashSecret: HASH } }, 'hash'],
    ['hash with Basic beside it', { auth: 'hash', secret: HASH }, { auth: { basic: [USER], hashSecret: HASH } }, 'basic:blip.bridge'],
  ];
  it.each(cases)('%s', async (_name, over, simOver, principal) => {
    await startSim(simOver);
    const c: Record<string, unknown> = { ...config(), ...over };
    for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
    expect(Value.Check(ServiceNowConfig, c)).toBe(true);
    const adapter = serviceNowAdapter.create(c as ServiceNowConfig, { http, log, botId: 'acme', media });
    await adapter.open(attendanceInfo(), newCustomer(), [], ctx());
    const r = S().requests[0]!;
    expect(r.status).toBe(200);
    expect(r.principal).toBe(principal);
    if (over['auth'] === 'hash') expect(r.headers['x-b2b-signature']).toBe(b2bSignature(HASH, r.raw));
    if (over['auth'] === 'token') expect(r.headers['token']).toBe(STATIC);
    if (!('username' in over)) expect(r.headers['authorization']).toBeDefined();
    else expect(r.headers['authorization']).toBeUndefined();
  });

  it('wrong credentials: a permanent 401; check() says so', async () => {
    await startSim();
    const adapter = make({ password: 'wrong-password' });
    const e = await deliveryError(adapter.open(attendanceInfo(), newCustomer(), [], ctx()));
    expect(e).toMatchObject({ retryable: false, status: 401 });
    expect(e.message).toMatch(/User Not Authenticated/);
    expect(await adapter.check()).toMatchObject({ ok: false });
    expect(await make().check()).toMatchObject({ ok: true });
  });

  it('a missing credential is a config problem, reported by check() and before any request', async () => {
    await startSim();
    const missing = make({ auth: 'token', token: undefined as never });
    expect((await missing.check()).detail).toMatch(/needs token/);
    const upload = make({ uploadMedia: true, auth: 'hash', secret: HASH, username: undefined as never, password: undefined as never });
    expect(await upload.check()).toMatchObject({ ok: false, detail: expect.stringMatching(/uploadMedia needs Basic/) });
    expect((await deliveryError(upload.open(attendanceInfo(), newCustomer(), [], ctx()))).retryable).toBe(false);
    expect(await make({ response: { username: HOOK.username } as never }).check()).toMatchObject({ ok: false, detail: expect.stringMatching(/go together/) });
    expect(S().requests).toHaveLength(0);
  });
});

// ─── messages, typing, statuses, end ────────────────────────────────────────────────────────────

describe('customer messages and signals', () => {
  beforeEach(async () => {
    await startSim();
  });

  it('text as message.text; every request has its own requestId, and a retry reuses it', async () => {
    const adapter = make();
    const { att, ref, conv } = await live(adapter);
    const m1 = message(text('first'));
    await adapter.deliver(ref, att, m1, ctx());
    await adapter.deliver(ref, att, m1, ctx(2)); // a retried delivery
    await adapter.deliver(ref, att, message(text('second')), ctx());
    await adapter.signal!(ref, att, 'typing', ctx(1, 7));
    await adapter.signal!(ref, att, 'paused', ctx(1, 8));
    await adapter.close!(ref, att, 'customer', ctx());
    const bodies = integrationBodies();
    const ids = bodies.map((b) => b['requestId'] as string);
    expect(ids[1]).toBe(m1.id);
    expect(ids[2]).toBe(m1.id);
    const distinct = new Set([ids[0], ids[1], ids[3], ids[4], ids[5], ids[6], ids[7]]);
    expect(distinct.size).toBe(7);
    expect(bodies[1]).toMatchObject({ clientSessionId: att.id, message: { text: 'first', typed: true, clientMessageId: m1.id } });
    expect(bodies[1]).not.toHaveProperty('action');
    expect(bodies.slice(4).map((b) => b['action'])).toEqual(['TYPING', 'VIEWING', undefined, 'END_CONVERSATION']);
    expect(bodies[7]!['message']).toEqual({ text: '', typed: true });
    const c = S().conversation(conv.id)!;
    expect(c.typingLog.map((t) => t.on)).toEqual([true, false]);
    expect(c.state).toBe('closed');
    expect(c.messages.filter((m) => m.direction === 'customer').map((m) => m.text)).toEqual([
      'The customer asked for a person.',
      'first',
      'first',
      'second',
      'Blip: the customer was handed back to the bot (customer: the customer asked to end it).',
    ]);
  });

  it('close for an agent-ended attendance sends nothing', async () => {
    const adapter = make();
    const { att, ref } = await live(adapter);
    const n = S().requests.length;
    await adapter.close!(ref, att, 'agent', ctx());
    expect(S().requests).toHaveLength(n);
  });

  it('a documented file type goes as message.attachment[] with the Blip URL; other types as text with the link', async () => {
    const adapter = make();
    const { att, ref, conv } = await live(adapter);
    const url = `${serverUrl}/files/receipt.png`;
    await adapter.deliver(ref, att, message({ type: 'media', url, mimeType: 'image/png', caption: 'my receipt', text: `my receipt\n${url}` }), ctx());
    await adapter.deliver(ref, att, message({ type: 'media', url: `${serverUrl}/files/voice`, mimeType: 'audio/ogg', text: `🎤 audio ${serverUrl}/files/voice` }), ctx());
    const [withFile, audio] = integrationBodies().slice(1);
    expect(withFile!['message']).toMatchObject({ text: 'my receipt', typed: true, attachment: [{ contentType: 'image/png', fileName: 'receipt.png', url }] });
    expect(audio!['message']).toEqual({ text: `🎤 audio ${serverUrl}/files/voice`, typed: true, clientMessageId: expect.any(String) });
    expect(S().conversation(conv.id)!.messages.at(-2)!.attachments).toMatchObject([{ url, taken: true }]);
  });

  it('uploadMedia: the file goes through /api/now/v1/cccif/media/upload and the mediaUrl is attached', async () => {
    const adapter = make({ uploadMedia: true });
    const { att, ref, customer, conv } = await live(adapter);
    await adapter.deliver(ref, att, message({ type: 'media', url: `${serverUrl}/files/a.png`, mimeType: 'image/png', name: 'a.png', text: 'a.png' }), ctx());
    expect(S().media).toHaveLength(1);
    expect(S().media[0]).toMatchObject({ userId: customer.id, name: 'a.png', contentType: 'image/png' });
    expect(S().media[0]!.data.toString()).toBe('PNG-BYTES');
    const body = integrationBodies().at(-1)!;
    expect(body['message']['attachment'][0]['url']).toBe(S().media[0]!.mediaUrl);
    expect(S().conversation(conv.id)!.messages.at(-1)!.attachments![0]!.taken).toBe(true);
  });

  it('UPDATE_MESSAGES: the agent message ServiceNow named is reported sent_to_user / external_error, as the documented list', async () => {
    const adapter = make({ updateMessages: true });
    const { att, ref, conv } = await live(adapter);
    const n = hits.length;
    await S().agentMessage(conv.id, 'did you get this?');
    const events = await lastEvents(n + 1);
    const ev = events.find((e) => e.kind === 'agent.message')!;
    expect(ev.kind === 'agent.message' && ev.message.id).toMatch(/^snm:[0-9a-f]{32}$/);
    const sourceId = ev.kind === 'agent.message' ? ev.message.id : '';
    await adapter.messageStatus!(ref, att, { sourceId, status: 'sent' }, ctx(1, 11));
    await adapter.messageStatus!(ref, att, { sourceId, status: 'read' }, ctx(1, 14));
    await adapter.messageStatus!(ref, att, { sourceId, status: 'failed', code: 'BLIP_REFUSED', reason: 'x' }, ctx(1, 12));
    await adapter.messageStatus!(ref, att, { sourceId: 'sn:some-hash', status: 'sent' }, ctx(1, 13)); // not a ServiceNow message id: nothing sent
    const updates = integrationBodies().filter((b) => b['action'] === 'UPDATE_MESSAGES');
    expect(updates.map((u) => u['message'])).toEqual([[{ status: 'sent_to_user', id: sourceId.slice(4) }], [{ status: 'external_error', id: sourceId.slice(4) }]]);
    const m = S().conversation(conv.id)!.messages.find((x) => x.id === sourceId.slice(4))!;
    expect(m.statuses!.map((s) => s.status)).toEqual(['sent_to_user', 'external_error']);
    expect(m.updatedText).toBeUndefined();
  });

  it('a failed reply reaches the agent with its reason as a "Blip:" line, with or without updateMessages; sent/read/delivered send nothing without it', async () => {
    const adapter = make();
    const { att, ref, conv } = await live(adapter);
    const n = integrationBodies().length;
    for (const status of ['sent', 'delivered', 'read'] as const) await adapter.messageStatus!(ref, att, { sourceId: 'snm:abc', status }, ctx(1, 20));
    expect(integrationBodies()).toHaveLength(n);
    await adapter.messageStatus!(ref, att, { sourceId: 'sn:hash', status: 'failed', code: 'BLIP_REFUSED', reason: 'the 24-hour window is closed' }, ctx(1, 21));
    expect(integrationBodies().slice(n).map((b) => b['action'])).toEqual([undefined]);
    expect(S().conversation(conv.id)!.messages.at(-1)).toMatchObject({
      direction: 'customer',
      text: 'Blip: a reply was not delivered to the customer (BLIP_REFUSED: the 24-hour window is closed).',
    });
  });

  it('notes: false: a bridge close is END_CONVERSATION alone and a failure only the panel status', async () => {
    const adapter = make({ notes: false });
    const { att, ref } = await live(adapter);
    const n = integrationBodies().length;
    await adapter.messageStatus!(ref, att, { sourceId: 'snm:abc', status: 'failed', code: 'X' }, ctx(1, 22));
    await adapter.close!(ref, att, 'customer-inactive', ctx());
    expect(integrationBodies().slice(n).map((b) => b['action'])).toEqual(['END_CONVERSATION']);
  });
});

// ─── rate limits and failures ───────────────────────────────────────────────────────────────────

describe('429 and other failures', () => {
  it('429 with Retry-After: retryable, waits what it says', async () => {
    await startSim();
    const adapter = make();
    S().failNext('POST integration', { status: 429, retryAfter: 7 });
    const e = await deliveryError(adapter.open(attendanceInfo(), newCustomer(), [], ctx()));
    expect(e).toMatchObject({ retryable: true, retryAfterMs: 7000, status: 429 });
    expect(adapter.capabilities.accountRateLimit).toBe(true);
  });

  it('the instance rate limit rule: 429 with Retry-After and X-RateLimit-* honoured', async () => {
    let now = Date.now();
    await startSim({ rateLimit: { limit: 1, windowSeconds: 90 }, now: () => now });
    const adapter = make();
    await adapter.open(attendanceInfo(), newCustomer(), [], ctx());
    const e = await deliveryError(adapter.open(attendanceInfo(), newCustomer(), [], ctx()));
    expect(e.retryable).toBe(true);
    expect(e.retryAfterMs).toBe(90_000);
    expect(e.message).toMatch(/Rate limit of 1 requests per hour/);
    now += 90_000;
    await adapter.open(attendanceInfo(), newCustomer(), [], ctx());
  });

  it('500 and a dropped connection are retryable; 400 is permanent', async () => {
    await startSim();
    const adapter = make();
    S().failNext('POST integration', { status: 500 });
    expect((await deliveryError(adapter.open(attendanceInfo(), newCustomer(), [], ctx()))).retryable).toBe(true);
    S().setDown(true);
    expect((await deliveryError(adapter.open(attendanceInfo(), newCustomer(), [], ctx()))).retryable).toBe(true);
    S().setDown(false);
    const { att, ref } = await live(adapter);
    S().failNext('POST integration', { status: 400 });
    expect((await deliveryError(adapter.deliver(ref, att, message(text('x')), ctx()))).retryable).toBe(false);
  });
});

// ─── the VA response bodies ─────────────────────────────────────────────────────────────────────

describe('VA response bodies → events', () => {
  beforeEach(async () => {
    await startSim();
  });

  it('the hand-off answer (stand by + wait spinner): a waiting notice when configured, the VA text dropped by default', async () => {
    make({ messages: { waiting: 'An agent will be with you in about {waitTime}.' } });
    const att = attendanceInfo();
    await receiverAdapter!.open(att, newCustomer(), [], ctx());
    const events = await lastEvents(1);
    expect(events).toEqual([{ kind: 'notice', eventId: expect.any(String), attendance: { key: att.id }, text: 'An agent will be with you in about 8 Seconds.' }]);
  });

  it('virtualAgentMessages: forward sends the VA text too', async () => {
    make({ virtualAgentMessages: 'forward' });
    await receiverAdapter!.open(attendanceInfo(), newCustomer(), [], ctx());
    const events = await lastEvents(1);
    expect(events.map((e) => e.kind === 'agent.message' && e.message.content)).toContainEqual({ type: 'text', text: 'Please stand by while I connect you to a live agent.' });
  });

  it('SwitchToLiveAgent → assigned with the agent; typing start/end → chatstate', async () => {
    await sim!.stop();
    await startSim({ agentInfo: 'namesAndAvatars' });
    const adapter = make();
    const { att, conv } = await live(adapter);
    const accepted = await lastEvents(2);
    expect(accepted).toEqual([{ kind: 'agent.assigned', eventId: expect.any(String), attendance: { key: att.id }, agent: { id: 'a'.repeat(32), name: 'Beth Anglin' } }]);
    await S().agentTyping(conv.id, true);
    await S().agentTyping(conv.id, false);
    expect((await lastEvents(3)).map((e) => e.kind === 'agent.typing' && e.state)).toEqual(['typing']);
    expect((await lastEvents(4)).map((e) => e.kind === 'agent.typing' && e.state)).toEqual(['paused']);
  });

  it('every output control the agent can send becomes readable content', async () => {
    await sim!.stop();
    await startSim({ agentInfo: 'namesAndAvatars' });
    const adapter = make();
    const { conv } = await live(adapter);
    const inputs = [
      'plain text',
      { image: 'https://instance.example/cat.png', altText: 'a cat' },
      { link: 'https://www.servicenow.com', label: 'ServiceNow', header: 'The world works with ServiceNow' },
      { card: { templateName: 'Card', data: { title: 'Incident', subtitle: 'INC0008001', fields: [{ fieldLabel: 'Caller', fieldValue: 'survey user' }], url: 'https://instance.example/inc' } } },
      { picker: { label: 'Select an option', options: [{ label: 'option 1', value: 'o1' }, { label: 'option 2', value: 'o2' }] } },
      { item: { uiType: 'OutputHtml', group: 'DefaultOutputHtml', value: '<p>Hello <b>there</b></p>' } },
      { item: { uiType: 'GroupedPartsOutputControl', group: 'DefaultGroupedPartsOutputControl', header: 'Links', values: [{ action: 'https://l1.example', label: 'link 1', description: 'a short desc' }] } },
    ] as const;
    for (const input of inputs) await S().agentMessage(conv.id, input as never);
    await until(() => hits.length >= 2 + inputs.length, 5_000, 'responses');
    const contents = hits.slice(2).map((h) => {
      const ev = h.events[0]!;
      expect(ev.kind).toBe('agent.message');
      if (ev.kind !== 'agent.message') return undefined;
      expect(ev.message.agent).toEqual({ id: 'a'.repeat(32), name: 'Beth Anglin' });
      return ev.message.content;
    });
    expect(contents).toEqual([
      { type: 'text', text: 'plain text' },
      { type: 'media', url: 'https://instance.example/cat.png', mimeType: 'image/png', caption: 'a cat', text: 'a cat\nhttps://instance.example/cat.png' },
      { type: 'text', text: 'The world works with ServiceNow\nServiceNow\nhttps://www.servicenow.com' },
      { type: 'text', text: 'Incident\nINC0008001\nCaller: survey user\nhttps://instance.example/inc' },
      // bot-to-bot pickers come with enabled: false; the options are shown all the same
      { type: 'choices', text: 'Select an option', options: [{ label: 'option 1', value: 'o1' }, { label: 'option 2', value: 'o2' }] },
      { type: 'text', text: expect.stringMatching(/Hello\s+there/i) },
      { type: 'text', text: 'Links\nlink 1\na short desc\nhttps://l1.example' },
    ]);
    // each item's messageId is its event and message id
    expect(hits.slice(2).map((h) => h.events[0]!.kind === 'agent.message' && h.events[0]!.eventId)).toEqual(hits.slice(2).map((h) => `snm:${h.body.body[0]!.messageId}`));
  });

  it.each([
    ['off', undefined],
    ['sentFromAgent', undefined],
    ['namesAndAvatars', { id: 'a'.repeat(32), name: 'Beth Anglin' }],
  ] as const)('agentInfo %s in the agent chat setup: the agent’s reply reaches the customer, the hand-off’s "stand by" does not', async (setup, agent) => {
    await sim!.stop();
    await startSim({ agentInfo: setup });
    const adapter = make();
    const { conv } = await live(adapter);
    expect((await lastEvents(1)).filter((e) => e.kind === 'agent.message')).toEqual([]); // "Please stand by…" with agentChat: true
    await S().agentMessage(conv.id, 'Hi, this is Beth');
    const [ev] = await lastEvents(3);
    expect(ev).toMatchObject({ kind: 'agent.message', message: { content: { type: 'text', text: 'Hi, this is Beth' } } });
    expect(ev!.kind === 'agent.message' && ev!.message.agent).toEqual(agent);
    // A Virtual Agent item says so itself where agentInfo is sent, whatever agentChat says.
    const hook = adapter.webhook!;
    expect(hook.parse({ clientSessionId: 'k', agentChat: true, body: [{ uiType: 'OutputText', value: 'VA', agentInfo: { sentFromAgent: false } }] }, {})[0]!.kind).toBe('ignored');
    expect(hook.parse({ clientSessionId: 'k', body: [{ uiType: 'OutputText', value: 'VA' }] }, {})[0]!.kind).toBe('ignored');
  });

  it.each([
    ['System "closed" + SwitchToVirtualAgent (default)', undefined],
    ['SwitchToVirtualAgent alone', ['switchToVirtualAgent']],
    ['completed: true', ['completed']],
    ['takeControl: true', ['takeControl']],
  ] as const)('the agent ends it with %s → attendance.ended', async (_n, signals) => {
    const adapter = make();
    const { att, conv } = await live(adapter);
    await S().close(conv.id, signals as never);
    const events = await lastEvents(3);
    expect(events).toEqual([{ kind: 'attendance.ended', eventId: `sn-end:${att.id}`, attendance: { key: att.id }, reason: expect.any(String) }]);
  });

  it('a System message alone ends nothing by default (its text is admin-editable and localised); systemEndTexts matches it', async () => {
    const adapter = make();
    const { conv } = await live(adapter);
    await S().close(conv.id, ['system']);
    expect((await lastEvents(3)).map((e) => e.kind)).toEqual(['ignored']);
    const hook = make({ systemEndTexts: ['closed the support session', 'encerrou o atendimento'] }).webhook!;
    const system = (message: string) => hook.parse({ clientSessionId: 'k', agentChat: true, body: [{ uiType: 'ActionMsg', actionType: 'System', message }] }, {});
    expect(system('Beth Anglin has closed the support session.').map((e) => e.kind)).toEqual(['attendance.ended']);
    expect(system('Beth Anglin encerrou o atendimento.').map((e) => e.kind)).toEqual(['attendance.ended']);
    expect(system('Beth Anglin has joined.').map((e) => e.kind)).toEqual(['ignored']);
  });

  it('a systemEndTexts entry that is not a regular expression is a config problem', async () => {
    const adapter = make({ systemEndTexts: ['(unclosed'] });
    expect(await adapter.check()).toMatchObject({ ok: false, detail: expect.stringContaining('systemEndTexts') });
  });

  it('{"status":"success"} (SEND_HISTORY, check) and bodies without a session are ignored; clientVariables is the fallback key', () => {
    const hook = make().webhook!;
    expect(hook.parse({ status: 'success' }, {})).toEqual([{ kind: 'ignored', reason: 'call status success' }]);
    const item = { uiType: 'OutputText', value: 'hi', agentInfo: { sentFromAgent: true } };
    expect(hook.parse({ clientSessionId: '', userId: 'u', body: [item] }, {})[0]!.kind).toBe('ignored');
    expect(hook.parse({ clientSessionId: '', userId: 'u', clientVariables: { bridgeAttendanceId: 'att-9' }, body: [item] }, {})[0]).toMatchObject({ kind: 'agent.message', attendance: { key: 'att-9' } });
    expect(() => hook.parse({ clientSessionId: 'x', body: 'nope' }, {})).toThrow(BridgeError);
  });
});

describe('webhook authentication (ServiceNow signs nothing)', () => {
  beforeEach(async () => {
    await startSim();
  });

  const basicAuth = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
  const raw = Buffer.from('{}');

  it('Basic: the right credential passes, anything else fails', () => {
    const hook = make().webhook!;
    expect(hook.verify(raw, basicAuth(HOOK.username, HOOK.password)).ok).toBe(true);
    expect(hook.verify(raw, basicAuth(HOOK.username, 'wrong')).ok).toBe(false);
    expect(hook.verify(raw, {}).ok).toBe(false);
  });

  it('a secret header; with both configured, both are required', () => {
    const secret = 'a-long-secret-header-value';
    const headerOnly = make({ response: { header: 'x-bridge-secret', headerValue: secret } }).webhook!;
    expect(headerOnly.verify(raw, { 'x-bridge-secret': secret }).ok).toBe(true);
    expect(headerOnly.verify(raw, { 'x-bridge-secret': `${secret}x` }).ok).toBe(false);
    expect(headerOnly.verify(raw, basicAuth(HOOK.username, HOOK.password)).ok).toBe(false);
    const both = make({ response: { ...HOOK, header: 'x-bridge-secret', headerValue: secret } }).webhook!;
    expect(both.verify(raw, { 'x-bridge-secret': secret }).ok).toBe(false);
    expect(both.verify(raw, { 'x-bridge-secret': secret, ...basicAuth(HOOK.username, HOOK.password) }).ok).toBe(true);
  });

  it('the simulator’s response endpoint sending the wrong credential gets 401', async () => {
    const adapter = make();
    S().setResponseEndpoint({ url: `${serverUrl}/hook`, auth: { type: 'basic', username: HOOK.username, password: 'not-it' } });
    await adapter.open(attendanceInfo(), newCustomer(), [], ctx());
    await until(() => hits.length === 1, 5_000, 'the response');
    expect(hits[0]!.status).toBe(401);
    expect((await S().waitFor(() => S().outbound[0]?.attempts[0])).status).toBe(401);
  });
});

// ─── through the real service ───────────────────────────────────────────────────────────────────

describe('through the bridge', () => {
  let w: FlowWorld;
  const fixture = serviceNowFixture({}, { response: { ...SN_RESPONSE, header: 'x-bridge-secret', headerValue: 'sixteen-chars-or-more' } });
  beforeEach(async () => {
    w = await startWorld(fixture);
    // the response endpoint sends the Basic credential and the custom header (Attributes tab)
    fixture.sim.setResponseEndpoint({ url: fixture.webhookUrl, auth: { type: 'basic', ...SN_RESPONSE }, headers: { 'x-bridge-secret': 'sixteen-chars-or-more' } });
  });
  afterEach(async () => w.stop());

  async function counts(): Promise<string> {
    const db = w.bridge.store.kysely;
    const n = await Promise.all(
      (['attendances', 'messages', 'deliveries', 'dedupe'] as const).map(async (t) => Number((await db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)),
    );
    return n.join(',');
  }

  it('an unauthenticated response → 401 and nothing stored; a duplicate response reaches the customer once', async () => {
    const customer = '5511987659999@wa.gw.msging.net';
    w.blip.addCustomer({ originator: customer, name: 'Ana' });
    await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'hello' });
    const { key } = await fixture.driver.waitOpened(customer);
    await until(async () => (await w.admin('GET', '/admin/deliveries?state=pending')).body.deliveries.length === 0, 10_000, 'idle');
    const before = await counts();
    const conv = fixture.sim.conversation(key)!;
    const body = JSON.stringify({ requestId: conv.lastRequestId, clientSessionId: conv.clientSessionId, userId: conv.userId, body: [{ uiType: 'OutputText', value: 'sneaky', agentInfo: { sentFromAgent: true } }], agentChat: true, score: 1 });
    for (const headers of [{}, { 'x-bridge-secret': 'sixteen-chars-or-more' }, { authorization: `Basic ${Buffer.from(`${SN_RESPONSE.username}:${SN_RESPONSE.password}`).toString('base64')}` }]) {
      const res = await request(fixture.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      expect(res.statusCode).toBe(401);
      await res.body.dump();
    }
    expect(await counts()).toBe(before);

    await fixture.driver.reply(key, 'exactly once');
    await w.blip.waitFor((r) => r.body?.content === 'exactly once', 10_000);
    for (let i = 0; i < 2; i++) {
      const again = await fixture.sim.redeliver();
      expect(again.status).toBe(202);
      expect(JSON.parse(again.response)).toMatchObject({ accepted: 0, duplicates: 1 });
    }
    expect(w.blip.received.messages.filter((r) => r.body?.content === 'exactly once')).toHaveLength(1);
  });

  it('an operator’s close: the agent reads why in a "Blip:" line, then the chat ends (END_CONVERSATION)', async () => {
    const customer = '5511987659998@wa.gw.msging.net';
    w.blip.addCustomer({ originator: customer });
    await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'hello' });
    const { key } = await fixture.driver.waitOpened(customer);
    const list = await w.admin('GET', '/admin/attendances');
    expect((await w.admin('POST', `/admin/attendances/${list.body.attendances[0].id}/close`, {})).status).toBeLessThan(300);
    const { note } = await fixture.driver.waitClosedByBridge!(key);
    expect(note).toBe('Blip: the customer was handed back to the bot (admin: an operator ended it).');
  });
});
