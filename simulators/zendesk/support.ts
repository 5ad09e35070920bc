/**
 * Zendesk Support (ticketing) API, the ticket route (research §A.2): end users by external id,
 * tickets and their comments, uploads, per-ticket update limits, and the trigger- or
 * event-connected webhooks that tell the bridge what agents did. Served under `{base}/api/v2/…`
 * with the `.json` suffix optional (research §A.2.1).
 *
 * Zendesk publishes no OpenAPI file we hold, so shapes cite research sections and the doc pages
 * they name; error bodies not in research are marked UNVERIFIED.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { Sequence, hexSecret, isoSeconds } from './ids.js';
import { isObject, mediaType, type Result, type Route, type SimRequest, type SimResponse } from './http.js';
import { TRIGGER_TEMPLATES, renderTemplate, type TemplateContext, type TriggerName } from './support-template.js';
import { IdempotencyKeys } from './support-idempotency.js';
import { DEFAULT_SUPPORT_RETRY, SupportWebhookDispatcher, type SupportRetryPolicy, type SupportWebhookConfig } from './support-webhooks.js';

export type TicketStatus = 'new' | 'open' | 'pending' | 'hold' | 'solved' | 'closed';
const STATUSES: readonly TicketStatus[] = ['new', 'open', 'pending', 'hold', 'solved', 'closed'];

export interface SupportAgentInit {
  email: string;
  /** API token, used as `{email}/token:{token}` (research §A.2.1). */
  token?: string;
  /** Password for `{email}:{password}` Basic auth. */
  password?: string;
  name?: string;
  role?: 'agent' | 'admin';
}

export interface SupportOptions {
  /** `x-zendesk-account-id`; default 123456 (the docs' example). */
  accountId?: number;
  /** Default one admin `agent@example.com` with a random token. */
  agents?: SupportAgentInit[];
  /** OAuth access tokens (`Authorization: Bearer …`) and the agent each acts as. */
  oauthTokens?: Array<{ token: string; email: string }>;
  webhook?: {
    id?: string;
    endpoint?: string;
    signingSecret?: string;
    /**
     * `trigger` (default): the two triggers of support-template.ts. `events`: a webhook subscribed
     * to `zen:event-type:ticket.comment_added` and `…ticket.status_changed` (research §A.2.5),
     * which fires for every update, the bridge's own included.
     */
    mode?: 'trigger' | 'events';
    /** trigger mode: the `current_via_id is_not 5` condition; false delivers the bridge's own comments too. Default true. */
    ignoreApiUpdates?: boolean;
    /** trigger mode: only tickets with this tag fire (`current_tags includes …`). */
    requireTag?: string;
    retry?: Partial<SupportRetryPolicy>;
  };
  limits?: {
    /** Account-wide requests per minute (research §A.2.6, Enterprise: 700). */
    requestsPerMinute?: number;
    /** Update Ticket: "30 updates per 10 minutes per user per ticket" (research §A.2.6). */
    ticketUpdatesPerUserPerTicket?: number;
    ticketUpdateWindowMs?: number;
    /** Update Ticket: "100 req/min per account" (research §A.2.6). */
    ticketUpdatesPerMinute?: number;
  };
  /** Upload tokens: "The token is valid for 60 minutes" (research §A.2.4). */
  uploadTokenTtlMs?: number;
  /** How long an `Idempotency-Key` of ticket creation is remembered; default two hours (support-idempotency.ts). */
  idempotencyTtlMs?: number;
}

export interface ZdUser {
  id: number;
  name: string;
  email?: string;
  external_id?: string;
  phone?: string;
  role: 'end-user' | 'agent' | 'admin';
  created_at: string;
  updated_at: string;
  token?: string;
  password?: string;
}

export interface ZdAttachment {
  id: number;
  file_name: string;
  content_type: string;
  size: number;
  content_url: string;
  bytes: Buffer;
}

export interface ZdComment {
  id: number;
  type: 'Comment';
  author_id: number;
  body: string;
  html_body: string;
  plain_body: string;
  public: boolean;
  attachments: ZdAttachment[];
  audit_id: number;
  via: { channel: string; source: Record<string, unknown> };
  created_at: string;
  /** Upload tokens the request named that were unknown, expired or used, and were ignored (UNVERIFIED that Zendesk ignores them). */
  ignoredUploads: string[];
}

export interface ZdTicket {
  id: number;
  subject: string | null;
  description: string;
  status: TicketStatus;
  priority: string | null;
  type: string | null;
  requester_id: number;
  submitter_id: number;
  assignee_id: number | null;
  group_id: number | null;
  external_id: string | null;
  tags: string[];
  custom_fields: Array<{ id: number; value: unknown }>;
  via: { channel: string; source: Record<string, unknown> };
  created_at: string;
  updated_at: string;
  comments: ZdComment[];
}

export interface ZdUpload {
  token: string;
  attachments: ZdAttachment[];
  expiresAt: number;
  used: boolean;
}

type Ctx = { user: ZdUser };

/** How an update reached the ticket: the API (`via_id` 5, research §A.2.3) or an agent's browser. */
type Via = 'api' | 'web';

// research §A.2.3 (REST captures show `via: {channel: "api", source: {from: {}, to: {}, rel: null}}`).
const viaJson = (via: Via) => ({ channel: via, source: { from: {}, to: {}, rel: null } });

const json = (status: number, body: unknown, headers?: Record<string, string>): SimResponse => ({ status, json: body, ...(headers ? { headers } : {}) });
/** Zendesk's validation error shape (`RecordInvalid` + `details`): UNVERIFIED wording, not in research. */
const invalid = (field: string, description: string, error = 'InvalidValue'): SimResponse =>
  json(422, { error: 'RecordInvalid', description: 'Record validation errors', details: { [field]: [{ description, error }] } });
/** UNVERIFIED (not in research): Zendesk's usual not-found body. */
const notFound = (): SimResponse => json(404, { error: 'RecordNotFound', description: 'Not found' });

function stripHtml(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/p>\s*<p[^>]*>/gi, '\n\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A sliding window of timestamps. */
class Window {
  private readonly hits: number[] = [];
  constructor(private readonly ms: number) {}
  private prune(now: number): void {
    while (this.hits.length > 0 && this.hits[0]! <= now - this.ms) this.hits.shift();
  }
  count(now = Date.now()): number {
    this.prune(now);
    return this.hits.length;
  }
  add(now = Date.now()): void {
    this.hits.push(now);
  }
  /** Whole seconds until one slot frees up. */
  retryAfter(now = Date.now()): number {
    this.prune(now);
    const oldest = this.hits[0];
    return oldest === undefined ? 0 : Math.max(1, Math.ceil((oldest + this.ms - now) / 1000));
  }
}

export class Support {
  readonly accountId: number;
  readonly users = new Map<number, ZdUser>();
  readonly tickets = new Map<number, ZdTicket>();
  readonly uploads = new Map<string, ZdUpload>();
  readonly webhook: SupportWebhookConfig;
  readonly webhookMode: 'trigger' | 'events';
  readonly dispatcher: SupportWebhookDispatcher;
  readonly routes: Route<Ctx>[];
  readonly oauthTokens: Array<{ token: string; email: string }>;

  private readonly ignoreApiUpdates: boolean;
  private readonly requireTag: string | undefined;
  private readonly userIds = new Sequence(36_100_000_000_001);
  private readonly recordIds = new Sequence(40_000_000_000_001);
  private readonly limits: Required<NonNullable<SupportOptions['limits']>>;
  private readonly uploadTtl: number;
  private requestWindow: Window;
  private ticketUpdateWindow: Window;
  private perUserTicket = new Map<string, Window>();
  private readonly files = new Map<string, ZdAttachment>();
  private sequence = 1;
  /** Ticket creation's Idempotency-Key (support-idempotency.ts). */
  readonly idempotency: IdempotencyKeys;

  constructor(
    options: SupportOptions,
    private readonly deps: { baseUrl: () => string; ticketIds: Sequence; log: (line: string) => void },
  ) {
    this.accountId = options.accountId ?? 123_456;
    const agents = options.agents ?? [{ email: 'agent@example.com', token: hexSecret(20), name: 'Ana Agent', role: 'admin' }];
    if (agents.length === 0) throw new Error('ZendeskSimulator: support.agents must not be empty');
    for (const a of agents) {
      const u = this.newUser({ name: a.name ?? a.email.split('@')[0]!, email: a.email, role: a.role ?? 'agent' });
      if (a.token !== undefined) u.token = a.token;
      if (a.password !== undefined) u.password = a.password;
    }
    this.oauthTokens = [...(options.oauthTokens ?? [])];
    this.webhook = {
      id: options.webhook?.id ?? `01F${randomBytes(12).toString('hex').toUpperCase().slice(0, 23)}`,
      endpoint: options.webhook?.endpoint,
      signingSecret: options.webhook?.signingSecret ?? randomBytes(32).toString('base64url'),
    };
    this.webhookMode = options.webhook?.mode ?? 'trigger';
    this.ignoreApiUpdates = options.webhook?.ignoreApiUpdates ?? true;
    this.requireTag = options.webhook?.requireTag;
    this.dispatcher = new SupportWebhookDispatcher(this.webhook, this.accountId, { ...DEFAULT_SUPPORT_RETRY, ...options.webhook?.retry }, deps.log);
    this.limits = {
      requestsPerMinute: options.limits?.requestsPerMinute ?? 700,
      ticketUpdatesPerUserPerTicket: options.limits?.ticketUpdatesPerUserPerTicket ?? 30,
      ticketUpdateWindowMs: options.limits?.ticketUpdateWindowMs ?? 10 * 60_000,
      ticketUpdatesPerMinute: options.limits?.ticketUpdatesPerMinute ?? 100,
    };
    this.requestWindow = new Window(60_000);
    this.ticketUpdateWindow = new Window(60_000);
    this.uploadTtl = options.uploadTokenTtlMs ?? 60 * 60_000;
    this.idempotency = new IdempotencyKeys(options.idempotencyTtlMs);
    this.routes = this.buildRoutes();
  }

  get agents(): ZdUser[] {
    return [...this.users.values()].filter((u) => u.role !== 'end-user');
  }

  reset(): void {
    for (const [id, u] of this.users) if (u.role === 'end-user') this.users.delete(id);
    this.tickets.clear();
    this.uploads.clear();
    this.files.clear();
    this.requestWindow = new Window(60_000);
    this.ticketUpdateWindow = new Window(60_000);
    this.perUserTicket = new Map();
    this.idempotency.clear();
    this.dispatcher.clear();
  }

  file(token: string): ZdAttachment | undefined {
    return this.files.get(token);
  }

  // ─── auth and account limits ────────────────────────────────────────────────────────────────

  /**
   * research §A.2.1: Basic `{email}/token:{api_token}` or `{email}:{password}`, or OAuth
   * `Bearer <token>`. The 401 body is UNVERIFIED (not in research): `{"error":"Couldn't authenticate you"}`.
   */
  authenticate(authorization: string | undefined): ZdUser | SimResponse {
    const fail = json(401, { error: "Couldn't authenticate you" });
    if (!authorization) return fail;
    const bearer = /^bearer\s+(\S+)\s*$/i.exec(authorization);
    if (bearer) {
      const t = this.oauthTokens.find((x) => safeEqual(x.token, bearer[1]!));
      return (t && this.agentByEmail(t.email)) ?? fail;
    }
    const basic = /^basic\s+(\S+)\s*$/i.exec(authorization);
    if (!basic) return fail;
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return fail;
    const user = decoded.slice(0, i);
    const secret = decoded.slice(i + 1);
    if (user.endsWith('/token')) {
      const agent = this.agentByEmail(user.slice(0, -'/token'.length));
      return agent?.token !== undefined && safeEqual(agent.token, secret) ? agent : fail;
    }
    const agent = this.agentByEmail(user);
    return agent?.password !== undefined && safeEqual(agent.password, secret) ? agent : fail;
  }

  private agentByEmail(email: string): ZdUser | undefined {
    return this.agents.find((a) => a.email?.toLowerCase() === email.toLowerCase());
  }

  /**
   * research §A.2.6: every answer carries `X-Rate-Limit` / `X-Rate-Limit-Remaining`; over the
   * limit, 429 with `Retry-After: <seconds>` (a real capture: `Content-Type: text/plain`; the body
   * text is UNVERIFIED).
   */
  accountLimit(): { headers: Record<string, string>; limited?: SimResponse } {
    const now = Date.now();
    const used = this.requestWindow.count(now);
    const limit = this.limits.requestsPerMinute;
    if (used >= limit) {
      const headers = { 'x-rate-limit': String(limit), 'x-rate-limit-remaining': '0' };
      return {
        headers,
        limited: { status: 429, text: 'Too Many Requests', headers: { ...headers, 'retry-after': String(this.requestWindow.retryAfter(now)) } },
      };
    }
    this.requestWindow.add(now);
    return { headers: { 'x-rate-limit': String(limit), 'x-rate-limit-remaining': String(limit - used - 1) } };
  }

  // ─── routes ─────────────────────────────────────────────────────────────────────────────────

  private buildRoutes(): Route<Ctx>[] {
    const r = (method: Route<Ctx>['method'], path: string, op: string, handle: Route<Ctx>['handle']): Route<Ctx> => ({
      method,
      pattern: new RegExp(`^/api/v2/${path}(?:\\.json)?$`),
      op,
      handle,
    });
    return [
      r('POST', 'users/create_or_update', 'CreateOrUpdateUser', (req) => this.createOrUpdateUser(req)),
      r('GET', 'users/search', 'SearchUsers', (req) => this.searchUsers(req)),
      r('GET', 'users/(\\d+)', 'ShowUser', (req) => {
        const u = this.users.get(Number(req.params[0]));
        return u ? json(200, { user: this.userJson(u) }) : notFound();
      }),
      r('POST', 'tickets', 'CreateTicket', (req, ctx) => this.idempotency.run(req, () => this.createTicket(req, ctx))),
      r('GET', 'tickets/(\\d+)', 'ShowTicket', (req) => {
        const t = this.tickets.get(Number(req.params[0]));
        return t ? json(200, { ticket: this.ticketJson(t) }) : notFound();
      }),
      r('PUT', 'tickets/(\\d+)', 'UpdateTicket', (req, ctx) => this.updateTicket(req, ctx)),
      r('GET', 'tickets/(\\d+)/comments', 'ListTicketComments', (req) => this.listComments(req)),
      r('POST', 'uploads', 'UploadFiles', (req) => this.upload(req)),
      r('DELETE', 'uploads/([^/]+?)', 'DeleteUpload', (req) => {
        const u = this.uploads.get(req.params[0] ?? '');
        if (!u) return notFound();
        this.uploads.delete(u.token);
        for (const a of u.attachments) this.files.delete(this.fileKey(a));
        return { status: 204 };
      }),
    ];
  }

  /** `{"<key>": {…}}` (e.g. `{"ticket": {…}}`); the 400 bodies are UNVERIFIED. */
  private body(req: SimRequest, key: string): Result<Record<string, unknown>> {
    if (mediaType(req.headers) !== 'application/json')
      return { error: json(400, { error: 'InvalidContentType', description: 'Content-Type must be application/json' }) };
    let v: unknown;
    try {
      v = JSON.parse(req.body.toString('utf8'));
    } catch {
      return { error: json(400, { error: 'InvalidJSON', description: 'The request body is not valid JSON' }) };
    }
    if (!isObject(v) || !isObject(v[key])) return { error: json(400, { error: 'InvalidParameter', description: `Parameter ${key} is required` }) };
    return { ok: v[key] };
  }

  // ─── users (research §A.2.2) ────────────────────────────────────────────────────────────────

  private newUser(init: { name: string; email?: string; external_id?: string; phone?: string; role: ZdUser['role'] }): ZdUser {
    const at = isoSeconds();
    const u: ZdUser = { id: this.userIds.take(), name: init.name, role: init.role, created_at: at, updated_at: at };
    if (init.email !== undefined) u.email = init.email;
    if (init.external_id !== undefined) u.external_id = init.external_id;
    if (init.phone !== undefined) u.phone = init.phone;
    this.users.set(u.id, u);
    return u;
  }

  userJson(u: ZdUser): Record<string, unknown> {
    return {
      id: u.id,
      url: `${this.deps.baseUrl()}/api/v2/users/${u.id}.json`,
      name: u.name,
      email: u.email ?? null,
      created_at: u.created_at,
      updated_at: u.updated_at,
      phone: u.phone ?? null,
      role: u.role,
      external_id: u.external_id ?? null,
      active: true,
      verified: false,
      locale: 'en-US',
      tags: [],
      user_fields: {},
    };
  }

  /**
   * CreateOrUpdateUser: "Creates a user if the user does not already exist, or updates an existing
   * user identified by e-mail address or external ID" → 201 + `Location` when created, 200 when
   * updated; external id matching is case-insensitive and the stored id takes the case sent.
   */
  private createOrUpdateUser(req: SimRequest): SimResponse {
    const parsed = this.body(req, 'user');
    if ('error' in parsed) return parsed.error;
    const u = parsed.ok;
    for (const k of ['name', 'email', 'external_id', 'phone'] as const) {
      if (u[k] !== undefined && u[k] !== null && typeof u[k] !== 'string') return invalid(k, `${k}: must be a string`);
    }
    const ext = typeof u['external_id'] === 'string' ? u['external_id'] : undefined;
    const email = typeof u['email'] === 'string' ? u['email'] : undefined;
    const existing =
      (ext !== undefined ? [...this.users.values()].find((x) => x.external_id?.toLowerCase() === ext.toLowerCase()) : undefined) ??
      (email !== undefined ? [...this.users.values()].find((x) => x.email?.toLowerCase() === email.toLowerCase()) : undefined);
    if (existing) {
      if (typeof u['name'] === 'string' && u['name'] !== '') existing.name = u['name'];
      if (email !== undefined) existing.email = email;
      if (ext !== undefined) existing.external_id = ext;
      if (typeof u['phone'] === 'string') existing.phone = u['phone'];
      existing.updated_at = isoSeconds();
      return json(200, { user: this.userJson(existing) });
    }
    const name = typeof u['name'] === 'string' ? u['name'].trim() : '';
    if (name === '') return invalid('name', 'Name: cannot be blank', 'BlankValue');
    const role = u['role'] === 'agent' || u['role'] === 'admin' ? u['role'] : 'end-user'; // "The default role is end user."
    const created = this.newUser({
      name,
      role,
      ...(email !== undefined ? { email } : {}),
      ...(ext !== undefined ? { external_id: ext } : {}),
      ...(typeof u['phone'] === 'string' ? { phone: u['phone'] } : {}),
    });
    return json(201, { user: this.userJson(created) }, { location: `${this.deps.baseUrl()}/api/v2/users/${created.id}.json` });
  }

  /** `GET /users/search?external_id=…` or `?query=…` (research §A.2.2; exact query names UNVERIFIED). */
  private searchUsers(req: SimRequest): SimResponse {
    const ext = req.query.get('external_id');
    const q = req.query.get('query');
    let found: ZdUser[];
    if (ext !== null) found = [...this.users.values()].filter((u) => u.external_id?.toLowerCase() === ext.toLowerCase());
    else if (q !== null) {
      const needle = q.replace(/^(email|external_id):/, '').toLowerCase();
      found = [...this.users.values()].filter(
        (u) => u.email?.toLowerCase() === needle || u.external_id?.toLowerCase() === needle || u.name.toLowerCase().includes(needle),
      );
    } else return json(400, { error: 'InvalidParameter', description: 'query or external_id is required' }); // UNVERIFIED
    return json(200, { users: found.map((u) => this.userJson(u)), next_page: null, previous_page: null, count: found.length });
  }

  // ─── tickets (research §A.2.3) ──────────────────────────────────────────────────────────────

  ticketJson(t: ZdTicket): Record<string, unknown> {
    return {
      url: `${this.deps.baseUrl()}/api/v2/tickets/${t.id}.json`,
      id: t.id,
      external_id: t.external_id,
      via: t.via,
      created_at: t.created_at,
      updated_at: t.updated_at,
      type: t.type,
      subject: t.subject,
      raw_subject: t.subject,
      description: t.description,
      priority: t.priority,
      status: t.status,
      requester_id: t.requester_id,
      submitter_id: t.submitter_id,
      assignee_id: t.assignee_id,
      organization_id: null,
      group_id: t.group_id,
      collaborator_ids: [],
      follower_ids: [],
      email_cc_ids: [],
      has_incidents: false,
      is_public: t.comments[0]?.public ?? true,
      due_at: null,
      tags: [...t.tags],
      custom_fields: t.custom_fields.map((f) => ({ ...f })),
      fields: t.custom_fields.map((f) => ({ ...f })),
      satisfaction_rating: null,
      ticket_form_id: null,
      brand_id: null,
      allow_channelback: false,
      allow_attachments: true,
      from_messaging_channel: false,
    };
  }

  commentJson(c: ZdComment): Record<string, unknown> {
    return {
      id: c.id,
      type: c.type,
      author_id: c.author_id,
      body: c.body,
      html_body: c.html_body,
      plain_body: c.plain_body,
      public: c.public,
      attachments: c.attachments.map((a) => this.attachmentJson(a)),
      audit_id: c.audit_id,
      via: c.via,
      created_at: c.created_at,
      metadata: { system: {}, custom: {} },
    };
  }

  private attachmentJson(a: ZdAttachment): Record<string, unknown> {
    // research §A.2.4: attachment fields `id, file_name, content_url, content_type, size, …` (3p list).
    return {
      url: `${this.deps.baseUrl()}/api/v2/attachments/${a.id}.json`,
      id: a.id,
      file_name: a.file_name,
      content_url: a.content_url,
      mapped_content_url: a.content_url,
      content_type: a.content_type,
      size: a.size,
      width: null,
      height: null,
      inline: false,
      deleted: false,
      thumbnails: [],
    };
  }

  /**
   * A comment from a request's `comment` object, or the answer refusing it. Nothing is changed
   * yet: the upload tokens it uses are consumed by `commit` once the whole request is accepted.
   */
  private buildComment(raw: Record<string, unknown>, defaultAuthor: ZdUser, via: Via): Result<{ comment: ZdComment; commit: () => void }> {
    const body = raw['body'];
    const html = raw['html_body'];
    if (body !== undefined && typeof body !== 'string') return { error: invalid('comment', 'Comment: body must be a string') };
    if (html !== undefined && typeof html !== 'string') return { error: invalid('comment', 'Comment: html_body must be a string') };
    const text = typeof html === 'string' && html.trim() !== '' ? stripHtml(html) : typeof body === 'string' ? body : '';
    const uploads = raw['uploads'];
    if (uploads !== undefined && (!Array.isArray(uploads) || uploads.some((x) => typeof x !== 'string')))
      return { error: invalid('comment', 'Comment: uploads must be an array of tokens') };
    const attachments: ZdAttachment[] = [];
    const ignored: string[] = [];
    const used: ZdUpload[] = [];
    const now = Date.now();
    for (const token of (uploads ?? []) as string[]) {
      const up = this.uploads.get(token);
      // research §A.2.4: tokens are single use and valid for 60 minutes.
      if (!up || up.used || up.expiresAt <= now || used.includes(up)) {
        ignored.push(token);
        continue;
      }
      used.push(up);
      attachments.push(...up.attachments);
    }
    if (text.trim() === '' && attachments.length === 0) return { error: invalid('comment', 'Comment: cannot be blank', 'BlankValue') };
    let author = defaultAuthor;
    if (raw['author_id'] !== undefined) {
      const a = this.users.get(Number(raw['author_id']));
      if (!a) return { error: invalid('author_id', 'Author: is invalid') };
      author = a;
    }
    if (raw['public'] !== undefined && typeof raw['public'] !== 'boolean') return { error: invalid('comment', 'Comment: public must be a boolean') };
    const comment: ZdComment = {
      id: this.recordIds.take(),
      type: 'Comment',
      author_id: author.id,
      body: text,
      html_body:
        typeof html === 'string' && html.trim() !== ''
          ? html
          : `<div class="zd-comment" dir="auto"><p dir="auto">${escapeHtml(text).replace(/\n/g, '<br>')}</p></div>`,
      plain_body: text,
      public: raw['public'] !== false,
      attachments,
      audit_id: 0,
      via: viaJson(via),
      created_at: isoSeconds(),
      ignoredUploads: ignored,
    };
    return {
      ok: {
        comment,
        commit: () => {
          for (const up of used) up.used = true;
        },
      },
    };
  }

  private createTicket(req: SimRequest, ctx: Ctx): SimResponse {
    const parsed = this.body(req, 'ticket');
    if ('error' in parsed) return parsed.error;
    const t = parsed.ok;
    // "Creating a Ticket with a new Requester … name, email, and locale id … if a user already exists
    // with the given email address then we will use that user" (research §A.2.3). The new user is
    // created only once the whole request is accepted.
    let requester: ZdUser | { name: string; email?: string } = ctx.user;
    if (t['requester_id'] !== undefined) {
      const r = this.users.get(Number(t['requester_id']));
      if (!r) return invalid('requester', 'Requester: is invalid');
      requester = r;
    } else if (isObject(t['requester'])) {
      const r = t['requester'];
      const email = typeof r['email'] === 'string' ? r['email'] : undefined;
      const found = email !== undefined ? [...this.users.values()].find((u) => u.email?.toLowerCase() === email.toLowerCase()) : undefined;
      const name = typeof r['name'] === 'string' && r['name'].trim() !== '' ? r['name'].trim() : email?.split('@')[0];
      if (found) requester = found;
      else if (name === undefined) return invalid('requester', 'Requester: Name is too short (minimum one character)');
      // `requester.external_id` on ticket create is UNVERIFIED (research §A.2.3): not applied here.
      else requester = { name, ...(email !== undefined ? { email } : {}) };
    }
    if (!isObject(t['comment'])) return invalid('description', 'Description: cannot be blank', 'BlankValue');
    const built = this.buildComment(t['comment'], ctx.user, 'api');
    if ('error' in built) return built.error;
    const c = built.ok.comment;
    const fields = this.fieldChanges(t);
    if ('error' in fields) return fields.error;
    const f = fields.ok;
    const status: TicketStatus = f.status ?? (f.assignee_id ? 'open' : 'new');
    if (status === 'solved' && f.assignee_id === undefined) return invalid('assignee_id', 'Assignee: is required when solving a ticket');
    if (status === 'closed') return invalid('status', 'Status: closed is not a valid status for a new ticket'); // UNVERIFIED
    const requesterUser = 'id' in requester ? requester : this.newUser({ ...requester, role: 'end-user' });
    built.ok.commit();
    const now = isoSeconds();
    const ticket: ZdTicket = {
      id: this.deps.ticketIds.take(),
      subject: typeof t['subject'] === 'string' ? t['subject'] : null,
      description: c.plain_body,
      status,
      priority: f.priority ?? null,
      type: f.type ?? null,
      requester_id: requesterUser.id,
      submitter_id: ctx.user.id,
      assignee_id: f.assignee_id ?? null,
      group_id: f.group_id ?? null,
      external_id: typeof t['external_id'] === 'string' ? t['external_id'] : null,
      tags: dedupe([...(f.tags ?? []), ...(f.additional_tags ?? [])]),
      custom_fields: f.custom_fields ?? [],
      via: viaJson('api'),
      created_at: now,
      updated_at: now,
      comments: [],
    };
    const audit = this.audit(ticket, c, ctx.user, [{ type: 'Create', field_name: 'status', value: ticket.status }]);
    this.tickets.set(ticket.id, ticket);
    ticket.comments.push(c);
    this.fire(ticket, { comment: c, previousStatus: undefined, actor: ctx.user, via: 'api' });
    // CreateTicket: 201 with `Location` and `{ticket, audit}` (research §A.2.3).
    return json(201, { ticket: this.ticketJson(ticket), audit }, { location: `${this.deps.baseUrl()}/api/v2/tickets/${ticket.id}.json` });
  }

  private fieldChanges(t: Record<string, unknown>): Result<FieldChanges> {
    const out: FieldChanges = {};
    if (t['status'] !== undefined) {
      if (!STATUSES.includes(t['status'] as TicketStatus)) return { error: invalid('status', `Status: ${String(t['status'])} is not a valid status`) };
      out.status = t['status'] as TicketStatus;
    }
    for (const k of ['tags', 'additional_tags', 'remove_tags'] as const) {
      if (t[k] === undefined) continue;
      if (!Array.isArray(t[k]) || (t[k] as unknown[]).some((x) => typeof x !== 'string')) return { error: invalid(k, `${k}: must be an array of strings`) };
      out[k] = t[k] as string[];
    }
    if (t['custom_fields'] !== undefined) {
      const cf = t['custom_fields'];
      if (!Array.isArray(cf) || cf.some((x) => !isObject(x) || typeof x['id'] !== 'number'))
        return { error: invalid('custom_fields', 'Custom fields: must be an array of {id, value}') };
      out.custom_fields = (cf as Array<{ id: number; value: unknown }>).map((x) => ({ id: x.id, value: x.value ?? null }));
    }
    for (const k of ['group_id', 'assignee_id'] as const) {
      if (t[k] === undefined || t[k] === null) continue;
      if (typeof t[k] !== 'number') return { error: invalid(k, `${k}: must be a number`) };
      if (k === 'assignee_id' && this.users.get(t[k])?.role === 'end-user') return { error: invalid(k, 'Assignee: is not an agent') };
      out[k] = t[k];
    }
    for (const k of ['priority', 'type'] as const) {
      if (t[k] === undefined || t[k] === null) continue;
      if (typeof t[k] !== 'string') return { error: invalid(k, `${k}: must be a string`) };
      out[k] = t[k];
    }
    return { ok: out };
  }

  private audit(t: ZdTicket, c: ZdComment | undefined, actor: ZdUser, changes: Array<Record<string, unknown>>): Record<string, unknown> {
    const id = this.recordIds.take();
    if (c) c.audit_id = id;
    return {
      id,
      ticket_id: t.id,
      created_at: t.updated_at,
      author_id: actor.id,
      metadata: { system: {}, custom: {} },
      events: [...(c ? [{ ...this.commentJson(c), type: 'Comment' }] : []), ...changes.map((e) => ({ id: this.recordIds.take(), ...e }))],
      via: t.via,
    };
  }

  /**
   * UpdateTicket. Order of checks: the ticket exists (404), is not closed ("A closed ticket can't
   * be reopened", research §A.2.3 → 422), the per-user-per-ticket and account update limits
   * (research §A.2.6 → 429 + Retry-After), `safe_update` (409), then the changes (422).
   */
  private updateTicket(req: SimRequest, ctx: Ctx): SimResponse {
    const t = this.tickets.get(Number(req.params[0]));
    if (!t) return notFound();
    const parsed = this.body(req, 'ticket');
    if ('error' in parsed) return parsed.error;
    const u = parsed.ok;
    // UNVERIFIED wording (not in research): Zendesk answers updates of closed tickets with this 422.
    if (t.status === 'closed') return invalid('status', 'Status: closed prevents ticket update', 'ClosedPreventsUpdate');
    const now = Date.now();
    const key = `${ctx.user.id}:${t.id}`;
    const perTicket = this.perUserTicket.get(key) ?? new Window(this.limits.ticketUpdateWindowMs);
    this.perUserTicket.set(key, perTicket);
    if (perTicket.count(now) >= this.limits.ticketUpdatesPerUserPerTicket) {
      // The ticket-update limit's body text is UNVERIFIED.
      return json(
        429,
        { error: 'TooManyRequests', description: 'Rate limit for ticket updates exceeded, please wait before updating this ticket again' },
        { 'retry-after': String(perTicket.retryAfter(now)) },
      );
    }
    if (this.ticketUpdateWindow.count(now) >= this.limits.ticketUpdatesPerMinute) {
      return json(
        429,
        { error: 'TooManyRequests', description: 'Rate limit for ticket updates exceeded' },
        { 'retry-after': String(this.ticketUpdateWindow.retryAfter(now)) },
      );
    }
    // `safe_update` + `updated_stamp` guard against collisions (research §A.2.3); the 409 body is UNVERIFIED.
    if (u['safe_update'] === true && u['updated_stamp'] !== t.updated_at) {
      return json(409, {
        error: 'UpdateConflict',
        description: 'Safe Update prevented the update due to outdated ticket data. Please fetch the latest ticket data and try again.',
      });
    }
    let comment: ZdComment | undefined;
    let commit = () => {};
    if (u['comment'] !== undefined) {
      if (!isObject(u['comment'])) return invalid('comment', 'Comment: must be an object');
      // ticket_comments doc: "A ticket can contain up to 5000 comments … additional attempts … 422".
      if (t.comments.length >= 5000) return invalid('comment', 'Comment: the ticket has reached the limit of 5000 comments', 'TooManyComments');
      const c = this.buildComment(u['comment'], ctx.user, 'api');
      if ('error' in c) return c.error;
      comment = c.ok.comment;
      commit = c.ok.commit;
    }
    const fields = this.fieldChanges(u);
    if ('error' in fields) return fields.error;
    const result = this.applyUpdate(t, fields.ok, comment, ctx.user, 'api');
    if ('error' in result) return result.error;
    commit();
    perTicket.add(now);
    this.ticketUpdateWindow.add(now);
    return json(200, { ticket: this.ticketJson(t), audit: result.ok });
  }

  /** Applies field changes and a comment; fires the webhooks the update matches. */
  private applyUpdate(t: ZdTicket, f: FieldChanges, comment: ZdComment | undefined, actor: ZdUser, via: Via): Result<Record<string, unknown>> {
    const previousStatus = t.status;
    let status = f.status ?? t.status;
    const author = comment ? this.users.get(comment.author_id) : undefined;
    // A requester's reply reopens a pending or solved ticket (Zendesk's documented status workflow;
    // not in research: UNVERIFIED here).
    if (f.status === undefined && comment?.public && author?.id === t.requester_id && (status === 'pending' || status === 'solved')) status = 'open';
    const assignee = f.assignee_id !== undefined ? f.assignee_id : t.assignee_id;
    // research §A.2.3: "Solving needs an assignee" (old zendesk_api docs); the message is UNVERIFIED.
    if (status === 'solved' && assignee === null) return { error: invalid('assignee_id', 'Assignee: is required when solving a ticket') };
    const changes: Array<Record<string, unknown>> = [];
    if (status !== t.status) changes.push({ type: 'Change', field_name: 'status', value: status, previous_value: t.status });
    t.status = status;
    if (f.assignee_id !== undefined) t.assignee_id = f.assignee_id;
    if (f.group_id !== undefined) t.group_id = f.group_id;
    if (f.priority !== undefined) t.priority = f.priority;
    if (f.type !== undefined) t.type = f.type;
    if (f.tags !== undefined) t.tags = dedupe(f.tags);
    if (f.additional_tags) t.tags = dedupe([...t.tags, ...f.additional_tags]);
    if (f.remove_tags) t.tags = t.tags.filter((x) => !f.remove_tags!.includes(x));
    if (f.custom_fields) {
      for (const cf of f.custom_fields) {
        const existing = t.custom_fields.find((x) => x.id === cf.id);
        if (existing) existing.value = cf.value;
        else t.custom_fields.push({ ...cf });
      }
    }
    t.updated_at = isoSeconds();
    if (comment) t.comments.push(comment);
    const audit = this.audit(t, comment, actor, changes);
    this.fire(t, { ...(comment ? { comment } : {}), previousStatus, actor, via });
    return { ok: audit };
  }

  private listComments(req: SimRequest): SimResponse {
    const t = this.tickets.get(Number(req.params[0]));
    if (!t) return notFound();
    const all = t.comments;
    const sizeRaw = req.query.get('page[size]');
    if (sizeRaw === null) {
      // Offset-style answer (research §A.2.1 lists both styles; one page holds everything here).
      return json(200, { comments: all.map((c) => this.commentJson(c)), next_page: null, previous_page: null, count: all.length });
    }
    // Cursor pagination (research §A.2.1): `page[size]` ≤ 100, `page[after]`; `meta {has_more, after_cursor, before_cursor}`, `links {next, prev}`.
    const size = Number(sizeRaw);
    if (!Number.isInteger(size) || size < 1 || size > 100)
      return json(400, { error: 'InvalidPaginationParameter', description: 'page[size] must be between 1 and 100' }); // UNVERIFIED
    const after = req.query.get('page[after]');
    const start = after === null ? 0 : Number(Buffer.from(after, 'base64url').toString('utf8')) || 0;
    const items = all.slice(start, start + size);
    const hasMore = start + size < all.length;
    const cursor = (n: number) => Buffer.from(String(n)).toString('base64url');
    const base = `${this.deps.baseUrl()}/api/v2/tickets/${t.id}/comments.json?page[size]=${size}`;
    return json(200, {
      comments: items.map((c) => this.commentJson(c)),
      meta: { has_more: hasMore, after_cursor: hasMore ? cursor(start + size) : null, before_cursor: start > 0 ? cursor(Math.max(0, start - size)) : null },
      links: { next: hasMore ? `${base}&page[after]=${cursor(start + size)}` : null, prev: start > 0 ? `${base}&page[before]=${cursor(start)}` : null },
    });
  }

  // ─── uploads (research §A.2.4) ──────────────────────────────────────────────────────────────

  private fileKey(a: ZdAttachment): string {
    return new URL(a.content_url).pathname.split('/')[3] ?? '';
  }

  /**
   * UploadFiles: `POST /uploads?filename=…[&token=…]`, raw bytes, a Content-Type that "must contain
   * a recognized MIME type" → 201 `{upload: {token, attachment, attachments}}`; `token` appends to
   * an earlier upload. Status codes for a bad request here are UNVERIFIED.
   */
  private upload(req: SimRequest): SimResponse {
    const filename = req.query.get('filename');
    if (filename === null || filename.trim() === '') return json(400, { error: 'InvalidParameter', description: 'filename is required' });
    const type = mediaType(req.headers);
    if (!/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/i.test(type))
      return json(400, { error: 'InvalidContentType', description: 'Content-Type must contain a recognized MIME type' });
    const key = randomBytes(12).toString('base64url');
    const a: ZdAttachment = {
      id: this.recordIds.take(),
      file_name: filename,
      content_type: type === 'application/binary' ? 'application/octet-stream' : type,
      size: req.body.length,
      content_url: `${this.deps.baseUrl()}/attachments/token/${key}/?name=${encodeURIComponent(filename)}`,
      bytes: Buffer.from(req.body),
    };
    this.files.set(key, a);
    const existingToken = req.query.get('token');
    const existing = existingToken !== null ? this.uploads.get(existingToken) : undefined;
    if (existingToken !== null && (!existing || existing.used))
      return json(422, { error: 'InvalidToken', description: 'The upload token is invalid or was already used' }); // UNVERIFIED
    const up: ZdUpload = existing ?? {
      token: randomBytes(12).toString('base64url').replace(/[-_]/g, 'x').toLowerCase().slice(0, 25),
      attachments: [],
      expiresAt: Date.now() + this.uploadTtl,
      used: false,
    };
    up.attachments.push(a);
    this.uploads.set(up.token, up);
    return json(201, {
      upload: {
        token: up.token,
        expires_at: isoSeconds(up.expiresAt),
        attachment: this.attachmentJson(a),
        attachments: up.attachments.map((x) => this.attachmentJson(x)),
      },
    });
  }

  // ─── the agent side ─────────────────────────────────────────────────────────────────────────

  private agent(agentId?: number): ZdUser {
    const a = agentId !== undefined ? this.users.get(agentId) : this.agents[0];
    if (!a || a.role === 'end-user') throw new Error(`ZendeskSimulator: no agent ${agentId ?? ''}`);
    return a;
  }

  private ticket(id: number): ZdTicket {
    const t = this.tickets.get(id);
    if (!t) throw new Error(`ZendeskSimulator: unknown ticket ${id}`);
    return t;
  }

  /** An agent comments from the agent interface (via `web`): a public reply or, with `public: false`, an internal note. */
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
    const t = this.ticket(ticketId);
    if (t.status === 'closed') throw new Error(`ZendeskSimulator.agentComment: ticket ${ticketId} is closed`);
    const agent = this.agent(opts.agentId);
    const tokens: string[] = [];
    for (const f of opts.attachments ?? []) {
      const key = randomBytes(12).toString('base64url');
      const a: ZdAttachment = {
        id: this.recordIds.take(),
        file_name: f.fileName,
        content_type: f.contentType,
        size: Buffer.byteLength(f.data),
        content_url: `${this.deps.baseUrl()}/attachments/token/${key}/?name=${encodeURIComponent(f.fileName)}`,
        bytes: Buffer.from(f.data),
      };
      this.files.set(key, a);
      const token = randomBytes(12).toString('hex');
      this.uploads.set(token, { token, attachments: [a], expiresAt: Date.now() + this.uploadTtl, used: false });
      tokens.push(token);
    }
    const c = this.buildComment(
      { ...(opts.html !== undefined ? { html_body: opts.html } : { body: text }), public: opts.public ?? true, uploads: tokens },
      agent,
      'web',
    );
    if ('error' in c) throw new Error(`ZendeskSimulator.agentComment: ${JSON.stringify(c.error.json)}`);
    // The agent interface submits a new ticket as Open at least ("Submit as …"; UNVERIFIED default).
    const status = opts.status ?? (t.status === 'new' ? 'open' : undefined);
    const res = this.applyUpdate(
      t,
      { ...(status ? { status } : {}), ...(status === 'solved' && t.assignee_id === null ? { assignee_id: agent.id } : {}) },
      c.ok.comment,
      agent,
      'web',
    );
    if ('error' in res) throw new Error(`ZendeskSimulator.agentComment: ${JSON.stringify(res.error.json)}`);
    c.ok.commit();
    return c.ok.comment;
  }

  /**
   * An agent sets the status in the agent interface. Solving an unassigned ticket assigns the agent
   * (UNVERIFIED). `closed` is normally set by an automation after solve; triggers do not run for it
   * (UNVERIFIED), so no trigger webhook follows.
   */
  setStatus(ticketId: number, status: TicketStatus, opts: { agentId?: number } = {}): ZdTicket {
    const t = this.ticket(ticketId);
    if (t.status === 'closed') throw new Error(`ZendeskSimulator.setStatus: ticket ${ticketId} is closed`);
    const agent = this.agent(opts.agentId);
    const res = this.applyUpdate(t, { status, ...(status === 'solved' && t.assignee_id === null ? { assignee_id: agent.id } : {}) }, undefined, agent, 'web');
    if ('error' in res) throw new Error(`ZendeskSimulator.setStatus: ${JSON.stringify(res.error.json)}`);
    return t;
  }

  // ─── webhooks ───────────────────────────────────────────────────────────────────────────────

  /** What an update makes Zendesk send: the matching triggers' bodies, or the subscribed events. */
  private fire(t: ZdTicket, u: { comment?: ZdComment; previousStatus: TicketStatus | undefined; actor: ZdUser; via: Via }): void {
    if (this.webhookMode === 'events') {
      this.fireEvents(t, u);
      return;
    }
    if (u.via === 'api' && this.ignoreApiUpdates) return; // current_via_id is_not 5
    if (this.requireTag !== undefined && !t.tags.includes(this.requireTag)) return; // current_tags includes …
    const fired: TriggerName[] = [];
    if (u.comment) fired.push('comment');
    if (t.status === 'solved' && u.previousStatus !== 'solved') fired.push('solved');
    for (const name of fired) {
      const body = renderTemplate(TRIGGER_TEMPLATES[name], this.templateContext(t, u.actor));
      this.dispatcher.invoke(body, `trigger:${name}`, t.id);
    }
  }

  private templateContext(t: ZdTicket, actor: ZdUser): TemplateContext {
    const latest = t.comments[t.comments.length - 1];
    const requester = this.users.get(t.requester_id);
    const author = latest ? this.users.get(latest.author_id) : undefined;
    return {
      ticket: {
        id: String(t.id),
        external_id: t.external_id ?? '',
        requester: { id: String(t.requester_id), name: requester?.name ?? '', external_id: requester?.external_id ?? '' },
        latest_comment: {
          id: latest ? String(latest.id) : '',
          value: latest?.plain_body ?? '',
          is_public: latest ? String(latest.public) : '',
          author: { id: author ? String(author.id) : '', name: author?.name ?? '' },
          attachments: (latest?.attachments ?? []).map((a) => ({ filename: a.file_name, url: a.content_url })),
        },
      },
      current_user: { id: String(actor.id), name: actor.name, role: actor.role, external_id: actor.external_id ?? '' },
    };
  }

  /**
   * Event-subscribed webhook payloads (research §A.2.5, developer.zendesk.com/api-reference/webhooks/
   * event-types/ticket-events): `{type, account_id, id, time, zendesk_event_version, subject,
   * detail: {…ticket, ids as strings}, event: {…}}`; statuses in upper case (3p Dust samples).
   */
  private fireEvents(t: ZdTicket, u: { comment?: ZdComment; previousStatus: TicketStatus | undefined; actor: ZdUser; via: Via }): void {
    const detail = {
      actor_id: String(u.actor.id),
      assignee_id: t.assignee_id === null ? null : String(t.assignee_id),
      brand_id: null,
      created_at: t.created_at,
      custom_status: null,
      description: t.description,
      external_id: t.external_id,
      form_id: null,
      group_id: t.group_id === null ? null : String(t.group_id),
      id: String(t.id),
      is_public: t.comments[0]?.public ?? true,
      organization_id: null,
      priority: t.priority === null ? null : t.priority.toUpperCase(),
      requester_id: String(t.requester_id),
      status: t.status.toUpperCase(),
      subject: t.subject,
      submitter_id: String(t.submitter_id),
      tags: [...t.tags],
      type: t.type === null ? null : t.type.toUpperCase(),
      updated_at: t.updated_at,
      // research §A.2.5 samples: `via.channel` "web_service" for API updates.
      via: { channel: u.via === 'api' ? 'web_service' : 'web' },
    };
    const send = (type: string, event: Record<string, unknown>) => {
      const body = JSON.stringify({
        type,
        account_id: this.accountId,
        id: randomUUID(),
        time: new Date().toISOString(),
        zendesk_event_version: '2022-11-06',
        subject: `zen:ticket:${t.id}`,
        detail,
        event: { ...event, meta: { sequence: { id: String(this.sequence), position: 1 } } },
      });
      this.sequence += 1;
      this.dispatcher.invoke(body, type, t.id);
    };
    if (u.comment) {
      const author = this.users.get(u.comment.author_id);
      send('zen:event-type:ticket.comment_added', {
        comment: {
          id: String(u.comment.id),
          body: u.comment.plain_body,
          is_public: u.comment.public,
          author: { id: String(u.comment.author_id), is_staff: author !== undefined && author.role !== 'end-user', name: author?.name ?? '' },
        },
      });
    }
    if (u.previousStatus !== undefined && u.previousStatus !== t.status) {
      send('zen:event-type:ticket.status_changed', { current: t.status.toUpperCase(), previous: u.previousStatus.toUpperCase() });
    }
  }
}

interface FieldChanges {
  status?: TicketStatus;
  tags?: string[];
  additional_tags?: string[];
  remove_tags?: string[];
  custom_fields?: Array<{ id: number; value: unknown }>;
  group_id?: number;
  assignee_id?: number;
  priority?: string;
  type?: string;
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}
