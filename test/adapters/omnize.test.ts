/**
 * The Omnize / Zenvia Chat adapter (`type: omnize`) against the Omnize simulator over real HTTP on
 * loopback: what it sends (the Interactions API as specs/omnize/interactions.md documents it), how
 * it reads the triggers (unsigned: a secret in the URL and our id echoed in `extra`), how it fails,
 * and — through the real service with the Blip simulator — that the transcript link is served in
 * Omnize's shape and only to its signature, that forged or foreign triggers store nothing, and that
 * duplicates reach the customer once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OmnizeSimulator, type TriggerPayload } from '../../simulators/omnize/index.js';
import { limeToContent } from '../../src/core/convert.js';
import type { Content } from '../../src/core/content.js';
import { Links } from '../../src/core/links.js';
import { DeliveryError } from '../../src/delivery/errors.js';
import { HttpClient } from '../../src/delivery/http.js';
import type { AttendanceInfo, Customer, HelpdeskAdapter, HelpdeskEvent, TranscriptEntry } from '../../src/helpdesks/adapter.js';
import { OmnizeConfig, TRANSCRIPT_HEADER, omnizeAdapter } from '../../src/helpdesks/omnize/index.js';
import { BridgeError } from '../../src/http/errors.js';
import { ADMIN_TOKEN, IDENTIFIER, until } from '../helpers/harness.js';
import { EXTRA_KEY, OMNIZE_SECRET, omnizeFixture, startPublicUrl, type OmnizeFixture } from '../flows/omnize-fixture.js';
import { startWorld, type FlowWorld } from '../flows/world.js';

const TOKEN = 'omnize-unit-token-0123';
const SECRET = 'omnize-unit-trigger-secret-0123';
const log = pino({ level: 'silent' });
const http = new HttpClient(5_000);
const media = { allowedHosts: ['127.0.0.1'], maxBytes: 1024 * 1024, timeoutMs: 5000 };
const ctx = (attempt = 1, deliveryId = 1) => ({ attempt, deliveryId });
const HISTORY_URL = 'https://bridge.example.com/transcripts/ATT?expires=1&sig=x';

let sim: OmnizeSimulator;

function config(over: Partial<OmnizeConfig> = {}): OmnizeConfig {
  const c = Value.Default(OmnizeConfig, { type: 'omnize', baseUrl: sim.apiUrl, token: TOKEN, departmentId: 9999, webhookSecret: SECRET, timeoutMs: 2_000, ...over }) as OmnizeConfig;
  expect(Value.Check(OmnizeConfig, c)).toBe(true);
  return c;
}

/** `transcriptUrl: null`: no server.publicUrl. */
const make = (over: Partial<OmnizeConfig> = {}, transcriptUrl: ((id: string) => string | undefined) | null = (id) => HISTORY_URL.replace('ATT', id)) =>
  omnizeAdapter.create(config(over), { http, log, botId: 'acme', media, ...(transcriptUrl ? { transcriptUrl } : {}) });

const info = (): AttendanceInfo => ({ id: randomUUID(), bot: 'acme', openedAt: new Date().toISOString() });

function newCustomer(over: Partial<Customer> = {}): Customer {
  const originator = `55119${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}@wa.gw.msging.net`;
  return { id: originator, address: `${randomUUID()}@tunnel.msging.net`, originator, router: 'acmerouter@msging.net', channel: 'wa.gw.msging.net', extras: {}, ...over };
}

const text = (t: string): Content => ({ type: 'text', text: t });
const message = (content: Content) => ({ id: randomUUID(), at: new Date().toISOString(), content });
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

/** The adapter's own requests to the simulator since `from`, as "METHOD route status". */
const routes = (from = 0) => sim.requests.slice(from).map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}/g, '{hash}')} ${r.status}`);

// ─── a stand-in for the bridge's webhook route: verify (query), then parse ──────────────────────

interface Hit {
  url: string;
  status: number;
  payload: TriggerPayload;
  events: HelpdeskEvent[];
  error?: string;
}
let hits: Hit[] = [];

async function startReceiver(adapter: HelpdeskAdapter): Promise<{ server: Server; url: string }> {
  const hook = adapter.webhook!;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const payload = JSON.parse(raw.toString('utf8')) as TriggerPayload;
      const query = Object.fromEntries(new URL(req.url ?? '/', 'http://x').searchParams);
      const hit: Hit = { url: req.url ?? '', status: 200, payload, events: [] };
      hits.push(hit);
      const verdict = hook.verify(raw, req.headers, query);
      if (!verdict.ok) hit.status = 401;
      else {
        try {
          hit.events = hook.parse(payload, req.headers);
        } catch (err) {
          hit.status = err instanceof BridgeError ? err.status : 500;
          hit.error = (err as Error).message;
        }
      }
      res.writeHead(hit.status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/helpdesk/acme/webhook` };
}

beforeAll(async () => {
  sim = new OmnizeSimulator({ tokens: [TOKEN], fetchHistoryOn: 'manual' });
  await sim.start();
});

afterAll(async () => {
  await sim.stop();
});

beforeEach(() => {
  sim.reset();
  hits = [];
});

// ─── config and check ─────────────────────────────────────────────────────────────────────────

describe('config', () => {
  it("defaults Zenvia Chat's URL, TEXT, no notices and a 15 s deadline; refuses a short secret and unknown keys", () => {
    const c = Value.Default(OmnizeConfig, { type: 'omnize', token: TOKEN, departmentId: 1, webhookSecret: SECRET }) as OmnizeConfig;
    expect(Value.Check(OmnizeConfig, c)).toBe(true);
    expect(c).toMatchObject({ baseUrl: 'https://zchat.zenvia.io/core/api/v1', mediaType: 'TEXT', messages: {}, timeoutMs: 15_000 });
    expect(Value.Check(OmnizeConfig, { ...c, webhookSecret: 'short' })).toBe(false);
    expect(Value.Check(OmnizeConfig, { ...c, departmentId: '1' })).toBe(false);
    expect(Value.Check(OmnizeConfig, { ...c, signingSecret: 'x' })).toBe(false);
    expect(Value.Check(OmnizeConfig, { ...c, baseUrl: 'https://core.omnize.com.br/api/v1' })).toBe(true);
  });
});

describe('check()', () => {
  it('is ok with the token and an active department, and says how many agents are online', async () => {
    const r = await make().check();
    expect(r).toEqual({ ok: true, detail: 'Omnize accepted the token and department 9999; 1 agent online now' });
    // agent.md "Get Online Agents": the token in the query string of a GET.
    const req = sim.requests.at(-1)!;
    expect(req).toMatchObject({ method: 'GET', route: 'GET /agents/online', status: 200 });
    expect(new URLSearchParams(req.query).get('token')).toBe(TOKEN);
    expect(new URLSearchParams(req.query).get('department_id')).toBe('9999');
  });

  it('fails with a wrong token or an unknown department, without printing the token', async () => {
    const bad = await make({ token: 'not-the-token-0000' }).check();
    expect(bad.ok).toBe(false);
    expect(bad.detail).toMatch(/answered 422/);
    expect(bad.detail).not.toContain('not-the-token');
    const dep = await make({ departmentId: 4242 }).check();
    expect(dep).toMatchObject({ ok: false });
    expect(dep.detail).toMatch(/Department not found/);
  });
});

// ─── open ─────────────────────────────────────────────────────────────────────────────────────

describe('open()', () => {
  it('starts an interaction with the token, department, media type, customer, our id in extra and the transcript link', async () => {
    const att = info();
    const customer = newCustomer({ name: 'Ana Souza', email: 'ana@example.com', phone: '11991417777', extras: { cpf: '123.456.789-00', plan: 'gold' } });
    const ref = await make({ cpfExtra: 'cpf', mediaType: 'WHATSAPP' }).open(att, customer, [], ctx());
    const req = sim.requests.at(-1)!;
    expect(req).toMatchObject({ method: 'POST', route: 'POST /interactions', status: 200 });
    // interactions.md "Start interaction": exactly these keys.
    expect(req.body).toEqual({
      token: TOKEN,
      media_type: 'WHATSAPP',
      department_id: 9999,
      customer: { name: 'Ana Souza', email: 'ana@example.com', phone: '11991417777', cpf: '12345678900' },
      extra: { [EXTRA_KEY]: att.id, bot: 'acme' },
      external_history: HISTORY_URL.replace('ATT', att.id),
    });
    expect(ref).toEqual({ key: sim.latestHash() });
    expect(sim.interaction(ref.key)).toMatchObject({ mediaType: 'WHATSAPP', state: 'created', externalHistory: HISTORY_URL.replace('ATT', att.id) });
  });

  it('maps the CPF only from the configured extra; the phone from a WhatsApp originator; sends only what is known', async () => {
    const a = newCustomer({ extras: { cpf: '12345678900' } });
    await make().open(info(), a, [], ctx());
    expect((sim.requests.at(-1)!.body as any).customer).toEqual({ phone: a.originator!.split('@')[0] });

    await make({ cpfExtra: 'documento' }).open(info(), newCustomer({ extras: { documento: ' 98765432100 ' } }), [], ctx());
    expect((sim.requests.at(-1)!.body as any).customer.cpf).toBe('98765432100');

    await make({ cpfExtra: 'documento' }).open(info(), newCustomer({ extras: {} }), [], ctx());
    expect((sim.requests.at(-1)!.body as any).customer).not.toHaveProperty('cpf');

    // Not WhatsApp, no phone: no phone.
    await make().open(info(), newCustomer({ originator: 'someone@telegram.gw.msging.net', name: 'Téo' }), [], ctx());
    expect((sim.requests.at(-1)!.body as any).customer).toEqual({ name: 'Téo' });
  });

  it('without server.publicUrl: no external_history, and the bot transcript goes as the first message', async () => {
    const transcript: TranscriptEntry[] = [
      { direction: 'customer', at: '2024-05-01T11:58:00.000Z', content: text('Oi') },
      { direction: 'bot', at: '2024-05-01T11:58:01.000Z', content: text('Olá! Como posso ajudar?') },
    ];
    const from = sim.requests.length;
    const ref = await make({}, null).open(info(), newCustomer(), transcript, ctx());
    expect(routes(from)).toEqual(['POST /core/api/v1/interactions 200', 'POST /core/api/v1/interactions/{hash}/messages 200']);
    expect(sim.requests[from]!.body).not.toHaveProperty('external_history');
    expect(sim.interaction(ref.key)!.messages.map((m) => [m.type, m.content])).toEqual([['text', `${TRANSCRIPT_HEADER}\n11:58 Customer: Oi\n11:58 Bot: Olá! Como posso ajudar?`]]);

    // With nothing to tell, nothing is posted; a failed transcript post does not fail the open.
    const from2 = sim.requests.length;
    await make({}, null).open(info(), newCustomer(), [], ctx());
    expect(routes(from2)).toEqual(['POST /core/api/v1/interactions 200']);
    sim.failNext('POST /interactions/{hash}/messages', { status: 500 });
    const survived = await make({}, null).open(info(), newCustomer(), transcript, ctx());
    expect(survived).toEqual({ key: sim.latestHash() });
  });

  it('a refused start is permanent; 429 and 5xx are retryable, with Retry-After', async () => {
    const refused = await deliveryError(make({ departmentId: 4242 }).open(info(), newCustomer(), [], ctx()));
    expect(refused).toMatchObject({ retryable: false, status: 422 });
    const wrongToken = await deliveryError(make({ token: 'not-the-token-0000' }).open(info(), newCustomer(), [], ctx()));
    expect(wrongToken).toMatchObject({ retryable: false, status: 422 });
    expect(wrongToken.message).not.toContain('not-the-token');

    sim.failNext('POST /interactions', { status: 429, retryAfter: 7 });
    expect(await deliveryError(make().open(info(), newCustomer(), [], ctx()))).toMatchObject({ retryable: true, status: 429, retryAfterMs: 7000 });
    sim.failNext('POST /interactions', { status: 503 });
    expect(await deliveryError(make().open(info(), newCustomer(), [], ctx()))).toMatchObject({ retryable: true, status: 503 });
    sim.setDown(true);
    expect(await deliveryError(make().open(info(), newCustomer(), [], ctx()))).toMatchObject({ retryable: true });
    sim.setDown(false);
    expect(sim.interactions()).toEqual([]);
    await make().open(info(), newCustomer(), [], ctx());
    expect(sim.interactions()).toHaveLength(1);
  });
});

// ─── deliver, signal, close ───────────────────────────────────────────────────────────────────

describe('deliver(), signal(), close()', () => {
  let adapter: HelpdeskAdapter;
  let att: AttendanceInfo;
  let ref: { key: string };
  beforeEach(async () => {
    adapter = make();
    att = info();
    ref = await adapter.open(att, newCustomer(), [], ctx());
  });
  const sent = () => sim.interaction(ref.key)!.messages.map((m) => ({ type: m.type, content: m.content, url: m.url }));

  it('sends text, and each kind of file with its URL and Omnize type (image, video, audio, file)', async () => {
    const url = (n: string) => `https://blipmediastore.blob.core.windows.net/files/${n}`;
    await adapter.deliver(ref, att, message(fromLime('text/plain', 'Olá, tudo bem?')), ctx());
    await adapter.deliver(ref, att, message(fromLime('application/vnd.lime.media-link+json', { type: 'image/jpeg', uri: url('foto.jpg'), text: 'minha foto' })), ctx());
    await adapter.deliver(ref, att, message(fromLime('application/vnd.lime.media-link+json', { type: 'video/mp4', uri: url('clip.mp4') })), ctx());
    await adapter.deliver(ref, att, message(fromLime('application/vnd.lime.media-link+json', { type: 'audio/ogg', uri: url('voz.ogg') })), ctx());
    await adapter.deliver(ref, att, message(fromLime('application/vnd.lime.media-link+json', { type: 'application/pdf', uri: url('boleto.pdf'), title: 'boleto.pdf' })), ctx());
    const got = sent();
    expect(got[0]).toEqual({ type: 'text', content: 'Olá, tudo bem?', url: null });
    expect(got[1]).toEqual({ type: 'image', content: 'minha foto', url: url('foto.jpg') });
    expect(got.slice(2).map((m) => [m.type, m.url])).toEqual([
      ['video', url('clip.mp4')],
      ['audio', url('voz.ogg')],
      ['file', url('boleto.pdf')],
    ]);
    expect(got[4]!.content).toBe('boleto.pdf');
    for (const m of got) expect(m.content).not.toBe('');
    // interactions.md "Send message": exactly token, content, type and url.
    for (const r of sim.requests.filter((x) => x.route === 'POST /interactions/{hash}/messages')) {
      expect(Object.keys(r.body as object).sort()).toEqual((r.body as any).type === 'text' ? ['content', 'token', 'type'] : ['content', 'token', 'type', 'url']);
      expect((r.body as any).token).toBe(TOKEN);
    }
  });

  it('sends location, contact, reply and select as their readable text', async () => {
    await adapter.deliver(ref, att, message(fromLime('application/vnd.lime.location+json', { latitude: -23.55, longitude: -46.63, text: 'Av. Paulista' })), ctx());
    await adapter.deliver(ref, att, message(fromLime('application/vnd.lime.contact+json', { name: 'João', phoneNumber: '+5511999990000' })), ctx());
    await adapter.deliver(ref, att, message({ type: 'reply', text: '> Qual o seu pedido?\n12345', reply: '12345', inReplyTo: { text: 'Qual o seu pedido?' } }), ctx());
    const got = sent();
    expect(got.every((m) => m.type === 'text' && m.url === null)).toBe(true);
    expect(got[0]!.content).toContain('-23.55');
    expect(got[1]!.content).toContain('João');
    expect(got[2]!.content).toBe('> Qual o seu pedido?\n12345');
  });

  it('typing and paused become /typing and /cleared', async () => {
    const from = sim.requests.length;
    await adapter.signal!(ref, att, 'typing', ctx());
    expect(sim.interaction(ref.key)!.customerTyping).toBe(true);
    await adapter.signal!(ref, att, 'paused', ctx());
    expect(sim.interaction(ref.key)!.customerTyping).toBe(false);
    expect(routes(from)).toEqual(['PUT /core/api/v1/interactions/{hash}/typing 200', 'PUT /core/api/v1/interactions/{hash}/cleared 200']);
    expect(sim.requests.slice(from).map((r) => r.body)).toEqual([{ token: TOKEN }, { token: TOKEN }]);
  });

  it('a bridge-initiated end writes the reason in the interaction’s note, then finishes it; an end by the agent calls nothing', async () => {
    const from = sim.requests.length;
    await adapter.close!(ref, att, 'agent', ctx());
    expect(routes(from)).toEqual([]);
    for (const reason of ['admin', 'customer-inactive', 'customer'] as const) {
      const other = await adapter.open(info(), newCustomer(), [], ctx());
      await adapter.close!(other, att, reason, ctx());
      expect(sim.interaction(other.key)!.finished?.by).toBe('api');
      expect(sim.interaction(other.key)!.note).toMatch(new RegExp(`^Blip: the customer was handed back to the bot \\(${reason}: `));
      expect(sim.requests.slice(-2)).toMatchObject([
        { method: 'PUT', route: 'PUT /interactions/{hash}', status: 200, body: { token: TOKEN, note: expect.any(String) } },
        { method: 'PUT', route: 'PUT /interactions/{hash}/finish', status: 200, body: { token: TOKEN } },
      ]);
    }
    // notes: false: the finish alone.
    const quiet = make({ notes: false });
    const other = await quiet.open(info(), newCustomer(), [], ctx());
    const n = sim.requests.length;
    await quiet.close!(other, att, 'expired', ctx());
    expect(routes(n)).toEqual(['PUT /core/api/v1/interactions/{hash}/finish 200']);
  });

  it('a failed reply reaches the agent as a "Blip:" line with its reason; other statuses send nothing', async () => {
    const from = sim.requests.length;
    for (const status of ['sent', 'delivered', 'read'] as const) await adapter.messageStatus!(ref, att, { sourceId: 'm1', status }, ctx());
    expect(routes(from)).toEqual([]);
    await adapter.messageStatus!(ref, att, { sourceId: 'm1', status: 'failed', code: 'BLIP_REFUSED', reason: 'the contact blocked the number' }, ctx());
    expect(sent()).toEqual([{ type: 'text', content: 'Blip: a reply was not delivered to the customer (BLIP_REFUSED: the contact blocked the number).', url: null }]);
  });

  it('a text is sent whole (no documented limit); with maxTextLength, as ordered parts, never cut', async () => {
    const long = Array.from({ length: 60 }, (_, i) => `palavra${i}`).join(' ');
    await adapter.deliver(ref, att, message(text(long)), ctx());
    expect(sent().map((m) => m.content)).toEqual([long]);
    const split = make({ maxTextLength: 100 });
    await split.deliver(ref, att, message(text(long)), ctx());
    const parts = sent().slice(1).map((m) => m.content!);
    expect(parts.length).toBeGreaterThan(4);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(100);
    expect(parts.join(' ')).toBe(long);
  });

  it('429 and 5xx are retryable (Retry-After honoured); a finished or unknown interaction is permanent', async () => {
    sim.failNext('POST /interactions/{hash}/messages', { status: 429, retryAfter: 2 });
    expect(await deliveryError(adapter.deliver(ref, att, message(text('a')), ctx()))).toMatchObject({ retryable: true, status: 429, retryAfterMs: 2000 });
    sim.failNext('PUT /interactions/{hash}/typing', { status: 502 });
    expect(await deliveryError(adapter.signal!(ref, att, 'typing', ctx()))).toMatchObject({ retryable: true, status: 502 });
    sim.failNext('PUT /interactions/{hash}/finish', { status: 500 });
    expect(await deliveryError(adapter.close!(ref, att, 'admin', ctx()))).toMatchObject({ retryable: true, status: 500 });
    await adapter.deliver(ref, att, message(text('b')), ctx());
    expect(sent().map((m) => m.content)).toEqual(['b']);

    await sim.finish(ref.key);
    expect(await deliveryError(adapter.deliver(ref, att, message(text('too late')), ctx()))).toMatchObject({ retryable: false, status: 422 });
    expect(await deliveryError(adapter.deliver({ key: randomUUID() }, att, message(text('x')), ctx()))).toMatchObject({ retryable: false, status: 404 });
  });
});

// ─── triggers ─────────────────────────────────────────────────────────────────────────────────

describe('triggers: verify and parse', () => {
  let adapter: HelpdeskAdapter;
  let receiver: { server: Server; url: string };
  const NOTICES = { queued: 'Você é o número {position} na fila.', unavailable: 'Nenhum atendente disponível agora.', accepted: 'Um atendente vai falar com você.' };

  beforeAll(async () => {
    adapter = make({ messages: NOTICES });
    receiver = await startReceiver(adapter);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => receiver.server.close(() => resolve()));
  });
  beforeEach(() => {
    sim.setWebhookUrl(`${receiver.url}?secret=${SECRET}`);
  });
  afterEach(() => {
    sim.setWebhookUrl(undefined);
  });

  it('maps every trigger the simulator sends: queued, unavailable, accepted, typing, cleared, messages, finished', async () => {
    const att = info();
    const { key } = await adapter.open(att, newCustomer(), [], ctx());
    const attendance = { key, id: att.id };
    const q = await sim.queue(key, 3);
    await sim.unavailable(key);
    await sim.accept(key, { id: 5, name: 'Carla' });
    await sim.agentTyping(key, true);
    await sim.agentTyping(key, false);
    const m1 = await sim.agentMessage(key, 'Olá, sou a Carla');
    const m2 = await sim.agentMessage(key, { type: 'image', url: 'https://cdn.example.com/files/foto%201.png', content: 'segue a foto' });
    const m3 = await sim.agentMessage(key, { type: 'file', url: 'https://cdn.example.com/files/boleto.pdf' });
    const m4 = await sim.agentMessage(key, { type: 'audio', url: 'https://cdn.example.com/a/voz.ogg' });
    await sim.finish(key);
    expect(hits.map((h) => h.status)).toEqual(Array(hits.length).fill(200));
    const hashOf = (r: typeof m1) => (r.trigger.payload as { message: { hash: string } }).message.hash;
    const events = hits.map((h) => h.events);
    expect(q.delivery?.status).toBe(200);
    expect(events[0]).toEqual([{ kind: 'notice', eventId: `${key}:queued:3`, attendance, text: 'Você é o número 3 na fila.' }]);
    expect(events[1]).toEqual([{ kind: 'no-agent', eventId: `${key}:unavailable`, attendance, text: NOTICES.unavailable }]);
    expect(events[2]).toEqual([
      { kind: 'agent.assigned', eventId: `${key}:accepted`, attendance },
      { kind: 'notice', eventId: `${key}:accepted:notice`, attendance, text: NOTICES.accepted },
    ]);
    expect(events[3]).toEqual([{ kind: 'agent.typing', eventId: expect.stringMatching(`^${key}:typing:`), attendance, state: 'typing' }]);
    expect(events[4]).toEqual([{ kind: 'agent.typing', eventId: expect.stringMatching(`^${key}:cleared:`), attendance, state: 'paused' }]);
    expect(events[5]).toEqual([
      { kind: 'agent.message', eventId: `msg:${hashOf(m1)}`, attendance, message: { id: hashOf(m1), content: { type: 'text', text: 'Olá, sou a Carla' }, agent: { id: '5', name: 'Carla' } } },
    ]);
    expect((events[6]![0] as any).message.content).toEqual({
      type: 'media',
      url: 'https://cdn.example.com/files/foto%201.png',
      mimeType: 'image/png',
      name: 'foto 1.png',
      caption: 'segue a foto',
      text: '📎 foto 1.png (image/png) https://cdn.example.com/files/foto%201.png\nsegue a foto',
    });
    // A file whose content is its own name has no caption.
    expect((events[7]![0] as any).message.content).toEqual({
      type: 'media',
      url: 'https://cdn.example.com/files/boleto.pdf',
      mimeType: 'application/pdf',
      name: 'boleto.pdf',
      text: '📎 boleto.pdf (application/pdf) https://cdn.example.com/files/boleto.pdf',
    });
    expect((events[7]![0] as any).eventId).toBe(`msg:${hashOf(m3)}`);
    expect((events[8]![0] as any).message.content).toMatchObject({ type: 'media', mimeType: 'audio/ogg' });
    expect((events[8]![0] as any).eventId).toBe(`msg:${hashOf(m4)}`);
    expect(hashOf(m2)).not.toBe(hashOf(m1));
    expect(events[9]).toEqual([{ kind: 'attendance.ended', eventId: `${key}:finished`, attendance, reason: 'finished in Omnize' }]);
    // Redelivered, the same trigger gives the same event ids (the core's dedupe keys).
    await sim.redeliver(0);
    expect(hits.at(-1)!.events).toEqual(events[0]);
  });

  it('the doc\'s text example (a url on a text message) stays text; queued/accepted without notices configured are ignored; unavailable is no-agent all the same', () => {
    const quiet = make();
    const extra = { [EXTRA_KEY]: 'att-9' };
    const h = '322e458c-540c-4c11-ab5c-d38d39f57213';
    expect(
      quiet.webhook!.parse({ interaction_hash: h, message: { hash: '3110a5da-87c7-4f6d-a4ab-2b1ed5edfd46', content: 'Message', type: 'text', url: 'http://...' }, agent: { id: 111, name: 'Atendente' }, extra }, {}),
    ).toEqual([
      { kind: 'agent.message', eventId: 'msg:3110a5da-87c7-4f6d-a4ab-2b1ed5edfd46', attendance: { key: h, id: 'att-9' }, message: { id: '3110a5da-87c7-4f6d-a4ab-2b1ed5edfd46', content: { type: 'text', text: 'Message' }, agent: { id: '111', name: 'Atendente' } } },
    ]);
    expect(quiet.webhook!.parse({ interaction_hash: h, state: 'queued', position: 1, extra }, {})).toEqual([{ kind: 'ignored', reason: 'queued (no messages.queued configured)' }]);
    expect(quiet.webhook!.parse({ interaction_hash: h, state: 'unavailable', extra }, {})).toEqual([{ kind: 'no-agent', eventId: `${h}:unavailable`, attendance: { key: h, id: 'att-9' } }]);
    expect(quiet.webhook!.parse({ interaction_hash: h, state: 'accepted', extra }, {})).toEqual([{ kind: 'agent.assigned', eventId: `${h}:accepted`, attendance: { key: h, id: 'att-9' } }]);
    expect(quiet.webhook!.parse({ interaction_hash: h, state: 'transferred', extra }, {})).toEqual([{ kind: 'ignored', reason: 'state transferred' }]);
    // A queued trigger without a position cannot fill "{position}".
    expect(adapter.webhook!.parse({ interaction_hash: h, state: 'queued', extra }, {})).toEqual([{ kind: 'ignored', reason: 'queued without a position' }]);
    // A file that is not an http(s) link is shown as text, not fetched.
    expect((quiet.webhook!.parse({ interaction_hash: h, message: { hash: 'm1', content: 'x', type: 'file', url: 'javascript:alert(1)' }, extra }, {})[0] as any).message.content).toEqual({ type: 'text', text: 'x\njavascript:alert(1)' });
  });

  it('a trigger of an interaction the bridge did not start is acknowledged and ignored (the URL is account-wide); unknownTriggers: reject answers 404', () => {
    const h = '322e458c-540c-4c11-ab5c-d38d39f57213';
    expect(adapter.webhook!.unmatched).toBe('ignore');
    for (const extra of [{}, undefined, null, { [EXTRA_KEY]: 42 }, { [EXTRA_KEY]: '' }]) {
      expect(adapter.webhook!.parse({ interaction_hash: h, state: 'queued', position: 1, ...(extra !== undefined ? { extra } : {}) }, {})).toEqual([
        { kind: 'ignored', reason: `interaction ${h} was not started by this bridge (no extra.${EXTRA_KEY})` },
      ]);
    }
  });

  it('refuses a missing, wrong or doubled ?secret= (401), with unknownTriggers: reject a trigger not ours (404), and a malformed one (400)', async () => {
    const hook = make({ unknownTriggers: 'reject' }).webhook!;
    expect(hook.unmatched).toBe('reject');
    const raw = Buffer.from('{}');
    expect(hook.verify(raw, {}, {})).toMatchObject({ ok: false });
    expect(hook.verify(raw, {}, { secret: '' })).toMatchObject({ ok: false });
    expect(hook.verify(raw, {}, { secret: `${SECRET}x` })).toMatchObject({ ok: false });
    expect(hook.verify(raw, {}, { secret: [SECRET, SECRET] as unknown as string })).toMatchObject({ ok: false });
    expect(hook.verify(raw, {}, { secret: SECRET })).toEqual({ ok: true });
    // Omnize signs nothing: a header does not help.
    expect(hook.verify(raw, { authorization: `Bearer ${SECRET}` }, {})).toMatchObject({ ok: false });

    const h = '322e458c-540c-4c11-ab5c-d38d39f57213';
    for (const extra of [{}, undefined, null, { [EXTRA_KEY]: 42 }, { [EXTRA_KEY]: '' }]) {
      let err: unknown;
      try {
        hook.parse({ interaction_hash: h, state: 'queued', position: 1, ...(extra !== undefined ? { extra } : {}) }, {});
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BridgeError);
      expect((err as BridgeError).status).toBe(404);
    }
    for (const body of [null, [], 'x', {}, { interaction_hash: 7 }, { interaction_hash: h, message: { content: 'no hash' }, extra: { [EXTRA_KEY]: 'a' } }]) {
      expect(() => hook.parse(body, {}), JSON.stringify(body)).toThrow(BridgeError);
      try {
        hook.parse(body, {});
      } catch (e) {
        expect((e as BridgeError).status).toBe(400);
      }
    }
    // Through the simulator: a trigger URL with the wrong secret is refused.
    const { key } = await adapter.open(info(), newCustomer(), [], ctx());
    sim.setWebhookUrl(`${receiver.url}?secret=wrong-secret-0123456789`);
    expect((await sim.accept(key)).delivery?.status).toBe(401);
  });
});

// ─── through the bridge ───────────────────────────────────────────────────────────────────────

describe('through the bridge (Blip simulator → bridge → Omnize simulator and back)', () => {
  let w: FlowWorld;
  let fixture: OmnizeFixture;
  let proxy: Awaited<ReturnType<typeof startPublicUrl>>;

  beforeEach(async () => {
    proxy = await startPublicUrl();
    fixture = omnizeFixture({ helpdesk: { messages: { queued: 'Position {position}', unavailable: 'Nobody now' } } });
    w = await startWorld(fixture, { config: { server: { port: 0, host: '127.0.0.1', adminToken: ADMIN_TOKEN, publicUrl: proxy.url } } });
    proxy.setTarget(w.url);
  });
  afterEach(async () => {
    await w.stop();
    await proxy.stop();
  });

  async function stored(): Promise<string> {
    const db = w.bridge.store.kysely;
    const counts = await Promise.all(
      (['attendances', 'messages', 'deliveries', 'dedupe'] as const).map(async (t) => Number((await db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)),
    );
    return counts.join(',');
  }
  const idle = () => until(async () => (await w.admin('GET', '/admin/deliveries?state=pending')).body.deliveries.length === 0, 10_000, 'idle');

  async function opened(n: number, history?: Array<{ direction: 'received' | 'sent'; type: string; content: string }>) {
    const customer = `55119876502${String(n).padStart(2, '0')}@wa.gw.msging.net`;
    const { tunnel } = w.blip.addCustomer({ originator: customer, name: `Cliente ${n}`, ...(history ? { history } : {}) });
    await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: 'oi' });
    const o = await fixture.driver.waitOpened(customer);
    return { customer, tunnel, key: o.key, attendanceId: fixture.sim.interaction(o.key)!.extra[EXTRA_KEY] as string };
  }

  const post = async (url: string, body: unknown) => {
    const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.statusCode, body: await res.body.text() };
  };

  it('external_history: Omnize gets the transcript in its documented shape; a tampered, expired or foreign link is refused', async () => {
    const { key, attendanceId } = await opened(1, [
      { direction: 'received', type: 'text/plain', content: 'Oi' },
      { direction: 'sent', type: 'text/plain', content: 'Olá! Posso ajudar?' },
    ]);
    const i = fixture.sim.interaction(key)!;
    const link = new URL(i.externalHistory!);
    expect(link.pathname).toBe(`/transcripts/${attendanceId}`);
    expect(i.history[0]).toMatchObject({ status: 200, valid: true, unknownKeys: [] });
    expect(i.history[0]!.messages).toEqual([
      { time: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/), direction: 'CLIENT', content: 'Oi' },
      { time: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/), direction: 'AGENT', content: 'Olá! Posso ajudar?' },
    ]);
    // Fetched again (Omnize may fetch when the agent opens it): still valid.
    expect((await fixture.sim.fetchHistory(key)).valid).toBe(true);

    const get = async (u: string) => (await request(u)).statusCode;
    expect(await get(link.href)).toBe(200);
    const sig = link.searchParams.get('sig')!;
    const tampered = (f: (u: URL) => void) => {
      const u = new URL(link.href);
      f(u);
      return u.href;
    };
    expect(await get(tampered((u) => u.searchParams.set('sig', `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`)))).toBe(401);
    expect(await get(tampered((u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 1))))).toBe(401);
    expect(await get(tampered((u) => u.searchParams.delete('sig')))).toBe(401);
    expect(await get(tampered((u) => (u.pathname = `/transcripts/${randomUUID()}`)))).toBe(401);
    // Signed right but expired (the key derives from the admin token).
    const expired = new Links(proxy.url, ADMIN_TOKEN).transcriptUrl(attendanceId, Date.now() - 25 * 3_600_000)!;
    expect(await get(expired)).toBe(401);
    expect(await get(new Links(proxy.url, ADMIN_TOKEN).transcriptUrl(attendanceId)!)).toBe(200);
    expect(await get(new Links(proxy.url, 'another-admin-token-000').transcriptUrl(attendanceId)!)).toBe(401);
  });

  it('a wrong or missing secret is 401, an unknown interaction or a mismatching extra is acknowledged and ignored (200): nothing stored', async () => {
    const { key, attendanceId } = await opened(2);
    const other = await opened(3);
    await idle();
    const before = await stored();
    const trigger = (over: Record<string, unknown> = {}) => ({
      interaction_hash: key,
      message: { hash: randomUUID(), content: 'forged', type: 'text', url: null },
      agent: { id: 1, name: 'Mallory' },
      extra: { [EXTRA_KEY]: attendanceId, bot: 'acme' },
      ...over,
    });
    const url = fixture.webhookUrl;
    expect((await post(url.replace(OMNIZE_SECRET, 'wrong-secret-000000000000'), trigger())).status).toBe(401);
    expect((await post(url.replace(`?secret=${OMNIZE_SECRET}`, ''), trigger())).status).toBe(401);
    expect((await post(`${url}&secret=${OMNIZE_SECRET}`, trigger())).status).toBe(401);
    // The trigger URL is account-wide: what is not ours gets the answer that cannot look like a failure.
    for (const body of [
      trigger({ interaction_hash: randomUUID() }),
      trigger({ extra: { [EXTRA_KEY]: other.attendanceId } }),
      trigger({ extra: { [EXTRA_KEY]: randomUUID() } }),
      trigger({ extra: {} }),
      { interaction_hash: key, state: 'finished', extra: {} },
      { interaction_hash: key, state: 'queued', position: 1, extra: { [EXTRA_KEY]: other.attendanceId } },
    ]) {
      const res = await post(url, body);
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(JSON.parse(res.body), JSON.stringify(body)).toMatchObject({ ignored: expect.any(String) });
    }
    expect((await post(url, { state: 'finished' })).status).toBe(400);
    expect(await stored()).toBe(before);
    expect(w.blip.received.messages.filter((r) => r.body?.content === 'forged' || r.body?.content === 'Position 1')).toEqual([]);
    expect((await w.admin('GET', `/admin/attendances/${attendanceId}`)).body.state).toBe('open');
  });

  it('duplicate triggers (messages, queued, unavailable, finished) reach the customer once: each redelivery is answered as a duplicate', async () => {
    const { customer, key, tunnel } = await opened(4);
    const sim = fixture.sim;
    /** Sends the last trigger again; the bridge's answer says it already had it. */
    const again = async (index?: number) => {
      const d = await sim.redeliver(index);
      expect(d.status, d.body).toBe(202);
      expect(JSON.parse(d.response)).toMatchObject({ accepted: 0, duplicates: 1 });
    };
    await sim.queue(key, 2);
    await again();
    await sim.unavailable(key);
    await again();
    await sim.accept(key);
    await again();
    await sim.agentMessage(key, 'uma vez só');
    await again();
    await sim.agentMessage(key, { type: 'image', url: 'https://cdn.example.com/f.png', content: 'a foto' });
    await again();
    await again(sim.deliveries.findIndex((d) => d.event === 'message'));
    await w.blip.waitFor((r) => r.body?.to === tunnel && r.body?.type === 'application/vnd.lime.media-link+json', 10_000);
    await sim.finish(key);
    // Once the attendance is closing, a redelivered finish matches nothing open: acknowledged, ignored.
    const late = await sim.redeliver();
    expect(late.status).toBeLessThan(300);
    await w.blip.waitFor((r) => r.body?.type === 'application/vnd.lime.redirect+json' && r.body?.to === tunnel, 10_000);
    const got = w.blip.messagesTo(customer).map((r) => (typeof r.body.content === 'string' ? r.body.content : r.body.type));
    expect(got).toEqual(['Position 2', 'Nobody now', 'uma vez só', 'application/vnd.lime.media-link+json', 'Goodbye!', 'application/vnd.lime.redirect+json']);
    const media = w.blip.messagesTo(customer).find((r) => r.body.type === 'application/vnd.lime.media-link+json')!;
    expect(media.body.content).toMatchObject({ uri: 'https://cdn.example.com/f.png', type: 'image/png', text: 'a foto' });
  });

  it('agent typing and cleared become chat states for the customer', async () => {
    const { key, tunnel } = await opened(5);
    await fixture.sim.accept(key);
    await fixture.sim.agentTyping(key, true);
    await w.blip.waitFor((r) => r.body?.to === tunnel && r.body?.type === 'application/vnd.lime.chatstate+json' && r.body?.content?.state === 'composing', 10_000);
    await fixture.sim.agentTyping(key, false);
    await w.blip.waitFor((r) => r.body?.to === tunnel && r.body?.type === 'application/vnd.lime.chatstate+json' && r.body?.content?.state === 'paused', 10_000);
  });

  it('customer messages survive 429 and 5xx from Omnize, in order and once; an admin close finishes the interaction', async () => {
    const { customer, key, attendanceId } = await opened(6);
    fixture.sim.failNext('POST /interactions/{hash}/messages', { status: 503, count: 2 });
    fixture.sim.failNext('POST /interactions/{hash}/messages', { status: 429, retryAfter: 0 });
    for (const t of ['um', 'dois', 'três']) await w.blip.customerSays(customer, IDENTIFIER, { type: 'text/plain', content: t });
    await until(() => fixture.driver.customerTexts(key).length >= 4, 10_000, 'all customer messages');
    expect(fixture.driver.customerTexts(key)).toEqual(['oi', 'um', 'dois', 'três']);
    expect(fixture.sim.requests.filter((r) => r.route === 'POST /interactions/{hash}/messages').map((r) => r.status)).toContain(503);

    expect((await w.admin('POST', `/admin/attendances/${attendanceId}/close`, {})).status).toBeLessThan(300);
    expect(await fixture.driver.waitClosedByBridge!(key)).toEqual({ note: 'Blip: the customer was handed back to the bot (admin: an operator ended it).' });
    expect(fixture.sim.interaction(key)!.finished!.by).toBe('api');
    await until(async () => (await w.admin('GET', `/admin/attendances/${attendanceId}`)).body.state === 'closed', 10_000, 'closed');
  });
});
