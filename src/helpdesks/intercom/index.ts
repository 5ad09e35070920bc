/**
 * Intercom (`type: intercom`), REST API 2.14 (research zendesk-intercom.md §B; the description in
 * specs/intercom). Vendor words: an attendance is an Intercom *conversation* started by the
 * customer's *contact* (role user, `external_id` = our stable customer key); agents are *admins*.
 *
 * - open: contact by external_id (create; on 409 use the id Intercom names), then a conversation
 *   from the contact whose first message carries the bot transcript.
 * - deliver: a user reply (`message_type: comment`); images as `attachment_urls`, other media as links.
 * - webhooks: X-Hub-Signature (HMAC-SHA1 of the raw body with the app's client secret). Admin
 *   replies and closes come back; notes, snoozes and our own user replies (echoes) are ignored.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Content, ContentType } from '../../core/content.js';
import { DeliveryError } from '../../delivery/errors.js';
import type { HttpResponse } from '../../delivery/http.js';
import { BridgeError } from '../../http/errors.js';
import type { AdapterDefinition, Customer, HelpdeskAdapter, HelpdeskEvent, TranscriptEntry, WebhookReceiver } from '../adapter.js';
import { htmlToText } from './html.js';

export const IntercomConfig = Type.Object(
  {
    type: Type.Literal('intercom'),
    accessToken: Type.String({ minLength: 10, description: "The app's access token (Developer Hub → your app → Authentication)." }),
    clientSecret: Type.String({ minLength: 10, description: "The app's client secret (Developer Hub → Basic information): Intercom signs webhooks with it (X-Hub-Signature)." }),
    baseUrl: Type.String({
      pattern: '^https?://',
      default: 'https://api.intercom.io',
      description: 'Regional API host: https://api.intercom.io (US), https://api.eu.intercom.io (EU) or https://api.au.intercom.io (Australia).',
    }),
    adminId: Type.Optional(Type.String({ minLength: 1, description: 'Admin id used to close the Intercom conversation when the bridge ends an attendance (admin close, timeout). Without it the conversation stays open in Intercom.' })),
    externalIdPrefix: Type.String({ default: 'blip:', maxLength: 64, description: "Prefix of the contact's external_id (then the customer's identity in the router)." }),
    customAttributes: Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), {
      default: {},
      description: 'Blip contact extras to copy into Intercom custom attributes: { <extras key>: <Intercom attribute name> }. The attributes must exist in Intercom.',
    }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 15_000, description: 'Deadline of one call to Intercom, in milliseconds.' }),
  },
  { additionalProperties: false, description: 'Intercom (REST API 2.14). See docs/helpdesks/intercom.md.' },
);
export type IntercomConfig = Static<typeof IntercomConfig>;

export const INTERCOM_VERSION = '2.14';
/** Intercom takes at most 10 attachment URLs per part (spec 2.14, reply request). */
const MAX_ATTACHMENTS = 10;

const CONTENTS: readonly ContentType[] = ['text', 'media', 'location', 'contact', 'reply', 'unsupported'];

/** What the store keeps of the Intercom side (HelpdeskRef.data). */
interface RefData {
  contactId: string;
  externalId: string;
}

// ── webhook payloads (validated, only what we read) ──────────────────────────────────────────
const Part = Type.Object(
  {
    id: Type.String(),
    part_type: Type.String(),
    body: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    author: Type.Optional(Type.Object({ type: Type.Optional(Type.String()), id: Type.Optional(Type.Union([Type.String(), Type.Null()])), name: Type.Optional(Type.Union([Type.String(), Type.Null()])) })),
    attachments: Type.Optional(
      Type.Array(Type.Object({ name: Type.Optional(Type.Union([Type.String(), Type.Null()])), url: Type.String(), content_type: Type.Optional(Type.Union([Type.String(), Type.Null()])), filesize: Type.Optional(Type.Union([Type.Number(), Type.Null()])) })),
    ),
  },
);
const Notification = Type.Object({
  type: Type.Literal('notification_event'),
  id: Type.String({ minLength: 1 }),
  topic: Type.String({ minLength: 1 }),
  data: Type.Optional(
    Type.Object({
      item: Type.Optional(
        Type.Union([
          Type.Null(),
          Type.Object({
            type: Type.Optional(Type.String()),
            id: Type.Optional(Type.Union([Type.String(), Type.Number()])),
            admin_assignee_id: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Null()])),
            conversation_parts: Type.Optional(Type.Object({ conversation_parts: Type.Optional(Type.Array(Part)) })),
          }),
        ]),
      ),
    }),
  ),
});
const checkNotification = TypeCompiler.Compile(Notification);
type PartT = Static<typeof Part>;

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The transcript as the conversation's first message (Intercom takes no HTML there). */
export function transcriptText(customer: Customer, transcript: TranscriptEntry[]): string {
  const lines = [`Conversation handed over by the Blip bot${customer.channel ? ` (${customer.channel})` : ''}.`];
  if (transcript.length) {
    lines.push('', 'Before the hand-off:');
    for (const t of transcript) lines.push(`${t.direction === 'bot' ? 'Bot' : 'Customer'}: ${t.content.text.replace(/\n/g, '\n  ')}`);
  }
  return lines.join('\n');
}

/** A part's attachments as LIME-ready media contents (Intercom hosts them; we pass links). */
function attachmentsOf(part: PartT): Content[] {
  return (part.attachments ?? []).map((a) => {
    const name = a.name ?? undefined;
    const mimeType = a.content_type ?? 'application/octet-stream';
    return {
      type: 'media' as const,
      url: a.url,
      mimeType,
      ...(name ? { name } : {}),
      ...(typeof a.filesize === 'number' ? { size: a.filesize } : {}),
      text: `📎 ${name ? `${name} ` : ''}(${mimeType}) ${a.url}`,
    };
  });
}

export const intercomAdapter: AdapterDefinition<IntercomConfig> = {
  type: 'intercom',
  configSchema: IntercomConfig,
  create(config, deps): HelpdeskAdapter {
    const base = config.baseUrl.replace(/\/+$/, '');
    const headers = {
      authorization: `Bearer ${config.accessToken}`,
      'intercom-version': INTERCOM_VERSION,
      accept: 'application/json',
    };

    async function call(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<HttpResponse> {
      const res = await deps.http.request({ method, url: `${base}${path}`, headers, ...(body !== undefined ? { body } : {}), timeoutMs: config.timeoutMs });
      if (res.status >= 200 && res.status < 300) return res;
      throw intercomError(method, path, res);
    }

    async function findOrCreateContact(customer: Customer): Promise<RefData> {
      const externalId = `${config.externalIdPrefix}${customer.id}`;
      const custom: Record<string, string> = {};
      for (const [extra, attr] of Object.entries(config.customAttributes)) {
        const v = customer.extras[extra];
        if (v !== undefined) custom[attr] = v;
      }
      const body = {
        role: 'user',
        external_id: externalId,
        ...(customer.name ? { name: customer.name } : {}),
        ...(customer.email ? { email: customer.email } : {}),
        ...(customer.phone ? { phone: customer.phone } : {}),
        ...(Object.keys(custom).length ? { custom_attributes: custom } : {}),
      };
      try {
        const res = await call('POST', '/contacts', body);
        return { contactId: String((res.body as { id: unknown }).id), externalId };
      } catch (err) {
        // Another attendance (or a retry of this one) created it first: use the id Intercom names.
        const id = err instanceof IntercomError && err.status === 409 ? /id=([0-9a-f]+)/i.exec(err.detail)?.[1] : undefined;
        if (id) return { contactId: id, externalId };
        throw err;
      }
    }

    const webhook: WebhookReceiver = {
      unmatched: 'ignore', // Intercom sends every conversation of the workspace, not only ours
      verify(rawBody, hdrs) {
        const sig = header(hdrs, 'x-hub-signature');
        if (!sig) return { ok: false, reason: 'missing X-Hub-Signature' };
        const expected = Buffer.from(`sha1=${createHmac('sha1', config.clientSecret).update(rawBody).digest('hex')}`);
        const given = Buffer.from(sig.trim().toLowerCase());
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'X-Hub-Signature does not match the body' };
        return { ok: true };
      },
      parse(body): HelpdeskEvent[] {
        if (!checkNotification.Check(body)) {
          const first = checkNotification.Errors(body).First();
          throw new BridgeError('BRIDGE_ERR_INVALID_EVENT', `${first?.path || '/'}: ${first?.message ?? 'not an Intercom notification'}`);
        }
        const n = body;
        const item = n.data?.item;
        const conversationId = item && item.id !== undefined ? String(item.id) : undefined;
        if (!conversationId || (item?.type && item.type !== 'conversation')) return [{ kind: 'ignored', reason: `${n.topic}: not about a conversation` }];
        const attendance = { key: conversationId };
        const parts = item?.conversation_parts?.conversation_parts ?? [];
        switch (n.topic) {
          case 'conversation.admin.replied':
          case 'conversation.admin.closed': {
            const events: HelpdeskEvent[] = [];
            for (const part of parts) {
              // Notes never reach the customer; only what an admin said to them does.
              if (part.author?.type !== 'admin' || !['comment', 'quick_reply', 'close'].includes(part.part_type)) continue;
              const agent = { ...(part.author.id ? { id: String(part.author.id) } : {}), ...(part.author.name ? { name: part.author.name } : {}) };
              const text = htmlToText(part.body);
              // Dedupe by part id: a redelivered notification or another topic carrying the same part.
              if (text) events.push({ kind: 'agent.message', eventId: `part:${part.id}`, attendance, message: { id: `part:${part.id}`, content: { type: 'text', text }, agent } });
              attachmentsOf(part).forEach((content, i) => {
                events.push({ kind: 'agent.message', eventId: `part:${part.id}:${i}`, attendance, message: { id: `part:${part.id}:${i}`, content, agent } });
              });
            }
            if (n.topic === 'conversation.admin.closed') events.push({ kind: 'attendance.ended', eventId: `notif:${n.id}`, attendance, reason: 'closed in Intercom' });
            return events.length ? events : [{ kind: 'ignored', reason: `${n.topic}: no admin comment` }];
          }
          case 'conversation.admin.assigned': {
            const part = parts.find((p) => p.author?.type === 'admin');
            return [{ kind: 'agent.assigned', eventId: `notif:${n.id}`, attendance, ...(part?.author?.name ? { agent: { name: part.author.name, ...(part.author.id ? { id: String(part.author.id) } : {}) } } : {}) }];
          }
          default:
            // ping, notes, snoozes, our own user replies (echoes), …: nothing for the customer.
            return [{ kind: 'ignored', reason: `topic ${n.topic}` }];
        }
      },
    };

    return {
      type: 'intercom',
      capabilities: { contents: CONTENTS, typing: false },
      webhook,

      async check() {
        try {
          const res = await call('GET', '/me');
          const me = res.body as { name?: string; app?: { name?: string; id_code?: string } };
          return { ok: true, detail: `Intercom accepted the token (${me.app?.name ?? me.name ?? 'app'}${me.app?.id_code ? `, ${me.app.id_code}` : ''}) at ${base}` };
        } catch (err) {
          return { ok: false, detail: (err as Error).message };
        }
      },

      async open(_attendance, customer, transcript) {
        const contact = await findOrCreateContact(customer);
        const res = await call('POST', '/conversations', { from: { type: 'user', id: contact.contactId }, body: transcriptText(customer, transcript) });
        // Create answers the Message model; the conversation is its conversation_id (spec 2.14).
        const conversationId = (res.body as { conversation_id?: unknown }).conversation_id;
        if (conversationId === undefined || conversationId === null) throw new DeliveryError('Intercom created a message without conversation_id', false);
        deps.log.info({ conversation: String(conversationId), contact: contact.contactId }, 'intercom conversation created');
        return { key: String(conversationId), data: { ...contact } };
      },

      async deliver(ref, _attendance, message, ctx) {
        const data = ref.data as unknown as RefData;
        const c = message.content;
        const images = c.type === 'media' && c.mimeType.startsWith('image/') ? [c.url] : [];
        const body = c.type === 'media' && images.length ? c.caption || c.name || 'Image' : c.text;
        if (ctx.attempt > 1) {
          // Intercom takes no idempotency key: before posting again, look for the first attempt.
          const existing = await findOurPart(ref.key, body, Date.parse(message.at));
          if (existing) return { vendorMessageId: existing };
        }
        const res = await call('POST', `/conversations/${encodeURIComponent(ref.key)}/reply`, {
          message_type: 'comment',
          type: 'user',
          intercom_user_id: data.contactId,
          body,
          ...(images.length ? { attachment_urls: images.slice(0, MAX_ATTACHMENTS) } : {}),
        });
        const parts = (res.body as { conversation_parts?: { conversation_parts?: Array<{ id: string; author?: { type?: string } }> } }).conversation_parts?.conversation_parts ?? [];
        const ours = [...parts].reverse().find((p) => p.author?.type === 'user');
        return ours ? { vendorMessageId: String(ours.id) } : {};
      },

      async close(ref, _attendance, reason) {
        if (reason === 'agent') return; // Intercom closed it
        if (!config.adminId) {
          deps.log.info({ conversation: ref.key, reason }, 'no intercom adminId configured: the conversation stays open in Intercom');
          return;
        }
        await call('POST', `/conversations/${encodeURIComponent(ref.key)}/parts`, {
          message_type: 'close',
          type: 'admin',
          admin_id: config.adminId,
          body: `The customer was handed back to the bot (${reason}).`,
        });
      },
    };

    async function findOurPart(conversationId: string, body: string, since: number): Promise<string | undefined> {
      const res = await call('GET', `/conversations/${encodeURIComponent(conversationId)}`);
      const parts = (res.body as { conversation_parts?: { conversation_parts?: Array<{ id: string; body?: string | null; created_at?: number; author?: { type?: string } }> } }).conversation_parts?.conversation_parts ?? [];
      const found = parts.find((p) => p.author?.type === 'user' && (p.created_at ?? 0) * 1000 >= since - 60_000 && htmlToText(p.body) === htmlToText(body));
      return found ? String(found.id) : undefined;
    }
  },
};

class IntercomError extends DeliveryError {
  constructor(
    message: string,
    retryable: boolean,
    retryAfterMs: number | undefined,
    status: number,
    readonly detail: string,
  ) {
    super(message, retryable, retryAfterMs, status);
  }
}

/** Intercom answers `{type: 'error.list', errors: [{code, message}]}`; 429 carries X-RateLimit-Reset (epoch seconds). */
function intercomError(method: string, path: string, res: HttpResponse): IntercomError {
  const errors = (res.body as { errors?: Array<{ code?: string; message?: string }> } | undefined)?.errors;
  const detail = errors?.map((e) => `${e.code ?? ''}: ${e.message ?? ''}`).join('; ') || (typeof res.body === 'string' ? res.body.slice(0, 300) : '');
  let retryAfterMs: number | undefined;
  const retryAfter = header(res.headers, 'retry-after');
  const reset = header(res.headers, 'x-ratelimit-reset');
  if (retryAfter && /^\d+$/.test(retryAfter)) retryAfterMs = Number(retryAfter) * 1000;
  else if (res.status === 429 && reset && /^\d+$/.test(reset)) retryAfterMs = Math.max(0, Number(reset) * 1000 - Date.now());
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  return new IntercomError(`Intercom ${method} ${path} answered ${res.status}: ${detail}`, retryable, retryAfterMs, res.status, detail);
}
