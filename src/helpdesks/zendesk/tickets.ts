/**
 * Zendesk tickets (`type: zendesk-tickets`), any Zendesk Support plan (research
 * zendesk-intercom.md §A.2). Vendor words: an attendance is a *ticket*; the customer is its
 * *requester* (an end user with `external_id` = our stable customer key); each customer message is
 * a public *comment* authored by the requester; agents answer with public comments.
 *
 * Agent comments and the end come back through a Zendesk webhook subscribed to the event types
 * `ticket.comment_added` and `ticket.status_changed` (§A.2.5), signed with
 * X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret, timestamp + body)).
 *
 * Zendesk allows 30 updates per 10 minutes per user per ticket (§A.2.6): when the lane is behind,
 * consecutive customer messages go as one comment (deliverBatch), and a 429 waits Retry-After.
 */
import { createHmac } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { ContentType } from '../../core/content.js';
import { fetchMedia } from '../../core/media.js';
import { DeliveryError } from '../../delivery/errors.js';
import type { HttpResponse } from '../../delivery/http.js';
import { BridgeError } from '../../http/errors.js';
import type { AdapterDefinition, Customer, HelpdeskAdapter, HelpdeskEvent, OutgoingMessage, TranscriptEntry, WebhookReceiver } from '../adapter.js';
import { ZendeskError, header, sameSecret, zendeskError } from './common.js';

export const ZendeskTicketsConfig = Type.Object(
  {
    type: Type.Literal('zendesk-tickets'),
    baseUrl: Type.String({ pattern: '^https?://', description: 'Your Zendesk: https://{subdomain}.zendesk.com' }),
    email: Type.Optional(Type.String({ minLength: 3, description: 'Agent email for API token auth ({email}/token:{apiToken}).' })),
    apiToken: Type.Optional(Type.String({ minLength: 8, description: 'API token (Admin Center → Apps and integrations → Zendesk API).' })),
    oauthToken: Type.Optional(Type.String({ minLength: 8, description: 'OAuth access token, instead of email + apiToken.' })),
    webhookSecret: Type.String({ minLength: 8, description: "The webhook's signing secret (Admin Center → Webhooks → your webhook → Reveal secret)." }),
    signature: Type.Object(
      {
        order: Type.Union([Type.Literal('timestamp+body'), Type.Literal('body+timestamp')], {
          default: 'timestamp+body',
          description: 'What is signed: Zendesk documents timestamp + body; one older page says body + timestamp (research §A.2.5).',
        }),
        toleranceSeconds: Type.Integer({ minimum: 10, maximum: 86_400, default: 300, description: 'Oldest X-Zendesk-Webhook-Signature-Timestamp accepted (replays older than this are refused).' }),
      },
      { additionalProperties: false, default: {} },
    ),
    externalIdPrefix: Type.String({ default: 'blip:', maxLength: 64, description: "Prefix of the requester's external_id." }),
    ticket: Type.Object(
      {
        subject: Type.String({ default: 'Chat with {name}', minLength: 1, description: 'Ticket subject; {name} and {channel} are replaced.' }),
        tags: Type.Array(Type.String({ pattern: '^[^\\s,]+$' }), { default: ['blip'], description: 'Tags on the ticket (a trigger can use them, e.g. to stop e-mail notifications).' }),
        groupId: Type.Optional(Type.Integer({ minimum: 1, description: 'Group the ticket is assigned to.' })),
        fields: Type.Record(Type.String({ pattern: '^\\d+$' }), Type.String({ minLength: 1 }), { default: {}, description: 'Ticket fields from the Blip contact: { <field id>: <contact extras key> }.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    batchMessages: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Most customer messages joined in one comment when the lane is behind (Zendesk: 30 updates per 10 minutes per ticket).' }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 15_000, description: 'Deadline of one call to Zendesk, in milliseconds.' }),
  },
  { additionalProperties: false, description: 'Zendesk Support tickets. See docs/helpdesks/zendesk.md.' },
);
export type ZendeskTicketsConfig = Static<typeof ZendeskTicketsConfig>;

const CONTENTS: readonly ContentType[] = ['text', 'media', 'location', 'contact', 'reply', 'unsupported'];

interface RefData {
  requesterId: number;
}

// Event-subscription payloads (§A.2.5): only what we read.
const EventBody = Type.Object({
  type: Type.String({ minLength: 1 }),
  id: Type.String({ minLength: 1 }),
  detail: Type.Object({ id: Type.Union([Type.String(), Type.Number()]), requester_id: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Null()])) }),
  event: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
const checkEvent = TypeCompiler.Compile(EventBody);

type Json = Record<string, any>;

function transcriptText(customer: Customer, transcript: TranscriptEntry[]): string {
  const lines = [`Conversation handed over by the Blip bot${customer.channel ? ` (${customer.channel})` : ''}.`];
  if (customer.originator) lines.push(`Customer: ${customer.name ? `${customer.name}, ` : ''}${customer.originator}`);
  if (transcript.length) {
    lines.push('', 'Before the hand-off:');
    for (const t of transcript) lines.push(`${t.direction === 'bot' ? 'Bot' : 'Customer'}: ${t.content.text.replace(/\n/g, '\n  ')}`);
  } else lines.push('', '(No bot conversation before the hand-off.)');
  return lines.join('\n');
}

export const zendeskTicketsAdapter: AdapterDefinition<ZendeskTicketsConfig> = {
  type: 'zendesk-tickets',
  configSchema: ZendeskTicketsConfig,
  create(config, deps): HelpdeskAdapter {
    const base = `${config.baseUrl.replace(/\/+$/, '')}/api/v2`;
    const authorization = config.oauthToken
      ? `Bearer ${config.oauthToken}`
      : `Basic ${Buffer.from(`${config.email ?? ''}/token:${config.apiToken ?? ''}`).toString('base64')}`;
    const credentialsProblem = config.oauthToken || (config.email && config.apiToken) ? undefined : 'set email + apiToken, or oauthToken';

    async function call(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, extra: Record<string, string> = {}): Promise<HttpResponse> {
      if (credentialsProblem) throw new DeliveryError(`zendesk-tickets: ${credentialsProblem}`, false);
      const res = await deps.http.request({ method, url: `${base}${path}`, headers: { authorization, accept: 'application/json', ...extra }, ...(body !== undefined ? { body } : {}), timeoutMs: config.timeoutMs });
      if (res.status >= 200 && res.status < 300) return res;
      const err = zendeskError(method, path, res);
      // 409: another update of the ticket won the race; trying again is the documented answer.
      if (res.status === 409) throw new ZendeskError(err.message, true, err.retryAfterMs, 409, err.code);
      throw err;
    }

    async function upload(url: string, name: string, mimeType: string): Promise<string> {
      const file = await fetchMedia(url, deps.media);
      const res = await call('POST', `/uploads?filename=${encodeURIComponent(name)}`, file.bytes, { 'content-type': mimeType || file.contentType });
      return String((res.body as Json)['upload']['token']);
    }

    /** One comment from several messages: texts in order, files as uploads. */
    async function comment(messages: OutgoingMessage[]): Promise<{ body: string; uploads: string[] }> {
      const parts: string[] = [];
      const uploads: string[] = [];
      for (const m of messages) {
        const c = m.content;
        if (c.type === 'media') {
          const name = c.name ?? `attachment-${uploads.length + 1}`;
          uploads.push(await upload(c.url, name, c.mimeType));
          parts.push(c.caption ? `${c.caption} [${name}]` : `[${name}]`);
        } else parts.push(c.text);
      }
      return { body: parts.join('\n\n'), uploads };
    }

    async function findOurComment(ticketId: string, requesterId: number, body: string, since: number): Promise<string | undefined> {
      const res = await call('GET', `/tickets/${encodeURIComponent(ticketId)}/comments`);
      const found = (((res.body as Json)['comments'] ?? []) as Json[]).find(
        (c) => Number(c['author_id']) === requesterId && String(c['body'] ?? '').trim() === body.trim() && Date.parse(String(c['created_at'] ?? 0)) >= since - 60_000,
      );
      return found ? String(found['id']) : undefined;
    }

    async function deliverMany(ticketId: string, data: RefData, messages: OutgoingMessage[], attempt: number): Promise<{ vendorMessageId?: string }> {
      const { body, uploads } = await comment(messages);
      if (attempt > 1) {
        // No idempotency key on ticket updates: look for the comment an earlier attempt may have added.
        const existing = await findOurComment(ticketId, data.requesterId, body, Date.parse(messages[0]!.at));
        if (existing) return { vendorMessageId: existing };
      }
      const res = await call('PUT', `/tickets/${encodeURIComponent(ticketId)}`, {
        ticket: { comment: { body, public: true, author_id: data.requesterId, ...(uploads.length ? { uploads } : {}) } },
      });
      const audit = (res.body as Json)['audit'];
      const commentEvent = ((audit?.['events'] ?? []) as Json[]).find((e) => e['type'] === 'Comment');
      return commentEvent?.['id'] !== undefined ? { vendorMessageId: String(commentEvent['id']) } : {};
    }

    const webhook: WebhookReceiver = {
      unmatched: 'ignore', // the webhook fires for every ticket of the account
      verify(raw, hdrs) {
        const signature = header(hdrs, 'x-zendesk-webhook-signature');
        const timestamp = header(hdrs, 'x-zendesk-webhook-signature-timestamp');
        if (!signature || !timestamp) return { ok: false, reason: 'missing X-Zendesk-Webhook-Signature or its timestamp' };
        const at = Date.parse(timestamp);
        if (Number.isNaN(at)) return { ok: false, reason: 'the signature timestamp is not a date' };
        if (Math.abs(Date.now() - at) > config.signature.toleranceSeconds * 1000) return { ok: false, reason: 'the signature timestamp is outside the tolerance' };
        const signed = config.signature.order === 'timestamp+body' ? Buffer.concat([Buffer.from(timestamp), raw]) : Buffer.concat([raw, Buffer.from(timestamp)]);
        const expected = createHmac('sha256', config.webhookSecret).update(signed).digest('base64');
        return sameSecret(signature.trim(), expected) ? { ok: true } : { ok: false, reason: 'X-Zendesk-Webhook-Signature does not match the body' };
      },
      parse(body): HelpdeskEvent[] {
        if (!checkEvent.Check(body)) {
          const first = checkEvent.Errors(body).First();
          throw new BridgeError('BRIDGE_ERR_INVALID_EVENT', `${first?.path || '/'}: ${first?.message ?? 'not a Zendesk event'}`);
        }
        const attendance = { key: String(body.detail.id) };
        const ev = (body.event ?? {}) as Json;
        switch (body.type) {
          case 'zen:event-type:ticket.comment_added': {
            const c = (ev['comment'] ?? {}) as Json;
            // Internal notes never reach the customer; the requester's comments are our own echoes.
            if (c['is_public'] !== true && c['is_public'] !== 'true') return [{ kind: 'ignored', reason: 'internal note' }];
            const author = (c['author'] ?? {}) as Json;
            const isStaff = author['is_staff'] === true || author['is_staff'] === 'true';
            if (!isStaff || (body.detail.requester_id != null && String(author['id']) === String(body.detail.requester_id))) return [{ kind: 'ignored', reason: 'comment by the requester (our own)' }];
            const text = String(c['body'] ?? '').trim();
            if (!text) return [{ kind: 'ignored', reason: 'empty comment' }];
            return [
              {
                kind: 'agent.message',
                eventId: body.id,
                attendance,
                message: { id: `comment:${String(c['id'] ?? body.id)}`, content: { type: 'text', text }, agent: { ...(author['id'] != null ? { id: String(author['id']) } : {}), ...(typeof author['name'] === 'string' ? { name: author['name'] } : {}) } },
              },
            ];
          }
          case 'zen:event-type:ticket.status_changed': {
            const current = String(ev['current'] ?? '').toUpperCase();
            if (current === 'SOLVED' || current === 'CLOSED') return [{ kind: 'attendance.ended', eventId: body.id, attendance, reason: `ticket ${current.toLowerCase()}` }];
            return [{ kind: 'ignored', reason: `status ${current}` }];
          }
          default:
            return [{ kind: 'ignored', reason: body.type }];
        }
      },
    };

    return {
      type: 'zendesk-tickets',
      capabilities: { contents: CONTENTS, typing: false, batch: config.batchMessages },
      webhook,

      async check() {
        if (credentialsProblem) return { ok: false, detail: `zendesk-tickets: ${credentialsProblem}` };
        try {
          const res = await call('GET', '/users/me');
          const me = (res.body as Json)['user'] ?? {};
          return { ok: true, detail: `Zendesk accepted the credentials (${me['email'] ?? me['name'] ?? 'user'}, role ${me['role'] ?? '?'})` };
        } catch (err) {
          return { ok: false, detail: (err as Error).message };
        }
      },

      async open(attendance, customer, transcript) {
        const user = await call('POST', '/users/create_or_update', {
          user: {
            name: customer.name ?? customer.phone ?? customer.originator ?? customer.address,
            external_id: `${config.externalIdPrefix}${customer.id}`,
            ...(customer.email ? { email: customer.email, skip_verify_email: true } : {}),
            ...(customer.phone ? { phone: customer.phone } : {}),
            role: 'end-user',
          },
        });
        const requesterId = Number((user.body as Json)['user']['id']);
        const subject = config.ticket.subject.replace(/\{name\}/g, customer.name ?? customer.phone ?? 'a customer').replace(/\{channel\}/g, customer.channel ?? 'Blip');
        const fields = Object.entries(config.ticket.fields)
          .filter(([, extra]) => customer.extras[extra] !== undefined)
          .map(([id, extra]) => ({ id: Number(id), value: customer.extras[extra] }));
        const created = await call('POST', '/tickets', {
          ticket: {
            subject,
            requester_id: requesterId,
            external_id: attendance.id,
            comment: { body: transcriptText(customer, transcript), public: true, author_id: requesterId },
            tags: config.ticket.tags,
            ...(config.ticket.groupId ? { group_id: config.ticket.groupId } : {}),
            ...(fields.length ? { custom_fields: fields } : {}),
          },
        });
        const ticketId = String((created.body as Json)['ticket']['id']);
        return { key: ticketId, data: { requesterId } };
      },

      async deliver(ref, _attendance, message, ctx) {
        return deliverMany(ref.key, ref.data as unknown as RefData, [message], ctx.attempt);
      },

      async deliverBatch(ref, _attendance, messages, ctx) {
        return deliverMany(ref.key, ref.data as unknown as RefData, messages, ctx.attempt);
      },

      async close(ref, _attendance, reason) {
        if (reason === 'agent') return; // the agent solved it
        await call('PUT', `/tickets/${encodeURIComponent(ref.key)}`, {
          ticket: { comment: { body: `The customer was handed back to the bot (${reason}).`, public: false } },
        });
      },
    };
  },
};
