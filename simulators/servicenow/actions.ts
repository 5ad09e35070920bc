/**
 * What one request to the Virtual Agent API does to the instance (bot-api.md, "the reference"):
 * validation, the requestId record, each documented action on the conversations, the customer's
 * messages and attachments as the instance checks them, and UPDATE_MESSAGES.
 */
import type { FastifyRequest } from 'fastify';
import { request } from 'undici';
import { type Answer, type Host, authenticate, header, parseOr, rateLimit } from './api.js';
import {
  ATTACHMENT_TYPES,
  ERR,
  LIVE_AGENT_CHOICE,
  MEDIA_PATH_PREFIX,
  SUCCESS,
  UPDATE_MESSAGES_TEXT,
  agentUtterancePicker,
  createConversation,
  endText,
  greeting,
  notUnderstood,
  standBy,
  startSpinner,
  sysId,
} from './fixtures.js';
import type { BodyItem, SimConversation, SimMessage, VaAttachment, VaRequest } from './types.js';
import { validateRequest } from './validate.js';

export const ACTIVE = new Set<SimConversation['state']>(['virtual_agent', 'queued', 'live']);
export const WITH_AGENT = new Set<SimConversation['state']>(['queued', 'live']);

/** bot-api.md "VA Bot Integration - POST /sn_va_as_service/bot/integration". */
export async function integration(sim: Host, req: FastifyRequest, bytes: Buffer): Promise<Answer> {
  const raw = bytes.toString('utf8');
  const parsed = parseOr(bytes);
  const who = authenticate(sim, req, raw, parsed);
  if (!who.ok) {
    if (who.kind !== 'rest' && (sim.options.auth.messageAuthFailure ?? 'reject') === 'silent') {
      return { status: 200, body: SUCCESS, outcome: 'auth-failed-silently' };
    }
    return { status: 401, body: who.kind === 'rest' ? ERR.unauthenticated() : ERR.badMessageToken(who.kind), outcome: 'unauthorized' };
  }
  const rl = rateLimit(sim, who.principal);
  if (rl.refused) return rl.refused;
  const base = { headers: rl.headers, principal: who.principal };

  // Accept / Content-Type: "Only supports application/json" (bot-api.md Headers).
  const accept = header(req, 'accept');
  if ((sim.options.requireAccept ?? true) && accept === undefined) return { ...base, status: 400, body: ERR.badHeader('Accept header is required (application/json)'), outcome: 'rejected' };
  if (accept !== undefined && !/application\/json|\*\/\*|application\/\*/i.test(accept)) {
    return { ...base, status: 400, body: ERR.badHeader(`Accept ${accept} is not supported: only application/json`), outcome: 'rejected' };
  }
  if (!/^application\/json\b/i.test(header(req, 'content-type') ?? '')) {
    return { ...base, status: 400, body: ERR.badHeader('Content-Type must be application/json'), outcome: 'rejected' };
  }
  if (parsed === undefined) return { ...base, status: 400, body: ERR.badRequest('The request body is not valid JSON'), outcome: 'rejected' };

  const v = validateRequest(parsed, sim.options.attachmentTypes ?? ATTACHMENT_TYPES);
  if (!v.ok) {
    if (sim.options.validationFailure === 'silent') return { ...base, status: 200, body: SUCCESS, outcome: 'invalid-silently' };
    return { ...base, status: 400, body: ERR.badRequest(v.detail), outcome: 'rejected' };
  }
  const r = v.value;
  const ids = { requestId: r.requestId, action: r.action };
  const duplicateOf = sim.seenRequestIds.get(r.requestId);
  const dup = duplicateOf !== undefined ? { duplicateOf } : {};
  if (duplicateOf !== undefined && sim.options.duplicateRequests === 'ignore') {
    return { ...base, ...ids, ...dup, status: 200, body: SUCCESS, outcome: 'accepted' };
  }

  if (r.action === 'UPDATE_MESSAGES') {
    // "only valid if custom adapter property … third_party_chat … is set to true" (failure shape UNVERIFIED).
    if (!(sim.options.thirdPartyChat ?? true)) return { ...base, ...ids, status: 400, body: ERR.badRequest('UPDATE_MESSAGES needs the third_party_chat custom adapter property'), outcome: 'rejected' };
    sim.seenRequestIds.set(r.requestId, sim.requests.length);
    const conv = updateMessages(sim, r);
    // "This is a synchronous action": the answer is the result; no POST to the response endpoint.
    const text = sim.options.updateMessagesAnswer === 'text';
    return { ...base, ...ids, ...dup, ...(conv ? { conversationId: conv.id } : {}), status: 200, body: text ? UPDATE_MESSAGES_TEXT : SUCCESS, text, outcome: 'accepted' };
  }

  sim.seenRequestIds.set(r.requestId, sim.requests.length);
  const { conversation, body, flags, send } = apply(sim, r);
  const after = send
    ? () => {
        sim.respond(conversation, r.action ?? 'message', body, flags, r);
        if (flags.autoAccept && sim.options.autoAccept && conversation && conversation.state === 'queued') {
          const agent = sim.options.autoAccept === true ? undefined : sim.options.autoAccept;
          sim.track(sim.accept(conversation.id, agent));
        }
      }
    : undefined;
  return { ...base, ...ids, ...dup, ...(conversation ? { conversationId: conversation.id } : {}), status: 200, body: SUCCESS, outcome: 'accepted', ...(after ? { after } : {}) };
}

/** What one request does to the instance, and what the VA answers on the response endpoint. */
export function apply(sim: Host, r: VaRequest): {
  conversation: SimConversation | undefined;
  body: BodyItem[] | 'send-history';
  flags: { agentChat?: boolean; completed?: boolean; takeControl?: boolean; score?: number; autoAccept?: boolean; silent?: boolean };
  send: boolean;
} {
  let c = active(sim, r.userId);
  const touch = (conv: SimConversation) => {
    conv.lastRequestId = r.requestId;
    if (r.nowSessionId !== undefined) conv.lastNowSessionId = r.nowSessionId;
    if ((sim.options.thirdPartyChat ?? true) && r.clientSessionId) conv.clientSessionId = r.clientSessionId;
    if (r.emailId) conv.emailId = r.emailId;
    if (r.timezone) conv.timezone = r.timezone;
    if (r.contextVariables) Object.assign(conv.contextVariables, r.contextVariables);
    if (r.clientVariables) conv.clientVariables = { ...r.clientVariables };
    if (r.history) conv.history.push(...r.history);
    if (r.silentMessage !== undefined) conv.silent = r.silentMessage;
  };
  const open = () => {
    c ??= create(sim, r);
    touch(c);
    return c;
  };

  switch (r.action) {
    case 'AGENT': {
      const conv = open();
      customerMessage(sim, conv, r);
      if (WITH_AGENT.has(conv.state)) return { conversation: conv, body: [], flags: {}, send: false }; // UNVERIFIED: AGENT while already with an agent
      return { conversation: conv, body: enqueue(sim, conv), flags: { agentChat: true, autoAccept: true }, send: true };
    }
    case 'END_CONVERSATION': {
      // bot-api.md "End a Live Agent conversation": `completed: true` with the end text; the
      // VA-only example carries the text alone.
      const wasWithAgent = c !== undefined && WITH_AGENT.has(c.state);
      if (c) {
        touch(c);
        c.state = 'closed';
        c.closed = { by: 'customer', at: sim.now() };
        c.customerTyping = false;
        c.spinner = false;
      }
      return { conversation: c, body: [endText()], flags: { completed: wasWithAgent }, send: true };
    }
    case 'FAULT_CONVERSATION': {
      // bot-api.md "Fault a conversation": `body: []`, `takeControl: true`, `score: 0`.
      if (c) {
        touch(c);
        c.state = 'closed';
        c.closed = { by: 'fault', at: sim.now() };
      }
      return { conversation: c, body: [], flags: { takeControl: true, score: 0 }, send: true };
    }
    case 'TYPING':
    case 'VIEWING': {
      // "Displays the typing indicator in Live Agent": only meaningful with an agent; no response body.
      if (c && WITH_AGENT.has(c.state)) {
        touch(c);
        const on = r.action === 'TYPING';
        c.customerTyping = on;
        c.typingLog.push({ on, at: sim.now() });
      }
      return { conversation: c, body: [], flags: {}, send: false };
    }
    case 'SEND_HISTORY':
      // bot-api.md "Update only chat history": the response endpoint receives {"status": "success"}.
      return { conversation: open(), body: 'send-history', flags: {}, send: true };
    case 'SET_USER_TIMEZONE':
      if (c) touch(c);
      return { conversation: c, body: [], flags: {}, send: false }; // UNVERIFIED: no response body documented
    case 'CREATE_CONVERSATION': {
      const conv = open();
      return { conversation: conv, body: [createConversation(conv.id, conv.interactionId, sysId())], flags: {}, send: true };
    }
    case 'START_CONVERSATION':
    case 'START_CREATED_CONVERSATION':
      return { conversation: open(), body: greeting(), flags: {}, send: true };
    case 'SWITCH':
      // bot-api.md "Change an ongoing conversation using the SWITCH action": the topic's first control.
      return { conversation: open(), body: [{ uiType: 'InputText', group: 'DefaultText', required: true, nluTextEnabled: false, label: 'limo input:', maskType: 'NONE' }], flags: {}, send: true };
    case 'UPDATE_MESSAGES':
      return { conversation: c, body: [], flags: {}, send: false }; // handled before apply()
    case null: {
      const conv = open();
      if (WITH_AGENT.has(conv.state)) {
        // A message in a live-agent conversation goes to the agent; the VA answers nothing (UNVERIFIED: no POST).
        customerMessage(sim, conv, r);
        return { conversation: conv, body: [], flags: {}, send: false };
      }
      if (r.message === undefined) return { conversation: conv, body: [], flags: {}, send: false }; // silent-mode switch only
      customerMessage(sim, conv, r);
      const text = (r.message.text ?? '').trim();
      // bot-api.md "Transfer a conversation to Live Agent using utterance" and "… based on the user's selection".
      if (text === LIVE_AGENT_CHOICE) return { conversation: conv, body: enqueue(sim, conv), flags: { agentChat: true, autoAccept: true }, send: true };
      if (/^agent$/i.test(text)) return { conversation: conv, body: [agentUtterancePicker()], flags: { silent: true }, send: true };
      if (/^(hi|hello|hola)$/i.test(text)) return { conversation: conv, body: greeting(), flags: { silent: true }, send: true };
      return { conversation: conv, body: notUnderstood(), flags: { silent: true, score: 0 }, send: true };
    }
  }
}

/** Into the AWA queue whose conditions the context variables meet; the VA says "stand by" and shows the wait spinner. */
export function enqueue(sim: Host, c: SimConversation): BodyItem[] {
  c.state = 'queued';
  const q = (sim.options.queues ?? []).find((x) => Object.entries(x.conditions).every(([k, v]) => c.contextVariables[k] !== undefined && String(c.contextVariables[k]) === v));
  c.queue = q?.name ?? sim.options.defaultQueue ?? 'Live Agent Support';
  const body = [standBy()];
  const wait = sim.options.queueWaitTime === undefined ? '8 Seconds' : sim.options.queueWaitTime;
  if (wait !== null) {
    body.push(startSpinner(wait));
    c.spinner = true;
  }
  return body;
}

export function create(sim: Host, r: VaRequest): SimConversation {
  const c: SimConversation = {
    id: sysId(),
    interactionId: sysId(),
    userId: r.userId,
    ...(r.emailId ? { emailId: r.emailId } : {}),
    state: 'virtual_agent',
    contextVariables: {},
    history: [],
    messages: [],
    customerTyping: false,
    typingLog: [],
    statusUpdates: [],
    silent: false,
    createdAt: sim.now(),
    spinner: false,
  };
  sim.store.set(c.id, c);
  return c;
}

export function active(sim: Host, userId: string): SimConversation | undefined {
  return [...sim.store.values()].filter((c) => c.userId === userId && ACTIVE.has(c.state)).at(-1);
}

/** Records the customer's message (with its attachments, checked as the instance would). */
export function customerMessage(sim: Host, c: SimConversation, r: VaRequest): void {
  const m = r.message;
  if (!m) return;
  const list = m.attachment === undefined ? [] : Array.isArray(m.attachment) ? m.attachment : [m.attachment];
  const msg: SimMessage = {
    direction: 'customer',
    at: sim.now(),
    requestId: r.requestId,
    ...(m.text !== undefined && m.text !== '' ? { text: m.text } : {}),
    ...(m.clientMessageId !== undefined ? { id: m.clientMessageId } : {}),
  };
  if (list.length > 0) {
    msg.attachments = list.map((a) => ({ ...a, ...attachmentVerdict(sim, a) }));
    for (const [i, a] of list.entries()) if (sim.options.fetchAttachments && msg.attachments[i]!.taken) sim.track(fetchAttachment(sim, msg, i, a));
  }
  c.messages.push(msg);
  c.customerTyping = false;
}

/** "You must also ensure that URL domain is present in the trusted domains filed in sys_cs_provider" (bot-api.md). */
export function attachmentVerdict(sim: Host, a: VaAttachment): { taken: boolean; reason?: string } {
  let host: string;
  try {
    host = new URL(a.url).hostname.toLowerCase();
  } catch {
    return { taken: false, reason: 'not a URL' };
  }
  const trusted = sim.options.trustedDomains;
  if (trusted && !trusted.some((d) => host === d.toLowerCase() || host.endsWith(`.${d.toLowerCase()}`))) {
    return { taken: false, reason: `${host} is not a trusted domain of sys_cs_provider` };
  }
  if (sim.baseUrl && a.url.startsWith(`${sim.baseUrl}${MEDIA_PATH_PREFIX}`)) {
    const token = a.url.slice(`${sim.baseUrl}${MEDIA_PATH_PREFIX}`.length);
    if (!sim.media.some((f) => f.token === token)) return { taken: false, reason: 'no such uploaded media' };
  }
  return { taken: true };
}

/** The VA fetches the file to scan it ("The VA obtains the attachment from this URL, runs a virus scan"). */
export async function fetchAttachment(sim: Host, msg: SimMessage, i: number, a: VaAttachment): Promise<void> {
  const slot = msg.attachments![i]!;
  try {
    const res = await request(a.url, { method: 'GET', headers: a.headers?.Authorization ? { authorization: a.headers.Authorization } : {}, signal: AbortSignal.timeout(5_000) });
    const data = Buffer.from(await res.body.arrayBuffer());
    slot.fetched = { status: res.statusCode, bytes: data.length };
    if (res.statusCode !== 200) {
      slot.taken = false;
      slot.reason = `GET answered ${res.statusCode}`;
    }
  } catch (e) {
    slot.fetched = { error: e instanceof Error ? e.message : String(e) };
    slot.taken = false;
    slot.reason = 'could not fetch';
  }
}

export function updateMessages(sim: Host, r: VaRequest): SimConversation | undefined {
  let conv: SimConversation | undefined;
  for (const u of r.updates ?? []) {
    let known = false;
    for (const c of sim.store.values()) {
      const m = c.messages.find((x) => x.direction === 'agent' && x.id === u.id);
      if (!m) continue;
      known = true;
      conv = c;
      if (u.status) (m.statuses ??= []).push({ status: u.status, at: sim.now() });
      if (u.text !== undefined && u.text !== '') m.updatedText = u.text;
    }
    const target = conv ?? active(sim, r.userId);
    target?.statusUpdates.push({ messageId: u.id, ...(u.status ? { status: u.status } : {}), ...(u.text !== undefined ? { text: u.text } : {}), known, at: sim.now() });
  }
  return conv;
}
