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
import Fastify, { type FastifyInstance } from 'fastify';
import { registerControlRoutes } from './control.js';
import { Faults, RateLimiter } from './faults.js';
import { DEFAULT_ADMIN, DEFAULT_APP_ID, DEFAULT_TEAM, DecimalIds, inboxHtml, pingItem, unix } from './fixtures.js';
import { Workspace, type ConversationRecord } from './state.js';
import type {
  AdminActionResult,
  AdminAttachment,
  AdminOptions,
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
import { type RouteDef, handle, buildRoutes, duplicateOf, insertContact } from './routes.js';
import { adminComment, closePart, snoozePart, openPart, assignPart, assigneeExists } from './conversations.js';
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

export class IntercomSimulator {
  /** Every API request (not `/_sim/`) and its answer, oldest first. */
  readonly requests: RecordedRequest[] = [];
  /** Every notification the workspace produced, sent or not, oldest first. */
  readonly notifications: NotificationRecord[] = [];
  /** Every POST to the webhook URL, retries included, in the order they completed. */
  readonly deliveries: DeliveryAttempt[] = [];

  /** @internal (routes.ts, conversations.ts) */
  readonly ws = new Workspace();
  /** @internal (routes.ts, conversations.ts) */
  readonly faults = new Faults();
  /** @internal (routes.ts, conversations.ts) */
  readonly limiter: RateLimiter;
  /** @internal (routes.ts, conversations.ts) */
  readonly dispatcher: WebhookDispatcher;
  /** @internal (routes.ts, conversations.ts) */
  readonly admins: SimAdmin[];
  /** @internal (routes.ts, conversations.ts) */
  readonly teams: SimTeam[];
  /** @internal (routes.ts, conversations.ts) */
  readonly tokens: ReadonlySet<string>;
  /** @internal (routes.ts, conversations.ts) */
  readonly definedAttributes: ReadonlySet<string> | undefined;
  /** @internal (routes.ts, conversations.ts) */
  readonly appId: string;
  /** @internal (routes.ts, conversations.ts) */
  readonly now: () => number;
  /** @internal (routes.ts, conversations.ts) */
  readonly routes: RouteDef[];
  /** @internal (routes.ts, conversations.ts) */
  readonly conversationIds = new DecimalIds(215470000000000n);
  /** @internal (routes.ts, conversations.ts) */
  readonly partIds = new DecimalIds(45760000000n);
  /** @internal (routes.ts, conversations.ts) */
  readonly messageIds = new DecimalIds(403918000n);
  /** @internal (routes.ts, conversations.ts) */
  tagSeq = 7522900;
  /** @internal (routes.ts, conversations.ts) */
  app: FastifyInstance | undefined;
  /** @internal (routes.ts, conversations.ts) */
  baseUrl: string | undefined;

  constructor(readonly options: IntercomSimulatorOptions) {
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
    this.routes = buildRoutes(this);
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
    app.all('/*', (req, reply) => handle(this, req, reply));
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
    const dup = duplicateOf(this, checked.value);
    if (dup) throw new Error(`IntercomSimulator.addContact: duplicate of ${dup.id}`);
    return insertContact(this, checked.value);
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
    const parts = [adminComment(this, rec, admin, 'comment', html.trim().startsWith('<') ? html : inboxHtml(html), attachments, undefined, null)];
    if (opts.close) parts.push(closePart(this, rec, admin, undefined, null));
    return this.notify(rec, 'conversation.admin.replied', parts);
  }

  /** An internal note (never shown to the customer) → `conversation.admin.noted`. */
  async adminNote(conversationId: string, html: string, opts: AdminOptions = {}): Promise<AdminActionResult> {
    const rec = this.mustConversation(conversationId);
    const admin = this.mustAdmin(opts.adminId);
    const part = adminComment(this, rec, admin, 'note', html.trim().startsWith('<') ? html : inboxHtml(html), [], undefined, null);
    return this.notify(rec, 'conversation.admin.noted', [part]);
  }

  /** Assigns to an admin (or a team with `team: true`; `'0'` unassigns) → `conversation.admin.assigned`. */
  async assign(conversationId: string, assigneeId: string, opts: AdminOptions & { team?: boolean; body?: string } = {}): Promise<AdminActionResult> {
    const rec = this.mustConversation(conversationId);
    const admin = this.mustAdmin(opts.adminId);
    const type = opts.team ? 'team' : 'admin';
    if (!assigneeExists(this, type, assigneeId)) throw new Error(`IntercomSimulator.assign: unknown ${type} ${assigneeId}`);
    const body = opts.body === undefined ? undefined : opts.body.trim().startsWith('<') ? opts.body : inboxHtml(opts.body);
    const part = assignPart(this, rec, admin, type, assigneeId, body, null);
    return this.notify(rec, 'conversation.admin.assigned', [part]);
  }

  /** Closes (optionally with a closing message) → `conversation.admin.closed`. */
  async close(conversationId: string, opts: AdminOptions & { html?: string } = {}): Promise<AdminActionResult> {
    const rec = this.mustConversation(conversationId);
    const admin = this.mustAdmin(opts.adminId);
    const body = opts.html === undefined ? undefined : opts.html.trim().startsWith('<') ? opts.html : inboxHtml(opts.html);
    return this.notify(rec, 'conversation.admin.closed', [closePart(this, rec, admin, body, null)]);
  }

  /** Snoozes until `until` (UNIX seconds; default one hour from now) → `conversation.admin.snoozed`. */
  async snooze(conversationId: string, opts: AdminOptions & { until?: number } = {}): Promise<AdminActionResult> {
    const rec = this.mustConversation(conversationId);
    const admin = this.mustAdmin(opts.adminId);
    const until = opts.until ?? unix(this.now()) + 3600;
    return this.notify(rec, 'conversation.admin.snoozed', [snoozePart(this, rec, admin, until, null)]);
  }

  /** Reopens → `conversation.admin.opened` (or `.unsnoozed` when it was snoozed; UNVERIFIED which one Intercom sends). */
  async open(conversationId: string, opts: AdminOptions = {}): Promise<AdminActionResult> {
    const rec = this.mustConversation(conversationId);
    const admin = this.mustAdmin(opts.adminId);
    const wasSnoozed = rec.shell.state === 'snoozed';
    const part = openPart(this, rec, admin, null);
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

  // ─── admins ─────────────────────────────────────────────────────────────────────────────────

  // ─── contacts ───────────────────────────────────────────────────────────────────────────────

  // ─── conversations ──────────────────────────────────────────────────────────────────────────

  // ─── parts: what each action does to a conversation ─────────────────────────────────────────

  // ─── notifications ──────────────────────────────────────────────────────────────────────────

  /** @internal (routes.ts, conversations.ts) */
  emit(rec: ConversationRecord, topic: WebhookTopic, parts: ConversationPart[]): { record: NotificationRecord; first: Promise<DeliveryAttempt | undefined> } {
    const item = this.options.webhookParts === 'all' ? this.ws.view(rec) : this.ws.view(rec, parts);
    const out = this.dispatcher.emit(topic, item, rec.shell.id);
    this.notifications.push(out.record);
    return out;
  }

  /** @internal (routes.ts, conversations.ts) */
  async notify(rec: ConversationRecord, topic: WebhookTopic, parts: ConversationPart[]): Promise<AdminActionResult> {
    const { record, first } = this.emit(rec, topic, parts);
    const attempt = await first;
    return { conversation: this.ws.view(rec, rec.parts), parts: structuredClone(parts), notification: record, ...(attempt ? { firstAttempt: attempt } : {}) };
  }

  // ─── attachments ────────────────────────────────────────────────────────────────────────────

  /** @internal (routes.ts, conversations.ts) */
  hostedAttachment(name: string, contentType: string, data: Buffer, dims: { width?: number; height?: number } = {}): PartAttachment {
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
  /** @internal (routes.ts, conversations.ts) */
  adminAttachment(a: AdminAttachment): PartAttachment {
    const dims = { ...(a.width !== undefined ? { width: a.width } : {}), ...(a.height !== undefined ? { height: a.height } : {}) };
    if (a.data !== undefined) return this.hostedAttachment(a.name, a.contentType, Buffer.isBuffer(a.data) ? a.data : Buffer.from(a.data), dims);
    if (a.url === undefined) throw new Error('IntercomSimulator: an attachment needs url or data');
    return { type: 'upload', name: a.name, url: a.url, content_type: a.contentType, ...dims };
  }

  // ─── helpers ────────────────────────────────────────────────────────────────────────────────

  /** @internal (routes.ts, conversations.ts) */
  mustConversation(id: string): ConversationRecord {
    const rec = this.ws.conversations.get(id === 'latest' ? (this.latestConversationId() ?? '') : id);
    if (!rec) throw new Error(`IntercomSimulator: unknown conversation ${id}`);
    return rec;
  }

  /** @internal (routes.ts, conversations.ts) */
  mustAdmin(id: string | undefined): SimAdmin {
    const a = id === undefined ? this.admins[0] : this.admins.find((x) => x.id === id);
    if (!a) throw new Error(`IntercomSimulator: unknown admin ${id}`);
    return a;
  }

  /** @internal (routes.ts, conversations.ts) */
  logLine(line: string): void {
    if (this.options.log) process.stderr.write(`[intercom-sim] ${line}\n`);
  }
}
