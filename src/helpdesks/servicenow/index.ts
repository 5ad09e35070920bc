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
import { createHash, createHmac } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { FormData } from 'undici';
import type { Content, ContentType } from '../../core/content.js';
import { fetchMedia } from '../../core/media.js';
import { DeliveryError } from '../../delivery/errors.js';
import { parseRetryAfter } from '../../delivery/errors.js';
import type { HttpResponse } from '../../delivery/http.js';
import { safeEqual } from '../../http/auth.js';
import { BridgeError } from '../../http/errors.js';
import type { AdapterDefinition, Customer, HelpdeskAdapter, HelpdeskEvent, OutgoingMessage, WebhookReceiver } from '../adapter.js';
import { htmlToText } from '../intercom/html.js';

export const ServiceNowConfig = Type.Object(
  {
    type: Type.Literal('servicenow'),
    instanceUrl: Type.String({ pattern: '^https?://', description: 'Your instance: https://{instance}.service-now.com' }),
    auth: Type.Union([Type.Literal('basic'), Type.Literal('oauth'), Type.Literal('token'), Type.Literal('hash')], {
      description: "How we authenticate to the API: 'basic' (username/password), 'oauth' (a bearer token in `token`), 'token' (the static message-auth token, sent as the `token` header), 'hash' (x-b2b-signature: HMAC-SHA1 of the body with `secret`).",
    }),
    username: Type.Optional(Type.String({ minLength: 1 })),
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
    uploadMedia: Type.Boolean({ default: false, description: "Re-upload customer files through /api/now/v1/cccif/media/upload (Blip's links expire in ~30 min). Needs Basic or OAuth auth." }),
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

// The VA response body (bot-api.md, "Response body"); only what we read, unknown fields tolerated.
const Item = Type.Record(Type.String(), Type.Unknown());
const ResponseBody = Type.Object({
  requestId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  clientSessionId: Type.String({ minLength: 1 }),
  body: Type.Optional(Type.Array(Item, { maxItems: 500 })),
  agentChat: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
  completed: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
  takeControl: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
});
const checkBody = TypeCompiler.Compile(ResponseBody);

type Json = Record<string, any>;

function truthy(v: unknown): boolean {
  return v === true || v === 'true';
}

function basicOk(header: string | undefined, user: string, pass: string): boolean {
  const m = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  return safeEqual(Buffer.from(m[1]!, 'base64').toString('utf8'), `${user}:${pass}`);
}

/** One VA body item as what the customer should get; undefined for what is not for them. */
export function itemToContent(item: Json): Content | undefined {
  const ui = String(item['uiType'] ?? '');
  switch (ui) {
    case 'OutputText':
    case 'InputText': {
      const text = typeof item['value'] === 'string' ? item['value'] : typeof item['label'] === 'string' ? item['label'] : '';
      return text ? { type: 'text', text } : undefined;
    }
    case 'OutputHtml': {
      const text = htmlToText(typeof item['value'] === 'string' ? item['value'] : '');
      return text ? { type: 'text', text } : undefined;
    }
    case 'OutputImage': {
      const url = String(item['value'] ?? '');
      if (!url) return undefined;
      return { type: 'media', url, mimeType: 'image/jpeg', text: `📎 (image) ${url}` };
    }
    case 'OutputLink': {
      const url = String((item['value'] as Json | undefined)?.['action'] ?? '');
      const label = [item['header'], item['label']].filter((x) => typeof x === 'string' && x).join(' — ');
      return url ? { type: 'text', text: label ? `${label}\n${url}` : url } : undefined;
    }
    case 'OutputCard': {
      let data: Json = {};
      try {
        data = typeof item['data'] === 'string' ? (JSON.parse(item['data']) as Json) : ((item['data'] as Json) ?? {});
      } catch {
        data = {};
      }
      const text = [data['title'], data['subtitle'], data['description'], data['url'], data['image']].filter((x) => typeof x === 'string' && x).join('\n');
      return { type: 'text', text: text || '(a card)' };
    }
    case 'Picker':
    case 'Boolean':
    case 'TopicPickerControl': {
      const options = (Array.isArray(item['options']) ? (item['options'] as Json[]) : [])
        .filter((o) => o['enabled'] !== false && typeof o['label'] === 'string' && o['label'])
        .map((o) => ({ label: String(o['label']), ...(o['value'] !== undefined && o['value'] !== null ? { value: String(o['value']) } : {}) }));
      const prompt = String(item['label'] ?? item['promptMsg'] ?? 'Choose an option');
      if (!options.length) return { type: 'text', text: prompt };
      return { type: 'choices', text: prompt, options: options.slice(0, 100) };
    }
    default:
      return undefined;
  }
}

export const serviceNowAdapter: AdapterDefinition<ServiceNowConfig> = {
  type: 'servicenow',
  configSchema: ServiceNowConfig,
  create(config, deps): HelpdeskAdapter {
    const base = config.instanceUrl.replace(/\/+$/, '');
    const problem =
      config.auth === 'basic' && !(config.username && config.password)
        ? "auth 'basic' needs username and password"
        : (config.auth === 'oauth' || config.auth === 'token') && !config.token
          ? `auth '${config.auth}' needs token`
          : config.auth === 'hash' && !config.secret
            ? "auth 'hash' needs secret"
            : !config.response.password && !config.response.headerValue
              ? 'response needs username + password, or header + headerValue (ServiceNow signs nothing)'
              : undefined;

    function authHeaders(body: string): Record<string, string> {
      switch (config.auth) {
        case 'basic':
          return { authorization: `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}` };
        case 'oauth':
          return { authorization: `Bearer ${config.token}` };
        case 'token':
          return { token: config.token ?? '' };
        case 'hash':
          // bot-api.md: HmacSHA1 hex of the payload with the message-auth secret.
          return { 'x-b2b-signature': createHmac('sha1', config.secret ?? '').update(body).digest('hex') };
      }
    }

    async function send(request: Json): Promise<HttpResponse> {
      if (problem) throw new DeliveryError(`servicenow: ${problem}`, false);
      const body = JSON.stringify({ timestamp: Date.now(), timezone: config.timezone, ...request });
      const res = await deps.http.request({ method: 'POST', url: `${base}${PATH}`, headers: { 'content-type': 'application/json', accept: 'application/json', ...authHeaders(body) }, body, timeoutMs: config.timeoutMs });
      const b = res.body as { status?: string; error?: { message?: string; detail?: string } } | undefined;
      if (res.status >= 200 && res.status < 300 && b?.status !== 'failure') return res;
      const detail = b?.error ? `${b.error.message ?? ''} ${b.error.detail ?? ''}`.trim() : typeof res.body === 'string' ? res.body.slice(0, 300) : '';
      const status = res.status >= 300 ? res.status : 400;
      // 429 waits Retry-After (or X-RateLimit-Reset); 5xx retried; 400/401/405 and a failure status are permanent.
      const reset = res.headers['x-ratelimit-reset'];
      const retryAfterMs = parseRetryAfter(res.headers['retry-after']) ?? (res.status === 429 && typeof reset === 'string' && /^\d+$/.test(reset) ? Math.max(0, Number(reset) * 1000 - Date.now()) : undefined);
      throw new DeliveryError(`ServiceNow ${request['action'] ?? 'message'} answered ${res.status}${b?.status === 'failure' ? ' (failure)' : ''}: ${detail}`, res.status === 429 || res.status >= 500 || res.status === 408, retryAfterMs, status);
    }

    function userId(customer: Pick<Customer, 'id'>): string {
      return customer.id;
    }

    async function attachment(m: OutgoingMessage, user: string): Promise<Json[] | undefined> {
      const c = m.content;
      if (c.type !== 'media') return undefined;
      let url = c.url;
      if (config.uploadMedia) {
        const file = await fetchMedia(c.url, deps.media);
        const form = new FormData();
        form.append('user_id', user);
        form.append('file', new Blob([new Uint8Array(file.bytes)], { type: c.mimeType || file.contentType }), c.name ?? 'file');
        const res = await deps.http.request({ method: 'POST', url: `${base}/api/now/v1/cccif/media/upload`, headers: { ...authHeaders(''), accept: 'application/json' }, body: form, timeoutMs: config.timeoutMs });
        if (res.status < 200 || res.status >= 300) throw new DeliveryError(`ServiceNow media upload answered ${res.status}`, res.status === 429 || res.status >= 500);
        url = String((res.body as Json)['result']['mediaUrl']);
      }
      return [{ clientAttachmentId: m.id, contentType: c.mimeType, fileName: c.name ?? 'file', url }];
    }

    const webhook: WebhookReceiver = {
      unmatched: 'ignore', // a response for a conversation we no longer know is acknowledged, not retried
      verify(_raw, headers) {
        const r = config.response;
        const h = (n: string) => {
          const v = headers[n.toLowerCase()];
          return Array.isArray(v) ? v[0] : v;
        };
        if (r.username && r.password && basicOk(h('authorization'), r.username, r.password)) return { ok: true };
        if (r.header && r.headerValue) {
          const v = h(r.header);
          if (v && safeEqual(v, r.headerValue)) return { ok: true };
        }
        return { ok: false, reason: 'neither the configured Basic auth nor the secret header matches' };
      },
      parse(body): HelpdeskEvent[] {
        if (!checkBody.Check(body)) {
          const first = checkBody.Errors(body).First();
          throw new BridgeError('BRIDGE_ERR_INVALID_EVENT', `${first?.path || '/'}: ${first?.message ?? 'not a VA response body'}`);
        }
        const attendance = { key: body.clientSessionId };
        const events: HelpdeskEvent[] = [];
        // No event id in the payload: a redelivered body is recognised by its bytes, item by item
        // (an agent's messageId when ServiceNow gives one).
        const id = (item: Json, i: number) =>
          typeof item['messageId'] === 'string' && item['messageId'] ? `snm:${item['messageId']}` : `sn:${createHash('sha256').update(`${body.clientSessionId}|${body.requestId ?? ''}|${i}|${JSON.stringify(item)}`).digest('base64url')}`;
        let ended = false;
        (body.body ?? []).forEach((item, i) => {
          if (item['uiType'] === 'ActionMsg') {
            const action = String(item['actionType'] ?? '');
            if (/^StartTypingIndicator/.test(action)) events.push({ kind: 'agent.typing', eventId: `${id(item, i)}:${Date.now()}`, attendance, state: 'typing' });
            else if (/^EndTypingIndicator/.test(action)) events.push({ kind: 'agent.typing', eventId: `${id(item, i)}:${Date.now()}`, attendance, state: 'paused' });
            else if (action === 'StartSpinner' && item['spinnerType'] === 'wait_time' && config.messages.waiting) {
              events.push({ kind: 'notice', eventId: id(item, i), attendance, text: config.messages.waiting.replace(/\{waitTime\}/g, String(item['waitTime'] ?? 'a moment')) });
            } else if (action === 'SwitchToLiveAgent') {
              const a = (item['agentInfo'] ?? {}) as Json;
              events.push({ kind: 'agent.assigned', eventId: id(item, i), attendance, ...(typeof a['agentName'] === 'string' ? { agent: { name: a['agentName'], ...(a['agentId'] ? { id: String(a['agentId']) } : {}) } } : {}) });
            } else if (action === 'SwitchToVirtualAgent' || (action === 'System' && /clos|ended|timed out/i.test(String(item['message'] ?? '')))) {
              ended = true;
            }
            return;
          }
          const content = itemToContent(item);
          if (!content) return;
          const a = (item['agentInfo'] ?? {}) as Json;
          const agent = { ...(a['agentId'] ? { id: String(a['agentId']) } : {}), ...(typeof a['agentName'] === 'string' ? { name: a['agentName'] } : {}) };
          const eventId = id(item, i);
          events.push({ kind: 'agent.message', eventId, attendance, message: { id: eventId, content, agent } });
        });
        if (ended || truthy(body.completed) || truthy(body.takeControl)) {
          events.push({ kind: 'attendance.ended', eventId: `sn-end:${body.clientSessionId}`, attendance, reason: truthy(body.takeControl) ? 'handed back to the bot' : 'closed in ServiceNow' });
        }
        return events.length ? events : [{ kind: 'ignored', reason: 'nothing for the customer' }];
      },
    };

    return {
      type: 'servicenow',
      capabilities: { contents: CONTENTS, typing: true },
      webhook,

      async check() {
        if (problem) return { ok: false, detail: `servicenow: ${problem}` };
        try {
          // SEND_HISTORY with nothing in it is harmless and answers the call status.
          await send({ requestId: `check-${Date.now()}`, action: 'SEND_HISTORY', userId: 'blip-helpdesk-bridge-check', clientSessionId: 'check', message: { text: '', typed: true }, history: [] });
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
        await send({
          requestId: `open-${attendance.id}`,
          action: 'AGENT',
          clientSessionId: attendance.id,
          userId: userId(customer),
          ...(customer.email ? { emailId: customer.email } : {}),
          message: { text: config.handoffText, typed: true, clientMessageId: `open-${attendance.id}` },
          contextVariables: context,
          history: transcript.map((t) => ({
            displayName: t.direction === 'bot' ? 'Bot' : (customer.name ?? 'Customer'),
            isBotMessage: t.direction === 'bot',
            timestamp: String(Date.parse(t.at)),
            type: 'text',
            value: t.content.text,
          })),
        });
        return { key: attendance.id, data: { userId: userId(customer) } };
      },

      async deliver(ref, _attendance, message) {
        const user = String((ref.data as Json | undefined)?.['userId'] ?? '');
        const files = await attachment(message, user);
        const c = message.content;
        const text = c.type === 'media' ? (c.caption ?? c.name ?? '') : c.text;
        // Our message id is the requestId: a retried delivery is the same request to ServiceNow.
        await send({ requestId: message.id, clientSessionId: ref.key, userId: user, message: { text, typed: true, clientMessageId: message.id, ...(files ? { attachment: files } : {}) } });
        return { vendorMessageId: message.id };
      },

      async signal(ref, _attendance, state, ctx) {
        const user = String((ref.data as Json | undefined)?.['userId'] ?? '');
        // bot-api.md: "First send TYPING and then after the user finishes typing, send VIEWING".
        await send({ requestId: `typing-${ctx.deliveryId}`, action: state === 'typing' ? 'TYPING' : 'VIEWING', clientSessionId: ref.key, userId: user, message: { text: '', typed: true } });
      },

      ...(config.updateMessages
        ? {
            async messageStatus(ref: { key: string; data?: Record<string, unknown> }, _attendance: unknown, sourceId: string, status: 'sent' | 'failed', ctx: { deliveryId: number }) {
              // Only agent messages ServiceNow named (messageId) can be reported back.
              if (!sourceId.startsWith('snm:')) return;
              const user = String(ref.data?.['userId'] ?? '');
              await send({
                requestId: `status-${ctx.deliveryId}`,
                action: 'UPDATE_MESSAGES',
                clientSessionId: ref.key,
                userId: user,
                message: { text: '', typed: true, id: sourceId.slice(4), status: status === 'sent' ? 'sent_to_user' : 'external_error' },
              });
            },
          }
        : {}),

      async close(ref, _attendance, reason) {
        if (reason === 'agent') return; // ServiceNow ended it
        const user = String((ref.data as Json | undefined)?.['userId'] ?? '');
        await send({ requestId: `end-${ref.key}`, action: 'END_CONVERSATION', clientSessionId: ref.key, userId: user, message: { text: '', typed: true } });
      },
    };
  },
};
