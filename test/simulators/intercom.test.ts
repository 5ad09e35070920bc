/**
 * The Intercom simulator against real HTTP on 127.0.0.1: what an app sees when it talks to
 * "Intercom" 2.14 (auth, contacts, conversations, replies, manage, rate limits, faults), what the
 * agents' side sends it (signed webhook notifications, retried), and proof that Intercom's own
 * `intercom-client` speaks to it unchanged.
 *
 * Every request these tests send and every response they get is validated against Intercom's API
 * description (../shared/specs/intercom/api.intercom.io.2.14.yaml). A handful of the description's
 * own defects are normalised first, each named and justified in test/helpers/intercom-spec.ts. Without
 * ../shared the behaviour tests still run and the validation is skipped, with a warning.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { IntercomClient, IntercomError } from 'intercom-client';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { specPath, type OpenApi } from '../helpers/openapi.js';
import { INTERCOM_SPEC, intercomSpec, intercomSpecAvailable } from '../helpers/intercom-spec.js';
import { IntercomSimulator, type NotificationEvent, type WebhookTopic } from '../../simulators/intercom/index.js';

const HAVE_SPEC = intercomSpecAvailable();
if (!HAVE_SPEC) console.warn(`[intercom simulator] ${specPath(INTERCOM_SPEC)} is absent: validation against Intercom's API description is skipped`);

const TOKEN = 'dG9rOmFiY2RlZg==';
const CLIENT_SECRET = 'client-secret';

let api: OpenApi | undefined;
let specCleanup = () => {};

/** Validates a request body the tests send; `rejected` ones must be refused by the description too. */
function checkRequest(method: string, path: string, body: unknown, rejected = false): void {
  if (!api || body === undefined) return;
  const problem = api.request(method, path, body);
  if (rejected) expect(problem, `${method} ${path}: the description accepts a body the simulator refuses`).toBeDefined();
  else expect(problem, JSON.stringify(problem)).toBeUndefined();
}

/**
 * Validates a response. Statuses the operation does not document (409 on create contact, 429s,
 * 400s) are checked against the description's `error` schema, and must really be undocumented.
 */
function checkResponse(method: string, path: string, status: number, body: unknown): void {
  if (!api) return;
  const problem = api.response(method, path, status, body);
  if (problem?.errors[0]?.startsWith(`status ${status} is not documented`)) {
    expect(status).toBeGreaterThanOrEqual(400);
    expect(api.component('error', body), JSON.stringify(body)).toBeUndefined();
    return;
  }
  expect(problem, JSON.stringify(problem)).toBeUndefined();
}

// ─── a webhook receiver (the bridge's side, reduced to recording) ─────────────────────────────

interface Hit {
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  body: NotificationEvent;
  at: number;
}

let receiver: FastifyInstance;
let receiverUrl: string;
let hits: Hit[] = [];
/** Statuses to answer, consumed one per delivery; empty = 200. */
let answers: number[] = [];

const verify = (raw: string, header: unknown, secret = CLIENT_SECRET): boolean => {
  if (typeof header !== 'string' || !header.startsWith('sha1=')) return false;
  const expected = Buffer.from(createHmac('sha1', secret).update(raw).digest('hex'));
  const got = Buffer.from(header.slice('sha1='.length));
  return got.length === expected.length && timingSafeEqual(got, expected);
};

async function until<T>(fn: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const hitsOf = (topic: WebhookTopic) => hits.filter((h) => h.body.topic === topic);

/** A notification as the app receives it: signed, shaped as research §B.4, its item a valid `conversation`. */
function expectValidNotification(h: Hit, topic: WebhookTopic, appId = 'a86dr8yl'): NotificationEvent {
  expect(verify(h.raw, h.headers['x-hub-signature']), 'X-Hub-Signature must be HMAC-SHA1 of the raw body').toBe(true);
  expect(h.headers['content-type']).toMatch(/^application\/json/);
  expect(h.headers['user-agent']).toBe('intercom-parrot-service-client/1.0');
  const n = h.body;
  expect(n).toMatchObject({ type: 'notification_event', app_id: appId, topic, data: { type: 'notification_event_data' }, links: {}, self: null });
  expect(n.id).toMatch(/^notif_[0-9a-f-]{36}$/);
  expect(n.delivery_attempts).toBeGreaterThanOrEqual(1);
  expect(Number.isInteger(n.created_at) && Number.isInteger(n.first_sent_at)).toBe(true);
  expect(n.first_sent_at).toBeGreaterThanOrEqual(n.created_at);
  if (api && topic !== 'ping') expect(api.component('conversation', n.data.item), JSON.stringify(api.component('conversation', n.data.item))).toBeUndefined();
  return n;
}

// ─── the simulator under test ─────────────────────────────────────────────────────────────────

let sim: IntercomSimulator;
let base: string;

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  opts: { token?: string | null; headers?: Record<string, string>; rejected?: boolean; to?: string } = {},
): Promise<Res> {
  checkRequest(method, path.split('?')[0]!, body, opts.rejected);
  const token = opts.token === undefined ? TOKEN : opts.token;
  const res = await request(`${opts.to ?? base}${path}`, {
    method: method as 'GET',
    headers: {
      accept: 'application/json',
      'intercom-version': '2.14',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
      ...opts.headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  const json = text === '' ? undefined : JSON.parse(text);
  checkResponse(method, path.split('?')[0]!, res.statusCode, json);
  return { status: res.statusCode, headers: res.headers, json };
}

const newContact = async (fields: Record<string, unknown> = {}) => {
  const res = await call('POST', '/contacts', { role: 'user', external_id: `blip:${crypto.randomUUID()}`, name: 'Maria Silva', ...fields });
  expect(res.status).toBe(200);
  return res.json as { id: string; external_id: string; email: string };
};

const newConversation = async (contactIdValue: string, body = 'Olá, preciso de ajuda') => {
  const res = await call('POST', '/conversations', { from: { type: 'user', id: contactIdValue }, body });
  expect(res.status).toBe(200);
  return res.json as { type: string; id: string; conversation_id: string; body: string };
};

beforeAll(async () => {
  if (HAVE_SPEC) {
    const n = intercomSpec();
    api = n.api;
    specCleanup = n.cleanup;
  }
  receiver = Fastify();
  receiver.removeAllContentTypeParsers();
  receiver.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  receiver.post('/intercom', async (req, reply) => {
    const raw = String(req.body);
    hits.push({ headers: req.headers, raw, body: JSON.parse(raw) as NotificationEvent, at: Date.now() });
    return reply.code(answers.shift() ?? 200).send({ ok: true });
  });
  receiverUrl = `${await receiver.listen({ host: '127.0.0.1', port: 0 })}/intercom`;
  sim = new IntercomSimulator({
    accessTokens: [TOKEN],
    clientSecret: CLIENT_SECRET,
    admins: [
      { id: '991267459', name: 'Ciaran1 Lee', email: 'admin1@email.com' },
      { id: '991267460', name: 'Ana Souza', email: 'ana@example.com' },
    ],
    tags: [{ id: '7522907', name: 'bridge' }],
    webhook: { url: receiverUrl },
    webhookRetry: { maxAttempts: 3, delaysMs: [30, 60], timeoutMs: 1_000, throttleDelayMs: 150 },
  });
  base = await sim.start();
});

afterAll(async () => {
  await sim?.stop();
  await receiver?.close();
  specCleanup();
});

beforeEach(() => {
  sim.reset();
  hits = [];
  answers = [];
});

it.skipIf(!HAVE_SPEC)('validates against Intercom 2.14 API description (../shared/specs present)', () => {
  expect(api).toBeDefined();
  // Sanity: the checker really rejects what the description forbids.
  expect(api!.request('POST', '/conversations', { from: { type: 'user', id: 'x' } })).toBeDefined();
});

// ─── auth, headers ────────────────────────────────────────────────────────────────────────────

describe('auth', () => {
  it('answers 401 with the error.list shape, without rate-limit headers, for a missing or wrong token', async () => {
    for (const token of [null, 'wrong']) {
      const res = await call('GET', '/me', undefined, { token });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ type: 'error.list', errors: [{ code: 'unauthorized', message: 'Access Token Invalid' }] });
      expect(res.json.request_id).toMatch(/^[0-9a-f-]{36}$/);
      // [doc] rate limiting: "They are not sent when the request has no valid credentials."
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    }
    const res = await call('POST', '/contacts', { role: 'user', external_id: 'x' }, { token: 'wrong' });
    expect(res.status).toBe(401);
    expect(sim.contacts).toHaveLength(0);
  });

  it('identifies the admin with /me and lists admins', async () => {
    const me = await call('GET', '/me');
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ type: 'admin', id: '991267459', app: { type: 'app', id_code: 'a86dr8yl' } });
    const admins = await call('GET', '/admins');
    expect(admins.json.admins.map((a: { id: string }) => a.id)).toEqual(['991267459', '991267460']);
    expect((await call('GET', '/admins/1')).status).toBe(404);
  });

  it('refuses an Intercom-Version it does not know, and echoes the one it serves', async () => {
    const bad = await call('GET', '/me', undefined, { headers: { 'intercom-version': '9.9' } });
    expect(bad.status).toBe(400);
    const good = await call('GET', '/me');
    expect(good.headers['intercom-version']).toBe('2.14');
  });
});

// ─── contacts ─────────────────────────────────────────────────────────────────────────────────

describe('contacts', () => {
  it('creates a user with external_id, name, email, phone and custom attributes (200, not 201)', async () => {
    const res = await call('POST', '/contacts', {
      role: 'user',
      external_id: 'blip:5511999990001@wa.gw.msging.net',
      name: 'Maria Silva',
      email: 'maria@example.com',
      phone: '+5511999990001',
      custom_attributes: { blip_channel: 'whatsapp', vip: true },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      type: 'contact',
      workspace_id: 'a86dr8yl',
      role: 'user',
      external_id: 'blip:5511999990001@wa.gw.msging.net',
      name: 'Maria Silva',
      email: 'maria@example.com',
      phone: '+5511999990001',
      custom_attributes: { blip_channel: 'whatsapp', vip: true },
    });
    expect(res.json.id).toMatch(/^[0-9a-f]{24}$/);
    expect(sim.contact('blip:5511999990001@wa.gw.msging.net')?.id).toBe(res.json.id);
  });

  it('answers 409 conflict naming the existing contact, for the same external_id or email', async () => {
    const first = await newContact({ external_id: 'blip:dup', email: 'dup@example.com' });
    for (const body of [
      { role: 'user', external_id: 'blip:dup' },
      { role: 'user', email: 'DUP@example.com', external_id: 'blip:other' },
    ]) {
      const res = await call('POST', '/contacts', body);
      expect(res.status).toBe(409);
      expect(res.json).toMatchObject({
        type: 'error.list',
        errors: [{ code: 'conflict', message: `A contact matching those details already exists with id=${first.id}` }],
      });
    }
    expect(sim.contacts).toHaveLength(1);
  });

  it('gets, updates, finds by external id and searches by external_id', async () => {
    const c = await newContact({ external_id: 'blip:find-me', custom_attributes: { a: '1' } });
    expect((await call('GET', `/contacts/${c.id}`)).json.external_id).toBe('blip:find-me');

    const upd = await call('PUT', `/contacts/${c.id}`, { name: 'Maria S.', custom_attributes: { b: 2 } });
    expect(upd.status).toBe(200);
    expect(upd.json).toMatchObject({ name: 'Maria S.', custom_attributes: { a: '1', b: 2 } });

    const found = await call('GET', `/contacts/find_by_external_id/${encodeURIComponent('blip:find-me')}`);
    expect(found.json.id).toBe(c.id);
    // 2.14 documents 200 and 401 only: an unknown id is a 200 that holds no contact.
    const none = await call('GET', '/contacts/find_by_external_id/nobody');
    expect(none.status).toBe(200);
    expect(none.json).toEqual({ type: 'list', data: [], total_count: 0 });

    const search = await call('POST', '/contacts/search', {
      query: { field: 'external_id', operator: '=', value: 'blip:find-me' },
      pagination: { per_page: 5 },
    });
    expect(search.status).toBe(200);
    expect(search.json).toMatchObject({ type: 'list', total_count: 1, pages: { type: 'pages', page: 1, per_page: 5, total_pages: 1 } });
    expect(search.json.data[0].id).toBe(c.id);

    const nested = await call('POST', '/contacts/search', {
      query: {
        operator: 'AND',
        value: [
          { operator: 'OR', value: [{ field: 'role', operator: '=', value: 'user' }] },
          {
            operator: 'OR',
            value: [
              { field: 'name', operator: '~', value: 'maria' },
              { field: 'email', operator: '=', value: 'x@example.com' },
            ],
          },
        ],
      },
    });
    expect(nested.json.data.map((x: { id: string }) => x.id)).toEqual([c.id]);
    // A group holds filters or groups, not both (multiple_filter_search_request.value is a oneOf); at most 2 levels.
    const mixed = {
      operator: 'AND',
      value: [
        { field: 'role', operator: '=', value: 'user' },
        { operator: 'OR', value: [{ field: 'name', operator: '~', value: 'm' }] },
      ],
    };
    expect((await call('POST', '/contacts/search', { query: mixed }, { rejected: true })).status).toBe(400);
    const deep = { operator: 'AND', value: [{ operator: 'OR', value: [{ operator: 'AND', value: [{ field: 'role', operator: '=', value: 'user' }] }] }] };
    expect((await call('POST', '/contacts/search', { query: deep })).status).toBe(400);
    expect((await call('GET', '/contacts/0123456789abcdef01234567')).status).toBe(404);
  });

  it('pages search results with starting_after cursors', async () => {
    for (let i = 0; i < 3; i++) await newContact({ custom_attributes: { batch: 'p' } });
    const q = { field: 'custom_attributes.batch', operator: '=', value: 'p' };
    const p1 = await call('POST', '/contacts/search', { query: q, pagination: { per_page: 2 } });
    expect(p1.json.data).toHaveLength(2);
    expect(p1.json.pages.next.starting_after).toEqual(expect.any(String));
    const p2 = await call('POST', '/contacts/search', { query: q, pagination: { per_page: 2, starting_after: p1.json.pages.next.starting_after } });
    expect(p2.json.data).toHaveLength(1);
    expect(p2.json.pages.page).toBe(2);
    expect(p2.json.pages.next).toBeUndefined();
  });

  it('rejects bodies the description forbids, and unknown custom attributes when the workspace defines its own', async () => {
    expect((await call('POST', '/contacts', { name: 'no identifier' }, { rejected: true })).status).toBe(400);
    expect((await call('POST', '/contacts', { external_id: 42 }, { rejected: true })).status).toBe(400);
    const strict = new IntercomSimulator({ accessTokens: [TOKEN], clientSecret: CLIENT_SECRET, customAttributes: ['blip_channel'] });
    const url = await strict.start();
    try {
      const bad = await call('POST', '/contacts', { external_id: 'x', custom_attributes: { nope: 1 } }, { to: url });
      expect(bad.status).toBe(400);
      expect(bad.json.errors[0]).toMatchObject({ code: 'parameter_invalid' });
      expect((await call('POST', '/contacts', { external_id: 'x', custom_attributes: { blip_channel: 'wa' } }, { to: url })).status).toBe(200);
    } finally {
      await strict.stop();
    }
  });

  it('unknownExternalId: not-found answers the 404 "User Not Found" error.list instead', async () => {
    const strict = new IntercomSimulator({ accessTokens: [TOKEN], clientSecret: CLIENT_SECRET, unknownExternalId: 'not-found' });
    const url = await strict.start();
    try {
      const res = await call('GET', '/contacts/find_by_external_id/nobody', undefined, { to: url, rejected: true });
      expect(res.status).toBe(404);
      expect(res.json.errors[0]).toMatchObject({ code: 'not_found', message: 'User Not Found' });
    } finally {
      await strict.stop();
    }
  });

  it('keeps a new contact out of search until the index catches up (searchIndexLagMs)', async () => {
    let now = 1_700_000_000_000;
    const lagging = new IntercomSimulator({ accessTokens: [TOKEN], clientSecret: CLIENT_SECRET, searchIndexLagMs: 60_000, now: () => now });
    const url = await lagging.start();
    try {
      await call('POST', '/contacts', { external_id: 'blip:late' }, { to: url });
      const q = { query: { field: 'external_id', operator: '=', value: 'blip:late' } };
      expect((await call('POST', '/contacts/search', q, { to: url })).json.total_count).toBe(0);
      // …so a search-then-create races into the 409 (research §D.4).
      expect((await call('POST', '/contacts', { external_id: 'blip:late' }, { to: url })).status).toBe(409);
      now += 60_000;
      expect((await call('POST', '/contacts/search', q, { to: url })).json.total_count).toBe(1);
    } finally {
      await lagging.stop();
    }
  });
});

// ─── conversations ────────────────────────────────────────────────────────────────────────────

describe('conversations', () => {
  it('creates a conversation from a contact: the Message model back, conversation.user.created out, first message in source', async () => {
    const c = await newContact({ email: 'maria@example.com' });
    const msg = await newConversation(c.id, 'Olá <b>agente</b>');
    expect(msg).toMatchObject({ type: 'user_message', body: 'Olá <b>agente</b>', message_type: 'inapp' });
    expect(msg.conversation_id).toMatch(/^\d+$/);

    const conv = await call('GET', `/conversations/${msg.conversation_id}`);
    expect(conv.status).toBe(200);
    expect(conv.json).toMatchObject({
      type: 'conversation',
      id: msg.conversation_id,
      state: 'open',
      open: true,
      source: { id: msg.id, delivered_as: 'customer_initiated', body: '<p>Olá &lt;b&gt;agente&lt;/b&gt;</p>', author: { type: 'user', id: c.id } },
      contacts: { type: 'contact.list', contacts: [{ type: 'contact', id: c.id, external_id: c.external_id }] },
      conversation_parts: { type: 'conversation_part.list', conversation_parts: [], total_count: 0 },
    });
    expect(conv.json.waiting_since).toBe(conv.json.created_at);

    const h = await until(() => hitsOf('conversation.user.created')[0]);
    const n = expectValidNotification(h, 'conversation.user.created');
    expect(n.data.item).toMatchObject({ id: msg.conversation_id, conversation_parts: { conversation_parts: [], total_count: 0 } });
  });

  it('answers 404 "User Not Found" for an unknown contact and 404 for an unknown conversation', async () => {
    const res = await call('POST', '/conversations', { from: { type: 'user', id: '0123456789abcdef01234567' }, body: 'hi' });
    expect(res.status).toBe(404);
    expect(res.json.errors[0]).toEqual({ code: 'not_found', message: 'User Not Found' });
    expect((await call('GET', '/conversations/1')).status).toBe(404);
  });

  it('takes a contact reply by intercom_user_id or user_id (= external_id), with attachments, and echoes it as conversation.user.replied', async () => {
    const c = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    const r1 = await call('POST', `/conversations/${id}/reply`, {
      message_type: 'comment',
      type: 'user',
      intercom_user_id: c.id,
      body: 'segue a foto\nobrigada',
      attachment_urls: ['https://media.example.com/photo.jpg'],
    });
    expect(r1.status).toBe(200);
    const parts = r1.json.conversation_parts.conversation_parts;
    expect(parts.at(-1)).toMatchObject({
      part_type: 'comment',
      body: '<p>segue a foto</p><p>obrigada</p>',
      author: { type: 'user', id: c.id },
      attachments: [{ type: 'upload', name: 'photo.jpg', url: 'https://media.example.com/photo.jpg', content_type: 'image/jpeg' }],
    });

    const r2 = await call('POST', `/conversations/${id}/reply`, {
      message_type: 'comment',
      type: 'user',
      user_id: c.external_id,
      body: 'documento',
      attachment_files: [{ content_type: 'application/pdf', data: Buffer.from('%PDF-1.4 fake').toString('base64'), name: 'doc.pdf' }],
    });
    expect(r2.status).toBe(200);
    const file = r2.json.conversation_parts.conversation_parts.at(-1).attachments[0];
    expect(file).toMatchObject({ type: 'upload', name: 'doc.pdf', content_type: 'application/pdf', filesize: 13 });
    const fetched = await request(file.url);
    expect(await fetched.body.text()).toBe('%PDF-1.4 fake');

    const echoes = await until(() => (hitsOf('conversation.user.replied').length === 2 ? hitsOf('conversation.user.replied') : undefined));
    for (const [i, h] of echoes.entries()) {
      const n = expectValidNotification(h, 'conversation.user.replied');
      // Only the part behind the event (research §B.4, UNVERIFIED default).
      expect(n.data.item.type === 'conversation' && n.data.item.conversation_parts.conversation_parts.map((p) => p.id)).toEqual([
        (i === 0 ? r1 : r2).json.conversation_parts.conversation_parts.at(-1).id,
      ]);
    }
  });

  it('refuses more than 10 attachment_urls, as the description does (maxItems: 10)', async () => {
    const c = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    const urls = Array.from({ length: 11 }, (_, i) => `https://media.example.com/${i}.png`);
    const res = await call(
      'POST',
      `/conversations/${id}/reply`,
      { message_type: 'comment', type: 'user', intercom_user_id: c.id, body: 'x', attachment_urls: urls },
      { rejected: true },
    );
    expect(res.status).toBe(400);
    expect(res.json.type).toBe('error.list');
    expect(sim.conversation(id)!.conversation_parts.total_count).toBe(0);
  });

  it('refuses a reply naming two identities or none (oneOf), and a contact outside the conversation', async () => {
    const c = await newContact();
    const other = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    const both = { message_type: 'comment', type: 'user', intercom_user_id: c.id, user_id: c.external_id, body: 'x' };
    expect((await call('POST', `/conversations/${id}/reply`, both, { rejected: true })).status).toBe(400);
    expect((await call('POST', `/conversations/${id}/reply`, { message_type: 'comment', type: 'user', body: 'x' }, { rejected: true })).status).toBe(400);
    expect((await call('POST', `/conversations/${id}/reply`, { message_type: 'comment', type: 'user', intercom_user_id: other.id, body: 'x' })).status).toBe(
      404,
    );
  });

  it('reopens a closed conversation on a contact reply with an `open` part (spec example "User reply")', async () => {
    const c = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    await sim.close(id);
    const res = await call('POST', `/conversations/${id}/reply`, { message_type: 'comment', type: 'user', intercom_user_id: c.id, body: 'voltei' });
    expect(res.json).toMatchObject({ state: 'open', open: true });
    expect(res.json.conversation_parts.conversation_parts.at(-1)).toMatchObject({ part_type: 'open', body: '<p>voltei</p>' });
  });

  it('takes admin replies and notes through the API, with their topics', async () => {
    const c = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    const reply = await call('POST', `/conversations/${id}/reply`, {
      message_type: 'comment',
      type: 'admin',
      admin_id: '991267460',
      body: '<p>Oi! Como posso ajudar?</p>',
    });
    expect(reply.status).toBe(200);
    expect(reply.json.waiting_since).toBeNull();
    expect(reply.json.conversation_parts.conversation_parts.at(-1)).toMatchObject({ part_type: 'comment', author: { type: 'admin', id: '991267460' } });
    const note = await call('POST', `/conversations/${id}/reply`, {
      message_type: 'note',
      type: 'admin',
      admin_id: '991267459',
      body: '<html> <body> <p>interno</p> </body> </html>',
    });
    expect(note.json.conversation_parts.conversation_parts.at(-1)).toMatchObject({ part_type: 'note', body: '<p>interno</p>' });
    expect((await call('POST', `/conversations/${id}/reply`, { message_type: 'comment', type: 'admin', admin_id: '1', body: 'x' })).status).toBe(404);
    await until(() => (hitsOf('conversation.admin.noted').length === 1 ? true : undefined));
    expectValidNotification(hitsOf('conversation.admin.replied')[0]!, 'conversation.admin.replied');
    expectValidNotification(hitsOf('conversation.admin.noted')[0]!, 'conversation.admin.noted');
  });

  it('manages a conversation: assign, snooze, open, close (spec manageConversation examples)', async () => {
    const c = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    const parts = (r: Res) => r.json.conversation_parts.conversation_parts;

    const assigned = await call('POST', `/conversations/${id}/parts`, {
      message_type: 'assignment',
      type: 'admin',
      admin_id: '991267459',
      assignee_id: '991267460',
    });
    expect(assigned.json.admin_assignee_id).toBe(991267460);
    expect(parts(assigned).at(-1)).toMatchObject({ part_type: 'assignment', assigned_to: { type: 'admin', id: '991267460' } });

    const snoozed = await call('POST', `/conversations/${id}/parts`, { message_type: 'snoozed', admin_id: '991267459', snoozed_until: 1_900_000_000 });
    expect(snoozed.json).toMatchObject({ state: 'snoozed', open: true, snoozed_until: 1_900_000_000 });

    const opened = await call('POST', `/conversations/${id}/parts`, { message_type: 'open', admin_id: '991267459' });
    expect(opened.json).toMatchObject({ state: 'open', snoozed_until: null });

    const closed = await call('POST', `/conversations/${id}/parts`, { message_type: 'close', type: 'admin', admin_id: '991267459', body: 'Goodbye :)' });
    expect(closed.json).toMatchObject({ state: 'closed', open: false });
    expect(parts(closed).at(-1)).toMatchObject({ part_type: 'close', body: '<p>Goodbye :)</p>' });

    const reassigned = await call('POST', `/conversations/${id}/parts`, {
      message_type: 'assignment',
      type: 'team',
      admin_id: '991267459',
      assignee_id: '5017691',
    });
    expect(reassigned.json).toMatchObject({ state: 'open', team_assignee_id: 5017691 });
    expect(parts(reassigned).at(-1).part_type).toBe('assign_and_reopen');

    expect((await call('POST', `/conversations/${id}/parts`, { message_type: 'snoozed', admin_id: '991267459' }, { rejected: true })).status).toBe(400);
    await until(() => (hits.length >= 6 ? true : undefined));
    expect(hits.map((h) => h.body.topic)).toEqual([
      'conversation.user.created',
      'conversation.admin.assigned',
      'conversation.admin.snoozed',
      'conversation.admin.unsnoozed',
      'conversation.admin.closed',
      'conversation.admin.assigned',
    ]);
    for (const h of hits) expectValidNotification(h, h.body.topic);
  });

  it('returns bodies as plain text with display_as=plaintext, and tags conversations', async () => {
    const c = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    await sim.adminReply(id, '<p class="no-margin">Veja <a href="https://x.example/a">o link</a><br>abraço</p>');
    const res = await call('GET', `/conversations/${id}?display_as=plaintext`);
    expect(res.json.conversation_parts.conversation_parts[0].body).toBe('Veja o link\nabraço');
    const tag = await call('POST', `/conversations/${id}/tags`, { id: '7522907', admin_id: '991267459' });
    expect(tag.json).toMatchObject({ type: 'tag', id: '7522907', name: 'bridge', applied_by: { type: 'admin', id: '991267459' } });
    expect(sim.conversation(id)!.tags.tags.map((t) => t.id)).toEqual(['7522907']);
    expect((await call('POST', `/conversations/${id}/tags`, { id: '1', admin_id: '991267459' })).status).toBe(404);
    const removed = await call('DELETE', `/conversations/${id}/tags/7522907`, { admin_id: '991267459' });
    expect(removed.json).toMatchObject({ type: 'tag', id: '7522907' });
    expect(sim.conversation(id)!.tags.tags).toEqual([]);
  });
});

// ─── the agents' side and webhooks ────────────────────────────────────────────────────────────

describe('admin actions and webhooks', () => {
  it('sends an admin reply with HTML and an attachment as a signed conversation.admin.replied', async () => {
    const c = await newContact({ email: 'maria@example.com' });
    const { conversation_id: id } = await newConversation(c.id);
    const html = '<p class="no-margin">Segue o boleto: <a href="https://pay.example/b/1" target="_blank">pagar</a><br>Qualquer dúvida, chame.</p>';
    const r = await sim.adminReply(id, html, {
      adminId: '991267460',
      attachments: [{ name: 'boleto.pdf', contentType: 'application/pdf', data: Buffer.from('PDF') }],
    });
    expect(r.firstAttempt?.status).toBe(200);
    expect(r.notification.state).toBe('delivered');

    const h = hitsOf('conversation.admin.replied')[0]!;
    const n = expectValidNotification(h, 'conversation.admin.replied');
    const item = n.data.item as any;
    expect(item.id).toBe(id);
    expect(item.waiting_since).toBeNull();
    expect(item.conversation_parts.total_count).toBe(1);
    const part = item.conversation_parts.conversation_parts[0];
    expect(part).toMatchObject({
      type: 'conversation_part',
      part_type: 'comment',
      body: html,
      author: { type: 'admin', id: '991267460', name: 'Ana Souza', email: 'ana@example.com' },
      attachments: [{ type: 'upload', name: 'boleto.pdf', content_type: 'application/pdf', filesize: 3 }],
      app_package_code: null,
    });
    expect(await (await request(part.attachments[0].url)).body.text()).toBe('PDF');
    // The signature covers the exact bytes: a re-serialisation would not do.
    expect(verify(h.raw + ' ', h.headers['x-hub-signature'])).toBe(false);
    expect(verify(h.raw, h.headers['x-hub-signature'], 'another-secret')).toBe(false);
  });

  it('turns plain text into Inbox HTML and sends notes, assignment, snooze and close with their topics', async () => {
    const c = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    await sim.adminReply(id, 'Olá!\nVeja https://x.example/a\n\nAté.');
    expect(sim.conversation(id)!.conversation_parts.conversation_parts[0]!.body).toBe(
      '<p class="no-margin">Olá!<br>Veja <a href="https://x.example/a" target="_blank" rel="nofollow noopener noreferrer">https://x.example/a</a></p><p class="no-margin">Até.</p>',
    );
    await sim.adminNote(id, '<p>nota interna</p>');
    await sim.assign(id, '991267460');
    const snoozed = await sim.snooze(id, { until: 1_900_000_000 });
    expect(snoozed.conversation).toMatchObject({ state: 'snoozed', snoozed_until: 1_900_000_000 });
    const closed = await sim.close(id, { html: '<p>Encerrado</p>' });
    expect(closed.conversation).toMatchObject({ state: 'closed', open: false });
    expect(hits.map((h) => h.body.topic)).toEqual([
      'conversation.user.created',
      'conversation.admin.replied',
      'conversation.admin.noted',
      'conversation.admin.assigned',
      'conversation.admin.snoozed',
      'conversation.admin.closed',
    ]);
    for (const h of hits) expectValidNotification(h, h.body.topic);
    const assignedPart = (hitsOf('conversation.admin.assigned')[0]!.body.data.item as any).conversation_parts.conversation_parts[0];
    expect(assignedPart).toMatchObject({ part_type: 'assignment', assigned_to: { type: 'admin', id: '991267460' } });
  });

  it('"reply and close" sends only conversation.admin.replied, with both parts and state closed', async () => {
    const c = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    await sim.adminReply(id, '<p>Resolvido!</p>', { close: true });
    const h = hitsOf('conversation.admin.replied')[0]!;
    const item = expectValidNotification(h, 'conversation.admin.replied').data.item as any;
    expect(item.state).toBe('closed');
    expect(item.conversation_parts.conversation_parts.map((p: { part_type: string }) => p.part_type)).toEqual(['comment', 'close']);
    expect(hitsOf('conversation.admin.closed')).toHaveLength(0);
  });

  it('retries a failed delivery with the same notification id, counting delivery_attempts, re-signing each body', async () => {
    const c = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    await until(() => hits[0]);
    answers = [500, 503];
    const r = await sim.adminReply(id, '<p>tente de novo</p>');
    expect(r.firstAttempt?.status).toBe(500);
    const record = await sim.waitFor((s) => s.notifications.find((n) => n.id === r.notification.id && n.state === 'delivered'));
    expect(record.attempts.map((a) => a.status)).toEqual([500, 503, 200]);
    const tries = hitsOf('conversation.admin.replied');
    expect(tries.map((h) => h.body.delivery_attempts)).toEqual([1, 2, 3]);
    expect(new Set(tries.map((h) => h.body.id)).size).toBe(1);
    expect(new Set(tries.map((h) => h.body.first_sent_at)).size).toBe(1);
    for (const h of tries) expectValidNotification(h, 'conversation.admin.replied');
  });

  it('redelivers a notification as a duplicate: same id and item, next delivery_attempts', async () => {
    const c = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    const r = await sim.adminReply(id, '<p>uma vez</p>');
    const again = await sim.redeliver(r.notification.id);
    expect(again.status).toBe(200);
    const [h1, h2] = hitsOf('conversation.admin.replied');
    expect(h2!.body.id).toBe(h1!.body.id);
    expect(h2!.body.data).toEqual(h1!.body.data);
    expect([h1!.body.delivery_attempts, h2!.body.delivery_attempts]).toEqual([1, 2]);
    expectValidNotification(h2!, 'conversation.admin.replied');
  });

  it('gives up after maxAttempts, and waits at least throttleDelayMs after a 429', async () => {
    const c = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    await until(() => hits[0]);
    answers = [429, 500, 500];
    const r = await sim.adminReply(id, '<p>x</p>');
    const record = await sim.waitFor((s) => s.notifications.find((n) => n.id === r.notification.id && n.state === 'failed'));
    expect(record.attempts).toHaveLength(3);
    const [a1, a2] = record.attempts;
    expect(a2!.at - a1!.at).toBeGreaterThanOrEqual(150);
  });

  it('retries when the endpoint is unreachable (network error: status 0)', async () => {
    await sim.setWebhook('http://127.0.0.1:9/unreachable', { ping: false });
    try {
      const c = await newContact();
      await newConversation(c.id);
      const n = await sim.waitFor((s) => s.notifications.find((x) => x.state === 'failed'));
      expect(n.attempts.map((a) => a.status)).toEqual([0, 0, 0]);
      expect(n.attempts[0]!.error).toBeDefined();
    } finally {
      await sim.setWebhook(receiverUrl, { ping: false });
    }
  });

  it('pings when a webhook is saved, sends only subscribed topics, and records unsent notifications', async () => {
    const ping = await sim.setWebhook(receiverUrl, { topics: ['conversation.admin.replied'] });
    expect(ping?.status).toBe(200);
    expectValidNotification(hits[0]!, 'ping');
    try {
      const c = await newContact();
      const { conversation_id: id } = await newConversation(c.id);
      await sim.adminReply(id, '<p>só este</p>');
      expect(hits.map((h) => h.body.topic)).toEqual(['ping', 'conversation.admin.replied']);
      expect(sim.notificationsFor(id).map((n) => [n.topic, n.state])).toEqual([
        ['conversation.user.created', 'unsubscribed'],
        ['conversation.admin.replied', 'delivered'],
      ]);
    } finally {
      await sim.setWebhook(receiverUrl, { ping: false });
    }
  });

  it('can put every part in the notification item (webhookParts: all)', async () => {
    const all = new IntercomSimulator({ accessTokens: [TOKEN], clientSecret: CLIENT_SECRET, webhookParts: 'all', webhook: { url: receiverUrl } });
    const url = await all.start();
    try {
      const c = (await call('POST', '/contacts', { external_id: 'a' }, { to: url })).json;
      const { conversation_id: id } = (await call('POST', '/conversations', { from: { type: 'user', id: c.id }, body: 'oi' }, { to: url })).json;
      await all.adminReply(id, '<p>1</p>');
      const r = await all.adminReply(id, '<p>2</p>');
      expect((r.notification.payload.data.item as any).conversation_parts.total_count).toBe(2);
    } finally {
      await all.stop();
    }
  });
});

// ─── rate limits and faults ───────────────────────────────────────────────────────────────────

describe('rate limits', () => {
  it('sends X-RateLimit-* on every authenticated answer and 429 beyond the limit, per 10-second window', async () => {
    let now = 1_700_000_003_000; // 3 s into a window that ends at 1700000010
    const limited = new IntercomSimulator({ accessTokens: [TOKEN], clientSecret: CLIENT_SECRET, rateLimit: { limit: 3 }, now: () => now });
    const url = await limited.start();
    try {
      const seen: Array<[number, string, string]> = [];
      for (let i = 0; i < 3; i++) {
        const res = await call('GET', i === 1 ? '/conversations/1' : '/me', undefined, { to: url }); // a 404 counts and carries headers too
        expect(res.headers['x-ratelimit-limit']).toBe('3');
        expect(res.headers['x-ratelimit-reset']).toBe('1700000010');
        seen.push([res.status, res.headers['x-ratelimit-remaining'] as string, res.headers['x-ratelimit-reset'] as string]);
      }
      expect(seen.map(([s, r]) => [s, r])).toEqual([
        [200, '2'],
        [404, '1'],
        [200, '0'],
      ]);
      const over = await call('POST', '/contacts', { external_id: 'x' }, { to: url });
      expect(over.status).toBe(429);
      expect(over.json.errors[0]).toEqual({ code: 'rate_limit_exceeded', message: 'Exceeded rate limit of 3 in 10_seconds' });
      expect(over.headers['x-ratelimit-remaining']).toBe('0');
      expect(over.headers['x-ratelimit-reset']).toBe('1700000010');
      expect(over.headers['retry-after']).toBeUndefined(); // none documented (research §B.1)
      expect(limited.contacts).toHaveLength(0);
      now = 1_700_000_010_000;
      const next = await call('GET', '/me', undefined, { to: url });
      expect(next.status).toBe(200);
      expect([next.headers['x-ratelimit-remaining'], next.headers['x-ratelimit-reset']]).toEqual(['2', '1700000020']);
    } finally {
      await limited.stop();
    }
  });
});

describe('faults', () => {
  afterEach(() => {
    sim.setDown(false);
    sim.setLatency(0);
  });

  it('failNext answers the injected status (with Retry-After when asked) to that route only, then recovers', async () => {
    sim.failNext('POST /contacts', { status: 503, count: 2, retryAfter: 2 });
    expect((await call('GET', '/me')).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const res = await call('POST', '/contacts', { external_id: 'f' });
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
    }
    expect((await call('POST', '/contacts', { external_id: 'f' })).status).toBe(200);
    sim.failNext('*', { status: 429, count: 1 });
    const limited = await call('GET', '/me');
    expect(limited.status).toBe(429);
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(limited.json.errors[0].code).toBe('rate_limit_exceeded');
  });

  it('setDown resets connections or answers a status; setLatency delays answers', async () => {
    sim.setDown(true);
    await expect(call('GET', '/me')).rejects.toThrow();
    sim.setDown(true, 503);
    expect((await call('GET', '/me')).status).toBe(503);
    sim.setDown(false);
    sim.setLatency(120);
    const t0 = Date.now();
    expect((await call('GET', '/me')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
  });
});

// ─── sandbox controls ─────────────────────────────────────────────────────────────────────────

describe('/_sim controls', () => {
  it('lets a person act as the agent on the latest conversation and read the state', async () => {
    const c = await newContact();
    const { conversation_id: id } = await newConversation(c.id);
    const post = async (path: string, body: unknown) => {
      const res = await request(`${base}/_sim${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.statusCode, json: (await res.body.json()) as any };
    };
    const reply = await post('/conversations/latest/admin-reply', { text: 'Oi, sou a Ana', adminId: '991267460' });
    expect(reply.status).toBe(200);
    expect(reply.json.conversation.id).toBe(id);
    expect((await post('/conversations/latest/close', {})).json.conversation.state).toBe('closed');
    expect((await post('/conversations/404/close', {})).status).toBe(404);
    expect((await post('/conversations/latest/admin-reply', {})).status).toBe(400);
    const state = (await (await request(`${base}/_sim/state`)).body.json()) as any;
    expect(state.conversations[0].conversation_parts.total_count).toBe(2);
    expect(hits.map((h) => h.body.topic)).toEqual(['conversation.user.created', 'conversation.admin.replied', 'conversation.admin.closed']);
  });
});

// ─── Intercom's own client ────────────────────────────────────────────────────────────────────

describe('the official intercom-client (7.x) against the simulator', () => {
  it('creates a contact, a conversation and a reply, and reads the conversation back', async () => {
    const client = new IntercomClient({ token: TOKEN, baseUrl: base, maxRetries: 0 });
    const contact = await client.contacts.create({ role: 'user', external_id: 'blip:sdk-1', name: 'Maria via SDK', email: 'sdk@example.com' });
    expect(contact).toMatchObject({ type: 'contact', external_id: 'blip:sdk-1', role: 'user' });

    const message = await client.conversations.create({ from: { type: 'user', id: contact.id }, body: 'Olá pelo SDK' });
    expect(message).toMatchObject({ type: 'user_message', message_type: 'inapp' });
    const conversationId = message.conversation_id!;

    const replied = await client.conversations.reply({
      conversation_id: conversationId,
      body: { message_type: 'comment', type: 'user', body: 'Mais uma coisa', intercom_user_id: contact.id },
    });
    expect(replied.conversation_parts?.conversation_parts?.at(-1)).toMatchObject({ part_type: 'comment', body: '<p>Mais uma coisa</p>' });

    const found = await client.conversations.find({ conversation_id: conversationId });
    expect(found.source?.body).toBe('<p>Olá pelo SDK</p>');

    const search = await client.contacts.search({ query: { field: 'external_id', operator: '=', value: 'blip:sdk-1' } });
    expect(search.data.map((c) => c.id)).toEqual([contact.id]);

    // The 409 reaches the client as an IntercomError carrying Intercom's body.
    const dup = await client.contacts.create({ role: 'user', external_id: 'blip:sdk-1' }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(IntercomError);
    expect((dup as IntercomError).statusCode).toBe(409);
    expect(JSON.stringify((dup as IntercomError).body)).toContain(`already exists with id=${contact.id}`);

    // What the client put on the wire, validated like our own requests.
    const sdk = sim.requests.filter((r) => String(r.headers['user-agent'] ?? '').startsWith('intercom-client/'));
    expect(sdk.map((r) => `${r.method} ${r.route}`)).toEqual([
      'POST POST /contacts',
      'POST POST /conversations',
      'POST POST /conversations/{conversation_id}/reply',
      'GET GET /conversations/{conversation_id}',
      'POST POST /contacts/search',
      'POST POST /contacts',
    ]);
    for (const r of sdk) {
      expect(r.headers['intercom-version']).toBe('2.14');
      expect(r.headers['authorization']).toBe(`Bearer ${TOKEN}`);
      checkRequest(r.method, r.path, r.body === '' ? undefined : r.body);
      checkResponse(r.method, r.path, r.status, r.response);
    }
  });

  it("surfaces 401 as the client's UnauthorizedError", async () => {
    const client = new IntercomClient({ token: 'wrong', baseUrl: base, maxRetries: 0 });
    const e = await client.contacts.create({ role: 'user', external_id: 'x' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IntercomError);
    expect((e as IntercomError).statusCode).toBe(401);
  });
});
