/**
 * An in-process fake of a Zendesk account for tests, the sandbox and the benchmark (DESIGN §8):
 * the two routes the bridge's Zendesk adapters use, on one base URL that stands for
 * `https://{subdomain}.zendesk.com`:
 *
 * - `/sc/v2/apps/{appId}/…`: Sunshine Conversations v2, the messaging route (sunco.ts), with the
 *   Agent Workspace behind `zd-agentWorkspace` and webhooks to the bridge's custom integration.
 * - `/api/v2/…`: the Support tickets API, the ticket route (support.ts), with trigger- or
 *   event-connected webhooks signed as Zendesk signs them.
 *
 * It follows the vendor's documents, not any adapter: ../shared/specs/sunshine-conversations/
 * openapi.yaml and ../shared/research/zendesk-intercom.md §A; every guess is marked UNVERIFIED
 * where it is made and listed in README.md.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { registerControlRoutes } from './control.js';
import { Faults, type InjectedFailure, type SimRoute } from './faults.js';
import { header, match, type ApiCall, type Route, type SimRequest, type SimResponse } from './http.js';
import { Sequence } from './ids.js';
import { SunCo, type AgentMedia, type ScEmitted, type SunCoOptions } from './sunco.js';
import { sunCoJwt } from './sunco-auth.js';
import type { MessagingTicket, ScConversation } from './sunco-shapes.js';
import { untilIdle, type ScDeliveryAttempt, type ScEvent } from './sunco-webhooks.js';
import { Support, type SupportOptions, type TicketStatus, type ZdComment, type ZdTicket } from './support.js';
import type { SupportDeliveryAttempt } from './support-webhooks.js';
import { agentReply, agentTyping, closeTicket, endSession, solveTicket } from './sunco-agent.js';
import { agentComment, setStatus } from './support-agent.js';

export { AGENT_WORKSPACE, ANSWER_BOT, SUNCO_EMITTED_TRIGGERS, type AgentMedia, type ScEmitted, type SunCoKey, type SunCoOptions } from './sunco.js';
export { authenticateSunCo, sunCoJwt } from './sunco-auth.js';
export type * from './sunco-shapes.js';
export { NON_RECOVERABLE, type ScDeliveryAttempt, type ScEvent, type ScWebhookPayload } from './sunco-webhooks.js';
export type { SupportAgentInit, SupportOptions, TicketStatus, ZdAttachment, ZdComment, ZdTicket, ZdUpload, ZdUser } from './support.js';
export { DEFAULT_SUPPORT_RETRY, zendeskSignature, type SupportDeliveryAttempt, type SupportRetryPolicy } from './support-webhooks.js';
export { TRIGGER_TEMPLATES, renderTemplate, triggerDefinitions, type TriggerName } from './support-template.js';
export type { InjectedFailure, SimRoute, SunCoOperation, SupportOperation } from './faults.js';
export type { ApiCall } from './http.js';

export interface ZendeskSimulatorOptions {
  sunco?: SunCoOptions;
  support?: SupportOptions;
  /** One line per request and webhook attempt on stderr. */
  log?: boolean;
}

/** Raw bodies up to SunCo's 50 MB upload limit reach the handlers, which apply each API's own limits. */
const MAX_BODY = 50 * 1024 * 1024 + 64 * 1024;
/** spec info.description "Request Size Limits": JSON 100kb. */
const SUNCO_JSON_LIMIT = 100 * 1024;

export class ZendeskSimulator {
  readonly sunco: SunCo;
  readonly support: Support;
  /** Every API request answered (not those dropped by `setDown('reset')`), oldest first. */
  readonly calls: ApiCall[] = [];

  private readonly faults = new Faults();
  private readonly log: (line: string) => void;
  private app: FastifyInstance | undefined;
  private baseUrl: string | undefined;
  private stopped = false;

  constructor(options: ZendeskSimulatorOptions = {}) {
    this.log = options.log ? (l) => process.stderr.write(`[zendesk-sim] ${l}\n`) : () => undefined;
    // One account: messaging tickets and API tickets share the ticket numbering.
    const ticketIds = new Sequence(1);
    const deps = { baseUrl: () => this.url, ticketIds, log: this.log };
    this.sunco = new SunCo(options.sunco ?? {}, deps);
    this.support = new Support(options.support ?? {}, deps);
  }

  // ─── lifecycle ──────────────────────────────────────────────────────────────────────────────

  /** Listens on loopback; returns the base URL standing for `https://{subdomain}.zendesk.com`. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.app) throw new Error('ZendeskSimulator: already started');
    // stop() closes the webhook dispatchers for good; a restarted simulator would drop webhooks silently.
    if (this.stopped) throw new Error('ZendeskSimulator: stopped simulators cannot restart; create a new one');
    const app = Fastify({ logger: false, bodyLimit: MAX_BODY });
    // Each API decides about content types and sizes itself (SunCo answers 400 without
    // `application/json`), so every body arrives raw.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.all('/sc/v2/*', (req, reply) => this.handle('sc', this.sunco.routes, req, reply));
    app.all('/api/v2/*', (req, reply) => this.handle('support', this.support.routes, req, reply));
    // Uploaded media, public as with private attachments off (research §A.1.5, §A.2.4).
    app.get<{ Params: { id: string } }>('/sc/attachments/v2/:id/*', async (req, reply) => {
      const a = this.sunco.attachments.get(req.params.id);
      return a ? reply.type(a.mediaType).send(a.bytes) : reply.code(404).send();
    });
    app.get<{ Params: { key: string } }>('/attachments/token/:key/', async (req, reply) => {
      const a = this.support.file(req.params.key);
      return a ? reply.type(a.content_type).send(a.bytes) : reply.code(404).send();
    });
    // Requests Fastify refuses before a handler runs (a malformed Content-Type, a body over the
    // transport limit) still get the vendor's error shape.
    app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
      const api = req.url.startsWith('/sc/') ? 'sc' : req.url.startsWith('/api/v2/') ? 'support' : undefined;
      const status = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 400 : (err.statusCode ?? 500);
      this.log(`${req.method} ${req.url} refused by the HTTP layer: ${err.code ?? ''} ${err.message}`);
      if (!api) return reply.code(status).send({ error: err.message });
      const res = apiError(api, status);
      return reply.code(res.status).type('application/json; charset=utf-8').send(JSON.stringify(res.json));
    });
    registerControlRoutes(app, this);
    await app.listen({ port, host });
    this.app = app;
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('ZendeskSimulator: no TCP address');
    this.baseUrl = `http://${host}:${address.port}`;
    return this.baseUrl;
  }

  /** Closes the server and drops pending webhook retries (in-flight attempts finish first). */
  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    this.stopped = true;
    await Promise.all([this.sunco.dispatcher.stop(), this.support.dispatcher.stop()]);
    if (app) await app.close();
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('ZendeskSimulator: not started');
    return this.baseUrl;
  }

  /** Forgets users, conversations, tickets, calls, deliveries and faults; configuration and agents stay. */
  reset(): void {
    this.sunco.reset();
    this.support.reset();
    this.calls.length = 0;
    this.faults.clear();
  }

  /** What a bridge needs to talk to this account (and what the sandbox prints). */
  get credentials() {
    const key = this.sunco.keys[0]!;
    const agent = this.support.agents[0]!;
    return {
      url: this.url,
      sunco: {
        /** The SunCo API base (`https://{subdomain}.zendesk.com/sc`). */
        baseUrl: `${this.url}/sc`,
        appId: this.sunco.appId,
        keyId: key.id,
        keySecret: key.secret,
        integrationId: this.sunco.integration.id,
        webhookId: this.sunco.webhook.id,
        webhookSecret: this.sunco.webhook.secret,
        switchboardId: this.sunco.switchboard.id,
        switchboardIntegration: this.sunco.bridgeSwitchboard.name,
      },
      support: {
        /** The Support API base (`https://{subdomain}.zendesk.com`; paths start `/api/v2`). */
        baseUrl: this.url,
        email: agent.email ?? '',
        token: agent.token ?? '',
        agentId: agent.id,
        webhookId: this.support.webhook.id,
        signingSecret: this.support.webhook.signingSecret,
      },
    };
  }

  /** `Authorization` for SunCo: Basic key id : secret, or a `scope: app` JWT. */
  suncoAuthorization(how: 'basic' | 'jwt' = 'basic'): string {
    const key = this.sunco.keys[0]!;
    return how === 'basic' ? `Basic ${Buffer.from(`${key.id}:${key.secret}`).toString('base64')}` : `Bearer ${sunCoJwt(key, { scope: key.scope ?? 'app' })}`;
  }

  /** `Authorization` for the Support API: Basic `{email}/token:{token}` of the first agent. */
  supportAuthorization(): string {
    const a = this.support.agents[0]!;
    return `Basic ${Buffer.from(`${a.email ?? ''}/token:${a.token ?? ''}`).toString('base64')}`;
  }

  /** The custom integration's webhook target (the bridge's `/helpdesk/{bot}/webhook`), usually known only after start. */
  setSunCoWebhookTarget(url: string): void {
    this.sunco.webhook.target = url;
  }

  /** The Zendesk webhook's endpoint for the ticket route. */
  setSupportWebhookEndpoint(url: string): void {
    this.support.webhook.endpoint = url;
  }

  // ─── fault injection ────────────────────────────────────────────────────────────────────────

  /** The next `count` requests to `route` get `status` (with `Retry-After` when given), before auth. */
  failNext(route: SimRoute, f: InjectedFailure): void {
    this.faults.failNext(route, f);
  }

  /** While down, API requests get their connection reset (default) or the given status (e.g. 503). */
  setDown(down: boolean, how: 'reset' | number = 'reset'): void {
    this.faults.down = down ? how : false;
  }

  /** Delay before every API answer. */
  setLatency(ms: number): void {
    this.faults.latencyMs = Math.max(0, ms);
  }

  // ─── waiting and looking ────────────────────────────────────────────────────────────────────

  /**
   * Resolves with the first truthy value `probe(sim)` returns, polling; rejects after `timeoutMs`.
   * E.g. `await sim.waitFor((s) => s.suncoEvents('switchboard:passControl')[0])`.
   */
  async waitFor<T>(probe: (sim: this) => T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe(this);
      if (v !== undefined && v !== null && v !== false) return v;
      if (Date.now() > deadline) throw new Error(`ZendeskSimulator.waitFor: condition not met within ${timeoutMs} ms`);
      await sleep(5);
    }
  }

  /** Resolves when no webhook is queued, in flight or waiting for a retry. */
  async webhooksIdle(timeoutMs = 5_000): Promise<void> {
    await untilIdle(() => this.sunco.dispatcher.busy || this.support.dispatcher.busy, timeoutMs, 'ZendeskSimulator.webhooksIdle');
  }

  /** Every POST to the SunCo webhook target, retries included. */
  get suncoDeliveries(): readonly ScDeliveryAttempt[] {
    return this.sunco.dispatcher.attempts;
  }

  /** Events the SunCo webhook target accepted (2xx), once each, in delivery order; optionally of one type. */
  suncoEvents(type?: string): ScEvent[] {
    const seen = new Set<string>();
    const out: ScEvent[] = [];
    for (const a of this.sunco.dispatcher.attempts) {
      if (a.outcome !== 'delivered') continue;
      for (const e of a.payload.events) {
        if (seen.has(e.id) || (type !== undefined && e.type !== type)) continue;
        seen.add(e.id);
        out.push(e);
      }
    }
    return out;
  }

  /** Every event the account produced, with whether the webhook got it (`skipped`: not subscribed, standby). */
  get suncoEmitted(): readonly ScEmitted[] {
    return this.sunco.emitted;
  }

  /** Every POST to the Support webhook endpoint, retries included. */
  get supportDeliveries(): readonly SupportDeliveryAttempt[] {
    return this.support.dispatcher.attempts;
  }

  conversation(id: string): ScConversation | undefined {
    return this.sunco.conversations.get(id);
  }

  /** The switchboard state of a conversation, by switchboard integration name. */
  switchboardState(conversationId: string): { active?: string; pending?: string } {
    const c = this.sunco.conversations.get(conversationId);
    if (!c) throw new Error(`ZendeskSimulator: unknown conversation ${conversationId}`);
    const active = c.active ? this.sunco.switchboardById(c.active)?.name : undefined;
    const pending = c.pending ? this.sunco.switchboardById(c.pending)?.name : undefined;
    return { ...(active ? { active } : {}), ...(pending ? { pending } : {}) };
  }

  /** Agent Workspace tickets made from handoffs, oldest first. */
  get messagingTickets(): readonly MessagingTicket[] {
    return this.sunco.tickets;
  }

  /** The Agent Workspace ticket linked to a conversation (the latest one). */
  ticketOf(conversationId: string): MessagingTicket | undefined {
    return this.sunco.ticketOf(conversationId);
  }

  ticket(id: number): ZdTicket | undefined {
    return this.support.tickets.get(id);
  }

  // ─── the agent, messaging route ─────────────────────────────────────────────────────────────

  /** An Agent Workspace reply (text, or `{mediaUrl, mediaType?, name?, text?}`); returns the message as the API shows it. */
  agentReply(
    conversationId: string,
    content: string | AgentMedia,
    opts: { agent?: { id: number; name: string; avatarUrl?: string } } = {},
  ): Record<string, unknown> {
    return agentReply(this.sunco, conversationId, content, opts);
  }

  agentTyping(conversationId: string, on: boolean): void {
    agentTyping(this.sunco, conversationId, on);
  }

  /** Solves the conversation's ticket. Zendesk hands the conversation back only when it is closed: `closeTicket` (or the `closeOnSolve` / `closeSolvedAfterMs` options). */
  solveTicket(conversationId: string): MessagingTicket {
    return solveTicket(this.sunco, conversationId);
  }

  /** Solved → Closed (an automation or trigger), which hands the conversation back. */
  closeTicket(conversationId: string): MessagingTicket {
    return closeTicket(this.sunco, conversationId);
  }

  /** The agent ends the messaging session: control goes back without closing the ticket. */
  endSession(conversationId: string): void {
    endSession(this.sunco, conversationId);
  }

  // ─── the agent, ticket route ────────────────────────────────────────────────────────────────

  /** An agent's comment on a ticket; `public: false` is an internal note (still delivered by the comment trigger). */
  agentComment(
    ticketId: number,
    text: string,
    opts: {
      public?: boolean;
      agentId?: number;
      html?: string;
      status?: TicketStatus;
      attachments?: Array<{ fileName: string; contentType: string; data: Buffer | string }>;
    } = {},
  ): ZdComment {
    return agentComment(this.support, ticketId, text, opts);
  }

  setStatus(ticketId: number, status: TicketStatus, opts: { agentId?: number } = {}): ZdTicket {
    return setStatus(this.support, ticketId, status, opts);
  }

  // ─── the HTTP side ──────────────────────────────────────────────────────────────────────────

  private async handle<Ctx>(api: 'sc' | 'support', routes: readonly Route<Ctx>[], req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (this.faults.down === 'reset') {
      reply.hijack();
      req.raw.socket.destroy();
      this.log(`${api} ${req.method} ${req.url} → connection reset (down)`);
      return undefined;
    }
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs);
    const url = new URL(req.url, 'http://sim.invalid');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const found = match(routes, req.method, url.pathname);
    const op = typeof found === 'object' ? found.route.op : 'unknown';
    const simReq: SimRequest = {
      method: req.method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      params: typeof found === 'object' ? found.params : [],
    };
    let res: SimResponse;
    try {
      res = await this.answer(api, found, simReq, op);
    } catch (e) {
      this.log(`${api} ${op} crashed: ${e instanceof Error ? e.stack : String(e)}`);
      res = apiError(api, 500);
    }
    this.calls.push({
      api,
      op,
      method: req.method,
      path: url.pathname,
      query: url.search,
      status: res.status,
      body: describeBody(simReq),
      response: res.json ?? res.text,
      headers: req.headers,
      at: Date.now(),
    });
    this.log(`${api} ${req.method} ${url.pathname}${url.search} (${op}) → ${res.status}`);
    reply.code(res.status);
    if (res.headers) reply.headers(res.headers);
    if (res.json !== undefined) return reply.type('application/json; charset=utf-8').send(JSON.stringify(res.json));
    if (res.text !== undefined) return reply.type(res.headers?.['content-type'] ?? 'text/plain; charset=utf-8').send(res.text);
    if (res.bytes !== undefined) return reply.send(res.bytes);
    return reply.send();
  }

  private async answer<Ctx>(api: 'sc' | 'support', found: ReturnType<typeof match<Ctx>>, req: SimRequest, op: string): Promise<SimResponse> {
    if (typeof this.faults.down === 'number') return apiError(api, this.faults.down);
    const injected = typeof found === 'object' ? this.faults.takeFor(api, op) : undefined;
    if (injected) return apiError(api, injected.status, injected.retryAfter);
    const authorization = header(req.headers, 'authorization');
    if (api === 'sc') {
      const auth = this.sunco.authenticate(authorization);
      if ('status' in auth) return auth;
      // spec ListMessages 404 example: `{"code": "not_found", "title": "Resource not found"}`.
      if (typeof found !== 'object') return apiError('sc', 404);
      if (op === 'UploadAttachment' ? req.body.length > 50 * 1024 * 1024 : req.body.length > SUNCO_JSON_LIMIT) return apiError('sc', 413);
      return found.route.handle(req, { auth } as Ctx);
    }
    const user = this.support.authenticate(authorization);
    if ('status' in user && typeof user.status === 'number') return user as SimResponse;
    const limit = this.support.accountLimit();
    if (limit.limited) return limit.limited;
    // UNVERIFIED (not in research): Zendesk's body for an unknown endpoint.
    const res =
      typeof found === 'object'
        ? await found.route.handle(req, { user } as Ctx)
        : { status: 404, json: { error: 'InvalidEndpoint', description: 'Not found' } };
    return { ...res, headers: { ...limit.headers, ...res.headers } };
  }
}

/**
 * Error answers for injected faults and outages. SunCo: the spec's `{"errors":[{code, title}]}`
 * with the codes its examples use (others UNVERIFIED). Support: 429 as text with Retry-After
 * (research §A.2.6: a real capture is `text/plain`), other statuses as `{"error", "description"}`
 * (UNVERIFIED).
 */
function apiError(api: 'sc' | 'support', status: number, retryAfter?: string): SimResponse {
  const headers: Record<string, string> = retryAfter !== undefined ? { 'retry-after': retryAfter } : {};
  if (api === 'support') {
    if (status === 429) return { status, text: 'Too Many Requests', headers };
    return { status, json: { error: SUPPORT_ERRORS[status] ?? 'Error', description: `HTTP ${status}` }, headers };
  }
  const [code, title] = SUNCO_ERRORS[status] ?? ['error', `HTTP ${status}`];
  return { status, json: { errors: [{ code, title }] }, headers };
}

const SUNCO_ERRORS: Record<number, [string, string]> = {
  400: ['bad_request', 'Bad request'],
  401: ['unauthorized', 'Authorization is required'],
  403: ['forbidden', 'Forbidden'],
  404: ['not_found', 'Resource not found'],
  409: ['conflict', 'Conflict'],
  413: ['payload_too_large', 'Request entity too large'],
  423: ['locked', 'Locked'],
  429: ['too_many_requests', 'Too Many Requests'],
  500: ['internal_server_error', 'Internal server error'],
  502: ['bad_gateway', 'Bad gateway'],
  503: ['service_unavailable', 'Service unavailable'],
  504: ['gateway_timeout', 'Gateway timeout'],
};

const SUPPORT_ERRORS: Record<number, string> = {
  400: 'BadRequest',
  401: "Couldn't authenticate you",
  403: 'Forbidden',
  404: 'RecordNotFound',
  409: 'UpdateConflict',
  422: 'RecordInvalid',
  423: 'Locked',
  500: 'InternalServerError',
  503: 'ServiceUnavailable',
};

function describeBody(req: SimRequest): unknown {
  if (req.body.length === 0) return undefined;
  const ct = String(req.headers['content-type'] ?? '');
  if (/json/i.test(ct)) {
    try {
      return JSON.parse(req.body.toString('utf8')) as unknown;
    } catch {
      return req.body.toString('utf8');
    }
  }
  return `<${req.body.length} bytes ${ct}>`;
}
