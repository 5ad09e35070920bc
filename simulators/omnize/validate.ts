/**
 * Request bodies as interactions.md types them (each route's parameter table). Optional fields may
 * be absent or null: the doc says null is "saved as" the default for `media_type` and `type`;
 * accepting null for the other optional fields too is UNVERIFIED (lenient). Unknown keys are
 * ignored (UNVERIFIED: the doc does not say).
 */
import { MEDIA_TYPES, MESSAGE_TYPES, MOODS, MSG } from './fixtures.js';
import type { MediaType, MessageType, OmnizeCustomer } from './types.js';

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const fail = (message: string): { ok: false; message: string } => ({ ok: false, message });
const absent = (v: unknown): boolean => v === undefined || v === null;

function httpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The token of a body (interactions.md: `token | string | true` on every route). */
export function bodyToken(body: unknown): string | undefined {
  const t = isObject(body) ? body['token'] : undefined;
  return typeof t === 'string' && t !== '' ? t : undefined;
}

export interface StartInteraction {
  departmentId: number;
  mediaType: MediaType;
  customer?: OmnizeCustomer;
  extra: Record<string, unknown>;
  externalHistory?: string;
}

/** interactions.md "Start interaction" parameter table. */
export function startInteraction(body: Record<string, unknown>): Checked<StartInteraction> {
  const dep = body['department_id'];
  if (absent(dep)) return fail(MSG.departmentRequired);
  // "department_id | integer": a numeric string is refused (UNVERIFIED whether Omnize coerces it).
  if (typeof dep !== 'number' || !Number.isInteger(dep)) return fail(MSG.departmentInvalid);

  const mt = body['media_type'];
  if (!absent(mt) && !(MEDIA_TYPES as readonly unknown[]).includes(mt)) return fail(MSG.mediaType);

  let customer: OmnizeCustomer | undefined;
  const c = body['customer'];
  if (!absent(c)) {
    if (!isObject(c)) return fail(MSG.customer);
    customer = {};
    for (const k of ['name', 'email', 'phone', 'cpf'] as const) {
      const v = c[k];
      if (absent(v)) continue;
      if (typeof v !== 'string') return fail(MSG.customer);
      customer[k] = v;
    }
  }

  const extra = body['extra'];
  if (!absent(extra) && !isObject(extra)) return fail(MSG.extra);

  const eh = body['external_history'];
  if (!absent(eh) && (typeof eh !== 'string' || !httpUrl(eh))) return fail(MSG.externalHistory);

  return ok({
    departmentId: dep,
    mediaType: absent(mt) ? 'TEXT' : (mt as MediaType),
    ...(customer ? { customer } : {}),
    extra: isObject(extra) ? structuredClone(extra) : {},
    ...(typeof eh === 'string' ? { externalHistory: eh } : {}),
  });
}

export interface SendMessage {
  content: string;
  type: MessageType;
  url: string | null;
}

/** interactions.md "Send message" parameter table. */
export function sendMessage(body: Record<string, unknown>): Checked<SendMessage> {
  const content = body['content'];
  if (typeof content !== 'string' || content === '') return fail(MSG.contentRequired);
  const t = body['type'];
  if (!absent(t) && !(MESSAGE_TYPES as readonly unknown[]).includes(t)) return fail(MSG.messageType);
  const type: MessageType = absent(t) ? 'text' : (t as MessageType);
  const url = body['url'];
  if (!absent(url) && (typeof url !== 'string' || !httpUrl(url))) return fail(MSG.url);
  // "url | File URL (except for "text" type message)": refusing a file message without one is UNVERIFIED.
  if (type !== 'text' && absent(url)) return fail(MSG.urlRequired);
  return ok({ content, type, url: typeof url === 'string' ? url : null });
}

export interface UpdateInteraction {
  mood?: 'POSITIVE' | 'NEGATIVE';
  tagIds?: string[];
  customerKey?: string;
  note?: string;
}

/** interactions.md "Update interaction" parameter table. */
export function updateInteraction(body: Record<string, unknown>): Checked<UpdateInteraction> {
  const out: UpdateInteraction = {};
  const mood = body['mood'];
  if (!absent(mood)) {
    if (!(MOODS as readonly unknown[]).includes(mood)) return fail(MSG.mood);
    out.mood = mood as 'POSITIVE' | 'NEGATIVE';
  }
  const tags = body['tag_ids'];
  if (!absent(tags)) {
    // The example sends strings ("1", "999"); integers are accepted too (UNVERIFIED).
    if (!Array.isArray(tags) || !tags.every((x) => typeof x === 'string' || (typeof x === 'number' && Number.isInteger(x)))) return fail(MSG.tagIds);
    out.tagIds = tags.map(String);
  }
  const key = body['customer_key'];
  if (!absent(key)) {
    if (typeof key !== 'string') return fail(MSG.customerKey);
    out.customerKey = key;
  }
  const note = body['note'];
  if (!absent(note)) {
    if (typeof note !== 'string') return fail(MSG.note);
    out.note = note;
  }
  return ok(out);
}
