/**
 * The Omnize / Zenvia Chat simulator against real HTTP on 127.0.0.1: what a bridge sees when it
 * talks to "Omnize" (../shared/specs/omnize/interactions.md): the documented answers and error
 * shapes, the token in the body (and in the query for GETs), `external_history` fetched and
 * shape-checked, every trigger exactly as the doc's examples, finished interactions, faults.
 *
 * The doc's examples are copied below (DOC_*) so the tests run without ../shared; when
 * ../shared/specs/omnize/interactions.md is present, a test checks the copies against it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OmnizeSimulator, type OmnizeSimulatorOptions, type TriggerPayload } from '../../simulators/omnize/index.js';

const TOKEN = 'omz-token-1';
const HOOK_SECRET = 's3cr3t-in-the-url';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// ─── the doc's examples (interactions.md), verbatim ───────────────────────────────────────────

/** interactions.md "Start interaction" → Success Response. */
const DOC_CREATED = { message: 'Interaction created successfully', data: { interaction_hash: '0000a-000b-0c00-0d0e-f00d00f11111' } };
/** "Error Response" of every interactions.md route. */
const DOC_ERROR = { message: 'Error description here', status: 422 };
/** "Update interaction" → Success Response. */
const DOC_UPDATED = { message: 'Interaction updated successfully', status: 200 };
/** "Send message" → Success Response Example. */
const DOC_MESSAGE_CREATED = { data: { interaction_hash: '0010-abcd-efgh-ijkd-1c422e49fdff' }, message: 'Message created successfully', status: 200 };
const DOC_TYPING = { message: 'Typing sent successfully', status: 200 };
const DOC_CLEARED = { message: 'Cleared sent successfully', status: 200 };
const DOC_FINISH = { message: 'Finish sent successfully', status: 200 };
/** "External History" → Response. */
const DOC_HISTORY = {
  messages: [
    { time: '2019-03-14 00:00:01', direction: 'CLIENT', content: 'client message here' },
    { time: '2019-03-14 00:00:10', direction: 'AGENT', content: 'agent answer here' },
  ],
};
/** "Triggers", every example. */
const H = '322e458c-540c-4c11-ab5c-d38d39f57213';
const DOC_TRIGGERS = {
  queued: { interaction_hash: H, state: 'queued', position: 1, extra: {} },
  accepted: { interaction_hash: H, state: 'accepted', extra: {} },
  unavailable: { interaction_hash: H, state: 'unavailable', extra: {} },
  finished: { interaction_hash: H, state: 'finished', extra: {} },
  typing: { interaction_hash: H, state: 'typing', extra: {} },
  cleared: { interaction_hash: H, state: 'cleared', extra: {} },
  message: {
    interaction_hash: H,
    message: { hash: '3110a5da-87c7-4f6d-a4ab-2b1ed5edfd46', content: 'Message', type: 'text', url: 'http://...' },
    agent: { id: 111, name: 'Atendente' },
    extra: {},
  },
} as const;
/** departments.md "Get Departments" → Success Response Example (one element). */
const DOC_DEPARTMENT_KEYS = [
  'id',
  'name',
  'ringing_max_time',
  'queued_max_time',
  'queue',
  'bot_id',
  'queue_position_time',
  'date_creation',
  'change_date',
  'state',
  'agents',
  'channels',
];

/** The same keys, nested objects compared key by key, and the same JSON types as the doc's example. */
function expectSameShape(actual: unknown, doc: unknown, at = '$'): void {
  if (doc === null || typeof doc !== 'object') {
    expect(typeof actual, `${at}: type`).toBe(typeof doc);
    return;
  }
  expect(actual !== null && typeof actual === 'object' && !Array.isArray(actual), `${at}: object`).toBe(true);
  const a = actual as Record<string, unknown>;
  const d = doc as Record<string, unknown>;
  expect(Object.keys(a).sort(), `${at}: keys`).toEqual(Object.keys(d).sort());
  for (const k of Object.keys(d)) {
    // `extra` is whatever the integrator sent: only its type is documented.
    if (k === 'extra') expect(typeof a[k]).toBe('object');
    // The doc's example has a URL on a text message; without a file the simulator sends null
    // (UNVERIFIED, `textMessageUrl`). A file message must carry a string.
    else if (k === 'url' && a['type'] === 'text' && a[k] === null) continue;
    else expectSameShape(a[k], d[k], `${at}.${k}`);
  }
}

// ─── the bridge's side: a webhook receiver and a history endpoint ─────────────────────────────

interface Hit {
  url: string;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  body: TriggerPayload;
}

let receiver: FastifyInstance;
let receiverUrl: string;
let hits: Hit[] = [];
/** Statuses to answer, consumed one per delivery; empty = 200. */
let answers: number[] = [];
let historyGets: Array<{ url: string; headers: Record<string, string | string[] | undefined> }> = [];

beforeAll(async () => {
  receiver = Fastify({ logger: false });
  receiver.removeAllContentTypeParsers();
  receiver.addContentTypeParser('*', { parseAs: 'string' }, (_r, body, done) => done(null, body));
  receiver.post('/hook', async (req, reply) => {
    const raw = String(req.body ?? '');
    hits.push({ url: req.url, headers: { ...req.headers }, raw, body: JSON.parse(raw) as TriggerPayload });
    const status = answers.shift() ?? 200;
    return reply.code(status).send({ got: status });
  });
  const history = (name: string, status: number, body: string, type = 'application/json') =>
    receiver.get(`/history/${name}`, async (req, reply) => {
      historyGets.push({ url: req.url, headers: { ...req.headers } });
      return reply.code(status).type(type).send(body);
    });
  history('good', 200, JSON.stringify(DOC_HISTORY));
  history(
    'bad',
    200,
    JSON.stringify({
      messages: [
        { time: '2019-03-14T00:00:01Z', direction: 'CLIENT', content: 'iso time' },
        { time: '2019-03-14 00:00:02', direction: 'BOT', content: 'wrong direction' },
        { time: '2019-03-14 00:00:03', direction: 'AGENT' },
        { time: '2019-02-30 00:00:04', direction: 'AGENT', content: 'no such day' },
      ],
    }),
  );
  history('extra-keys', 200, JSON.stringify({ messages: [{ ...DOC_HISTORY.messages[0], id: 'x' }], total: 1 }));
  history('not-wrapped', 200, JSON.stringify(DOC_HISTORY.messages));
  history('html', 200, '<html>login</html>', 'text/html');
  history('error', 500, JSON.stringify({ error: 'boom' }));
  receiverUrl = await receiver.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await receiver.close();
});

// ─── the simulator under test ─────────────────────────────────────────────────────────────────

let sim: OmnizeSimulator;
let extraSims: OmnizeSimulator[] = [];

async function startSim(opts: Partial<OmnizeSimulatorOptions> = {}): Promise<OmnizeSimulator> {
  const s = new OmnizeSimulator({ tokens: [TOKEN], webhookUrl: `${receiverUrl}/hook?secret=${HOOK_SECRET}`, ...opts });
  await s.start();
  extraSims.push(s);
  return s;
}

beforeEach(async () => {
  hits = [];
  answers = [];
  historyGets = [];
  sim = await startSim();
});

afterEach(async () => {
  for (const s of extraSims) await s.stop();
  extraSims = [];
});

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

/** A call to the API, relative to `apiUrl` (`${url}/core/api/v1`), or to `to` when given. */
async function call(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, opts: { to?: string; s?: OmnizeSimulator } = {}): Promise<Res> {
  const base = opts.to ?? (opts.s ?? sim).apiUrl;
  const res = await request(`${base}${path}`, {
    method,
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await res.body.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // left as text
  }
  return { status: res.statusCode, headers: res.headers, json };
}

/** interactions.md "Start interaction" body example, with our values. */
const startBody = (over: Record<string, unknown> = {}) => ({
  token: TOKEN,
  media_type: 'TEXT',
  department_id: 9999,
  customer: { name: 'Name Surname', email: 'name@example.com', phone: '11991417777', cpf: '12345678900' },
  extra: { attendanceId: 'att-1', bot: 'acme' },
  ...over,
});

async function start(over: Record<string, unknown> = {}, s: OmnizeSimulator = sim): Promise<string> {
  const r = await call('POST', '/interactions', startBody(over), { s });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json.data.interaction_hash as string;
}

/** An error answer: HTTP status = body status, and exactly the documented keys. */
function expectError(r: Res, status: number): void {
  expect(r.status).toBe(status);
  expectSameShape(r.json, DOC_ERROR);
  expect(r.json.status).toBe(status);
  expect(r.json.message).not.toBe('');
  expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
}

const hitsFor = (state: string) => hits.filter((h) => ('state' in h.body ? h.body.state : 'message') === state);

// ─── the doc itself ───────────────────────────────────────────────────────────────────────────

const DOC_PATH = fileURLToPath(new URL('../../../shared/specs/omnize/interactions.md', import.meta.url));
const HAVE_DOC = existsSync(DOC_PATH);
if (!HAVE_DOC) console.warn(`[omnize simulator] ${DOC_PATH} is absent: the check of the copied doc examples against the page is skipped`);

describe('the copied examples', () => {
  it.skipIf(!HAVE_DOC)('are the examples of ../shared/specs/omnize/interactions.md', () => {
    const md = readFileSync(DOC_PATH, 'utf8');
    // Triggers: the indented JSON blocks after "## Triggers", in order.
    const triggers = md.slice(md.indexOf('## Triggers'));
    const blocks = [...triggers.matchAll(/\n((?: {4}.*\n?)+)/g)].map((m) => JSON.parse(m[1]!.replace(/^ {4}/gm, '')) as unknown);
    expect(blocks).toEqual([
      DOC_TRIGGERS.queued,
      DOC_TRIGGERS.accepted,
      DOC_TRIGGERS.unavailable,
      DOC_TRIGGERS.finished,
      DOC_TRIGGERS.typing,
      DOC_TRIGGERS.cleared,
      DOC_TRIGGERS.message,
    ]);
    // Fenced JSON answers.
    const fenced = [...md.matchAll(/```\n(\{[\s\S]*?\})\n```/g)].map((m) => {
      try {
        return JSON.parse(m[1]!) as unknown;
      } catch {
        return undefined;
      }
    });
    for (const doc of [DOC_CREATED, DOC_ERROR, DOC_UPDATED, DOC_MESSAGE_CREATED, DOC_TYPING, DOC_CLEARED, DOC_FINISH, DOC_HISTORY]) {
      expect(fenced, JSON.stringify(doc)).toContainEqual(doc);
    }
  });
});

// ─── start interaction ────────────────────────────────────────────────────────────────────────

describe('POST /interactions', () => {
  it('answers the documented success body with a UUID hash and records the interaction', async () => {
    const r = await call('POST', '/interactions', startBody({ media_type: 'WHATSAPP' }));
    expect(r.status).toBe(200);
    expectSameShape(r.json, DOC_CREATED);
    expect(r.json.message).toBe(DOC_CREATED.message);
    expect(r.json.data.interaction_hash).toMatch(UUID);
    expect(String(r.headers['content-type'])).toMatch(/^application\/json/);

    const i = sim.interaction(r.json.data.interaction_hash)!;
    expect(i).toMatchObject({
      hash: r.json.data.interaction_hash,
      department: { id: 9999, name: 'Atendimento' },
      mediaType: 'WHATSAPP',
      customer: { name: 'Name Surname', email: 'name@example.com', phone: '11991417777', cpf: '12345678900' },
      extra: { attendanceId: 'att-1', bot: 'acme' },
      state: 'created',
      messages: [],
      customerTyping: false,
      agentTyping: false,
      history: [],
    });
    expect(sim.interaction('latest')?.hash).toBe(i.hash);
    expect(sim.requests.at(-1)).toMatchObject({ method: 'POST', route: 'POST /interactions', status: 200 });
  });

  it('saves a missing or null media_type as TEXT, and a missing extra as {} (echoed as such)', async () => {
    const a = await start({ media_type: null, extra: undefined, customer: undefined });
    const b = await start({ media_type: undefined });
    expect(sim.interaction(a)).toMatchObject({ mediaType: 'TEXT', extra: {} });
    expect(sim.interaction(a)?.customer).toBeUndefined();
    expect(sim.interaction(b)?.mediaType).toBe('TEXT');
    await sim.accept(a);
    expect(hitsFor('accepted')[0]?.body.extra).toEqual({});
  });

  it('refuses invalid bodies with 422 {message, status} and stores nothing', async () => {
    const bad: Array<Record<string, unknown>> = [
      { department_id: undefined },
      { department_id: null },
      { department_id: '9999' },
      { department_id: 99.5 },
      { department_id: 4242 }, // not a department of the account
      { media_type: 'EMAIL' },
      { media_type: 'text' },
      { customer: 'Name Surname' },
      { customer: { name: 42 } },
      { extra: ['a'] },
      { extra: 'x' },
      { external_history: 'not a url' },
      { external_history: 'ftp://example.com/h' },
    ];
    for (const over of bad) {
      const r = await call('POST', '/interactions', startBody(over));
      expectError(r, 422);
    }
    expect(sim.interactions()).toEqual([]);
  });

  it('accepts only an active department of the account', async () => {
    const s = await startSim({
      departments: [
        { id: 1, name: 'Vendas' },
        { id: 2, name: 'Antigo', active: false },
      ],
    });
    expect((await call('POST', '/interactions', startBody({ department_id: 1 }), { s })).status).toBe(200);
    expectError(await call('POST', '/interactions', startBody({ department_id: 2 }), { s }), 422);
    s.setDepartmentActive(2, true);
    expect((await call('POST', '/interactions', startBody({ department_id: 2 }), { s })).status).toBe(200);
    s.setDepartmentActive(1, false);
    expectError(await call('POST', '/interactions', startBody({ department_id: 1 }), { s }), 422);
  });

  it('answers 400 with the error shape to a body that is not JSON', async () => {
    expectError(await call('POST', '/interactions', '{"token":'), 400);
    expect(sim.interactions()).toEqual([]);
  });
});

// ─── tokens ───────────────────────────────────────────────────────────────────────────────────

describe('tokens', () => {
  it('refuses a missing, empty or wrong token with 422 by default, on every route, before looking at the hash', async () => {
    const h = await start();
    const cases: Array<[method: 'POST' | 'PUT', path: string, body: Record<string, unknown>]> = [
      ['POST', '/interactions', startBody({ token: undefined })],
      ['POST', '/interactions', startBody({ token: '' })],
      ['POST', '/interactions', startBody({ token: 'nope' })],
      ['POST', '/interactions', startBody({ token: 123 })],
      ['POST', `/interactions/${h}/messages`, { content: 'hi' }],
      ['PUT', `/interactions/${h}/typing`, { token: 'nope' }],
      ['PUT', `/interactions/${h}/cleared`, {}],
      ['PUT', `/interactions/${h}/finish`, { token: 'nope' }],
      ['PUT', `/interactions/${h}`, { mood: 'POSITIVE' }],
      ['PUT', `/interactions/00000000-0000-0000-0000-000000000000/finish`, { token: 'nope' }],
    ];
    for (const [method, path, body] of cases) expectError(await call(method, path, body), 422);
    expect(sim.interactions()).toHaveLength(1);
    expect(sim.interaction(h)).toMatchObject({ messages: [], state: 'created', customerTyping: false });
    expect(sim.interaction(h)?.finished).toBeUndefined();
  });

  it('takes the token from the JSON body only for POST and PUT (not from the query string)', async () => {
    expectError(await call('POST', `/interactions?token=${TOKEN}`, startBody({ token: undefined })), 422);
    const h = await start();
    expectError(await call('PUT', `/interactions/${h}/finish?token=${TOKEN}`, {}), 422);
    expect(sim.interaction(h)?.state).toBe('created');
  });

  it('answers 401 instead when configured so (tokenErrorStatus)', async () => {
    const s = await startSim({ tokenErrorStatus: 401 });
    expectError(await call('POST', '/interactions', startBody({ token: 'nope' }), { s }), 401);
    const ext = await call('GET', '/departments?token=nope', undefined, { to: s.externalApiUrl });
    expect(ext.status).toBe(401);
    expect(ext.json).toEqual({ status: 401, message: expect.any(String) });
  });

  it('accepts any of several tokens', async () => {
    const s = await startSim({ tokens: ['a', 'b'] });
    expect((await call('POST', '/interactions', startBody({ token: 'b' }), { s })).status).toBe(200);
    expect((await call('POST', '/interactions', startBody({ token: 'a' }), { s })).status).toBe(200);
  });

  it('takes the token in the query string for GETs: departments (documented shape) and online agents', async () => {
    const s = await startSim({
      departments: [
        {
          id: 1,
          name: 'Vendas',
          agents: [
            { id: 7, name: 'Ana' },
            { id: 8, name: 'Bia', online: false },
          ],
        },
        { id: 2, name: 'Antigo', active: false },
      ],
    });
    const deps = await call('GET', `/departments?token=${TOKEN}`, undefined, { to: s.externalApiUrl });
    expect(deps.status).toBe(200);
    expect(Array.isArray(deps.json)).toBe(true);
    expect(deps.json).toHaveLength(2);
    for (const d of deps.json) expect(Object.keys(d).sort()).toEqual([...DOC_DEPARTMENT_KEYS].sort());
    expect(deps.json[0]).toMatchObject({
      id: 1,
      name: 'Vendas',
      state: 1,
      agents: [
        { id: 7, name: 'Ana' },
        { id: 8, name: 'Bia' },
      ],
    });
    expect(deps.json[1]).toMatchObject({ id: 2, state: 0 });
    expect(s.externalApiUrl).toBe(`${s.url}/api/external`);

    const noToken = await call('GET', '/departments', undefined, { to: s.externalApiUrl });
    expect(noToken.status).toBe(422);
    expect(Object.keys(noToken.json)).toEqual(['status', 'message']); // departments.md error shape

    const online = await call('GET', `/agents/online?token=${TOKEN}&department_id=1`, undefined, { s });
    expect(online.status).toBe(200);
    expect(online.json).toEqual({ agents: [{ id: 7, name: 'Ana', photo: expect.any(String) }], averageService: 60, count: 1, status: 200 });
    expectError(await call('GET', `/agents/online?token=${TOKEN}&department_id=2`, undefined, { s }), 422);
    expectError(await call('GET', `/agents/online?department_id=1`, undefined, { s }), 422);
    // departments live under /api/external, not under the core base path (departments.md)
    expectError(await call('GET', `/departments?token=${TOKEN}`, undefined, { s }), 404);
  });
});

// ─── external history ─────────────────────────────────────────────────────────────────────────

describe('external_history', () => {
  it('is fetched with a GET when the interaction is created, and the documented shape is recognised', async () => {
    const url = `${receiverUrl}/history/good?sig=abc&exp=123`;
    const h = await start({ external_history: url });
    const f = await sim.waitFor((s) => s.interaction(h)?.history[0]);
    expect(f).toMatchObject({ url, status: 200, valid: true, problems: [], unknownKeys: [], messages: DOC_HISTORY.messages, json: DOC_HISTORY });
    expect(f.contentType).toMatch(/^application\/json/);
    expect(historyGets).toHaveLength(1);
    expect(historyGets[0]!.url).toBe('/history/good?sig=abc&exp=123');
    expect(historyGets[0]!.headers['accept']).toBe('application/json');
    expect(sim.interaction(h)?.externalHistory).toBe(url);
  });

  it('reports every way an answer departs from the documented shape', async () => {
    const bad = await start({ external_history: `${receiverUrl}/history/bad` });
    const f = await sim.waitFor((s) => s.interaction(bad)?.history[0]);
    expect(f.valid).toBe(false);
    expect(f.messages).toBeUndefined();
    expect(f.problems).toEqual([
      'messages[0].time: "2019-03-14T00:00:01Z" is not YYYY-MM-DD HH:MM:SS',
      'messages[1].direction: must be "CLIENT" or "AGENT"',
      'messages[2].content: required string',
      'messages[3].time: "2019-02-30 00:00:04" is not YYYY-MM-DD HH:MM:SS',
    ]);

    const cases: Array<[string, Partial<{ status: number; valid: boolean; problems: string[] }>]> = [
      ['not-wrapped', { status: 200, valid: false, problems: ['body: not a JSON object'] }],
      ['html', { status: 200, valid: false, problems: ['body: not JSON'] }],
      ['error', { status: 500, valid: false, problems: ['status 500'] }],
    ];
    for (const [name, expected] of cases) {
      const h = await start({ external_history: `${receiverUrl}/history/${name}` });
      expect(await sim.waitFor((s) => s.interaction(h)?.history[0])).toMatchObject(expected);
    }
  });

  it('tolerates keys the doc does not name, and reports them', async () => {
    const h = await start({ external_history: `${receiverUrl}/history/extra-keys` });
    const f = await sim.waitFor((s) => s.interaction(h)?.history[0]);
    expect(f).toMatchObject({ valid: true, unknownKeys: ['total', 'messages[0].id'] });
  });

  it('records an unreachable URL as status 0 with the error', async () => {
    const h = await start({ external_history: 'http://127.0.0.1:1/history' });
    const f = await sim.waitFor((s) => s.interaction(h)?.history[0]);
    expect(f.status).toBe(0);
    expect(f.valid).toBe(false);
    expect(f.error).toBeTruthy();
  });

  it('can be fetched on accept or only on demand (fetchHistoryOn), and again with fetchHistory', async () => {
    const onAccept = await startSim({ fetchHistoryOn: 'accept' });
    const h = await start({ external_history: `${receiverUrl}/history/good` }, onAccept);
    await new Promise((r) => setTimeout(r, 50));
    expect(onAccept.interaction(h)?.history).toEqual([]);
    await onAccept.accept(h);
    await onAccept.waitFor((s) => s.interaction(h)?.history[0]);

    const manual = await startSim({ fetchHistoryOn: 'manual' });
    const m = await start({ external_history: `${receiverUrl}/history/good` }, manual);
    await manual.accept(m);
    await new Promise((r) => setTimeout(r, 50));
    expect(manual.interaction(m)?.history).toEqual([]);
    const f = await manual.fetchHistory(m);
    expect(f.valid).toBe(true);
    await manual.fetchHistory(m);
    expect(manual.interaction(m)?.history).toHaveLength(2);

    const none = await start({}, manual);
    await expect(manual.fetchHistory(none)).rejects.toThrow(/no external_history/);
  });
});

// ─── customer side of an interaction ──────────────────────────────────────────────────────────

describe('messages, typing, finish, update', () => {
  it('answers the documented bodies and records messages both ways', async () => {
    const h = await start();
    const m = await call('POST', `/interactions/${h}/messages`, { token: TOKEN, content: 'olá' });
    expect(m.status).toBe(200);
    expectSameShape(m.json, DOC_MESSAGE_CREATED);
    expect(m.json).toEqual({ data: { interaction_hash: h }, message: 'Message created successfully', status: 200 });

    const img = await call('POST', `/interactions/${h}/messages`, {
      token: TOKEN,
      content: 'logo.png',
      type: 'image',
      url: 'https://file-address.example.com/logo.png',
    });
    expect(img.status).toBe(200);
    await call('POST', `/interactions/${h}/messages`, { token: TOKEN, content: 'typed null', type: null });
    for (const type of ['video', 'audio', 'file'] as const) {
      expect((await call('POST', `/interactions/${h}/messages`, { token: TOKEN, content: type, type, url: `https://f.example.com/x.${type}` })).status).toBe(
        200,
      );
    }

    expect(await call('PUT', `/interactions/${h}/typing`, { token: TOKEN })).toMatchObject({ status: 200, json: DOC_TYPING });
    expect(sim.interaction(h)?.customerTyping).toBe(true);
    expect(await call('PUT', `/interactions/${h}/cleared`, { token: TOKEN })).toMatchObject({ status: 200, json: DOC_CLEARED });
    expect(sim.interaction(h)?.customerTyping).toBe(false);

    await sim.accept(h);
    await sim.agentMessage(h, 'Oi, sou a Atendente');
    const msgs = sim.interaction(h)!.messages;
    expect(msgs.map((x) => [x.direction, x.type, x.content, x.url])).toEqual([
      ['customer', 'text', 'olá', null],
      ['customer', 'image', 'logo.png', 'https://file-address.example.com/logo.png'],
      ['customer', 'text', 'typed null', null],
      ['customer', 'video', 'video', 'https://f.example.com/x.video'],
      ['customer', 'audio', 'audio', 'https://f.example.com/x.audio'],
      ['customer', 'file', 'file', 'https://f.example.com/x.file'],
      ['agent', 'text', 'Oi, sou a Atendente', null],
    ]);
    expect(msgs.at(-1)?.agent).toEqual({ id: 111, name: 'Atendente' });
    for (const x of msgs) expect(x.hash).toMatch(UUID);
    // customer messages produce no trigger (the triggers are the agent's side)
    expect(hits.map((x) => ('state' in x.body ? x.body.state : 'message'))).toEqual(['accepted', 'message']);
  });

  it('refuses invalid messages with 422', async () => {
    const h = await start();
    const bad: Array<Record<string, unknown>> = [
      {},
      { content: '' },
      { content: 42 },
      { content: 'x', type: 'sticker' },
      { content: 'x', type: 'image' }, // no url for a file
      { content: 'x', type: 'file', url: 'not a url' },
    ];
    for (const b of bad) expectError(await call('POST', `/interactions/${h}/messages`, { token: TOKEN, ...b }), 422);
    expect(sim.interaction(h)?.messages).toEqual([]);
  });

  it('answers 404 with the error shape for an unknown hash, on every route', async () => {
    const h = '00000000-0000-4000-8000-000000000000';
    expectError(await call('POST', `/interactions/${h}/messages`, { token: TOKEN, content: 'x' }), 404);
    expectError(await call('PUT', `/interactions/${h}/typing`, { token: TOKEN }), 404);
    expectError(await call('PUT', `/interactions/${h}/cleared`, { token: TOKEN }), 404);
    expectError(await call('PUT', `/interactions/${h}/finish`, { token: TOKEN }), 404);
    expectError(await call('PUT', `/interactions/${h}`, { token: TOKEN, mood: 'POSITIVE' }), 404);
    expectError(await call('POST', `/nothing-here`, { token: TOKEN }), 404);
  });

  it('finishes through the API (documented answer), then refuses messages, typing and a second finish with 422', async () => {
    const h = await start();
    await sim.accept(h);
    expect(await call('PUT', `/interactions/${h}/finish`, { token: TOKEN })).toMatchObject({ status: 200, json: DOC_FINISH });
    expect(sim.interaction(h)).toMatchObject({ state: 'finished', finished: { by: 'api' } });
    expectError(await call('POST', `/interactions/${h}/messages`, { token: TOKEN, content: 'late' }), 422);
    expectError(await call('PUT', `/interactions/${h}/typing`, { token: TOKEN }), 422);
    expectError(await call('PUT', `/interactions/${h}/cleared`, { token: TOKEN }), 422);
    expectError(await call('PUT', `/interactions/${h}/finish`, { token: TOKEN }), 422);
    expect(sim.interaction(h)?.messages).toEqual([]);
    // no `finished` trigger for a finish the integrator asked for (default)
    await new Promise((r) => setTimeout(r, 30));
    expect(hitsFor('finished')).toEqual([]);
  });

  it('refuses messages once the agent finished', async () => {
    const h = await start();
    await sim.accept(h);
    await sim.finish(h);
    expectError(await call('POST', `/interactions/${h}/messages`, { token: TOKEN, content: 'late' }), 422);
    expect(sim.interaction(h)).toMatchObject({ state: 'finished', finished: { by: 'agent' } });
  });

  it('sends `finished` for an API finish when finishedTriggerOnApiFinish is set', async () => {
    const s = await startSim({ finishedTriggerOnApiFinish: true });
    const h = await start({}, s);
    await call('PUT', `/interactions/${h}/finish`, { token: TOKEN }, { s });
    const hit = await s.waitFor(() => hitsFor('finished')[0]);
    expect(hit.body).toEqual({ interaction_hash: h, state: 'finished', extra: { attendanceId: 'att-1', bot: 'acme' } });
  });

  it('updates an interaction (documented answer), also after it finished, and validates the fields', async () => {
    const h = await start();
    await sim.accept(h);
    await sim.finish(h);
    const r = await call('PUT', `/interactions/${h}`, {
      token: TOKEN,
      mood: 'POSITIVE',
      tag_ids: ['1', '999'],
      customer_key: '0010-abcd',
      note: 'Any note here',
    });
    expect(r).toMatchObject({ status: 200, json: DOC_UPDATED });
    expect(sim.interaction(h)).toMatchObject({ mood: 'POSITIVE', tagIds: ['1', '999'], customerKey: '0010-abcd', note: 'Any note here' });
    for (const b of [{ mood: 'GOOD' }, { tag_ids: 'x' }, { tag_ids: [{}] }, { customer_key: 1 }, { note: false }]) {
      expectError(await call('PUT', `/interactions/${h}`, { token: TOKEN, ...b }), 422);
    }
    expect(sim.interaction(h)?.mood).toBe('POSITIVE');
  });
});

// ─── triggers ─────────────────────────────────────────────────────────────────────────────────

describe('triggers', () => {
  const EXTRA = { attendanceId: 'att-1', bot: 'acme' };

  it('sends every trigger exactly as the doc shows it, unsigned, to the URL with its query string, echoing extra', async () => {
    const h = await start();
    const results = [
      await sim.queue(h),
      await sim.accept(h),
      await sim.agentTyping(h, true),
      await sim.agentTyping(h, false),
      await sim.agentMessage(h, 'Message'),
      await sim.agentMessage(h, { type: 'image', url: 'https://cdn.example.com/files/foto%201.png' }),
      await sim.unavailable((await sim.queue(await start())).interaction.hash),
      await sim.finish(h),
    ];
    const events = hits.map((x) => ('state' in x.body ? x.body.state : 'message'));
    expect(events).toEqual(['queued', 'accepted', 'typing', 'cleared', 'message', 'message', 'queued', 'unavailable', 'finished']);

    for (const hit of hits) {
      const kind = 'state' in hit.body ? hit.body.state : 'message';
      expectSameShape(hit.body, DOC_TRIGGERS[kind as keyof typeof DOC_TRIGGERS]);
      expect(hit.body.extra).toEqual(EXTRA);
      expect(hit.body.interaction_hash).toMatch(UUID);
      expect(hit.url).toBe(`/hook?secret=${HOOK_SECRET}`);
      expect(hit.headers['content-type']).toBe('application/json');
      // Omnize signs nothing (research §5): no signature or auth header of any kind.
      const names = Object.keys(hit.headers);
      expect(names.filter((n) => /signature|authorization|hmac|token/i.test(n))).toEqual([]);
    }
    expect(hitsFor('queued')[0]!.body).toEqual({ interaction_hash: h, state: 'queued', position: 1, extra: EXTRA });
    expect(hitsFor('accepted')[0]!.body).toEqual({ interaction_hash: h, state: 'accepted', extra: EXTRA });
    expect(hitsFor('typing')[0]!.body).toEqual({ interaction_hash: h, state: 'typing', extra: EXTRA });
    expect(hitsFor('cleared')[0]!.body).toEqual({ interaction_hash: h, state: 'cleared', extra: EXTRA });
    expect(hitsFor('finished')[0]!.body).toEqual({ interaction_hash: h, state: 'finished', extra: EXTRA });
    const [text, image] = hitsFor('message');
    expect(text!.body).toEqual({
      interaction_hash: h,
      message: { hash: expect.stringMatching(UUID), content: 'Message', type: 'text', url: null },
      agent: { id: 111, name: 'Atendente' },
      extra: EXTRA,
    });
    expect(image!.body).toMatchObject({ message: { type: 'image', url: 'https://cdn.example.com/files/foto%201.png', content: 'foto 1.png' } });
    expect(hitsFor('unavailable')[0]!.body).toEqual({ interaction_hash: sim.latestHash(), state: 'unavailable', extra: EXTRA });

    // What each action resolved to: the bridge's answer to its delivery.
    for (const r of results) expect(r.delivery).toMatchObject({ status: 200, response: JSON.stringify({ got: 200 }), attempt: 1, redelivery: false });
    expect(sim.deliveries.map((d) => d.index)).toEqual(hits.map((_, i) => i));
    expect(sim.deliveries.map((d) => d.body)).toEqual(hits.map((x) => x.raw));
    expect(sim.triggers.every((t) => t.state === 'delivered')).toBe(true);
    expect(sim.interaction(h)).toMatchObject({ state: 'finished', agentTyping: false, agent: { id: 111, name: 'Atendente' } });
    expect(sim.interaction(h)!.messages.map((m) => m.hash)).toEqual(hitsFor('message').map((x) => (x.body as { message: { hash: string } }).message.hash));
  });

  it('counts queue positions per department and takes an explicit position', async () => {
    const s = await startSim({
      departments: [
        { id: 1, name: 'A' },
        { id: 2, name: 'B' },
      ],
    });
    const a = await start({ department_id: 1 }, s);
    const b = await start({ department_id: 1 }, s);
    const c = await start({ department_id: 2 }, s);
    expect((await s.queue(a)).trigger.payload).toMatchObject({ position: 1 });
    expect((await s.queue(b)).trigger.payload).toMatchObject({ position: 2 });
    expect((await s.queue(c)).trigger.payload).toMatchObject({ position: 1 });
    await s.accept(a);
    expect((await s.queue(b)).trigger.payload).toMatchObject({ position: 1 });
    expect((await s.queue(b, 7)).trigger.payload).toMatchObject({ position: 7 });
    expect(s.interaction(b)).toMatchObject({ state: 'queued', position: 7 });
    await expect(s.queue(b, 0)).rejects.toThrow(/position/);
  });

  it("sends '' as a text message's url with textMessageUrl: ''", async () => {
    const s = await startSim({ textMessageUrl: '' });
    const h = await start({}, s);
    await s.accept(h);
    await s.agentMessage(h, 'oi');
    await s.agentMessage(h, { type: 'text', content: 'com tipo' });
    const [a, b] = hitsFor('message');
    expectSameShape(a!.body, DOC_TRIGGERS.message);
    expect(a!.body).toMatchObject({ message: { type: 'text', url: '' } });
    expect(b!.body).toMatchObject({ message: { type: 'text', url: '', content: 'com tipo' } });
  });

  it('accepts by an agent of the account or any {id, name}; agent messages carry that agent', async () => {
    const s = await startSim({
      agents: [
        { id: 5, name: 'Carla' },
        { id: 6, name: 'Dani' },
      ],
    });
    const h = await start({}, s);
    await s.accept(h, 6);
    await s.agentMessage(h, 'oi');
    expect(hitsFor('message').at(-1)!.body).toMatchObject({ agent: { id: 6, name: 'Dani' } });
    await s.accept(h, { id: 77, name: 'Outro' });
    await s.agentMessage(h, { type: 'file', url: 'https://x.example.com/boleto.pdf', content: 'Seu boleto' });
    expect(hitsFor('message').at(-1)!.body).toMatchObject({ agent: { id: 77, name: 'Outro' }, message: { type: 'file', content: 'Seu boleto' } });
    await expect(s.accept(h, 999)).rejects.toThrow(/unknown agent/);
  });

  it('refuses agent actions that cannot happen: before accept, after finish, unknown hash, a file without url', async () => {
    const h = await start();
    await expect(sim.agentMessage(h, 'too early')).rejects.toThrow(/not accepted/);
    await expect(sim.agentTyping(h, true)).rejects.toThrow(/not accepted/);
    await sim.accept(h);
    await expect(sim.agentMessage(h, { type: 'image' })).rejects.toThrow(/url/);
    await sim.finish(h);
    for (const act of [() => sim.finish(h), () => sim.accept(h), () => sim.queue(h), () => sim.unavailable(h), () => sim.agentMessage(h, 'x')]) {
      await expect(act()).rejects.toThrow(/finished/);
    }
    await expect(sim.accept('nope')).rejects.toThrow(/unknown interaction/);
    expect(hits.map((x) => ('state' in x.body ? x.body.state : 'message'))).toEqual(['accepted', 'finished']);
  });

  it("records the bridge's answers; no retry by default", async () => {
    const h = await start();
    answers = [401];
    const r = await sim.accept(h);
    expect(r.delivery).toMatchObject({ status: 401, response: JSON.stringify({ got: 401 }) });
    await new Promise((res) => setTimeout(res, 100));
    expect(hits).toHaveLength(1);
    expect(sim.triggers[0]).toMatchObject({ state: 'failed', event: 'accepted' });
    expect(sim.triggers[0]!.attempts).toHaveLength(1);
  });

  it('retries when configured (webhookRetry), with the same bytes', async () => {
    const s = await startSim({ webhookRetry: { maxAttempts: 3, delaysMs: [20] } });
    const h = await start({}, s);
    answers = [500, 503];
    await s.accept(h);
    await s.waitFor((x) => x.triggers[0]?.state === 'delivered');
    expect(hits).toHaveLength(3);
    expect(new Set(hits.map((x) => x.raw)).size).toBe(1);
    expect(s.deliveries.map((d) => [d.attempt, d.status])).toEqual([
      [1, 500],
      [2, 503],
      [3, 200],
    ]);

    answers = [500, 500, 500];
    await s.agentMessage(h, 'x');
    await s.waitFor((x) => x.triggers[1]?.state === 'failed');
    expect(s.triggers[1]!.attempts).toHaveLength(3);
  });

  it('records a webhook URL that does not answer as status 0', async () => {
    const s = await startSim({ webhookUrl: 'http://127.0.0.1:1/hook' });
    const h = await start({}, s);
    const r = await s.accept(h);
    expect(r.delivery?.status).toBe(0);
    expect(r.delivery?.error).toBeTruthy();
    expect(s.triggers[0]?.state).toBe('failed');
  });

  it('redelivers a delivery byte for byte (a duplicate), the last by default', async () => {
    const h = await start();
    await sim.accept(h);
    await sim.agentMessage(h, 'uma vez');
    const d = await sim.redeliver();
    expect(d).toMatchObject({ index: 2, redelivery: true, attempt: 2, event: 'message', status: 200 });
    const d0 = await sim.redeliver(0);
    expect(d0).toMatchObject({ index: 3, event: 'accepted', redelivery: true });
    expect(hits).toHaveLength(4);
    expect(hits[2]!.raw).toBe(hits[1]!.raw);
    expect(hits[3]!.raw).toBe(hits[0]!.raw);
    await expect(sim.redeliver(99)).rejects.toThrow(/no delivery/);
  });

  it('records triggers as unsent without a webhook URL, and sends once one is set', async () => {
    const s = await startSim({ webhookUrl: undefined });
    const h = await start({}, s);
    const r = await s.accept(h);
    expect(r.delivery).toBeUndefined();
    expect(s.triggers[0]).toMatchObject({ state: 'unsent', payload: { state: 'accepted', interaction_hash: h } });
    s.setWebhookUrl(`${receiverUrl}/hook?secret=later`);
    await s.agentMessage(h, 'oi');
    expect(hits.at(-1)!.url).toBe('/hook?secret=later');
  });

  it('queues each new interaction by itself with autoQueue, after answering the create', async () => {
    const s = await startSim({ autoQueue: true });
    const a = await start({}, s);
    const b = await start({}, s);
    await s.waitFor(() => hitsFor('queued').length === 2);
    expect(hitsFor('queued').map((x) => x.body)).toEqual([
      { interaction_hash: a, state: 'queued', position: 1, extra: EXTRA },
      { interaction_hash: b, state: 'queued', position: 2, extra: EXTRA },
    ]);
  });
});

// ─── faults ───────────────────────────────────────────────────────────────────────────────────

describe('faults', () => {
  it('failNext answers the injected status with the error shape (and Retry-After when asked) to that route only, then recovers', async () => {
    const h = await start();
    sim.failNext('POST /interactions/{hash}/messages', { status: 503, count: 2 });
    sim.failNext('POST /interactions', { status: 429, retryAfter: 3 });
    expectError(await call('POST', `/interactions/${h}/messages`, { token: TOKEN, content: 'a' }), 503);
    expect((await call('PUT', `/interactions/${h}/typing`, { token: TOKEN })).status).toBe(200);
    expectError(await call('POST', `/interactions/${h}/messages`, { token: TOKEN, content: 'b' }), 503);
    expect((await call('POST', `/interactions/${h}/messages`, { token: TOKEN, content: 'c' })).status).toBe(200);
    const limited = await call('POST', '/interactions', startBody());
    expectError(limited, 429);
    expect(limited.headers['retry-after']).toBe('3');
    expect((await call('POST', '/interactions', startBody())).status).toBe(200);
    expect(sim.interaction(h)!.messages.map((m) => m.content)).toEqual(['c']);
    // injected before the token check
    sim.failNext('*', { status: 500 });
    expectError(await call('PUT', `/interactions/${h}/finish`, { token: 'wrong' }), 500);
    expect(() => sim.failNext('POST /nope' as never, { status: 500 })).toThrow(/unknown route/);
  });

  it('setDown resets connections or answers a status; setLatency delays answers', async () => {
    sim.setDown(true);
    await expect(call('POST', '/interactions', startBody())).rejects.toThrow();
    sim.setDown(true, 503);
    expectError(await call('POST', '/interactions', startBody()), 503);
    sim.setDown(false);
    expect(sim.interactions()).toEqual([]);
    sim.setLatency(150);
    const t0 = Date.now();
    expect((await call('POST', '/interactions', startBody())).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    sim.setLatency(0);
  });

  it('reset forgets interactions, logs and faults', async () => {
    await start();
    sim.failNext('*', { status: 500, count: 5 });
    sim.reset();
    expect(sim.interactions()).toEqual([]);
    expect(sim.requests).toEqual([]);
    expect((await call('POST', '/interactions', startBody())).status).toBe(200);
  });
});

// ─── base path and controls ───────────────────────────────────────────────────────────────────

describe('base path', () => {
  it('serves under a configurable base path (older installs: /api/v1)', async () => {
    const s = await startSim({ basePath: '/api/v1/' });
    expect(s.apiUrl).toBe(`${s.url}/api/v1`);
    expect((await call('POST', '/interactions', startBody(), { s })).status).toBe(200);
    expectError(await call('POST', '/core/api/v1/interactions', startBody(), { to: s.url }), 404);
    expect(sim.apiUrl).toBe(`${sim.url}/core/api/v1`);
  });
});

describe('/_sim controls', () => {
  const ctl = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await request(`${sim.url}/_sim${path}`, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    return { status: res.statusCode, json: (await res.body.json()) as any };
  };

  it('lets a person act as the agent on the latest interaction and read the state', async () => {
    const h = await start({ external_history: `${receiverUrl}/history/good` });
    expect((await ctl('POST', '/interactions/latest/queue', { position: 3 })).json.trigger.payload).toEqual({
      interaction_hash: h,
      state: 'queued',
      position: 3,
      extra: { attendanceId: 'att-1', bot: 'acme' },
    });
    expect((await ctl('POST', '/interactions/latest/message', { text: 'early' })).status).toBe(409);
    expect((await ctl('POST', '/interactions/latest/accept', { agent: { id: 9, name: 'Eva' } })).json.delivery.status).toBe(200);
    await ctl('POST', '/interactions/latest/typing', { on: true });
    await ctl('POST', '/interactions/latest/typing', { on: false });
    await ctl('POST', '/interactions/latest/message', { text: 'Olá!' });
    await ctl('POST', '/interactions/latest/message', { type: 'image', url: 'https://x.example.com/a.png' });
    expect((await ctl('POST', '/interactions/latest/message', { nope: 1 })).status).toBe(400);
    expect((await ctl('POST', '/redeliver', {})).json).toMatchObject({ redelivery: true, event: 'message' });
    await ctl('POST', '/interactions/latest/finish', {});
    expect((await ctl('POST', '/interactions/latest/finish', {})).status).toBe(409);
    expect((await ctl('POST', '/interactions/nope/accept', {})).status).toBe(404);
    expect(hits.map((x) => ('state' in x.body ? x.body.state : 'message'))).toEqual([
      'queued',
      'accepted',
      'typing',
      'cleared',
      'message',
      'message',
      'message',
      'finished',
    ]);
    expect(hitsFor('message')[0]!.body).toMatchObject({ agent: { id: 9, name: 'Eva' } });

    const one = await ctl('GET', '/interactions/latest');
    expect(one.json).toMatchObject({ hash: h, state: 'finished', agent: { id: 9, name: 'Eva' } });
    await sim.waitFor((s) => s.interaction(h)?.history[0]);
    expect((await ctl('POST', '/interactions/latest/history', {})).json).toMatchObject({ valid: true });
    const state = await ctl('GET', '/state');
    expect(state.json.interactions).toHaveLength(1);
    expect(state.json.deliveries).toHaveLength(8);
    expect(state.json.webhookUrl).toBe(`${receiverUrl}/hook?secret=${HOOK_SECRET}`);
    expect((await ctl('GET', '/requests')).json[0]).toMatchObject({ route: 'POST /interactions', status: 200 });
  });

  it('injects faults and changes the webhook URL', async () => {
    expect((await ctl('POST', '/fail-next', { route: 'POST /interactions', status: 502 })).status).toBe(200);
    expectError(await call('POST', '/interactions', startBody()), 502);
    expect((await ctl('POST', '/fail-next', { route: 'nope', status: 502 })).status).toBe(400);
    await ctl('POST', '/down', { down: true, status: 503 });
    expectError(await call('POST', '/interactions', startBody()), 503);
    expect((await ctl('GET', '/state')).status).toBe(200); // controls keep working while down
    await ctl('POST', '/down', { down: false });
    expect((await ctl('POST', '/webhook', { url: null })).json).toEqual({ webhookUrl: null });
    const h = await start();
    await sim.accept(h);
    expect(sim.triggers.at(-1)?.state).toBe('unsent');
    expect(hits).toEqual([]);
  });
});
