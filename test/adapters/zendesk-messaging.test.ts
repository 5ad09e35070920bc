/**
 * The Zendesk messaging adapter (`type: zendesk-messaging`: Sunshine Conversations v2 + Agent
 * Workspace) against the Zendesk simulator over real HTTP on loopback: every SunCo request it
 * sends and every answer it gets is validated against Zendesk's own description
 * (../shared/specs/sunshine-conversations/openapi.yaml, normalised by test/helpers/sunco-spec.ts),
 * as is every webhook payload it reads; then, through the real service with the Blip simulator,
 * that what agents do reaches the customer once, in order, and nothing else does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ZendeskSimulator, sunCoJwt, type ApiCall, type ScMessage, type ScWebhookPayload } from '../../simulators/zendesk/index.js';
import { DeliveryError } from '../../src/delivery/errors.js';
import { HttpClient, type HttpRequest, type HttpResponse } from '../../src/delivery/http.js';
import type { AttendanceInfo, Customer, HelpdeskAdapter, HelpdeskEvent, HelpdeskRef, TranscriptEntry } from '../../src/helpdesks/adapter.js';
import { splitText } from '../../src/helpdesks/zendesk/common.js';
import { ZendeskMessagingConfig, zendeskMessagingAdapter } from '../../src/helpdesks/zendesk/messaging.js';
import { BridgeError } from '../../src/http/errors.js';
import { IDENTIFIER, until } from '../helpers/harness.js';
import type { OpenApi } from '../helpers/openapi.js';
import { SUNCO_EVENT_COMPONENT, SUNCO_SPEC, explain, suncoSpec, suncoSpecAvailable } from '../helpers/sunco-spec.js';
import { startWorld, type FlowWorld } from '../flows/world.js';
import { SC_KEY, SC_WEBHOOK_SECRET, messageText, zendeskMessagingFixture, type ZendeskFixture } from '../flows/zendesk-fixture.js';

const HAVE_SPEC = suncoSpecAvailable();
if (!HAVE_SPEC)
  console.warn(`[zendesk-messaging] ../shared/specs/${SUNCO_SPEC} is absent: validation against the Sunshine Conversations description is SKIPPED`);
const api: OpenApi | undefined = HAVE_SPEC ? suncoSpec() : undefined;

const log = pino({ level: 'silent' });
const media = { allowedHosts: ['127.0.0.1'], maxBytes: 1024 * 1024, timeoutMs: 5000 };
const ctx = (attempt = 1, deliveryId = 1) => ({ attempt, deliveryId });
const newAttendance = (): AttendanceInfo => ({ id: randomUUID(), bot: 'acme', openedAt: new Date().toISOString() });

/** An HttpClient that lets a test act just before a request, or lose its answer after Zendesk applied it. */
class TappedHttp extends HttpClient {
  before: ((req: HttpRequest) => Promise<void> | void) | undefined;
  after: ((req: HttpRequest, res: HttpResponse) => void) | undefined;
  override async request(req: HttpRequest): Promise<HttpResponse> {
    await this.before?.(req);
    const res = await super.request(req);
    this.after?.(req, res);
    return res;
  }
}

let sim: ZendeskSimulator;
let http: TappedHttp;
let files: Server;
let filesUrl: string;
let checkedCalls = 0;

// ─── what the adapter sent, checked against the description ────────────────────────────────────

/** Every SunCo request since the last check and its answer, as the description types them. */
function checkTraffic(): void {
  const calls = sim.calls.slice(checkedCalls);
  checkedCalls = sim.calls.length;
  for (const c of calls) checkCall(c);
}

function checkCall(c: ApiCall): void {
  if (c.api !== 'sc') return;
  const where = `${c.method} ${c.path} → ${c.status}`;
  const path = c.path.replace(/^\/sc/, '');
  if (c.op === 'UploadAttachment') {
    // multipart/form-data with the file in `source` (spec attachmentUploadBody): the simulator refuses anything else.
    expect(String(c.headers['content-type']), where).toMatch(/^multipart\/form-data; boundary=/);
  } else if (c.body !== undefined && api) {
    expect(explain(api.request(c.method, path, c.body)), `${where} request`).toBe('');
  }
  if (!api) return;
  const documented = api.response(c.method, path, c.status, c.response);
  if (documented?.errors.some((e) => e.startsWith('status '))) {
    // 401, 429… are documented once, in the introduction: the shared errorResponse.
    expect(explain(api.component('errorResponse', c.response)), where).toBe('');
  } else {
    expect(explain(documented), where).toBe('');
  }
}

const ops = (from = 0) =>
  sim.calls
    .slice(from)
    .filter((c) => c.api === 'sc')
    .map((c) => `${c.op} ${c.status}`);

// ─── a stand-in for the bridge's webhook route: verify raw bytes, then parse ───────────────────

interface Hit {
  payload: ScWebhookPayload;
  status: number;
  events: HelpdeskEvent[];
}
let hits: Hit[] = [];
let receiver: Server;
let receiverUrl: string;
let receiving: HelpdeskAdapter;

async function startReceiver(): Promise<void> {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const payload = JSON.parse(raw.toString('utf8')) as ScWebhookPayload;
      const hit: Hit = { payload, status: 200, events: [] };
      hits.push(hit);
      const hook = receiving.webhook!;
      if (!hook.verify(raw, req.headers).ok) hit.status = 401;
      else {
        try {
          hit.events = hook.parse(payload, req.headers);
        } catch (err) {
          hit.status = err instanceof BridgeError ? err.status : 500;
        }
      }
      res.writeHead(hit.status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/helpdesk/acme/webhook`;
}

/** The events the adapter made of the webhook that carried SunCo event `eventId`. */
async function eventsFor(match: (e: ScWebhookPayload['events'][number]) => boolean, what: string): Promise<HelpdeskEvent[]> {
  const hit = await until(() => hits.find((h) => h.payload.events.some(match)), 5_000, what);
  expect(hit.status).toBe(200);
  const i = hit.payload.events.findIndex(match);
  return [hit.events[i]!];
}

// ─── fixtures ─────────────────────────────────────────────────────────────────────────────────

function config(over: Partial<ZendeskMessagingConfig> = {}): ZendeskMessagingConfig {
  const c = sim.credentials.sunco;
  const cfg = Value.Default(ZendeskMessagingConfig, {
    type: 'zendesk-messaging',
    baseUrl: c.baseUrl,
    appId: c.appId,
    keyId: c.keyId,
    keySecret: c.keySecret,
    webhookSecret: c.webhookSecret,
    ticket: { tags: ['blip', 'whatsapp'], groupId: '360000000001', fields: { '360011112222': 'plan', '360033334444': 'cpf' } },
    timeoutMs: 2_000,
    ...over,
  }) as ZendeskMessagingConfig;
  expect(Value.Check(ZendeskMessagingConfig, cfg)).toBe(true);
  return cfg;
}

const make = (over: Partial<ZendeskMessagingConfig> = {}) => zendeskMessagingAdapter.create(config(over), { http, log, botId: 'acme', media });

function newCustomer(over: Partial<Customer> = {}): Customer {
  const originator = `55119${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}@wa.gw.msging.net`;
  return {
    id: originator,
    address: `${randomUUID()}@tunnel.msging.net`,
    originator,
    router: 'acmerouter@msging.net',
    channel: 'wa.gw.msging.net',
    name: 'Maria Silva',
    extras: { plan: 'gold', cpf: '123.456.789-00' },
    ...over,
  };
}

const transcript: TranscriptEntry[] = [
  { direction: 'customer', at: '2024-05-01T11:59:00.000Z', content: { type: 'text', text: 'Oi' } },
  { direction: 'bot', at: '2024-05-01T11:59:01.000Z', content: { type: 'text', text: 'Olá! Como posso ajudar?\nEscolha uma opção.' } },
  { direction: 'customer', at: '2024-05-01T11:59:30.000Z', content: { type: 'text', text: 'Quero falar com uma pessoa' } },
];

const text = (t: string) => ({ id: randomUUID(), at: new Date().toISOString(), content: { type: 'text' as const, text: t } });

beforeAll(async () => {
  http = new TappedHttp(5_000);
  sim = new ZendeskSimulator({
    sunco: {
      keys: [SC_KEY],
      webhook: { secret: SC_WEBHOOK_SECRET },
      switchboard: { deliverStandbyEvents: false },
      webhookRetryDelaysMs: [30, 60, 120, 240],
    },
  });
  await sim.start();
  await startReceiver();
  sim.setSunCoWebhookTarget(receiverUrl);
  files = createServer((req, res) => {
    if (req.url === '/boleto.pdf') res.writeHead(200, { 'content-type': 'application/pdf' }).end(Buffer.from('%PDF-1.4 boleto'));
    else if (req.url === '/foto.png') res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  receiving = make();
});

afterAll(async () => {
  await sim.stop();
  await new Promise((r) => receiver.close(r));
  await new Promise((r) => files.close(r));
  await http.close();
});

beforeEach(() => {
  http.before = undefined;
  http.after = undefined;
});

afterEach(async () => {
  checkTraffic();
  await sim.webhooksIdle(5_000);
  for (const h of hits) {
    if (!api) break;
    // Every payload the adapter read is what the spec's Webhook Event describes.
    expect(explain(api.component('appSubSchema', h.payload.app))).toBe('');
    for (const e of h.payload.events) expect(explain(api.component(SUNCO_EVENT_COMPONENT[e.type] ?? `no component for ${e.type}`, e))).toBe('');
  }
  hits = [];
  sim.reset();
  checkedCalls = 0;
});

// ─── config ───────────────────────────────────────────────────────────────────────────────────

describe('config', () => {
  it('defaults Basic auth, the switchboard names, empty ticket data and the timeout, and describes every key', () => {
    const cfg = Value.Default(ZendeskMessagingConfig, {
      type: 'zendesk-messaging',
      baseUrl: 'https://acme.zendesk.com/sc',
      appId: 'a',
      keyId: 'app_1',
      keySecret: 's',
      webhookSecret: '12345678',
    }) as ZendeskMessagingConfig;
    expect(cfg).toMatchObject({
      auth: 'basic',
      switchboardIntegration: 'blip-bridge',
      agentWorkspace: 'zd-agentWorkspace',
      ticket: { tags: [], fields: {} },
      timeoutMs: 15_000,
    });
    expect(Value.Check(ZendeskMessagingConfig, cfg)).toBe(true);
    for (const [k, v] of Object.entries(ZendeskMessagingConfig.properties))
      if (k !== 'type') expect((v as { description?: string }).description, k).toBeTruthy();
    expect(Value.Check(ZendeskMessagingConfig, { ...cfg, webhookSecret: 'short' })).toBe(false);
  });
});

describe('check()', () => {
  it('is ok with an app key whose switchboard has our integration and Agent Workspace', async () => {
    const r = await make().check();
    expect(r).toMatchObject({ ok: true });
    expect(ops()).toEqual(['ListSwitchboards 200', 'ListSwitchboardIntegrations 200']);
  });

  it('names a wrong key, and a switchboard integration that does not exist', async () => {
    expect(await make({ keySecret: 'wrong' }).check()).toMatchObject({ ok: false, detail: expect.stringContaining('401') });
    expect(await make({ switchboardIntegration: 'my-bridge' }).check()).toMatchObject({ ok: false, detail: expect.stringContaining('my-bridge not found') });
  });
});

// ─── open ─────────────────────────────────────────────────────────────────────────────────────

describe('open()', () => {
  const adapter = () => make();

  it('creates the user by externalId, a personal conversation, the transcript, and hands it to Agent Workspace with the ticket data', async () => {
    const customer = newCustomer();
    const att = newAttendance();
    const ref = await adapter().open(att, customer, transcript, ctx());
    expect(ops()).toEqual([
      'GetUser 404',
      'CreateUser 201',
      'CreateConversation 201',
      'PassControl 200', // to ourselves: no message reaches Agent Workspace before its metadata
      'PostMessage 201',
      'PassControl 200', // to Agent Workspace, with the metadata
      'OfferControl 200', // back to ourselves, so the conversation's events keep coming
    ]);
    const user = sim.sunco.findUser(customer.id)!;
    expect(user).toMatchObject({ externalId: customer.id, profile: { givenName: 'Maria Silva' } });
    expect(ref).toEqual({ key: expect.any(String), data: { userId: user.id, externalId: customer.id } });

    const conv = sim.conversation(ref.key)!;
    expect(conv).toMatchObject({ type: 'personal', participants: [{ userId: user.id, subscribeSDKClient: false }], metadata: { bridgeAttendanceId: att.id } });
    const [first] = conv.messages;
    expect(conv.messages).toHaveLength(1);
    expect(first!.author).toMatchObject({ type: 'business', displayName: 'Blip bot' });
    expect(messageText(first!).split('\n')).toEqual([
      'Handed over by the Blip bot (wa.gw.msging.net).',
      '',
      'Conversation before the hand-off:',
      'Customer: Oi',
      'Bot: Olá! Como posso ajudar?',
      '  Escolha uma opção.',
      'Customer: Quero falar com uma pessoa',
    ]);

    // The ticket was created by the passControl, with everything: not "metadata arrived too late".
    const t = sim.ticketOf(ref.key)!;
    expect(t).toMatchObject({
      createdBy: 'passControl',
      firstMessageId: first!.id,
      transcript: [first!.id],
      requesterName: 'Maria Silva',
      tags: ['blip', 'whatsapp'],
      groupId: '360000000001',
      customFields: { '360011112222': 'gold', '360033334444': '123.456.789-00' },
      ignoredMetadata: [],
    });
    expect(sim.switchboardState(ref.key)).toEqual({ active: 'zd-agentWorkspace', pending: 'blip-bridge' });
  });

  it('finds a returning customer by externalId and creates no second user', async () => {
    const customer = newCustomer();
    await adapter().open(newAttendance(), customer, [], ctx());
    const from = sim.calls.length;
    const ref = await adapter().open(newAttendance(), customer, [], ctx());
    expect(ops(from).slice(0, 2)).toEqual(['GetUser 200', 'CreateConversation 201']);
    expect([...sim.sunco.users.values()].filter((u) => u.externalId === customer.id)).toHaveLength(1);
    // Each attendance its own conversation and ticket (multi-conversations).
    expect(sim.messagingTickets.map((t) => t.conversationId)).toContain(ref.key);
    expect(sim.messagingTickets).toHaveLength(2);
  });

  it('a create that loses a race (409) reads the user the other attendance created', async () => {
    const customer = newCustomer();
    http.before = async (req) => {
      if (req.method === 'POST' && req.url.endsWith('/users')) {
        http.before = undefined;
        // Another replica opening the same customer gets there first.
        const res = await request(`${sim.url}/sc/v2/apps/${sim.sunco.appId}/users`, {
          method: 'POST',
          headers: { authorization: sim.suncoAuthorization(), 'content-type': 'application/json' },
          body: JSON.stringify({ externalId: customer.id }),
        });
        expect(res.statusCode).toBe(201);
        await res.body.dump();
      }
    };
    const ref = await adapter().open(newAttendance(), customer, [], ctx());
    expect(ops().slice(0, 5)).toEqual(['GetUser 404', 'CreateUser 201', 'CreateUser 409', 'GetUser 200', 'CreateConversation 201']);
    expect((ref.data as { userId: string }).userId).toBe(sim.sunco.findUser(customer.id)!.id);
  });

  it('without a name or extras, the ticket gets only what is known; an empty transcript still marks where it starts', async () => {
    const { name: _unnamed, ...anonymous } = newCustomer({ extras: {} });
    const ref = await make({ ticket: { tags: [], fields: {} } }).open(newAttendance(), anonymous, [], ctx());
    const t = sim.ticketOf(ref.key)!;
    expect(t.metadata).toEqual({ first_message_id: t.firstMessageId });
    expect(t.tags).toEqual([]);
    expect(t.customFields).toEqual({});
  });

  it('a retry after the hand-off answer was lost reuses the conversation: one transcript, one ticket, its metadata applied', async () => {
    const customer = newCustomer();
    const att = newAttendance();
    let passes = 0;
    http.after = (req) => {
      if (req.url.endsWith('/passControl') && ++passes === 2) throw new DeliveryError('socket hang up (answer lost)', true);
    };
    await expect(adapter().open(att, customer, transcript, ctx(1))).rejects.toThrow('answer lost');
    http.after = undefined;
    const ref = await adapter().open(att, customer, transcript, ctx(2));
    expect(sim.sunco.conversations.size).toBe(1);
    expect(sim.conversation(ref.key)!.messages).toHaveLength(1);
    expect(sim.messagingTickets).toHaveLength(1);
    expect(sim.ticketOf(ref.key)).toMatchObject({ createdBy: 'passControl', ignoredMetadata: [] });
    expect(sim.switchboardState(ref.key)).toEqual({ active: 'zd-agentWorkspace', pending: 'blip-bridge' });
  });

  it('a retry after the conversation was created but before the hand-off goes on from there', async () => {
    const customer = newCustomer();
    const att = newAttendance();
    sim.failNext('sc:PassControl', { status: 503 });
    await expect(adapter().open(att, customer, transcript, ctx(1))).rejects.toMatchObject({ retryable: true, status: 503 });
    const ref = await adapter().open(att, customer, transcript, ctx(2));
    expect(sim.sunco.conversations.size).toBe(1);
    expect(sim.ticketOf(ref.key)).toMatchObject({ createdBy: 'passControl', requesterName: 'Maria Silva' });
  });

  it('a failed offerControl fails the open; the retry offers again without a second conversation, transcript or ticket', async () => {
    const customer = newCustomer();
    const att = newAttendance();
    sim.failNext('sc:OfferControl', { status: 503 });
    await expect(adapter().open(att, customer, transcript, ctx(1))).rejects.toMatchObject({ retryable: true, status: 503 });
    // Handed over, but nothing brings the conversation's events to us yet: the open is not done.
    const conv = [...sim.sunco.conversations.values()][0]!;
    expect(sim.switchboardState(conv.id)).toEqual({ active: 'zd-agentWorkspace' });
    const from = sim.calls.length;
    const ref = await adapter().open(att, customer, transcript, ctx(2));
    expect(ref.key).toBe(conv.id);
    expect(ops(from)).toEqual(['GetUser 200', 'ListConversations 200', 'ListMessages 200', 'OfferControl 200']);
    expect(sim.sunco.conversations.size).toBe(1);
    expect(sim.conversation(ref.key)!.messages).toHaveLength(1);
    expect(sim.messagingTickets).toHaveLength(1);
    expect(sim.switchboardState(ref.key)).toEqual({ active: 'zd-agentWorkspace', pending: 'blip-bridge' });
    // A third attempt (the second's answer lost) changes nothing either.
    await adapter().open(att, customer, transcript, ctx(3));
    expect(sim.messagingTickets).toHaveLength(1);
    expect(sim.switchboardState(ref.key)).toEqual({ active: 'zd-agentWorkspace', pending: 'blip-bridge' });
  });

  it('Basic and JWT auth both work; the JWT is HS256 with the key id as kid and scope app', async () => {
    const jwtAdapter = make({ auth: 'jwt' });
    const from = sim.calls.length;
    const ref = await jwtAdapter.open(newAttendance(), newCustomer(), [], ctx());
    await jwtAdapter.deliver(ref, newAttendance(), text('via JWT'), ctx());
    const auths = sim.calls.slice(from).map((c) => String(c.headers['authorization']));
    expect(new Set(auths)).toEqual(new Set([`Bearer ${sunCoJwt(SC_KEY, { scope: 'app' })}`]));
    const [head, body] = auths[0]!.slice('Bearer '.length).split('.');
    expect(JSON.parse(Buffer.from(head!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT', kid: SC_KEY.id });
    expect(JSON.parse(Buffer.from(body!, 'base64url').toString())).toEqual({ scope: 'app' });

    const basic = sim.calls.length;
    await make({ auth: 'basic' }).open(newAttendance(), newCustomer(), [], ctx());
    expect(sim.calls.slice(basic).every((c) => c.headers['authorization'] === `Basic ${Buffer.from(`${SC_KEY.id}:${SC_KEY.secret}`).toString('base64')}`)).toBe(
      true,
    );
    await expect(make({ auth: 'jwt', keySecret: 'not-the-secret' }).open(newAttendance(), newCustomer(), [], ctx())).rejects.toMatchObject({
      status: 401,
      retryable: false,
    });
  });
});

// ─── deliver ──────────────────────────────────────────────────────────────────────────────────

describe('deliver()', () => {
  let adapter: HelpdeskAdapter;
  let ref: HelpdeskRef;
  const att = newAttendance();
  beforeEach(async () => {
    adapter = make();
    ref = await adapter.open(att, newCustomer(), [], ctx());
  });
  const userMessages = () => sim.conversation(ref.key)!.messages.filter((m) => m.author.type === 'user');

  it('posts the customer text as the user and returns its id; the ticket sees it', async () => {
    const m = text('Meu pedido não chegou');
    const r = await adapter.deliver(ref, att, m, ctx());
    const [posted] = userMessages();
    expect(r).toEqual({ vendorMessageId: posted!.id });
    expect(posted).toMatchObject({
      author: { type: 'user', userId: (ref.data as { userId: string }).userId },
      content: { type: 'text', text: 'Meu pedido não chegou' },
      metadata: { blipBridgeMessageId: m.id },
    });
    expect(sim.ticketOf(ref.key)!.messages).toContain(posted!.id);
  });

  it('splits text over 4096 characters at line or word breaks, never inside a surrogate pair', async () => {
    const long = `${'a'.repeat(4095)}😀${'b'.repeat(4000)} ${'c'.repeat(3000)}`;
    await adapter.deliver(ref, att, text(long), ctx());
    const pieces = userMessages().map(messageText);
    expect(pieces.length).toBe(3);
    for (const p of pieces) {
      expect(p.length).toBeLessThanOrEqual(4096);
      expect(p).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    }
    expect(pieces[0]).toBe('a'.repeat(4095));
    expect(pieces[1]).toBe(`😀${'b'.repeat(4000)}`);
    expect(pieces[2]).toBe('c'.repeat(3000));
  });

  it('a retry after a piece of a split text landed posts only the missing pieces', async () => {
    const long = ['x'.repeat(4000), 'y'.repeat(4000), 'z'.repeat(4000)].join('\n');
    const m = text(long);
    let posts = 0;
    http.after = (req) => {
      if (req.url.endsWith('/messages') && req.method === 'POST' && ++posts === 2) throw new DeliveryError('timeout (answer lost)', true);
    };
    await expect(adapter.deliver(ref, att, m, ctx(1))).rejects.toThrow('answer lost');
    http.after = undefined;
    const r = await adapter.deliver(ref, att, m, ctx(2));
    expect(userMessages().map(messageText)).toEqual(['x'.repeat(4000), 'y'.repeat(4000), 'z'.repeat(4000)]);
    expect(r.vendorMessageId).toBe(userMessages()[2]!.id);
    // And a retry of something that fully landed posts nothing.
    const before = userMessages().length;
    await adapter.deliver(ref, att, m, ctx(3));
    expect(userMessages()).toHaveLength(before);
  });

  it('uploads media through the attachments API (multipart `source`), then sends an image or a file', async () => {
    const from = sim.calls.length;
    await adapter.deliver(
      ref,
      att,
      {
        id: randomUUID(),
        at: new Date().toISOString(),
        content: { type: 'media', url: `${filesUrl}/foto.png`, mimeType: 'image/png', name: 'foto.png', caption: 'meu comprovante', text: 'meu comprovante' },
      },
      ctx(),
    );
    await adapter.deliver(
      ref,
      att,
      {
        id: randomUUID(),
        at: new Date().toISOString(),
        content: { type: 'media', url: `${filesUrl}/boleto.pdf`, mimeType: 'application/pdf', text: '📎 boleto' },
      },
      ctx(),
    );
    expect(ops(from)).toEqual(['UploadAttachment 201', 'PostMessage 201', 'UploadAttachment 201', 'PostMessage 201']);
    const uploads = sim.calls.slice(from).filter((c) => c.op === 'UploadAttachment');
    expect(uploads[0]!.query).toContain('access=public');
    expect(uploads[0]!.query).toContain(`conversationId=${ref.key}`);
    const stored = [...sim.sunco.attachments.values()];
    expect(stored.map((a) => [a.name, a.mediaType, a.bytes.length, a.conversationId])).toEqual([
      ['foto.png', 'image/png', 7, ref.key],
      ['attachment.pdf', 'application/pdf', 15, ref.key],
    ]);
    const [img, pdf] = userMessages();
    expect(img!.content).toMatchObject({
      type: 'image',
      mediaUrl: stored[0]!.mediaUrl,
      altText: 'foto.png',
      text: 'meu comprovante',
      mediaType: 'image/png',
      mediaSize: 7,
    });
    expect(pdf!.content).toMatchObject({ type: 'file', mediaUrl: stored[1]!.mediaUrl, mediaType: 'application/pdf' });
    // The URL SunCo gave serves the bytes (what the agent opens).
    const served = await request(stored[1]!.mediaUrl);
    expect(Buffer.from(await served.body.arrayBuffer()).toString()).toBe('%PDF-1.4 boleto');
  });

  it('refuses media from hosts outside media.allowedHosts (nothing uploaded)', async () => {
    const from = sim.calls.length;
    const p = adapter.deliver(
      ref,
      att,
      { id: randomUUID(), at: new Date().toISOString(), content: { type: 'media', url: 'http://169.254.169.254/latest', mimeType: 'image/png', text: 'x' } },
      ctx(),
    );
    await expect(p).rejects.toMatchObject({ retryable: false });
    expect(ops(from)).toEqual([]);
  });

  it('sends a location as a location; contacts, menus and replies as their readable text', async () => {
    await adapter.deliver(
      ref,
      att,
      {
        id: randomUUID(),
        at: new Date().toISOString(),
        content: { type: 'location', latitude: -23.55, longitude: -46.63, name: 'Loja', address: 'Av. Paulista, 1000', text: '📍 Loja' },
      },
      ctx(),
    );
    await adapter.deliver(
      ref,
      att,
      { id: randomUUID(), at: new Date().toISOString(), content: { type: 'contact', name: 'João', phone: '+5511999999999', text: '👤 João +5511999999999' } },
      ctx(),
    );
    await adapter.deliver(
      ref,
      att,
      { id: randomUUID(), at: new Date().toISOString(), content: { type: 'reply', reply: 'sim', inReplyTo: { text: 'Confirma?' }, text: '> Confirma?\nsim' } },
      ctx(),
    );
    const [loc, contact, reply] = userMessages();
    expect(loc!.content).toMatchObject({
      type: 'location',
      coordinates: { lat: -23.55, long: -46.63 },
      location: { name: 'Loja', address: 'Av. Paulista, 1000' },
    });
    expect(contact!.content).toEqual({ type: 'text', text: '👤 João +5511999999999' });
    expect(reply!.content).toEqual({ type: 'text', text: '> Confirma?\nsim' });
  });

  it('423 (the 30,000-message limit) is permanent; 429 and 5xx are retried, honouring Retry-After', async () => {
    sim.failNext('sc:PostMessage', { status: 423 });
    await expect(adapter.deliver(ref, att, text('x'), ctx())).rejects.toMatchObject({ retryable: false, status: 423 });
    sim.failNext('sc:PostMessage', { status: 429, retryAfter: '7' });
    await expect(adapter.deliver(ref, att, text('x'), ctx())).rejects.toMatchObject({ retryable: true, status: 429, retryAfterMs: 7000 });
    sim.failNext('sc:PostMessage', { status: 500 });
    await expect(adapter.deliver(ref, att, text('x'), ctx())).rejects.toMatchObject({ retryable: true, status: 500 });
    sim.failNext('sc:PostMessage', { status: 401 });
    await expect(adapter.deliver(ref, att, text('x'), ctx())).rejects.toMatchObject({ retryable: false, status: 401 });
  });
});

describe('close()', () => {
  it('when the bridge ends it: a note to the agent giving the reason, then releaseControl; when Zendesk ended it: nothing', async () => {
    const adapter = make();
    const att = newAttendance();
    const ref = await adapter.open(att, newCustomer(), [], ctx());
    const from = sim.calls.length;
    await adapter.close!(ref, att, 'customer-inactive', ctx());
    expect(ops(from)).toEqual(['PostMessage 201', 'ReleaseControl 200']);
    const note = sim.conversation(ref.key)!.messages.at(-1)!;
    expect(note.author).toMatchObject({ type: 'business', displayName: 'Blip bot' });
    expect(messageText(note)).toBe(
      'Blip: the customer was handed back to the bot (customer-inactive: the customer stopped answering). Messages written here no longer reach them.',
    );
    expect(sim.switchboardState(ref.key)).toEqual({});
    const again = sim.calls.length;
    await adapter.close!(ref, att, 'agent', ctx());
    expect(ops(again)).toEqual([]);
  });

  it('a failed note fails the close (retried); the retry after a lost answer posts no second note', async () => {
    const adapter = make();
    const att = newAttendance();
    const ref = await adapter.open(att, newCustomer(), [], ctx());
    sim.failNext('sc:PostMessage', { status: 503 });
    await expect(adapter.close!(ref, att, 'admin', ctx(1))).rejects.toMatchObject({ retryable: true, status: 503 });
    http.after = (req) => {
      if (req.url.endsWith('/messages') && req.method === 'POST') throw new DeliveryError('socket hang up (answer lost)', true);
    };
    await expect(adapter.close!(ref, att, 'admin', ctx(2))).rejects.toThrow('answer lost');
    http.after = undefined;
    await adapter.close!(ref, att, 'admin', ctx(3));
    expect(sim.conversation(ref.key)!.messages.filter((m) => messageText(m).startsWith('Blip: the customer was handed back'))).toHaveLength(1);
    expect(sim.switchboardState(ref.key)).toEqual({});
  });
});

describe('messageStatus()', () => {
  it('failed: a note to the agent quoting the reply, with the code and reason; read: the user read the conversation; sent and delivered: nothing', async () => {
    const adapter = make();
    const att = newAttendance();
    const ref = await adapter.open(att, newCustomer(), [], ctx());
    const reply = sim.agentReply(ref.key, 'Seu boleto vence amanhã') as { id: string };
    const from = sim.calls.length;
    for (const status of ['sent', 'delivered'] as const) await adapter.messageStatus!(ref, att, { sourceId: reply.id, status }, ctx());
    expect(ops(from)).toEqual([]);
    await adapter.messageStatus!(ref, att, { sourceId: reply.id, status: 'read' }, ctx());
    expect(ops(from)).toEqual(['PostActivity 200']);
    expect(sim.calls.at(-1)!.body).toEqual({ author: { type: 'user', userId: (ref.data as { userId: string }).userId }, type: 'conversation:read' });

    const update = { sourceId: reply.id, status: 'failed' as const, code: 'DELIVERY_DEAD', reason: 'Blip did not accept it after 8 attempts' };
    await adapter.messageStatus!(ref, att, update, ctx());
    const notes = () => sim.conversation(ref.key)!.messages.filter((m) => messageText(m).startsWith('Blip: your reply')).map(messageText);
    expect(notes()).toEqual(['Blip: your reply "Seu boleto vence amanhã" was not delivered to the customer (DELIVERY_DEAD: Blip did not accept it after 8 attempts).']);
    await adapter.messageStatus!(ref, att, update, ctx(2)); // a retry finds it
    expect(notes()).toHaveLength(1);
  });
});

// ─── webhooks ─────────────────────────────────────────────────────────────────────────────────

describe('webhooks: verify', () => {
  const hook = () => make().webhook!;
  const body = Buffer.from('{"events":[]}');

  it('accepts the webhook secret in X-API-Key', () => {
    expect(hook().verify(body, { 'x-api-key': SC_WEBHOOK_SECRET })).toEqual({ ok: true });
  });

  it('refuses a missing, wrong, longer, shorter or differently cased key (compared in constant time)', () => {
    for (const key of [undefined, '', 'nope', `${SC_WEBHOOK_SECRET}x`, SC_WEBHOOK_SECRET.slice(0, -1), SC_WEBHOOK_SECRET.toUpperCase()]) {
      expect(hook().verify(body, key === undefined ? {} : { 'x-api-key': key }).ok, String(key)).toBe(false);
    }
  });

  it('refuses a body that is not a SunCo webhook with a 400', () => {
    for (const bad of [{}, { events: 'x' }, { events: [{ type: 'conversation:message' }] }]) {
      expect(() => hook().parse(bad, {})).toThrow(BridgeError);
    }
  });
});

describe('webhooks: what reaches the customer', () => {
  let ref: HelpdeskRef;
  const att = newAttendance();
  beforeEach(async () => {
    receiving = make();
    ref = await receiving.open(att, newCustomer(), transcript, ctx());
    await sim.webhooksIdle();
  });
  const key = () => ({ key: ref.key });

  it('an agent reply in Agent Workspace becomes agent.message with the agent', async () => {
    const m = sim.agentReply(ref.key, 'Olá Maria, sou a Ana!') as { id: string };
    const events = await eventsFor((e) => e.type === 'conversation:message' && (e.payload['message'] as { id: string }).id === m.id, 'the agent reply');
    expect(events).toEqual([
      {
        kind: 'agent.message',
        eventId: expect.stringMatching(/^[0-9a-f]{24}$/),
        attendance: key(),
        message: { id: m.id, content: { type: 'text', text: 'Olá Maria, sou a Ana!' }, agent: { id: '361000000001', name: 'Ana Agent' } },
      },
    ]);
  });

  it('agent media become media contents with their name and type', async () => {
    const m = sim.agentReply(ref.key, {
      mediaUrl: 'https://acme.zendesk.com/sc/attachments/v2/1/fatura.pdf',
      mediaType: 'application/pdf',
      name: 'fatura.pdf',
      text: 'sua fatura',
    }) as { id: string };
    const [e] = await eventsFor((x) => (x.payload['message'] as { id?: string } | undefined)?.id === m.id, 'the agent file');
    expect(e).toMatchObject({
      kind: 'agent.message',
      message: {
        content: {
          type: 'media',
          url: 'https://acme.zendesk.com/sc/attachments/v2/1/fatura.pdf',
          mimeType: 'application/pdf',
          name: 'fatura.pdf',
          caption: 'sua fatura',
        },
      },
    });
  });

  it('drops the echoes of our own posts (the transcript, the customer messages) and system messages', async () => {
    const opened = hits.flatMap((h) => h.payload.events.map((ev, i) => [ev.type, h.events[i]] as const));
    const messages = opened.filter(([t]) => t === 'conversation:message').map(([, e]) => e);
    expect(messages).toEqual([{ kind: 'ignored', reason: 'echo of our own message' }]);
    await receiving.deliver(ref, att, text('cliente fala'), ctx());
    const [e] = await eventsFor((x) => (x.payload['message'] as { author?: { type: string } } | undefined)?.author?.type === 'user', 'the user echo');
    expect(e).toEqual({ kind: 'ignored', reason: 'not from the business' });
  });

  it("our own passControl and offerControl while opening are not read as the end; Agent Workspace's ticket:closed message is", async () => {
    const switchboard = hits
      .flatMap((h) => h.payload.events.map((ev, i) => [ev.type, h.events[i]?.kind] as const))
      .filter(([t]) => t.startsWith('switchboard:'));
    // The passControl to Agent Workspace leaves us standby (standby events off): it does not reach us.
    expect(switchboard).toEqual([
      ['switchboard:passControl', 'ignored'],
      ['switchboard:offerControl', 'ignored'],
    ]);
    // Solved is not the end: Zendesk hands back when the ticket is closed (days later, or now).
    sim.solveTicket(ref.key);
    await sim.webhooksIdle();
    expect(hits.flatMap((h) => h.events).filter((e) => e.kind === 'attendance.ended')).toEqual([]);
    sim.closeTicket(ref.key);
    const [closedMessage] = await eventsFor(
      (x) => (x.payload['message'] as { activity?: unknown } | undefined)?.activity !== undefined,
      'the ticket:closed message',
    );
    expect(closedMessage).toEqual({ kind: 'attendance.ended', eventId: expect.any(String), attendance: key(), reason: 'ticketClosed' });
  });

  it('agent typing becomes agent.typing (typing, then paused)', async () => {
    sim.agentTyping(ref.key, true);
    sim.agentTyping(ref.key, false);
    const typing = await until(
      () => {
        const all = hits.flatMap((h) => h.events).filter((e) => e.kind === 'agent.typing');
        return all.length === 2 ? all : undefined;
      },
      5_000,
      'typing events',
    );
    expect(typing.map((e) => e.kind === 'agent.typing' && e.state)).toEqual(['typing', 'paused']);
  });

  it('with standby events off, the handback to the answer bot does not reach us: the ticket:closed message before it is the end', async () => {
    sim.solveTicket(ref.key);
    sim.closeTicket(ref.key);
    await sim.webhooksIdle();
    const handback = sim.suncoEmitted.find((x) => x.conversationId === ref.key && x.event.type === 'switchboard:passControl' && x.event.payload['reason'] === 'ticketClosed');
    expect(handback).toMatchObject({ sent: false, skipped: 'standby' });
    expect(sim.switchboardState(ref.key)).toEqual({ active: 'zd-answerBot' });
    expect(hits.flatMap((h) => h.events).filter((e) => e.kind === 'attendance.ended')).toEqual([
      { kind: 'attendance.ended', eventId: expect.any(String), attendance: key(), reason: 'ticketClosed' },
    ]);
  });

  it('one payload carrying events of several conversations maps each to its own attendance', async () => {
    const other = await receiving.open(newAttendance(), newCustomer(), [], ctx());
    await sim.webhooksIdle();
    const a = sim.agentReply(ref.key, 'para A') as { id: string };
    const b = sim.agentReply(other.key, 'para B') as { id: string };
    const hit = await until(
      () => hits.find((h) => h.payload.events.length >= 2 && h.payload.events.some((e) => (e.payload['message'] as { id?: string } | undefined)?.id === a.id)),
      5_000,
      'one payload with both',
    );
    expect(hit.events.filter((e) => e.kind === 'agent.message').map((e) => e.kind === 'agent.message' && [e.attendance, e.message.id])).toEqual([
      [{ key: ref.key }, a.id],
      [{ key: other.key }, b.id],
    ]);
  });
});

describe('the end, in each variant of what Zendesk sends (simulator switches for what is UNVERIFIED)', () => {
  type Variant = { name: string; sunco: NonNullable<ConstructorParameters<typeof ZendeskSimulator>[0]>['sunco']; close: string | undefined; endSession: string | undefined };
  const off = { deliverStandbyEvents: false };
  // What the adapter reads as the end, per variant and agent action (undefined: nothing reaches us;
  // the lifecycle's timers end such an attendance).
  const variants: Variant[] = [
    { name: 'documented defaults (standby events on, next is the answer bot)', sunco: {}, close: 'ticketClosed', endSession: 'messaging session ended' },
    { name: 'standby events off, pending gets all', sunco: { switchboard: off }, close: 'ticketClosed', endSession: undefined },
    { name: 'standby off, switchboard events reach standby', sunco: { switchboard: off, standby: { switchboardToStandby: true } }, close: 'ticketClosed', endSession: 'messaging session ended' },
    { name: "standby off, Agent Workspace's next is the bridge", sunco: { switchboard: { ...off, agentWorkspaceNext: 'bridge' } }, close: 'ticketClosed', endSession: 'messaging session ended' },
    { name: 'standby off, the handback is releaseControl', sunco: { switchboard: off, handback: 'releaseControl' }, close: 'ticketClosed', endSession: undefined },
    // Here not even the agent's replies reach us: why the guide asks for standby events on.
    { name: 'standby off, pending gets only switchboard events', sunco: { switchboard: off, standby: { pending: 'switchboard' } }, close: undefined, endSession: undefined },
  ];
  for (const v of variants) {
    it(`${v.name}: a closed ticket → ${v.close}; an ended session → ${v.endSession ?? 'nothing'}`, async () => {
      const other = new ZendeskSimulator({ sunco: { keys: [SC_KEY], webhook: { secret: SC_WEBHOOK_SECRET }, webhookRetryDelaysMs: [30, 60], ...v.sunco } });
      await other.start();
      try {
        other.setSunCoWebhookTarget(receiverUrl);
        const c = other.credentials.sunco;
        const adapter = zendeskMessagingAdapter.create(config({ baseUrl: c.baseUrl, appId: c.appId }), { http, log, botId: 'acme', media });
        const ends = async (act: (key: string) => void): Promise<string[]> => {
          const ref = await adapter.open(newAttendance(), newCustomer(), [], ctx());
          await other.webhooksIdle();
          act(ref.key);
          await other.webhooksIdle(5_000);
          const ids = new Set(other.suncoEvents().map((e) => e.id));
          return hits
            .filter((h) => h.payload.events.some((e) => ids.has(e.id)))
            .flatMap((h) => h.events)
            .filter((e): e is Extract<HelpdeskEvent, { kind: 'attendance.ended' }> => e.kind === 'attendance.ended' && 'key' in e.attendance && e.attendance.key === ref.key)
            .map((e) => e.reason ?? '');
        };
        const closed = await ends((key) => {
          other.solveTicket(key);
          other.closeTicket(key);
        });
        expect(closed[0]).toBe(v.close);
        const session = await ends((key) => other.endSession(key));
        expect(session[0]).toBe(v.endSession);
      } finally {
        await other.stop();
      }
    });
  }
});

describe('webhooks: the handback as releaseControl', () => {
  it('releaseControl with reason ticketClosed ends the attendance; our own releaseControl does not', () => {
    const hook = make().webhook!;
    const conversation = { id: 'c1', type: 'personal' };
    const events = hook.parse(
      {
        events: [
          { id: 'e1', type: 'switchboard:releaseControl', createdAt: '', payload: { conversation, reason: 'ticketClosed' } },
          {
            id: 'e2',
            type: 'switchboard:releaseControl',
            createdAt: '',
            payload: { conversation, metadata: { blipBridgeAttendanceId: 'a1', reason: 'bridge:admin' } },
          },
          {
            id: 'e3',
            type: 'switchboard:passControl',
            createdAt: '',
            payload: {
              conversation: { ...conversation, activeSwitchboardIntegration: { name: 'zd-answerBot', integrationType: 'zd:answerBot' } },
              reason: 'transferToEmail',
            },
          },
        ],
      },
      {},
    );
    expect(events).toEqual([
      { kind: 'attendance.ended', eventId: 'e1', attendance: { key: 'c1' }, reason: 'ticketClosed' },
      { kind: 'ignored', reason: 'our own switchboard action' },
      { kind: 'attendance.ended', eventId: 'e3', attendance: { key: 'c1' }, reason: 'transferToEmail' },
    ]);
  });
});

describe('splitText', () => {
  it('prefers line breaks, then word breaks, and keeps grapheme clusters whole', () => {
    expect(splitText('one two\nthree four', 10)).toEqual(['one two', 'three four']);
    expect(splitText('aaaa bbbb cccc', 10)).toEqual(['aaaa bbbb', 'cccc']);
    const family = '👨‍👩‍👧‍👦'; // 11 UTF-16 units, one grapheme
    const pieces = splitText(`${'x'.repeat(8)}${family}`, 12);
    expect(pieces).toEqual(['x'.repeat(8), family]);
    expect(splitText('', 10)).toEqual(['']);
    expect(splitText('😀😀😀', 3)).toEqual(['😀', '😀', '😀']);
  });
});

// ─── through the bridge ───────────────────────────────────────────────────────────────────────

describe('through the bridge (Blip simulator → bridge → Zendesk simulator and back)', () => {
  let w: FlowWorld;
  let f: ZendeskFixture;
  beforeEach(async () => {
    f = zendeskMessagingFixture();
    w = await startWorld(f, { config: { media: { allowedHosts: ['127.0.0.1'] } } });
  });
  afterEach(async () => {
    for (const c of f.sim.calls) checkCall(c);
    await w.stop();
  });

  it('a customer attachment reaches the agent as an uploaded image; agent typing reaches the customer as a chat state', async () => {
    const customer = '5511987651001@wa.gw.msging.net';
    w.blip.addCustomer({ originator: customer, name: 'Ana' });
    await w.blip.customerSays(customer, IDENTIFIER, {
      type: 'application/vnd.lime.media-link+json',
      content: { type: 'image/png', uri: `${filesUrl}/foto.png`, title: 'foto.png', text: 'olha' },
    });
    const { key } = await f.driver.waitOpened(customer);
    const img = await until(() => f.sim.conversation(key)!.messages.find((m: ScMessage) => m.content['type'] === 'image'), 10_000, 'the image at the agent');
    expect(img.content).toMatchObject({ mediaType: 'image/png', mediaSize: 7, text: 'olha' });
    f.sim.agentTyping(key, true);
    const state = await w.blip.waitFor((r) => r.body?.type === 'application/vnd.lime.chatstate+json', 10_000);
    expect(state.body.content).toEqual({ state: 'composing' });
  });

  it('replies to two customers in one payload each reach their own customer once; a bad X-API-Key is 401', async () => {
    const a = '5511987651002@wa.gw.msging.net';
    const b = '5511987651003@wa.gw.msging.net';
    w.blip.addCustomer({ originator: a });
    w.blip.addCustomer({ originator: b });
    await w.blip.customerSays(a, IDENTIFIER, { type: 'text/plain', content: 'oi A' });
    await w.blip.customerSays(b, IDENTIFIER, { type: 'text/plain', content: 'oi B' });
    const ka = (await f.driver.waitOpened(a)).key;
    const kb = (await f.driver.waitOpened(b)).key;
    await f.sim.webhooksIdle();
    const ra = f.sim.agentReply(ka, 'resposta A') as { id: string };
    const rb = f.sim.agentReply(kb, 'resposta B') as { id: string };
    await w.blip.waitFor((r) => r.body?.content === 'resposta A', 10_000);
    await w.blip.waitFor((r) => r.body?.content === 'resposta B', 10_000);
    const ids = (d: (typeof f.sim.suncoDeliveries)[number]) => d.payload.events.map((e) => (e.payload['message'] as { id?: string } | undefined)?.id);
    const together = f.sim.suncoDeliveries.find((d) => ids(d).includes(ra.id) && ids(d).includes(rb.id));
    expect(together, 'both replies in one payload').toBeDefined();
    expect(w.blip.messagesTo(a).map((r) => r.body.content)).toEqual(['resposta A']);
    expect(w.blip.messagesTo(b).map((r) => r.body.content)).toEqual(['resposta B']);
    // SunCo retrying that payload (same event ids) changes nothing.
    expect(await f.driver.redeliverLastWebhook()).toBeLessThan(300);
    const again = await request(f.webhookUrl, { method: 'POST', headers: { ...together!.headers }, body: JSON.stringify(together!.payload) });
    // The bridge says what it made of it: both replies known already, nothing new to send.
    expect(again.statusCode).toBe(202);
    expect(await again.body.json()).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(w.blip.messagesTo(a).map((r) => r.body.content)).toEqual(['resposta A']);
    expect(await f.driver.forgedWebhook()).toBe(401);
  });
});

describe('through the bridge: a 429 storm from Sunshine Conversations', () => {
  let w: FlowWorld;
  let f: ZendeskFixture;
  afterEach(async () => {
    for (const c of f.sim.calls) checkCall(c);
    await w.stop();
  });

  it('is survived: every customer message reaches the agent once, in order, and every reply the customer', async () => {
    f = zendeskMessagingFixture();
    w = await startWorld(f, { delivery: { maxAttempts: 40 } });
    const customer = '5511987651009@wa.gw.msging.net';
    w.blip.addCustomer({ originator: customer });
    await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'm0' });
    const { key } = await f.driver.waitOpened(customer);
    await until(() => f.driver.customerTexts(key).includes('m0'), 10_000, 'the first message');
    // SunCo's limits are the app's: while it answers 429 (with and without Retry-After), posts and
    // the retry's look-ups both fail.
    f.sim.failNext('sc:PostMessage', { status: 429, count: 10 });
    f.sim.failNext('sc:PostMessage', { status: 429, count: 2, retryAfter: 1 });
    f.sim.failNext('sc:ListMessages', { status: 429, count: 3 });
    const texts = Array.from({ length: 10 }, (_, i) => `m${i + 1}`);
    for (const t of texts) await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: t });
    await until(() => f.driver.customerTexts(key).length >= texts.length + 1, 25_000, 'every message after the storm');
    expect(f.driver.customerTexts(key)).toEqual(['m0', ...texts]);
    expect(f.sim.calls.filter((c) => c.status === 429).length).toBe(15);
    await f.driver.reply(key, 'depois da tempestade');
    await w.blip.waitFor((r) => r.body?.content === 'depois da tempestade', 10_000);
  }, 40_000);
});

describe('through the bridge, when the account hands back with releaseControl', () => {
  it('the ticket closing (releaseControl, reason ticketClosed) redirects the customer', async () => {
    const f = zendeskMessagingFixture({ sunco: { handback: 'releaseControl' } });
    const w = await startWorld(f);
    try {
      const customer = '5511987651009@wa.gw.msging.net';
      const { tunnel } = w.blip.addCustomer({ originator: customer });
      await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'oi' });
      const { key } = await f.driver.waitOpened(customer);
      await f.driver.reply(key, 'resolvido');
      await f.driver.end(key);
      const redirect = await w.blip.waitFor((r) => r.body?.type === 'application/vnd.lime.redirect+json' && r.body?.to === tunnel, 10_000);
      expect(redirect.body.content).toMatchObject({ address: 'principal' });
      expect(f.sim.suncoEvents('switchboard:releaseControl')).toHaveLength(1);
      for (const c of f.sim.calls) checkCall(c);
    } finally {
      await w.stop();
    }
  });
});
