/**
 * The Intercom adapter (`type: intercom`, REST 2.14) against the Intercom simulator over real HTTP
 * on loopback: what it sends (every request validated against Intercom's own API description,
 * normalised as test/helpers/intercom-spec.ts says), how it reads Intercom's signed webhooks, how
 * it fails, and — through the real service with the Blip simulator — that what agents do reaches
 * the customer once, in order, and nothing else does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IntercomSimulator, hubSignature, inboxHtml, type NotificationEvent, type RecordedRequest } from '../../simulators/intercom/index.js';
import { limeToContent } from '../../src/core/convert.js';
import type { Content } from '../../src/core/content.js';
import { DeliveryError } from '../../src/delivery/errors.js';
import { HttpClient } from '../../src/delivery/http.js';
import type { AttendanceInfo, Customer, HelpdeskAdapter, HelpdeskEvent, HelpdeskRef, TranscriptEntry } from '../../src/helpdesks/adapter.js';
import { IntercomConfig, intercomAdapter, transcriptText } from '../../src/helpdesks/intercom/index.js';
import { htmlImages, htmlToText } from '../../src/helpdesks/intercom/html.js';
import { BridgeError } from '../../src/http/errors.js';
import { MIME } from '../../src/lime/envelope.js';
import { IDENTIFIER, until } from '../helpers/harness.js';
import { intercomSpec, intercomSpecAvailable } from '../helpers/intercom-spec.js';
import { specPath, type OpenApi } from '../helpers/openapi.js';
import { customerParts, htmlLines, intercomFixture, type IntercomFixture } from '../flows/intercom-fixture.js';
import { startWorld, type FlowWorld } from '../flows/world.js';

const HAVE_SPEC = intercomSpecAvailable();
if (!HAVE_SPEC) console.warn(`[intercom adapter] ${specPath('intercom')} is absent: validation against Intercom's API description is skipped`);

const TOKEN = 'dG9rOmludGVyY29tLXVuaXQtdG9rZW4=';
const SECRET = 'intercom-client-secret-unit';
const ADMIN = { id: '991267459', name: 'Ciaran1 Lee', email: 'admin1@email.com' };
const ANA = { id: '991267460', name: 'Ana Souza', email: 'ana@example.com' };
const log = pino({ level: 'silent' });
const http = new HttpClient(5_000);
const media = { allowedHosts: ['127.0.0.1'], maxBytes: 1024 * 1024, timeoutMs: 5000 };
const attendance: AttendanceInfo = { id: 'att-1', bot: 'acme', openedAt: '2024-05-01T12:00:00.000Z' };
const ctx = (attempt = 1, deliveryId = 1) => ({ attempt, deliveryId });

let api: OpenApi | undefined;
let specCleanup = () => {};
let sim: IntercomSimulator;
let base: string;

// ─── what the adapter sent, checked against the description ────────────────────────────────────

/** Every request to the simulator and its answer, as the description types them. */
function checkTraffic(requests: readonly RecordedRequest[]): void {
  for (const r of requests) {
    const where = `${r.method} ${r.path}`;
    if (!r.route) throw new Error(`${where}: not an operation the simulator knows`);
    if (!String(r.headers['user-agent'] ?? '').startsWith('test/')) {
      // The adapter's own requests: authenticated and pinned to 2.14.
      expect(r.headers['intercom-version'], where).toBe('2.14');
      expect(r.headers['authorization'], where).toMatch(/^Bearer /);
    }
    if (!api) continue;
    if (r.body !== '') expect(api.request(r.method, r.path, r.body), `${where} request`).toBeUndefined();
    const problem = api.response(r.method, r.path, r.status, r.response);
    if (problem?.errors[0]?.startsWith(`status ${r.status} is not documented`)) {
      // 404 on find, 409 on create, 429s: not in 2.14, but Intercom's error.list all the same.
      expect(r.status, where).toBeGreaterThanOrEqual(400);
      expect(api.component('error', r.response), `${where} ${r.status}`).toBeUndefined();
    } else {
      expect(problem, `${where} ${r.status} response`).toBeUndefined();
    }
  }
}

const routes = () => sim.requests.map((r) => `${r.route} ${r.status}`);

// ─── a stand-in for the bridge's webhook route: verify raw bytes, then parse ───────────────────

interface Hit {
  notificationId: string;
  topic: string;
  status: number;
  events: HelpdeskEvent[];
}
let hits: Hit[] = [];

async function startReceiver(adapter: HelpdeskAdapter): Promise<{ server: Server; url: string }> {
  const hook = adapter.webhook!;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(raw.toString('utf8')) as NotificationEvent;
      const hit: Hit = { notificationId: body.id, topic: body.topic, status: 200, events: [] };
      hits.push(hit);
      const verdict = hook.verify(raw, req.headers);
      if (!verdict.ok) hit.status = 401;
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
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/helpdesk/acme/webhook` };
}

function eventsOf(notificationId: string): HelpdeskEvent[] {
  const hit = hits.find((h) => h.notificationId === notificationId);
  if (!hit) throw new Error(`notification ${notificationId} did not reach the receiver`);
  expect(hit.status).toBe(200);
  return hit.events;
}

// ─── fixtures ─────────────────────────────────────────────────────────────────────────────────

function config(over: Partial<IntercomConfig> = {}): IntercomConfig {
  const c: IntercomConfig = {
    type: 'intercom',
    accessToken: TOKEN,
    clientSecret: SECRET,
    baseUrl: base,
    adminId: ADMIN.id,
    externalIdPrefix: 'blip:',
    customAttributes: { plan: 'blip_plan', segment: 'blip_segment' },
    timeoutMs: 2_000,
    ...over,
  };
  expect(Value.Check(IntercomConfig, c)).toBe(true);
  return c;
}

const make = (over: Partial<IntercomConfig> = {}) => intercomAdapter.create(config(over), { http, log, botId: 'acme', media });

function newCustomer(over: Partial<Customer> = {}): Customer {
  const originator = `55119${Math.floor(Math.random() * 1e8)}@wa.gw.msging.net`;
  return {
    id: originator,
    address: `${randomUUID()}@tunnel.msging.net`,
    originator,
    router: 'acmerouter@msging.net',
    channel: 'wa.gw.msging.net',
    extras: {},
    ...over,
  };
}

const text = (t: string): Content => ({ type: 'text', text: t });
const message = (content: Content, at = new Date().toISOString()) => ({ id: randomUUID(), at, content });
/** Canonical content from a real LIME document, as the bridge makes it. */
function fromLime(type: string, content: unknown): Content {
  const c = limeToContent(type, content);
  if (c.kind !== 'content') throw new Error(`not a content: ${JSON.stringify(c)}`);
  return c.content;
}

async function deliveryError(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error('expected a DeliveryError');
}

/** A request to the simulator made by the test itself (as an admin via the API). */
async function asAdmin(method: 'POST', path: string, body: unknown): Promise<any> {
  const res = await request(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'intercom-version': '2.14', 'content-type': 'application/json', 'user-agent': 'test/1' },
    body: JSON.stringify(body),
  });
  expect(res.statusCode).toBe(200);
  return res.body.json();
}

let adapter: HelpdeskAdapter;
let receiver: { server: Server; url: string };
/** Blip's media host, as far as the adapter knows: serves `bytes of <path>`, or the status a `/fail-<status>/` path names. */
let files: { server: Server; url: string };

async function startFiles(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const fail = /^\/fail-(\d{3})\//.exec(req.url ?? '');
    if (fail) res.writeHead(Number(fail[1])).end();
    else res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(`bytes of ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  if (HAVE_SPEC) {
    const n = intercomSpec();
    api = n.api;
    specCleanup = n.cleanup;
  }
  sim = new IntercomSimulator({
    accessTokens: [TOKEN],
    clientSecret: SECRET,
    admins: [ADMIN, ANA],
    teams: [{ id: '5017691', name: 'Support' }],
    customAttributes: ['blip_plan', 'blip_segment'],
    webhookRetry: { maxAttempts: 1, delaysMs: [10], timeoutMs: 2_000, throttleDelayMs: 10 },
  });
  base = await sim.start();
  adapter = make();
  receiver = await startReceiver(adapter);
  files = await startFiles();
  await sim.setWebhook(receiver.url, { ping: false });
});

afterAll(async () => {
  await sim?.stop();
  await new Promise((r) => receiver?.server.close(r));
  await new Promise((r) => files?.server.close(r));
  specCleanup();
});

beforeEach(() => {
  sim.reset();
  sim.setLatency(0);
  hits = [];
});

afterEach(() => {
  checkTraffic(sim.requests);
});

it.skipIf(!HAVE_SPEC)('validates against the (normalised) Intercom 2.14 description', () => {
  expect(api!.request('POST', '/conversations/1/reply', { message_type: 'comment', type: 'user', body: 'x' })).toBeDefined(); // no contact id
});

// ─── config ───────────────────────────────────────────────────────────────────────────────────

describe('config', () => {
  it('defaults the US host, the external id prefix and the timeout, and describes every key', () => {
    const c = Value.Default(IntercomConfig, { type: 'intercom', accessToken: TOKEN, clientSecret: SECRET }) as IntercomConfig;
    expect(Value.Check(IntercomConfig, c)).toBe(true);
    expect(c).toMatchObject({ baseUrl: 'https://api.intercom.io', externalIdPrefix: 'blip:', customAttributes: {}, timeoutMs: 15_000 });
    expect(Value.Check(IntercomConfig, { ...c, region: 'eu' })).toBe(false);
    for (const [key, schema] of Object.entries(IntercomConfig.properties)) {
      if (key !== 'type') expect((schema as { description?: string }).description, key).toBeTruthy();
    }
  });
});

// ─── check ────────────────────────────────────────────────────────────────────────────────────

describe('check()', () => {
  it('is ok with a good token and an adminId that exists', async () => {
    const r = await adapter.check();
    expect(r.ok).toBe(true);
    expect(r.detail).toContain('a86dr8yl');
    expect(routes()).toEqual(['GET /me 200', 'GET /admins/{admin_id} 200']);
  });

  it('fails with a bad token, and names an adminId that is not in the workspace', async () => {
    const bad = await make({ accessToken: 'not-the-token-at-all' }).check();
    expect(bad).toMatchObject({ ok: false });
    expect(bad.detail).toMatch(/401.*unauthorized/);
    const noAdmin = await make({ adminId: '1234' }).check();
    expect(noAdmin.ok).toBe(false);
    expect(noAdmin.detail).toMatch(/adminId 1234.*404/);
  });
});

// ─── open ─────────────────────────────────────────────────────────────────────────────────────

describe('open()', () => {
  const transcript: TranscriptEntry[] = [
    { direction: 'customer', at: '2024-05-01T11:58:00.000Z', content: text('Oi') },
    { direction: 'bot', at: '2024-05-01T11:58:01.000Z', content: text('Olá! Escolha:\n1. Boleto\n2. Falar com atendente') },
    { direction: 'customer', at: '2024-05-01T11:58:30.000Z', content: text('2') },
  ];

  it('creates the contact by external_id with name, email, phone and the mapped custom attributes, then a conversation carrying the transcript', async () => {
    const customer = newCustomer({
      name: 'Maria Silva',
      email: 'maria@example.com',
      phone: '+5511999990001',
      extras: { plan: 'gold', segment: 'smb', unmapped: 'x' },
    });
    const ref = await adapter.open(attendance, customer, transcript, ctx());
    // An unknown external id is a 200 holding no contact (2.14 documents 200/401 only).
    expect(routes()).toEqual(['GET /contacts/find_by_external_id/{external_id} 200', 'POST /contacts 200', 'POST /conversations 200']);

    const contact = sim.contact(`blip:${customer.originator}`)!;
    expect(contact).toMatchObject({
      role: 'user',
      name: 'Maria Silva',
      email: 'maria@example.com',
      phone: '+5511999990001',
      custom_attributes: { blip_plan: 'gold', blip_segment: 'smb' },
    });
    expect(Object.keys(contact.custom_attributes)).toHaveLength(2);
    expect(ref).toEqual({ key: expect.any(String), data: { contactId: contact.id, externalId: `blip:${customer.originator}` } });

    const conversation = sim.conversation(ref.key)!;
    expect(conversation.contacts.contacts).toEqual([{ type: 'contact', id: contact.id, external_id: `blip:${customer.originator}` }]);
    // The first message (`source`) is the transcript, one line per line, in order.
    const lines = htmlLines(conversation.source.body);
    expect(lines).toEqual([
      'Conversation handed over by the Blip bot (wa.gw.msging.net).',
      'Before the hand-off:',
      'Customer: Oi',
      'Bot: Olá! Escolha:',
      '  1. Boleto',
      '  2. Falar com atendente',
      'Customer: 2',
    ]);
    expect(transcriptText(customer, transcript).split('\n').filter(Boolean)).toEqual(lines);
  });

  it('finds a returning customer by external_id, updates what Blip knows better, and creates no second contact', async () => {
    const customer = newCustomer({ name: 'Maria Silva', phone: '+5511999990001', extras: { plan: 'gold' } });
    const existing = sim.addContact({
      role: 'user',
      external_id: `blip:${customer.originator}`,
      name: 'maria',
      phone: '+5511999990001',
      custom_attributes: { blip_plan: 'silver' },
    });
    const ref = await adapter.open(attendance, customer, [], ctx());
    expect(ref.data).toMatchObject({ contactId: existing.id });
    expect(sim.contacts).toHaveLength(1);
    expect(routes()).toEqual(['GET /contacts/find_by_external_id/{external_id} 200', 'PUT /contacts/{contact_id} 200', 'POST /conversations 200']);
    const put = sim.requests.find((r) => r.route === 'PUT /contacts/{contact_id}')!;
    expect(put.body).toEqual({ name: 'Maria Silva', custom_attributes: { blip_plan: 'gold' } }); // only what changed
    expect(sim.contact(existing.id)).toMatchObject({ name: 'Maria Silva', custom_attributes: { blip_plan: 'gold' } });

    // Nothing changed: no update at all.
    sim.requests.length = 0;
    await adapter.open(attendance, customer, [], ctx());
    expect(routes()).toEqual(['GET /contacts/find_by_external_id/{external_id} 200', 'POST /conversations 200']);
  });

  it('two attendances opening at once for one customer: the create that loses gets 409 and uses the id Intercom names', async () => {
    const customer = newCustomer({ name: 'Race' });
    sim.setLatency(60); // both lookups answer 404 before either create lands
    const [a, b] = await Promise.all([make().open(attendance, customer, [], ctx()), make().open({ ...attendance, id: 'att-2' }, customer, [], ctx())]);
    sim.setLatency(0);
    expect(sim.contacts).toHaveLength(1);
    const id = sim.contacts[0]!.id;
    expect([a.data?.['contactId'], b.data?.['contactId']]).toEqual([id, id]);
    expect(
      sim.requests
        .filter((r) => r.route === 'POST /contacts')
        .map((r) => r.status)
        .sort(),
    ).toEqual([200, 409]);
    expect(sim.conversation(a.key)?.contacts.contacts[0]?.id).toBe(id);
    expect(sim.conversation(b.key)?.contacts.contacts[0]?.id).toBe(id);
  });

  it('a contact that already holds the email (another external_id) is used, named by the 409', async () => {
    const other = sim.addContact({ role: 'user', external_id: 'web-4242', email: 'maria@example.com' });
    const ref = await adapter.open(attendance, newCustomer({ email: 'MARIA@example.com' }), [], ctx());
    expect(ref.data).toMatchObject({ contactId: other.id });
    expect(sim.contacts).toHaveLength(1);
  });

  it('a 409 that names no contact is retried (the lookup then finds it)', async () => {
    sim.failNext('POST /contacts', { status: 409, count: 1 });
    const err = await deliveryError(adapter.open(attendance, newCustomer(), [], ctx()));
    expect(err).toMatchObject({ retryable: true, status: 409 });
  });

  it('copes with an unknown external id answered as a 404 too (unknownExternalId: not-found), and with a list that holds it', async () => {
    const strict = new IntercomSimulator({ accessTokens: [TOKEN], clientSecret: SECRET, admins: [ADMIN], unknownExternalId: 'not-found' });
    const url = await strict.start();
    try {
      const a = make({ baseUrl: url });
      const customer = newCustomer();
      const first = await a.open(attendance, customer, [], ctx());
      const again = await a.open(attendance, customer, [], ctx());
      expect(strict.requests.map((r) => `${r.route} ${r.status}`)).toEqual([
        'GET /contacts/find_by_external_id/{external_id} 404',
        'POST /contacts 200',
        'POST /conversations 200',
        'GET /contacts/find_by_external_id/{external_id} 200',
        'POST /conversations 200',
      ]);
      expect(again.data).toEqual(first.data);
    } finally {
      await strict.stop();
    }
  });

  it('a refused create is permanent; an outage is retryable', async () => {
    sim.failNext('POST /contacts', { status: 400, count: 1 });
    expect(await deliveryError(adapter.open(attendance, newCustomer(), [], ctx()))).toMatchObject({ retryable: false, status: 400 });
    sim.failNext('POST /conversations', { status: 503, count: 1 });
    expect(await deliveryError(adapter.open(attendance, newCustomer(), [], ctx()))).toMatchObject({ retryable: true, status: 503 });
  });
});

// ─── deliver ──────────────────────────────────────────────────────────────────────────────────

describe('deliver()', () => {
  let ref: HelpdeskRef;
  let contactId: string;
  beforeEach(async () => {
    ref = await adapter.open(attendance, newCustomer({ name: 'Maria' }), [], ctx());
    contactId = String(ref.data?.['contactId']);
    sim.requests.length = 0;
  });
  const parts = () => customerParts(sim.conversation(ref.key)!);
  const replies = () => sim.requests.filter((r) => r.route === 'POST /conversations/{conversation_id}/reply');

  it('posts customer text as a user comment by the contact and returns the part id', async () => {
    const r = await adapter.deliver(ref, attendance, message(text('Meu pedido não chegou\nPedido 123')), ctx());
    expect(replies().map((x) => x.body)).toEqual([
      { message_type: 'comment', type: 'user', intercom_user_id: contactId, body: 'Meu pedido não chegou\nPedido 123' },
    ]);
    expect(parts()).toEqual([{ id: r.vendorMessageId, text: 'Meu pedido não chegou\nPedido 123', attachments: [] }]);
  });

  it('re-hosts customer files in Intercom (attachment_files), never Blip’s expiring URLs; a file off media.allowedHosts goes as its link', async () => {
    const image = fromLime(MIME.mediaLink, { type: 'image/jpeg', uri: `${files.url}/cat.jpg`, title: 'cat.jpg', text: 'Olha isso' });
    const pdf = fromLime(MIME.mediaLink, { type: 'application/pdf', uri: `${files.url}/boleto.pdf`, title: 'boleto.pdf' });
    await adapter.deliver(ref, attendance, message(image), ctx());
    await adapter.deliver(ref, attendance, message(pdf), ctx());
    const [img, doc] = replies().map((x) => x.body as Record<string, unknown>);
    expect(img).toMatchObject({ body: 'Olha isso', attachment_files: [{ content_type: 'image/jpeg', name: 'cat.jpg', data: Buffer.from('bytes of /cat.jpg').toString('base64') }] });
    expect(doc).toMatchObject({ attachment_files: [{ content_type: 'application/pdf', name: 'boleto.pdf' }] });
    for (const r of [img, doc]) expect(r).not.toHaveProperty('attachment_urls');
    // What the agent opens is Intercom's copy, not Blip's link.
    for (const [a] of parts().map((p) => p.attachments)) {
      expect(a).toBeDefined();
      expect(a).not.toContain(files.url);
    }
    // An image without caption still has a body (Intercom requires one).
    await adapter.deliver(ref, attendance, message(fromLime(MIME.mediaLink, { type: 'image/png', uri: `${files.url}/x.png` })), ctx());
    expect((replies().at(-1)!.body as { body: string }).body).toBeTruthy();
    // Not on the allow-list: never fetched (no SSRF), the agent gets the link.
    await adapter.deliver(ref, attendance, message(fromLime(MIME.mediaLink, { type: 'image/png', uri: 'https://elsewhere.example/y.png' })), ctx());
    const last = replies().at(-1)!.body as { body: string };
    expect(last).not.toHaveProperty('attachment_files');
    expect(last.body).toContain('https://elsewhere.example/y.png');
  });

  it('a media download that fails for now is retried, not sent as a link', async () => {
    const m = message(fromLime(MIME.mediaLink, { type: 'image/png', uri: `${files.url}/fail-503/z.png` }));
    expect(await deliveryError(adapter.deliver(ref, attendance, m, ctx()))).toMatchObject({ retryable: true });
    expect(replies()).toHaveLength(0);
  });

  it('sends location, menus, replies and contact cards as readable text', async () => {
    const contents = [
      fromLime(MIME.location, { latitude: -23.55, longitude: -46.63, text: 'Loja Paulista' }),
      fromLime(MIME.select, { text: 'Escolha', options: [{ text: 'Boleto' }, { text: 'Cartão' }] }),
      fromLime(MIME.reply, { replied: { type: MIME.text, value: 'Este mesmo' }, inReplyTo: { id: 'x', type: MIME.text, value: 'Qual produto?' } }),
      fromLime(MIME.contact, { name: 'João', phoneNumber: '+5511988887777' }),
    ];
    for (const c of contents) await adapter.deliver(ref, attendance, message(c), ctx());
    const seen = parts().map((p) => p.text);
    expect(seen[0]).toMatch(/Loja Paulista[\s\S]*https:\/\/maps\.google\.com\/\?q=-23\.55,-46\.63/);
    expect(seen[1]).toMatch(/Escolha[\s\S]*1\. Boleto[\s\S]*2\. Cartão/);
    expect(seen[2]).toMatch(/> Qual produto\?[\s\S]*Este mesmo/);
    expect(seen[3]).toMatch(/João[\s\S]*\+5511988887777/);
    expect(replies().every((r) => !('attachment_urls' in (r.body as object)))).toBe(true);
  });

  it('a retry after a timeout finds the first attempt (multi-line text included) and does not post twice', async () => {
    const slow = make({ timeoutMs: 150 });
    const m = message(text('Primeira linha\nSegunda linha'));
    sim.setLatency(400); // Intercom takes it, the adapter gives up first
    const err = await deliveryError(slow.deliver(ref, attendance, m, ctx(1)));
    expect(err.retryable).toBe(true);
    await sim.waitFor((s) => s.requests.some((r) => r.route === 'POST /conversations/{conversation_id}/reply'));
    sim.setLatency(0);
    const again = await slow.deliver(ref, attendance, m, ctx(2));
    expect(parts()).toHaveLength(1);
    expect(again.vendorMessageId).toBe(parts()[0]!.id);
    expect(replies()).toHaveLength(1);
  });

  it('a retry after a timeout finds an image it already sent', async () => {
    const slow = make({ timeoutMs: 150 });
    const m = message(fromLime(MIME.mediaLink, { type: 'image/jpeg', uri: `${files.url}/a.jpg`, text: 'foto' }));
    sim.setLatency(400);
    await deliveryError(slow.deliver(ref, attendance, m, ctx(1)));
    await sim.waitFor((s) => s.requests.some((r) => r.route === 'POST /conversations/{conversation_id}/reply'));
    sim.setLatency(0);
    await slow.deliver(ref, attendance, m, ctx(2));
    expect(replies()).toHaveLength(1);
  });

  it('a retry whose first attempt never landed posts, even when the previous message had the same text', async () => {
    await adapter.deliver(ref, attendance, message(text('ok')), ctx(1, 1));
    const second = message(text('ok'));
    sim.failNext('POST /conversations/{conversation_id}/reply', { status: 503, count: 1 });
    await deliveryError(adapter.deliver(ref, attendance, second, ctx(1, 2)));
    const r = await adapter.deliver(ref, attendance, second, ctx(2, 2));
    expect(parts().map((p) => p.text)).toEqual(['ok', 'ok']);
    expect(r.vendorMessageId).toBe(parts()[1]!.id);
  });

  it('honours X-RateLimit-Reset on a 429 (Intercom sends no Retry-After) and Retry-After when there is one', async () => {
    const ahead = new IntercomSimulator({ accessTokens: [TOKEN], clientSecret: SECRET, rateLimit: { limit: 1 }, now: () => Date.now() + 3_600_000 });
    const url = await ahead.start();
    try {
      const limited = make({ baseUrl: url });
      expect((await limited.check()).ok).toBe(false); // GET /me takes the window's only request; /admins is refused
      const err = await deliveryError(limited.open(attendance, newCustomer(), [], ctx()));
      const refused = ahead.requests.at(-1)!;
      expect(refused.status).toBe(429);
      expect(refused.responseHeaders['retry-after']).toBeUndefined();
      const reset = Number(refused.responseHeaders['x-ratelimit-reset']) * 1000;
      expect(err).toMatchObject({ retryable: true, status: 429 });
      // The window ends an hour ahead of our clock (the simulator's clock runs ahead): wait for it.
      expect(err.retryAfterMs).toBeGreaterThan(3_590_000);
      expect(Math.abs(err.retryAfterMs! - (reset - Date.now()))).toBeLessThan(1_000);
      checkTraffic(ahead.requests);
    } finally {
      await ahead.stop();
    }
    sim.failNext('POST /conversations/{conversation_id}/reply', { status: 503, count: 1, retryAfter: 7 });
    expect(await deliveryError(adapter.deliver(ref, attendance, message(text('x')), ctx()))).toMatchObject({ retryable: true, retryAfterMs: 7_000 });
  });

  it('a deleted conversation is a permanent failure', async () => {
    const err = await deliveryError(adapter.deliver({ ...ref, key: '999' }, attendance, message(text('x')), ctx()));
    expect(err).toMatchObject({ retryable: false, status: 404 });
  });
});

// ─── close ────────────────────────────────────────────────────────────────────────────────────

describe('close()', () => {
  let ref: HelpdeskRef;
  beforeEach(async () => {
    ref = await adapter.open(attendance, newCustomer(), [], ctx());
    sim.requests.length = 0;
  });

  it('when the bridge ends it: an internal note with the reason, then a close with no message to the customer', async () => {
    await adapter.close!(ref, attendance, 'customer-inactive', ctx());
    const c = sim.conversation(ref.key)!;
    expect(c.state).toBe('closed');
    const [note, close] = c.conversation_parts.conversation_parts;
    expect(note).toMatchObject({ part_type: 'note', author: { type: 'admin', id: ADMIN.id } });
    expect(htmlToText(note!.body)).toBe('Blip: the customer was handed back to the bot (customer-inactive: the customer stopped answering).');
    expect(close).toMatchObject({ part_type: 'close', body: null });
    // A retry (the close failed after the note landed) finds the note and does not write it again.
    sim.requests.length = 0;
    await adapter.close!(ref, attendance, 'customer-inactive', ctx(2));
    expect(routes()).toEqual(['GET /conversations/{conversation_id} 200', 'POST /conversations/{conversation_id}/parts 200']);
  });

  it('a retry after a note that did not land writes it (the agent always learns why)', async () => {
    sim.failNext('POST /conversations/{conversation_id}/reply', { status: 503, count: 1 });
    await deliveryError(adapter.close!(ref, attendance, 'expired', ctx(1)));
    await adapter.close!(ref, attendance, 'expired', ctx(2));
    const kinds = sim.conversation(ref.key)!.conversation_parts.conversation_parts.map((p) => p.part_type);
    expect(kinds).toEqual(['note', 'close']);
  });

  it('does nothing when the agent closed it, or without an adminId', async () => {
    await adapter.close!(ref, attendance, 'agent', ctx());
    const { adminId: _adminId, ...noAdmin } = config();
    await intercomAdapter.create(noAdmin, { http, log, botId: 'acme', media }).close!(ref, attendance, 'admin', ctx());
    expect(sim.requests).toHaveLength(0);
  });
});

describe('messageStatus()', () => {
  let ref: HelpdeskRef;
  beforeEach(async () => {
    ref = await adapter.open(attendance, newCustomer(), [], ctx());
    sim.requests.length = 0;
  });

  it('a failed reply: an internal note with the code and reason, once even when retried; delivered/read show nothing', async () => {
    for (const status of ['sent', 'delivered', 'read'] as const) await adapter.messageStatus!(ref, attendance, { sourceId: 'part:1', status }, ctx());
    expect(sim.requests).toHaveLength(0);
    const update = { sourceId: 'part:1', status: 'failed', code: 'DELIVERY_DEAD', reason: 'Blip did not accept it after 20 attempts' } as const;
    await adapter.messageStatus!(ref, attendance, update, ctx(1));
    await adapter.messageStatus!(ref, attendance, update, ctx(2));
    const notes = sim.conversation(ref.key)!.conversation_parts.conversation_parts.filter((p) => p.part_type === 'note');
    expect(notes.map((n) => htmlToText(n.body))).toEqual(['Blip: a reply was not delivered to the customer (DELIVERY_DEAD: Blip did not accept it after 20 attempts).']);
    expect(notes[0]!.author).toMatchObject({ type: 'admin', id: ADMIN.id });
  });
});

// ─── webhooks ─────────────────────────────────────────────────────────────────────────────────

describe('webhooks: verify', () => {
  const body = Buffer.from(JSON.stringify({ type: 'notification_event', id: 'notif_1', topic: 'ping' }));
  const hook = () => adapter.webhook!;

  it("accepts Intercom's X-Hub-Signature (HMAC-SHA1 of the raw body with the client secret)", () => {
    expect(hook().verify(body, { 'x-hub-signature': hubSignature(SECRET, body) })).toEqual({ ok: true });
    // The research's vector: key "client-secret", body {"type":"notification_event","topic":"ping"}.
    const vector = make({ clientSecret: 'client-secret' }).webhook!;
    expect(
      vector.verify(Buffer.from('{"type":"notification_event","topic":"ping"}'), { 'x-hub-signature': 'sha1=afd46c2e2b3cd345f03cef349d0d10c6ebe3542a' }),
    ).toEqual({ ok: true });
  });

  it('refuses a missing, wrong, truncated or other-body signature', () => {
    for (const h of [
      {},
      { 'x-hub-signature': hubSignature('wrong-secret-here', body) },
      { 'x-hub-signature': hubSignature(SECRET, body).slice(0, 20) },
      { 'x-hub-signature': hubSignature(SECRET, `${body.toString()} `) },
      { 'x-hub-signature': '' },
    ]) {
      expect(hook().verify(body, h).ok).toBe(false);
    }
  });

  it('refuses a body that is not a notification with a 400', () => {
    for (const bad of [
      {},
      {
        type: 'notification_event',
        id: 'n',
        topic: 'conversation.admin.replied',
        data: { item: { type: 'conversation', id: '1', conversation_parts: { conversation_parts: [{ part_type: 'comment' }] } } },
      },
      [],
    ]) {
      try {
        hook().parse(bad, {});
        throw new Error('expected a BridgeError');
      } catch (err) {
        expect(err).toBeInstanceOf(BridgeError);
        expect((err as BridgeError).status).toBe(400);
      }
    }
  });
});

describe('webhooks: what reaches the customer', () => {
  let ref: HelpdeskRef;
  beforeEach(async () => {
    ref = await adapter.open(attendance, newCustomer({ name: 'Maria' }), [], ctx());
  });
  const key = () => ({ key: ref.key });

  it('an admin reply in Inbox HTML becomes clean text with its links and line breaks, with the agent', async () => {
    const r = await sim.adminReply(ref.key, 'Olá Maria!\nO boleto está em https://pay.example.com/b?id=1&x=2\n\nQualquer coisa, chame.', { adminId: ANA.id });
    const part = r.parts[0]!;
    expect(eventsOf(r.notification.id)).toEqual([
      {
        kind: 'agent.message',
        eventId: `part:${part.id}`,
        attendance: key(),
        message: {
          id: `part:${part.id}`,
          content: { type: 'text', text: 'Olá Maria!\nO boleto está em https://pay.example.com/b?id=1&x=2\n\nQualquer coisa, chame.' },
          agent: { id: ANA.id, name: ANA.name },
        },
      },
    ]);
  });

  it('admin attachments become media contents after the text; images inside the HTML too', async () => {
    const r = await sim.adminReply(
      ref.key,
      '<p class="no-margin">Segue o boleto</p><div class="intercom-container"><img src="https://downloads.intercomcdn.com/i/o/1/ab/mapa.png"></div>',
      {
        attachments: [
          { name: 'boleto.pdf', contentType: 'application/pdf', data: Buffer.from('%PDF-1.4') },
          { name: 'foto.jpg', contentType: 'image/jpeg', url: 'https://downloads.intercomcdn.com/i/o/2/cd/foto.jpg' },
        ],
      },
    );
    const id = r.parts[0]!.id;
    const events = eventsOf(r.notification.id);
    expect(events.map((e) => (e.kind === 'agent.message' ? [e.eventId, e.message.content.type] : e.kind))).toEqual([
      [`part:${id}`, 'text'],
      [`part:${id}:1`, 'media'],
      [`part:${id}:2`, 'media'],
      [`part:${id}:3`, 'media'],
    ]);
    const contents = events.map((e) => (e.kind === 'agent.message' ? e.message.content : undefined));
    expect(contents[0]).toEqual({ type: 'text', text: 'Segue o boleto' });
    expect(contents[1]).toMatchObject({ type: 'media', url: 'https://downloads.intercomcdn.com/i/o/1/ab/mapa.png', mimeType: 'image/png' });
    expect(contents[2]).toMatchObject({
      type: 'media',
      mimeType: 'application/pdf',
      name: 'boleto.pdf',
      size: 8,
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/_sim\/files\//),
    });
    expect(contents[3]).toMatchObject({ type: 'media', mimeType: 'image/jpeg', name: 'foto.jpg', url: 'https://downloads.intercomcdn.com/i/o/2/cd/foto.jpg' });
    expect((contents[2] as { text: string }).text).toContain('boleto.pdf');
  });

  it('an admin quick reply (API) becomes choices', async () => {
    await asAdmin('POST', `/conversations/${ref.key}/reply`, {
      message_type: 'quick_reply',
      type: 'admin',
      admin_id: ADMIN.id,
      body: '<p>Posso ajudar em mais algo?</p>',
      reply_options: [
        { text: 'Sim', uuid: randomUUID() },
        { text: 'Não', uuid: randomUUID() },
      ],
    });
    const hit = await until(() => hits.find((h) => h.topic === 'conversation.admin.replied'), 3000, 'quick reply notification');
    expect(hit.events).toEqual([
      expect.objectContaining({
        kind: 'agent.message',
        message: expect.objectContaining({
          content: { type: 'choices', text: 'Posso ajudar em mais algo?', prompt: 'Posso ajudar em mais algo?', options: [{ label: 'Sim' }, { label: 'Não' }] },
        }),
      }),
    ]);
  });

  it('notes never reach the customer, from the Inbox or the API', async () => {
    const r = await sim.adminNote(ref.key, 'cliente VIP, cuidado');
    expect(eventsOf(r.notification.id)).toEqual([{ kind: 'ignored', reason: 'topic conversation.admin.noted' }]);
    // And a note that comes inside another topic's parts is skipped too.
    const events = adapter.webhook!.parse(
      notification('conversation.admin.replied', [
        { id: '1', part_type: 'note', body: '<p>interno</p>', author: { type: 'admin', id: ADMIN.id } },
        { id: '2', part_type: 'comment', body: '<p>público</p>', author: { type: 'admin', id: ADMIN.id } },
      ]),
      {},
    );
    expect(events.map((e) => (e.kind === 'agent.message' ? e.message.content.text : e.kind))).toEqual(['público']);
  });

  it('conversation.admin.closed ends the attendance; a closing message goes first', async () => {
    const plain = await sim.close(ref.key);
    expect(eventsOf(plain.notification.id)).toEqual([
      { kind: 'attendance.ended', eventId: `close:${plain.parts[0]!.id}`, attendance: key(), reason: 'closed in Intercom' },
    ]);
    await sim.open(ref.key);
    const withBody = await sim.close(ref.key, { html: 'Obrigado pelo contato!' });
    const id = withBody.parts[0]!.id;
    expect(eventsOf(withBody.notification.id).map((e) => [e.kind, 'eventId' in e ? e.eventId : ''])).toEqual([
      ['agent.message', `part:${id}`],
      ['attendance.ended', `close:${id}`],
    ]);
  });

  it('"reply and close" (only conversation.admin.replied, with a close part) ends it after the reply', async () => {
    const r = await sim.adminReply(ref.key, 'Resolvido!', { close: true });
    expect(eventsOf(r.notification.id).map((e) => e.kind)).toEqual(['agent.message', 'attendance.ended']);
    // Without the close part in the payload, the conversation's state says it.
    const events = adapter.webhook!.parse(
      notification('conversation.admin.replied', [{ id: '7', part_type: 'comment', body: '<p>tchau</p>', author: { type: 'admin', id: ADMIN.id } }], {
        state: 'closed',
      }),
      {},
    );
    expect(events.map((e) => e.kind)).toEqual(['agent.message', 'attendance.ended']);
  });

  it('a bot (Fin, workflows) speaking or closing counts like an admin', async () => {
    const events = adapter.webhook!.parse(
      notification('conversation.admin.closed', [
        { id: '8', part_type: 'close', body: '<p>Fechado por inatividade</p>', author: { type: 'bot', id: '123', name: 'Fin' } },
      ]),
      {},
    );
    expect(events).toEqual([
      expect.objectContaining({
        kind: 'agent.message',
        message: expect.objectContaining({ content: { type: 'text', text: 'Fechado por inatividade' }, agent: { id: '123', name: 'Fin' } }),
      }),
      expect.objectContaining({ kind: 'attendance.ended', eventId: 'close:8' }),
    ]);
  });

  it('snoozed does not end the attendance (nor does reopening)', async () => {
    const s = await sim.snooze(ref.key);
    expect(eventsOf(s.notification.id)).toEqual([{ kind: 'ignored', reason: 'topic conversation.admin.snoozed' }]);
    const o = await sim.open(ref.key);
    expect(eventsOf(o.notification.id)[0]).toMatchObject({ kind: 'ignored' });
  });

  it('assignment names the assignee (not who assigned); a team is no agent; unassigning clears', async () => {
    const self = await sim.assign(ref.key, ANA.id, { adminId: ANA.id });
    expect(eventsOf(self.notification.id)).toEqual([
      { kind: 'agent.assigned', eventId: `assign:${self.parts[0]!.id}`, attendance: key(), agent: { id: ANA.id, name: ANA.name } },
    ]);
    const byOther = await sim.assign(ref.key, ANA.id, { adminId: ADMIN.id });
    expect(eventsOf(byOther.notification.id)).toEqual([expect.objectContaining({ kind: 'agent.assigned', agent: { id: ANA.id } })]);
    const team = await sim.assign(ref.key, '5017691', { team: true });
    expect(eventsOf(team.notification.id)[0]).toMatchObject({ kind: 'ignored' });
    const none = await sim.assign(ref.key, '0');
    expect(eventsOf(none.notification.id)).toEqual([expect.objectContaining({ kind: 'agent.assigned' })]);
    expect(eventsOf(none.notification.id)[0]).not.toHaveProperty('agent');
  });

  it("ignores the echoes of the bridge's own posts and the ping", async () => {
    await adapter.deliver(ref, attendance, message(text('do cliente')), ctx());
    await sim.ping();
    await until(() => hits.length >= 3 && hits, 3000, 'notifications');
    expect(hits.map((h) => [h.topic, h.status, h.events.map((e) => e.kind)])).toEqual([
      ['conversation.user.created', 200, ['ignored']],
      ['conversation.user.replied', 200, ['ignored']],
      ['ping', 200, ['ignored']],
    ]);
  });

  it('a forged notification is refused before parsing', async () => {
    const raw = JSON.stringify(
      notification('conversation.admin.replied', [{ id: '9', part_type: 'comment', body: '<p>forged</p>', author: { type: 'admin', id: ADMIN.id } }]),
    );
    const res = await request(receiver.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature': hubSignature('not-our-secret', raw) },
      body: raw,
    });
    await res.body.dump();
    expect(res.statusCode).toBe(401);
    expect(hits.at(-1)).toMatchObject({ status: 401, events: [] });
  });

  /** A notification about this test's conversation, as Intercom shapes it, with the given parts. */
  function notification(topic: string, parts: Array<Record<string, unknown>>, item: Record<string, unknown> = {}): NotificationEvent {
    return {
      type: 'notification_event',
      app_id: 'a86dr8yl',
      id: `notif_${randomUUID()}`,
      topic,
      data: {
        type: 'notification_event_data',
        item: {
          type: 'conversation',
          id: ref.key,
          state: 'open',
          ...item,
          conversation_parts: { type: 'conversation_part.list', conversation_parts: parts, total_count: parts.length },
        },
      },
    } as unknown as NotificationEvent;
  }
});

// ─── html.ts on the Inbox's HTML ──────────────────────────────────────────────────────────────

describe('html.ts', () => {
  it('turns Inbox HTML (the simulator writes it as the Inbox does) back into what the agent typed', () => {
    for (const typed of [
      'Olá!',
      'Linha 1\nLinha 2',
      'Parágrafo 1\n\nParágrafo 2\ncom quebra',
      'Veja https://x.example/a?b=1&c=2 agora',
      '2 < 3 & 5 > 4 "aspas"',
    ]) {
      expect(htmlToText(inboxHtml(typed))).toBe(typed);
    }
  });

  it('keeps links as "text (url)", lists, and drops markup and entities', () => {
    expect(
      htmlToText('<p class="no-margin">Leia <a href="https://help.example.com/artigo" target="_blank" rel="nofollow noopener noreferrer">o artigo</a>.</p>'),
    ).toBe('Leia o artigo (https://help.example.com/artigo).');
    expect(htmlToText('<p class="no-margin">Escreva para <a href="mailto:suporte@example.com">suporte@example.com</a></p>')).toBe(
      'Escreva para suporte@example.com',
    );
    expect(htmlToText('<p class="no-margin"><b>Importante:</b>&nbsp;traga o <i>RG</i></p><ul><li>Boleto</li><li>Cartão</li></ul>')).toBe(
      'Importante: traga o RG\n\n * Boleto\n * Cartão',
    );
    expect(htmlToText('<h2>Horários</h2><p>Seg a sex</p>')).toBe('Horários\n\nSeg a sex');
    expect(htmlToText('<p class="no-margin">Oi</p><p class="no-margin"></p><p class="no-margin"></p><p class="no-margin">Tchau</p>')).toBe('Oi\n\nTchau');
    expect(htmlToText(null)).toBe('');
    expect(htmlToText('<div class="intercom-container"><img src="https://downloads.intercomcdn.com/i/o/1/a.png"></div>')).toBe('');
  });

  it('finds the images of a body, once each, absolute only', () => {
    expect(
      htmlImages(
        '<div class="intercom-container"><img src="https://downloads.intercomcdn.com/i/o/1/a.png?x=1&amp;y=2"></div><img src=\'https://cdn.example.com/b.gif\'><img src="/relative.png"><img src="https://downloads.intercomcdn.com/i/o/1/a.png?x=1&amp;y=2">',
      ),
    ).toEqual(['https://downloads.intercomcdn.com/i/o/1/a.png?x=1&y=2', 'https://cdn.example.com/b.gif']);
    expect(htmlImages('<p>no images</p>')).toEqual([]);
  });
});

// ─── through the bridge: once, in order, and nothing that should not ─────────────────────────

describe('through the bridge (Blip simulator → bridge → Intercom simulator and back)', () => {
  let w: FlowWorld;
  let fx: IntercomFixture;
  const start = async (options: Parameters<typeof intercomFixture>[0] = {}) => {
    fx = intercomFixture(options);
    w = await startWorld(fx);
  };
  afterEach(async () => {
    checkTraffic(fx.sim.requests);
    await w?.stop();
  });

  async function opened(originator: string): Promise<{ key: string; tunnel: string }> {
    const { tunnel } = w.blip.addCustomer({ originator, name: 'Maria' });
    await w.blip.customerSays(originator, IDENTIFIER, { type: 'text/plain', content: 'preciso de ajuda' });
    const { key } = await fx.driver.waitOpened(originator);
    await until(() => fx.driver.customerTexts(key).includes('preciso de ajuda'), 10_000, 'the first message at the agent');
    return { key, tunnel };
  }
  const textsTo = (originator: string) => w.blip.messagesTo(originator).map((r) => (r.body.type === MIME.redirect ? 'REDIRECT' : r.body.content));

  it('the same notification delivered twice, and the same part in two notifications, reach the customer once', async () => {
    await start({ webhookParts: 'all' }); // every notification carries every part so far
    const customer = '5511900000001@wa.gw.msging.net';
    const { key } = await opened(customer);
    await fx.driver.reply(key, 'um');
    await fx.driver.reply(key, 'dois'); // its notification carries "um" again
    await w.blip.waitFor((r) => r.body?.content === 'dois', 10_000);
    const last = fx.sim.notifications.at(-1)!;
    expect((last.payload.data.item as { conversation_parts: { total_count: number } }).conversation_parts.total_count).toBeGreaterThanOrEqual(3);
    const again = await fx.sim.redeliver(last.id);
    expect(again.status).toBe(202);
    expect(JSON.parse(again.response)).toMatchObject({ accepted: 0, duplicates: 2 });
    // And as a new notification id carrying the same parts (another topic, or Intercom resending).
    const copy = JSON.stringify({ ...last.payload, id: `notif_${randomUUID()}` });
    const res = await request(fx.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature': hubSignature(fx.sim.clientSecret, copy) },
      body: copy,
    });
    expect(res.statusCode).toBeLessThan(300);
    expect(await res.body.json()).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(textsTo(customer)).toEqual(['um', 'dois']);
  });

  it('a bad signature is 401 and stores nothing', async () => {
    await start();
    await opened('5511900000002@wa.gw.msging.net');
    await until(async () => (await w.admin('GET', '/admin/deliveries?state=pending')).body.deliveries.length === 0, 10_000, 'idle');
    const rows = async () => {
      const db = w.bridge.store.kysely;
      const count = async (t: 'messages' | 'deliveries' | 'dedupe') =>
        Number(
          (
            await db
              .selectFrom(t)
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      return [await count('messages'), await count('deliveries'), await count('dedupe')];
    };
    const before = await rows();
    expect(await fx.driver.forgedWebhook()).toBe(401);
    expect(await rows()).toEqual(before);
  });

  it('notes and snoozes reach no one; the close message goes before the farewell and the Redirect', async () => {
    await start();
    const customer = '5511900000003@wa.gw.msging.net';
    const { key } = await opened(customer);
    await fx.sim.adminNote(key, 'nota interna');
    await fx.sim.snooze(key);
    await fx.driver.reply(key, 'voltei');
    await w.blip.waitFor((r) => r.body?.content === 'voltei', 10_000);
    const att = (await w.admin('GET', '/admin/attendances')).body.attendances[0];
    expect(att.state).toBe('open');
    const closed = await fx.sim.close(key, { html: 'Obrigado, até logo!' });
    expect(closed.firstAttempt?.status).toBe(202);
    await w.blip.waitFor((r) => r.body?.type === MIME.redirect, 10_000);
    expect(textsTo(customer)).toEqual(['voltei', 'Obrigado, até logo!', 'Goodbye!', 'REDIRECT']);
    // The bridge did not close an Intercom conversation the agent closed.
    expect(fx.sim.requests.filter((r) => r.route === 'POST /conversations/{conversation_id}/parts')).toHaveLength(0);
  });

  it('an admin close from the bridge closes the Intercom conversation with a note, and its echo changes nothing', async () => {
    await start();
    const customer = '5511900000004@wa.gw.msging.net';
    const { key } = await opened(customer);
    const att = (await w.admin('GET', '/admin/attendances')).body.attendances[0];
    expect((await w.admin('POST', `/admin/attendances/${att.id}/close`)).status).toBeLessThan(300);
    await until(() => fx.sim.conversation(key)?.state === 'closed', 10_000, 'the Intercom conversation closed');
    await until(() => fx.sim.notificationsFor(key, 'conversation.admin.closed')[0]?.state === 'delivered', 10_000, 'the close echo delivered');
    await w.blip.waitFor((r) => r.body?.type === MIME.redirect, 10_000);
    expect(textsTo(customer)).toEqual(['Goodbye!', 'REDIRECT']);
    const notes = fx.sim.conversation(key)!.conversation_parts.conversation_parts.filter((p) => p.part_type === 'note');
    expect(notes.map((p) => htmlToText(p.body))).toEqual([expect.stringContaining('admin')]);
    expect(await fx.driver.waitClosedByBridge!(key)).toEqual({ note: 'Blip: the customer was handed back to the bot (admin: an operator ended it).' });
  });
});
