/**
 * An in-process fake of Intercom's REST API, version 2.14, for tests, the sandbox and the benchmark
 * (DESIGN §8). It answers the routes an adapter needs (research §B.2–§B.3: contacts, conversations,
 * replies, manage, tags, `/me`), as the API description and research document them — Bearer auth
 * with `error.list` errors, 409 on duplicate contacts, `X-RateLimit-*` headers and 429s — and plays
 * the agents' side: admin replies, notes, assignment, close, snooze, each changing the conversation
 * and sending the signed webhook notification Intercom would (research §B.4).
 *
 * Facts it follows are cited where each shape is built (fixtures.ts); guesses say UNVERIFIED.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { registerControlRoutes } from './control.js';
import { Faults, RateLimiter, type RateState } from './faults.js';
import {
  API_VERSION,
  DEFAULT_ADMIN,
  DEFAULT_APP_ID,
  DEFAULT_TEAM,
  DecimalIds,
  ERR,
  KNOWN_VERSIONS,
  adminAuthor,
  adminBodyHtml,
  contact as buildContact,
  contactAuthor,
  contactBodyHtml,
  contactId,
  contentTypeOf,
  conversationShell,
  errorList,
  inboxHtml,
  part as buildPart,
  pingItem,
  plainText,
  unix,
  userMessage,
  type ErrorItem,
} from './fixtures.js';
import { Workspace, type ConversationRecord } from './state.js';
import type {
  AdminActionResult,
  AdminAttachment,
  AdminOptions,
  ApiRoute,
  Contact,
  Conversation,
  ConversationPart,
  DeliveryAttempt,
  FailRoute,
  InjectedFailure,
  IntercomSimulatorOptions,
  NotificationRecord,
  PartAttachment,
  RecordedRequest,
  SimAdmin,
  SimTeam,
  WebhookRetryPolicy,
  WebhookTopic,
} from './types.js';
import * as V from './validate.js';
import { DEFAULT_RETRY, WebhookDispatcher } from './webhooks.js';

export { API_VERSION, hubSignature, inboxHtml } from './fixtures.js';
export type * from './types.js';
export type { ContactFields } from './validate.js';

/** Every topic the simulator can emit (research §B.4). */
export const WEBHOOK_TOPICS: readonly WebhookTopic[] = [
  'conversation.user.created',
  'conversation.user.replied',
  'conversation.admin.replied',
  'conversation.admin.noted',
  'conversation.admin.assigned',
  'conversation.admin.closed',
  'conversation.admin.opened',
  'conversation.admin.snoozed',
  'conversation.admin.unsnoozed',
  'conversation_part.tag.created',
  'ping',
];

type Answer = { status: number; body: unknown };
type Ctx = { params: string[]; query: URLSearchParams; body: unknown };
interface RouteDef {
  method: string;
  route: ApiRoute;
  regex: RegExp;
  handle: (ctx: Ctx) => Answer | Promise<Answer>;
}

const ok = (body: unknown): Answer => ({ status: 200, body });
const err = (status: number, ...items: ErrorItem[]): Answer => ({ status, body: errorList(...items) });

export class IntercomSimulator {
  /** Every API request (not `/_sim/`) and its answer, oldest first. */
  readonly requests: RecordedRequest[] = [];
  /** Every notification the workspace produced, sent or not, oldest first. */
  readonly notifications: NotificationRecord[] = [];
  /** Every POST to the webhook URL, retries included, in the order they completed. */
  readonly deliveries: DeliveryAttempt[] = [];

  private readonly ws = new Workspace();
  private readonly faults = new Faults();
  private readonly limiter: RateLimiter;
  private readonly dispatcher: WebhookDispatcher;
  private readonly admins: SimAdmin[];
  private readonly teams: SimTeam[];
  private readonly tokens: ReadonlySet<string>;
  private readonly definedAttributes: ReadonlySet<string> | undefined;
  private readonly appId: string;
  private readonly now: () => number;
  private readonly routes: RouteDef[];
  private readonly conversationIds = new DecimalIds(215470000000000n);
  private readonly partIds = new DecimalIds(45760000000n);
  private readonly messageIds = new DecimalIds(403918000n);
  private tagSeq = 7522900;
  private app: FastifyInstance | undefined;
  private baseUrl: string | undefined;

  constructor(private readonly options: IntercomSimulatorOptions) {
    if (options.accessTokens.length === 0) throw new Error('IntercomSimulator: at least one access token');
    if (!options.clientSecret) throw new Error('IntercomSimulator: clientSecret is required (it signs webhooks)');
    this.tokens = new Set(options.accessTokens);
    this.appId = options.appId ?? DEFAULT_APP_ID;
    this.admins = (options.admins ?? [DEFAULT_ADMIN]).map((a) => ({ ...a }));
    if (this.admins.length === 0) throw new Error('IntercomSimulator: at least one admin');
    this.teams = (options.teams ?? [DEFAULT_TEAM]).map((t) => ({ ...t }));
    this.definedAttributes = options.customAttributes ? new Set(options.customAttributes) : undefined;
    this.now = options.now ?? Date.now;
    for (const t of options.tags ?? []) this.createTag(t.name, t.id);
    this.limiter = new RateLimiter(options.rateLimit?.limit ?? 1667, options.rateLimit?.windowSeconds ?? 10);
    const retry: Required<WebhookRetryPolicy> = { ...DEFAULT_RETRY, ...options.webhookRetry };
    if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) throw new Error('webhookRetry.maxAttempts must be a positive integer');
    if (retry.delaysMs.length === 0) throw new Error('webhookRetry.delaysMs must not be empty');
    this.dispatcher = new WebhookDispatcher({
      appId: this.appId,
      clientSecret: options.clientSecret,
      retry,
      now: this.now,
      log: (l) => this.logLine(l),
      onAttempt: (a) => this.deliveries.push(a),
    });
    if (options.webhook) {
      this.dispatcher.url = options.webhook.url;
      this.dispatcher.topics = options.webhook.topics ? new Set(options.webhook.topics) : undefined;
    }
    this.routes = this.buildRoutes();
  }

  // ─── lifecycle ──────────────────────────────────────────────────────────────────────────────

  /** Listens on 127.0.0.1; returns the base URL to use in place of `https://api.intercom.io`. */
  async start(port = 0): Promise<string> {
    if (this.app) throw new Error('IntercomSimulator: already started');
    // attachment_files carry up to 10 base64 files; Intercom's own body limit is not documented.
    const app = Fastify({ logger: false, bodyLimit: 20 * 1024 * 1024 });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    registerControlRoutes(app, this);
    app.all('/*', (req, reply) => this.handle(req, reply));
    const address = await app.listen({ host: '127.0.0.1', port });
    this.app = app;
    this.baseUrl = address.replace('localhost', '127.0.0.1');
    return this.baseUrl;
  }

  /** Cancels pending webhook retries, waits for deliveries in flight, closes the server. */
  async stop(): Promise<void> {
    await this.dispatcher.stop();
    const app = this.app;
    this.app = undefined;
    this.baseUrl = undefined;
    if (app) await app.close();
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('IntercomSimulator: not started');
    return this.baseUrl;
  }

  get clientSecret(): string {
    return this.options.clientSecret;
  }

  get workspaceId(): string {
    return this.appId;
  }

  /** Forgets contacts, conversations, logs, faults and pending retries; admins, teams, tags and the webhook stay. */
  reset(): void {
    this.dispatcher.cancelRetries();
    this.ws.clear();
    this.requests.length = 0;
    this.notifications.length = 0;
    this.deliveries.length = 0;
    this.faults.clear();
    this.limiter.clear();
  }

  // ─── recorded state ─────────────────────────────────────────────────────────────────────────

  /** All contacts, oldest first (live objects: do not mutate). */
  get contacts(): Contact[] {
    return [...this.ws.contacts.values()];
  }

  /** By Intercom id or external_id. */
  contact(idOrExternalId: string): Contact | undefined {
    return this.ws.contacts.get(idOrExternalId) ?? this.ws.contactByExternalId(idOrExternalId);
  }

  /** A conversation as GET /conversations/{id} shows it (a copy). */
  conversation(id: string): Conversation | undefined {
    const rec = this.ws.conversations.get(id);
    return rec ? this.ws.view(rec, rec.parts) : undefined;
  }

  /** All conversations, oldest first, each with all its parts. */
  conversations(): Conversation[] {
    return [...this.ws.conversations.values()].map((r) => this.ws.view(r, r.parts));
  }

  /** The most recently created conversation's id (the sandbox's `latest`). */
  latestConversationId(): string | undefined {
    return [...this.ws.conversations.keys()].at(-1);
  }

  /** Seeds a contact without an API call (no request logged, no rate limit). Throws on a duplicate. */
  addContact(fields: V.ContactFields): Contact {
    const checked = V.contactFields(fields, true, this.definedAttributes);
    if (!checked.ok) throw new Error(`IntercomSimulator.addContact: ${checked.error.message}`);
    const dup = this.duplicateOf(checked.value);
    if (dup) throw new Error(`IntercomSimulator.addContact: duplicate of ${dup.id}`);
    return this.insertContact(checked.value);
  }

  /** A tag that exists in the workspace (for `POST /conversations/{id}/tags`). */
  createTag(name: string, id?: string): { id: string; name: string } {
    const tag = { id: id ?? String(++this.tagSeq), name };
    this.ws.tags.set(tag.id, tag);
    return tag;
  }

  /** Bytes the simulator hosts at `${url}/_sim/files/{id}/{name}` (attachments' URLs). */
  file(id: string): { name: string; contentType: string; data: Buffer } | undefined {
    return this.ws.files.get(id);
  }

  notificationsFor(conversationId: string, topic?: WebhookTopic): NotificationRecord[] {
    return this.notifications.filter((n) => n.conversationId === conversationId && (topic === undefined || n.topic === topic));
  }

  /**
   * Resolves with the first truthy value of `probe(this)`, polling; rejects after `timeoutMs`.
   * e.g. `await sim.waitFor((s) => s.notifications.find((n) => n.state === 'delivered'))`.
   */
  async waitFor<T>(probe: (sim: this) => T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe(this);
      if (v !== undefined && v !== null && v !== false) return v;
      if (Date.now() > deadline) {
        throw new Error(`IntercomSimulator.waitFor: nothing within ${timeoutMs} ms (${this.requests.length} requests, ${this.deliveries.length} deliveries)`);
      }
      await sleep(5);
    }
  }

  // ─── webhook subscription ───────────────────────────────────────────────────────────────────

  /**
   * Sets (or, with undefined, removes) the app's webhook URL and topics. Saving a webhook sends a
   * `ping` (research §B.4: "A ping is sent when saved"); `ping: false` skips it.
   */
  async setWebhook(url: string | undefined, opts: { topics?: WebhookTopic[]; ping?: boolean } = {}): Promise<DeliveryAttempt | undefined> {
    this.dispatcher.url = url;
    this.dispatcher.topics = opts.topics ? new Set(opts.topics) : undefined;
    if (url === undefined || opts.ping === false) return undefined;
    return this.ping();
  }

  get webhookUrl(): string | undefined {
    return this.dispatcher.url;
  }

  /** Sends a `ping` notification now. */
  async ping(): Promise<DeliveryAttempt | undefined> {
    const { record, first } = this.dispatcher.emit('ping', pingItem());
    this.notifications.push(record);
    return first;
  }

  /** Sends a notification once more, now, as a duplicate delivery (same id and payload, `delivery_attempts` + 1). */
  async redeliver(notificationId: string): Promise<DeliveryAttempt> {
    const record = this.notifications.find((n) => n.id === notificationId);
    if (!record) throw new Error(`IntercomSimulator.redeliver: unknown notification ${notificationId}`);
    return this.dispatcher.redeliver(record);
  }

  // ─── the agents' side (what happens in the Inbox) ───────────────────────────────────────────

  /**
   * An admin replies in the Inbox: a `comment` part with an HTML body (plain text is turned into
   * Inbox HTML: `<p class="no-margin">`, `<br>`, links) → `conversation.admin.replied`.
   * `close: true` is "reply and close": the comment plus a `close` part, and only
   * `conversation.admin.replied` is sent, with `state: closed` ([3p] PipedreamHQ/pipedream#354, research §D.5; UNVERIFIED).
   */
  async adminReply(
    conversationId: string,
    html: string,
    opts: AdminOptions & { attachments?: AdminAttachment[]; close?: boolean } = {},
  ): Promise<AdminActionResult> {
    const rec = this.mustConversation(conversationId);
    const admin = this.mustAdmin(opts.adminId);
    const attachments = (opts.attachments ?? []).map((a) => this.adminAttachment(a));
    const parts = [this.adminComment(rec, admin, 'comment', html.trim().startsWith('<') ? html : inboxHtml(html), attachments, undefined, null)];
    if (opts.close) parts.push(this.closePart(rec, admin, undefined, null));
    return this.notify(rec, 'conversation.admin.replied', parts);
  }

  /** An internal note (never shown to the customer) → `conversation.admin.noted`. */
  async adminNote(conversationId: string, html: string, opts: AdminOptions = {}): Promise<AdminActionResult> {
    const rec = this.mustConversation(conversationId);
    const admin = this.mustAdmin(opts.adminId);
    const part = this.adminComment(rec, admin, 'note', html.trim().startsWith('<') ? html : inboxHtml(html), [], undefined, null);
    return this.notify(rec, 'conversation.admin.noted', [part]);
  }

  /** Assigns to an admin (or a team with `team: true`; `'0'` unassigns) → `conversation.admin.assigned`. */
  async assign(conversationId: string, assigneeId: string, opts: AdminOptions & { team?: boolean; body?: string } = {}): Promise<AdminActionResult> {
    const rec = this.mustConversation(conversationId);
    const admin = this.mustAdmin(opts.adminId);
    const type = opts.team ? 'team' : 'admin';
    if (!this.assigneeExists(type, assigneeId)) throw new Error(`IntercomSimulator.assign: unknown ${type} ${assigneeId}`);
    const body = opts.body === undefined ? undefined : opts.body.trim().startsWith('<') ? opts.body : inboxHtml(opts.body);
    const part = this.assignPart(rec, admin, type, assigneeId, body, null);
    return this.notify(rec, 'conversation.admin.assigned', [part]);
  }

  /** Closes (optionally with a closing message) → `conversation.admin.closed`. */
  async close(conversationId: string, opts: AdminOptions & { html?: string } = {}): Promise<AdminActionResult> {
    const rec = this.mustConversation(conversationId);
    const admin = this.mustAdmin(opts.adminId);
    const body = opts.html === undefined ? undefined : opts.html.trim().startsWith('<') ? opts.html : inboxHtml(opts.html);
    return this.notify(rec, 'conversation.admin.closed', [this.closePart(rec, admin, body, null)]);
  }

  /** Snoozes until `until` (UNIX seconds; default one hour from now) → `conversation.admin.snoozed`. */
  async snooze(conversationId: string, opts: AdminOptions & { until?: number } = {}): Promise<AdminActionResult> {
    const rec = this.mustConversation(conversationId);
    const admin = this.mustAdmin(opts.adminId);
    const until = opts.until ?? unix(this.now()) + 3600;
    return this.notify(rec, 'conversation.admin.snoozed', [this.snoozePart(rec, admin, until, null)]);
  }

  /** Reopens → `conversation.admin.opened` (or `.unsnoozed` when it was snoozed; UNVERIFIED which one Intercom sends). */
  async open(conversationId: string, opts: AdminOptions = {}): Promise<AdminActionResult> {
    const rec = this.mustConversation(conversationId);
    const admin = this.mustAdmin(opts.adminId);
    const wasSnoozed = rec.shell.state === 'snoozed';
    const part = this.openPart(rec, admin, null);
    return this.notify(rec, wasSnoozed ? 'conversation.admin.unsnoozed' : 'conversation.admin.opened', [part]);
  }

  // ─── fault injection ────────────────────────────────────────────────────────────────────────

  /** The next `count` requests to `route` (or any, with `*`) get `status`, before auth. */
  failNext(route: FailRoute, f: InjectedFailure): void {
    this.faults.failNext(route, f);
  }

  /** While down, API requests get their connection reset (default) or the given status. */
  setDown(down: boolean, how: 'reset' | number = 'reset'): void {
    this.faults.down = down ? how : false;
  }

  /** Delay before every API answer. */
  setLatency(ms: number): void {
    this.faults.latencyMs = Math.max(0, ms);
  }

  /** Changes the per-window request limit (the current window's count is kept). */
  setRateLimit(limit: number): void {
    if (!Number.isInteger(limit) || limit < 1) throw new Error('setRateLimit: limit must be a positive integer');
    this.limiter.limit = limit;
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

    const [rawPath = '/', rawQuery = ''] = req.url.split('?', 2) as [string, string?];
    const path = rawPath.length > 1 ? rawPath.replace(/\/+$/, '') : rawPath;
    const raw = typeof req.body === 'string' ? req.body : '';
    let body: unknown = raw;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        // kept as text; answered below once the request is authenticated
      }
    }
    const match = this.match(req.method, path);
    const version = headerValue(req.headers['intercom-version']);
    const headers: Record<string, string> = {};
    let rate: RateState | undefined;

    const answer = await (async (): Promise<Answer> => {
      if (typeof this.faults.down === 'number') return err(this.faults.down, ERR.serverError(this.faults.down));
      const injected = this.faults.take(match?.def.route);
      if (injected) {
        if (injected.retryAfter !== undefined) headers['retry-after'] = String(injected.retryAfter);
        if (injected.status === 429) {
          rate = { ...this.limiter.peek(this.now()), remaining: 0 };
          return err(429, ERR.rateLimited(this.limiter.limit, this.limiter.windowSeconds));
        }
        return err(injected.status, injected.status >= 500 ? ERR.serverError(injected.status) : ERR.invalid(`Injected ${injected.status}`));
      }
      // research §B.1: Bearer access token; spec: every 401 example is this body.
      const token = /^bearer\s+(\S+)\s*$/i.exec(headerValue(req.headers.authorization) ?? '')?.[1];
      if (!token || !this.tokens.has(token)) return err(401, ERR.unauthorized());
      // [doc] rate-limiting: authenticated responses carry the headers; 429 beyond the limit.
      rate = this.limiter.take(this.now());
      if (rate.exceeded) return err(429, ERR.rateLimited(rate.limit, this.limiter.windowSeconds));
      if (version !== undefined && !KNOWN_VERSIONS.includes(version)) return err(400, ERR.badVersion(version));
      if (!match) return err(404, ERR.notFound());
      if (raw !== '' && body === raw) return err(400, ERR.invalid('The request body is not valid JSON'));
      return match.def.handle({ params: match.params, query: new URLSearchParams(rawQuery), body: raw === '' ? undefined : body });
    })();

    if (rate) {
      headers['x-ratelimit-limit'] = String(rate.limit);
      headers['x-ratelimit-remaining'] = String(rate.remaining);
      headers['x-ratelimit-reset'] = String(rate.reset);
    }
    // Research §C asks to echo the version; that Intercom sends this response header is UNVERIFIED.
    headers['intercom-version'] = version ?? API_VERSION;
    this.requests.push({
      at: this.now(),
      method: req.method,
      path,
      query: rawQuery,
      route: match?.def.route,
      headers: { ...req.headers },
      body: raw === '' ? '' : body,
      status: answer.status,
      response: answer.body,
      responseHeaders: { ...headers },
    });
    this.logLine(`${req.method} ${path} → ${answer.status}`);
    reply.code(answer.status).headers(headers);
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(answer.body));
  }

  private match(method: string, path: string): { def: RouteDef; params: string[] } | undefined {
    for (const def of this.routes) {
      if (def.method !== method) continue;
      const m = def.regex.exec(path);
      if (m) return { def, params: m.slice(1).map((p) => decodeURIComponent(p)) };
    }
    return undefined;
  }

  private buildRoutes(): RouteDef[] {
    const r = (route: ApiRoute, handle: RouteDef['handle']): RouteDef => {
      const [method, template] = route.split(' ') as [string, string];
      const regex = new RegExp(`^${template.replace(/\{[^}]+\}/g, '([^/]+)')}$`);
      return { method, route, regex, handle };
    };
    // Literal segments first: find_by_external_id and search before {contact_id}.
    return [
      r('GET /me', () => ok(this.me())),
      r('GET /admins', () => ok({ type: 'admin.list', admins: this.admins.map((a) => this.adminView(a)) })),
      r('GET /admins/{admin_id}', ({ params }) => {
        const a = this.admins.find((x) => x.id === params[0]);
        return a ? ok(this.adminView(a)) : err(404, ERR.adminNotFound());
      }),
      r('GET /contacts/find_by_external_id/{external_id}', ({ params }) => this.findByExternalId(params[0]!)),
      r('POST /contacts/search', ({ body }) => this.searchContacts(body)),
      r('POST /contacts', ({ body }) => this.createContact(body)),
      r('GET /contacts/{contact_id}', ({ params }) => {
        const c = this.ws.contacts.get(params[0]!);
        return c ? ok(c) : err(404, ERR.notFound()); // 404 body UNVERIFIED (ShowContact documents 200/401 only)
      }),
      r('PUT /contacts/{contact_id}', ({ params, body }) => this.updateContact(params[0]!, body)),
      r('POST /conversations', ({ body }) => this.createConversation(body)),
      r('GET /conversations/{conversation_id}', ({ params, query }) => this.getConversation(params[0]!, query)),
      r('PUT /conversations/{conversation_id}', ({ params, body }) => this.updateConversation(params[0]!, body)),
      r('POST /conversations/{conversation_id}/reply', ({ params, body }) => this.replyToConversation(params[0]!, body)),
      r('POST /conversations/{conversation_id}/parts', ({ params, body }) => this.manageConversation(params[0]!, body)),
      r('POST /conversations/{conversation_id}/tags', ({ params, body }) => this.attachTag(params[0]!, body)),
      r('DELETE /conversations/{conversation_id}/tags/{tag_id}', ({ params, body }) => this.detachTag(params[0]!, params[1]!, body)),
    ];
  }

  // ─── admins ─────────────────────────────────────────────────────────────────────────────────

  /** spec `identifyAdmin` "Successful response": the admin with its app. */
  private me(): Record<string, unknown> {
    const a = this.admins[0]!;
    return {
      type: 'admin',
      id: a.id,
      email: a.email,
      name: a.name,
      email_verified: true,
      app: {
        type: 'app',
        id_code: this.appId,
        name: 'Simulated workspace',
        created_at: 1734537243,
        secure: false,
        identity_verification: false,
        timezone: 'America/Los_Angeles',
        region: 'US',
      },
      avatar: { type: 'avatar', image_url: null },
      has_inbox_seat: true,
    };
  }

  /** spec `listAdmins` "Successful response" item. */
  private adminView(a: SimAdmin): Record<string, unknown> {
    return { type: 'admin', email: a.email, id: a.id, name: a.name, away_mode_enabled: false, away_mode_reassign: false, has_inbox_seat: true, team_ids: [] };
  }

  // ─── contacts ───────────────────────────────────────────────────────────────────────────────

  /** The contact an external_id or email already belongs to (research §B.2: 409 on either). */
  private duplicateOf(f: V.ContactFields, except?: string): Contact | undefined {
    const byExt = f.external_id !== undefined ? this.ws.contactByExternalId(f.external_id) : undefined;
    if (byExt && byExt.id !== except) return byExt;
    // research §B.2 / [3p] PostHog/posthog#72192: a create after a search by email that found nothing got the 409.
    const byEmail = f.email ? this.ws.contactByEmail(f.email) : undefined;
    if (byEmail && byEmail.id !== except) return byEmail;
    return undefined;
  }

  private insertContact(f: V.ContactFields): Contact {
    const now = this.now();
    const c = buildContact({
      id: contactId(now),
      workspaceId: this.appId,
      // spec `CreateContact`: the request {email} alone comes back with role "user".
      role: f.role ?? 'user',
      externalId: f.external_id ?? null,
      email: f.email ?? null,
      phone: f.phone ?? null,
      name: f.name ?? null,
      avatar: f.avatar ?? null,
      ownerId: f.owner_id ?? null,
      signedUpAt: f.signed_up_at ?? null,
      lastSeenAt: f.last_seen_at ?? null,
      unsubscribed: f.unsubscribed_from_emails ?? false,
      customAttributes: f.custom_attributes ?? {},
      now,
    });
    this.ws.contacts.set(c.id, c);
    this.ws.indexedAt.set(c.id, now);
    return c;
  }

  private createContact(body: unknown): Answer {
    const f = V.contactFields(body, true, this.definedAttributes);
    if (!f.ok) return err(400, f.error);
    const dup = this.duplicateOf(f.value);
    if (dup) return err(409, ERR.conflict(dup.id));
    return ok(this.insertContact(f.value)); // 200, not 201 (spec CreateContact)
  }

  private updateContact(id: string, body: unknown): Answer {
    const c = this.ws.contacts.get(id);
    if (!c) return err(404, ERR.notFound());
    const f = V.contactFields(body, false, this.definedAttributes);
    if (!f.ok) return err(400, f.error);
    const dup = this.duplicateOf(f.value, c.id);
    if (dup) return err(409, ERR.conflict(dup.id)); // UNVERIFIED on update
    const v = f.value;
    if (v.role !== undefined) c.role = v.role;
    if (v.external_id !== undefined) c.external_id = v.external_id;
    if (v.email !== undefined) c.email = v.email;
    if (v.phone !== undefined) c.phone = v.phone;
    if (v.name !== undefined) c.name = v.name;
    if (v.avatar !== undefined) c.avatar = v.avatar === null ? null : { type: 'avatar', image_url: v.avatar };
    if (v.owner_id !== undefined) c.owner_id = v.owner_id;
    if (v.signed_up_at !== undefined) c.signed_up_at = v.signed_up_at;
    if (v.last_seen_at !== undefined) c.last_seen_at = v.last_seen_at;
    if (v.unsubscribed_from_emails != null) c.unsubscribed_from_emails = v.unsubscribed_from_emails;
    // Attributes not named are kept (a PUT of one attribute does not erase the others). UNVERIFIED.
    if (v.custom_attributes) c.custom_attributes = { ...c.custom_attributes, ...v.custom_attributes };
    c.updated_at = unix(this.now());
    for (const rec of this.ws.conversations.values()) {
      for (const ref of rec.shell.contacts.contacts) if (ref.id === c.id) ref.external_id = c.external_id;
    }
    return ok(c);
  }

  /** "Note that this endpoint only supports users and not leads" (ShowContactByExternalId). 404 body UNVERIFIED. */
  /** spec `ShowContactByExternalId`: 200 with the contact, "only supports users and not leads"; none: see `unknownExternalId`. */
  private findByExternalId(externalId: string): Answer {
    const c = this.ws.contactByExternalId(externalId);
    if (c && c.role === 'user') return ok(c);
    if (this.options.unknownExternalId === 'not-found') return err(404, ERR.userNotFound());
    return ok({ type: 'list', data: [], total_count: 0 });
  }

  /** `contact_list` with cursor pages (research §B.1 pagination). The cursor's form is ours. */
  private searchContacts(body: unknown): Answer {
    const q = V.searchRequest(body);
    if (!q.ok) return err(400, q.error);
    const found = this.ws.search(q.value.query, this.now(), this.options.searchIndexLagMs ?? 0);
    const { perPage, startingAfter } = q.value;
    const offset = startingAfter ? decodeCursor(startingAfter) : 0;
    if (offset === undefined) return err(400, ERR.invalid('starting_after is not a valid cursor', 'starting_after'));
    const page = found.slice(offset, offset + perPage);
    const totalPages = Math.ceil(found.length / perPage);
    const next = offset + perPage < found.length ? { next: { per_page: perPage, starting_after: encodeCursor(offset + perPage) } } : {};
    return ok({
      type: 'list',
      data: page,
      total_count: found.length,
      pages: { type: 'pages', ...next, page: Math.floor(offset / perPage) + 1, per_page: perPage, total_pages: totalPages },
    });
  }

  // ─── conversations ──────────────────────────────────────────────────────────────────────────

  private createConversation(body: unknown): Answer {
    const b = V.createConversation(body);
    if (!b.ok) return err(400, b.error);
    const c = this.ws.contacts.get(b.value.from.id);
    if (!c) return err(404, ERR.userNotFound()); // spec createConversation 404 "Contact Not Found"
    const at = b.value.createdAt !== undefined ? b.value.createdAt * 1000 : this.now();
    const shell = conversationShell({
      id: this.conversationIds.next(),
      messageId: this.messageIds.next(),
      contact: c,
      body: contactBodyHtml(b.value.body),
      subject: b.value.subject ?? '',
      attachments: b.value.attachmentUrls.map(urlAttachment),
      now: at,
    });
    const rec: ConversationRecord = { shell, parts: [] };
    this.ws.conversations.set(shell.id, rec);
    c.last_replied_at = unix(at);
    // research §B.3: "It fires conversation.user.created"; the first message is in item.source.
    this.emit(rec, 'conversation.user.created', []);
    return ok(userMessage({ id: shell.source.id, createdAt: shell.created_at, body: b.value.body, conversationId: shell.id }));
  }

  private getConversation(id: string, query: URLSearchParams): Answer {
    const rec = this.ws.conversations.get(id);
    if (!rec) return err(404, ERR.notFound());
    const view = this.ws.view(rec);
    if (query.get('display_as') === 'plaintext') {
      view.source.body = plainText(view.source.body) ?? '';
      for (const p of view.conversation_parts.conversation_parts) p.body = plainText(p.body);
    }
    return ok(view);
  }

  private updateConversation(id: string, body: unknown): Answer {
    const rec = this.ws.conversations.get(id);
    if (!rec) return err(404, ERR.notFound());
    const u = V.updateConversation(body);
    if (!u.ok) return err(400, u.error);
    if (u.value.read !== undefined) rec.shell.read = u.value.read;
    if (u.value.title !== undefined) rec.shell.title = u.value.title;
    if (u.value.customAttributes) rec.shell.custom_attributes = { ...rec.shell.custom_attributes, ...u.value.customAttributes };
    rec.shell.updated_at = unix(this.now());
    return ok(this.ws.view(rec));
  }

  /**
   * `conversation_id` may be "last": "reply to the last part of the conversation" — for a contact,
   * the contact's most recently updated conversation; for an admin, the workspace's (UNVERIFIED).
   */
  private replyToConversation(id: string, body: unknown): Answer {
    const r = V.reply(body);
    if (!r.ok) return err(400, r.error);
    const reply = r.value;
    if (reply.type === 'user') {
      const by = reply.by;
      const c =
        'intercom_user_id' in by
          ? this.ws.contacts.get(by.intercom_user_id)
          : 'user_id' in by
            ? this.ws.contactByExternalId(by.user_id)
            : this.ws.contactByEmail(by.email);
      if (!c) return err(404, ERR.userNotFound()); // UNVERIFIED body
      const rec = id === 'last' ? this.lastConversation(c.id) : this.ws.conversations.get(id);
      if (!rec) return err(404, ERR.notFound());
      // A contact can only write in conversations they are part of. UNVERIFIED error.
      if (!rec.shell.contacts.contacts.some((x) => x.id === c.id)) return err(404, ERR.userNotFound());
      const attachments = [
        ...reply.attachmentUrls.map(urlAttachment),
        ...reply.attachmentFiles.map((f) => this.hostedAttachment(f.name, f.contentType, f.data)),
      ];
      const part = this.contactPart(rec, c, reply, attachments);
      this.emit(rec, 'conversation.user.replied', [part]);
      return ok(this.ws.view(rec));
    }
    const admin = this.admins.find((a) => a.id === reply.adminId);
    if (!admin) return err(404, ERR.adminNotFound());
    const rec = id === 'last' ? this.lastConversation() : this.ws.conversations.get(id);
    if (!rec) return err(404, ERR.notFound());
    const attachments = [...reply.attachmentUrls.map(urlAttachment), ...reply.attachmentFiles.map((f) => this.hostedAttachment(f.name, f.contentType, f.data))];
    const appCode = this.options.appPackageCode ?? null;
    const html = reply.body === undefined ? null : adminBodyHtml(reply.body);
    const part = this.adminComment(rec, admin, reply.messageType, html, attachments, reply.replyOptions, appCode);
    this.emit(rec, reply.messageType === 'note' ? 'conversation.admin.noted' : 'conversation.admin.replied', [part]);
    return ok(this.ws.view(rec));
  }

  private manageConversation(id: string, body: unknown): Answer {
    const m = V.manage(body);
    if (!m.ok) return err(400, m.error);
    const rec = this.ws.conversations.get(id);
    if (!rec) return err(404, ERR.notFound());
    const admin = this.admins.find((a) => a.id === m.value.adminId);
    if (!admin) return err(404, ERR.adminNotFound());
    const appCode = this.options.appPackageCode ?? null;
    const v = m.value;
    switch (v.messageType) {
      case 'close':
        this.emit(rec, 'conversation.admin.closed', [this.closePart(rec, admin, v.body === undefined ? undefined : adminBodyHtml(v.body), appCode)]);
        break;
      case 'snoozed':
        this.emit(rec, 'conversation.admin.snoozed', [this.snoozePart(rec, admin, v.snoozedUntil, appCode)]);
        break;
      case 'open': {
        const wasSnoozed = rec.shell.state === 'snoozed';
        this.emit(rec, wasSnoozed ? 'conversation.admin.unsnoozed' : 'conversation.admin.opened', [this.openPart(rec, admin, appCode)]);
        break;
      }
      case 'assignment':
        if (!this.assigneeExists(v.assigneeType, v.assigneeId)) return err(404, ERR.assigneeNotFound());
        this.emit(rec, 'conversation.admin.assigned', [
          this.assignPart(rec, admin, v.assigneeType, v.assigneeId, v.body === undefined ? undefined : adminBodyHtml(v.body), appCode),
        ]);
        break;
    }
    return ok(this.ws.view(rec));
  }

  /** spec `attachTagToConversation`: answers the tag; 404 "Conversation not found"; unknown tag → 404 tag_not_found (UNVERIFIED here). */
  private attachTag(id: string, body: unknown): Answer {
    const rec = this.ws.conversations.get(id);
    if (!rec) return err(404, ERR.conversationNotFound());
    const t = V.tagAttach(body);
    if (!t.ok) return err(400, t.error);
    const tag = this.ws.tags.get(t.value.tagId);
    if (!tag) return err(404, ERR.tagNotFound());
    if (!this.admins.some((a) => a.id === t.value.adminId)) return err(404, ERR.adminNotFound());
    let applied = rec.shell.tags.tags.find((x) => x.id === tag.id);
    if (!applied) {
      applied = { type: 'tag', id: tag.id, name: tag.name, applied_at: unix(this.now()), applied_by: { type: 'admin', id: t.value.adminId } };
      rec.shell.tags.tags.push(applied);
      rec.shell.updated_at = unix(this.now());
    }
    return ok(structuredClone(applied));
  }

  private detachTag(id: string, tagId: string, body: unknown): Answer {
    const rec = this.ws.conversations.get(id);
    if (!rec) return err(404, ERR.conversationNotFound());
    const t = V.tagDetach(body);
    if (!t.ok) return err(400, t.error);
    const i = rec.shell.tags.tags.findIndex((x) => x.id === tagId);
    if (i < 0) return err(404, ERR.tagNotFound());
    const [removed] = rec.shell.tags.tags.splice(i, 1);
    rec.shell.updated_at = unix(this.now());
    return ok(removed);
  }

  private lastConversation(contactIdValue?: string): ConversationRecord | undefined {
    let best: ConversationRecord | undefined;
    for (const rec of this.ws.conversations.values()) {
      if (contactIdValue !== undefined && !rec.shell.contacts.contacts.some((x) => x.id === contactIdValue)) continue;
      if (!best || rec.shell.updated_at >= best.shell.updated_at) best = rec;
    }
    return best;
  }

  // ─── parts: what each action does to a conversation ─────────────────────────────────────────

  private nextPart(rec: ConversationRecord, args: Omit<Parameters<typeof buildPart>[0], 'id' | 'now' | 'state'>): ConversationPart {
    const p = buildPart({ ...args, id: this.partIds.next(), state: rec.shell.state, now: this.now() });
    rec.parts.push(p);
    rec.shell.updated_at = p.created_at;
    return p;
  }

  /**
   * A contact's reply. spec "User reply": on a closed conversation the part is `open` (it reopens)
   * and `waiting_since` is set. A reply to a snoozed conversation also reopens it with a `comment`
   * part (UNVERIFIED).
   */
  private contactPart(rec: ConversationRecord, c: Contact, reply: Extract<V.Reply, { type: 'user' }>, attachments: PartAttachment[]): ConversationPart {
    const s = rec.shell;
    const wasClosed = s.state === 'closed';
    s.state = 'open';
    s.open = true;
    s.snoozed_until = null;
    s.read = false;
    const quick = reply.messageType === 'quick_reply';
    const p = this.nextPart(rec, {
      partType: wasClosed ? 'open' : quick ? 'quick_reply' : 'comment',
      body: reply.body === undefined ? null : contactBodyHtml(reply.body),
      author: contactAuthor(c),
      attachments,
      // conversation_part_metadata.quick_reply_uuid: "the quick reply option that was clicked by the end user".
      ...(quick && reply.replyOptions?.[0] ? { metadata: { quick_reply_uuid: reply.replyOptions[0].uuid } } : {}),
      appPackageCode: this.options.appPackageCode ?? null,
    });
    s.waiting_since ??= p.created_at;
    c.last_replied_at = p.created_at;
    return p;
  }

  /** An admin comment / note / quick reply. A comment answers the customer: `waiting_since` becomes null ("Set to null if last reply is from an Admin"). */
  private adminComment(
    rec: ConversationRecord,
    admin: SimAdmin,
    kind: 'comment' | 'note' | 'quick_reply',
    html: string | null,
    attachments: PartAttachment[],
    replyOptions: Array<{ text: string; uuid: string }> | undefined,
    appPackageCode: string | null,
  ): ConversationPart {
    const p = this.nextPart(rec, {
      partType: kind,
      body: html,
      author: adminAuthor(admin),
      attachments,
      ...(replyOptions ? { metadata: { quick_reply_options: replyOptions.map((o) => ({ ...o, translations: null })) } } : {}),
      appPackageCode,
    });
    if (kind !== 'note') rec.shell.waiting_since = null;
    return p;
  }

  private closePart(rec: ConversationRecord, admin: SimAdmin, html: string | undefined, appPackageCode: string | null): ConversationPart {
    const s = rec.shell;
    s.state = 'closed';
    s.open = false;
    s.snoozed_until = null;
    s.waiting_since = null;
    // spec manageConversation "Close a conversation": part_type close with the body, state closed.
    return this.nextPart(rec, { partType: 'close', body: html ?? null, author: adminAuthor(admin), appPackageCode });
  }

  /** spec "Snooze a conversation": state snoozed, `open` stays true, `snoozed_until` set, part body null. */
  private snoozePart(rec: ConversationRecord, admin: SimAdmin, until: number, appPackageCode: string | null): ConversationPart {
    const s = rec.shell;
    s.state = 'snoozed';
    s.open = true;
    s.snoozed_until = until;
    return this.nextPart(rec, { partType: 'snoozed', body: null, author: adminAuthor(admin), appPackageCode });
  }

  /** spec "Open a conversation": part_type open, body null. */
  private openPart(rec: ConversationRecord, admin: SimAdmin, appPackageCode: string | null): ConversationPart {
    const s = rec.shell;
    s.state = 'open';
    s.open = true;
    s.snoozed_until = null;
    return this.nextPart(rec, { partType: 'open', body: null, author: adminAuthor(admin), appPackageCode });
  }

  /**
   * spec "Assign a conversation": on a closed conversation the part is `assign_and_reopen` with
   * `assigned_to {type: admin, id}` and the conversation reopens; otherwise `assignment`
   * (`part_type` list, research §B.3). "Set 0 … to no admin or team"; the `assigned_to` of an
   * unassignment is UNVERIFIED (we send `{type: "nobody_admin", id: null}`).
   */
  private assignPart(
    rec: ConversationRecord,
    admin: SimAdmin,
    type: 'admin' | 'team',
    assigneeId: string,
    html: string | undefined,
    appPackageCode: string | null,
  ): ConversationPart {
    const s = rec.shell;
    const reopen = s.state === 'closed';
    if (reopen) {
      s.state = 'open';
      s.open = true;
    }
    const id = assigneeId === '0' ? null : Number(assigneeId);
    if (type === 'admin') s.admin_assignee_id = id;
    else s.team_assignee_id = id;
    return this.nextPart(rec, {
      partType: reopen ? 'assign_and_reopen' : 'assignment',
      body: html ?? null,
      author: adminAuthor(admin),
      assignedTo: assigneeId === '0' ? { type: 'nobody_admin', id: null } : { type, id: assigneeId },
      appPackageCode,
    });
  }

  private assigneeExists(type: 'admin' | 'team', id: string): boolean {
    if (id === '0') return true;
    return type === 'admin' ? this.admins.some((a) => a.id === id) : this.teams.some((t) => t.id === id);
  }

  // ─── notifications ──────────────────────────────────────────────────────────────────────────

  private emit(
    rec: ConversationRecord,
    topic: WebhookTopic,
    parts: ConversationPart[],
  ): { record: NotificationRecord; first: Promise<DeliveryAttempt | undefined> } {
    const item = this.options.webhookParts === 'all' ? this.ws.view(rec) : this.ws.view(rec, parts);
    const out = this.dispatcher.emit(topic, item, rec.shell.id);
    this.notifications.push(out.record);
    return out;
  }

  private async notify(rec: ConversationRecord, topic: WebhookTopic, parts: ConversationPart[]): Promise<AdminActionResult> {
    const { record, first } = this.emit(rec, topic, parts);
    const attempt = await first;
    return { conversation: this.ws.view(rec, rec.parts), parts: structuredClone(parts), notification: record, ...(attempt ? { firstAttempt: attempt } : {}) };
  }

  // ─── attachments ────────────────────────────────────────────────────────────────────────────

  private hostedAttachment(name: string, contentType: string, data: Buffer, dims: { width?: number; height?: number } = {}): PartAttachment {
    const f = this.ws.host(name, contentType, data);
    return {
      type: 'upload',
      name,
      url: `${this.url}/_sim/files/${f.id}/${encodeURIComponent(name)}`,
      content_type: contentType,
      filesize: data.length,
      ...dims,
    };
  }

  /** An Inbox attachment, shaped as spec `part_attachment`; bytes are hosted by the simulator. */
  private adminAttachment(a: AdminAttachment): PartAttachment {
    const dims = { ...(a.width !== undefined ? { width: a.width } : {}), ...(a.height !== undefined ? { height: a.height } : {}) };
    if (a.data !== undefined) return this.hostedAttachment(a.name, a.contentType, Buffer.isBuffer(a.data) ? a.data : Buffer.from(a.data), dims);
    if (a.url === undefined) throw new Error('IntercomSimulator: an attachment needs url or data');
    return { type: 'upload', name: a.name, url: a.url, content_type: a.contentType, ...dims };
  }

  // ─── helpers ────────────────────────────────────────────────────────────────────────────────

  private mustConversation(id: string): ConversationRecord {
    const rec = this.ws.conversations.get(id === 'latest' ? (this.latestConversationId() ?? '') : id);
    if (!rec) throw new Error(`IntercomSimulator: unknown conversation ${id}`);
    return rec;
  }

  private mustAdmin(id: string | undefined): SimAdmin {
    const a = id === undefined ? this.admins[0] : this.admins.find((x) => x.id === id);
    if (!a) throw new Error(`IntercomSimulator: unknown admin ${id}`);
    return a;
  }

  private logLine(line: string): void {
    if (this.options.log) process.stderr.write(`[intercom-sim] ${line}\n`);
  }
}

/**
 * `attachment_urls` become attachments pointing at the given URL. Whether Intercom copies the file
 * to its CDN, and the size/dimensions it records, is UNVERIFIED: we keep the URL and leave those out.
 */
function urlAttachment(url: string): PartAttachment {
  const name = decodeURIComponent(new URL(url).pathname.split('/').pop() || 'attachment');
  return { type: 'upload', name, url, content_type: contentTypeOf(name) };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function encodeCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

function decodeCursor(s: string): number | undefined {
  const m = /^offset:(\d+)$/.exec(Buffer.from(s, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}
