/**
 * The shapes Intercom puts on the wire, built in one place so each can cite what it follows.
 * Citations: `spec <operation> "<example>"` = ../shared/specs/intercom/api.intercom.io.2.14.yaml;
 * `research §B.x` = ../shared/research/zendesk-intercom.md; `[doc] <page>` = developers.intercom.com;
 * `[3p]` = third-party material named in place. Anything without a source says UNVERIFIED.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { Contact, Conversation, ConversationPart, NotificationEvent, PartAttachment, PartAuthor, SimAdmin, WebhookTopic } from './types.js';

export const API_VERSION = '2.14';

/** `components.schemas.intercom_version.enum` of the 2.14 file (the values a client may send). */
export const KNOWN_VERSIONS: readonly string[] = [
  '1.0',
  '1.1',
  '1.2',
  '1.3',
  '1.4',
  '2.0',
  '2.1',
  '2.2',
  '2.3',
  '2.4',
  '2.5',
  '2.6',
  '2.7',
  '2.8',
  '2.9',
  '2.10',
  '2.11',
  '2.12',
  '2.13',
  '2.14',
  'Unstable',
];

/** research §B.4 [doc] signed-notifications sample header. */
export const WEBHOOK_USER_AGENT = 'intercom-parrot-service-client/1.0';

/** Default teammate: spec `identifyAdmin` (GET /me) "Successful response". */
export const DEFAULT_ADMIN: SimAdmin = { id: '991267459', name: 'Ciaran1 Lee', email: 'admin1@email.com' };
/** Default team: the `team_assignee_id` of every conversation example in the spec. */
export const DEFAULT_TEAM = { id: '5017691', name: 'Support' } as const; // name UNVERIFIED (examples give only the id)
/** research §B.4 envelope example. */
export const DEFAULT_APP_ID = 'a86dr8yl';

export function unix(ms: number): number {
  return Math.floor(ms / 1000);
}

// ─── ids ──────────────────────────────────────────────────────────────────────────────────────

/** Contact ids are 24 hex characters (spec examples, e.g. `6762f0dd1bb69f9f2193bb83`: a Mongo-style id). */
export function contactId(nowMs: number): string {
  return unix(nowMs).toString(16).padStart(8, '0') + randomBytes(8).toString('hex');
}

/** Conversation, part and message ids are decimal strings (spec: '499', '132', '403918330'; [3p] community post: '215474343849634'). */
export class DecimalIds {
  private n: bigint;
  constructor(start: bigint) {
    this.n = start;
  }
  next(): string {
    this.n += 1n;
    return this.n.toString();
  }
}

export function requestId(): string {
  return randomUUID(); // spec `error.request_id`: format uuid
}

export function notificationId(): string {
  return `notif_${randomUUID()}`; // research §B.4 envelope: "notif_78c122d0-…"
}

// ─── errors ───────────────────────────────────────────────────────────────────────────────────

export interface ErrorItem {
  code: string;
  message: string;
  field?: string;
}

/** `{type:"error.list", request_id, errors:[…]}` (spec `components.schemas.error`; research §B.1). */
export function errorList(...errors: ErrorItem[]): { type: 'error.list'; request_id: string; errors: ErrorItem[] } {
  return { type: 'error.list', request_id: requestId(), errors };
}

/** The error bodies the simulator answers with, each with its source. */
export const ERR = {
  /** spec: every operation's 401 "Unauthorized" example. */
  unauthorized: (): ErrorItem => ({ code: 'unauthorized', message: 'Access Token Invalid' }),
  /** spec `retrieveConversation` 404 "Not found". */
  notFound: (): ErrorItem => ({ code: 'not_found', message: 'Resource Not Found' }),
  /** spec `createConversation` 404 "Contact Not Found". */
  userNotFound: (): ErrorItem => ({ code: 'not_found', message: 'User Not Found' }),
  /** spec `attachTagToConversation` 404 "Conversation not found". */
  conversationNotFound: (): ErrorItem => ({ code: 'not_found', message: 'Conversation not found' }),
  /** spec `detachTagFromConversation` 404 "Tag not found". */
  tagNotFound: (): ErrorItem => ({ code: 'tag_not_found', message: 'Tag not found' }),
  /** spec `retrieveAdmin` 404 "Admin not found"; its use for replies/manage by an unknown admin is UNVERIFIED. */
  adminNotFound: (): ErrorItem => ({ code: 'admin_not_found', message: 'Admin not found' }),
  /** spec `updateTicket` 404 "Assignee not found"; its use for conversation assignment is UNVERIFIED. */
  assigneeNotFound: (): ErrorItem => ({ code: 'assignee_not_found', message: 'Assignee not found' }),
  /**
   * research §B.2: 409 `conflict` "A contact matching those details already exists with id=…"
   * ([3p] PostHog/posthog#72192 quotes the body; Intercom-OpenAPI PR #543 documents the 409).
   */
  conflict: (existingId: string): ErrorItem => ({ code: 'conflict', message: `A contact matching those details already exists with id=${existingId}` }),
  /** [doc] rate-limiting (2.17 page): code `rate_limit_exceeded`, "Exceeded rate limit of 167 in 10_seconds". */
  rateLimited: (limit: number, windowSeconds: number): ErrorItem => ({
    code: 'rate_limit_exceeded',
    message: `Exceeded rate limit of ${limit} in ${windowSeconds}_seconds`,
  }),
  /** Code `parameter_not_found` as in spec examples (e.g. `createCollection` 400); messages UNVERIFIED. */
  missing: (field: string): ErrorItem => ({ code: 'parameter_not_found', message: `${field} is a required parameter.`, field }),
  /** Code `parameter_invalid` (research §B.1, spec examples); messages UNVERIFIED. */
  invalid: (message: string, field?: string): ErrorItem => ({ code: 'parameter_invalid', message, ...(field ? { field } : {}) }),
  /** UNVERIFIED: what Intercom answers to an `Intercom-Version` outside its list. */
  badVersion: (v: string): ErrorItem => ({ code: 'intercom_version_invalid', message: `Requested version ${v} is not valid` }),
  /** UNVERIFIED: body of an injected 5xx / outage (a real outage may not even be JSON). */
  serverError: (status: number): ErrorItem => ({ code: status === 503 ? 'service_unavailable' : 'server_error', message: 'Server Error' }),
} as const;

// ─── contacts ─────────────────────────────────────────────────────────────────────────────────

function subList(contactIdValue: string, what: string): Record<string, unknown> {
  // spec `CreateContact` 200 "successful": relative urls ("/contacts/{id}/tags"), although the schema says format uri.
  return { type: 'list', data: [], url: `/contacts/${contactIdValue}/${what}`, total_count: 0, has_more: false };
}

/** A contact with every field of spec `CreateContact` 200 "successful", in the same order. */
export function contact(args: {
  id: string;
  workspaceId: string;
  role: 'user' | 'lead';
  externalId: string | null;
  email: string | null;
  phone: string | null;
  name: string | null;
  avatar: string | null;
  ownerId: number | null;
  signedUpAt: number | null;
  lastSeenAt: number | null;
  unsubscribed: boolean;
  customAttributes: Contact['custom_attributes'];
  now: number;
}): Contact {
  const t = unix(args.now);
  return {
    type: 'contact',
    id: args.id,
    workspace_id: args.workspaceId,
    external_id: args.externalId,
    role: args.role,
    // The schema types email as a non-null string; without one we answer '' as spec `updateVisitor` does. UNVERIFIED for contacts.
    email: args.email ?? '',
    phone: args.phone,
    name: args.name,
    avatar: args.avatar === null ? null : { type: 'avatar', image_url: args.avatar },
    owner_id: args.ownerId,
    social_profiles: { type: 'list', data: [] },
    has_hard_bounced: false,
    marked_email_as_spam: false,
    unsubscribed_from_emails: args.unsubscribed,
    created_at: t,
    updated_at: t,
    signed_up_at: args.signedUpAt,
    last_seen_at: args.lastSeenAt,
    last_replied_at: null,
    last_contacted_at: null,
    last_email_opened_at: null,
    last_email_clicked_at: null,
    language_override: null,
    browser: null,
    browser_version: null,
    browser_language: null,
    os: null,
    location: { type: 'location', country: null, region: null, city: null, country_code: null, continent_code: null },
    android_app_name: null,
    android_app_version: null,
    android_device: null,
    android_os_version: null,
    android_sdk_version: null,
    android_last_seen_at: null,
    ios_app_name: null,
    ios_app_version: null,
    ios_device: null,
    ios_os_version: null,
    ios_sdk_version: null,
    ios_last_seen_at: null,
    custom_attributes: { ...args.customAttributes },
    tags: subList(args.id, 'tags'),
    notes: subList(args.id, 'notes'),
    companies: subList(args.id, 'companies'),
    opted_out_subscription_types: subList(args.id, 'subscriptions'),
    opted_in_subscription_types: subList(args.id, 'subscriptions'),
    utm_campaign: null,
    utm_content: null,
    utm_medium: null,
    utm_source: null,
    utm_term: null,
    referrer: null,
    enabled_push_messaging: null,
  };
}

// ─── bodies ───────────────────────────────────────────────────────────────────────────────────

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A contact's plain text as Intercom stores it: spec `replyConversation` "User reply" turns the body
 * "Thanks again :)" into "<p>Thanks again :)</p>". HTML is escaped ("HTML is not supported",
 * `create_conversation_request.body`). One `<p>` per line is UNVERIFIED.
 */
export function contactBodyHtml(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => `<p>${escapeHtml(line)}</p>`)
    .join('');
}

/**
 * An admin's body: HTML is kept ("Notes accept some HTML formatting", `admin_reply_conversation_request`;
 * admin replies are HTML, research §D.8). The spec's "Admin Reply with a Note" example drops the
 * `<html>`/`<body>` wrapper, which we do too. Plain text gets `<p>` per line, as a contact's does.
 */
export function adminBodyHtml(body: string): string {
  const trimmed = body.trim();
  if (!/^</.test(trimmed)) return contactBodyHtml(body);
  return trimmed
    .replace(/^\s*<html[^>]*>\s*/i, '')
    .replace(/\s*<\/html>\s*$/i, '')
    .replace(/^\s*<body[^>]*>\s*/i, '')
    .replace(/\s*<\/body>\s*$/i, '')
    .trim();
}

/**
 * What an agent typing in the Inbox produces: `<p class="no-margin">` paragraphs, `<br>` for soft
 * breaks, links as anchors ([3p] community.intercom.com "Bot's replies in conversation.admin.replied
 * topic" payload: `<p class="no-margin">…<br><br><b>…</b></p>`). Link attributes are UNVERIFIED.
 */
export function inboxHtml(text: string): string {
  const link = (s: string) =>
    escapeHtml(s).replace(/https?:\/\/[^\s<]+/g, (url) => `<a href="${url}" target="_blank" rel="nofollow noopener noreferrer">${url}</a>`);
  return text
    .split(/\n{2,}/)
    .map((para) => `<p class="no-margin">${para.split('\n').map(link).join('<br>')}</p>`)
    .join('');
}

/** `display_as=plaintext` (spec `retrieveConversation`): tags out, breaks as newlines. The exact rendering is UNVERIFIED. */
export function plainText(html: string | null): string | null {
  if (html === null) return null;
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/p>\s*(?=<)/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}

// ─── conversations ────────────────────────────────────────────────────────────────────────────

export function contactAuthor(c: Contact): PartAuthor {
  // spec "User reply": author {id, type: user, name, email}. Without an email we leave it out: the schema
  // types it `format: email`, non-null. UNVERIFIED what Intercom sends then.
  return { type: c.role, id: c.id, name: c.name, ...(c.email ? { email: c.email } : {}), from_ai_agent: false, is_ai_answer: false };
}

export function adminAuthor(a: SimAdmin): PartAuthor {
  return { type: 'admin', id: a.id, name: a.name, email: a.email, from_ai_agent: false, is_ai_answer: false };
}

/** A part with every field of spec `replyConversation` "User reply" part, in order. */
export function part(args: {
  id: string;
  partType: string;
  body: string | null;
  author: PartAuthor;
  attachments?: PartAttachment[];
  assignedTo?: ConversationPart['assigned_to'];
  state: ConversationPart['state'];
  metadata?: Record<string, unknown>;
  appPackageCode: string | null;
  now: number;
}): ConversationPart {
  const t = unix(args.now);
  return {
    type: 'conversation_part',
    id: args.id,
    part_type: args.partType,
    body: args.body,
    created_at: t,
    updated_at: t,
    notified_at: t,
    assigned_to: args.assignedTo ?? null,
    author: args.author,
    attachments: args.attachments ?? [],
    external_id: null,
    redacted: false,
    metadata: args.metadata ?? {},
    email_message_metadata: null,
    state: args.state,
    tags: [],
    event_details: null,
    app_package_code: args.appPackageCode,
  };
}

/**
 * A conversation a contact started through `POST /conversations`: fields and order of spec
 * `retrieveConversation` "conversation found". `delivered_as: customer_initiated` per the
 * `conversation_source.delivered_as` description; the first message lives in `source`, not in
 * `conversation_parts` (research §B.4, [3p] Botpress `integrations/intercom/src/handler.ts`).
 */
export function conversationShell(args: {
  id: string;
  messageId: string;
  contact: Contact;
  body: string;
  subject: string;
  attachments: PartAttachment[];
  now: number;
}): Omit<Conversation, 'conversation_parts'> {
  const t = unix(args.now);
  return {
    type: 'conversation',
    id: args.id,
    title: null,
    created_at: t,
    updated_at: t,
    waiting_since: t,
    snoozed_until: null,
    source: {
      type: 'conversation',
      id: args.messageId,
      delivered_as: 'customer_initiated',
      subject: args.subject,
      body: args.body,
      author: contactAuthor(args.contact),
      attachments: args.attachments,
      url: null,
      redacted: false,
    },
    contacts: { type: 'contact.list', contacts: [{ type: 'contact', id: args.contact.id, external_id: args.contact.external_id }] },
    // "For a contact initiated message this will represent the users original message" (conversation_first_contact_reply).
    first_contact_reply: { created_at: t, type: 'conversation', url: null },
    admin_assignee_id: null,
    team_assignee_id: null,
    open: true,
    state: 'open',
    read: false,
    tags: { type: 'tag.list', tags: [] },
    priority: 'not_priority',
    sla_applied: null,
    statistics: null,
    conversation_rating: null,
    teammates: null,
    custom_attributes: {},
    topics: {},
    ticket: null,
    linked_objects: { type: 'list', data: [], total_count: 0, has_more: false },
    ai_agent: null,
    ai_agent_participated: false,
  };
}

/** spec `createConversation` 200 "conversation created": the Message model, not the conversation (research §B.3). */
export function userMessage(args: { id: string; createdAt: number; body: string; conversationId: string }): Record<string, unknown> {
  return { type: 'user_message', id: args.id, created_at: args.createdAt, body: args.body, message_type: 'inapp', conversation_id: args.conversationId };
}

// ─── notifications ────────────────────────────────────────────────────────────────────────────

/**
 * research §B.4 envelope, field for field as in a delivered notification quoted on
 * community.intercom.com ("[Webhooks] Bot's replies in conversation.admin.replied topic", 2026-05):
 * `data.type: notification_event_data`, `links: {}`, `delivery_status: "pending"`, `delivered_at: 0`,
 * `self: null`. That `delivery_attempts` counts up on retries is UNVERIFIED.
 */
export function notification(args: {
  id: string;
  appId: string;
  topic: WebhookTopic;
  item: NotificationEvent['data']['item'];
  createdAt: number;
  firstSentAt: number;
  attempt: number;
}): NotificationEvent {
  return {
    type: 'notification_event',
    app_id: args.appId,
    data: { type: 'notification_event_data', item: args.item },
    links: {},
    id: args.id,
    topic: args.topic,
    delivery_status: 'pending',
    delivery_attempts: args.attempt,
    delivered_at: 0,
    first_sent_at: args.firstSentAt,
    created_at: args.createdAt,
    self: null,
  };
}

/** UNVERIFIED: the item of a `ping` (research §B.4 says a ping is sent when the webhook is saved; its body is not quoted). */
export function pingItem(): { type: 'ping'; message: string } {
  return { type: 'ping', message: 'Ping from the Intercom simulator' };
}

/** `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body keyed by the client secret>` (research §B.4). */
export function hubSignature(clientSecret: string, rawBody: string | Buffer): string {
  return `sha1=${createHmac('sha1', clientSecret).update(rawBody).digest('hex')}`;
}

/** Best guess of a content type from a URL or file name, for `attachment_urls` (Intercom's own handling is UNVERIFIED). */
export function contentTypeOf(name: string): string {
  const ext = /\.([a-z0-9]+)(?:$|[?#])/i.exec(name)?.[1]?.toLowerCase() ?? '';
  const types: Record<string, string> = {
    png: 'image/png',
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
    gif: 'image/gif',
    webp: 'image/webp',
    pdf: 'application/pdf',
    mp4: 'video/mp4',
    mp3: 'audio/mpeg',
    ogg: 'audio/ogg',
    txt: 'text/plain',
    json: 'application/json',
  };
  return types[ext] ?? 'application/octet-stream';
}
