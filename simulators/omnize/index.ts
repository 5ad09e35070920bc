/**
 * An in-process fake of Omnize / Zenvia Chat's Interactions API (../shared/specs/omnize/
 * interactions.md), for tests, the sandbox and the benchmark (DESIGN §8). It answers the routes a
 * bridge uses — start an interaction, send customer messages, typing, cleared, finish, update — as
 * the doc shows them (token in the JSON body, `{"message", "status": 422}` errors), fetches the
 * interaction's `external_history` like Omnize does and checks its shape, and plays the agents'
 * side: queue, accept, unavailable, agent messages, typing and finish, each sending the trigger
 * (webhook) the doc shows, unsigned, to the configured URL.
 *
 * Facts it follows are cited where each shape is built (fixtures.ts); guesses say UNVERIFIED.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerControlRoutes } from './control.js';
import { Faults } from './faults.js';
import {
  DEFAULT_AGENT,
  DEFAULT_BASE_PATH,
  DEFAULT_DEPARTMENT,
  DEFAULT_EXTERNAL_BASE_PATH,
  messageTrigger,
  newHash,
  stateTrigger,
} from './fixtures.js';
import { HistoryFetcher } from './history.js';
import type {
  ActionResult,
  ApiRoute,
  Delivery,
  FailRoute,
  HistoryFetch,
  InjectedFailure,
  MessageType,
  OmnizeSimulatorOptions,
  RecordedRequest,
  SimAgent,
  SimDepartment,
  SimInteraction,
  StateTriggerPayload,
  TriggerEvent,
  TriggerPayload,
  TriggerRecord,
  WebhookRetryPolicy,
} from './types.js';
import { type ApiHost, type RouteDef, buildRoutes, handle } from './routes.js';
import { DEFAULT_RETRY, TriggerDispatcher } from './webhooks.js';

export { DEFAULT_AGENT, DEFAULT_BASE_PATH, DEFAULT_DEPARTMENT, DEFAULT_EXTERNAL_BASE_PATH, TRIGGER_KEYS, checkHistory } from './fixtures.js';
export type * from './types.js';


/** Every API route the simulator serves (the `failNext` keys besides `*`). */
export const API_ROUTES: readonly ApiRoute[] = [
  'POST /interactions',
  'PUT /interactions/{hash}',
  'POST /interactions/{hash}/messages',
  'PUT /interactions/{hash}/typing',
  'PUT /interactions/{hash}/cleared',
  'PUT /interactions/{hash}/finish',
  'GET /agents/online',
  'GET /departments',
];

/** An agent message: plain text, or a file with its URL (interactions.md "Agent new message"). */
export type AgentMessageInput = string | { type: MessageType; url?: string | null; content?: string; agent?: { id: number; name: string } };

export class OmnizeSimulator implements ApiHost {
  /** Every API request (not `/_sim/`) and its answer, oldest first. */
  readonly requests: RecordedRequest[] = [];
  /** Every trigger the account produced, sent or not, oldest first. */
  readonly triggers: TriggerRecord[] = [];
  /** Every POST to the webhook URL (retries and redeliveries included), in the order they completed. */
  readonly deliveries: Delivery[] = [];

  /** @internal (routes.ts) */
  readonly store = new Map<string, SimInteraction>();
  /** @internal (routes.ts) */
  readonly faults = new Faults();
  private readonly dispatcher: TriggerDispatcher;
  private readonly historyFetcher: HistoryFetcher;
  /** @internal (routes.ts) */
  readonly tokens: ReadonlySet<string>;
  /** @internal (routes.ts) */
  readonly departments: SimDepartment[];
  /** @internal (routes.ts) */
  readonly agents: SimAgent[];
  /** @internal (routes.ts) */
  readonly basePath: string;
  /** @internal (routes.ts) */
  readonly externalBasePath: string;
  /** @internal (routes.ts) */
  readonly now: () => number;
  /** @internal (routes.ts) */
  readonly routes: RouteDef[];
  /** @internal (routes.ts) */
  readonly departmentCreatedAt: string;
  private readonly pending = new Set<Promise<unknown>>();
  private app: FastifyInstance | undefined;
  private baseUrl: string | undefined;

  constructor(readonly options: OmnizeSimulatorOptions) {
    if (options.tokens.length === 0 || options.tokens.some((t) => typeof t !== 'string' || t === '')) {
      throw new Error('OmnizeSimulator: at least one non-empty token');
    }
    this.tokens = new Set(options.tokens);
    this.now = options.now ?? Date.now;
    this.basePath = normalisePath(options.basePath ?? DEFAULT_BASE_PATH);
    this.externalBasePath = normalisePath(options.externalBasePath ?? DEFAULT_EXTERNAL_BASE_PATH);
    this.agents = (options.agents ?? [DEFAULT_AGENT]).map((a) => ({ ...a }));
    if (this.agents.length === 0) throw new Error('OmnizeSimulator: at least one agent');
    this.departments = (options.departments ?? [DEFAULT_DEPARTMENT]).map((d) => ({ ...d, ...(d.agents ? { agents: d.agents.map((a) => ({ ...a })) } : {}) }));
    this.departmentCreatedAt = new Date(this.now()).toISOString();
    const retry: Required<WebhookRetryPolicy> = { ...DEFAULT_RETRY, ...options.webhookRetry };
    if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) throw new Error('webhookRetry.maxAttempts must be a positive integer');
    if (retry.delaysMs.length === 0) throw new Error('webhookRetry.delaysMs must not be empty');
    this.dispatcher = new TriggerDispatcher({
      retry,
      now: this.now,
      log: (l) => this.logLine(l),
      onAttempt: (d) => {
        const delivery: Delivery = { index: this.deliveries.length, ...d };
        this.deliveries.push(delivery);
        return delivery;
      },
    });
    this.dispatcher.url = options.webhookUrl;
    this.historyFetcher = new HistoryFetcher(options.historyTimeoutMs ?? 5_000, this.now);
    this.routes = buildRoutes(this);
  }

  // ─── lifecycle ──────────────────────────────────────────────────────────────────────────────

  /** Listens on 127.0.0.1; returns the root URL. The API is at `apiUrl` (`${url}/core/api/v1` by default). */
  async start(port = 0): Promise<string> {
    if (this.app) throw new Error('OmnizeSimulator: already started');
    const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    registerControlRoutes(app, this);
    app.all('/*', (req, reply) => handle(this, req, reply));
    const address = await app.listen({ host: '127.0.0.1', port });
    this.app = app;
    this.baseUrl = address.replace('localhost', '127.0.0.1');
    return this.baseUrl;
  }

  /** Cancels pending retries, waits for deliveries and history fetches in flight, closes the server. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.dispatcher.stop();
    await this.historyFetcher.stop();
    const app = this.app;
    this.app = undefined;
    this.baseUrl = undefined;
    if (app) await app.close();
  }

  /** The root URL (`http://127.0.0.1:<port>`). */
  get url(): string {
    if (!this.baseUrl) throw new Error('OmnizeSimulator: not started');
    return this.baseUrl;
  }

  /** The adapter's base URL: `${url}${basePath}` (in place of `https://zchat.zenvia.io/core/api/v1`). */
  get apiUrl(): string {
    return `${this.url}${this.basePath}`;
  }

  /** In place of `https://zchat.zenvia.io/api/external` (departments.md). */
  get externalApiUrl(): string {
    return `${this.url}${this.externalBasePath}`;
  }

  /** Forgets interactions, logs, faults and pending retries; tokens, departments, agents and the webhook URL stay. */
  reset(): void {
    this.dispatcher.cancelRetries();
    this.store.clear();
    this.requests.length = 0;
    this.triggers.length = 0;
    this.deliveries.length = 0;
    this.faults.clear();
  }

  // ─── configuration ──────────────────────────────────────────────────────────────────────────

  get webhookUrl(): string | undefined {
    return this.dispatcher.url;
  }

  /** Menu > Settings > Integrations > Webhooks (interactions.md "Triggers"); undefined removes it. */
  setWebhookUrl(url: string | undefined): void {
    if (url !== undefined) new URL(url); // throws on a malformed URL
    this.dispatcher.url = url;
  }

  /** Activates or deactivates a department (departments.md `state`: 1 active, 0 inactive). */
  setDepartmentActive(id: number, active: boolean): void {
    const d = this.departments.find((x) => x.id === id);
    if (!d) throw new Error(`OmnizeSimulator: unknown department ${id}`);
    d.active = active;
  }

  // ─── recorded state ─────────────────────────────────────────────────────────────────────────

  /** An interaction by hash, or `'latest'` (a copy). */
  interaction(hash: string): SimInteraction | undefined {
    const rec = this.store.get(hash === 'latest' ? (this.latestHash() ?? '') : hash);
    return rec ? structuredClone(rec) : undefined;
  }

  /** All interactions, oldest first (copies). */
  interactions(): SimInteraction[] {
    return [...this.store.values()].map((r) => structuredClone(r));
  }

  /** The most recently created interaction's hash. */
  latestHash(): string | undefined {
    return [...this.store.keys()].at(-1);
  }

  triggersFor(hash: string, event?: TriggerEvent): TriggerRecord[] {
    const h = hash === 'latest' ? (this.latestHash() ?? '') : hash;
    return this.triggers.filter((t) => t.interactionHash === h && (event === undefined || t.event === event));
  }

  /**
   * Resolves with the first truthy `probe(this)`, polling; rejects after `timeoutMs`.
   * e.g. `await sim.waitFor((s) => s.interaction(h)?.history[0])`.
   */
  async waitFor<T>(probe: (sim: this) => T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe(this);
      if (v !== undefined && v !== null && v !== false) return v;
      if (Date.now() > deadline) {
        throw new Error(`OmnizeSimulator.waitFor: nothing within ${timeoutMs} ms (${this.requests.length} requests, ${this.deliveries.length} deliveries)`);
      }
      await sleep(5);
    }
  }

  // ─── the agents' side ───────────────────────────────────────────────────────────────────────

  /**
   * The interaction waits in the department's queue → `queued` with `position` (interactions.md
   * "Interaction added to queue"). Without `position`, its place among the department's queued
   * interactions, oldest first.
   */
  async queue(hash: string, position?: number): Promise<ActionResult> {
    const rec = this.mustOpen(hash, 'queue');
    if (position !== undefined && (!Number.isInteger(position) || position < 1)) throw new Error('OmnizeSimulator.queue: position must be a positive integer');
    rec.state = 'queued';
    rec.position = position ?? this.queuePosition(rec);
    return this.send(rec, 'queued', stateTrigger(rec.hash, 'queued', rec.extra, rec.position));
  }

  /**
   * An agent accepts → `accepted` (interactions.md "Agent accepts interaction"; the payload names
   * no agent). `agent`: an agent id of the account, or any `{id, name}`; default the department's
   * first agent.
   */
  async accept(hash: string, agent?: number | { id: number; name: string }): Promise<ActionResult> {
    const rec = this.mustOpen(hash, 'accept');
    let who: { id: number; name: string };
    if (typeof agent === 'number') {
      const a = this.agents.find((x) => x.id === agent) ?? this.departmentAgents(rec.department.id).find((x) => x.id === agent);
      if (!a) throw new Error(`OmnizeSimulator.accept: unknown agent ${agent}`);
      who = { id: a.id, name: a.name };
    } else if (agent) {
      who = { id: agent.id, name: agent.name };
    } else {
      const a = this.departmentAgents(rec.department.id)[0] ?? this.agents[0]!;
      who = { id: a.id, name: a.name };
    }
    rec.state = 'accepted';
    delete rec.position;
    rec.agent = who;
    const result = this.send(rec, 'accepted', stateTrigger(rec.hash, 'accepted', rec.extra));
    if (this.options.fetchHistoryOn === 'accept' && rec.externalHistory) this.track(this.fetchInto(rec));
    return result;
  }

  /** No agent can take it → `unavailable` (interactions.md "In case of unavailable agents"). The interaction stays open (UNVERIFIED). */
  async unavailable(hash: string): Promise<ActionResult> {
    const rec = this.mustOpen(hash, 'unavailable');
    rec.state = 'unavailable';
    delete rec.position;
    return this.send(rec, 'unavailable', stateTrigger(rec.hash, 'unavailable', rec.extra));
  }

  /**
   * The agent sends a message → "Agent new message" (interactions.md): text, or `{type, url,
   * content?}` for a file (content defaults to the file name from the URL: UNVERIFIED). Requires an
   * accepted interaction. The agent's typing state is cleared (no trigger).
   */
  async agentMessage(hash: string, input: AgentMessageInput): Promise<ActionResult> {
    const rec = this.mustAccepted(hash, 'agentMessage');
    const m =
      typeof input === 'string'
        ? { type: 'text' as const, content: input, url: this.options.textMessageUrl ?? null }
        : {
            type: input.type,
            url: input.url ?? (input.type === 'text' ? (this.options.textMessageUrl ?? null) : null),
            content: input.content ?? (input.url ? fileName(input.url) : ''),
          };
    if (m.type !== 'text' && !m.url) throw new Error('OmnizeSimulator.agentMessage: a file message needs a url');
    const agent = typeof input === 'object' && input.agent ? input.agent : rec.agent!;
    const messageHash = newHash();
    rec.messages.push({ hash: messageHash, direction: 'agent', content: m.content, type: m.type, url: m.url, at: this.now(), agent: { ...agent } });
    rec.agentTyping = false;
    return this.send(rec, 'message', messageTrigger(rec.hash, { hash: messageHash, content: m.content, type: m.type, url: m.url }, agent, rec.extra));
  }

  /** The agent starts (`typing`) or stops (`cleared`) typing (interactions.md "Agent typing" / "Agent stop typing"). */
  async agentTyping(hash: string, on: boolean): Promise<ActionResult> {
    const rec = this.mustAccepted(hash, 'agentTyping');
    rec.agentTyping = on;
    return this.send(rec, on ? 'typing' : 'cleared', stateTrigger(rec.hash, on ? 'typing' : 'cleared', rec.extra));
  }

  /** The agent finishes → `finished` (interactions.md "Agent finish interaction"). */
  async finish(hash: string): Promise<ActionResult> {
    const rec = this.mustOpen(hash, 'finish');
    this.finishRecord(rec, 'agent');
    return this.send(rec, 'finished', stateTrigger(rec.hash, 'finished', rec.extra));
  }

  /** GETs the interaction's `external_history` now and records the result (also returned). */
  async fetchHistory(hash: string): Promise<HistoryFetch> {
    const rec = this.mustInteraction(hash, 'fetchHistory');
    if (!rec.externalHistory) throw new Error(`OmnizeSimulator.fetchHistory: interaction ${rec.hash} has no external_history`);
    return this.fetchInto(rec);
  }

  /**
   * Sends a delivery once more, byte for byte, now: a duplicate trigger. `index` is a position in
   * `deliveries` (negative counts from the end); default the last one.
   */
  async redeliver(index = -1): Promise<Delivery> {
    const d = this.deliveries.at(index);
    if (!d) throw new Error(`OmnizeSimulator.redeliver: no delivery at ${index}`);
    const record = this.triggers.find((t) => t.id === d.triggerId);
    if (!record) throw new Error(`OmnizeSimulator.redeliver: trigger ${d.triggerId} was reset`);
    return this.dispatcher.redeliver(record, d.url);
  }

  // ─── fault injection ────────────────────────────────────────────────────────────────────────

  /** The next `count` requests to `route` (or any, with `*`) get `status` with the error shape, before the token check. */
  failNext(route: FailRoute, f: { status: number; count?: number; retryAfter?: string | number }): void {
    if (route !== '*' && !API_ROUTES.includes(route)) throw new Error(`failNext: unknown route "${route}" (one of ${API_ROUTES.join(', ')} or *)`);
    const failure: InjectedFailure = { status: f.status, count: f.count ?? 1, ...(f.retryAfter !== undefined ? { retryAfter: f.retryAfter } : {}) };
    this.faults.failNext(route, failure);
  }

  /** While down, API requests get their connection reset (default) or the given status. `/_sim/` keeps working. */
  setDown(down: boolean, how: 'reset' | number = 'reset'): void {
    this.faults.down = down ? how : false;
  }

  /** Delay before every API answer. */
  setLatency(ms: number): void {
    this.faults.latencyMs = Math.max(0, ms);
  }

  // ─── helpers ────────────────────────────────────────────────────────────────────────────────

  /** @internal (routes.ts) */
  departmentAgents(id: number): SimAgent[] {
    return this.departments.find((d) => d.id === id)?.agents ?? this.agents;
  }

  /** @internal (routes.ts) */
  allAgents(): SimAgent[] {
    const seen = new Map<number, SimAgent>();
    for (const a of this.agents) seen.set(a.id, a);
    for (const d of this.departments) for (const a of d.agents ?? []) if (!seen.has(a.id)) seen.set(a.id, a);
    return [...seen.values()];
  }

  /** @internal (routes.ts) */
  queuePosition(rec: SimInteraction): number {
    const queued = [...this.store.values()].filter((x) => x.department.id === rec.department.id && x.state === 'queued');
    const i = queued.findIndex((x) => x.hash === rec.hash);
    return i < 0 ? queued.length + 1 : i + 1;
  }

  /** @internal (routes.ts) */
  finishRecord(rec: SimInteraction, by: 'agent' | 'api'): void {
    rec.state = 'finished';
    rec.finished = { by, at: this.now() };
    rec.customerTyping = false;
    rec.agentTyping = false;
    delete rec.position;
  }

  /** @internal (routes.ts) */
  async fetchInto(rec: SimInteraction): Promise<HistoryFetch> {
    const f = await this.historyFetcher.fetch(rec.externalHistory!);
    rec.history.push(f);
    this.logLine(`external_history ${f.url} → ${f.status || f.error} (${f.valid ? 'valid' : f.problems.join('; ')})`);
    return structuredClone(f);
  }

  /** @internal (routes.ts) */
  async send(rec: SimInteraction, event: TriggerEvent, payload: TriggerPayload): Promise<ActionResult> {
    const { record, first } = this.dispatcher.emit(event, rec.hash, payload);
    this.triggers.push(record);
    const delivery = await first;
    return { interaction: structuredClone(rec), trigger: record, ...(delivery ? { delivery } : {}) };
  }

  /** @internal (routes.ts) */
  track(p: Promise<unknown>): void {
    const t = p.catch((e: unknown) => this.logLine(`background task failed: ${e instanceof Error ? e.message : String(e)}`));
    this.pending.add(t);
    void t.finally(() => this.pending.delete(t));
  }

  private mustInteraction(hash: string, what: string): SimInteraction {
    const rec = this.store.get(hash === 'latest' ? (this.latestHash() ?? '') : hash);
    if (!rec) throw new Error(`OmnizeSimulator.${what}: unknown interaction ${hash}`);
    return rec;
  }

  private mustOpen(hash: string, what: string): SimInteraction {
    const rec = this.mustInteraction(hash, what);
    if (rec.finished) throw new Error(`OmnizeSimulator.${what}: interaction ${rec.hash} is finished`);
    return rec;
  }

  private mustAccepted(hash: string, what: string): SimInteraction {
    const rec = this.mustOpen(hash, what);
    if (rec.state !== 'accepted' || !rec.agent)
      throw new Error(`OmnizeSimulator.${what}: interaction ${rec.hash} is not accepted by an agent (state ${rec.state})`);
    return rec;
  }

  /** @internal (routes.ts) */
  logLine(line: string): void {
    if (this.options.log) process.stderr.write(`[omnize-sim] ${line}\n`);
  }
}

/** Queue position type guard for tests: is this a state trigger? */
export function isStateTrigger(p: TriggerPayload): p is StateTriggerPayload {
  return 'state' in p;
}

function normalisePath(p: string): string {
  if (p === '' || p === '/') return '';
  return ('/' + p.replace(/^\/+/, '')).replace(/\/+$/, '');
}

function fileName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '') || 'file';
  } catch {
    return 'file';
  }
}
