/**
 * The custom-tool helpdesk (`type: webhook`, DESIGN §6): our own public API for teams whose tool
 * has no adapter. We POST contract events to the tool's URL and receive its events on
 * `/helpdesk/{bot}/webhook`; both directions are signed with Standard Webhooks
 * (https://www.standardwebhooks.com/). The contract itself lives in ./contract.ts.
 */
import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { Webhook } from 'standardwebhooks';
import type { ContentType } from '../../core/content.js';
import { DeliveryError } from '../../delivery/errors.js';
import { redactUrl } from '../../delivery/http.js';
import { BridgeError } from '../../http/errors.js';
import type { AdapterDefinition, HelpdeskAdapter, HelpdeskEvent, WebhookReceiver } from '../adapter.js';
import {
  INBOUND_EVENTS,
  isInboundEventName,
  isOutboundEventName,
  validateEvent,
  type OutboundEvent,
  type WebhookCustomer,
} from './contract.js';

/** Canonical base64 of at least 24 bytes (8 groups of 4 characters), optionally padded at the end. */
const SECRET_PATTERN = '^whsec_(?:[A-Za-z0-9+/]{4}){8,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';
const MIN_SECRET_BYTES = 24;
const DEFAULT_TIMEOUT_MS = 10_000;

export const WebhookHelpdeskConfig = Type.Object(
  {
    type: Type.Literal('webhook', { description: 'Your own tool, speaking the contract in docs/helpdesks/webhook.md.' }),
    url: Type.String({
      pattern: '^https?://[^\\s/?#]+(?:[/?#]\\S*)?$',
      maxLength: 2048,
      description: 'Where the bridge POSTs events (attendance.opened, customer.message, customer.typing, attendance.closed, agent.message.status). http or https.',
    }),
    secret: Type.String({
      pattern: SECRET_PATTERN,
      // Said in words: the pattern itself helps nobody (the loader shows this instead of it).
      errorMessage:
        "must be whsec_ followed by the base64 of at least 24 random bytes (letters, digits, + and /, with = padding only at the end; 32 bytes make 44 characters). Generate one with: node -e \"console.log('whsec_'+require('crypto').randomBytes(32).toString('base64'))\"",
      description:
        'Shared Standard Webhooks secret: `whsec_` followed by base64 of at least 24 random bytes. Signs our calls and verifies yours. ' +
        "Generate one with: node -e \"console.log('whsec_'+require('crypto').randomBytes(32).toString('base64'))\"",
    }),
    messageStatus: Type.Optional(
      Type.Array(Type.Union([Type.Literal('delivered'), Type.Literal('read')]), {
        uniqueItems: true,
        default: [],
        description:
          "Which agent.message.status events besides `failed` your tool wants: `delivered` (Blip's `received`) and/or `read` (Blip's `consumed`). `failed` is always sent.",
      }),
    ),
    timeoutMs: Type.Optional(
      Type.Integer({ minimum: 100, maximum: 120_000, default: DEFAULT_TIMEOUT_MS, description: 'Deadline of one call to your tool, in milliseconds.' }),
    ),
    headers: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.String({ maxLength: 8192 }), {
        description:
          "Extra static headers sent on every call (e.g. your gateway's Authorization). The signature headers and content-type cannot be overridden.",
      }),
    ),
  },
  { additionalProperties: false, description: 'The custom-tool helpdesk (`type: webhook`). See docs/helpdesks/webhook.md.' },
);
export type WebhookHelpdeskConfig = Static<typeof WebhookHelpdeskConfig>;

const ALL_CONTENTS: readonly ContentType[] = ['text', 'media', 'location', 'contact', 'choices', 'reply', 'unsupported'];
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'webhook-id', 'webhook-timestamp', 'webhook-signature']);
const SIGNATURE_HEADERS = 'webhook-id, webhook-timestamp and webhook-signature';

type Headers = Record<string, string | string[] | undefined>;

export const webhookAdapter: AdapterDefinition<WebhookHelpdeskConfig> = {
  type: 'webhook',
  configSchema: WebhookHelpdeskConfig,
  create(config, deps): HelpdeskAdapter {
    const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const wantedStatuses = new Set<string>(['failed', ...(config.messageStatus ?? [])]);
    const staticHeaders = Object.fromEntries(
      Object.entries(config.headers ?? {}).filter(([k]) => !RESERVED_HEADERS.has(k.toLowerCase())),
    );
    // A bad secret must not crash start-up of the other bots: check() reports it, calls fail closed.
    const signer = makeSigner(config.secret);

    async function post(event: OutboundEvent, webhookId: string): Promise<void> {
      if (!signer.ok) throw new DeliveryError(`webhook helpdesk secret is unusable: ${signer.reason}`, false);
      const body = JSON.stringify(event);
      const now = new Date();
      deps.log.debug({ event: event.type, webhookId }, 'posting to custom tool');
      await deps.http.send({
        method: 'POST',
        url: config.url,
        timeoutMs,
        body,
        headers: {
          ...staticHeaders,
          'content-type': 'application/json',
          'webhook-id': webhookId,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': signer.wh.sign(webhookId, now, body),
        },
      });
    }

    const webhook: WebhookReceiver = {
      unmatched: 'reject',
      verify(rawBody, headers) {
        if (!signer.ok) return { ok: false, reason: 'the configured secret is unusable' };
        return verifySignature(signer.wh, rawBody, headers);
      },
      parse: parseInbound,
    };

    return {
      type: 'webhook',
      capabilities: { contents: ALL_CONTENTS, typing: true },

      async check() {
        if (!signer.ok) return { ok: false, detail: `secret: ${signer.reason}` };
        const where = redactUrl(config.url);
        try {
          // Any HTTP answer proves DNS, TCP/TLS and a listener; we must not send an event the tool would act on.
          const res = await deps.http.request({ method: 'GET', url: config.url, headers: staticHeaders, timeoutMs });
          return { ok: true, detail: `${where} reachable (GET answered ${res.status}); secret decodes to ${signer.bytes} bytes` };
        } catch (err) {
          return { ok: false, detail: `${where} unreachable: ${(err as Error).message}` };
        }
      },

      async open(attendance, customer, transcript) {
        await post(
          {
            type: 'attendance.opened',
            timestamp: attendance.openedAt,
            data: {
              attendance: { id: attendance.id, bot: attendance.bot, openedAt: attendance.openedAt },
              customer: toWebhookCustomer(customer),
              transcript: transcript.map((t) => ({ direction: t.direction, at: t.at, content: t.content })),
            },
          },
          headerSafeId('att_open_', attendance.id),
        );
        // Our attendance id is what the tool sends back, so it is also the key.
        return { key: attendance.id };
      },

      async deliver(_ref, attendance, message) {
        await post(
          {
            type: 'customer.message',
            timestamp: message.at,
            data: { attendanceId: attendance.id, message: { id: message.id, at: message.at, content: message.content, ...(message.sensitive ? { sensitive: true } : {}) } },
          },
          headerSafeId('msg_', message.id),
        );
        return {};
      },

      async signal(_ref, attendance, state, ctx) {
        await post(
          { type: 'customer.typing', timestamp: new Date().toISOString(), data: { attendanceId: attendance.id, state } },
          `dlv_${ctx.deliveryId}`,
        );
      },

      async messageStatus(_ref, attendance, update) {
        // `sent` is ours (Blip took it), not something the contract tells a tool.
        if (update.status === 'sent' || !wantedStatuses.has(update.status)) return;
        const status = update.status;
        await post(
          {
            type: 'agent.message.status',
            timestamp: new Date().toISOString(),
            data: {
              attendanceId: attendance.id,
              messageId: update.sourceId,
              status,
              ...(update.code !== undefined ? { code: update.code.slice(0, 128) } : {}),
              ...(update.reason !== undefined ? { reason: update.reason.slice(0, 1024) } : {}),
            },
          },
          // One event per message and status: a retry, or the same status reported twice (a failed
          // notification and a dead delivery), carries the id the tool already saw.
          headerSafeId(`sts_${status}_`, update.sourceId),
        );
      },

      async close(_ref, attendance, reason, ctx) {
        const closedAt = new Date().toISOString();
        await post(
          { type: 'attendance.closed', timestamp: closedAt, data: { attendanceId: attendance.id, reason, closedAt } },
          `dlv_${ctx.deliveryId}`,
        );
      },

      webhook,
    };
  },
};

type Signer = { ok: true; wh: Webhook; bytes: number } | { ok: false; reason: string };

function makeSigner(secret: string): Signer {
  if (!secret.startsWith('whsec_')) return { ok: false, reason: 'must start with whsec_' };
  try {
    const wh = new Webhook(secret);
    const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64').length;
    if (bytes < MIN_SECRET_BYTES) return { ok: false, reason: `decodes to ${bytes} bytes; at least ${MIN_SECRET_BYTES} are required` };
    return { ok: true, wh, bytes };
  } catch (err) {
    return { ok: false, reason: `not valid base64 after whsec_ (${(err as Error).message})` };
  }
}

/**
 * The tool dedupes on webhook-id, so it must not change when the same delivery is retried; ids
 * that could break a header or the `id.timestamp.body` signing string are hashed instead.
 */
export function headerSafeId(prefix: string, id: string): string {
  if (/^[A-Za-z0-9_-]{1,200}$/.test(id)) return prefix + id;
  return `${prefix}h_${createHash('sha256').update(id).digest('base64url').slice(0, 43)}`;
}

function toWebhookCustomer(c: Parameters<HelpdeskAdapter['open']>[1]): WebhookCustomer {
  // Picked field by field so nothing the core adds to its Customer leaks into a public payload.
  return {
    id: c.id,
    address: c.address,
    ...(c.originator !== undefined ? { originator: c.originator } : {}),
    ...(c.router !== undefined ? { router: c.router } : {}),
    ...(c.channel !== undefined ? { channel: c.channel } : {}),
    ...(c.name !== undefined ? { name: c.name } : {}),
    ...(c.email !== undefined ? { email: c.email } : {}),
    ...(c.phone !== undefined ? { phone: c.phone } : {}),
    extras: { ...c.extras },
  };
}

function header(headers: Headers, name: string): string | string[] | undefined {
  if (name in headers) return headers[name];
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** Never throws: every failure, including a malformed header, is a reason to refuse. */
function verifySignature(wh: Webhook, rawBody: Buffer, headers: Headers): { ok: true } | { ok: false; reason: string } {
  try {
    const id = header(headers, 'webhook-id');
    const timestamp = header(headers, 'webhook-timestamp');
    const signature = header(headers, 'webhook-signature');
    if (typeof id !== 'string' || id === '' || typeof timestamp !== 'string' || timestamp === '' || signature === undefined) {
      return { ok: false, reason: `missing ${SIGNATURE_HEADERS} headers` };
    }
    // standardwebhooks parses with parseInt, which would accept "123abc".
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'webhook-timestamp must be Unix seconds' };
    // Several signatures may arrive as repeated headers; the spec separates them with spaces.
    const sig = Array.isArray(signature) ? signature.join(' ') : signature;
    wh.verify(rawBody.toString('utf8'), { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': sig }, { jsonParse: false });
    return { ok: true };
  } catch (err) {
    const message = (err as Error).message;
    if (/too old|too new/.test(message)) return { ok: false, reason: 'webhook-timestamp is outside the 5-minute tolerance' };
    if (/No matching signature/.test(message)) return { ok: false, reason: 'no webhook-signature matches the body' };
    return { ok: false, reason: 'the signature headers are malformed' };
  }
}

function parseInbound(body: unknown, headers: Headers): HelpdeskEvent[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BridgeError('BRIDGE_ERR_INVALID_EVENT', 'the body must be a JSON object { type, timestamp, data }');
  }
  const type = (body as { type?: unknown }).type;
  const accepted = INBOUND_EVENTS.join(', ');
  if (!isInboundEventName(type)) {
    const detail =
      typeof type !== 'string'
        ? `/type: must be a string, one of: ${accepted}`
        : isOutboundEventName(type)
          ? `/type: '${type}' is an event the bridge sends, not one it accepts; accepted: ${accepted}`
          : `/type: unknown event type '${type}'; accepted: ${accepted}`;
    throw new BridgeError('BRIDGE_ERR_INVALID_EVENT', detail);
  }
  const checked = validateEvent(type, body);
  if (!checked.ok) throw new BridgeError('BRIDGE_ERR_INVALID_EVENT', `${type} ${checked.path}: ${checked.message}`);

  const webhookId = header(headers, 'webhook-id');
  if (typeof webhookId !== 'string' || webhookId === '') throw new BridgeError('BRIDGE_ERR_BAD_SIGNATURE', 'missing webhook-id header');

  const event = checked.value;
  const attendance = { id: event.data.attendanceId };
  switch (event.type) {
    case 'agent.message': {
      const m = event.data.message;
      return [
        {
          kind: 'agent.message',
          eventId: webhookId,
          attendance,
          message: { id: m.id, content: m.content, ...(m.agent ? { agent: { id: m.agent.id, name: m.agent.name } } : {}) },
        },
      ];
    }
    case 'agent.typing':
      return [{ kind: 'agent.typing', eventId: webhookId, attendance, state: event.data.state }];
    case 'attendance.end':
      return [
        {
          kind: 'attendance.ended',
          eventId: webhookId,
          attendance,
          ...(event.data.reason !== undefined ? { reason: event.data.reason } : {}),
        },
      ];
  }
}
