/**
 * An in-process fake of Blip's HTTP API and of a router with its services, for tests, the sandbox
 * and the benchmark (DESIGN §8). It plays both sides a human-attendance sub-bot talks to:
 *
 * - Blip's API (`POST /messages`, `/notifications`, `/commands`, research §1.2): Key auth, 400 on
 *   bad envelopes, 202 for messages/notifications, 200 + command response for commands, rate limits.
 * - The router (research §2): customers with contact and thread, one tunnel per (router, customer,
 *   bot), the active service changed by Redirects, and customer messages POSTed to the bot's
 *   messages URL the way the router forwards them.
 *
 * Facts it follows are cited where each shape is built (fixtures.ts); guesses are marked UNVERIFIED.
 * Blip's retry policy for a bot URL that fails is UNVERIFIED (research §7), so the simulator does
 * not retry: `customerSays` returns whatever the bot answered.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Agent, request } from 'undici';
import { MIME, TUNNEL_DOMAIN, domainOf, identityOf } from '../../src/lime/envelope.js';
import { executeCommand } from './commands.js';
import { registerControlRoutes } from './control.js';
import { Faults, RateLimiter, type ApiPath, type InjectedFailure } from './faults.js';
import {
  REASON,
  botIdentity,
  inboundMessage,
  serverNotification,
  tunnelNotification,
  type Contact,
  type Reason,
  type ThreadMessage,
} from './fixtures.js';
import { MAIN_SERVICE, RouterState, type CustomerRecord } from './router.js';
import type {
  BlipSimulatorOptions,
  BotAnswer,
  CustomerInit,
  CustomerMessage,
  CustomerView,
  Received,
  ReceivedKind,
  RedirectRecord,
  Routed,
  Sent,
  SimBot,
  WaitOptions,
} from './types.js';
import { invalidCommand, invalidMessage, invalidNotification, isObject, type Envelope } from './validate.js';

export { MAIN_SERVICE } from './router.js';
export { REASON, tunnelIdFor, type Contact, type ThreadMessage, type Tunnel } from './fixtures.js';
export type { ApiPath } from './faults.js';
export type * from './types.js';

/** `Authorization` value a bot sends: `Key base64(identifier:base64decode(accessKey))` (research §1.2, [SDK] WebTransport.cs). */
export function blipAuthorization(identifier: string, accessKey: string): string {
  const password = Buffer.from(accessKey, 'base64').toString('utf8');
  return `Key ${Buffer.from(`${identifier}:${password}`, 'utf8').toString('base64')}`;
}


type ApiResult = { status: number; headers?: Record<string, string>; body?: string | object };

export class BlipSimulator {
  readonly received: { messages: Received[]; notifications: Received[]; commands: Received[] } = {
    messages: [],
    notifications: [],
    commands: [],
  };
  /** Everything the simulator POSTed to bots, oldest first. */
  readonly sent: Sent[] = [];
  /** Customer messages and Redirect contexts that went to another service (e.g. the main bot). */
  readonly otherServices: Routed[] = [];
  readonly redirects: RedirectRecord[] = [];

  private readonly bots = new Map<string, SimBot>();
  private readonly byAuthorization = new Map<string, string>();
  private readonly state = new RouterState();
  private readonly faults = new Faults();
  private readonly limiter: RateLimiter;
  private readonly all: Received[] = [];
  private readonly waiters = new Set<{ match: (r: Received) => boolean; resolve: (r: Received) => void }>();
  /** Per-tunnel chains so notifications reach a bot in order without serialising unrelated customers. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly pending = new Set<Promise<void>>();
  private app: FastifyInstance | undefined;
  private agent: Agent | undefined;
  private baseUrl: string | undefined;

  constructor(private readonly options: BlipSimulatorOptions) {
    if (options.bots.length === 0) throw new Error('BlipSimulator: at least one bot');
    for (const b of options.bots) {
      if (this.bots.has(b.identifier)) throw new Error(`BlipSimulator: duplicate bot ${b.identifier}`);
      this.bots.set(b.identifier, { ...b, ...(b.headers ? { headers: { ...b.headers } } : {}) });
      this.byAuthorization.set(blipAuthorization(b.identifier, b.accessKey).slice('Key '.length), b.identifier);
    }
    const rl = options.rateLimit;
    this.limiter = new RateLimiter({
      ...(rl ? { '/messages': rl.messagesPerSecond } : {}),
      ...(rl?.notificationsPerSecond !== undefined ? { '/notifications': rl.notificationsPerSecond } : {}),
      ...(rl?.commandsPerSecond !== undefined ? { '/commands': rl.commandsPerSecond } : {}),
    });
  }

  // ─── lifecycle ──────────────────────────────────────────────────────────────────────────────

  /** Listens on loopback only; returns the base URL a bot uses in place of `https://{contract}.http.msging.net`. */
  async start(port = 0): Promise<string> {
    if (this.app) throw new Error('BlipSimulator: already started');
    const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
    // Blip insists on `Content-Type: application/json` and answers 400 otherwise (research §1.2), so
    // we read every body as text and decide ourselves instead of letting Fastify answer 415.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    for (const path of ['/messages', '/notifications', '/commands'] as const) {
      app.post(path, (req, reply) => this.handleApi(path, req, reply));
    }
    registerControlRoutes(app, this, this.firstBot().identifier);
    this.agent = new Agent({ keepAliveTimeout: 5_000, connections: 64 });
    const address = await app.listen({ host: '127.0.0.1', port });
    this.app = app;
    this.baseUrl = address.replace('localhost', '127.0.0.1');
    return this.baseUrl;
  }

  /** Waits for in-flight POSTs to bots, then closes. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    const app = this.app;
    const agent = this.agent;
    this.app = undefined;
    this.agent = undefined;
    this.baseUrl = undefined;
    if (app) await app.close();
    if (agent) await agent.close();
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('BlipSimulator: not started');
    return this.baseUrl;
  }

  /** Bots usually start after the simulator, so their URLs come later. Omitted fields are kept. */
  setBotUrls(identifier: string, urls: { messagesUrl?: string; notificationsUrl?: string; headers?: Record<string, string> }): void {
    const bot = this.bot(identifier);
    if (urls.messagesUrl !== undefined) bot.messagesUrl = urls.messagesUrl;
    if (urls.notificationsUrl !== undefined) bot.notificationsUrl = urls.notificationsUrl;
    if (urls.headers !== undefined) bot.headers = { ...urls.headers };
  }

  hasBot(identifier: string): boolean {
    return this.bots.has(identifier);
  }

  routerOf(identifier: string): string {
    return this.bot(identifier).router;
  }

  /** The `Authorization` header value for a configured bot. */
  authorizationFor(identifier: string): string {
    const b = this.bot(identifier);
    return blipAuthorization(b.identifier, b.accessKey);
  }

  /** Forgets customers, logs, faults and latency; bots and their URLs stay. Tunnel ids stay the same. */
  reset(): void {
    this.received.messages.length = 0;
    this.received.notifications.length = 0;
    this.received.commands.length = 0;
    this.all.length = 0;
    this.sent.length = 0;
    this.otherServices.length = 0;
    this.redirects.length = 0;
    this.state.clear();
    this.faults.clear();
    this.limiter.clear();
  }

  // ─── customers (the router side) ────────────────────────────────────────────────────────────

  /** Seeds the router's contact and thread for a customer; returns their tunnel to the handed-off bot. */
  addCustomer(init: CustomerInit): { router: string; originator: string; tunnel: string } {
    const bot = this.defaultBot(init.router, init.bot);
    const router = init.router ?? bot.router;
    const now = Date.now();
    const history = init.history ?? [];
    const thread: ThreadMessage[] = history.map((h, i) => ({
      id: randomUUID(),
      direction: h.direction,
      type: h.type,
      content: h.content,
      // Oldest first, one second apart, ending just before now.
      date: h.date ?? new Date(now - (history.length - i) * 1000).toISOString(),
      // [DOC] chat-history.md example: sent items end `consumed`, received ones stay `accepted`.
      status: h.direction === 'sent' ? 'consumed' : 'accepted',
      // research §4.1 [OBSERVED]: router items produced by a Builder sub-bot carry `#messageKind: Response`.
      metadata: h.metadata ?? (h.direction === 'sent' ? { '#messageKind': 'Response' } : {}),
    }));
    const contact: Contact = {
      identity: init.originator,
      ...(init.name !== undefined ? { name: init.name } : {}),
      ...(init.email !== undefined ? { email: init.email } : {}),
      ...(init.phoneNumber !== undefined ? { phoneNumber: init.phoneNumber } : {}),
      ...(init.extras !== undefined ? { extras: { ...init.extras } } : {}),
      ...(thread.length > 0 ? { lastMessageDate: thread[thread.length - 1]!.date } : {}),
    };
    this.state.putCustomer({
      router,
      originator: init.originator,
      contact,
      thread,
      activeService: init.handedOff === false ? MAIN_SERVICE : bot.service,
    });
    return { router, originator: init.originator, tunnel: this.state.tunnel(router, init.originator, bot.identifier).id };
  }

  /** `{uuid}@tunnel.msging.net`, stable per (router, originator, bot) (research §2.2). */
  tunnelOf(originator: string, botIdentifier: string): string {
    const bot = this.bot(botIdentifier);
    return this.state.tunnel(bot.router, originator, bot.identifier).id;
  }

  /** `main`, a service name or a bot identity, as the last Redirect named it (research §2.4). */
  activeService(originator: string, router?: string): string | undefined {
    return this.state.customer(router ?? this.firstBot().router, originator)?.activeService;
  }

  /** What the main sub-bot's "redirect to service" does (research §2.6): make our sub-bot active. */
  handOff(originator: string, botIdentifier: string): void {
    const bot = this.bot(botIdentifier);
    this.ensureCustomer(bot, originator).activeService = bot.service;
  }

  contactOf(originator: string, router?: string): Contact | undefined {
    return this.state.customer(router ?? this.firstBot().router, originator)?.contact;
  }

  /** The router's thread with the customer, oldest first. */
  threadOf(originator: string, router?: string): ThreadMessage[] {
    return this.state.customer(router ?? this.firstBot().router, originator)?.thread ?? [];
  }

  /** Everything the router knows about a customer, plus the messages bots sent them. */
  customerView(originator: string, router?: string): CustomerView | undefined {
    const c = this.state.customer(router ?? this.firstBot().router, originator);
    if (!c) return undefined;
    return {
      originator: c.originator,
      router: c.router,
      activeService: c.activeService,
      tunnels: Object.fromEntries(this.state.tunnelsOf(c.router, c.originator).map((t) => [t.bot, t.id])),
      contact: c.contact,
      thread: c.thread,
      messages: this.messagesTo(c.originator),
    };
  }

  /**
   * The customer writes; the router stores it in its thread and, when `botIdentifier` is the active
   * service, forwards it through the tunnel to the bot's messages URL (research §2.2/§2.3).
   * Otherwise it is recorded in `otherServices` and `status` is 0.
   */
  async customerSays(originator: string, botIdentifier: string, msg: CustomerMessage): Promise<BotAnswer> {
    const bot = this.bot(botIdentifier);
    // A missing URL is a test-setup mistake, not a delivery failure: say so before touching state.
    if (!bot.messagesUrl) throw new Error(`BlipSimulator: bot ${bot.identifier} has no messagesUrl (setBotUrls)`);
    const customer = this.ensureCustomer(bot, originator);
    const id = msg.id ?? randomUUID();
    const now = Date.now();
    const envelope = inboundMessage({
      id,
      tunnel: this.state.tunnel(bot.router, originator, bot.identifier).id,
      bot: bot.identifier,
      router: bot.router,
      originator,
      type: msg.type,
      content: msg.content,
      ...(msg.metadata ? { metadata: msg.metadata } : {}),
      now,
    });
    const meta = envelope['metadata'] as Record<string, string>;
    customer.thread.push({
      id,
      direction: 'received',
      type: msg.type,
      content: msg.content,
      date: new Date(now).toISOString(),
      status: 'accepted',
      metadata: { '#uniqueId': meta['#uniqueId'] ?? '', date_created: String(now) },
    });
    customer.contact.lastMessageDate = new Date(now).toISOString();

    if (this.serviceBot(bot.router, customer.activeService)?.identifier !== bot.identifier) {
      this.otherServices.push({
        router: bot.router,
        originator,
        service: customer.activeService,
        id,
        type: msg.type,
        content: msg.content,
        cause: 'customer',
        at: now,
      });
      this.logLine(`customer ${originator} → ${customer.activeService} (not ${bot.identifier})`);
      return { id, status: 0, body: '', error: `active service is ${customer.activeService}, not ${bot.service}` };
    }
    return this.forwardToBot(bot, envelope);
  }

  /** POSTs a notification about `id` from the customer's tunnel to the bot (e.g. `consumed` when the customer reads). */
  async sendNotificationToBot(
    originator: string,
    botIdentifier: string,
    n: { id: string; event: string; reason?: Reason; metadata?: Record<string, string> },
  ): Promise<BotAnswer> {
    const bot = this.bot(botIdentifier);
    const tunnel = this.state.tunnel(bot.router, originator, bot.identifier);
    const body = tunnelNotification({
      id: n.id,
      tunnel: tunnel.id,
      bot: bot.identifier,
      router: bot.router,
      originator,
      event: n.event,
      ...(n.reason ? { reason: n.reason } : {}),
      ...(n.metadata ? { metadata: n.metadata } : {}),
      now: Date.now(),
    });
    const res = await this.post(bot, 'notification', body);
    return { id: n.id, ...res };
  }

  // ─── what bots sent ─────────────────────────────────────────────────────────────────────────

  /** Accepted messages addressed to a tunnel, or to any tunnel of an originator. Redirects included. */
  messagesTo(tunnelOrOriginator: string): Received[] {
    const ids = new Set(
      domainOf(tunnelOrOriginator).toLowerCase() === TUNNEL_DOMAIN
        ? [identityOf(tunnelOrOriginator).toLowerCase()]
        : this.state.allCustomers()
            .filter((c) => c.originator.toLowerCase() === tunnelOrOriginator.toLowerCase())
            .flatMap((c) => this.state.tunnelsOf(c.router, c.originator).map((t) => t.id)),
    );
    return this.received.messages.filter(
      (r) => r.status === 202 && typeof r.body?.to === 'string' && ids.has(identityOf(r.body.to).toLowerCase()),
    );
  }

  /**
   * Resolves with the first received request matching `predicate` — already received or future.
   * Only accepted requests (2xx) are considered unless `includeRejected`.
   */
  waitFor(predicate: (r: Received) => boolean, timeoutMs = 15_000, opts: WaitOptions = {}): Promise<Received> {
    const match = (r: Received) => (opts.includeRejected || (r.status >= 200 && r.status < 300)) && predicate(r);
    const found = this.all.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (r: Received) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`BlipSimulator.waitFor: nothing matched within ${timeoutMs} ms (${this.all.length} requests received)`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  // ─── fault injection ────────────────────────────────────────────────────────────────────────

  /** The next `count` requests to `path` get `status` (with `Retry-After` when given), before auth. */
  failNext(path: ApiPath, f: InjectedFailure): void {
    this.faults.failNext(path, f);
  }

  /** While down, API requests get their connection reset (default) or the given status (e.g. 503). */
  setDown(down: boolean, how: 'reset' | number = 'reset'): void {
    this.faults.down = down ? how : false;
  }

  /** Delay before every API answer. */
  setLatency(ms: number): void {
    this.faults.latencyMs = Math.max(0, ms);
  }

  // ─── the API ────────────────────────────────────────────────────────────────────────────────

  private async handleApi(path: ApiPath, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const kind: ReceivedKind = path === '/messages' ? 'message' : path === '/notifications' ? 'notification' : 'command';
    if (this.faults.down === 'reset') {
      reply.hijack();
      req.raw.socket.destroy();
      this.logLine(`${path} → connection reset (down)`);
      return undefined;
    }
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs);

    const raw = typeof req.body === 'string' ? req.body : '';
    let bot = '';
    // Recorded even for rejected requests, so fault tests can see which envelope was refused.
    const body: unknown = parseLoosely(raw);
    const result = ((): ApiResult => {
      if (typeof this.faults.down === 'number') return { status: this.faults.down };
      const injected = this.faults.take(path);
      if (injected) return { status: injected.status, ...(injected.retryAfter ? { headers: { 'retry-after': injected.retryAfter } } : {}) };

      bot = this.authenticate(req.headers.authorization) ?? '';
      if (!bot) return { status: 401 }; // research §1.2: "Authorization missing/invalid"
      // UNVERIFIED: Blip's status for a non-JSON content type; research §1.2 lists only 400 for bad requests.
      if (!/^application\/json\b/i.test(String(req.headers['content-type'] ?? ''))) {
        return { status: 400, body: 'Content-Type must be application/json' };
      }
      if (body === raw) return { status: 400, body: 'Invalid JSON' };
      const retryAfter = this.limiter.check(bot, path);
      if (retryAfter !== undefined) return { status: 429, headers: { 'retry-after': retryAfter } };
      if (!isObject(body)) return { status: 400, body: 'The envelope must be a JSON object' };
      const invalid = kind === 'message' ? invalidMessage(body) : kind === 'notification' ? invalidNotification(body) : invalidCommand(body);
      if (invalid) return { status: 400, body: invalid };

      const sender = this.bot(bot);
      if (kind === 'message') this.acceptMessage(sender, body);
      else if (kind === 'notification') this.acceptNotification(sender, body);
      else {
        const response = executeCommand(this.state, sender, {
          id: body['id'] as string,
          method: body['method'] as string,
          uri: body['uri'] as string,
          ...(typeof body['to'] === 'string' ? { to: body['to'] } : {}),
        });
        return { status: 200, body: response };
      }
      return { status: 202 };
    })();

    const entry: Received = {
      kind,
      bot,
      at: Date.now(),
      headers: req.headers,
      body,
      status: result.status,
      ...(kind === 'command' && result.status === 200 ? { response: result.body } : {}),
    };
    this.record(entry);
    this.logLine(`${path} ${bot || '(unauthenticated)'} → ${result.status}`);
    reply.code(result.status);
    if (result.headers) reply.headers(result.headers);
    if (result.body === undefined) return reply.send();
    if (typeof result.body === 'string') return reply.type('text/plain; charset=utf-8').send(result.body);
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(result.body));
  }

  private authenticate(header: string | undefined): string | undefined {
    const m = /^key\s+(\S+)\s*$/i.exec(header ?? '');
    return m?.[1] ? this.byAuthorization.get(m[1]) : undefined;
  }

  /** A message from a sub-bot: to a customer through its tunnel, or a Redirect of that customer. */
  private acceptMessage(bot: SimBot, env: Envelope): void {
    const id = typeof env['id'] === 'string' ? env['id'] : undefined;
    const to = env['to'] as string;
    const tunnel = this.state.findTunnel(to);
    const now = Date.now();
    // A bot can only reach customers through its own tunnels; anything else has no route.
    if (!tunnel || tunnel.bot !== bot.identifier) {
      if (id && this.options.notifyDispatched) {
        // research §3.1: `failed` with reason 42 "Destination not found".
        const n = serverNotification({ id, bot: bot.identifier, event: 'failed', messageTo: to, reason: REASON.destinationNotFound, now });
        this.enqueue(bot, `${bot.identifier}\n${identityOf(to)}`, [n]);
      }
      return;
    }
    const customer = this.ensureCustomer(bot, tunnel.originator);
    if (env['type'] === MIME.redirect) {
      this.redirect(bot, customer, env['content'] as { address?: string; context?: { type: string; value: unknown } });
      return;
    }
    const item: ThreadMessage = {
      id: id ?? randomUUID(),
      direction: 'sent',
      type: env['type'] as string,
      content: env['content'],
      date: new Date(now).toISOString(),
      status: 'accepted',
      // research §4.1 [OBSERVED]: router items from a sub-bot name it in `#tunnel.originalFrom`
      // (the instance is invented here) and the tunnel in `#tunnel.originalTo`.
      metadata: { '#tunnel.originalFrom': `${botIdentity(bot.identifier)}/http`, '#tunnel.originalTo': tunnel.id },
    };
    customer.thread.push(item);
    this.state.recordInBot(bot.identifier, tunnel.id, { ...item, metadata: {} });
    // LIME: a message without id is fire-and-forget, so no notifications come back (research §3.1).
    if (id && this.options.notifyDispatched) {
      const base = { id, tunnel: tunnel.id, bot: bot.identifier, router: bot.router, originator: tunnel.originator };
      this.enqueue(bot, tunnel.id, [
        serverNotification({ id, bot: bot.identifier, event: 'accepted', messageTo: tunnel.id, now }),
        tunnelNotification({ ...base, event: 'dispatched', now }),
        tunnelNotification({ ...base, event: 'received', now }),
      ]);
    }
  }

  /**
   * research §2.5: the Redirect goes to the tunnel; `address` = service name or bot identity, none =
   * the main service; `context` reaches the next service "as if it had been sent by the client".
   */
  private redirect(
    bot: SimBot,
    customer: CustomerRecord,
    content: { address?: string; context?: { type: string; value: unknown } },
  ): void {
    const target = content.address ?? MAIN_SERVICE;
    const at = Date.now();
    this.redirects.push({
      router: customer.router,
      originator: customer.originator,
      bot: bot.identifier,
      from: customer.activeService,
      to: target,
      ...(content.context ? { context: content.context } : {}),
      at,
    });
    customer.activeService = target;
    this.logLine(`redirect ${customer.originator}: ${bot.identifier} → ${target}`);
    if (!content.context) return;
    const { type, value } = content.context;
    const next = this.serviceBot(customer.router, target);
    if (next) {
      const envelope = inboundMessage({
        id: randomUUID(),
        tunnel: this.state.tunnel(customer.router, customer.originator, next.identifier).id,
        bot: next.identifier,
        router: customer.router,
        originator: customer.originator,
        type,
        content: value,
        now: at,
      });
      this.track(this.forwardToBot(next, envelope).then(() => undefined));
    } else {
      this.otherServices.push({
        router: customer.router,
        originator: customer.originator,
        service: target,
        id: randomUUID(),
        type,
        content: value,
        cause: 'redirect-context',
        at,
      });
    }
  }

  /** Notifications from the bot about the customer's messages move their status in the threads. */
  private acceptNotification(bot: SimBot, env: Envelope): void {
    const tunnel = this.state.findTunnel(env['to'] as string);
    if (tunnel && tunnel.bot === bot.identifier) this.state.updateStatus(env['id'] as string, env['event'] as string);
  }

  // ─── POSTs to bots ──────────────────────────────────────────────────────────────────────────

  private async forwardToBot(bot: SimBot, envelope: Envelope): Promise<BotAnswer> {
    const id = envelope['id'] as string;
    const tunnel = envelope['from'] as string;
    const date = new Date().toISOString();
    this.state.recordInBot(bot.identifier, tunnel, {
      id,
      direction: 'received',
      type: envelope['type'] as string,
      content: envelope['content'],
      date,
      status: 'accepted',
      metadata: {},
    });
    const res = await this.post(bot, 'message', envelope);
    return { id, ...res };
  }

  /** Sends after the current answer, in order per chain, never blocking the API response. */
  private enqueue(bot: SimBot, chainKey: string, notifications: Envelope[]): void {
    const prev = this.chains.get(chainKey) ?? Promise.resolve();
    const next = prev.then(async () => {
      await sleep(0); // let the 202 go out first, as Blip's notifications follow its answer
      for (const n of notifications) {
        const res = await this.post(bot, 'notification', n);
        if (res.status >= 200 && res.status < 300) this.state.updateStatus(n['id'] as string, n['event'] as string);
      }
    });
    this.chains.set(chainKey, next);
    this.track(
      next.finally(() => {
        if (this.chains.get(chainKey) === next) this.chains.delete(chainKey);
      }),
    );
  }

  private track(p: Promise<void>): void {
    const t = p.catch(() => undefined);
    this.pending.add(t);
    void t.finally(() => this.pending.delete(t));
  }

  private async post(bot: SimBot, kind: 'message' | 'notification', body: Envelope): Promise<Omit<BotAnswer, 'id'>> {
    const url = kind === 'message' ? bot.messagesUrl : bot.notificationsUrl;
    const at = Date.now();
    if (!url) {
      const error = `bot ${bot.identifier} has no ${kind}s URL (setBotUrls)`;
      this.sent.push({ kind, bot: bot.identifier, url: '', at, body, status: 0, response: '', error });
      if (kind === 'message') throw new Error(`BlipSimulator: ${error}`);
      return { status: 0, body: '', error };
    }
    const timeout = this.options.botTimeoutMs ?? 10_000;
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bot.headers },
        body: JSON.stringify(body),
        headersTimeout: timeout,
        bodyTimeout: timeout,
        ...(this.agent ? { dispatcher: this.agent } : {}),
      });
      const text = await res.body.text();
      this.sent.push({ kind, bot: bot.identifier, url, at, body, status: res.statusCode, response: text });
      this.logLine(`→ ${bot.identifier} ${kind} ${String(body['event'] ?? body['type'])} → ${res.statusCode}`);
      return { status: res.statusCode, body: text };
    } catch (e) {
      const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      this.sent.push({ kind, bot: bot.identifier, url, at, body, status: 0, response: '', error });
      this.logLine(`→ ${bot.identifier} ${kind} failed: ${error}`);
      return { status: 0, body: '', error };
    }
  }

  // ─── helpers ────────────────────────────────────────────────────────────────────────────────

  private bot(identifier: string): SimBot {
    const b = this.bots.get(identifier);
    if (!b) throw new Error(`BlipSimulator: unknown bot ${identifier}`);
    return b;
  }

  private firstBot(): SimBot {
    // The constructor guarantees at least one bot.
    return this.bots.values().next().value as SimBot;
  }

  private defaultBot(router: string | undefined, identifier: string | undefined): SimBot {
    if (identifier !== undefined) return this.bot(identifier);
    if (router === undefined) return this.firstBot();
    const b = [...this.bots.values()].find((x) => x.router === router);
    if (!b) throw new Error(`BlipSimulator: no bot in router ${router}`);
    return b;
  }

  /** The configured bot a service name or bot identity designates in a router, if any. */
  private serviceBot(router: string, service: string): SimBot | undefined {
    const identity = identityOf(service).toLowerCase();
    return [...this.bots.values()].find(
      (b) => b.router === router && (b.service === service || botIdentity(b.identifier).toLowerCase() === identity),
    );
  }

  /** A customer the test did not add explicitly starts handed off to `bot`, to keep tests short. */
  private ensureCustomer(bot: SimBot, originator: string): CustomerRecord {
    const existing = this.state.customer(bot.router, originator);
    if (existing) return existing;
    this.addCustomer({ originator, router: bot.router, bot: bot.identifier });
    return this.state.customer(bot.router, originator)!;
  }

  private record(entry: Received): void {
    const list = entry.kind === 'message' ? this.received.messages : entry.kind === 'notification' ? this.received.notifications : this.received.commands;
    list.push(entry);
    this.all.push(entry);
    for (const w of [...this.waiters]) if (w.match(entry)) w.resolve(entry);
  }

  private logLine(line: string): void {
    if (this.options.log) process.stderr.write(`[blip-sim] ${line}\n`);
  }
}

function parseLoosely(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}
