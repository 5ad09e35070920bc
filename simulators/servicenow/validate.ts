/**
 * The request body of `POST /api/sn_va_as_service/bot/integration`, checked against bot-api.md's
 * "Supported request parameters" table. Unknown fields are tolerated. Where the table and the
 * page's own examples disagree, the examples win (each case is named below), because the instance
 * evidently accepted them.
 */
import { ATTACHMENT_TYPES, MESSAGE_STATUSES } from './fixtures.js';
import type { VaAction, VaAttachment, VaHistoryEntry, VaMessage, VaMessageUpdate, VaRequest } from './types.js';

export const ACTIONS: readonly VaAction[] = [
  'AGENT',
  'CREATE_CONVERSATION',
  'END_CONVERSATION',
  'FAULT_CONVERSATION',
  'SEND_HISTORY',
  'SET_USER_TIMEZONE',
  'START_CONVERSATION',
  'START_CREATED_CONVERSATION',
  'SWITCH',
  'TYPING',
  'VIEWING',
  'UPDATE_MESSAGES',
];

/**
 * Actions whose request must carry `message` ("Required" in the table). The page's own examples
 * send START_CREATED_CONVERSATION, FAULT_CONVERSATION, SEND_HISTORY and SWITCH (by topic) without
 * it, and third parties send TYPING/VIEWING without it ([3p] pypestream `getTypingRequestBody`), so
 * those are exempt. UPDATE_MESSAGES carries a list instead.
 */
const MESSAGE_REQUIRED = new Set<VaAction | null>([null, 'AGENT', 'CREATE_CONVERSATION', 'START_CONVERSATION', 'END_CONVERSATION']);

export type Checked<T> = { ok: true; value: T } | { ok: false; detail: string };

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const bad = (detail: string): { ok: false; detail: string } => ({ ok: false, detail });

function optString(b: Record<string, unknown>, key: string, path = key): string | undefined | { error: string } {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') return { error: `${path} must be a string` };
  return v;
}

export function validateRequest(body: unknown, allowedTypes: readonly string[] = ATTACHMENT_TYPES): Checked<VaRequest> {
  if (!isObject(body)) return bad('the request body must be a JSON object');

  const requestId = body['requestId'];
  if (typeof requestId !== 'string' || requestId === '') return bad('requestId is required (a non-empty string)');
  const userId = body['userId'];
  if (typeof userId !== 'string' || userId === '') return bad('userId is required (a non-empty string)');

  const rawAction = body['action'];
  let action: VaAction | null = null;
  if (rawAction !== undefined && rawAction !== null) {
    if (typeof rawAction !== 'string' || !(ACTIONS as readonly string[]).includes(rawAction)) {
      return bad(`action must be one of ${ACTIONS.join(', ')} (or absent); got ${JSON.stringify(rawAction)}`);
    }
    action = rawAction as VaAction;
  }

  const out: VaRequest = { requestId, userId, action };
  for (const key of ['clientSessionId', 'emailId', 'timezone', 'cause', 'nowSessionId', 'enterpriseId', 'nowBotId', 'token'] as const) {
    const v = optString(body, key);
    if (typeof v === 'object') return bad(v.error);
    if (v !== undefined) out[key] = v;
  }

  // botToBot: Boolean, default true.
  const botToBot = body['botToBot'];
  if (botToBot !== undefined && botToBot !== null) {
    if (typeof botToBot !== 'boolean') return bad('botToBot must be a boolean');
    out.botToBot = botToBot;
  }
  // silentMessage: Boolean in the table; the whats-new 3.0.x example sends the string "true".
  const silent = body['silentMessage'];
  if (silent !== undefined && silent !== null) {
    if (silent === true || silent === 'true') out.silentMessage = true;
    else if (silent === false || silent === 'false') out.silentMessage = false;
    else return bad('silentMessage must be a boolean');
  }
  // timestamp: Number (ms; the examples send 10-digit values, which are accepted too).
  const ts = body['timestamp'];
  if (ts !== undefined && ts !== null) {
    if (typeof ts !== 'number' || !Number.isFinite(ts)) return bad('timestamp must be a number (Unix epoch, milliseconds)');
    out.timestamp = ts;
  }
  for (const key of ['contextVariables', 'clientVariables'] as const) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (!isObject(v)) return bad(`${key} must be a JSON object of name-value pairs`);
    out[key] = v;
  }

  // history: an Object in the table, an array in the SEND_HISTORY example; both accepted.
  const history = body['history'];
  if (history !== undefined && history !== null) {
    const list = Array.isArray(history) ? history : [history];
    const entries: VaHistoryEntry[] = [];
    for (const [i, h] of list.entries()) {
      const e = historyEntry(h, `history[${i}]`);
      if (!e.ok) return e;
      entries.push(e.value);
    }
    out.history = entries;
  }

  const intent = body['intent'];
  if (intent !== undefined && intent !== null) {
    if (!isObject(intent) || typeof intent['id'] !== 'string') return bad('intent must be {"id": "…"}');
    out.intent = { id: intent['id'] };
  }
  const topic = body['topic'];
  if (topic !== undefined && topic !== null) {
    if (!isObject(topic)) return bad('topic must be {"name": "…"} or {"id": "…"}');
    const name = topic['name'];
    const id = topic['id'];
    if ((name !== undefined && typeof name !== 'string') || (id !== undefined && typeof id !== 'string')) return bad('topic.name and topic.id must be strings');
    if (name === undefined && id === undefined) return bad('topic must carry name or id');
    out.topic = { ...(typeof name === 'string' ? { name } : {}), ...(typeof id === 'string' ? { id } : {}) };
  }

  // message
  const message = body['message'];
  if (action === 'UPDATE_MESSAGES') {
    // The example sends a list of {status, id}; the table describes one object. Both accepted.
    if (message === undefined || message === null) return bad('message is required for UPDATE_MESSAGES (a list of {id, status})');
    const list = Array.isArray(message) ? message : [message];
    if (list.length === 0) return bad('message must list at least one message to update');
    const updates: VaMessageUpdate[] = [];
    for (const [i, m] of list.entries()) {
      const u = messageUpdate(m, Array.isArray(message) ? `message[${i}]` : 'message');
      if (!u.ok) return u;
      updates.push(u.value);
    }
    out.updates = updates;
  } else if (message === undefined || message === null) {
    // The whats-new 3.0.x silentMessage example turns silent mode on with no message and no action.
    const silentOnly = action === null && out.silentMessage !== undefined;
    if (MESSAGE_REQUIRED.has(action) && !silentOnly) return bad(`message is required${action ? ` for ${action}` : ''}`);
  } else {
    const m = vaMessage(message, allowedTypes);
    if (!m.ok) return m;
    out.message = m.value;
    const hasAttachment = m.value.attachment !== undefined && (!Array.isArray(m.value.attachment) || m.value.attachment.length > 0);
    // "message.text: Required if attachment parameter isn't specified" — for a message to the VA or agent.
    if (action === null && !hasAttachment && !m.value.text && out.silentMessage === undefined) {
      return bad('message.text is required when message.attachment is not specified');
    }
    if (action === 'AGENT' && !hasAttachment && m.value.text === undefined) return bad('message.text is required when message.attachment is not specified');
  }

  if (action === 'FAULT_CONVERSATION' && out.cause === undefined) return bad('cause is required with FAULT_CONVERSATION ("provide a description for the cause parameter")');
  if (action === 'SWITCH' && out.intent === undefined && out.topic === undefined) return bad('SWITCH needs intent.id or topic');
  if (action === 'SET_USER_TIMEZONE' && out.timezone === undefined) return bad('SET_USER_TIMEZONE needs timezone');
  if (action === 'SEND_HISTORY' && out.history === undefined) return bad('SEND_HISTORY needs history');
  return { ok: true, value: out };
}

function vaMessage(m: unknown, allowedTypes: readonly string[]): Checked<VaMessage> {
  if (!isObject(m)) return bad('message must be an object');
  // "message.typed: Required … Data type: Boolean".
  if (typeof m['typed'] !== 'boolean') return bad('message.typed is required (a boolean)');
  const out: VaMessage = { typed: m['typed'] };
  for (const key of ['text', 'clientMessageId', 'id', 'status'] as const) {
    const v = optString(m, key, `message.${key}`);
    if (typeof v === 'object') return bad(v.error);
    if (v !== undefined) out[key] = v;
  }
  const a = m['attachment'];
  if (a !== undefined && a !== null) {
    const list = Array.isArray(a) ? a : [a];
    const checked: VaAttachment[] = [];
    for (const [i, item] of list.entries()) {
      const c = attachment(item, Array.isArray(a) ? `message.attachment[${i}]` : 'message.attachment', allowedTypes);
      if (!c.ok) return c;
      checked.push(c.value);
    }
    out.attachment = Array.isArray(a) ? checked : checked[0]!;
  }
  return { ok: true, value: out };
}

function attachment(a: unknown, path: string, allowedTypes: readonly string[]): Checked<VaAttachment> {
  if (!isObject(a)) return bad(`${path} must be an object`);
  const contentType = a['contentType'];
  const fileName = a['fileName'];
  const url = a['url'];
  if (typeof contentType !== 'string' || contentType === '') return bad(`${path}.contentType is required`);
  if (!allowedTypes.some((t) => t.toLowerCase() === contentType.toLowerCase())) {
    return bad(`${path}.contentType ${JSON.stringify(contentType)} is not one of ${allowedTypes.join(', ')}`);
  }
  if (typeof fileName !== 'string' || fileName === '') return bad(`${path}.fileName is required`);
  if (typeof url !== 'string' || url === '') return bad(`${path}.url is required`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return bad(`${path}.url must be an absolute URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return bad(`${path}.url must be http(s)`);
  const out: VaAttachment = { contentType, fileName, url };
  for (const key of ['clientAttachmentId', 'id'] as const) {
    const v = optString(a, key, `${path}.${key}`);
    if (typeof v === 'object') return bad(v.error);
    if (v !== undefined) out[key] = v;
  }
  const headers = a['headers'];
  if (headers !== undefined && headers !== null) {
    if (!isObject(headers)) return bad(`${path}.headers must be an object`);
    const auth = headers['Authorization'];
    if (auth !== undefined && typeof auth !== 'string') return bad(`${path}.headers.Authorization must be a string`);
    out.headers = typeof auth === 'string' ? { Authorization: auth } : {};
  }
  return { ok: true, value: out };
}

function messageUpdate(m: unknown, path: string): Checked<VaMessageUpdate> {
  if (!isObject(m)) return bad(`${path} must be an object`);
  const id = m['id'];
  if (typeof id !== 'string' || id === '') return bad(`${path}.id is required (the chat message to update)`);
  const out: VaMessageUpdate = { id };
  const status = m['status'];
  if (status !== undefined && status !== null) {
    if (typeof status !== 'string' || !MESSAGE_STATUSES.includes(status.toLowerCase())) {
      return bad(`${path}.status must be one of ${MESSAGE_STATUSES.join(', ')} (not case-sensitive)`);
    }
    out.status = status.toLowerCase();
  }
  const text = m['text'];
  if (text !== undefined && text !== null) {
    if (typeof text !== 'string') return bad(`${path}.text must be a string`);
    out.text = text;
  }
  if (out.status === undefined && out.text === undefined) return bad(`${path} must carry status or text`);
  return { ok: true, value: out };
}

function historyEntry(h: unknown, path: string): Checked<VaHistoryEntry> {
  if (!isObject(h)) return bad(`${path} must be an object`);
  const { displayName, isBotMessage, timestamp, type, value } = h;
  if (typeof displayName !== 'string') return bad(`${path}.displayName must be a string`);
  if (typeof isBotMessage !== 'boolean') return bad(`${path}.isBotMessage must be a boolean`);
  // "Valid values: 13-digit Unix timestamp", "Data type: String".
  if (typeof timestamp !== 'string' || !/^\d{13}$/.test(timestamp)) return bad(`${path}.timestamp must be a 13-digit Unix timestamp in milliseconds, as a string`);
  // "history.type … Valid values: text".
  if (type !== 'text') return bad(`${path}.type must be "text"`);
  if (typeof value !== 'string') return bad(`${path}.value must be a string`);
  return { ok: true, value: { displayName, isBotMessage, timestamp, type, value } };
}
