/**
 * The Support API's route table and its handlers (research §A.2.2–§A.2.4): users, tickets, comments,
 * uploads. The account's state and limits are in support.ts, the agent side in support-agent.ts.
 */
import { randomBytes } from 'node:crypto';
import { isoSeconds } from './ids.js';
import { isObject, mediaType, type Result, type Route, type SimRequest, type SimResponse } from './http.js';
import {
  type TicketStatus,
  type ZdUser,
  type ZdAttachment,
  type ZdComment,
  type ZdTicket,
  type ZdUpload,
  type Ctx,
  viaJson,
  json,
  invalid,
  notFound,
  type Support,
  dedupe,
} from './support.js';
import { fire } from './support-events.js';
import { userJson, ticketJson, commentJson, attachmentJson } from './support-shapes.js';
import { Window } from './support-text.js';

export function buildRoutes(sim: Support): Route<Ctx>[] {
  const r = (method: Route<Ctx>['method'], path: string, op: string, handle: Route<Ctx>['handle']): Route<Ctx> => ({
    method,
    pattern: new RegExp(`^/api/v2/${path}(?:\\.json)?$`),
    op,
    handle,
  });
  return [
    r('POST', 'users/create_or_update', 'CreateOrUpdateUser', (req) => createOrUpdateUser(sim, req)),
    r('GET', 'users/search', 'SearchUsers', (req) => searchUsers(sim, req)),
    r('GET', 'users/(\\d+)', 'ShowUser', (req) => {
      const u = sim.users.get(Number(req.params[0]));
      return u ? json(200, { user: userJson(sim, u) }) : notFound();
    }),
    r('POST', 'tickets', 'CreateTicket', (req, ctx) => sim.idempotency.run(req, () => createTicket(sim, req, ctx))),
    r('GET', 'tickets/(\\d+)', 'ShowTicket', (req) => {
      const t = sim.tickets.get(Number(req.params[0]));
      return t ? json(200, { ticket: ticketJson(sim, t) }) : notFound();
    }),
    r('PUT', 'tickets/(\\d+)', 'UpdateTicket', (req, ctx) => updateTicket(sim, req, ctx)),
    r('GET', 'tickets/(\\d+)/comments', 'ListTicketComments', (req) => listComments(sim, req)),
    r('POST', 'uploads', 'UploadFiles', (req) => upload(sim, req)),
    r('DELETE', 'uploads/([^/]+?)', 'DeleteUpload', (req) => {
      const u = sim.uploads.get(req.params[0] ?? '');
      if (!u) return notFound();
      sim.uploads.delete(u.token);
      for (const a of u.attachments) sim.files.delete(sim.fileKey(a));
      return { status: 204 };
    }),
  ];
}

/** `{"<key>": {…}}` (e.g. `{"ticket": {…}}`); the 400 bodies are UNVERIFIED. */
export function body(sim: Support, req: SimRequest, key: string): Result<Record<string, unknown>> {
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

/**
 * CreateOrUpdateUser: "Creates a user if the user does not already exist, or updates an existing
 * user identified by e-mail address or external ID" → 201 + `Location` when created, 200 when
 * updated; external id matching is case-insensitive and the stored id takes the case sent.
 */
export function createOrUpdateUser(sim: Support, req: SimRequest): SimResponse {
  const parsed = body(sim, req, 'user');
  if ('error' in parsed) return parsed.error;
  const u = parsed.ok;
  for (const k of ['name', 'email', 'external_id', 'phone'] as const) {
    if (u[k] !== undefined && u[k] !== null && typeof u[k] !== 'string') return invalid(k, `${k}: must be a string`);
  }
  const ext = typeof u['external_id'] === 'string' ? u['external_id'] : undefined;
  const email = typeof u['email'] === 'string' ? u['email'] : undefined;
  const existing =
    (ext !== undefined ? [...sim.users.values()].find((x) => x.external_id?.toLowerCase() === ext.toLowerCase()) : undefined) ??
    (email !== undefined ? [...sim.users.values()].find((x) => x.email?.toLowerCase() === email.toLowerCase()) : undefined);
  if (existing) {
    if (typeof u['name'] === 'string' && u['name'] !== '') existing.name = u['name'];
    if (email !== undefined) existing.email = email;
    if (ext !== undefined) existing.external_id = ext;
    if (typeof u['phone'] === 'string') existing.phone = u['phone'];
    existing.updated_at = isoSeconds();
    return json(200, { user: userJson(sim, existing) });
  }
  const name = typeof u['name'] === 'string' ? u['name'].trim() : '';
  if (name === '') return invalid('name', 'Name: cannot be blank', 'BlankValue');
  const role = u['role'] === 'agent' || u['role'] === 'admin' ? u['role'] : 'end-user'; // "The default role is end user."
  const created = sim.newUser({
    name,
    role,
    ...(email !== undefined ? { email } : {}),
    ...(ext !== undefined ? { external_id: ext } : {}),
    ...(typeof u['phone'] === 'string' ? { phone: u['phone'] } : {}),
  });
  return json(201, { user: userJson(sim, created) }, { location: `${sim.deps.baseUrl()}/api/v2/users/${created.id}.json` });
}

/** `GET /users/search?external_id=…` or `?query=…` (research §A.2.2; exact query names UNVERIFIED). */
export function searchUsers(sim: Support, req: SimRequest): SimResponse {
  const ext = req.query.get('external_id');
  const q = req.query.get('query');
  let found: ZdUser[];
  if (ext !== null) found = [...sim.users.values()].filter((u) => u.external_id?.toLowerCase() === ext.toLowerCase());
  else if (q !== null) {
    const needle = q.replace(/^(email|external_id):/, '').toLowerCase();
    found = [...sim.users.values()].filter(
      (u) => u.email?.toLowerCase() === needle || u.external_id?.toLowerCase() === needle || u.name.toLowerCase().includes(needle),
    );
  } else return json(400, { error: 'InvalidParameter', description: 'query or external_id is required' }); // UNVERIFIED
  return json(200, { users: found.map((u) => userJson(sim, u)), next_page: null, previous_page: null, count: found.length });
}

export function createTicket(sim: Support, req: SimRequest, ctx: Ctx): SimResponse {
  const parsed = body(sim, req, 'ticket');
  if ('error' in parsed) return parsed.error;
  const t = parsed.ok;
  // "Creating a Ticket with a new Requester … name, email, and locale id … if a user already exists
  // with the given email address then we will use that user" (research §A.2.3). The new user is
  // created only once the whole request is accepted.
  let requester: ZdUser | { name: string; email?: string } = ctx.user;
  if (t['requester_id'] !== undefined) {
    const r = sim.users.get(Number(t['requester_id']));
    if (!r) return invalid('requester', 'Requester: is invalid');
    requester = r;
  } else if (isObject(t['requester'])) {
    const r = t['requester'];
    const email = typeof r['email'] === 'string' ? r['email'] : undefined;
    const found = email !== undefined ? [...sim.users.values()].find((u) => u.email?.toLowerCase() === email.toLowerCase()) : undefined;
    const name = typeof r['name'] === 'string' && r['name'].trim() !== '' ? r['name'].trim() : email?.split('@')[0];
    if (found) requester = found;
    else if (name === undefined) return invalid('requester', 'Requester: Name is too short (minimum one character)');
    // `requester.external_id` on ticket create is UNVERIFIED (research §A.2.3): not applied here.
    else requester = { name, ...(email !== undefined ? { email } : {}) };
  }
  if (!isObject(t['comment'])) return invalid('description', 'Description: cannot be blank', 'BlankValue');
  const built = sim.buildComment(t['comment'], ctx.user, 'api');
  if ('error' in built) return built.error;
  const c = built.ok.comment;
  const fields = sim.fieldChanges(t);
  if ('error' in fields) return fields.error;
  const f = fields.ok;
  const status: TicketStatus = f.status ?? (f.assignee_id ? 'open' : 'new');
  if (status === 'solved' && f.assignee_id === undefined) return invalid('assignee_id', 'Assignee: is required when solving a ticket');
  if (status === 'closed') return invalid('status', 'Status: closed is not a valid status for a new ticket'); // UNVERIFIED
  const requesterUser = 'id' in requester ? requester : sim.newUser({ ...requester, role: 'end-user' });
  built.ok.commit();
  const now = isoSeconds();
  const ticket: ZdTicket = {
    id: sim.deps.ticketIds.take(),
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
  const audit = sim.audit(ticket, c, ctx.user, [{ type: 'Create', field_name: 'status', value: ticket.status }]);
  sim.tickets.set(ticket.id, ticket);
  ticket.comments.push(c);
  fire(sim, ticket, { comment: c, previousStatus: undefined, actor: ctx.user, via: 'api' });
  // CreateTicket: 201 with `Location` and `{ticket, audit}` (research §A.2.3).
  return json(201, { ticket: ticketJson(sim, ticket), audit }, { location: `${sim.deps.baseUrl()}/api/v2/tickets/${ticket.id}.json` });
}

/**
 * UpdateTicket. Order of checks: the ticket exists (404), is not closed ("A closed ticket can't
 * be reopened", research §A.2.3 → 422), the per-user-per-ticket and account update limits
 * (research §A.2.6 → 429 + Retry-After), `safe_update` (409), then the changes (422).
 */
export function updateTicket(sim: Support, req: SimRequest, ctx: Ctx): SimResponse {
  const t = sim.tickets.get(Number(req.params[0]));
  if (!t) return notFound();
  const parsed = body(sim, req, 'ticket');
  if ('error' in parsed) return parsed.error;
  const u = parsed.ok;
  // UNVERIFIED wording (not in research): Zendesk answers updates of closed tickets with this 422.
  if (t.status === 'closed') return invalid('status', 'Status: closed prevents ticket update', 'ClosedPreventsUpdate');
  const now = Date.now();
  const key = `${ctx.user.id}:${t.id}`;
  const perTicket = sim.perUserTicket.get(key) ?? new Window(sim.limits.ticketUpdateWindowMs);
  sim.perUserTicket.set(key, perTicket);
  if (perTicket.count(now) >= sim.limits.ticketUpdatesPerUserPerTicket) {
    // The ticket-update limit's body text is UNVERIFIED.
    return json(
      429,
      { error: 'TooManyRequests', description: 'Rate limit for ticket updates exceeded, please wait before updating this ticket again' },
      { 'retry-after': String(perTicket.retryAfter(now)) },
    );
  }
  if (sim.ticketUpdateWindow.count(now) >= sim.limits.ticketUpdatesPerMinute) {
    return json(
      429,
      { error: 'TooManyRequests', description: 'Rate limit for ticket updates exceeded' },
      { 'retry-after': String(sim.ticketUpdateWindow.retryAfter(now)) },
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
    const c = sim.buildComment(u['comment'], ctx.user, 'api');
    if ('error' in c) return c.error;
    comment = c.ok.comment;
    commit = c.ok.commit;
  }
  const fields = sim.fieldChanges(u);
  if ('error' in fields) return fields.error;
  const result = sim.applyUpdate(t, fields.ok, comment, ctx.user, 'api');
  if ('error' in result) return result.error;
  commit();
  perTicket.add(now);
  sim.ticketUpdateWindow.add(now);
  return json(200, { ticket: ticketJson(sim, t), audit: result.ok });
}

export function listComments(sim: Support, req: SimRequest): SimResponse {
  const t = sim.tickets.get(Number(req.params[0]));
  if (!t) return notFound();
  const all = t.comments;
  const sizeRaw = req.query.get('page[size]');
  if (sizeRaw === null) {
    // Offset-style answer (research §A.2.1 lists both styles; one page holds everything here).
    return json(200, { comments: all.map((c) => commentJson(sim, c)), next_page: null, previous_page: null, count: all.length });
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
  const base = `${sim.deps.baseUrl()}/api/v2/tickets/${t.id}/comments.json?page[size]=${size}`;
  return json(200, {
    comments: items.map((c) => commentJson(sim, c)),
    meta: { has_more: hasMore, after_cursor: hasMore ? cursor(start + size) : null, before_cursor: start > 0 ? cursor(Math.max(0, start - size)) : null },
    links: { next: hasMore ? `${base}&page[after]=${cursor(start + size)}` : null, prev: start > 0 ? `${base}&page[before]=${cursor(start)}` : null },
  });
}

/**
 * UploadFiles: `POST /uploads?filename=…[&token=…]`, raw bytes, a Content-Type that "must contain
 * a recognized MIME type" → 201 `{upload: {token, attachment, attachments}}`; `token` appends to
 * an earlier upload. Status codes for a bad request here are UNVERIFIED.
 */
export function upload(sim: Support, req: SimRequest): SimResponse {
  const filename = req.query.get('filename');
  if (filename === null || filename.trim() === '') return json(400, { error: 'InvalidParameter', description: 'filename is required' });
  const type = mediaType(req.headers);
  if (!/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/i.test(type))
    return json(400, { error: 'InvalidContentType', description: 'Content-Type must contain a recognized MIME type' });
  const key = randomBytes(12).toString('base64url');
  const a: ZdAttachment = {
    id: sim.recordIds.take(),
    file_name: filename,
    content_type: type === 'application/binary' ? 'application/octet-stream' : type,
    size: req.body.length,
    content_url: `${sim.deps.baseUrl()}/attachments/token/${key}/?name=${encodeURIComponent(filename)}`,
    bytes: Buffer.from(req.body),
  };
  sim.files.set(key, a);
  const existingToken = req.query.get('token');
  const existing = existingToken !== null ? sim.uploads.get(existingToken) : undefined;
  if (existingToken !== null && (!existing || existing.used))
    return json(422, { error: 'InvalidToken', description: 'The upload token is invalid or was already used' }); // UNVERIFIED
  const up: ZdUpload = existing ?? {
    token: randomBytes(12).toString('base64url').replace(/[-_]/g, 'x').toLowerCase().slice(0, 25),
    attachments: [],
    expiresAt: Date.now() + sim.uploadTtl,
    used: false,
  };
  up.attachments.push(a);
  sim.uploads.set(up.token, up);
  return json(201, {
    upload: {
      token: up.token,
      expires_at: isoSeconds(up.expiresAt),
      attachment: attachmentJson(sim, a),
      attachments: up.attachments.map((x) => attachmentJson(sim, x)),
    },
  });
}
