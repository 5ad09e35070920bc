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
import Fastify, { type FastifyInstance } from 'fastify';
import { registerControlRoutes } from './control.js';
import { Faults, RateLimiter } from './faults.js';
import {
  DEFAULT_AGENT,
  INTEGRATION_PATH,
  SEND_HISTORY_RESPONSE,
  SPINNER_MESSAGE,
  agentInfo,
  closedText,
  endSpinner,
  joinedText,
  outputCard,
  outputImage,
  outputLink,
  outputText,
  picker,
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
  VaRequest,
} from './types.js';
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

import { ACTIVE, WITH_AGENT } from './actions.js';
import { type Host, handle } from './api.js';

export class ServiceNowSimulator implements Host {
  /** Every request to the API (not `/_sim/`) and its answer, oldest first. */
  readonly requests: InboundRecord[] = [];
  /** Every VA response body the instance produced, sent or not, oldest first. */
  readonly outbound: OutboundRecord[] = [];
  /** Files uploaded through the CCCIF media API. */
  readonly media: MediaFile[] = [];

  /** @internal (api.ts, actions.ts) */
  readonly store = new Map<string, SimConversation>();
  /** @internal (api.ts, actions.ts) */
  readonly faults = new Faults();
  /** @internal (api.ts, actions.ts) */
  readonly limiter: RateLimiter | undefined;
  private readonly dispatcher: ResponseDispatcher;
  private readonly agents: SimAgent[];
  /** @internal (api.ts, actions.ts) */
  readonly now: () => number;
  /** @internal (api.ts, actions.ts) */
  readonly seenRequestIds = new Map<string, number>();
  private readonly pending = new Set<Promise<unknown>>();
  private app: FastifyInstance | undefined;
  /** @internal (api.ts, actions.ts) */
  baseUrl: string | undefined;

  constructor(readonly options: ServiceNowSimulatorOptions) {
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
    app.all('/*', (req, reply) => handle(this, req, reply));
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
  async waitFor<T>(probe: (sim: this) => T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
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














  /** The response to a request: bot-api.md's examples echo requestId, clientSessionId, nowSessionId, message, userId. */
  /** @internal (actions.ts) */
  respond(c: SimConversation | undefined, cause: string, body: BodyItem[] | 'send-history', flags: { agentChat?: boolean; completed?: boolean; takeControl?: boolean; score?: number; silent?: boolean }, r: VaRequest): void {
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

  /** @internal (actions.ts) */
  track(p: Promise<unknown>): void {
    const t = p.catch((e: unknown) => this.logLine(`background task failed: ${e instanceof Error ? e.message : String(e)}`));
    this.pending.add(t);
    void t.finally(() => this.pending.delete(t));
  }

  /** @internal (actions.ts) */
  logLine(line: string): void {
    if (this.options.log) process.stderr.write(`[servicenow-sim] ${line}\n`);
  }
}
