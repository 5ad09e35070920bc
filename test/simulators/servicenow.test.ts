/**
 * The ServiceNow simulator against real HTTP on 127.0.0.1: what a primary bot sees when it talks to
 * "ServiceNow" with the Virtual Agent API (../shared/specs/servicenow/bot-api.md and the pages
 * beside it): the call status and its failure shape, every inbound authentication, the request
 * body checked as the reference's table says, the asynchronous VA response POSTed to the response
 * endpoint (its credential, custom headers and 5000 ms connection timeout), inbound rate limiting,
 * the CCCIF media upload, and the live agent's side.
 *
 * The doc's examples the simulator copies are quoted below (DOC_*); when ../shared/specs/servicenow
 * is present, a test checks that each quote is in the page it cites.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Agent, FormData, request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_CONNECTION_TIMEOUT_MS,
  END_TEXT,
  INTEGRATION_PATH,
  STAND_BY_TEXT,
  ServiceNowSimulator,
  b2bSignature,
  type ServiceNowSimulatorOptions,
  type VaResponse,
} from '../../simulators/servicenow/index.js';

const SPECS = fileURLToPath(new URL('../../../shared/specs/servicenow/', import.meta.url));
const USER = { username: 'va.integration', password: 'va-integration-pass' };
const BEARER = 'oauth-access-token-123';
const TOKEN = 'ORANGE-static-token';
const HASH = 'hash-secret-of-the-instance';
const HOOK = { username: 'servicenow', password: 'response-endpoint-pass' };
const SYS_ID = /^[0-9a-f]{32}$/;

/** Quotes from the pages, each where the simulator uses it. */
const DOC = {
  'bot-api.md': [
    '"status": "success"',
    '"uiType":"ActionMsg", \n  "actionType":"StartSpinner", \n  "spinnerType":"wait_time",  \n  "message":"Routing you to a live agent...", \n  "waitTime":"8 Seconds"',
    '"value":"Please stand by while I connect you to a live agent."',
    '"value":"The conversation has ended. If you need help again, type hi."',
    '"completed":true',
    '"takeControl": true',
    'Message Processed Successfully',
    'Valid values: 13-digit Unix timestamp',
    '405',
  ],
  'configure-response-endpoint-auth-va-api.md': ['The default value for Connection timeout is 5000ms.', 'You can add maximum 10 headers.'],
  'set-up-message-auth-va-api.md': ["CryptoJS.HmacSHA1(JSON.stringify(JSON.parse(request.data)), '<insert your token>').toString(CryptoJS.enc.Hex)", 'x-b2b-signature'],
  'configure-send-request.md': ['If the token is specified in both places, the one in the header is accepted.'],
};

// ─── a response endpoint on loopback ────────────────────────────────────────────────────────────

interface Hit {
  headers: IncomingMessage['headers'];
  raw: string;
  body: VaResponse;
}
let hits: Hit[] = [];
let hookStatus = 200;
let hookDelayMs = 0;
let hook: Server;
let hookUrl: string;

beforeAll(async () => {
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      hits.push({ headers: req.headers, raw, body: JSON.parse(raw) as VaResponse });
      // The status in force when the hit arrived: a test that sees the hit and changes hookStatus
      // must not change this answer (a loaded machine ran the timer after the change).
      const status = hookStatus;
      setTimeout(() => {
        if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      }, hookDelayMs);
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/nowbot/processResponse`;
});
afterAll(async () => {
  hook.closeAllConnections();
  await new Promise((r) => hook.close(r));
});

let sim: ServiceNowSimulator;
let base: string;

async function startSim(over: Partial<ServiceNowSimulatorOptions> = {}): Promise<void> {
  sim = new ServiceNowSimulator({
    auth: { basic: [USER], bearer: [BEARER] },
    responseEndpoint: { url: hookUrl, auth: { type: 'basic', ...HOOK }, headers: { 'x-bridge-secret': 'a-secret-header-value' } },
    ...over,
  });
  base = await sim.start();
}

beforeEach(() => {
  hits = [];
  hookStatus = 200;
  hookDelayMs = 0;
});
afterEach(async () => {
  await sim?.stop();
  sim = undefined as unknown as ServiceNowSimulator;
});

const basic = (u = USER) => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;
let seq = 0;
const rid = () => `req-${++seq}-${Date.now()}`;

async function call(body: unknown, headers: Record<string, string> = { authorization: basic() }, raw?: string) {
  const res = await request(`${base}${INTEGRATION_PATH}`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', ...headers },
    body: raw ?? JSON.stringify(body),
  });
  const text = await res.body.text();
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* text answer */
  }
  return { status: res.statusCode, body: json, headers: res.headers };
}

const agentRequest = (userId: string, over: Record<string, unknown> = {}) => ({
  requestId: rid(),
  action: 'AGENT',
  clientSessionId: `session-${userId}`,
  message: { text: 'I need a person', typed: true, clientMessageId: `m-${userId}` },
  userId,
  emailId: `${userId}@example.com`,
  timestamp: Date.now(),
  timezone: 'America/Sao_Paulo',
  contextVariables: { b2b_category: 'support' },
  history: [
    { displayName: 'Blip bot', isBotMessage: true, timestamp: String(Date.now() - 2000), type: 'text', value: 'How can I help?' },
    { displayName: 'Ana', isBotMessage: false, timestamp: String(Date.now() - 1000), type: 'text', value: 'A person please' },
  ],
  ...over,
});

const waitHits = (n: number) => sim.waitFor(() => hits.length >= n && hits);

// ─── tests ──────────────────────────────────────────────────────────────────────────────────────

describe('the quotes the simulator follows are in the pages', () => {
  it.skipIf(!existsSync(SPECS))('each quote is in its page', () => {
    for (const [page, quotes] of Object.entries(DOC)) {
      const text = readFileSync(`${SPECS}${page}`, 'utf8');
      for (const q of quotes) expect(text, `${page}: ${q}`).toContain(q);
    }
  });
});

describe('call status and the request body (bot-api.md)', () => {
  beforeEach(() => startSim());

  it('a valid AGENT request answers 200 {"status":"success"} and later POSTs the VA response', async () => {
    const r = await call(agentRequest('ana'));
    expect(r).toMatchObject({ status: 200, body: { status: 'success' } });
    const [h] = await waitHits(1);
    expect(h!.body.requestId).toBe(sim.requests[0]!.requestId);
    expect(h!.body).toMatchObject({ clientSessionId: 'session-ana', userId: 'ana', agentChat: true, message: { text: 'I need a person', typed: true } });
    expect(h!.body.body[0]).toEqual({ uiType: 'OutputText', group: 'DefaultText', value: STAND_BY_TEXT });
    expect(h!.body.body[1]).toEqual({ uiType: 'ActionMsg', actionType: 'StartSpinner', spinnerType: 'wait_time', message: 'Routing you to a live agent...', waitTime: '8 Seconds' });
    const c = sim.conversationOf('ana')!;
    expect(c).toMatchObject({ state: 'queued', clientSessionId: 'session-ana', emailId: 'ana@example.com', queue: 'Live Agent Support' });
    expect(c.history.map((x) => x.value)).toEqual(['How can I help?', 'A person please']);
    expect(c.messages[0]).toMatchObject({ direction: 'customer', text: 'I need a person' });
  });

  it.each([
    ['no requestId', { requestId: undefined }, /requestId is required/],
    ['no userId', { userId: undefined }, /userId is required/],
    ['message without typed', { message: { text: 'x' } }, /message.typed is required/],
    ['an unknown action', { action: 'CLOSE' }, /action must be one of/],
    ['a 10-digit history timestamp', { history: [{ displayName: 'b', isBotMessage: true, timestamp: '1588824102', type: 'text', value: 'x' }] }, /13-digit/],
    ['history type html', { history: [{ displayName: 'b', isBotMessage: true, timestamp: '1588824102000', type: 'html', value: 'x' }] }, /type must be "text"/],
    ['an attachment of an undocumented type', { message: { typed: true, attachment: [{ contentType: 'audio/ogg', fileName: 'a.ogg', url: 'https://x.example/a.ogg' }] } }, /contentType "audio\/ogg" is not one of/],
    ['an attachment without fileName', { message: { typed: true, attachment: [{ contentType: 'image/png', url: 'https://x.example/a.png' }] } }, /fileName is required/],
    ['FAULT_CONVERSATION without cause', { action: 'FAULT_CONVERSATION' }, /cause is required/],
  ])('%s → 400 with the failure shape, nothing happens', async (_what, over, detail) => {
    const r = await call({ ...agentRequest('bob'), ...over });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: { message: 'Bad Request', detail: expect.stringMatching(detail) }, status: 'failure' });
    expect(sim.conversations()).toHaveLength(0);
    await new Promise((res) => setTimeout(res, 50));
    expect(hits).toHaveLength(0);
  });

  it('malformed JSON → 400; a GET → 405; an unknown path → 400', async () => {
    expect((await call(undefined, { authorization: basic() }, '{"requestId":')).status).toBe(400);
    const get = await request(`${base}${INTEGRATION_PATH}`, { method: 'GET', headers: { authorization: basic() } });
    expect(get.statusCode).toBe(405);
    expect(await get.body.json()).toMatchObject({ status: 'failure', error: { message: expect.any(String) } });
    const other = await request(`${base}/api/now/table/incident`, { method: 'GET', headers: { authorization: basic() } });
    expect(other.statusCode).toBe(400);
    await other.body.dump();
  });

  it('Accept other than JSON, or a non-JSON Content-Type → 400', async () => {
    expect((await call(agentRequest('c1'), { authorization: basic(), accept: 'text/html' })).status).toBe(400);
    expect((await call(agentRequest('c2'), { authorization: basic(), 'content-type': 'text/plain' })).status).toBe(400);
  });

  it('the table types history as an object and the SEND_HISTORY example as a list: both accepted; the response endpoint gets {"status":"success"}', async () => {
    const one = { displayName: 'bot', isBotMessage: true, timestamp: '1739866290393', type: 'text', value: 'How can I help you?' };
    expect((await call({ requestId: rid(), userId: 'h1', action: 'SEND_HISTORY', history: one })).status).toBe(200);
    expect((await call({ requestId: rid(), userId: 'h2', action: 'SEND_HISTORY', history: [one, one] })).status).toBe(200);
    await waitHits(2);
    expect(hits.map((h) => h.body)).toEqual([{ status: 'success' }, { status: 'success' }]);
  });

  it('a repeated requestId is processed again and marked (the reference promises no deduplication)', async () => {
    const body = agentRequest('dup');
    await call(body);
    await call({ ...body, action: null, message: { text: 'again', typed: true } });
    expect(sim.requests[1]!.duplicateOf).toBe(0);
    expect(sim.conversationOf('dup')!.messages.map((m) => m.text)).toEqual(['I need a person', 'again']);
  });
});

describe('inbound authentication (configure-send-request.md, set-up-message-auth-va-api.md)', () => {
  it('Basic and OAuth bearer; wrong or missing credentials → 401 failure, nothing stored', async () => {
    await startSim();
    expect((await call(agentRequest('b1'))).status).toBe(200);
    expect((await call(agentRequest('b2'), { authorization: `Bearer ${BEARER}` })).status).toBe(200);
    for (const headers of [{ authorization: basic({ username: USER.username, password: 'wrong' }) }, { authorization: 'Bearer nope' }, {}]) {
      const r = await call(agentRequest('x'), headers);
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ status: 'failure', error: { message: 'User Not Authenticated' } });
    }
    expect(sim.conversations().map((c) => c.userId)).toEqual(['b1', 'b2']);
    expect(sim.requests.map((r) => r.principal ?? r.outcome)).toEqual(['basic:va.integration', 'oauth:0', 'unauthorized', 'unauthorized', 'unauthorized']);
  });

  it('static token: the `token` header, or `token` in the body (the header wins)', async () => {
    await startSim({ auth: { token: TOKEN } });
    expect((await call(agentRequest('t1'), { token: TOKEN })).status).toBe(200);
    expect((await call({ ...agentRequest('t2'), token: TOKEN }, {})).status).toBe(200);
    expect((await call({ ...agentRequest('t3'), token: TOKEN }, { token: 'wrong' })).status).toBe(401);
    expect((await call(agentRequest('t4'), {})).status).toBe(401);
    // with or without Basic: Basic alone is not enough when the provider has message auth
    expect((await call(agentRequest('t5'), { authorization: basic() })).status).toBe(401);
  });

  it('hash token: x-b2b-signature = HmacSHA1 hex of JSON.stringify(JSON.parse(body)), as the Postman script computes it', async () => {
    await startSim({ auth: { hashSecret: HASH } });
    const pretty = JSON.stringify(agentRequest('h1'), null, 2);
    const normalized = JSON.stringify(JSON.parse(pretty));
    expect(b2bSignature(HASH, pretty)).toBe(b2bSignature(HASH, normalized, 'raw'));
    expect((await call(undefined, { 'x-b2b-signature': b2bSignature(HASH, pretty) }, pretty)).status).toBe(200);
    expect((await call(undefined, { 'x-b2b-signature': b2bSignature('other', pretty) }, pretty)).status).toBe(401);
    const r = await call(undefined, {}, pretty);
    expect(r.status).toBe(401);
    expect(r.body.error.detail).toMatch(/x-b2b-signature/);
    expect(sim.conversations()).toHaveLength(1);
  });

  it('messageAuthFailure "silent": a bad token answers 200 success and nothing happens (bot-api.md 200 troubleshooting)', async () => {
    await startSim({ auth: { token: TOKEN, messageAuthFailure: 'silent' } });
    const r = await call(agentRequest('s1'), { token: 'wrong' });
    expect(r).toMatchObject({ status: 200, body: { status: 'success' } });
    expect(sim.conversations()).toHaveLength(0);
    expect(sim.requests[0]!.outcome).toBe('auth-failed-silently');
  });

  it('at least one inbound authentication must be configured', () => {
    expect(() => new ServiceNowSimulator({ auth: {} })).toThrow(/at least one/);
  });
});

describe('the response endpoint (configure-response-endpoint-auth-va-api.md)', () => {
  it('POSTs with the Credential and the custom headers, unsigned', async () => {
    await startSim();
    await call(agentRequest('r1'));
    const [h] = await waitHits(1);
    expect(h!.headers['authorization']).toBe(`Basic ${Buffer.from(`${HOOK.username}:${HOOK.password}`).toString('base64')}`);
    expect(h!.headers['x-bridge-secret']).toBe('a-secret-header-value');
    expect(h!.headers['content-type']).toBe('application/json');
    expect(Object.keys(h!.headers).filter((k) => /signature/i.test(k))).toEqual([]);
  });

  it('more than 10 custom headers is refused, as the form allows no more', async () => {
    await startSim();
    const headers = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`x-h${i}`, 'v']));
    expect(() => sim.setResponseEndpoint({ url: hookUrl, headers })).toThrow(/maximum 10 headers/);
  });

  it('an answer slower than the connection timeout is a failed attempt (default 5000 ms); no retry unless configured', async () => {
    expect(DEFAULT_CONNECTION_TIMEOUT_MS).toBe(5000);
    await startSim();
    sim.setResponseEndpoint({ url: hookUrl, timeoutMs: 100 });
    hookDelayMs = 1_000;
    await call(agentRequest('slow'));
    const rec = await sim.waitFor(() => sim.outbound[0]?.state === 'failed' && sim.outbound[0]);
    expect(rec.attempts).toHaveLength(1);
    expect(rec.attempts[0]).toMatchObject({ status: 0, timedOut: true });
  });

  it('with retries on, a non-2xx is tried again and then delivered', async () => {
    await startSim({ retry: { retries: 2, delaysMs: [20] } });
    hookStatus = 503;
    await call(agentRequest('retry'));
    await waitHits(1);
    hookStatus = 200;
    const rec = await sim.waitFor(() => sim.outbound[0]?.state === 'delivered' && sim.outbound[0]);
    expect(rec.attempts.map((a) => a.status)).toEqual([503, 200]);
    expect(hits[0]!.raw).toBe(hits[1]!.raw);
  });

  it('redeliver sends the same bytes again', async () => {
    await startSim({ autoAccept: true });
    await call(agentRequest('again'));
    await sim.waitFor(() => sim.conversationOf('again')?.state === 'live');
    await sim.agentMessage(sim.conversationOf('again')!.id, 'hello');
    const n = hits.length;
    const a = await sim.redeliver();
    expect(a.redelivery).toBe(true);
    expect(hits).toHaveLength(n + 1);
    expect(hits.at(-1)!.raw).toBe(hits.at(-2)!.raw);
  });
});

describe('inbound REST API rate limiting', () => {
  it('over the rule: 429, Retry-After, X-RateLimit-*, and the documented body; the window resets', async () => {
    let now = 1_700_000_000_000;
    await startSim({ rateLimit: { limit: 2, ruleSysId: 'a'.repeat(32), windowSeconds: 60 }, now: () => now });
    expect((await call(agentRequest('rl1'))).status).toBe(200);
    const ok = await call(agentRequest('rl2'));
    expect(ok.headers['x-ratelimit-limit']).toBe('2');
    const r = await call(agentRequest('rl3'));
    expect(r.status).toBe(429);
    expect(r.body).toEqual({ error: { message: 'Rate limit exceeded', detail: 'Rate limit of 2 requests per hour for VA Bot Integration exceeded' }, status: 'failure' });
    expect(r.headers['retry-after']).toBe('60');
    expect(r.headers['x-ratelimit-rule']).toBe('a'.repeat(32));
    expect(r.headers['x-ratelimit-reset']).toBe(String(Math.ceil((1_700_000_000_000 + 60_000) / 1000)));
    expect(sim.conversationOf('rl3')).toBeUndefined();
    // per user: the OAuth user has its own window
    expect((await call(agentRequest('rl4'), { authorization: `Bearer ${BEARER}` })).status).toBe(200);
    now += 60_000;
    expect((await call(agentRequest('rl5'))).status).toBe(200);
  });

  it('failNext injects a status with Retry-After before authentication', async () => {
    await startSim();
    sim.failNext('POST integration', { status: 429, retryAfter: 3 });
    const r = await call(agentRequest('f1'), {});
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('3');
    expect((await call(agentRequest('f2'))).status).toBe(200);
  });
});

describe('the live agent (Agent Chat) and the conversation actions', () => {
  beforeEach(() => startSim({ agentInfo: 'namesAndAvatars', agents: [{ id: 'b'.repeat(32), name: 'Beth Anglin', avatar: 'https://instance.example/a.iix' }] }));

  async function liveConversation(userId: string): Promise<string> {
    await call(agentRequest(userId));
    const id = sim.conversationOf(userId)!.id;
    await sim.accept(id);
    return id;
  }

  it('accept → SwitchToLiveAgent with agentInfo; reply → OutputText with agentInfo and messageId; the body echoes the conversation', async () => {
    const id = await liveConversation('live1');
    const accepted = hits.at(-1)!.body;
    expect(accepted).toMatchObject({ clientSessionId: 'session-live1', userId: 'live1', agentChat: true });
    expect(accepted.body.find((b) => b.actionType === 'SwitchToLiveAgent')!.agentInfo).toEqual({
      sentFromAgent: true,
      agentName: 'Beth Anglin',
      agentAvatar: 'https://instance.example/a.iix',
      agentId: 'b'.repeat(32),
    });
    expect(accepted.body[0]).toEqual({ uiType: 'ActionMsg', actionType: 'EndSpinner' });
    const r = await sim.agentMessage(id, 'Hi, Beth here');
    expect(r.firstAttempt!.status).toBe(200);
    const item = hits.at(-1)!.body.body[0]!;
    expect(item).toMatchObject({ uiType: 'OutputText', group: 'DefaultText', value: 'Hi, Beth here', maskType: 'NONE', agentInfo: { sentFromAgent: true, agentName: 'Beth Anglin' } });
    expect(item.messageId).toMatch(SYS_ID);
    for (const input of [{ image: 'https://x.example/i.png' }, { link: 'https://x.example', label: 'Docs' }, { card: { templateName: 'Card', data: { title: 'INC1' } } }, { picker: { label: 'Pick', options: [{ label: 'A', value: 'a' }] } }]) {
      await sim.agentMessage(id, input);
    }
    expect(hits.slice(-4).map((h) => h.body.body[0]!.uiType)).toEqual(['OutputImage', 'OutputLink', 'OutputCard', 'Picker']);
    expect(hits.at(-2)!.body.body[0]!.data).toBe('{"title":"INC1"}');
  });

  it('agentInfo is sent only as the agent chat setup says (bot-api.md: "If enabled in the agent chat setup")', async () => {
    for (const [setup, expected] of [
      ['off', undefined],
      ['sentFromAgent', { sentFromAgent: true }],
    ] as const) {
      await sim.stop();
      await startSim({ agentInfo: setup });
      const id = await liveConversation(`setup-${setup}`);
      expect(hits.at(-1)!.body.body.find((b) => b.actionType === 'SwitchToLiveAgent')!.agentInfo).toEqual(expected);
      await sim.agentMessage(id, 'hello');
      const last = hits.at(-1)!.body;
      expect(last.agentChat).toBe(true);
      expect(last.body[0]!.agentInfo).toEqual(expected);
    }
  });

  it('customer messages, TYPING then VIEWING and attachments reach the agent; no response POST for them', async () => {
    const id = await liveConversation('live2');
    const n = hits.length;
    await call({ requestId: rid(), userId: 'live2', clientSessionId: 'session-live2', action: 'TYPING' });
    expect(sim.conversation(id)!.customerTyping).toBe(true);
    await call({ requestId: rid(), userId: 'live2', clientSessionId: 'session-live2', action: 'VIEWING' });
    await call({ requestId: rid(), userId: 'live2', clientSessionId: 'session-live2', message: { text: 'see this', typed: true, attachment: [{ contentType: 'image/png', fileName: 'a.png', url: 'https://media.example/a.png' }] } });
    const c = sim.conversation(id)!;
    expect(c.typingLog.map((t) => t.on)).toEqual([true, false]);
    expect(c.messages.at(-1)).toMatchObject({ direction: 'customer', text: 'see this', attachments: [{ url: 'https://media.example/a.png', taken: true }] });
    await new Promise((res) => setTimeout(res, 50));
    expect(hits).toHaveLength(n);
  });

  it('UPDATE_MESSAGES (the list of the example) marks the agent message; synchronous, nothing POSTed', async () => {
    const id = await liveConversation('live3');
    await sim.agentMessage(id, 'delivered?');
    const messageId = hits.at(-1)!.body.body[0]!.messageId!;
    const n = hits.length;
    const r = await call({ requestId: rid(), clientSessionId: 'session-live3', userId: 'live3', action: 'UPDATE_MESSAGES', message: [{ status: 'sent_to_user', id: messageId }] });
    expect(r).toMatchObject({ status: 200, body: { status: 'success' } });
    expect(sim.conversation(id)!.messages.find((m) => m.id === messageId)!.statuses!.map((s) => s.status)).toEqual(['sent_to_user']);
    expect((await call({ requestId: rid(), userId: 'live3', action: 'UPDATE_MESSAGES', message: [{ status: 'read', id: messageId }] })).status).toBe(400);
    await new Promise((res) => setTimeout(res, 50));
    expect(hits).toHaveLength(n);
  });

  it('the agent closes: System "closed" + SwitchToVirtualAgent by default; completed / takeControl on demand', async () => {
    const id = await liveConversation('live4');
    await sim.close(id);
    expect(hits.at(-1)!.body.body).toEqual([
      { uiType: 'ActionMsg', actionType: 'System', message: 'Beth Anglin has closed the support session.' },
      { uiType: 'ActionMsg', actionType: 'SwitchToVirtualAgent' },
    ]);
    expect(sim.conversation(id)!.state).toBe('closed');
    await expect(sim.agentMessage(id, 'late')).rejects.toThrow(/not live/);
    const id2 = await liveConversation('live5');
    await sim.close(id2, ['completed']);
    expect(hits.at(-1)!.body).toMatchObject({ completed: true, body: [] });
  });

  it('END_CONVERSATION from the bot: completed with the end text (bot-api.md "End a Live Agent conversation")', async () => {
    const id = await liveConversation('live6');
    await call({ requestId: rid(), action: 'END_CONVERSATION', clientSessionId: 'session-live6', message: { text: '', typed: true }, userId: 'live6' });
    const h = await sim.waitFor(() => hits.find((x) => x.body.completed));
    expect(h.body.body).toEqual([{ uiType: 'OutputText', group: 'DefaultText', value: END_TEXT, maskType: 'NONE' }]);
    expect(sim.conversation(id)).toMatchObject({ state: 'closed', closed: { by: 'customer' } });
  });

  it('AWA queues chosen by contextVariables conditions', async () => {
    await sim.stop();
    await startSim({ queues: [{ name: 'HR', conditions: { b2b_category: 'humanresource' } }] });
    await call(agentRequest('q1', { contextVariables: { b2b_category: 'humanresource' } }));
    await call(agentRequest('q2'));
    expect(sim.conversationOf('q1')!.queue).toBe('HR');
    expect(sim.conversationOf('q2')!.queue).toBe('Live Agent Support');
  });
});

describe('CCCIF media upload', () => {
  beforeEach(() => startSim({ auth: { basic: [USER], token: TOKEN }, mediaRequiresAuth: true }));
  // The package's own Agent, as src/delivery/http.ts does: without one, undici's request uses the
  // process-wide dispatcher, which on Node 26 is Node's bundled undici, and that one refuses a
  // FormData made by the npm package ("body must be a FormData created by this undici package").
  const agent = new Agent();
  afterAll(() => agent.close());

  async function upload(headers: Record<string, string>, withUser = true) {
    const form = new FormData();
    if (withUser) form.append('user_id', 'ana');
    form.append('file', new Blob([Buffer.from('PNGDATA')], { type: 'image/png' }), 'a.png');
    const res = await request(`${base}/api/now/v1/cccif/media/upload`, { method: 'POST', headers, body: form, dispatcher: agent });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  }

  it('Basic → 201 with result.mediaUrl, downloadable; message auth is not accepted; user_id required', async () => {
    const ok = await upload({ authorization: basic() });
    expect(ok.status).toBe(201);
    expect(ok.body.result).toMatchObject({ name: 'a.png', state: 'pending', attachmentId: expect.stringMatching(SYS_ID), mediaUrl: expect.stringContaining('/api/now/v1/cs/media/') });
    const got = await request(ok.body.result.mediaUrl, { headers: { authorization: basic() } });
    expect(Buffer.from(await got.body.arrayBuffer()).toString()).toBe('PNGDATA');
    expect((await upload({ token: TOKEN })).status).toBe(401);
    expect((await upload({ authorization: basic() }, false)).status).toBe(400);
  });
});

describe('/_sim control', () => {
  beforeEach(() => startSim());

  it('accept, message, typing and close over HTTP', async () => {
    await call(agentRequest('ctl'));
    const post = async (path: string, body: unknown) => {
      const res = await request(`${base}/_sim${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.statusCode, body: (await res.body.json()) as any };
    };
    expect((await post('/conversations/latest/message', { text: 'too early' })).status).toBe(409);
    expect((await post('/conversations/latest/accept', {})).status).toBe(200);
    expect((await post('/conversations/latest/typing', { on: true })).status).toBe(200);
    expect((await post('/conversations/latest/message', { text: 'hello' })).status).toBe(200);
    expect((await post('/conversations/latest/close', { signals: ['takeControl'] })).status).toBe(200);
    expect((await post('/conversations/nope/close', {})).status).toBe(404);
    expect(hits.map((h) => h.body.body.map((b) => b.actionType ?? b.value))).toEqual([
      [STAND_BY_TEXT, 'StartSpinner'],
      ['EndSpinner', 'System', 'SwitchToLiveAgent'],
      ['StartTypingIndicator'],
      ['hello'],
      [],
    ]);
    expect(hits.at(-1)!.body.takeControl).toBe(true);
  });
});
