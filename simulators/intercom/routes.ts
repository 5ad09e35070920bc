/**
 * The Intercom simulator's API: one handler for every request (faults, version, token, rate limit,
 * routing, recording), the route table of spec 2.14, and the admins and contacts routes. The
 * conversations routes and the parts each action writes are in conversations.ts; the workspace
 * state, webhooks and the agents' side in index.ts (IntercomSimulator, which these act on).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type RateState } from './faults.js';
import { API_VERSION, ERR, KNOWN_VERSIONS, contact as buildContact, contactId, errorList, unix, type ErrorItem } from './fixtures.js';
import type { ApiRoute, Contact, SimAdmin } from './types.js';
import * as V from './validate.js';
import { attachTag, createConversation, detachTag, getConversation, manageConversation, replyToConversation, updateConversation } from './conversations.js';
import type { IntercomSimulator as Sim } from './index.js';

export type Answer = { status: number; body: unknown };
export type Ctx = { params: string[]; query: URLSearchParams; body: unknown };
export interface RouteDef {
  method: string;
  route: ApiRoute;
  regex: RegExp;
  handle: (ctx: Ctx) => Answer | Promise<Answer>;
}

export const ok = (body: unknown): Answer => ({ status: 200, body });
export const err = (status: number, ...items: ErrorItem[]): Answer => ({ status, body: errorList(...items) });

export async function handle(sim: Sim, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (sim.faults.down === 'reset') {
    reply.hijack();
    req.raw.socket.destroy();
    sim.logLine(`${req.method} ${req.url} → connection reset (down)`);
    return undefined;
  }
  if (sim.faults.latencyMs > 0) await sleep(sim.faults.latencyMs);

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
  const match = matchRoute(sim, req.method, path);
  const version = headerValue(req.headers['intercom-version']);
  const headers: Record<string, string> = {};
  let rate: RateState | undefined;

  const answer = await (async (): Promise<Answer> => {
    if (typeof sim.faults.down === 'number') return err(sim.faults.down, ERR.serverError(sim.faults.down));
    const injected = sim.faults.take(match?.def.route);
    if (injected) {
      if (injected.retryAfter !== undefined) headers['retry-after'] = String(injected.retryAfter);
      if (injected.status === 429) {
        rate = { ...sim.limiter.peek(sim.now()), remaining: 0 };
        return err(429, ERR.rateLimited(sim.limiter.limit, sim.limiter.windowSeconds));
      }
      return err(injected.status, injected.status >= 500 ? ERR.serverError(injected.status) : ERR.invalid(`Injected ${injected.status}`));
    }
    // research §B.1: Bearer access token; spec: every 401 example is this body.
    const token = /^bearer\s+(\S+)\s*$/i.exec(headerValue(req.headers.authorization) ?? '')?.[1];
    if (!token || !sim.tokens.has(token)) return err(401, ERR.unauthorized());
    // [doc] rate-limiting: authenticated responses carry the headers; 429 beyond the limit.
    rate = sim.limiter.take(sim.now());
    if (rate.exceeded) return err(429, ERR.rateLimited(rate.limit, sim.limiter.windowSeconds));
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
  sim.requests.push({
    at: sim.now(),
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
  sim.logLine(`${req.method} ${path} → ${answer.status}`);
  reply.code(answer.status).headers(headers);
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(answer.body));
}

export function matchRoute(sim: Sim, method: string, path: string): { def: RouteDef; params: string[] } | undefined {
  for (const def of sim.routes) {
    if (def.method !== method) continue;
    const m = def.regex.exec(path);
    if (m) return { def, params: m.slice(1).map((p) => decodeURIComponent(p)) };
  }
  return undefined;
}

export function buildRoutes(sim: Sim): RouteDef[] {
  const r = (route: ApiRoute, handle: RouteDef['handle']): RouteDef => {
    const [method, template] = route.split(' ') as [string, string];
    const regex = new RegExp(`^${template.replace(/\{[^}]+\}/g, '([^/]+)')}$`);
    return { method, route, regex, handle };
  };
  // Literal segments first: find_by_external_id and search before {contact_id}.
  return [
    r('GET /me', () => ok(me(sim))),
    r('GET /admins', () => ok({ type: 'admin.list', admins: sim.admins.map((a) => adminView(sim, a)) })),
    r('GET /admins/{admin_id}', ({ params }) => {
      const a = sim.admins.find((x) => x.id === params[0]);
      return a ? ok(adminView(sim, a)) : err(404, ERR.adminNotFound());
    }),
    r('GET /contacts/find_by_external_id/{external_id}', ({ params }) => findByExternalId(sim, params[0]!)),
    r('POST /contacts/search', ({ body }) => searchContacts(sim, body)),
    r('POST /contacts', ({ body }) => createContact(sim, body)),
    r('GET /contacts/{contact_id}', ({ params }) => {
      const c = sim.ws.contacts.get(params[0]!);
      return c ? ok(c) : err(404, ERR.notFound()); // 404 body UNVERIFIED (ShowContact documents 200/401 only)
    }),
    r('PUT /contacts/{contact_id}', ({ params, body }) => updateContact(sim, params[0]!, body)),
    r('POST /conversations', ({ body }) => createConversation(sim, body)),
    r('GET /conversations/{conversation_id}', ({ params, query }) => getConversation(sim, params[0]!, query)),
    r('PUT /conversations/{conversation_id}', ({ params, body }) => updateConversation(sim, params[0]!, body)),
    r('POST /conversations/{conversation_id}/reply', ({ params, body }) => replyToConversation(sim, params[0]!, body)),
    r('POST /conversations/{conversation_id}/parts', ({ params, body }) => manageConversation(sim, params[0]!, body)),
    r('POST /conversations/{conversation_id}/tags', ({ params, body }) => attachTag(sim, params[0]!, body)),
    r('DELETE /conversations/{conversation_id}/tags/{tag_id}', ({ params, body }) => detachTag(sim, params[0]!, params[1]!, body)),
  ];
}

/** spec `identifyAdmin` "Successful response": the admin with its app. */
export function me(sim: Sim): Record<string, unknown> {
  const a = sim.admins[0]!;
  return {
    type: 'admin',
    id: a.id,
    email: a.email,
    name: a.name,
    email_verified: true,
    app: {
      type: 'app',
      id_code: sim.appId,
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
export function adminView(sim: Sim, a: SimAdmin): Record<string, unknown> {
  return { type: 'admin', email: a.email, id: a.id, name: a.name, away_mode_enabled: false, away_mode_reassign: false, has_inbox_seat: true, team_ids: [] };
}

/** The contact an external_id or email already belongs to (research §B.2: 409 on either). */
export function duplicateOf(sim: Sim, f: V.ContactFields, except?: string): Contact | undefined {
  const byExt = f.external_id !== undefined ? sim.ws.contactByExternalId(f.external_id) : undefined;
  if (byExt && byExt.id !== except) return byExt;
  // research §B.2 / [3p] PostHog/posthog#72192: a create after a search by email that found nothing got the 409.
  const byEmail = f.email ? sim.ws.contactByEmail(f.email) : undefined;
  if (byEmail && byEmail.id !== except) return byEmail;
  return undefined;
}

export function insertContact(sim: Sim, f: V.ContactFields): Contact {
  const now = sim.now();
  const c = buildContact({
    id: contactId(now),
    workspaceId: sim.appId,
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
  sim.ws.contacts.set(c.id, c);
  sim.ws.indexedAt.set(c.id, now);
  return c;
}

export function createContact(sim: Sim, body: unknown): Answer {
  const f = V.contactFields(body, true, sim.definedAttributes);
  if (!f.ok) return err(400, f.error);
  const dup = duplicateOf(sim, f.value);
  if (dup) return err(409, ERR.conflict(dup.id));
  return ok(insertContact(sim, f.value)); // 200, not 201 (spec CreateContact)
}

export function updateContact(sim: Sim, id: string, body: unknown): Answer {
  const c = sim.ws.contacts.get(id);
  if (!c) return err(404, ERR.notFound());
  const f = V.contactFields(body, false, sim.definedAttributes);
  if (!f.ok) return err(400, f.error);
  const dup = duplicateOf(sim, f.value, c.id);
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
  c.updated_at = unix(sim.now());
  for (const rec of sim.ws.conversations.values()) {
    for (const ref of rec.shell.contacts.contacts) if (ref.id === c.id) ref.external_id = c.external_id;
  }
  return ok(c);
}

/** "Note that this endpoint only supports users and not leads" (ShowContactByExternalId). 404 body UNVERIFIED. */
/** spec `ShowContactByExternalId`: 200 with the contact, "only supports users and not leads"; none: see `unknownExternalId`. */
export function findByExternalId(sim: Sim, externalId: string): Answer {
  const c = sim.ws.contactByExternalId(externalId);
  if (c && c.role === 'user') return ok(c);
  if (sim.options.unknownExternalId === 'not-found') return err(404, ERR.userNotFound());
  return ok({ type: 'list', data: [], total_count: 0 });
}

/** `contact_list` with cursor pages (research §B.1 pagination). The cursor's form is ours. */
export function searchContacts(sim: Sim, body: unknown): Answer {
  const q = V.searchRequest(body);
  if (!q.ok) return err(400, q.error);
  const found = sim.ws.search(q.value.query, sim.now(), sim.options.searchIndexLagMs ?? 0);
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

export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function encodeCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

function decodeCursor(s: string): number | undefined {
  const m = /^offset:(\d+)$/.exec(Buffer.from(s, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}
