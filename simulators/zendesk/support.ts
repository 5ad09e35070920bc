/**
 * Zendesk Support (ticketing) API, the ticket route (research §A.2): end users by external id,
 * tickets and their comments, uploads, per-ticket update limits, and the trigger- or
 * event-connected webhooks that tell the bridge what agents did. Served under `{base}/api/v2/…`
 * with the `.json` suffix optional (research §A.2.1).
 *
 * Zendesk publishes no OpenAPI file we hold, so shapes cite research sections and the doc pages
 * they name; error bodies not in research are marked UNVERIFIED.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Sequence, hexSecret, isoSeconds } from './ids.js';
import { isObject, type Result, type Route, type SimResponse } from './http.js';
import { IdempotencyKeys } from './support-idempotency.js';
import { DEFAULT_SUPPORT_RETRY, SupportWebhookDispatcher, type SupportRetryPolicy, type SupportWebhookConfig } from './support-webhooks.js';
import { fire } from './support-events.js';
import { buildRoutes } from './support-routes.js';
import { commentJson } from './support-shapes.js';
import { stripHtml, escapeHtml, Window } from './support-text.js';

export type TicketStatus = 'new' | 'open' | 'pending' | 'hold' | 'solved' | 'closed';
export const STATUSES: readonly TicketStatus[] = ['new', 'open', 'pending', 'hold', 'solved', 'closed'];

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

export type Ctx = { user: ZdUser };

/** How an update reached the ticket: the API (`via_id` 5, research §A.2.3) or an agent's browser. */
export type Via = 'api' | 'web';

// research §A.2.3 (REST captures show `via: {channel: "api", source: {from: {}, to: {}, rel: null}}`).
export const viaJson = (via: Via) => ({ channel: via, source: { from: {}, to: {}, rel: null } });

export const json = (status: number, body: unknown, headers?: Record<string, string>): SimResponse => ({ status, json: body, ...(headers ? { headers } : {}) });
/** Zendesk's validation error shape (`RecordInvalid` + `details`): UNVERIFIED wording, not in research. */
export const invalid = (field: string, description: string, error = 'InvalidValue'): SimResponse =>
  json(422, { error: 'RecordInvalid', description: 'Record validation errors', details: { [field]: [{ description, error }] } });
/** UNVERIFIED (not in research): Zendesk's usual not-found body. */
export const notFound = (): SimResponse => json(404, { error: 'RecordNotFound', description: 'Not found' });

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
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

  readonly ignoreApiUpdates: boolean;
  readonly requireTag: string | undefined;
  readonly userIds = new Sequence(36_100_000_000_001);
  readonly recordIds = new Sequence(40_000_000_000_001);
  readonly limits: Required<NonNullable<SupportOptions['limits']>>;
  readonly uploadTtl: number;
  requestWindow: Window;
  ticketUpdateWindow: Window;
  perUserTicket = new Map<string, Window>();
  readonly files = new Map<string, ZdAttachment>();
  sequence = 1;
  /** Ticket creation's Idempotency-Key (support-idempotency.ts). */
  readonly idempotency: IdempotencyKeys;

  constructor(
    options: SupportOptions,
    readonly deps: { baseUrl: () => string; ticketIds: Sequence; log: (line: string) => void },
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
    this.routes = buildRoutes(this);
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

  agentByEmail(email: string): ZdUser | undefined {
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

  // ─── users (research §A.2.2) ────────────────────────────────────────────────────────────────

  newUser(init: { name: string; email?: string; external_id?: string; phone?: string; role: ZdUser['role'] }): ZdUser {
    const at = isoSeconds();
    const u: ZdUser = { id: this.userIds.take(), name: init.name, role: init.role, created_at: at, updated_at: at };
    if (init.email !== undefined) u.email = init.email;
    if (init.external_id !== undefined) u.external_id = init.external_id;
    if (init.phone !== undefined) u.phone = init.phone;
    this.users.set(u.id, u);
    return u;
  }

  // ─── tickets (research §A.2.3) ──────────────────────────────────────────────────────────────

  /**
   * A comment from a request's `comment` object, or the answer refusing it. Nothing is changed
   * yet: the upload tokens it uses are consumed by `commit` once the whole request is accepted.
   */
  buildComment(raw: Record<string, unknown>, defaultAuthor: ZdUser, via: Via): Result<{ comment: ZdComment; commit: () => void }> {
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

  fieldChanges(t: Record<string, unknown>): Result<FieldChanges> {
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

  audit(t: ZdTicket, c: ZdComment | undefined, actor: ZdUser, changes: Array<Record<string, unknown>>): Record<string, unknown> {
    const id = this.recordIds.take();
    if (c) c.audit_id = id;
    return {
      id,
      ticket_id: t.id,
      created_at: t.updated_at,
      author_id: actor.id,
      metadata: { system: {}, custom: {} },
      events: [...(c ? [{ ...commentJson(this, c), type: 'Comment' }] : []), ...changes.map((e) => ({ id: this.recordIds.take(), ...e }))],
      via: t.via,
    };
  }

  /** Applies field changes and a comment; fires the webhooks the update matches. */
  applyUpdate(t: ZdTicket, f: FieldChanges, comment: ZdComment | undefined, actor: ZdUser, via: Via): Result<Record<string, unknown>> {
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
    fire(this, t, { ...(comment ? { comment } : {}), previousStatus, actor, via });
    return { ok: audit };
  }

  // ─── uploads (research §A.2.4) ──────────────────────────────────────────────────────────────

  fileKey(a: ZdAttachment): string {
    return new URL(a.content_url).pathname.split('/')[3] ?? '';
  }

  // ─── the agent side ─────────────────────────────────────────────────────────────────────────

  ticket(id: number): ZdTicket {
    const t = this.tickets.get(id);
    if (!t) throw new Error(`ZendeskSimulator: unknown ticket ${id}`);
    return t;
  }

  // ─── webhooks ───────────────────────────────────────────────────────────────────────────────
}

export interface FieldChanges {
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

export function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}
