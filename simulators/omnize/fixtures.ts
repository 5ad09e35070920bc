/**
 * The shapes Omnize / Zenvia Chat puts on the wire, built in one place so each cites its source.
 * Citations: `interactions.md "<section>"` etc. = ../shared/specs/omnize/<page> (Omnize's own API
 * pages, omnize/omnize.github.io docs/api/v1/); `research §5` = ../shared/research/other-helpdesks.md.
 * Anything without a source says UNVERIFIED.
 */
import { randomUUID } from 'node:crypto';
import type { HistoryFetch, MessageTriggerPayload, MessageType, SimAgent, SimDepartment, StateTriggerPayload } from './types.js';

/** interactions.md: every URL is `https://zchat.zenvia.io/core/api/v1/…`. */
export const DEFAULT_BASE_PATH = '/core/api/v1';
/** departments.md "Get Departments": `https://zchat.zenvia.io/api/external/departments?token=…`. */
export const DEFAULT_EXTERNAL_BASE_PATH = '/api/external';

/** interactions.md "Triggers" → "Agent new message": `"agent": {"id": 111, "name": "Atendente"}`. */
export const DEFAULT_AGENT: SimAgent = { id: 111, name: 'Atendente', photo: 'https://file-address.example.com/agent.png' };

/**
 * interactions.md "Start interaction" body example: `"department_id": 9999`; name from departments.md
 * "Get Departments" example (`"name": "Atendimento"`).
 */
export const DEFAULT_DEPARTMENT: SimDepartment = { id: 9999, name: 'Atendimento', active: true };

export const MEDIA_TYPES = ['TEXT', 'SMS', 'WHATSAPP'] as const;
export const MESSAGE_TYPES = ['text', 'image', 'video', 'audio', 'file'] as const;
export const MOODS = ['POSITIVE', 'NEGATIVE'] as const;

/** Interaction and message hashes are UUIDs (interactions.md: "Unique id for the interaction (UUID)"; trigger examples). */
export const newHash = (): string => randomUUID();

// ─── answers ──────────────────────────────────────────────────────────────────────────────────

/** interactions.md "Start interaction" → Success Response (no `status` key in the doc's example). */
export const created = (hash: string) => ({ message: 'Interaction created successfully', data: { interaction_hash: hash } });

/** interactions.md "Update interaction" → Success Response. */
export const updated = () => ({ message: 'Interaction updated successfully', status: 200 });

/** interactions.md "Send message" → Success Response Example (key order as the doc's). */
export const messageCreated = (hash: string) => ({ data: { interaction_hash: hash }, message: 'Message created successfully', status: 200 });

/** interactions.md "Notify when client typing" → Success Response. */
export const typingSent = () => ({ message: 'Typing sent successfully', status: 200 });

/** interactions.md "Notify when client stop typing" → Success Response. */
export const clearedSent = () => ({ message: 'Cleared sent successfully', status: 200 });

/** interactions.md "Finish Interaction" → Success Response. */
export const finishSent = () => ({ message: 'Finish sent successfully', status: 200 });

/**
 * interactions.md, every route's Error Response: `{"message": "Error description here", "status": 422}`.
 * The same shape carries other statuses here (404 unknown hash, 400 bad JSON, injected faults):
 * the shape is documented, those statuses and every message text are UNVERIFIED.
 */
export const error = (status: number, message: string) => ({ message, status });

/** departments.md / agent.md "List Agents" Error Response: `{"status": 404, "message": "…"}` (key order as the doc's). */
export const externalError = (status: number, message: string) => ({ status, message });

/** Error message texts. All UNVERIFIED (the doc shows only "Error description here"). */
export const MSG = {
  invalidToken: 'Invalid token',
  departmentRequired: 'department_id is required',
  departmentInvalid: 'department_id must be an integer',
  departmentNotFound: 'Department not found or inactive',
  mediaType: 'media_type must be one of TEXT, SMS, WHATSAPP',
  customer: 'customer must be an object of strings (name, email, phone, cpf)',
  extra: 'extra must be an object',
  externalHistory: 'external_history must be an http(s) URL',
  contentRequired: 'content is required',
  messageType: 'type must be one of text, image, video, audio, file',
  urlRequired: 'url is required for a file message',
  url: 'url must be an http(s) URL',
  mood: 'mood must be POSITIVE or NEGATIVE',
  tagIds: 'tag_ids must be an array of ids',
  customerKey: 'customer_key must be a string',
  note: 'note must be a string',
  notFound: 'Interaction not found',
  finished: 'Interaction already finished',
  badJson: 'Invalid JSON body',
  routeNotFound: 'Not found',
} as const;

// ─── departments and agents ───────────────────────────────────────────────────────────────────

/** departments.md "Get Departments" → Success Response Example: every field of the example. */
export function departmentView(d: SimDepartment, agents: SimAgent[], createdAt: string) {
  return {
    id: d.id,
    name: d.name,
    ringing_max_time: 20,
    queued_max_time: 120,
    queue: true,
    bot_id: null,
    queue_position_time: null,
    date_creation: createdAt,
    change_date: null,
    state: d.active === false ? 0 : 1,
    agents: agents.map((a) => ({ id: a.id, name: a.name, photo: a.photo ?? DEFAULT_AGENT.photo })),
    channels: [{ id: 9999, name: 'CHAT', state: 1 }],
  };
}

/**
 * agent.md "Get Online Agents" → Success Response Example: "returns **max** of 3 **random**
 * agents" (we return the first three: deterministic), `averageService` in seconds (fixed 60, the
 * example's), `count` = total online.
 */
export function onlineAgents(agents: SimAgent[]) {
  const online = agents.filter((a) => a.online !== false);
  return {
    agents: online.slice(0, 3).map((a) => ({ id: a.id, name: a.name, photo: a.photo ?? DEFAULT_AGENT.photo })),
    averageService: 60,
    count: online.length,
    status: 200,
  };
}

// ─── triggers ─────────────────────────────────────────────────────────────────────────────────

/**
 * interactions.md "Triggers": `{interaction_hash, state, extra}`, plus `position` for "Interaction
 * added to queue" (`"state": "queued", "position": 1`). Key order as the doc's examples.
 */
export function stateTrigger(hash: string, state: StateTriggerPayload['state'], extra: Record<string, unknown>, position?: number): StateTriggerPayload {
  return state === 'queued' ? { interaction_hash: hash, state, position: position ?? 1, extra } : { interaction_hash: hash, state, extra };
}

/**
 * interactions.md "Triggers" → "Agent new message": `{interaction_hash, message: {hash, content,
 * type, url}, agent: {id, name}, extra}`. The example carries `url` on a `text` message; what it
 * holds when there is no file is UNVERIFIED (we send null).
 */
export function messageTrigger(
  hash: string,
  message: { hash: string; content: string; type: MessageType; url: string | null },
  agent: { id: number; name: string },
  extra: Record<string, unknown>,
): MessageTriggerPayload {
  return { interaction_hash: hash, message: { ...message }, agent: { id: agent.id, name: agent.name }, extra };
}

/** The exact key sets of the doc's trigger examples (interactions.md "Triggers"), for checks. */
export const TRIGGER_KEYS = {
  queued: ['interaction_hash', 'state', 'position', 'extra'],
  state: ['interaction_hash', 'state', 'extra'],
  message: ['interaction_hash', 'message', 'agent', 'extra'],
  messageMessage: ['hash', 'content', 'type', 'url'],
  messageAgent: ['id', 'name'],
} as const;

// ─── external history ─────────────────────────────────────────────────────────────────────────

/** interactions.md "External History": `"time": "2019-03-14 00:00:01"` (type datetime). */
const TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

function validTime(s: string): boolean {
  const m = TIME.exec(s);
  if (!m) return false;
  const [, y, mo, d, h, mi, se] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && h < 24 && mi < 60 && se < 60;
}

/**
 * Checks a history answer against interactions.md "External History": `{messages: [{time,
 * direction: "CLIENT"|"AGENT", content}]}`, every field required, `time` as in the example
 * (`YYYY-MM-DD HH:MM:SS`). Keys the doc does not name are reported, not refused.
 */
export function checkHistory(json: unknown): Pick<HistoryFetch, 'valid' | 'problems' | 'unknownKeys' | 'messages'> {
  const problems: string[] = [];
  const unknownKeys: string[] = [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(json)) return { valid: false, problems: ['body: not a JSON object'], unknownKeys };
  for (const k of Object.keys(json)) if (k !== 'messages') unknownKeys.push(k);
  const list = json['messages'];
  if (!Array.isArray(list)) return { valid: false, problems: ['messages: required array'], unknownKeys };
  const messages: NonNullable<HistoryFetch['messages']> = [];
  list.forEach((m: unknown, i) => {
    const at = `messages[${i}]`;
    if (!isObj(m)) {
      problems.push(`${at}: not an object`);
      return;
    }
    for (const k of Object.keys(m)) if (!['time', 'direction', 'content'].includes(k)) unknownKeys.push(`${at}.${k}`);
    const { time, direction, content } = m;
    if (typeof time !== 'string') problems.push(`${at}.time: required string`);
    else if (!validTime(time)) problems.push(`${at}.time: "${time}" is not YYYY-MM-DD HH:MM:SS`);
    if (direction !== 'CLIENT' && direction !== 'AGENT') problems.push(`${at}.direction: must be "CLIENT" or "AGENT"`);
    if (typeof content !== 'string') problems.push(`${at}.content: required string`);
    if (typeof time === 'string' && (direction === 'CLIENT' || direction === 'AGENT') && typeof content === 'string') {
      messages.push({ time, direction, content });
    }
  });
  return problems.length === 0 ? { valid: true, problems, unknownKeys, messages } : { valid: false, problems, unknownKeys };
}
