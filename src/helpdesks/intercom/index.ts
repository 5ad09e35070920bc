/**
 * Intercom (`type: intercom`), REST API 2.14 (research zendesk-intercom.md §B; the description in
 * specs/intercom). Vendor words: an attendance is an Intercom *conversation* started by the
 * customer's *contact* (role user, `external_id` = our stable customer key); agents are *admins*.
 *
 * - open: the contact by external_id (found, its details refreshed; or created, and on a 409 the
 *   id Intercom names), then a conversation from the contact whose first message is the transcript.
 * - deliver: a user reply (`message_type: comment`); files re-hosted as `attachment_files` (Blip's
 *   links expire). Intercom takes no idempotency key, so a retry first looks for the earlier attempt's part.
 * - webhooks: X-Hub-Signature (HMAC-SHA1 of the raw body with the app's client secret). What admins
 *   and bots say to the customer, assignments and closes come back; notes, snoozes and our own
 *   user replies (echoes) are ignored. Dedupe is by conversation part id, so a part that comes in
 *   two notifications (a redelivery, or another topic) reaches the customer once.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Content, ContentType, MediaContent } from '../../core/content.js';
import { fetchMedia } from '../../core/media.js';
import { DeliveryError, parseRetryAfter } from '../../delivery/errors.js';
import type { HttpResponse } from '../../delivery/http.js';
import { BridgeError } from '../../http/errors.js';
import type { AdapterDefinition, AgentMessageStatus, AttendanceMatch, Customer, HelpdeskAdapter, HelpdeskEvent, TranscriptEntry, WebhookReceiver } from '../adapter.js';
import { hmac, signatureMatches } from '../kit/auth.js';
import { header } from '../kit/headers.js';
import { closeNote, failedNote } from '../kit/notes.js';
import { htmlImages, htmlToText } from './html.js';

export const IntercomConfig = Type.Object(
  {
    type: Type.Literal('intercom'),
    accessToken: Type.String({ minLength: 10, description: "The app's access token (Developer Hub → your app → Authentication)." }),
    clientSecret: Type.String({
      minLength: 10,
      description: "The app's client secret (Developer Hub → Basic information): Intercom signs webhooks with it (X-Hub-Signature).",
    }),
    baseUrl: Type.String({
      pattern: '^https?://',
      default: 'https://api.intercom.io',
      description: 'Regional API host: https://api.intercom.io (US), https://api.eu.intercom.io (EU) or https://api.au.intercom.io (Australia).',
    }),
    adminId: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Admin id (GET /me or GET /admins) the bridge acts as when it ends an attendance itself (admin close, timeout): an internal note with the reason, then a close. Without it the conversation stays open in Intercom.',
      }),
    ),
    externalIdPrefix: Type.String({
      default: 'blip:',
      maxLength: 64,
      description: "Prefix of the contact's external_id (then the customer's identity in the router).",
    }),
    customAttributes: Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), {
      default: {},
      description:
        'Blip contact extras to copy into Intercom custom attributes: { <extras key>: <Intercom attribute name> }. The attributes must exist in Intercom.',
    }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 15_000, description: 'Deadline of one call to Intercom, in milliseconds.' }),
  },
  { additionalProperties: false, description: 'Intercom (REST API 2.14). See docs/helpdesks/intercom.md.' },
);
export type IntercomConfig = Static<typeof IntercomConfig>;

export const INTERCOM_VERSION = '2.14';

const CONTENTS: readonly ContentType[] = ['text', 'media', 'location', 'contact', 'reply', 'unsupported'];

/** What the store keeps of the Intercom side (HelpdeskRef.data). */
interface RefData {
  contactId: string;
  externalId: string;
}

/** Who may speak to the customer in a conversation: teammates, and Intercom's bots (Fin, workflows). */
const AGENT_AUTHORS = new Set(['admin', 'bot']);
/** Where a contact's clock and ours may disagree when a retry looks for its first attempt. */
const CLOCK_SLACK_MS = 60_000;
/** Conversations whose last delivered part we keep in memory (one entry per open attendance). */
const MAX_REMEMBERED = 10_000;

// ── webhook payloads (validated, only what we read; the rest is tolerated) ───────────────────
const Id = Type.Union([Type.String({ minLength: 1 }), Type.Number()]);
const Nullable = <T extends Parameters<typeof Type.Optional>[0]>(t: T) => Type.Optional(Type.Union([t, Type.Null()]));
const Part = Type.Object({
  id: Id,
  part_type: Type.String(),
  body: Nullable(Type.String()),
  created_at: Nullable(Type.Number()),
  author: Nullable(Type.Object({ type: Type.Optional(Type.String()), id: Nullable(Id), name: Nullable(Type.String()) })),
  assigned_to: Nullable(Type.Object({ type: Type.Optional(Type.String()), id: Nullable(Id) })),
  attachments: Nullable(
    Type.Array(Type.Object({ name: Nullable(Type.String()), url: Type.String(), content_type: Nullable(Type.String()), filesize: Nullable(Type.Number()) })),
  ),
  metadata: Nullable(Type.Object({ quick_reply_options: Nullable(Type.Array(Type.Object({ text: Type.String() }))) })),
});
const Notification = Type.Object({
  type: Type.Literal('notification_event'),
  id: Type.String({ minLength: 1 }),
  topic: Type.String({ minLength: 1 }),
  data: Nullable(
    Type.Object({
      item: Nullable(
        Type.Object({
          type: Type.Optional(Type.String()),
          id: Type.Optional(Id),
          state: Nullable(Type.String()),
          admin_assignee_id: Nullable(Id),
          conversation_parts: Nullable(Type.Object({ conversation_parts: Nullable(Type.Array(Part)) })),
        }),
      ),
    }),
  ),
});
const checkNotification = TypeCompiler.Compile(Notification);
type PartT = Static<typeof Part>;
type Agent = { id?: string; name?: string };

/** Topics that carry something for the customer or the attendance; every other topic is ignored. */
const HANDLED_TOPICS = new Set(['conversation.admin.replied', 'conversation.admin.closed', 'conversation.admin.assigned']);

const EXTENSIONS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp', 'application/pdf': 'pdf', 'video/mp4': 'mp4', 'audio/ogg': 'ogg', 'audio/mpeg': 'mp3', 'text/plain': 'txt' };

/** A file's name for Intercom: the content's, the URL's last segment with an extension, else `file.<ext>`. */
function fileName(url: string, mimeType: string, name: string | undefined): string {
  if (name) return name;
  const last = URL.canParse(url) ? decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '') : '';
  if (/\.[A-Za-z0-9]{1,5}$/.test(last)) return last;
  return `file.${EXTENSIONS[mimeType.toLowerCase()] ?? 'bin'}`;
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

/** Text as a person reads it: what Intercom stores is HTML with `<p>` per line, ours is plain. */
function sameText(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/\s+/g, ' ').trim();
  return norm(a) === norm(b);
}

/** Parts in the order they happened (research §D.3: sort by created_at, then by id). */
function byTime(a: PartT, b: PartT): number {
  const ta = a.created_at ?? 0;
  const tb = b.created_at ?? 0;
  if (ta !== tb) return ta - tb;
  const ia = String(a.id);
  const ib = String(b.id);
  return ia.length - ib.length || (ia < ib ? -1 : ia > ib ? 1 : 0);
}

function agentOf(part: PartT): Agent {
  const a = part.author;
  return { ...(a?.id != null ? { id: String(a.id) } : {}), ...(a?.name ? { name: a.name } : {}) };
}

function mimeOfUrl(url: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(URL.canParse(url) ? new URL(url).pathname : '')?.[1]?.toLowerCase();
  const types: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', svg: 'image/svg+xml' };
  // Inline images come from Intercom's CDN, whose names end in the image's extension; else a safe default.
  return (ext && types[ext]) || 'image/jpeg';
}

function media(url: string, mimeType: string, name?: string, size?: number): MediaContent {
  return {
    type: 'media',
    url,
    mimeType,
    ...(name ? { name } : {}),
    ...(size !== undefined ? { size } : {}),
    text: `📎 ${name ? `${name} ` : ''}(${mimeType}) ${url}`,
  };
}

/**
 * What the customer gets of one admin or bot part: its text (a quick reply's options as choices),
 * then the images inside its HTML, then its attachments (Intercom hosts them; we pass the links).
 */
function contentsOf(part: PartT): Content[] {
  const out: Content[] = [];
  const text = htmlToText(part.body);
  const options = part.metadata?.quick_reply_options ?? [];
  if (part.part_type === 'quick_reply' && options.length) {
    const labels = options.map((o) => o.text.trim()).filter(Boolean);
    const list = labels.map((l, i) => `${i + 1}. ${l}`).join('\n');
    if (labels.length) out.push({ type: 'choices', text: text || list, ...(text ? { prompt: text } : {}), options: labels.map((label) => ({ label })) });
    else if (text) out.push({ type: 'text', text });
  } else if (text) out.push({ type: 'text', text });
  for (const url of htmlImages(part.body)) out.push(media(url, mimeOfUrl(url)));
  for (const a of part.attachments ?? [])
    out.push(media(a.url, a.content_type || 'application/octet-stream', a.name ?? undefined, typeof a.filesize === 'number' ? a.filesize : undefined));
  return out;
}

/** The events of one notification about a conversation (parsed and validated already). */
function eventsOf(n: Static<typeof Notification>, conversationId: string): HelpdeskEvent[] {
  const item = n.data?.item;
  const attendance: AttendanceMatch = { key: conversationId };
  const parts = [...(item?.conversation_parts?.conversation_parts ?? [])].sort(byTime);
  const events: HelpdeskEvent[] = [];
  let closed = false;
  let assignment = false;
  for (const part of parts) {
    // Notes never reach the customer; nor does what the customer (or the bridge, as them) wrote.
    if (!AGENT_AUTHORS.has(part.author?.type ?? '')) continue;
    const id = String(part.id);
    const agent = agentOf(part);
    const say = () =>
      contentsOf(part).forEach((content, i) => {
        // The part id is the idempotency key: a redelivered notification, or the same part in
        // another notification (another topic, or `all parts` payloads), is one message.
        const key = i === 0 ? `part:${id}` : `part:${id}:${i}`;
        events.push({ kind: 'agent.message', eventId: key, attendance, message: { id: key, content, ...(Object.keys(agent).length ? { agent } : {}) } });
      });
    switch (part.part_type) {
      case 'comment':
      case 'quick_reply':
        say();
        break;
      case 'close':
        // "A message … to the user" (close_conversation_request.body) goes before the end.
        say();
        events.push({ kind: 'attendance.ended', eventId: `close:${id}`, attendance, reason: 'closed in Intercom' });
        closed = true;
        break;
      case 'assignment':
      case 'assign_and_reopen': {
        // The body is "a response in the conversation" (assign_conversation_request.body).
        say();
        assignment = true;
        const to = part.assigned_to;
        if (to?.type === 'team') break; // a team is not a person: the attendance has no agent yet
        const assignee = to?.id != null ? String(to.id) : undefined;
        const name = assignee !== undefined && agent.id === assignee ? agent.name : undefined;
        events.push({
          kind: 'agent.assigned',
          eventId: `assign:${id}`,
          attendance,
          ...(assignee !== undefined ? { agent: { id: assignee, ...(name ? { name } : {}) } } : {}),
        });
        break;
      }
      default:
        break; // open, snoozed, attribute updates…: nothing for the customer
    }
  }
  // A close whose part is not in the payload: the topic says so, or (research §D.5: "Reply and
  // close" may send only conversation.admin.replied) the conversation's state does.
  if (!closed && (n.topic === 'conversation.admin.closed' || (n.topic === 'conversation.admin.replied' && item?.state === 'closed'))) {
    events.push({ kind: 'attendance.ended', eventId: `notif:${n.id}`, attendance, reason: 'closed in Intercom' });
  }
  if (n.topic === 'conversation.admin.assigned' && !assignment && item?.admin_assignee_id != null) {
    // The assignment part is not in the payload: the conversation names its assignee.
    events.push({ kind: 'agent.assigned', eventId: `notif:${n.id}`, attendance, agent: { id: String(item.admin_assignee_id) } });
  }
  return events.length ? events : [{ kind: 'ignored', reason: `${n.topic}: nothing for the customer` }];
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

    /** The contact details we hold for the customer, in Intercom's words. */
    function contactFields(customer: Customer): { name?: string; email?: string; phone?: string; custom_attributes?: Record<string, string> } {
      const custom: Record<string, string> = {};
      for (const [extra, attr] of Object.entries(config.customAttributes)) {
        const v = customer.extras[extra];
        if (v !== undefined) custom[attr] = v;
      }
      return {
        ...(customer.name ? { name: customer.name } : {}),
        ...(customer.email ? { email: customer.email } : {}),
        ...(customer.phone ? { phone: customer.phone } : {}),
        ...(Object.keys(custom).length ? { custom_attributes: custom } : {}),
      };
    }

    /**
     * The customer's contact: found by external_id (documented, and consistent at once, unlike
     * search), or created. A create that loses a race, or meets a contact with the same email,
     * gets a 409 naming the existing contact (research §B.2, §D.4): that one is used.
     */
    async function findOrCreateContact(customer: Customer): Promise<RefData> {
      const externalId = `${config.externalIdPrefix}${customer.id}`;
      const fields = contactFields(customer);
      const found = await findContact(externalId);
      if (found) {
        await refreshContact(found, fields);
        return { contactId: found.id, externalId };
      }
      try {
        const res = await call('POST', '/contacts', { role: 'user', external_id: externalId, ...fields });
        return { contactId: String((res.body as { id: unknown }).id), externalId };
      } catch (err) {
        if (!(err instanceof IntercomError) || err.status !== 409) throw err;
        const id = /id=([0-9a-f]+)/i.exec(err.detail)?.[1];
        // Without an id a retry finds the contact by external_id (when that was the conflict).
        if (!id) throw new DeliveryError(err.message, true, undefined, 409);
        deps.log.info({ contact: id }, 'intercom contact already existed (409); using it');
        return { contactId: id, externalId };
      }
    }

    async function findContact(
      externalId: string,
    ): Promise<
      { id: string; name?: string | null; email?: string | null; phone?: string | null; custom_attributes?: Record<string, unknown> | null } | undefined
    > {
      type Found = { id: string; type?: string; role?: string; external_id?: string | null };
      // 2.14 documents 200 (a contact) and 401 only. What an unknown id answers is not documented:
      // a 200 that is not our contact (an empty list, an empty object) and a 404 both mean "none".
      const ours = (c: unknown): c is Found => {
        const x = c as Partial<Found> | null;
        return typeof x?.id === 'string' && x.id !== '' && (x.type === undefined || x.type === 'contact') && (x.external_id == null || x.external_id === externalId) && (x.role === undefined || x.role === 'user');
      };
      try {
        const res = await call('GET', `/contacts/find_by_external_id/${encodeURIComponent(externalId)}`);
        const body = res.body as { type?: string; data?: unknown[] } | undefined;
        if (ours(body)) return body;
        if (body?.type === 'list' && Array.isArray(body.data)) return body.data.find((c): c is Found => ours(c) && c.external_id === externalId);
        return undefined;
      } catch (err) {
        if (err instanceof IntercomError && err.status === 404) return undefined;
        throw err;
      }
    }

    /** A returning customer: what Blip knows now replaces what Intercom has, where they differ. Best effort. */
    async function refreshContact(
      found: { id: string; name?: string | null; email?: string | null; phone?: string | null; custom_attributes?: Record<string, unknown> | null },
      fields: ReturnType<typeof contactFields>,
    ): Promise<void> {
      const update: Record<string, unknown> = {};
      if (fields.name && fields.name !== found.name) update['name'] = fields.name;
      if (fields.email && fields.email.toLowerCase() !== (found.email ?? '').toLowerCase()) update['email'] = fields.email;
      if (fields.phone && fields.phone !== found.phone) update['phone'] = fields.phone;
      const attrs = Object.entries(fields.custom_attributes ?? {}).filter(([k, v]) => found.custom_attributes?.[k] !== v);
      if (attrs.length) update['custom_attributes'] = Object.fromEntries(attrs);
      if (!Object.keys(update).length) return;
      try {
        await call('PUT', `/contacts/${encodeURIComponent(found.id)}`, update);
      } catch (err) {
        // Stale details must not keep the customer from an agent (e.g. the email belongs to another contact).
        deps.log.warn({ contact: found.id, error: (err as Error).message }, 'could not update the intercom contact; going on with it as it is');
      }
    }

    const webhook: WebhookReceiver = {
      unmatched: 'ignore', // Intercom sends every conversation of the workspace, not only ours
      verify(rawBody, hdrs) {
        const sig = header(hdrs, 'x-hub-signature');
        if (!sig) return { ok: false, reason: 'missing X-Hub-Signature' };
        if (!signatureMatches(sig, `sha1=${hmac('sha1', config.clientSecret, rawBody)}`, { caseInsensitive: true })) return { ok: false, reason: 'X-Hub-Signature does not match the body' };
        return { ok: true };
      },
      parse(body): HelpdeskEvent[] {
        if (!checkNotification.Check(body)) {
          const first = checkNotification.Errors(body).First();
          throw new BridgeError('BRIDGE_ERR_INVALID_EVENT', `${first?.path || '/'}: ${first?.message ?? 'not an Intercom notification'}`);
        }
        const item = body.data?.item;
        // ping, notes, snoozes, reopenings, our own user replies (echoes), …: nothing for the customer.
        if (!HANDLED_TOPICS.has(body.topic)) return [{ kind: 'ignored', reason: `topic ${body.topic}` }];
        if (!item || item.id === undefined || (item.type && item.type !== 'conversation'))
          return [{ kind: 'ignored', reason: `${body.topic}: not about a conversation` }];
        return eventsOf(body, String(item.id));
      },
    };

    /**
     * The part each conversation's last delivered message became, so a retry does not mistake the
     * previous message for its own first attempt (the customer said "ok" twice). In memory: after
     * a restart, or on another replica, the text-and-time check below decides alone.
     */
    const lastDelivered = new Map<string, string>();
    const remember = (conversationId: string, partId: string) => {
      lastDelivered.delete(conversationId);
      lastDelivered.set(conversationId, partId);
      if (lastDelivered.size > MAX_REMEMBERED) lastDelivered.delete(lastDelivered.keys().next().value!);
    };

    /**
     * Our part from an earlier attempt of this delivery, if it landed: the lane is FIFO, so it can
     * only be the contact's latest part; same text (and image), written after the message came in.
     */
    async function earlierAttempt(
      conversationId: string,
      contactId: string,
      body: string,
      file: string | undefined,
      since: number,
    ): Promise<string | undefined> {
      const res = await call('GET', `/conversations/${encodeURIComponent(conversationId)}`);
      const parts = (res.body as { conversation_parts?: { conversation_parts?: PartT[] } }).conversation_parts?.conversation_parts ?? [];
      const latest = parts
        .filter((p) => p.author?.id != null && String(p.author.id) === contactId)
        .sort(byTime)
        .at(-1);
      if (!latest || String(latest.id) === lastDelivered.get(conversationId)) return undefined;
      if ((latest.created_at ?? 0) * 1000 < since - CLOCK_SLACK_MS) return undefined;
      if (!sameText(htmlToText(latest.body), body)) return undefined;
      if (file && !(latest.attachments ?? []).some((a) => a.name === file)) return undefined;
      return String(latest.id);
    }

    /** The file as `conversation_attachment_files` ({content_type, data (base64), name}), or undefined to send its link. */
    async function rehost(url: string, mimeType: string, name: string | undefined): Promise<{ content_type: string; data: string; name: string } | undefined> {
      try {
        const f = await fetchMedia(url, deps.media);
        const type = mimeType || f.contentType;
        return { content_type: type, data: f.bytes.toString('base64'), name: fileName(url, type, name) };
      } catch (err) {
        // A download that may work later is retried; a host off the allow-list, or a file over
        // media.maxBytes, never will: the agent gets the link rather than nothing.
        if (err instanceof DeliveryError && err.retryable) throw err;
        deps.log.warn({ error: (err as Error).message }, 'intercom: the customer file is sent as its link');
        return undefined;
      }
    }

    /**
     * An internal note by `adminId`. Intercom takes no idempotency key: a retry first looks for the
     * note an earlier attempt may have left (same text, by the same admin), so the agent reads it once.
     */
    async function noteOnce(conversationId: string, text: string, attempt: number): Promise<void> {
      if (attempt > 1) {
        const res = await call('GET', `/conversations/${encodeURIComponent(conversationId)}`);
        const parts = (res.body as { conversation_parts?: { conversation_parts?: PartT[] } }).conversation_parts?.conversation_parts ?? [];
        if (parts.some((p) => p.part_type === 'note' && String(p.author?.id ?? '') === config.adminId && sameText(htmlToText(p.body), text))) return;
      }
      await call('POST', `/conversations/${encodeURIComponent(conversationId)}/reply`, { message_type: 'note', type: 'admin', admin_id: config.adminId, body: `<p>${escapeHtml(text)}</p>` });
    }

    return {
      type: 'intercom',
      capabilities: { contents: CONTENTS, typing: false, accountRateLimit: true },
      webhook,

      async check() {
        let detail: string;
        try {
          const res = await call('GET', '/me');
          const me = res.body as { name?: string; app?: { name?: string; id_code?: string } };
          detail = `Intercom accepted the token (${me.app?.name ?? me.name ?? 'app'}${me.app?.id_code ? `, ${me.app.id_code}` : ''}) at ${base}`;
        } catch (err) {
          return { ok: false, detail: (err as Error).message };
        }
        if (!config.adminId) return { ok: true, detail: `${detail}; no adminId: conversations the bridge ends stay open in Intercom` };
        try {
          await call('GET', `/admins/${encodeURIComponent(config.adminId)}`);
          return { ok: true, detail: `${detail}; admin ${config.adminId} found` };
        } catch (err) {
          return { ok: false, detail: `adminId ${config.adminId}: ${(err as Error).message}` };
        }
      },

      async open(_attendance, customer, transcript) {
        const contact = await findOrCreateContact(customer);
        // Known limit: Intercom takes no idempotency key and 2.14 cannot find a conversation by
        // anything we set, so an open retried after a timeout that Intercom did complete leaves a
        // second conversation (docs/helpdesks/intercom.md, Limits).
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
        // Blip's media links expire in about 30 minutes: the file itself goes to Intercom, which
        // hosts it (attachment_files, base64; research zendesk-intercom.md "re-host them"). Fetched
        // only from media.allowedHosts; a file that may not be fetched goes as its link.
        const file = c.type === 'media' ? await rehost(c.url, c.mimeType, c.name) : undefined;
        const body = c.type === 'media' && file ? c.caption || c.name || (c.mimeType.startsWith('image/') ? 'Image' : file.name) : c.text;
        if (ctx.attempt > 1) {
          // Intercom takes no idempotency key: before posting again, look for the first attempt.
          const existing = await earlierAttempt(ref.key, data.contactId, body, file?.name, Date.parse(message.at));
          if (existing) {
            remember(ref.key, existing);
            return { vendorMessageId: existing };
          }
        }
        const res = await call('POST', `/conversations/${encodeURIComponent(ref.key)}/reply`, {
          message_type: 'comment',
          type: 'user',
          intercom_user_id: data.contactId,
          body,
          ...(file ? { attachment_files: [file] } : {}),
        });
        const parts = (res.body as { conversation_parts?: { conversation_parts?: PartT[] } }).conversation_parts?.conversation_parts ?? [];
        const ours = parts
          .filter((p) => p.author?.id != null && String(p.author.id) === data.contactId)
          .sort(byTime)
          .at(-1);
        if (!ours) return {};
        remember(ref.key, String(ours.id));
        return { vendorMessageId: String(ours.id) };
      },

      async messageStatus(ref, _attendance, update: AgentMessageStatus, ctx) {
        // Intercom shows no delivery or read state of a teammate's reply through the API (a
        // conversation's `read` is the teammates' own): only a failure is worth the agent's eyes.
        if (update.status !== 'failed') return;
        if (!config.adminId) {
          deps.log.warn({ conversation: ref.key, code: update.code }, 'a reply was not delivered to the customer, and no intercom adminId is configured to tell the agent in a note');
          return;
        }
        await noteOnce(ref.key, failedNote(update), ctx.attempt);
      },

      async close(ref, _attendance, reason, ctx) {
        lastDelivered.delete(ref.key);
        if (reason === 'agent') return; // Intercom closed it
        if (!config.adminId) {
          deps.log.info({ conversation: ref.key, reason }, 'no intercom adminId configured: the conversation stays open in Intercom');
          return;
        }
        // A close body is "a message … to the user" (close_conversation_request): the reason is for
        // the agents, so it goes as a note first.
        await noteOnce(ref.key, closeNote(reason), ctx.attempt);
        await call('POST', `/conversations/${encodeURIComponent(ref.key)}/parts`, { message_type: 'close', type: 'admin', admin_id: config.adminId });
      },
    };
  },
};

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

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

/**
 * Intercom answers `{type: 'error.list', errors: [{code, message}]}`. A 429 carries no Retry-After
 * but X-RateLimit-Reset, the UNIX second its window ends (research §B.1): wait until then.
 */
function intercomError(method: string, path: string, res: HttpResponse): IntercomError {
  const errors = (res.body as { errors?: Array<{ code?: string; message?: string }> } | undefined)?.errors;
  const detail =
    (Array.isArray(errors) ? errors.map((e) => `${e.code ?? ''}: ${e.message ?? ''}`).join('; ') : '') ||
    (typeof res.body === 'string' ? res.body.slice(0, 300) : '');
  let retryAfterMs = parseRetryAfter(res.headers['retry-after']);
  const reset = header(res.headers, 'x-ratelimit-reset');
  if (retryAfterMs === undefined && res.status === 429 && reset && /^\d+$/.test(reset)) retryAfterMs = Math.max(0, Number(reset) * 1000 - Date.now());
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  return new IntercomError(`Intercom ${method} ${path} answered ${res.status}: ${detail}`, retryable, retryAfterMs, res.status, detail);
}
