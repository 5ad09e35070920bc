/**
 * The Zendesk tickets adapter (`type: zendesk-tickets`: Support API + an event-subscribed webhook)
 * against the Zendesk simulator over real HTTP on loopback: users by external_id, a ticket per
 * attendance with the transcript, customer messages as the requester's public comments, uploads,
 * signed webhooks, and — through the real service with the Blip simulator — the per-ticket update
 * limit survived without losing or reordering a message.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ZendeskSimulator, zendeskSignature } from '../../simulators/zendesk/index.js';
import { DeliveryError } from '../../src/delivery/errors.js';
import { HttpClient, type HttpRequest, type HttpResponse } from '../../src/delivery/http.js';
import type { AttendanceInfo, Customer, HelpdeskAdapter, HelpdeskEvent, HelpdeskRef, OutgoingMessage, TranscriptEntry } from '../../src/helpdesks/adapter.js';
import { ZendeskTicketsConfig, zendeskTicketsAdapter } from '../../src/helpdesks/zendesk/tickets.js';
import { BridgeError } from '../../src/http/errors.js';
import { IDENTIFIER, until } from '../helpers/harness.js';
import { startWorld, type FlowWorld } from '../flows/world.js';
import { ZD_AGENT, ZD_SIGNING_SECRET, commentTexts, zendeskTicketsFixture, type ZendeskFixture } from '../flows/zendesk-fixture.js';

const log = pino({ level: 'silent' });
const media = { allowedHosts: ['127.0.0.1'], maxBytes: 1024 * 1024, timeoutMs: 5000 };
const ctx = (attempt = 1, deliveryId = 1) => ({ attempt, deliveryId });
const newAttendance = (): AttendanceInfo => ({ id: randomUUID(), bot: 'acme', openedAt: new Date().toISOString() });
const text = (t: string): OutgoingMessage => ({ id: randomUUID(), at: new Date().toISOString(), content: { type: 'text', text: t } });
/** Zendesk's timestamp format: ISO-8601 to the second (research §A.2.5). */
const stamp = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** An HttpClient that lets a test lose an answer after Zendesk applied the request. */
class TappedHttp extends HttpClient {
  after: ((req: HttpRequest, res: HttpResponse) => void) | undefined;
  override async request(req: HttpRequest): Promise<HttpResponse> {
    const res = await super.request(req);
    this.after?.(req, res);
    return res;
  }
}

let sim: ZendeskSimulator;
let http: TappedHttp;
let files: Server;
let filesUrl: string;

// ─── a stand-in for the bridge's webhook route: verify raw bytes, then parse ───────────────────

interface Hit {
  body: Record<string, any>;
  status: number;
  events: HelpdeskEvent[];
}
let hits: Hit[] = [];
let receiver: Server;
let receiving: HelpdeskAdapter;

async function startReceiver(): Promise<string> {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(raw.toString('utf8')) as Record<string, any>;
      const hit: Hit = { body, status: 200, events: [] };
      hits.push(hit);
      const hook = receiving.webhook!;
      if (!hook.verify(raw, req.headers).ok) hit.status = 401;
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
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/helpdesk/acme/webhook`;
}

/** The events the adapter made of the first invocation matching `match`. */
async function eventsFor(match: (body: Record<string, any>) => boolean, what: string): Promise<HelpdeskEvent[]> {
  const hit = await until(() => hits.find((h) => match(h.body)), 5_000, what);
  expect(hit.status).toBe(200);
  return hit.events;
}

// ─── fixtures ─────────────────────────────────────────────────────────────────────────────────

function config(over: Record<string, unknown> = {}): ZendeskTicketsConfig {
  const cfg = Value.Default(ZendeskTicketsConfig, {
    type: 'zendesk-tickets',
    baseUrl: sim.url,
    email: ZD_AGENT.email,
    apiToken: ZD_AGENT.token,
    webhookSecret: ZD_SIGNING_SECRET,
    ticket: { subject: 'WhatsApp: {name}', tags: ['blip', 'blip_bridge'], groupId: 360000000001, fields: { '360011112222': 'plan' } },
    timeoutMs: 2_000,
    ...over,
  }) as ZendeskTicketsConfig;
  expect(Value.Check(ZendeskTicketsConfig, cfg)).toBe(true);
  return cfg;
}

const make = (over: Record<string, unknown> = {}) => zendeskTicketsAdapter.create(config(over), { http, log, botId: 'acme', media });

function newCustomer(over: Partial<Customer> = {}): Customer {
  const originator = `55119${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}@wa.gw.msging.net`;
  return {
    id: originator,
    address: `${randomUUID()}@tunnel.msging.net`,
    originator,
    router: 'acmerouter@msging.net',
    channel: 'wa.gw.msging.net',
    name: 'Maria Silva',
    email: `maria.${Math.floor(Math.random() * 1e9)}@example.com`,
    phone: '+5511999990000',
    extras: { plan: 'gold' },
    ...over,
  };
}

const transcript: TranscriptEntry[] = [
  { direction: 'customer', at: '2024-05-01T11:59:00.000Z', content: { type: 'text', text: 'Oi' } },
  { direction: 'bot', at: '2024-05-01T11:59:01.000Z', content: { type: 'text', text: 'Olá! Como posso ajudar?' } },
];

/** An agent takes the ticket (Zendesk solves only assigned tickets). */
async function assign(ticketId: string): Promise<void> {
  const res = await request(`${sim.url}/api/v2/tickets/${ticketId}.json`, {
    method: 'PUT',
    headers: { authorization: sim.supportAuthorization(), 'content-type': 'application/json' },
    body: JSON.stringify({ ticket: { assignee_id: sim.credentials.support.agentId } }),
  });
  expect(res.statusCode).toBe(200);
  await res.body.dump();
}

const ops = (from = 0) =>
  sim.calls
    .slice(from)
    .filter((c) => c.api === 'support')
    .map((c) => `${c.op} ${c.status}`);

beforeAll(async () => {
  http = new TappedHttp(5_000);
  sim = new ZendeskSimulator({
    support: { agents: [ZD_AGENT], webhook: { mode: 'events', signingSecret: ZD_SIGNING_SECRET, retry: { delaysMs: [30, 60, 120] } } },
  });
  await sim.start();
  sim.setSupportWebhookEndpoint(await startReceiver());
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
  http.after = undefined;
});

afterEach(async () => {
  await sim.webhooksIdle(5_000);
  hits = [];
  sim.reset();
});

// ─── config ───────────────────────────────────────────────────────────────────────────────────

describe('config', () => {
  it('defaults the signature (timestamp + body, a day), the external id prefix, the ticket and the batch size, and describes every key', () => {
    const cfg = Value.Default(ZendeskTicketsConfig, {
      type: 'zendesk-tickets',
      baseUrl: 'https://acme.zendesk.com',
      email: 'a@b.c',
      apiToken: '12345678',
      webhookSecret: '12345678',
    }) as ZendeskTicketsConfig;
    expect(cfg).toMatchObject({
      signature: { order: 'timestamp+body', toleranceSeconds: 86_400 },
      externalIdPrefix: 'blip:',
      ticket: { subject: 'Chat with {name}', tags: ['blip'], fields: {} },
      batchMessages: 20,
      timeoutMs: 15_000,
    });
    expect(Value.Check(ZendeskTicketsConfig, cfg)).toBe(true);
    for (const [k, v] of Object.entries(ZendeskTicketsConfig.properties)) if (k !== 'type') expect((v as { description?: string }).description, k).toBeTruthy();
  });
});

describe('check()', () => {
  it('is ok with an agent token; names a wrong token and missing credentials', async () => {
    expect(await make().check()).toMatchObject({ ok: true });
    expect(await make({ apiToken: 'wrong-token' }).check()).toMatchObject({ ok: false, detail: expect.stringContaining('401') });
    expect(await make({ apiToken: undefined }).check()).toEqual({ ok: false, detail: 'zendesk-tickets: set email + apiToken, or oauthToken' });
  });
});

// ─── open ─────────────────────────────────────────────────────────────────────────────────────

describe('open()', () => {
  it('creates or updates the requester by external_id, then a ticket with the transcript as its first comment, by the requester', async () => {
    const customer = newCustomer();
    const att = newAttendance();
    const ref = await make().open(att, customer, transcript, ctx());
    expect(ops()).toEqual(['CreateOrUpdateUser 201', 'CreateTicket 201']);
    const users = [...sim.support.users.values()].filter((u) => u.external_id === `blip:${customer.id}`);
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ name: 'Maria Silva', email: customer.email, phone: '+5511999990000', role: 'end-user' });
    expect(ref).toEqual({ key: expect.stringMatching(/^\d+$/), data: { requesterId: users[0]!.id } });

    const t = sim.ticket(Number(ref.key))!;
    expect(t).toMatchObject({
      subject: 'WhatsApp: Maria Silva',
      requester_id: users[0]!.id,
      external_id: att.id,
      tags: ['blip', 'blip_bridge'],
      group_id: 360000000001,
      custom_fields: [{ id: 360011112222, value: 'gold' }],
      status: 'new',
    });
    expect(t.comments).toHaveLength(1);
    expect(t.comments[0]).toMatchObject({ author_id: users[0]!.id, public: true });
    expect(t.comments[0]!.plain_body.split('\n')).toEqual([
      'Conversation handed over by the Blip bot (wa.gw.msging.net).',
      `Customer: Maria Silva, ${customer.originator}`,
      '',
      'Before the hand-off:',
      'Customer: Oi',
      'Bot: Olá! Como posso ajudar?',
    ]);
    // A retry after a lost answer gets the same ticket back: Zendesk's Idempotency-Key.
    const create = sim.calls.find((c) => c.op === 'CreateTicket')!;
    expect(create.headers['idempotency-key']).toBe(`blip-bridge-open-${att.id}`);
  });

  it('a retried open whose answer was lost gets the same ticket back (Idempotency-Key): no second ticket', async () => {
    const customer = newCustomer();
    const att = newAttendance();
    http.after = (req) => {
      if (req.method === 'POST' && req.url.endsWith('/tickets')) throw new DeliveryError('socket hang up (answer lost)', true);
    };
    await expect(make().open(att, customer, transcript, ctx(1))).rejects.toThrow('answer lost');
    http.after = undefined;
    expect(sim.support.tickets.size).toBe(1);
    const ref = await make().open(att, customer, transcript, ctx(2));
    expect(sim.support.tickets.size).toBe(1);
    expect(ref.key).toBe(String([...sim.support.tickets.keys()][0]));
    expect(sim.support.idempotency.hits).toBe(1);
  });

  it('a returning customer is the same requester (updated, 200); each attendance gets its own ticket', async () => {
    const customer = newCustomer();
    const a = await make().open(newAttendance(), customer, [], ctx());
    const from = sim.calls.length;
    const b = await make().open(newAttendance(), { ...customer, name: 'Maria S.' }, [], ctx());
    expect(ops(from)).toEqual(['CreateOrUpdateUser 200', 'CreateTicket 201']);
    expect(b.data).toEqual(a.data);
    expect(b.key).not.toBe(a.key);
    expect(sim.support.users.get((a.data as { requesterId: number }).requesterId)!.name).toBe('Maria S.');
  });

  it('a refused request is permanent; an outage and a 429 are retried', async () => {
    sim.failNext('support:CreateTicket', { status: 422 });
    await expect(make().open(newAttendance(), newCustomer(), [], ctx())).rejects.toMatchObject({ retryable: false, status: 422 });
    sim.failNext('support:CreateOrUpdateUser', { status: 503 });
    await expect(make().open(newAttendance(), newCustomer(), [], ctx())).rejects.toMatchObject({ retryable: true, status: 503 });
    sim.failNext('support:CreateTicket', { status: 429, retryAfter: '3' });
    await expect(make().open(newAttendance(), newCustomer(), [], ctx())).rejects.toMatchObject({ retryable: true, status: 429, retryAfterMs: 3000 });
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
  const ticket = () => sim.ticket(Number(ref.key))!;
  const requester = () => (ref.data as { requesterId: number }).requesterId;

  it("adds the customer's message as a public comment by the requester and returns the comment id", async () => {
    const r = await adapter.deliver(ref, att, text('Meu pedido não chegou'), ctx());
    const c = ticket().comments.at(-1)!;
    expect(c).toMatchObject({ author_id: requester(), public: true, plain_body: 'Meu pedido não chegou' });
    expect(r).toEqual({ vendorMessageId: String(c.id) });
  });

  it('uploads attachments (raw bytes, their MIME type) and attaches them with the upload token', async () => {
    const from = sim.calls.length;
    await adapter.deliver(
      ref,
      att,
      {
        id: randomUUID(),
        at: new Date().toISOString(),
        content: { type: 'media', url: `${filesUrl}/foto.png`, mimeType: 'image/png', name: 'foto.png', caption: 'comprovante', text: 'comprovante' },
      },
      ctx(),
    );
    await adapter.deliver(
      ref,
      att,
      { id: randomUUID(), at: new Date().toISOString(), content: { type: 'media', url: `${filesUrl}/boleto.pdf`, mimeType: 'application/pdf', text: '📎' } },
      ctx(),
    );
    expect(ops(from)).toEqual(['UploadFiles 201', 'UpdateTicket 200', 'UploadFiles 201', 'UpdateTicket 200']);
    const uploads = sim.calls.slice(from).filter((c) => c.op === 'UploadFiles');
    expect(uploads.map((u) => [u.query, u.headers['content-type']])).toEqual([
      ['?filename=foto.png', 'image/png'],
      ['?filename=attachment-1.pdf', 'application/pdf'],
    ]);
    const [img, pdf] = ticket().comments.slice(-2);
    expect(img).toMatchObject({ plain_body: 'comprovante [foto.png]', public: true, author_id: requester(), ignoredUploads: [] });
    expect(img!.attachments.map((a) => [a.file_name, a.content_type, a.bytes.length])).toEqual([['foto.png', 'image/png', 7]]);
    expect(pdf!.attachments.map((a) => [a.file_name, a.bytes.toString()])).toEqual([['attachment-1.pdf', '%PDF-1.4 boleto']]);
  });

  it('deliverBatch joins consecutive messages into one comment, one per paragraph, files attached', async () => {
    const messages = [
      text('um'),
      text('dois'),
      {
        id: randomUUID(),
        at: new Date().toISOString(),
        content: { type: 'media' as const, url: `${filesUrl}/foto.png`, mimeType: 'image/png', name: 'foto.png', text: '📎' },
      },
      text('três'),
    ];
    const from = sim.calls.length;
    await adapter.deliverBatch!(ref, att, messages, ctx());
    expect(ops(from)).toEqual(['UploadFiles 201', 'UpdateTicket 200']);
    const c = ticket().comments.at(-1)!;
    expect(c.plain_body).toBe('um\n\ndois\n\n[foto.png]\n\ntrês');
    expect(c.attachments).toHaveLength(1);
  });

  it('a retry after the answer was lost finds the comment and adds nothing (nor uploads again)', async () => {
    const m = {
      id: randomUUID(),
      at: new Date().toISOString(),
      content: { type: 'media' as const, url: `${filesUrl}/foto.png`, mimeType: 'image/png', name: 'foto.png', caption: 'ok', text: 'ok' },
    };
    http.after = (req) => {
      if (req.method === 'PUT') throw new DeliveryError('timeout (answer lost)', true);
    };
    await expect(adapter.deliver(ref, att, m, ctx(1))).rejects.toThrow('answer lost');
    http.after = undefined;
    const from = sim.calls.length;
    const r = await adapter.deliver(ref, att, m, ctx(2));
    expect(ops(from)).toEqual(['ListTicketComments 200']);
    expect(ticket().comments).toHaveLength(2);
    expect(r.vendorMessageId).toBe(String(ticket().comments[1]!.id));
  });

  it('a retried batch that grew meanwhile adds only the messages the lost comment did not have', async () => {
    const [a, b, c] = [text('primeira'), text('segunda'), text('terceira')];
    http.after = (req) => {
      if (req.method === 'PUT') throw new DeliveryError('timeout (answer lost)', true);
    };
    await expect(adapter.deliverBatch!(ref, att, [a, b], ctx(1))).rejects.toThrow('answer lost');
    http.after = undefined;
    await adapter.deliverBatch!(ref, att, [a, b, c], ctx(2));
    expect(commentTexts(ticket(), requester())).toEqual(['primeira', 'segunda', 'terceira']);
  });

  it('a retry whose first attempt never landed adds the comment, even when an older comment had the same text', async () => {
    await adapter.deliver(ref, att, text('ok'), ctx());
    sim.failNext('support:UpdateTicket', { status: 503 });
    const m = text('ok');
    await expect(adapter.deliver(ref, att, m, ctx(1))).rejects.toMatchObject({ retryable: true });
    await adapter.deliver(ref, att, m, ctx(2));
    expect(commentTexts(ticket(), requester())).toEqual(['ok', 'ok']);
  });

  it('429 carries Retry-After (the per-ticket limit); 409 is retried; a closed ticket (422) is permanent', async () => {
    sim.failNext('support:UpdateTicket', { status: 429, retryAfter: '42' });
    await expect(adapter.deliver(ref, att, text('x'), ctx())).rejects.toMatchObject({ retryable: true, status: 429, retryAfterMs: 42_000 });
    sim.failNext('support:UpdateTicket', { status: 409 });
    await expect(adapter.deliver(ref, att, text('x'), ctx())).rejects.toMatchObject({ retryable: true, status: 409 });
    sim.setStatus(Number(ref.key), 'solved');
    sim.setStatus(Number(ref.key), 'closed');
    await expect(adapter.deliver(ref, att, text('x'), ctx())).rejects.toMatchObject({ retryable: false, status: 422 });
  });
});

describe('close()', () => {
  it('when the bridge ends it: an internal note giving the reason and Solved; unassigned (Zendesk refuses Solved) the note alone', async () => {
    const adapter = make();
    const att = newAttendance();
    const ref = await adapter.open(att, newCustomer(), [], ctx());
    await assign(ref.key);
    await adapter.close!(ref, att, 'customer-inactive', ctx());
    const t = sim.ticket(Number(ref.key))!;
    expect(t.comments.at(-1)).toMatchObject({
      public: false,
      author_id: sim.credentials.support.agentId,
      plain_body: 'Blip: the customer was handed back to the bot (customer-inactive: the customer stopped answering).',
    });
    expect(t.status).toBe('solved');

    const unassigned = await adapter.open(newAttendance(), newCustomer(), [], ctx());
    const from = sim.calls.length;
    await adapter.close!(unassigned, att, 'no-agent', ctx());
    expect(ops(from)).toEqual(['UpdateTicket 422', 'UpdateTicket 200']);
    const u = sim.ticket(Number(unassigned.key))!;
    expect(u.comments.filter((c) => !c.public).map((c) => c.plain_body)).toEqual(['Blip: the customer was handed back to the bot (no-agent: no agent was available in time).']);
    expect(u.status).toBe('new');
  });

  it('a retry after a lost answer adds no second note; the agent ending it, or a closed ticket, adds nothing and fails nothing', async () => {
    const adapter = make();
    const att = newAttendance();
    const ref = await adapter.open(att, newCustomer(), [], ctx());
    http.after = (req) => {
      if (req.method === 'PUT') throw new DeliveryError('socket hang up (answer lost)', true);
    };
    await expect(adapter.close!(ref, att, 'expired', ctx(1))).rejects.toThrow('answer lost');
    http.after = undefined;
    await adapter.close!(ref, att, 'expired', ctx(2));
    expect(sim.ticket(Number(ref.key))!.comments.filter((c) => !c.public)).toHaveLength(1);
    const from = sim.calls.length;
    await adapter.close!(ref, att, 'agent', ctx());
    expect(ops(from)).toEqual([]);
    sim.setStatus(Number(ref.key), 'solved');
    sim.setStatus(Number(ref.key), 'closed');
    await expect(adapter.close!(ref, att, 'admin', ctx())).resolves.toBeUndefined();
  });
});

describe('messageStatus()', () => {
  it('a failed reply becomes an internal note quoting it, with the code and the reason; sent, delivered and read add nothing', async () => {
    const adapter = make();
    const att = newAttendance();
    const ref = await adapter.open(att, newCustomer(), [], ctx());
    const c = sim.agentComment(Number(ref.key), 'Seu boleto vence amanhã');
    const from = sim.calls.length;
    for (const status of ['sent', 'delivered', 'read'] as const) await adapter.messageStatus!(ref, att, { sourceId: `comment:${c.id}`, status }, ctx());
    expect(ops(from)).toEqual([]);
    const update = { sourceId: `comment:${c.id}`, status: 'failed' as const, code: 'BLIP_REFUSED', reason: 'the WhatsApp 24-hour window is closed' };
    await adapter.messageStatus!(ref, att, update, ctx());
    const notes = () => sim.ticket(Number(ref.key))!.comments.filter((x) => !x.public).map((x) => x.plain_body);
    expect(notes()).toEqual(['Blip: your reply "Seu boleto vence amanhã" was not delivered to the customer (BLIP_REFUSED: the WhatsApp 24-hour window is closed).']);
    // A retry (the answer lost) finds it.
    await adapter.messageStatus!(ref, att, update, ctx(2));
    expect(notes()).toHaveLength(1);
  });
});

// ─── webhooks ─────────────────────────────────────────────────────────────────────────────────

describe('webhooks: verify (X-Zendesk-Webhook-Signature)', () => {
  const body = Buffer.from('{"type":"zen:event-type:ticket.status_changed","id":"abc"}');
  const headers = (signature: string, timestamp: string) => ({ 'x-zendesk-webhook-signature': signature, 'x-zendesk-webhook-signature-timestamp': timestamp });
  afterEach(() => vi.useRealTimers());

  it("matches research's vector: base64 HMAC-SHA256 of timestamp + body, the secret used as given", () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2021-03-25T05:10:00Z'));
    const hook = make({ webhookSecret: 'dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==' }).webhook!;
    expect(hook.verify(body, headers('O3XmbIE3unyOYHFb8EoG1lJM8ToowNZsWuJVBr4/dcg=', '2021-03-25T05:09:27Z'))).toEqual({ ok: true });
  });

  it("the order is configurable: the older page's sample verifies as body + timestamp, and only so", () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2021-07-25T10:01:00Z'));
    const sample = Buffer.from('{"say": "hello"}');
    const h = headers('tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=', '2021-07-25T10:00:00Z');
    const secret = 'HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=';
    expect(make({ webhookSecret: secret, signature: { order: 'body+timestamp', toleranceSeconds: 300 } }).webhook!.verify(sample, h)).toEqual({ ok: true });
    expect(make({ webhookSecret: secret }).webhook!.verify(sample, h).ok).toBe(false);
  });

  it('refuses a wrong secret, another body, missing headers, a non-date timestamp', () => {
    const hook = make().webhook!;
    const ts = stamp();
    expect(hook.verify(body, headers(zendeskSignature(ZD_SIGNING_SECRET, ts, body.toString()), ts))).toEqual({ ok: true });
    expect(hook.verify(body, headers(zendeskSignature('other-secret-0123', ts, body.toString()), ts)).ok).toBe(false);
    expect(hook.verify(Buffer.from(`${body.toString()} `), headers(zendeskSignature(ZD_SIGNING_SECRET, ts, body.toString()), ts)).ok).toBe(false);
    expect(hook.verify(body, { 'x-zendesk-webhook-signature': zendeskSignature(ZD_SIGNING_SECRET, ts, body.toString()) }).ok).toBe(false);
    expect(hook.verify(body, {}).ok).toBe(false);
    expect(hook.verify(body, headers(zendeskSignature(ZD_SIGNING_SECRET, 'yesterday', body.toString()), 'yesterday')).ok).toBe(false);
    expect(hook.verify(body, headers('', ts)).ok).toBe(false);
  });

  it('refuses a stale (replayed) or future timestamp outside the tolerance, even correctly signed', () => {
    const sign = (ms: number) => {
      const ts = stamp(ms);
      return headers(zendeskSignature(ZD_SIGNING_SECRET, ts, body.toString()), ts);
    };
    // A retry that kept its first attempt's timestamp, an hour later (Zendesk may not re-sign: research §E).
    expect(make().webhook!.verify(body, sign(Date.now() - 60 * 60_000))).toEqual({ ok: true });
    expect(make().webhook!.verify(body, sign(Date.now() - 86_401_000))).toEqual({ ok: false, reason: 'the signature timestamp is outside the tolerance' });
    expect(make().webhook!.verify(body, sign(Date.now() + 86_401_000)).ok).toBe(false);
    const strict = make({ signature: { order: 'timestamp+body', toleranceSeconds: 30 } }).webhook!;
    expect(strict.verify(body, sign(Date.now() - 60_000)).ok).toBe(false);
    const none = make({ signature: { order: 'timestamp+body', toleranceSeconds: 0 } }).webhook!;
    expect(none.verify(body, sign(Date.now() - 30 * 86_400_000))).toEqual({ ok: true });
  });
});

describe('webhooks: what reaches the customer (event-subscribed webhook)', () => {
  let ref: HelpdeskRef;
  const att = newAttendance();
  beforeEach(async () => {
    receiving = make();
    ref = await receiving.open(att, newCustomer(), transcript, ctx());
    await sim.webhooksIdle();
  });
  const key = () => ({ key: ref.key });
  const commentEvent = (id: number) => (b: Record<string, any>) =>
    b['type'] === 'zen:event-type:ticket.comment_added' && b['event']?.comment?.id === String(id);

  it('an agent public comment becomes agent.message with the agent', async () => {
    const c = sim.agentComment(Number(ref.key), 'Olá Maria!\nJá verifiquei seu pedido.');
    const events = await eventsFor(commentEvent(c.id), 'the agent comment');
    expect(events).toEqual([
      {
        kind: 'agent.message',
        eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        attendance: key(),
        message: {
          id: `comment:${c.id}`,
          content: { type: 'text', text: 'Olá Maria!\nJá verifiquei seu pedido.' },
          agent: { id: String(sim.credentials.support.agentId), name: 'Ana Agent' },
        },
      },
    ]);
  });

  it('an internal note never reaches the customer', async () => {
    const c = sim.agentComment(Number(ref.key), 'cliente VIP', { public: false });
    expect(await eventsFor(commentEvent(c.id), 'the note')).toEqual([{ kind: 'ignored', reason: 'internal note' }]);
  });

  it("the requester's comments (the transcript, the customer's messages: our own) are echoes", async () => {
    const transcriptEvent = await eventsFor((b) => b['type'] === 'zen:event-type:ticket.comment_added', 'the transcript comment');
    expect(transcriptEvent).toEqual([{ kind: 'ignored', reason: 'comment by the requester (our own)' }]);
    const r = await receiving.deliver(ref, att, text('cliente'), ctx());
    expect(await eventsFor(commentEvent(Number(r.vendorMessageId)), 'the customer comment')).toEqual([
      { kind: 'ignored', reason: 'comment by the requester (our own)' },
    ]);
  });

  it('an agent comment with only a file says so (event payloads carry no attachments)', async () => {
    const c = sim.agentComment(Number(ref.key), '', { attachments: [{ fileName: 'fatura.pdf', contentType: 'application/pdf', data: '%PDF' }] });
    const [e] = await eventsFor(commentEvent(c.id), 'the file comment');
    expect(e).toMatchObject({ kind: 'agent.message', message: { content: { type: 'text', text: expect.stringContaining('attachment') } } });
  });

  it('solved ends the attendance; other statuses do not; closed ends it too', async () => {
    sim.agentComment(Number(ref.key), 'vou verificar', { status: 'pending' });
    const pending = await eventsFor((b) => b['type'] === 'zen:event-type:ticket.status_changed' && b['event']?.current === 'PENDING', 'pending');
    expect(pending).toEqual([{ kind: 'ignored', reason: 'status PENDING' }]);
    sim.setStatus(Number(ref.key), 'solved');
    const solved = await eventsFor((b) => b['event']?.current === 'SOLVED', 'solved');
    expect(solved).toEqual([{ kind: 'attendance.ended', eventId: expect.any(String), attendance: key(), reason: 'ticket solved' }]);
    sim.setStatus(Number(ref.key), 'closed');
    expect(await eventsFor((b) => b['event']?.current === 'CLOSED', 'closed')).toEqual([
      { kind: 'attendance.ended', eventId: expect.any(String), attendance: key(), reason: 'ticket closed' },
    ]);
  });

  it('a trigger-template body (the other connection method) is refused as not an event: 400', () => {
    expect(() => receiving.webhook!.parse({ type: 'comment', ticket: { id: '1' }, comment: { id: '2', public: 'true', body: 'x' } }, {})).toThrow(BridgeError);
  });
});

// ─── through the bridge ───────────────────────────────────────────────────────────────────────

describe('through the bridge (Blip simulator → bridge → Zendesk simulator and back)', () => {
  let w: FlowWorld;
  let f: ZendeskFixture;
  const start = async (fixture: ZendeskFixture, delivery: Record<string, unknown> = {}) => {
    f = fixture;
    w = await startWorld(f, { config: { media: { allowedHosts: ['127.0.0.1'] } }, delivery });
  };
  afterEach(async () => w.stop());
  const comments = (key: string) => {
    const t = f.sim.ticket(Number(key))!;
    return commentTexts(t, t.requester_id);
  };
  const updates = () => f.sim.calls.filter((c) => c.op === 'UpdateTicket');

  it('a customer attachment reaches the ticket as an uploaded file; internal notes never reach the customer', async () => {
    await start(zendeskTicketsFixture());
    const customer = '5511987652001@wa.gw.msging.net';
    w.blip.addCustomer({ originator: customer });
    await w.blip.customerSays(customer, IDENTIFIER, {
      type: 'application/vnd.lime.media-link+json',
      content: { type: 'application/pdf', uri: `${filesUrl}/boleto.pdf`, title: 'boleto.pdf' },
    });
    const { key } = await f.driver.waitOpened(customer);
    const c = await until(() => f.sim.ticket(Number(key))!.comments.find((x) => x.attachments.length > 0), 10_000, 'the file on the ticket');
    expect(c.attachments.map((a) => [a.file_name, a.bytes.toString()])).toEqual([['boleto.pdf', '%PDF-1.4 boleto']]);
    f.sim.agentComment(Number(key), 'nota interna', { public: false });
    await f.driver.reply(key, 'recebi o boleto');
    await w.blip.waitFor((r) => r.body?.content === 'recebi o boleto', 10_000);
    expect(w.blip.messagesTo(customer).map((r) => r.body.content)).toEqual(['recebi o boleto']);
  });

  it('past the per-ticket update limit, messages queue and go as batched comments: fewer updates, every text, in order', async () => {
    await start(zendeskTicketsFixture({ support: { limits: { ticketUpdatesPerUserPerTicket: 3, ticketUpdateWindowMs: 1_500 } } }));
    const customer = '5511987652002@wa.gw.msging.net';
    w.blip.addCustomer({ originator: customer });
    const texts = Array.from({ length: 15 }, (_, i) => `mensagem ${i + 1}`);
    for (const t of texts) await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: t });
    const { key } = await f.driver.waitOpened(customer);
    await until(() => comments(key).length >= texts.length, 20_000, 'every message on the ticket');
    expect(comments(key)).toEqual(texts);
    const accepted = updates().filter((u) => u.status === 200);
    expect(accepted.length).toBeLessThan(texts.length);
    expect(updates().some((u) => u.status === 429)).toBe(true);
    // Every message was acknowledged to Blip as consumed, once.
    await until(() => w.blip.received.notifications.filter((n) => n.body?.event === 'consumed').length >= texts.length, 10_000, 'consumed notifications');
  }, 30_000);

  it('honours Retry-After on a 429: the next update waits that long', async () => {
    await start(zendeskTicketsFixture());
    const customer = '5511987652003@wa.gw.msging.net';
    w.blip.addCustomer({ originator: customer });
    await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'primeira' });
    const { key } = await f.driver.waitOpened(customer);
    await until(() => comments(key).length === 1, 10_000, 'the first message');
    f.sim.failNext('support:UpdateTicket', { status: 429, retryAfter: '1' });
    await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'segunda' });
    await until(() => comments(key).length === 2, 10_000, 'the second message');
    const [limited, next] = updates().slice(-2);
    expect(limited!.status).toBe(429);
    expect(next!.status).toBe(200);
    expect(next!.at - limited!.at).toBeGreaterThanOrEqual(950);
    expect(comments(key)).toEqual(['primeira', 'segunda']);
  });

  it('a 429 storm is survived: nothing lost, nothing doubled, order kept', async () => {
    await start(zendeskTicketsFixture(), { maxAttempts: 30 });
    const customer = '5511987652004@wa.gw.msging.net';
    w.blip.addCustomer({ originator: customer });
    await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'm0' });
    const { key } = await f.driver.waitOpened(customer);
    await until(() => comments(key).length === 1, 10_000, 'the first message');
    f.sim.failNext('support:UpdateTicket', { status: 429, count: 12 });
    f.sim.failNext('support:ListTicketComments', { status: 429, count: 3 });
    const texts = Array.from({ length: 10 }, (_, i) => `m${i + 1}`);
    for (const t of texts) await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: t });
    await until(() => comments(key).length >= texts.length + 1, 20_000, 'every message after the storm');
    expect(comments(key)).toEqual(['m0', ...texts]);
    expect(updates().filter((u) => u.status === 429).length).toBe(12);
  }, 30_000);

  it('a replayed (stale) or forged signature is 401 and reaches no one', async () => {
    await start(zendeskTicketsFixture());
    const customer = '5511987652005@wa.gw.msging.net';
    w.blip.addCustomer({ originator: customer });
    await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'oi' });
    const { key } = await f.driver.waitOpened(customer);
    await f.driver.reply(key, 'olá');
    await w.blip.waitFor((r) => r.body?.content === 'olá', 10_000);
    const last = f.sim.supportDeliveries.filter((a) => a.outcome === 'delivered').at(-1)!;
    const old = stamp(Date.now() - 2 * 86_400_000);
    const replay = await request(f.webhookUrl, {
      method: 'POST',
      headers: {
        ...last.headers,
        'x-zendesk-webhook-signature-timestamp': old,
        'x-zendesk-webhook-signature': zendeskSignature(ZD_SIGNING_SECRET, old, last.body),
      },
      body: last.body,
    });
    expect(replay.statusCode).toBe(401);
    await replay.body.dump();
    expect(await f.driver.forgedWebhook()).toBe(401);
    expect(w.blip.messagesTo(customer).map((r) => r.body.content)).toEqual(['olá']);
  });
});
