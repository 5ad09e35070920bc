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
import { safeEqual } from '../kit/auth.js';
import { header } from '../kit/headers.js';
import { closeNote, failedNote } from '../kit/notes.js';
import { ZendeskError, zendeskError } from './common.js';

/**
 * Zendesk prescribes no replay window, and whether a retried invocation is signed again with a
 * fresh timestamp is unverified (research §A.2.5, §E): a retry may carry its first attempt's
 * timestamp, minutes or, after the circuit breaker, longer later. A day refuses none of those; the
 * event ids are deduplicated anyway (for retention.days), so the window only bounds how long a
 * captured request stays usable.
 */
const DEFAULT_TOLERANCE_S = 86_400;

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
        toleranceSeconds: Type.Integer({
          minimum: 0,
          maximum: 7 * 86_400,
          default: DEFAULT_TOLERANCE_S,
          description:
            'How far X-Zendesk-Webhook-Signature-Timestamp may be from now, in seconds; 0 = no window. Zendesk prescribes none and may not re-sign its retries, so the default (a day) is longer than any retry.',
        }),
      },
      { additionalProperties: false, default: {}, description: 'How X-Zendesk-Webhook-Signature is checked.' },
    ),
    externalIdPrefix: Type.String({ default: 'blip:', maxLength: 64, description: "Prefix of the requester's external_id." }),
    ticket: Type.Object(
      {
        subject: Type.String({ default: 'Chat with {name}', minLength: 1, description: 'Ticket subject; {name} and {channel} are replaced.' }),
        tags: Type.Array(Type.String({ pattern: '^[^\\s,]+$' }), {
          default: ['blip'],
          description: 'Tags on the ticket (a trigger can use them, e.g. to stop e-mail notifications).',
        }),
        groupId: Type.Optional(Type.Integer({ minimum: 1, description: 'Group the ticket is assigned to.' })),
        fields: Type.Record(Type.String({ pattern: '^\\d+$' }), Type.String({ minLength: 1 }), {
          default: {},
          description: 'Ticket fields from the Blip contact: { <field id>: <contact extras key> }.',
        }),
      },
      { additionalProperties: false, default: {}, description: 'What each ticket is created with.' },
    ),
    batchMessages: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 20,
      description: 'Most customer messages joined in one comment when the lane is behind (Zendesk: 30 updates per 10 minutes per ticket).',
    }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 15_000, description: 'Deadline of one call to Zendesk, in milliseconds.' }),
  },
  { additionalProperties: false, description: 'Zendesk Support tickets. See docs/helpdesks/zendesk.md.' },
);
export type ZendeskTicketsConfig = Static<typeof ZendeskTicketsConfig>;

const CONTENTS: readonly ContentType[] = ['text', 'media', 'location', 'contact', 'reply', 'unsupported'];

interface RefData {
  requesterId: number;
}

/** One message's share of a comment. */
interface Part {
  text: string;
  file?: { url: string; name: string; mimeType: string };
}

/** Between the messages of one batched comment. */
const SEPARATOR = '\n\n';
/** Clocks (ours, Zendesk's) may disagree by this much when judging "written after the message came in". */
const CLOCK_SLACK_MS = 60_000;
/** Tickets whose last delivered comment is remembered (the oldest is forgotten first). */
const MAX_REMEMBERED = 10_000;

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
      const res = await deps.http.request({
        method,
        url: `${base}${path}`,
        headers: { authorization, accept: 'application/json', ...extra },
        ...(body !== undefined ? { body } : {}),
        timeoutMs: config.timeoutMs,
      });
      if (res.status >= 200 && res.status < 300) return res;
      const err = zendeskError(method, path, res);
      // 409: another update of the ticket won the race; trying again is the documented answer.
      if (res.status === 409) throw new ZendeskError(err.message, true, err.retryAfterMs, 409, err.code);
      throw err;
    }

    async function upload(url: string, name: string, mimeType: string): Promise<string> {
      const file = await fetchMedia(url, deps.media);
      const res = await call('POST', `/uploads?filename=${encodeURIComponent(name)}`, file.bytes, {
        'content-type': mimeType || file.contentType || 'application/binary',
      });
      return String((res.body as Json)['upload']['token']);
    }

    /** What each message adds to a comment: its text (a file shows as `[name]`), and the file to upload. */
    function partsOf(messages: OutgoingMessage[]): Part[] {
      return messages.map((m, i) => {
        const c = m.content;
        if (c.type !== 'media') return { text: c.text };
        const name = c.name ?? defaultName(c.mimeType, i + 1);
        return { text: c.caption ? `${c.caption} [${name}]` : `[${name}]`, file: { url: c.url, name, mimeType: c.mimeType } };
      });
    }

    /**
     * The comment each ticket's last delivery became, so a retry does not mistake the previous
     * message for its own first attempt (the customer said "ok" twice). In memory: after a restart,
     * or on another replica, the text-and-time check below decides alone.
     */
    const lastDelivered = new Map<string, string>();
    const remember = (ticketId: string, commentId: string | undefined) => {
      if (commentId === undefined) return;
      lastDelivered.delete(ticketId);
      lastDelivered.set(ticketId, commentId);
      if (lastDelivered.size > MAX_REMEMBERED) lastDelivered.delete(lastDelivered.keys().next().value!);
    };

    /**
     * Ticket updates have no idempotency key, so a retry looks for the comment an earlier attempt
     * may have added. The lane is FIFO, so it can only be the requester's latest comment, written
     * after the first message came in, whose body is the first k parts of this batch (a batch can
     * have grown since, when more messages queued behind it). Returns it with k.
     */
    async function findOurComment(ticketId: string, requesterId: number, texts: string[], since: number): Promise<{ id: string; count: number } | undefined> {
      const res = await call('GET', `/tickets/${encodeURIComponent(ticketId)}/comments?sort_order=desc`);
      const latest = (((res.body as Json)['comments'] ?? []) as Json[])
        .filter((c) => Number(c['author_id']) === requesterId)
        .reduce<Json | undefined>((a, c) => (!a || Number(c['id']) > Number(a['id']) ? c : a), undefined);
      if (!latest || String(latest['id']) === lastDelivered.get(ticketId)) return undefined;
      if (Date.parse(String(latest['created_at'] ?? 0)) < since - CLOCK_SLACK_MS) return undefined;
      const norm = (t: string) => t.replace(/\s+/g, ' ').trim();
      const body = norm(String(latest['body'] ?? ''));
      for (let k = texts.length; k >= 1; k--) if (norm(texts.slice(0, k).join(SEPARATOR)) === body) return { id: String(latest['id']), count: k };
      return undefined;
    }

    async function deliverMany(ticketId: string, data: RefData, messages: OutgoingMessage[], attempt: number): Promise<{ vendorMessageId?: string }> {
      let parts = partsOf(messages);
      if (attempt > 1) {
        const existing = await findOurComment(
          ticketId,
          data.requesterId,
          parts.map((p) => p.text),
          Date.parse(messages[0]!.at),
        );
        if (existing) remember(ticketId, existing.id);
        if (existing?.count === parts.length) return { vendorMessageId: existing.id };
        if (existing) parts = parts.slice(existing.count);
      }
      // Uploads only now: a retry that found its comment uploads nothing.
      const uploads: string[] = [];
      for (const p of parts) if (p.file) uploads.push(await upload(p.file.url, p.file.name, p.file.mimeType));
      const res = await call('PUT', `/tickets/${encodeURIComponent(ticketId)}`, {
        ticket: {
          comment: { body: parts.map((p) => p.text).join(SEPARATOR), public: true, author_id: data.requesterId, ...(uploads.length ? { uploads } : {}) },
        },
      });
      const audit = (res.body as Json)['audit'];
      const commentId = ((audit?.['events'] ?? []) as Json[]).find((e) => e['type'] === 'Comment')?.['id'];
      remember(ticketId, commentId !== undefined ? String(commentId) : undefined);
      return commentId !== undefined ? { vendorMessageId: String(commentId) } : {};
    }

    const webhook: WebhookReceiver = {
      unmatched: 'ignore', // the webhook fires for every ticket of the account
      verify(raw, hdrs) {
        const signature = header(hdrs, 'x-zendesk-webhook-signature');
        const timestamp = header(hdrs, 'x-zendesk-webhook-signature-timestamp');
        if (!signature || !timestamp) return { ok: false, reason: 'missing X-Zendesk-Webhook-Signature or its timestamp' };
        const at = Date.parse(timestamp);
        if (Number.isNaN(at)) return { ok: false, reason: 'the signature timestamp is not a date' };
        if (config.signature.toleranceSeconds > 0 && Math.abs(Date.now() - at) > config.signature.toleranceSeconds * 1000)
          return { ok: false, reason: 'the signature timestamp is outside the tolerance' };
        const signed =
          config.signature.order === 'timestamp+body' ? Buffer.concat([Buffer.from(timestamp), raw]) : Buffer.concat([raw, Buffer.from(timestamp)]);
        const expected = createHmac('sha256', config.webhookSecret).update(signed).digest('base64');
        return safeEqual(signature.trim(), expected) ? { ok: true } : { ok: false, reason: 'X-Zendesk-Webhook-Signature does not match the body' };
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
            if (!isStaff || (body.detail.requester_id != null && String(author['id']) === String(body.detail.requester_id)))
              return [{ kind: 'ignored', reason: 'comment by the requester (our own)' }];
            // Event payloads carry no attachments (§A.2.5): a comment that is only files says so.
            const text = String(c['body'] ?? '').trim() || '📎 The agent sent an attachment that cannot be shown here.';
            return [
              {
                kind: 'agent.message',
                eventId: body.id,
                attendance,
                message: {
                  id: `comment:${String(c['id'] ?? body.id)}`,
                  content: { type: 'text', text },
                  agent: {
                    ...(author['id'] != null ? { id: String(author['id']) } : {}),
                    ...(typeof author['name'] === 'string' ? { name: author['name'] } : {}),
                  },
                },
              },
            ];
          }
          case 'zen:event-type:ticket.status_changed': {
            const current = String(ev['current'] ?? '').toUpperCase();
            if (current === 'SOLVED' || current === 'CLOSED')
              return [{ kind: 'attendance.ended', eventId: body.id, attendance, reason: `ticket ${current.toLowerCase()}` }];
            return [{ kind: 'ignored', reason: `status ${current}` }];
          }
          default:
            return [{ kind: 'ignored', reason: body.type }];
        }
      },
    };

    return {
      type: 'zendesk-tickets',
      // Not accountRateLimit: most 429s here are one ticket's update limit (30 per 10 minutes, with a
      // Retry-After of minutes), which must not hold up every other ticket of the bot.
      capabilities: { contents: CONTENTS, typing: false, batch: config.batchMessages },
      webhook,

      async check() {
        if (credentialsProblem) return { ok: false, detail: `zendesk-tickets: ${credentialsProblem}` };
        try {
          // Searching users needs an agent's credentials: a 401/403 here is the credentials' fault.
          await call('GET', `/users/search?external_id=${encodeURIComponent(`${config.externalIdPrefix}check`)}`);
          return { ok: true, detail: `Zendesk accepted the credentials for ${config.baseUrl}` };
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
        const subject = config.ticket.subject
          .replace(/\{name\}/g, customer.name ?? customer.phone ?? 'a customer')
          .replace(/\{channel\}/g, customer.channel ?? 'Blip');
        const fields = Object.entries(config.ticket.fields)
          .filter(([, extra]) => customer.extras[extra] !== undefined)
          .map(([id, extra]) => ({ id: Number(id), value: customer.extras[extra] }));
        // Zendesk keeps an Idempotency-Key for ticket creation, so a retry after a lost answer
        // gets the same ticket back instead of a second one (developer.zendesk.com/api-reference/
        // ticketing/introduction/#idempotency).
        const created = await call(
          'POST',
          '/tickets',
          {
            ticket: {
              subject,
              requester_id: requesterId,
              external_id: attendance.id,
              comment: { body: transcriptText(customer, transcript), public: true, author_id: requesterId },
              tags: config.ticket.tags,
              ...(config.ticket.groupId ? { group_id: config.ticket.groupId } : {}),
              ...(fields.length ? { custom_fields: fields } : {}),
            },
          },
          { 'idempotency-key': `blip-bridge-open-${attendance.id}` },
        );
        const ticketId = String((created.body as Json)['ticket']['id']);
        return { key: ticketId, data: { requesterId } };
      },

      async deliver(ref, _attendance, message, ctx) {
        return deliverMany(ref.key, ref.data as unknown as RefData, [message], ctx.attempt);
      },

      async deliverBatch(ref, _attendance, messages, ctx) {
        return deliverMany(ref.key, ref.data as unknown as RefData, messages, ctx.attempt);
      },

      async close(ref, _attendance, reason, ctx) {
        if (reason === 'agent') return; // the agent solved it
        // Zendesk's way to end a ticket: an internal note saying why, and Solved (research §A.2.3),
        // in one update. Solving needs an assignee (422 without one): then the note alone, and the
        // ticket waits in its view for an agent to solve.
        const body = closeNote(reason);
        if (ctx.attempt > 1 && (await findNote(ref.key, body))) return;
        try {
          await call('PUT', `/tickets/${encodeURIComponent(ref.key)}`, { ticket: { comment: { body, public: false }, status: 'solved' } });
        } catch (err) {
          if (!(err instanceof ZendeskError && err.status === 422)) return gone(err, ref.key);
          await call('PUT', `/tickets/${encodeURIComponent(ref.key)}`, { ticket: { comment: { body, public: false } } }).catch((e: unknown) => gone(e, ref.key));
        }
      },

      async messageStatus(ref, _attendance, update, ctx) {
        // A ticket shows neither delivery nor reading of a comment: only a failure is worth a note.
        if (update.status !== 'failed') return;
        const commentId = update.sourceId.replace(/^comment:/, '');
        const res = await call('GET', `/tickets/${encodeURIComponent(ref.key)}/comments?sort_order=desc`).catch((e: unknown) => gone(e, ref.key));
        if (!res) return;
        const failed = (((res.body as Json)['comments'] ?? []) as Json[]).find((c) => String(c['id']) === commentId);
        const body = failedNote(update, failed ? String(failed['plain_body'] ?? failed['body'] ?? '') : undefined);
        if (ctx.attempt > 1 && (await findNote(ref.key, body))) return;
        await call('PUT', `/tickets/${encodeURIComponent(ref.key)}`, { ticket: { comment: { body, public: false } } }).catch((e: unknown) => gone(e, ref.key));
      },
    };

    /** A retry finds the internal note an earlier attempt added (ticket updates take no idempotency key). */
    async function findNote(ticketId: string, body: string): Promise<boolean> {
      const res = await call('GET', `/tickets/${encodeURIComponent(ticketId)}/comments?sort_order=desc`);
      return (((res.body as Json)['comments'] ?? []) as Json[]).some((c) => c['public'] === false && String(c['body'] ?? '').trim() === body);
    }

    /** A closed ticket takes no update (422) and a deleted one is gone (404): nobody to tell. Anything else is retried. */
    function gone(err: unknown, ticketId: string): undefined {
      if (err instanceof ZendeskError && (err.status === 404 || err.status === 422)) {
        deps.log.info({ ticket: ticketId, err: err.message }, 'the note for the agent was not added');
        return undefined;
      }
      throw err;
    }
  },
};

/** A file name for an attachment Blip sent without one (Zendesk shows it as the attachment's name). */
function defaultName(mimeType: string, n: number): string {
  const sub =
    mimeType
      .split('/')[1]
      ?.split(/[;+]/)[0]
      ?.replace(/[^a-z0-9]/gi, '') || 'bin';
  return `attachment-${n}.${sub}`;
}
