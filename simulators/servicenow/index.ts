/**
 * An in-process fake of a ServiceNow instance with the Virtual Agent API store app
 * (../shared/specs/servicenow/bot-api.md, "the reference"), for tests, the sandbox and the
 * benchmark (DESIGN §8). It serves what a primary bot calls — `POST
 * /api/sn_va_as_service/bot/integration` with every documented action, and the CCCIF media upload —
 * authenticated the ways configure-send-request.md lists (Basic, OAuth, static token, hash token),
 * answers with the documented call status (`{"status":"success"}` or `{"error":{…},"status":
 * "failure"}`, 200/400/401/405/500, 429 from inbound rate limiting), and then POSTs the VA response
 * body to the configured response endpoint (configure-response-endpoint-auth-va-api.md: Basic or
 * bearer credential, ≤ 10 custom headers, 5000 ms connection timeout). It plays the live agent's
 * side too (Agent Chat): accept, reply with any output control, typing, close.
 *
 * Every wire shape is built in fixtures.ts with the page it follows; guesses say UNVERIFIED.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { request } from 'undici';
import { registerControlRoutes } from './control.js';
import { Faults, RateLimiter } from './faults.js';
import {
  ATTACHMENT_TYPES,
  DEFAULT_AGENT,
  ERR,
  INTEGRATION_PATH,
  LIVE_AGENT_CHOICE,
  MEDIA_PATH_PREFIX,
  MEDIA_UPLOAD_PATHS,
  SEND_HISTORY_RESPONSE,
  SPINNER_MESSAGE,
  SUCCESS,
  UPDATE_MESSAGES_TEXT,
  agentInfo,
  agentUtterancePicker,
  b2bSignature,
  closedText,
  createConversation,
  endSpinner,
  endText,
  greeting,
  joinedText,
  mediaToken,
  notUnderstood,
  outputCard,
  outputImage,
  outputLink,
  outputText,
  picker,
  safeEqual,
  standBy,
  startSpinner,
  switchToLiveAgent,
  switchToVirtualAgent,
  sysId,
  systemMessage,
  typingIndicator,
  vaResponse,
} from './fixtures.js';
import type {
  ActionResult,
  ApiRoute,
  BodyItem,
  CloseSignal,
  DeliveryAttempt,
  FailRoute,
  InboundRecord,
  MediaFile,
  OutboundPayload,
  OutboundRecord,
  PickerOption,
  ResponseEndpoint,
  ServiceNowSimulatorOptions,
  SimAgent,
  SimConversation,
  SimMessage,
  VaAttachment,
  VaRequest,
} from './types.js';
import { isObject, validateRequest } from './validate.js';
import { ResponseDispatcher, checkEndpoint } from './webhooks.js';

export {
  ATTACHMENT_TYPES,
  DEFAULT_AGENT,
  DEFAULT_CONNECTION_TIMEOUT_MS,
  END_TEXT,
  INTEGRATION_PATH,
  LIVE_AGENT_CHOICE,
  MEDIA_PATH_PREFIX,
  MEDIA_UPLOAD_PATHS,
  SPINNER_MESSAGE,
  STAND_BY_TEXT,
  UPDATE_MESSAGES_TEXT,
  b2bSignature,
  closedText,
  joinedText,
} from './fixtures.js';
export type * from './types.js';

/** What a live agent can send: text, or one of the output controls of va-api-controls.md, or any item as is. */
export type AgentMessageInput =
  | string
  | { text: string }
  | { image: string; altText?: string }
  | { link: string; label: string; header?: string }
  | { card: { templateName: string; data: unknown } }
  | { picker: { label: string; options: PickerOption[]; style?: 'list' | 'carousel' } }
  | { item: BodyItem };

export const API_ROUTES: readonly ApiRoute[] = ['POST integration', 'POST media/upload', 'GET media'];

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  outcome: InboundRecord['outcome'];
  /** Sent as text/plain instead of JSON (the UPDATE_MESSAGES text answer). */
  text?: boolean;
  principal?: string;
  requestId?: string;
  action?: string | null;
  conversationId?: string;
  duplicateOf?: number;
  /** Runs once the answer is on the wire: the asynchronous VA response. */
  after?: () => void;
}

type Principal = { ok: true; principal: string; rest: boolean } | { ok: false; kind: 'rest' | 'token' | 'hash' };

const ACTIVE = new Set<SimConversation['state']>(['virtual_agent', 'queued', 'live']);
const WITH_AGENT = new Set<SimConversation['state']>(['queued', 'live']);

export class ServiceNowSimulator {
  /** Every request to the API (not `/_sim/`) and its answer, oldest first. */
  readonly requests: InboundRecord[] = [];
  /** Every VA response body the instance produced, sent or not, oldest first. */
  readonly outbound: OutboundRecord[] = [];
  /** Files uploaded through the CCCIF media API. */
  readonly media: MediaFile[] = [];

  private readonly store = new Map<string, SimConversation>();
  private readonly faults = new Faults();
  private readonly limiter: RateLimiter | undefined;
  private readonly dispatcher: ResponseDispatcher;
  private readonly agents: SimAgent[];
  private readonly now: () => number;
  private readonly seenRequestIds = new Map<string, number>();
  private readonly pending = new Set<Promise<unknown>>();
  private app: FastifyInstance | undefined;
  private baseUrl: string | undefined;

  constructor(private readonly options: ServiceNowSimulatorOptions) {
    const a = options.auth;
    const any = (a.basic?.length ?? 0) + (a.bearer?.length ?? 0) + (a.token ? 1 : 0) + (a.hashSecret ? 1 : 0);
    if (any === 0) throw new Error('ServiceNowSimulator: configure at least one inbound authentication (basic, bearer, token or hashSecret)');
    this.now = options.now ?? Date.now;
    this.agents = (options.agents ?? [DEFAULT_AGENT]).map((x) => ({ ...x }));
    if (this.agents.length === 0) throw new Error('ServiceNowSimulator: at least one agent');
    if (options.rateLimit) this.limiter = new RateLimiter(options.rateLimit, this.now, sysId());
    this.dispatcher = new ResponseDispatcher({
      retry: { retries: options.retry?.retries ?? 0, delaysMs: options.retry?.delaysMs ?? [1000] },
      delayMs: options.responseDelayMs ?? 0,
      now: this.now,
      log: (l) => this.logLine(l),
    });
    if (options.responseEndpoint) this.setResponseEndpoint(options.responseEndpoint);
  }

  // ─── lifecycle ──────────────────────────────────────────────────────────────────────────────

  /** Listens on 127.0.0.1; returns the instance URL (in place of `https://{instance}.service-now.com`). */
  async start(port = 0): Promise<string> {
    if (this.app) throw new Error('ServiceNowSimulator: already started');
    const app = Fastify({ logger: false, bodyLimit: 50 * 1024 * 1024 });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    registerControlRoutes(app, this);
    app.all('/*', (req, reply) => this.handle(req, reply));
    const address = await app.listen({ host: '127.0.0.1', port });
    this.app = app;
    this.baseUrl = address.replace('localhost', '127.0.0.1');
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.dispatcher.stop();
    const app = this.app;
    this.app = undefined;
    this.baseUrl = undefined;
    if (app) await app.close();
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('ServiceNowSimulator: not started');
    return this.baseUrl;
  }

  get integrationUrl(): string {
    return `${this.url}${INTEGRATION_PATH}`;
  }

  /** Forgets conversations, logs, media, faults, rate-limit windows and pending retries; configuration stays. */
  reset(): void {
    this.dispatcher.cancelRetries();
    this.store.clear();
    this.requests.length = 0;
    this.outbound.length = 0;
    this.media.length = 0;
    this.seenRequestIds.clear();
    this.faults.clear();
    this.limiter?.clear();
  }

  // ─── configuration ──────────────────────────────────────────────────────────────────────────

  get responseEndpoint(): ResponseEndpoint | undefined {
    return this.dispatcher.endpoint ? structuredClone(this.dispatcher.endpoint) : undefined;
  }

  /** The Bot Connection's URL, Credential, Attributes (headers) and timeout; undefined removes it. */
  setResponseEndpoint(endpoint: ResponseEndpoint | undefined): void {
    if (endpoint) checkEndpoint(endpoint);
    this.dispatcher.endpoint = endpoint ? structuredClone(endpoint) : undefined;
  }

  // ─── recorded state ─────────────────────────────────────────────────────────────────────────

  /** A conversation by sys_id, or `'latest'` (a copy). */
  conversation(id: string): SimConversation | undefined {
    const c = this.store.get(id === 'latest' ? (this.latestId() ?? '') : id);
    return c ? structuredClone(c) : undefined;
  }

  conversations(): SimConversation[] {
    return [...this.store.values()].map((c) => structuredClone(c));
  }

  latestId(): string | undefined {
    return [...this.store.keys()].at(-1);
  }

  /** The latest conversation of a user (a copy). */
  conversationOf(userId: string): SimConversation | undefined {
    const c = [...this.store.values()].filter((x) => x.userId === userId).at(-1);
    return c ? structuredClone(c) : undefined;
  }

  /** The latest conversation that stored this clientSessionId (only with `third_party_chat`). */
  conversationBySession(clientSessionId: string): SimConversation | undefined {
    const c = [...this.store.values()].filter((x) => x.clientSessionId === clientSessionId).at(-1);
    return c ? structuredClone(c) : undefined;
  }

  /** Outbound records of a conversation. */
  outboundFor(conversationId: string): OutboundRecord[] {
    const id = conversationId === 'latest' ? (this.latestId() ?? '') : conversationId;
    return this.outbound.filter((o) => o.conversationId === id);
  }

  /** Resolves with the first truthy `probe(this)`, polling; rejects after `timeoutMs`. */
  async waitFor<T>(probe: (sim: this) => T | undefined | null | false, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe(this);
      if (v !== undefined && v !== null && v !== false) return v;
      if (Date.now() > deadline) throw new Error(`ServiceNowSimulator.waitFor: nothing within ${timeoutMs} ms (${this.requests.length} requests, ${this.outbound.length} responses)`);
      await sleep(5);
    }
  }

  // ─── the live agent's side (Agent Chat) ─────────────────────────────────────────────────────

  /**
   * An agent accepts the queued conversation. The response endpoint gets EndSpinner, the System
   * "has joined" message and SwitchToLiveAgent ("a live agent has accepted the conversation",
   * virtual-agent-api-whats-new.md 3.0.x) carrying `agentInfo` (3.14.3: "sends the agent Id, in
   * addition to agent name and avatar"). Which items and in what order: UNVERIFIED.
   */
  async accept(id: string, agent?: SimAgent | string): Promise<ActionResult> {
    const c = this.must(id, 'accept');
    if (c.state !== 'queued') throw new Error(`ServiceNowSimulator.accept: conversation ${c.id} is ${c.state}, not queued`);
    const who = typeof agent === 'string' ? this.agents.find((a) => a.id === agent) : (agent ?? this.agents[0]);
    if (!who) throw new Error(`ServiceNowSimulator.accept: unknown agent ${String(agent)}`);
    c.state = 'live';
    c.agent = { ...who };
    c.acceptedAt = this.now();
    const info = agentInfo(who, this.options.agentInfo ?? 'off');
    const body: BodyItem[] = [];
    if (c.spinner) body.push(endSpinner());
    c.spinner = false;
    body.push(systemMessage(joinedText(who.name)), { ...switchToLiveAgent(), ...(info ? { agentInfo: info } : {}) });
    c.messages.push({ direction: 'system', at: this.now(), text: joinedText(who.name) });
    return this.agentSide(c, 'accept', body);
  }

  /** The agent sends a message: text or any output control, with `agentInfo` and a `messageId` (bot-api.md `body.messageId`). */
  async agentMessage(id: string, input: AgentMessageInput): Promise<ActionResult> {
    const c = this.mustLive(id, 'agentMessage');
    const agent = c.agent!;
    const info = agentInfo(agent, this.options.agentInfo ?? 'off');
    const extra = { messageId: sysId(), ...(info ? { agentInfo: info } : {}) };
    let item: BodyItem;
    if (typeof input === 'string') item = outputText(input, extra);
    else if ('text' in input) item = outputText(input.text, extra);
    else if ('image' in input) item = outputImage(input.image, input.altText, extra);
    else if ('link' in input) item = outputLink(input.link, input.label, input.header, extra);
    else if ('card' in input) item = outputCard(input.card.templateName, input.card.data, extra);
    else if ('picker' in input) item = picker(input.picker.label, input.picker.options, input.picker.style ?? 'list', extra);
    else item = { ...extra, ...input.item };
    c.messages.push({
      direction: 'agent',
      at: this.now(),
      ...(item.messageId !== undefined ? { id: item.messageId } : {}),
      ...(typeof item.value === 'string' && item.uiType === 'OutputText' ? { text: item.value } : {}),
      item: structuredClone(item),
    });
    return this.agentSide(c, 'agentMessage', [item]);
  }

  /** The agent starts or stops typing (bot-api.md `body.actionType` StartTypingIndicator / EndTypingIndicator). */
  async agentTyping(id: string, on: boolean): Promise<ActionResult> {
    const c = this.mustLive(id, 'agentTyping');
    return this.agentSide(c, on ? 'typing' : 'typing-end', [typingIndicator(on)]);
  }

  /** A wait-time spinner while queued (bot-api.md StartSpinner example). */
  async spinner(id: string, waitTime: string, message = SPINNER_MESSAGE): Promise<ActionResult> {
    const c = this.must(id, 'spinner');
    if (!WITH_AGENT.has(c.state)) throw new Error(`ServiceNowSimulator.spinner: conversation ${c.id} is ${c.state}`);
    c.spinner = true;
    return this.agentSide(c, 'spinner', [startSpinner(waitTime, message)]);
  }

  /**
   * The agent closes the chat. How that shows on the response endpoint is not documented by
   * example (research §1.3): `signals` picks it — `system` (ActionMsg System "… has closed the
   * support session.", [3p] pypestream), `switchToVirtualAgent`, `completed: true`,
   * `takeControl: true`. Default `closeSignals` option, else system + switchToVirtualAgent.
   */
  async close(id: string, signals?: CloseSignal[]): Promise<ActionResult> {
    const c = this.must(id, 'close');
    if (!ACTIVE.has(c.state)) throw new Error(`ServiceNowSimulator.close: conversation ${c.id} is ${c.state}`);
    const use = signals ?? this.options.closeSignals ?? ['system', 'switchToVirtualAgent'];
    if (use.length === 0) throw new Error('ServiceNowSimulator.close: at least one signal');
    const name = c.agent?.name ?? 'The live agent';
    const body: BodyItem[] = [];
    if (use.includes('system')) body.push(systemMessage(closedText(name)));
    if (use.includes('switchToVirtualAgent')) body.push(switchToVirtualAgent());
    c.state = 'closed';
    c.closed = { by: 'agent', at: this.now() };
    c.customerTyping = false;
    c.spinner = false;
    c.messages.push({ direction: 'system', at: this.now(), text: closedText(name) });
    return this.agentSide(c, 'close', body, { completed: use.includes('completed'), takeControl: use.includes('takeControl') });
  }

  /** Sends an outbound record again, byte for byte. `index` into `outbound` (negative from the end); default the last sent one. */
  async redeliver(index?: number): Promise<DeliveryAttempt> {
    const rec = index === undefined ? this.outbound.filter((o) => o.attempts.length > 0).at(-1) : this.outbound.at(index);
    if (!rec) throw new Error(`ServiceNowSimulator.redeliver: no response at ${String(index ?? 'last')}`);
    return this.dispatcher.redeliver(rec);
  }

  // ─── fault injection ────────────────────────────────────────────────────────────────────────

  /** The next `count` requests to `route` (or any, with `*`) get `status` with the failure shape, before authentication. */
  failNext(route: FailRoute, f: { status: number; count?: number; retryAfter?: number | string }): void {
    if (route !== '*' && !API_ROUTES.includes(route)) throw new Error(`failNext: unknown route "${route}" (one of ${API_ROUTES.join(', ')} or *)`);
    this.faults.failNext(route, { status: f.status, count: f.count ?? 1, ...(f.retryAfter !== undefined ? { retryAfter: f.retryAfter } : {}) });
  }

  setDown(down: boolean, how: 'reset' | number = 'reset'): void {
    this.faults.down = down ? how : false;
  }

  setLatency(ms: number): void {
    this.faults.latencyMs = Math.max(0, ms);
  }

  // ─── the API ────────────────────────────────────────────────────────────────────────────────

  private async handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (this.faults.down === 'reset') {
      reply.hijack();
      req.raw.socket.destroy();
      this.logLine(`${req.method} ${req.url} → connection reset (down)`);
      return undefined;
    }
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs);
    const path = (req.url.split('?', 1)[0] ?? '/').replace(/\/+$/, '') || '/';
    const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const route: ApiRoute | undefined =
      path === INTEGRATION_PATH
        ? 'POST integration'
        : (MEDIA_UPLOAD_PATHS as readonly string[]).includes(path)
          ? 'POST media/upload'
          : path.startsWith(MEDIA_PATH_PREFIX)
            ? 'GET media'
            : undefined;

    let answer: Answer;
    let binary: { type: string; data: Buffer } | undefined;
    const injected = typeof this.faults.down === 'number' ? undefined : this.faults.take(route);
    if (typeof this.faults.down === 'number') {
      answer = { status: this.faults.down, body: ERR.serverError(`Service unavailable (${this.faults.down})`), outcome: 'injected' };
    } else if (injected) {
      const body = injected.status === 429 ? ERR.rateLimited(1, 'VA Bot Integration') : injected.status === 401 ? ERR.unauthenticated() : injected.status >= 500 ? ERR.serverError(`Injected ${injected.status}`) : ERR.badRequest(`Injected ${injected.status}`);
      answer = { status: injected.status, body, outcome: 'injected', ...(injected.retryAfter !== undefined ? { headers: { 'retry-after': String(injected.retryAfter) } } : {}) };
    } else if (!route) {
      answer = { status: 400, body: ERR.noResource(), outcome: 'rejected' };
    } else if (route === 'POST integration') {
      answer = req.method === 'POST' ? await this.integration(req, bytes) : { status: 405, body: ERR.methodNotAllowed(req.method), outcome: 'rejected' };
    } else if (route === 'POST media/upload') {
      answer = req.method === 'POST' ? await this.upload(req, bytes) : { status: 405, body: ERR.methodNotAllowed(req.method), outcome: 'rejected' };
    } else {
      const r = this.download(req, path);
      answer = r.answer;
      binary = r.binary;
    }

    this.requests.push({
      at: this.now(),
      method: req.method,
      path,
      headers: { ...req.headers },
      raw: String(req.headers['content-type'] ?? '').startsWith('multipart/') ? `(multipart, ${bytes.length} bytes)` : bytes.toString('utf8'),
      body: parseOr(bytes),
      status: answer.status,
      response: answer.body,
      responseHeaders: answer.headers ?? {},
      outcome: answer.outcome,
      ...(answer.principal !== undefined ? { principal: answer.principal } : {}),
      ...(answer.requestId !== undefined ? { requestId: answer.requestId } : {}),
      ...(answer.action !== undefined ? { action: answer.action } : {}),
      ...(answer.conversationId !== undefined ? { conversationId: answer.conversationId } : {}),
      ...(answer.duplicateOf !== undefined ? { duplicateOf: answer.duplicateOf } : {}),
    });
    this.logLine(`${req.method} ${path} → ${answer.status} (${answer.outcome})`);
    reply.code(answer.status);
    if (answer.headers) reply.headers(answer.headers);
    if (answer.after) {
      const after = answer.after;
      reply.raw.once('finish', () => after());
    }
    if (binary) return reply.type(binary.type).send(binary.data);
    if (answer.text) return reply.type('text/plain; charset=utf-8').send(String(answer.body));
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(answer.body));
  }

  /** Authentication of configure-send-request.md step 6 and set-up-message-auth-va-api.md. */
  private authenticate(req: FastifyRequest, raw: string, body: unknown): Principal {
    const a = this.options.auth;
    const authz = header(req, 'authorization');
    let rest: string | undefined;
    if (authz !== undefined) {
      const basic = /^Basic\s+(.+)$/i.exec(authz);
      const bearer = /^Bearer\s+(.+)$/i.exec(authz);
      if (basic) {
        const [user, ...pass] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
        const hit = (a.basic ?? []).find((c) => safeEqual(c.username, user ?? '') && safeEqual(c.password, pass.join(':')));
        if (!hit) return { ok: false, kind: 'rest' };
        rest = `basic:${hit.username}`;
      } else if (bearer) {
        const i = (a.bearer ?? []).findIndex((t) => safeEqual(t, bearer[1]!.trim()));
        if (i < 0) return { ok: false, kind: 'rest' };
        rest = `oauth:${i}`;
      } else return { ok: false, kind: 'rest' };
    }
    // Message auth, when the provider application has one, is required on top of (or instead of)
    // Basic/OAuth: "You can use token-based authentication (Static or Hash) with or without Basic or OAuth".
    if (a.token !== undefined) {
      // "The token can be passed in either the request body or the header. If the token is
      // specified in both places, the one in the header is accepted."
      const given = header(req, 'token') ?? (isObject(body) && typeof body['token'] === 'string' ? body['token'] : undefined);
      if (given === undefined || !safeEqual(given, a.token)) return { ok: false, kind: 'token' };
      return { ok: true, principal: rest ?? 'token', rest: rest !== undefined };
    }
    if (a.hashSecret !== undefined) {
      const sig = header(req, 'x-b2b-signature');
      if (sig === undefined || !this.hashOk(a.hashSecret, raw, sig.toLowerCase())) return { ok: false, kind: 'hash' };
      return { ok: true, principal: rest ?? 'hash', rest: rest !== undefined };
    }
    if (rest === undefined) return { ok: false, kind: 'rest' };
    return { ok: true, principal: rest, rest: true };
  }

  private hashOk(secret: string, raw: string, sig: string): boolean {
    const mode = this.options.auth.hashInput ?? 'normalized';
    const tries: Array<'normalized' | 'raw'> = mode === 'either' ? ['normalized', 'raw'] : [mode];
    return tries.some((t) => {
      try {
        return safeEqual(b2bSignature(secret, raw, t), sig);
      } catch {
        return false; // not JSON: nothing to normalise
      }
    });
  }

  private rateLimit(principal: string): { refused?: Answer; headers: Record<string, string> } {
    if (!this.limiter) return { headers: {} };
    const v = this.limiter.take(principal);
    if (v.allowed) return { headers: v.headers };
    return {
      headers: v.headers,
      refused: { status: 429, body: ERR.rateLimited(this.limiter.rule.limit, this.limiter.rule.apiName ?? 'VA Bot Integration'), headers: v.headers, outcome: 'rate-limited', principal },
    };
  }

  /** bot-api.md "VA Bot Integration - POST /sn_va_as_service/bot/integration". */
  private async integration(req: FastifyRequest, bytes: Buffer): Promise<Answer> {
    const raw = bytes.toString('utf8');
    const parsed = parseOr(bytes);
    const who = this.authenticate(req, raw, parsed);
    if (!who.ok) {
      if (who.kind !== 'rest' && (this.options.auth.messageAuthFailure ?? 'reject') === 'silent') {
        return { status: 200, body: SUCCESS, outcome: 'auth-failed-silently' };
      }
      return { status: 401, body: who.kind === 'rest' ? ERR.unauthenticated() : ERR.badMessageToken(who.kind), outcome: 'unauthorized' };
    }
    const rl = this.rateLimit(who.principal);
    if (rl.refused) return rl.refused;
    const base = { headers: rl.headers, principal: who.principal };

    // Accept / Content-Type: "Only supports application/json" (bot-api.md Headers).
    const accept = header(req, 'accept');
    if ((this.options.requireAccept ?? true) && accept === undefined) return { ...base, status: 400, body: ERR.badHeader('Accept header is required (application/json)'), outcome: 'rejected' };
    if (accept !== undefined && !/application\/json|\*\/\*|application\/\*/i.test(accept)) {
      return { ...base, status: 400, body: ERR.badHeader(`Accept ${accept} is not supported: only application/json`), outcome: 'rejected' };
    }
    if (!/^application\/json\b/i.test(header(req, 'content-type') ?? '')) {
      return { ...base, status: 400, body: ERR.badHeader('Content-Type must be application/json'), outcome: 'rejected' };
    }
    if (parsed === undefined) return { ...base, status: 400, body: ERR.badRequest('The request body is not valid JSON'), outcome: 'rejected' };

    const v = validateRequest(parsed, this.options.attachmentTypes ?? ATTACHMENT_TYPES);
    if (!v.ok) {
      if (this.options.validationFailure === 'silent') return { ...base, status: 200, body: SUCCESS, outcome: 'invalid-silently' };
      return { ...base, status: 400, body: ERR.badRequest(v.detail), outcome: 'rejected' };
    }
    const r = v.value;
    const ids = { requestId: r.requestId, action: r.action };
    const duplicateOf = this.seenRequestIds.get(r.requestId);
    const dup = duplicateOf !== undefined ? { duplicateOf } : {};
    if (duplicateOf !== undefined && this.options.duplicateRequests === 'ignore') {
      return { ...base, ...ids, ...dup, status: 200, body: SUCCESS, outcome: 'accepted' };
    }

    if (r.action === 'UPDATE_MESSAGES') {
      // "only valid if custom adapter property … third_party_chat … is set to true" (failure shape UNVERIFIED).
      if (!(this.options.thirdPartyChat ?? true)) return { ...base, ...ids, status: 400, body: ERR.badRequest('UPDATE_MESSAGES needs the third_party_chat custom adapter property'), outcome: 'rejected' };
      this.seenRequestIds.set(r.requestId, this.requests.length);
      const conv = this.updateMessages(r);
      // "This is a synchronous action": the answer is the result; no POST to the response endpoint.
      const text = this.options.updateMessagesAnswer === 'text';
      return { ...base, ...ids, ...dup, ...(conv ? { conversationId: conv.id } : {}), status: 200, body: text ? UPDATE_MESSAGES_TEXT : SUCCESS, text, outcome: 'accepted' };
    }

    this.seenRequestIds.set(r.requestId, this.requests.length);
    const { conversation, body, flags, send } = this.apply(r);
    const after = send
      ? () => {
          this.respond(conversation, r.action ?? 'message', body, flags, r);
          if (flags.autoAccept && this.options.autoAccept && conversation && conversation.state === 'queued') {
            const agent = this.options.autoAccept === true ? undefined : this.options.autoAccept;
            this.track(this.accept(conversation.id, agent));
          }
        }
      : undefined;
    return { ...base, ...ids, ...dup, ...(conversation ? { conversationId: conversation.id } : {}), status: 200, body: SUCCESS, outcome: 'accepted', ...(after ? { after } : {}) };
  }

  /** What one request does to the instance, and what the VA answers on the response endpoint. */
  private apply(r: VaRequest): {
    conversation: SimConversation | undefined;
    body: BodyItem[] | 'send-history';
    flags: { agentChat?: boolean; completed?: boolean; takeControl?: boolean; score?: number; autoAccept?: boolean; silent?: boolean };
    send: boolean;
  } {
    let c = this.active(r.userId);
    const touch = (conv: SimConversation) => {
      conv.lastRequestId = r.requestId;
      if (r.nowSessionId !== undefined) conv.lastNowSessionId = r.nowSessionId;
      if ((this.options.thirdPartyChat ?? true) && r.clientSessionId) conv.clientSessionId = r.clientSessionId;
      if (r.emailId) conv.emailId = r.emailId;
      if (r.timezone) conv.timezone = r.timezone;
      if (r.contextVariables) Object.assign(conv.contextVariables, r.contextVariables);
      if (r.clientVariables) conv.clientVariables = { ...r.clientVariables };
      if (r.history) conv.history.push(...r.history);
      if (r.silentMessage !== undefined) conv.silent = r.silentMessage;
    };
    const open = () => {
      c ??= this.create(r);
      touch(c);
      return c;
    };

    switch (r.action) {
      case 'AGENT': {
        const conv = open();
        this.customerMessage(conv, r);
        if (WITH_AGENT.has(conv.state)) return { conversation: conv, body: [], flags: {}, send: false }; // UNVERIFIED: AGENT while already with an agent
        return { conversation: conv, body: this.enqueue(conv), flags: { agentChat: true, autoAccept: true }, send: true };
      }
      case 'END_CONVERSATION': {
        // bot-api.md "End a Live Agent conversation": `completed: true` with the end text; the
        // VA-only example carries the text alone.
        const wasWithAgent = c !== undefined && WITH_AGENT.has(c.state);
        if (c) {
          touch(c);
          c.state = 'closed';
          c.closed = { by: 'customer', at: this.now() };
          c.customerTyping = false;
          c.spinner = false;
        }
        return { conversation: c, body: [endText()], flags: { completed: wasWithAgent }, send: true };
      }
      case 'FAULT_CONVERSATION': {
        // bot-api.md "Fault a conversation": `body: []`, `takeControl: true`, `score: 0`.
        if (c) {
          touch(c);
          c.state = 'closed';
          c.closed = { by: 'fault', at: this.now() };
        }
        return { conversation: c, body: [], flags: { takeControl: true, score: 0 }, send: true };
      }
      case 'TYPING':
      case 'VIEWING': {
        // "Displays the typing indicator in Live Agent": only meaningful with an agent; no response body.
        if (c && WITH_AGENT.has(c.state)) {
          touch(c);
          const on = r.action === 'TYPING';
          c.customerTyping = on;
          c.typingLog.push({ on, at: this.now() });
        }
        return { conversation: c, body: [], flags: {}, send: false };
      }
      case 'SEND_HISTORY':
        // bot-api.md "Update only chat history": the response endpoint receives {"status": "success"}.
        return { conversation: open(), body: 'send-history', flags: {}, send: true };
      case 'SET_USER_TIMEZONE':
        if (c) touch(c);
        return { conversation: c, body: [], flags: {}, send: false }; // UNVERIFIED: no response body documented
      case 'CREATE_CONVERSATION': {
        const conv = open();
        return { conversation: conv, body: [createConversation(conv.id, conv.interactionId, sysId())], flags: {}, send: true };
      }
      case 'START_CONVERSATION':
      case 'START_CREATED_CONVERSATION':
        return { conversation: open(), body: greeting(), flags: {}, send: true };
      case 'SWITCH':
        // bot-api.md "Change an ongoing conversation using the SWITCH action": the topic's first control.
        return { conversation: open(), body: [{ uiType: 'InputText', group: 'DefaultText', required: true, nluTextEnabled: false, label: 'limo input:', maskType: 'NONE' }], flags: {}, send: true };
      case 'UPDATE_MESSAGES':
        return { conversation: c, body: [], flags: {}, send: false }; // handled before apply()
      case null: {
        const conv = open();
        if (WITH_AGENT.has(conv.state)) {
          // A message in a live-agent conversation goes to the agent; the VA answers nothing (UNVERIFIED: no POST).
          this.customerMessage(conv, r);
          return { conversation: conv, body: [], flags: {}, send: false };
        }
        if (r.message === undefined) return { conversation: conv, body: [], flags: {}, send: false }; // silent-mode switch only
        this.customerMessage(conv, r);
        const text = (r.message.text ?? '').trim();
        // bot-api.md "Transfer a conversation to Live Agent using utterance" and "… based on the user's selection".
        if (text === LIVE_AGENT_CHOICE) return { conversation: conv, body: this.enqueue(conv), flags: { agentChat: true, autoAccept: true }, send: true };
        if (/^agent$/i.test(text)) return { conversation: conv, body: [agentUtterancePicker()], flags: { silent: true }, send: true };
        if (/^(hi|hello|hola)$/i.test(text)) return { conversation: conv, body: greeting(), flags: { silent: true }, send: true };
        return { conversation: conv, body: notUnderstood(), flags: { silent: true, score: 0 }, send: true };
      }
    }
  }

  /** Into the AWA queue whose conditions the context variables meet; the VA says "stand by" and shows the wait spinner. */
  private enqueue(c: SimConversation): BodyItem[] {
    c.state = 'queued';
    const q = (this.options.queues ?? []).find((x) => Object.entries(x.conditions).every(([k, v]) => c.contextVariables[k] !== undefined && String(c.contextVariables[k]) === v));
    c.queue = q?.name ?? this.options.defaultQueue ?? 'Live Agent Support';
    const body = [standBy()];
    const wait = this.options.queueWaitTime === undefined ? '8 Seconds' : this.options.queueWaitTime;
    if (wait !== null) {
      body.push(startSpinner(wait));
      c.spinner = true;
    }
    return body;
  }

  private create(r: VaRequest): SimConversation {
    const c: SimConversation = {
      id: sysId(),
      interactionId: sysId(),
      userId: r.userId,
      ...(r.emailId ? { emailId: r.emailId } : {}),
      state: 'virtual_agent',
      contextVariables: {},
      history: [],
      messages: [],
      customerTyping: false,
      typingLog: [],
      statusUpdates: [],
      silent: false,
      createdAt: this.now(),
      spinner: false,
    };
    this.store.set(c.id, c);
    return c;
  }

  private active(userId: string): SimConversation | undefined {
    return [...this.store.values()].filter((c) => c.userId === userId && ACTIVE.has(c.state)).at(-1);
  }

  /** Records the customer's message (with its attachments, checked as the instance would). */
  private customerMessage(c: SimConversation, r: VaRequest): void {
    const m = r.message;
    if (!m) return;
    const list = m.attachment === undefined ? [] : Array.isArray(m.attachment) ? m.attachment : [m.attachment];
    const msg: SimMessage = {
      direction: 'customer',
      at: this.now(),
      requestId: r.requestId,
      ...(m.text !== undefined && m.text !== '' ? { text: m.text } : {}),
      ...(m.clientMessageId !== undefined ? { id: m.clientMessageId } : {}),
    };
    if (list.length > 0) {
      msg.attachments = list.map((a) => ({ ...a, ...this.attachmentVerdict(a) }));
      for (const [i, a] of list.entries()) if (this.options.fetchAttachments && msg.attachments[i]!.taken) this.track(this.fetchAttachment(msg, i, a));
    }
    c.messages.push(msg);
    c.customerTyping = false;
  }

  /** "You must also ensure that URL domain is present in the trusted domains filed in sys_cs_provider" (bot-api.md). */
  private attachmentVerdict(a: VaAttachment): { taken: boolean; reason?: string } {
    let host: string;
    try {
      host = new URL(a.url).hostname.toLowerCase();
    } catch {
      return { taken: false, reason: 'not a URL' };
    }
    const trusted = this.options.trustedDomains;
    if (trusted && !trusted.some((d) => host === d.toLowerCase() || host.endsWith(`.${d.toLowerCase()}`))) {
      return { taken: false, reason: `${host} is not a trusted domain of sys_cs_provider` };
    }
    if (this.baseUrl && a.url.startsWith(`${this.baseUrl}${MEDIA_PATH_PREFIX}`)) {
      const token = a.url.slice(`${this.baseUrl}${MEDIA_PATH_PREFIX}`.length);
      if (!this.media.some((f) => f.token === token)) return { taken: false, reason: 'no such uploaded media' };
    }
    return { taken: true };
  }

  /** The VA fetches the file to scan it ("The VA obtains the attachment from this URL, runs a virus scan"). */
  private async fetchAttachment(msg: SimMessage, i: number, a: VaAttachment): Promise<void> {
    const slot = msg.attachments![i]!;
    try {
      const res = await request(a.url, { method: 'GET', headers: a.headers?.Authorization ? { authorization: a.headers.Authorization } : {}, signal: AbortSignal.timeout(5_000) });
      const data = Buffer.from(await res.body.arrayBuffer());
      slot.fetched = { status: res.statusCode, bytes: data.length };
      if (res.statusCode !== 200) {
        slot.taken = false;
        slot.reason = `GET answered ${res.statusCode}`;
      }
    } catch (e) {
      slot.fetched = { error: e instanceof Error ? e.message : String(e) };
      slot.taken = false;
      slot.reason = 'could not fetch';
    }
  }

  private updateMessages(r: VaRequest): SimConversation | undefined {
    let conv: SimConversation | undefined;
    for (const u of r.updates ?? []) {
      let known = false;
      for (const c of this.store.values()) {
        const m = c.messages.find((x) => x.direction === 'agent' && x.id === u.id);
        if (!m) continue;
        known = true;
        conv = c;
        if (u.status) (m.statuses ??= []).push({ status: u.status, at: this.now() });
        if (u.text !== undefined && u.text !== '') m.updatedText = u.text;
      }
      const target = conv ?? this.active(r.userId);
      target?.statusUpdates.push({ messageId: u.id, ...(u.status ? { status: u.status } : {}), ...(u.text !== undefined ? { text: u.text } : {}), known, at: this.now() });
    }
    return conv;
  }

  /** The response to a request: bot-api.md's examples echo requestId, clientSessionId, nowSessionId, message, userId. */
  private respond(c: SimConversation | undefined, cause: string, body: BodyItem[] | 'send-history', flags: { agentChat?: boolean; completed?: boolean; takeControl?: boolean; score?: number; silent?: boolean }, r: VaRequest): void {
    if (body === 'send-history') {
      this.emit(c, cause, SEND_HISTORY_RESPONSE);
      return;
    }
    // "all subsequent bot messages remain suppressed" in silent mode.
    if (flags.silent && c?.silent) return;
    const payload = vaResponse({
      requestId: r.requestId,
      clientSessionId: r.clientSessionId ?? '',
      nowSessionId: r.nowSessionId,
      message: r.message,
      userId: r.userId,
      body,
      ...(flags.agentChat ? { agentChat: true } : {}),
      ...(flags.completed ? { completed: true } : {}),
      ...(flags.takeControl ? { takeControl: true } : {}),
      ...(flags.score !== undefined ? { score: flags.score } : {}),
      interactionId: c?.interactionId,
      clientVariables: r.clientVariables,
    });
    this.emit(c, cause, payload);
  }

  /**
   * A body the agent side produced. No request prompted it, so the echo fields come from the
   * conversation: the latest requestId (UNVERIFIED), the stored clientSessionId (only with
   * third_party_chat; "" otherwise) and the last clientVariables (UNVERIFIED).
   */
  private async agentSide(c: SimConversation, cause: string, body: BodyItem[], flags: { completed?: boolean; takeControl?: boolean } = {}): Promise<ActionResult> {
    const payload = vaResponse({
      requestId: c.lastRequestId,
      clientSessionId: c.clientSessionId ?? '',
      nowSessionId: c.lastNowSessionId,
      userId: c.userId,
      body,
      agentChat: true,
      ...(flags.completed ? { completed: true } : {}),
      ...(flags.takeControl ? { takeControl: true } : {}),
      interactionId: c.interactionId,
      clientVariables: c.clientVariables,
    });
    const { record, first } = this.emit(c, cause, payload);
    const attempt = await first;
    return { conversation: structuredClone(c), outbound: record, ...(attempt ? { firstAttempt: attempt } : {}) };
  }

  private emit(c: SimConversation | undefined, cause: string, payload: OutboundPayload): { record: OutboundRecord; first: Promise<DeliveryAttempt | undefined> } {
    const record: OutboundRecord = {
      index: this.outbound.length,
      ...(c ? { conversationId: c.id } : {}),
      cause,
      payload: structuredClone(payload),
      state: 'pending',
      attempts: [],
    };
    this.outbound.push(record);
    const first = this.dispatcher.send(record);
    this.track(first);
    return { record, first };
  }

  // ─── CCCIF media ────────────────────────────────────────────────────────────────────────────

  /**
   * cccif-api.md (ServiceNowDocs, research §1.4; virtual-agent-api-whats-new.md 3.0.x "Secure file
   * uploads"): multipart `user_id` (required), `provider_application_id` (optional), `file`;
   * "Basic or OAuth authentication is supported, but Message Authentication is not"; 201 with
   * `{"result": {mediaUrl, name, state: "pending", attachmentId}}`.
   */
  private async upload(req: FastifyRequest, bytes: Buffer): Promise<Answer> {
    const who = this.restPrincipal(req);
    if (!who) return { status: 401, body: ERR.unauthenticated(), outcome: 'unauthorized' };
    const rl = this.rateLimit(who);
    if (rl.refused) return rl.refused;
    const base = { headers: rl.headers, principal: who };
    const type = header(req, 'content-type') ?? '';
    if (!/^multipart\/form-data/i.test(type)) return { ...base, status: 400, body: ERR.badRequest('Content-Type must be multipart/form-data'), outcome: 'rejected' };
    let form: FormData;
    try {
      form = await new Request('http://sim.invalid/', { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(bytes) }).formData();
    } catch {
      return { ...base, status: 400, body: ERR.badRequest('malformed multipart body'), outcome: 'rejected' };
    }
    const user = form.get('user_id');
    if (typeof user !== 'string' || user === '') return { ...base, status: 400, body: ERR.badRequest('user_id is required'), outcome: 'rejected' };
    const file = form.get('file');
    if (file === null || typeof file === 'string') return { ...base, status: 400, body: ERR.badRequest('file is required'), outcome: 'rejected' };
    const app = form.get('provider_application_id');
    const token = mediaToken();
    const f: MediaFile = {
      attachmentId: sysId(),
      token,
      userId: user,
      ...(typeof app === 'string' && app !== '' ? { providerApplicationId: app } : {}),
      name: file.name || 'file',
      contentType: file.type || 'application/octet-stream',
      data: Buffer.from(await file.arrayBuffer()),
      mediaUrl: `${this.url}${MEDIA_PATH_PREFIX}${token}`,
      at: this.now(),
    };
    this.media.push(f);
    return { ...base, status: 201, body: { result: { mediaUrl: f.mediaUrl, name: f.name, state: 'pending', attachmentId: f.attachmentId } }, outcome: 'accepted' };
  }

  private download(req: FastifyRequest, path: string): { answer: Answer; binary?: { type: string; data: Buffer } } {
    if (req.method !== 'GET') return { answer: { status: 405, body: ERR.methodNotAllowed(req.method), outcome: 'rejected' } };
    if (this.options.mediaRequiresAuth && !this.restPrincipal(req)) return { answer: { status: 401, body: ERR.unauthenticated(), outcome: 'unauthorized' } };
    const f = this.media.find((m) => m.token === path.slice(MEDIA_PATH_PREFIX.length));
    if (!f) return { answer: { status: 404, body: ERR.noResource(), outcome: 'rejected' } };
    return { answer: { status: 200, body: `(${f.data.length} bytes)`, outcome: 'accepted' }, binary: { type: f.contentType, data: f.data } };
  }

  private restPrincipal(req: FastifyRequest): string | undefined {
    const authz = header(req, 'authorization') ?? '';
    const basic = /^Basic\s+(.+)$/i.exec(authz);
    const bearer = /^Bearer\s+(.+)$/i.exec(authz);
    if (basic) {
      const [user, ...pass] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      const hit = (this.options.auth.basic ?? []).find((c) => safeEqual(c.username, user ?? '') && safeEqual(c.password, pass.join(':')));
      return hit ? `basic:${hit.username}` : undefined;
    }
    if (bearer) {
      const i = (this.options.auth.bearer ?? []).findIndex((t) => safeEqual(t, bearer[1]!.trim()));
      return i >= 0 ? `oauth:${i}` : undefined;
    }
    return undefined;
  }

  // ─── helpers ────────────────────────────────────────────────────────────────────────────────

  private must(id: string, what: string): SimConversation {
    const c = this.store.get(id === 'latest' ? (this.latestId() ?? '') : id);
    if (!c) throw new Error(`ServiceNowSimulator.${what}: unknown conversation ${id}`);
    return c;
  }

  private mustLive(id: string, what: string): SimConversation {
    const c = this.must(id, what);
    if (c.state !== 'live' || !c.agent) throw new Error(`ServiceNowSimulator.${what}: conversation ${c.id} is ${c.state}, not live with an agent`);
    return c;
  }

  private track(p: Promise<unknown>): void {
    const t = p.catch((e: unknown) => this.logLine(`background task failed: ${e instanceof Error ? e.message : String(e)}`));
    this.pending.add(t);
    void t.finally(() => this.pending.delete(t));
  }

  private logLine(line: string): void {
    if (this.options.log) process.stderr.write(`[servicenow-sim] ${line}\n`);
  }
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseOr(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}
