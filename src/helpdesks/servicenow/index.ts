/**
 * ServiceNow (`type: servicenow`): the Virtual Agent Bot Integration API handing the customer to
 * Agent Chat (specs/servicenow/bot-api.md; research other-helpdesks.md §1). Vendor words: an
 * attendance is a live-agent *conversation* (an Interaction record) keyed by our
 * `clientSessionId` (= our attendance id); ServiceNow answers asynchronously by POSTing "VA
 * response bodies" to the response endpoint it is configured with (our webhook URL).
 *
 * ServiceNow signs nothing it sends (configure-response-endpoint-auth-va-api.md): we require Basic
 * auth or a secret custom header on the webhook, compared in constant time.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { FormData } from 'undici';
import type { ContentType } from '../../core/content.js';
import { fetchMedia } from '../../core/media.js';
import { DeliveryError, parseRetryAfter } from '../../delivery/errors.js';
import type { HttpResponse } from '../../delivery/http.js';
import { BridgeError } from '../../http/errors.js';
import type { AdapterDefinition, AgentMessageStatus, Customer, HelpdeskAdapter, HelpdeskEvent, OutgoingMessage, WebhookReceiver } from '../adapter.js';
import { basicMatches, safeEqual } from '../kit/auth.js';
import { header } from '../kit/headers.js';
import { closeNote, failedNote } from '../kit/notes.js';
import { itemToContent } from './convert.js';

export { itemToContent } from './convert.js';

/** bot-api.md `message.attachment.contentType` "Valid values (not case-sensitive)". */
export const DOCUMENTED_ATTACHMENT_TYPES = ['application/pdf', 'application/msword', 'image/png', 'image/jpeg', 'text/plain', 'video/mpeg'];

export const ServiceNowConfig = Type.Object(
  {
    type: Type.Literal('servicenow'),
    instanceUrl: Type.String({ pattern: '^https?://', description: 'Your instance: https://{instance}.service-now.com' }),
    auth: Type.Union([Type.Literal('basic'), Type.Literal('oauth'), Type.Literal('token'), Type.Literal('hash')], {
      description:
        "How we authenticate to the API: 'basic' (username/password), 'oauth' (a bearer token in `token`), 'token' (the static message-auth token, sent as the `token` header), 'hash' (x-b2b-signature: HMAC-SHA1 of the body with `secret`). With 'token' or 'hash', username/password are sent as Basic too when given (ServiceNow takes message auth with or without Basic; the media upload needs Basic).",
    }),
    username: Type.Optional(Type.String({ minLength: 1, description: "Basic user ('basic'; optional with 'token'/'hash')." })),
    password: Type.Optional(Type.String({ minLength: 1 })),
    token: Type.Optional(Type.String({ minLength: 8, description: "OAuth access token ('oauth') or message-auth token ('token')." })),
    secret: Type.Optional(Type.String({ minLength: 8, description: "Message-auth hash secret ('hash')." })),
    response: Type.Object(
      {
        username: Type.Optional(Type.String({ minLength: 1, description: 'Basic auth ServiceNow sends to our webhook (the credential of the response endpoint).' })),
        password: Type.Optional(Type.String({ minLength: 8 })),
        header: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9-]+$', description: 'Or a custom header ServiceNow sends to our webhook…' })),
        headerValue: Type.Optional(Type.String({ minLength: 16, description: '…with this secret value.' })),
      },
      { additionalProperties: false, description: 'How ServiceNow authenticates to our webhook (ServiceNow signs nothing): Basic auth, a secret custom header, or both.' },
    ),
    contextVariables: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Sent with the hand-off (AWA queue conditions), e.g. { live_agent_only: "true", b2b_category: "support" }.' }),
    contextFromExtras: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Context variables from the Blip contact: { <context variable>: <extras key> }.' }),
    handoffText: Type.String({ minLength: 1, default: 'The customer asked for a person.', description: 'The message of the AGENT request (shown to the agent first).' }),
    uploadMedia: Type.Boolean({ default: false, description: "Re-upload customer files through /api/now/v1/cccif/media/upload (Blip's links expire in ~30 min). Needs Basic or OAuth credentials (message auth is not accepted there)." }),
    attachmentTypes: Type.Array(Type.String({ minLength: 3 }), {
      default: DOCUMENTED_ATTACHMENT_TYPES,
      description: 'MIME types sent as message.attachment (default: the list bot-api.md documents); other files go as a text with their link.',
    }),
    virtualAgentMessages: Type.Union([Type.Literal('drop'), Type.Literal('forward')], {
      default: 'drop',
      description:
        "What the Virtual Agent itself says during the hand-off (\"Please stand by…\", \"The conversation has ended… type hi\"): 'drop' keeps to the live agent's messages (agentInfo.sentFromAgent where the agent chat setup sends it, else the response's agentChat flag) and the bridge's own notices; 'forward' sends them to the customer too.",
    }),
    systemEndTexts: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
      default: [],
      maxItems: 50,
      description:
        "Case-insensitive regular expressions: a `System` action message whose text matches one ends the attendance. ServiceNow's System messages (\"… has closed the support session\") are admin-editable and localised, so none is matched by default; the end is read from SwitchToVirtualAgent, completed and takeControl. Add your instance's texts (e.g. \"closed the support session\", \"encerrou\") if your instance sends only the System message.",
    }),
    notes: Type.Boolean({
      default: true,
      description:
        "ServiceNow has no internal note a primary bot can write: when the bridge ends the chat (timeout, operator…) or a reply could not reach the customer, tell the agent in a chat message from the customer's side that starts with \"Blip:\". false: END_CONVERSATION and UPDATE_MESSAGES only.",
    }),
    updateMessages: Type.Boolean({ default: false, description: 'Tell the agent panel when a reply reached the customer or failed (UPDATE_MESSAGES; needs third_party_chat=true).' }),
    messages: Type.Object(
      { waiting: Type.Optional(Type.String({ minLength: 1, description: 'Told to the customer on a wait-time spinner; {waitTime} is replaced, e.g. "An agent will be with you in about {waitTime}."' })) },
      { additionalProperties: false, default: {} },
    ),
    timezone: Type.String({ default: 'UTC', description: 'The timezone sent with each request.' }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 15_000, description: 'Deadline of one call to ServiceNow, in milliseconds.' }),
  },
  { additionalProperties: false, description: 'ServiceNow Virtual Agent API → Agent Chat. See docs/helpdesks/servicenow.md.' },
);
export type ServiceNowConfig = Static<typeof ServiceNowConfig>;

const CONTENTS: readonly ContentType[] = ['text', 'media', 'location', 'contact', 'reply', 'unsupported'];
const PATH = '/api/sn_va_as_service/bot/integration';

/** Our attendance id in `clientVariables` ("sent back in the response"): the key when clientSessionId is not echoed. */
const CLIENT_VARIABLE = 'bridgeAttendanceId';

// The VA response body (bot-api.md, "VA response body parameters"); only what we read, unknown fields tolerated.
const Item = Type.Record(Type.String(), Type.Unknown());
const ResponseBody = Type.Object({
  requestId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  clientSessionId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  clientVariables: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
  status: Type.Optional(Type.String()),
  body: Type.Optional(Type.Array(Item, { maxItems: 500 })),
  agentChat: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
  completed: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
  message: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
  takeControl: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
});
const checkBody = TypeCompiler.Compile(ResponseBody);

type Json = Record<string, any>;

function truthy(v: unknown): boolean {
  return v === true || v === 'true';
}

/** The agent's id and name from `agentInfo`, when the agent chat setup sends them. */
function agentOf(a: Json): { id?: string; name?: string } {
  return { ...(a['agentId'] ? { id: String(a['agentId']) } : {}), ...(typeof a['agentName'] === 'string' ? { name: a['agentName'] } : {}) };
}

/**
 * Is an item the live agent's? `agentInfo.sentFromAgent` says so where it is sent, but bot-api.md
 * sends agentInfo only "if enabled in the agent chat setup". Without it, the body's `agentChat`
 * ("true: Chat messages are coming from a live agent") decides, except in the VA's answer to our
 * own hand-off request, which echoes that request's `message` (bot-api.md's examples echo it) and
 * says "Please stand by…" with `agentChat: true` before any agent has accepted.
 */
function fromLiveAgent(item: Json, body: { agentChat?: boolean | string | undefined; message?: Record<string, unknown> | null | undefined }, key: string): boolean {
  const sent = (item['agentInfo'] as Json | undefined)?.['sentFromAgent'];
  if (sent === true || sent === 'true') return true;
  if (sent === false || sent === 'false') return false;
  if (!truthy(body.agentChat)) return false;
  return body.message?.['clientMessageId'] !== handoffMessageId(key);
}

const handoffMessageId = (attendanceId: string) => `open-${attendanceId}`;

export const serviceNowAdapter: AdapterDefinition<ServiceNowConfig> = {
  type: 'servicenow',
  configSchema: ServiceNowConfig,
  create(config, deps): HelpdeskAdapter {
    const base = config.instanceUrl.replace(/\/+$/, '');
    const r = config.response;
    const hasBasic = Boolean(config.username && config.password);
    const problem =
      config.auth === 'basic' && !hasBasic
        ? "auth 'basic' needs username and password"
        : (config.auth === 'oauth' || config.auth === 'token') && !config.token
          ? `auth '${config.auth}' needs token`
          : config.auth === 'hash' && !config.secret
            ? "auth 'hash' needs secret"
            : config.uploadMedia && config.auth !== 'oauth' && !hasBasic
              ? 'uploadMedia needs Basic (username + password) or OAuth: the media upload does not take message auth'
              : Boolean(r.username) !== Boolean(r.password)
                ? 'response.username and response.password go together'
                : Boolean(r.header) !== Boolean(r.headerValue)
                  ? 'response.header and response.headerValue go together'
                  : !r.password && !r.headerValue
                    ? 'response needs username + password, or header + headerValue (ServiceNow signs nothing)'
                    : undefined;
    const trouble = () => problem ?? patternProblem;
    const basicHeader = hasBasic ? `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}` : undefined;
    const attachmentTypes = new Set(config.attachmentTypes.map((t) => t.toLowerCase()));
    // Admin-written patterns: a bad one is a config problem, reported by check() and at each call.
    let systemEnd: RegExp[] = [];
    let patternProblem: string | undefined;
    try {
      systemEnd = config.systemEndTexts.map((t) => new RegExp(t, 'i'));
    } catch (err) {
      patternProblem = `systemEndTexts: ${(err as Error).message}`;
    }

    /** Basic or OAuth: what the REST layer (and the media upload) takes. */
    function restAuth(): Record<string, string> {
      if (config.auth === 'oauth') return { authorization: `Bearer ${config.token}` };
      return basicHeader ? { authorization: basicHeader } : {};
    }

    function authHeaders(body: string): Record<string, string> {
      switch (config.auth) {
        case 'basic':
        case 'oauth':
          return restAuth();
        case 'token':
          return { ...restAuth(), token: config.token ?? '' };
        case 'hash':
          // set-up-message-auth-va-api.md: HmacSHA1 hex of JSON.stringify(JSON.parse(payload)); our
          // body is JSON.stringify output, so the bytes we sign are the normalised form.
          return { ...restAuth(), 'x-b2b-signature': createHmac('sha1', config.secret ?? '').update(body, 'utf8').digest('hex') };
      }
    }

    /** A 429 waits Retry-After, else X-RateLimit-Reset (epoch seconds); 5xx and 408 retry; 400/401/405 and a failure status are permanent. */
    function failure(what: string, res: HttpResponse): DeliveryError {
      const b = res.body as { status?: string; error?: { message?: string; detail?: string } } | undefined;
      const detail = b?.error ? `${b.error.message ?? ''} ${b.error.detail ?? ''}`.trim() : typeof res.body === 'string' ? res.body.slice(0, 300) : '';
      const status = res.status >= 300 ? res.status : 400;
      const reset = res.headers['x-ratelimit-reset'];
      const retryAfterMs =
        parseRetryAfter(res.headers['retry-after']) ?? (res.status === 429 && typeof reset === 'string' && /^\d+$/.test(reset) ? Math.max(0, Number(reset) * 1000 - Date.now()) : undefined);
      return new DeliveryError(`ServiceNow ${what} answered ${res.status}${b?.status === 'failure' ? ' (failure)' : ''}: ${detail}`, res.status === 429 || res.status >= 500 || res.status === 408, retryAfterMs, status);
    }

    /** One call of the integration endpoint; `requestId` is the request's idempotency key, stable across retries. */
    async function send(request: Json): Promise<HttpResponse> {
      const p = trouble();
      if (p) throw new DeliveryError(`servicenow: ${p}`, false);
      const body = JSON.stringify({ timestamp: Date.now(), timezone: config.timezone, ...request });
      const res = await deps.http.request({ method: 'POST', url: `${base}${PATH}`, headers: { 'content-type': 'application/json', accept: 'application/json', ...authHeaders(body) }, body, timeoutMs: config.timeoutMs });
      const b = res.body as { status?: string } | undefined;
      // "status: failure" in a 200 is a failure all the same (bot-api.md "Response body parameters").
      if (res.status >= 200 && res.status < 300 && b?.status !== 'failure') return res;
      throw failure(String(request['action'] ?? 'message'), res);
    }

    const userOf = (ref: { data?: Record<string, unknown> }) => String(ref.data?.['userId'] ?? '');
    const session = (attendanceId: string) => ({ clientSessionId: attendanceId, clientVariables: { [CLIENT_VARIABLE]: attendanceId } });

    /** cccif-api.md: multipart `user_id` + `file` → 201 `{result: {mediaUrl, …}}`. */
    async function upload(url: string, mimeType: string, name: string, user: string): Promise<string> {
      const file = await fetchMedia(url, deps.media);
      const form = new FormData();
      form.append('user_id', user);
      form.append('file', new Blob([new Uint8Array(file.bytes)], { type: mimeType || file.contentType }), name);
      const res = await deps.http.request({ method: 'POST', url: `${base}/api/now/v1/cccif/media/upload`, headers: { ...restAuth(), accept: 'application/json' }, body: form, timeoutMs: config.timeoutMs });
      if (res.status < 200 || res.status >= 300) throw failure('media upload', res);
      const mediaUrl = (res.body as Json | undefined)?.['result']?.['mediaUrl'];
      if (typeof mediaUrl !== 'string' || !mediaUrl) throw new DeliveryError('ServiceNow media upload answered without result.mediaUrl', false);
      return mediaUrl;
    }

    /** The `message` of a customer's message: text, or a documented file type as message.attachment[]. */
    async function messageOf(m: OutgoingMessage, user: string): Promise<Json> {
      const c = m.content;
      if (c.type !== 'media' || !attachmentTypes.has(c.mimeType.toLowerCase())) {
        // Anything ServiceNow does not take as an attachment goes as its readable text (with the link).
        return { text: c.text, typed: true, clientMessageId: m.id };
      }
      const name = c.name ?? fileName(c.url, c.mimeType);
      const url = config.uploadMedia ? await upload(c.url, c.mimeType, name, user) : c.url;
      return {
        ...(c.caption ? { text: c.caption } : {}),
        typed: true,
        clientMessageId: m.id,
        attachment: [{ clientAttachmentId: m.id, contentType: c.mimeType, fileName: name, url }],
      };
    }

    const webhook: WebhookReceiver = {
      unmatched: 'ignore', // a response for a conversation we no longer know is acknowledged, not retried
      verify(_raw, headers) {
        // Every scheme configured must match (fails closed; no scheme configured matches nothing).
        const checks: boolean[] = [];
        if (r.username && r.password) checks.push(basicMatches(header(headers, 'authorization'), r.username, r.password));
        if (r.header && r.headerValue) {
          const v = header(headers, r.header);
          checks.push(v !== undefined && safeEqual(v, r.headerValue));
        }
        if (checks.length > 0 && checks.every(Boolean)) return { ok: true };
        return { ok: false, reason: 'the configured Basic auth or secret header of the response endpoint does not match' };
      },
      parse(body): HelpdeskEvent[] {
        if (!checkBody.Check(body)) {
          const first = checkBody.Errors(body).First();
          throw new BridgeError('BRIDGE_ERR_INVALID_EVENT', `${first?.path || '/'}: ${first?.message ?? 'not a VA response body'}`);
        }
        // SEND_HISTORY (and our check) is answered on the response endpoint with {"status": "success"}.
        if (body.body === undefined && body.status !== undefined) return [{ kind: 'ignored', reason: `call status ${body.status}` }];
        const echoed = body.clientVariables?.[CLIENT_VARIABLE];
        const key = body.clientSessionId || (typeof echoed === 'string' ? echoed : '');
        // Without third_party_chat ServiceNow does not keep our clientSessionId for agent messages.
        if (!key) return [{ kind: 'ignored', reason: 'no clientSessionId (is third_party_chat true on the provider application?)' }];
        const attendance = { key };
        const events: HelpdeskEvent[] = [];
        // No event id in the payload: a redelivered body is recognised by its bytes, item by item
        // (an agent's messageId when ServiceNow gives one).
        const id = (item: Json, i: number) =>
          typeof item['messageId'] === 'string' && item['messageId']
            ? `snm:${item['messageId']}`
            : `sn:${createHash('sha256').update(`${key}|${body.requestId ?? ''}|${i}|${JSON.stringify(item)}`).digest('base64url')}`;
        let ended = false;
        let dropped = 0;
        (body.body ?? []).forEach((item, i) => {
          if (item['uiType'] === 'ActionMsg') {
            const action = String(item['actionType'] ?? '');
            if (/^StartTypingIndicator/.test(action)) events.push({ kind: 'agent.typing', eventId: `${id(item, i)}:${Date.now()}`, attendance, state: 'typing' });
            else if (/^EndTypingIndicator/.test(action)) events.push({ kind: 'agent.typing', eventId: `${id(item, i)}:${Date.now()}`, attendance, state: 'paused' });
            else if (/^StartSpinner/.test(action) && item['spinnerType'] === 'wait_time' && config.messages.waiting) {
              events.push({ kind: 'notice', eventId: id(item, i), attendance, text: config.messages.waiting.replace(/\{waitTime\}/g, String(item['waitTime'] ?? 'a moment')) });
            } else if (/^SwitchToLiveAgent/.test(action)) {
              const agent = agentOf((item['agentInfo'] ?? {}) as Json);
              events.push({ kind: 'agent.assigned', eventId: id(item, i), attendance, ...(Object.keys(agent).length ? { agent } : {}) });
            } else if (/^SwitchToVirtualAgent/.test(action)) {
              // "the live agent session has ended, and the conversation is returned to Virtual Agent".
              ended = true;
            } else if (/^System/.test(action)) {
              // A System message is one of "entered the chat", "closed the chat", "timed out"
              // (virtual-agent-api-whats-new.md), told apart only by its text, which admins edit
              // and ServiceNow localises: it ends the attendance only where configured to.
              const text = String(item['message'] ?? item['value'] ?? '');
              if (systemEnd.some((re) => re.test(text))) ended = true;
            }
            return;
          }
          if (config.virtualAgentMessages === 'drop' && !fromLiveAgent(item, body, key)) {
            dropped++;
            return;
          }
          const content = itemToContent(item);
          if (!content) return;
          const agent = agentOf((item['agentInfo'] ?? {}) as Json);
          const eventId = id(item, i);
          events.push({ kind: 'agent.message', eventId, attendance, message: { id: eventId, content, ...(Object.keys(agent).length ? { agent } : {}) } });
        });
        if (ended || truthy(body.completed) || truthy(body.takeControl)) {
          events.push({ kind: 'attendance.ended', eventId: `sn-end:${key}`, attendance, reason: truthy(body.takeControl) ? 'handed back to the bot' : 'closed in ServiceNow' });
        }
        if (events.length) return events;
        return [{ kind: 'ignored', reason: dropped ? `${dropped} Virtual Agent item(s) not forwarded (virtualAgentMessages: drop)` : 'nothing for the customer' }];
      },
    };

    return {
      type: 'servicenow',
      // Inbound REST rate limits count per user: the one integration user of every lane.
      capabilities: { contents: CONTENTS, typing: true, accountRateLimit: true },
      webhook,

      async check() {
        const p = trouble();
        if (p) return { ok: false, detail: `servicenow: ${p}` };
        try {
          // SEND_HISTORY with nothing in it is harmless and answers the call status.
          await send({ requestId: `check-${randomUUID()}`, action: 'SEND_HISTORY', userId: 'blip-helpdesk-bridge-check', clientSessionId: 'check', history: [] });
          return { ok: true, detail: `ServiceNow accepted the credentials at ${base}` };
        } catch (err) {
          return { ok: false, detail: (err as Error).message };
        }
      },

      async open(attendance, customer, transcript) {
        const context: Record<string, string> = { ...config.contextVariables };
        for (const [variable, extra] of Object.entries(config.contextFromExtras)) {
          const v = customer.extras[extra];
          if (v !== undefined) context[variable] = v;
        }
        const user = userId(customer);
        await send({
          requestId: `open-${attendance.id}`,
          action: 'AGENT',
          ...session(attendance.id),
          userId: user,
          ...(customer.email ? { emailId: customer.email } : {}),
          message: { text: config.handoffText, typed: true, clientMessageId: handoffMessageId(attendance.id) },
          contextVariables: context,
          history: transcript.map((t) => ({
            displayName: t.direction === 'bot' ? 'Bot' : (customer.name ?? 'Customer'),
            isBotMessage: t.direction === 'bot',
            // "13-digit Unix timestamp", a string.
            timestamp: String(Date.parse(t.at)),
            type: 'text',
            value: t.content.text,
          })),
        });
        return { key: attendance.id, data: { userId: user } };
      },

      async deliver(ref, _attendance, message) {
        const user = userOf(ref);
        // Our message id is the requestId: a retried delivery is the same request to ServiceNow.
        await send({ requestId: message.id, ...session(ref.key), userId: user, message: await messageOf(message, user) });
        return { vendorMessageId: message.id };
      },

      async signal(ref, _attendance, state, ctx) {
        // bot-api.md: "First send TYPING and then after the user finishes typing, send VIEWING".
        await send({ requestId: `${state}-${ref.key}-${ctx.deliveryId}`, action: state === 'typing' ? 'TYPING' : 'VIEWING', ...session(ref.key), userId: userOf(ref) });
      },

      async messageStatus(ref, _attendance, update: AgentMessageStatus, ctx) {
        const { sourceId, status } = update;
        // Only agent messages ServiceNow named (messageId) can be updated on the panel, and its
        // documented statuses are sent_to_user and external_error (delivered/read have none).
        // bot-api.md "Update the message on the agent chat panel": `message` is a list of {status, id};
        // no text: a text would replace the message on the agent panel ("Updated").
        if (config.updateMessages && sourceId.startsWith('snm:') && (status === 'sent' || status === 'failed')) {
          await send({
            requestId: `status-${ref.key}-${ctx.deliveryId}`,
            action: 'UPDATE_MESSAGES',
            ...session(ref.key),
            userId: userOf(ref),
            message: [{ status: status === 'sent' ? 'sent_to_user' : 'external_error', id: sourceId.slice(4) }],
          });
        }
        // "Failed" on the panel says nothing of why, and needs third_party_chat and a messageId:
        // the reason goes to the agent as a chat line (ServiceNow has no note a primary bot can write).
        if (status === 'failed' && config.notes) await note(ref, failedNote(update), `failed-${ctx.deliveryId}`);
      },

      async close(ref, _attendance, reason) {
        if (reason === 'agent') return; // ServiceNow ended it
        // END_CONVERSATION carries no reason ("The message.text parameter should be empty when
        // using this action"): the agent reads it in a line just before the chat ends. ServiceNow
        // documents no deduplication, so a retried close may show the line twice; never none.
        if (config.notes) await note(ref, closeNote(reason), 'end');
        await send({ requestId: `end-${ref.key}`, action: 'END_CONVERSATION', ...session(ref.key), userId: userOf(ref), message: { text: '', typed: true } });
      },
    };

    /** A line the agent reads in the chat, sent as the end user (the only voice a primary bot has there). */
    async function note(ref: { key: string; data?: Record<string, unknown> }, text: string, tag: string): Promise<void> {
      const id = `note-${tag}-${ref.key}`;
      await send({ requestId: id, ...session(ref.key), userId: userOf(ref), message: { text, typed: true, clientMessageId: id } });
    }
  },
};

/** The end user's stable id: the Blip originator (or the tunnel address), as the Customer gives it. */
function userId(customer: Pick<Customer, 'id'>): string {
  return customer.id;
}

const EXTENSIONS: Record<string, string> = { 'application/pdf': 'pdf', 'application/msword': 'doc', 'image/png': 'png', 'image/jpeg': 'jpg', 'text/plain': 'txt', 'video/mpeg': 'mpeg' };

/** `fileName` is required: the URL's last segment, else `file.<ext>`. */
function fileName(url: string, mimeType: string): string {
  try {
    const last = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
    if (/\.[A-Za-z0-9]{1,5}$/.test(last)) return last;
  } catch {
    // not a URL: fall through
  }
  return `file.${EXTENSIONS[mimeType.toLowerCase()] ?? 'bin'}`;
}
