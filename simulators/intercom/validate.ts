/**
 * Request bodies checked as the 2.14 description types them (schema names cited per function).
 * A failure is a 400 `error.list`; the codes follow the description's examples, the messages are
 * UNVERIFIED (Intercom's exact wording for each case is not published).
 *
 * Ids (`admin_id`, `assignee_id`, tag `id`) are typed string but every request example of the
 * description sends them as numbers, so both are taken and normalised to strings.
 */
import { ERR, type ErrorItem } from './fixtures.js';

export type Json = Record<string, unknown>;
type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorItem };

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = <T>(error: ErrorItem): Result<T> => ({ ok: false, error });

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const MAX_ATTACHMENTS = 10; // attachment_urls / attachment_files: "You can include up to 10" (maxItems: 10)

function optString(b: Json, key: string, nullable = false): Result<string | null | undefined> {
  const v = b[key];
  if (v === undefined) return ok(undefined);
  if (v === null && nullable) return ok(null);
  if (typeof v !== 'string') return fail(ERR.invalid(`${key} must be a string${nullable ? ' or null' : ''}`, key));
  return ok(v);
}

function optInt(b: Json, key: string, nullable = false): Result<number | null | undefined> {
  const v = b[key];
  if (v === undefined) return ok(undefined);
  if (v === null && nullable) return ok(null);
  if (typeof v !== 'number' || !Number.isInteger(v)) return fail(ERR.invalid(`${key} must be an integer`, key));
  return ok(v);
}

/** An id typed string that examples send as a number. */
function idField(b: Json, key: string, required: boolean): Result<string | undefined> {
  const v = b[key];
  if (v === undefined || v === null) return required ? fail(ERR.missing(key)) : ok(undefined);
  if (typeof v === 'string' && v !== '') return ok(v);
  if (typeof v === 'number' && Number.isInteger(v)) return ok(String(v));
  return fail(ERR.invalid(`${key} must be a string`, key));
}

function urls(b: Json, key: string): Result<string[]> {
  const v = b[key];
  if (v === undefined) return ok([]);
  if (!Array.isArray(v)) return fail(ERR.invalid(`${key} must be an array`, key));
  if (v.length > MAX_ATTACHMENTS) return fail(ERR.invalid(`${key} can have at most ${MAX_ATTACHMENTS} items`, key));
  for (const u of v) {
    if (typeof u !== 'string' || !/^https?:\/\/[^\s]+$/i.test(u)) return fail(ERR.invalid(`${key} must contain absolute http(s) URLs`, key));
  }
  return ok(v as string[]);
}

export interface AttachmentFile {
  contentType: string;
  data: Buffer;
  name: string;
}

/** `conversation_attachment_files`: {content_type, data (base64), name}. */
function files(b: Json): Result<AttachmentFile[]> {
  const v = b['attachment_files'];
  if (v === undefined) return ok([]);
  if (!Array.isArray(v)) return fail(ERR.invalid('attachment_files must be an array', 'attachment_files'));
  if (v.length > MAX_ATTACHMENTS) return fail(ERR.invalid(`attachment_files can have at most ${MAX_ATTACHMENTS} items`, 'attachment_files'));
  const out: AttachmentFile[] = [];
  for (const f of v) {
    if (!isObject(f) || typeof f['data'] !== 'string' || typeof f['name'] !== 'string' || f['name'] === '') {
      return fail(ERR.invalid('attachment_files items need name and base64 data', 'attachment_files'));
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(f['data'].replace(/\s+/g, ''))) return fail(ERR.invalid('attachment_files data must be base64', 'attachment_files'));
    const contentType = typeof f['content_type'] === 'string' && f['content_type'] !== '' ? f['content_type'] : 'application/octet-stream';
    out.push({ contentType, data: Buffer.from(f['data'], 'base64'), name: f['name'] });
  }
  return ok(out);
}

function replyOptions(b: Json): Result<Array<{ text: string; uuid: string }> | undefined> {
  const v = b['reply_options'];
  if (v === undefined) return ok(undefined);
  // quick_reply_option: {text, uuid (format uuid)} both required.
  if (!Array.isArray(v) || v.some((o) => !isObject(o) || typeof o['text'] !== 'string' || typeof o['uuid'] !== 'string')) {
    return fail(ERR.invalid('reply_options must be a list of {text, uuid}', 'reply_options'));
  }
  return ok(v.map((o: Json) => ({ text: o['text'] as string, uuid: o['uuid'] as string })));
}

// ─── contacts ─────────────────────────────────────────────────────────────────────────────────

export interface ContactFields {
  role?: 'user' | 'lead';
  external_id?: string;
  email?: string;
  phone?: string | null;
  name?: string | null;
  avatar?: string | null;
  signed_up_at?: number | null;
  last_seen_at?: number | null;
  owner_id?: number | null;
  unsubscribed_from_emails?: boolean | null;
  custom_attributes?: Record<string, string | number | boolean | null> | null;
}

/** `create_contact_request` (create: true, anyOf email | external_id | role) or `update_contact_request`. */
export function contactFields(b: unknown, create: boolean, definedAttributes: ReadonlySet<string> | undefined): Result<ContactFields> {
  if (!isObject(b)) return fail(ERR.invalid('The request body must be a JSON object'));
  const out: ContactFields = {};
  const role = optString(b, 'role');
  if (!role.ok) return role;
  if (role.value !== undefined && role.value !== null) {
    if (role.value !== 'user' && role.value !== 'lead') return fail(ERR.invalid('role must be one of user, lead', 'role'));
    out.role = role.value;
  }
  for (const key of ['external_id', 'email'] as const) {
    const r = optString(b, key);
    if (!r.ok) return r;
    if (typeof r.value === 'string') out[key] = r.value;
  }
  for (const key of ['phone', 'name', 'avatar'] as const) {
    const r = optString(b, key, true);
    if (!r.ok) return r;
    if (r.value !== undefined) out[key] = r.value;
  }
  for (const key of ['signed_up_at', 'last_seen_at', 'owner_id'] as const) {
    const r = optInt(b, key, true);
    if (!r.ok) return r;
    if (r.value !== undefined) out[key] = r.value;
  }
  const unsub = b['unsubscribed_from_emails'];
  if (unsub !== undefined) {
    if (unsub !== null && typeof unsub !== 'boolean') return fail(ERR.invalid('unsubscribed_from_emails must be a boolean', 'unsubscribed_from_emails'));
    out.unsubscribed_from_emails = unsub;
  }
  const ca = b['custom_attributes'];
  if (ca !== undefined) {
    if (ca !== null && !isObject(ca)) return fail(ERR.invalid('custom_attributes must be an object', 'custom_attributes'));
    if (ca) {
      for (const [k, v] of Object.entries(ca)) {
        if (v !== null && !['string', 'number', 'boolean'].includes(typeof v)) {
          return fail(ERR.invalid(`Custom attribute '${k}' must be a string, number, boolean or null`, 'custom_attributes'));
        }
        if (definedAttributes && !definedAttributes.has(k)) return fail(ERR.invalid(`Custom attribute '${k}' does not exist`, 'custom_attributes'));
      }
    }
    out.custom_attributes = ca as Record<string, string | number | boolean | null> | null;
  }
  if (create && out.email === undefined && out.external_id === undefined && out.role === undefined) {
    return fail(ERR.invalid('One of email, external_id or role is required'));
  }
  return ok(out);
}

export type Filter = { field: string; operator: string; value: unknown } | { operator: 'AND' | 'OR'; value: Filter[] };

export interface SearchRequest {
  query: Filter;
  perPage: number;
  startingAfter: string | undefined;
}

const SINGLE_OPERATORS = new Set(['=', '!=', 'IN', 'NIN', '<', '<=', '>', '>=', '~', '!~', '^', '$']);

/**
 * `search_request`: single_filter_search_request | multiple_filter_search_request; "max 2 nested
 * filters", "max 15 filters for each AND or OR group"; per_page default 50 (SearchContacts
 * description), at most 150 (the description's per_page maximum on list endpoints).
 */
export function searchRequest(b: unknown): Result<SearchRequest> {
  if (!isObject(b)) return fail(ERR.invalid('The request body must be a JSON object'));
  if (b['query'] === undefined) return fail(ERR.missing('query'));
  const q = filter(b['query'], 0);
  if (!q.ok) return q;
  let perPage = 50;
  let startingAfter: string | undefined;
  const p = b['pagination'];
  if (p !== undefined && p !== null) {
    if (!isObject(p)) return fail(ERR.invalid('pagination must be an object', 'pagination'));
    if (p['per_page'] !== undefined) {
      if (typeof p['per_page'] !== 'number' || !Number.isInteger(p['per_page']) || p['per_page'] < 1 || p['per_page'] > 150) {
        return fail(ERR.invalid('per_page must be an integer between 1 and 150', 'per_page'));
      }
      perPage = p['per_page'];
    }
    if (typeof p['starting_after'] === 'string') startingAfter = p['starting_after'];
  }
  return ok({ query: q.value, perPage, startingAfter });
}

function filter(v: unknown, depth: number): Result<Filter> {
  if (!isObject(v)) return fail(ERR.invalid('query must be an object', 'query'));
  const op = v['operator'];
  if (op === 'AND' || op === 'OR') {
    if (depth >= 2) return fail(ERR.invalid('There is a limit of max 2 nested filters', 'query'));
    const items = v['value'];
    if (!Array.isArray(items) || items.length === 0) return fail(ERR.invalid(`${op} needs a list of filters`, 'query'));
    if (items.length > 15) return fail(ERR.invalid(`There is a limit of max 15 filters for each ${op} group`, 'query'));
    // multiple_filter_search_request.value is oneOf [list of groups, list of filters]: a group holds one kind only.
    const groups = items.filter((i) => isObject(i) && (i['operator'] === 'AND' || i['operator'] === 'OR')).length;
    if (groups !== 0 && groups !== items.length) return fail(ERR.invalid(`An ${op} group holds either filters or groups, not both`, 'query'));
    const out: Filter[] = [];
    for (const item of items) {
      const f = filter(item, depth + 1);
      if (!f.ok) return f;
      out.push(f.value);
    }
    return ok({ operator: op, value: out });
  }
  if (typeof v['field'] !== 'string' || v['field'] === '') return fail(ERR.missing('field'));
  if (typeof op !== 'string' || !SINGLE_OPERATORS.has(op)) return fail(ERR.invalid(`operator ${JSON.stringify(op)} is not supported`, 'operator'));
  const value = v['value'];
  if ((op === 'IN' || op === 'NIN') && !Array.isArray(value)) return fail(ERR.invalid(`${op} needs an array value`, 'value'));
  return ok({ field: v['field'], operator: op, value });
}

// ─── conversations ────────────────────────────────────────────────────────────────────────────

export interface CreateConversation {
  from: { type: 'user' | 'lead' | 'contact'; id: string };
  body: string;
  subject: string | undefined;
  attachmentUrls: string[];
  createdAt: number | undefined;
}

/** `create_conversation_request`: from {type, id} and body required; attachment_urls ≤ 10. */
export function createConversation(b: unknown): Result<CreateConversation> {
  if (!isObject(b)) return fail(ERR.invalid('The request body must be a JSON object'));
  const from = b['from'];
  if (!isObject(from)) return fail(ERR.missing('from'));
  if (from['type'] !== 'user' && from['type'] !== 'lead' && from['type'] !== 'contact') {
    return fail(ERR.invalid('from.type must be one of user, lead, contact', 'from'));
  }
  if (typeof from['id'] !== 'string' || from['id'] === '') return fail(ERR.missing('from.id'));
  if (typeof b['body'] !== 'string') return fail(b['body'] === undefined ? ERR.missing('body') : ERR.invalid('body must be a string', 'body'));
  const subject = optString(b, 'subject');
  if (!subject.ok) return subject;
  const attachmentUrls = urls(b, 'attachment_urls');
  if (!attachmentUrls.ok) return attachmentUrls;
  const createdAt = optInt(b, 'created_at');
  if (!createdAt.ok) return createdAt;
  return ok({
    from: { type: from['type'], id: from['id'] },
    body: b['body'],
    subject: subject.value ?? undefined,
    attachmentUrls: attachmentUrls.value,
    createdAt: createdAt.value ?? undefined,
  });
}

export type Reply =
  | {
      type: 'user';
      messageType: 'comment' | 'quick_reply';
      body: string | undefined;
      by: { intercom_user_id: string } | { user_id: string } | { email: string };
      attachmentUrls: string[];
      attachmentFiles: AttachmentFile[];
      replyOptions: Array<{ text: string; uuid: string }> | undefined;
      createdAt: number | undefined;
    }
  | {
      type: 'admin';
      messageType: 'comment' | 'note' | 'quick_reply';
      adminId: string;
      body: string | undefined;
      attachmentUrls: string[];
      attachmentFiles: AttachmentFile[];
      replyOptions: Array<{ text: string; uuid: string }> | undefined;
      createdAt: number | undefined;
    };

/**
 * `reply_conversation_request` = contact_reply_conversation_request (exactly one of
 * intercom_user_id | email | user_id, a oneOf) | admin_reply_conversation_request.
 * Contacts reply with `comment` (the schema's enum); the description's own example "User reply with
 * quick reply selection" sends `quick_reply` without a body, so that is taken too.
 */
export function reply(b: unknown): Result<Reply> {
  if (!isObject(b)) return fail(ERR.invalid('The request body must be a JSON object'));
  const attachmentUrls = urls(b, 'attachment_urls');
  if (!attachmentUrls.ok) return attachmentUrls;
  const attachmentFiles = files(b);
  if (!attachmentFiles.ok) return attachmentFiles;
  const options = replyOptions(b);
  if (!options.ok) return options;
  const createdAt = optInt(b, 'created_at');
  if (!createdAt.ok) return createdAt;
  const body = optString(b, 'body');
  if (!body.ok) return body;
  const mt = b['message_type'];
  if (b['type'] === 'user') {
    if (mt !== 'comment' && mt !== 'quick_reply') return fail(ERR.invalid('message_type must be comment for a contact reply', 'message_type'));
    if (mt === 'comment' && body.value == null) return fail(ERR.missing('body'));
    if (mt === 'quick_reply' && !options.value) return fail(ERR.missing('reply_options'));
    const ids = (['intercom_user_id', 'user_id', 'email'] as const).filter((k) => b[k] !== undefined);
    if (ids.length !== 1) return fail(ERR.invalid('Exactly one of intercom_user_id, user_id or email is required', ids[0] ?? 'intercom_user_id'));
    const key = ids[0]!;
    const idValue = b[key];
    if (typeof idValue !== 'string' || idValue === '') return fail(ERR.invalid(`${key} must be a string`, key));
    const by = key === 'intercom_user_id' ? { intercom_user_id: idValue } : key === 'user_id' ? { user_id: idValue } : { email: idValue };
    return ok({
      type: 'user',
      messageType: mt,
      body: body.value ?? undefined,
      by,
      attachmentUrls: attachmentUrls.value,
      attachmentFiles: attachmentFiles.value,
      replyOptions: options.value,
      createdAt: createdAt.value ?? undefined,
    });
  }
  if (b['type'] === 'admin') {
    if (mt !== 'comment' && mt !== 'note' && mt !== 'quick_reply')
      return fail(ERR.invalid('message_type must be one of comment, note, quick_reply', 'message_type'));
    const admin = idField(b, 'admin_id', true);
    if (!admin.ok) return admin;
    // "Must be present for comment and note message types" / "Must be present for quick_reply message types".
    if ((mt === 'comment' || mt === 'note') && body.value == null) return fail(ERR.missing('body'));
    if (mt === 'quick_reply' && !options.value) return fail(ERR.missing('reply_options'));
    return ok({
      type: 'admin',
      messageType: mt,
      adminId: admin.value!,
      body: body.value ?? undefined,
      attachmentUrls: attachmentUrls.value,
      attachmentFiles: attachmentFiles.value,
      replyOptions: options.value,
      createdAt: createdAt.value ?? undefined,
    });
  }
  return fail(b['type'] === undefined ? ERR.missing('type') : ERR.invalid('type must be user or admin', 'type'));
}

export type Manage =
  | { messageType: 'close'; adminId: string; body: string | undefined }
  | { messageType: 'snoozed'; adminId: string; snoozedUntil: number }
  | { messageType: 'open'; adminId: string }
  | { messageType: 'assignment'; adminId: string; assigneeType: 'admin' | 'team'; assigneeId: string; body: string | undefined };

/** close_ / snooze_ / open_ / assign_conversation_request. */
export function manage(b: unknown): Result<Manage> {
  if (!isObject(b)) return fail(ERR.invalid('The request body must be a JSON object'));
  const admin = idField(b, 'admin_id', true);
  if (!admin.ok) return admin;
  const adminId = admin.value!;
  const body = optString(b, 'body');
  if (!body.ok) return body;
  switch (b['message_type']) {
    case 'close':
      if (b['type'] !== 'admin') return fail(b['type'] === undefined ? ERR.missing('type') : ERR.invalid('type must be admin', 'type'));
      return ok({ messageType: 'close', adminId, body: body.value ?? undefined });
    case 'snoozed': {
      const until = optInt(b, 'snoozed_until');
      if (!until.ok) return until;
      if (until.value == null) return fail(ERR.missing('snoozed_until'));
      return ok({ messageType: 'snoozed', adminId, snoozedUntil: until.value });
    }
    case 'open':
      return ok({ messageType: 'open', adminId });
    case 'assignment': {
      if (b['type'] !== 'admin' && b['type'] !== 'team')
        return fail(b['type'] === undefined ? ERR.missing('type') : ERR.invalid('type must be admin or team', 'type'));
      const assignee = idField(b, 'assignee_id', true);
      if (!assignee.ok) return assignee;
      return ok({ messageType: 'assignment', adminId, assigneeType: b['type'], assigneeId: assignee.value!, body: body.value ?? undefined });
    }
    default:
      return fail(
        b['message_type'] === undefined
          ? ERR.missing('message_type')
          : ERR.invalid('message_type must be one of close, snoozed, open, assignment', 'message_type'),
      );
  }
}

/** `update_conversation_request` (the parts the simulator keeps: read, title, custom_attributes). */
export function updateConversation(b: unknown): Result<{ read?: boolean; title?: string; customAttributes?: Json }> {
  if (!isObject(b)) return fail(ERR.invalid('The request body must be a JSON object'));
  const out: { read?: boolean; title?: string; customAttributes?: Json } = {};
  if (b['read'] !== undefined) {
    if (typeof b['read'] !== 'boolean') return fail(ERR.invalid('read must be a boolean', 'read'));
    out.read = b['read'];
  }
  if (b['title'] !== undefined) {
    if (typeof b['title'] !== 'string') return fail(ERR.invalid('title must be a string', 'title'));
    out.title = b['title'];
  }
  if (b['custom_attributes'] !== undefined) {
    if (!isObject(b['custom_attributes'])) return fail(ERR.invalid('custom_attributes must be an object', 'custom_attributes'));
    out.customAttributes = b['custom_attributes'];
  }
  return ok(out);
}

/** Body of attachTagToConversation: {id, admin_id} required. */
export function tagAttach(b: unknown): Result<{ tagId: string; adminId: string }> {
  if (!isObject(b)) return fail(ERR.invalid('The request body must be a JSON object'));
  const id = idField(b, 'id', true);
  if (!id.ok) return id;
  const admin = idField(b, 'admin_id', true);
  if (!admin.ok) return admin;
  return ok({ tagId: id.value!, adminId: admin.value! });
}

/** Body of detachTagFromConversation: {admin_id} required. */
export function tagDetach(b: unknown): Result<{ adminId: string }> {
  if (!isObject(b)) return fail(ERR.invalid('The request body must be a JSON object'));
  const admin = idField(b, 'admin_id', true);
  if (!admin.ok) return admin;
  return ok({ adminId: admin.value! });
}
