/**
 * Public types of the Intercom simulator: its options, the wire objects it answers with (as the
 * 2.14 description names them) and what it records for assertions.
 */

/** The API version this simulator behaves as (research §B.1; `components.schemas.intercom_version` default). */
export type IntercomVersion = '2.14';

/** Admin activity and user activity topics the simulator emits (research §B.4; webhook models 1.x/2.x). */
export type WebhookTopic =
  | 'conversation.user.created'
  | 'conversation.user.replied'
  | 'conversation.admin.replied'
  | 'conversation.admin.noted'
  | 'conversation.admin.assigned'
  | 'conversation.admin.closed'
  | 'conversation.admin.opened'
  | 'conversation.admin.snoozed'
  | 'conversation.admin.unsnoozed'
  | 'conversation_part.tag.created'
  | 'ping';

/**
 * An operation of the description, named `METHOD path-template` exactly as in the 2.14 file, for
 * `failNext` and for the request log.
 */
export type ApiRoute =
  | 'GET /me'
  | 'GET /admins'
  | 'GET /admins/{admin_id}'
  | 'POST /contacts'
  | 'GET /contacts/{contact_id}'
  | 'PUT /contacts/{contact_id}'
  | 'GET /contacts/find_by_external_id/{external_id}'
  | 'POST /contacts/search'
  | 'POST /conversations'
  | 'GET /conversations/{conversation_id}'
  | 'PUT /conversations/{conversation_id}'
  | 'POST /conversations/{conversation_id}/reply'
  | 'POST /conversations/{conversation_id}/parts'
  | 'POST /conversations/{conversation_id}/tags'
  | 'DELETE /conversations/{conversation_id}/tags/{tag_id}';

/** `failNext` also takes `*`: the next requests to any route. */
export type FailRoute = ApiRoute | '*';

export interface SimAdmin {
  id: string;
  name: string;
  email: string;
}

export interface SimTeam {
  id: string;
  name: string;
}

export interface WebhookRetryPolicy {
  /** Attempts in all, the first included. UNVERIFIED (research §B.4, §E): third parties say "up to 5" retries. Default 6. */
  maxAttempts?: number;
  /** Delay before retry n (the last value repeats). UNVERIFIED. Default [60_000, 120_000, 240_000, 480_000, 960_000]. */
  delaysMs?: number[];
  /** How long an answer may take before the attempt counts as failed. UNVERIFIED (3p: "5 s"). Default 5_000. */
  timeoutMs?: number;
  /** After a 429 from the endpoint the next attempt waits at least this (research §B.4 [doc]: "starts at 1 minute"). Default 60_000. */
  throttleDelayMs?: number;
}

export interface IntercomSimulatorOptions {
  /** Access tokens accepted as `Authorization: Bearer …` (research §B.1). At least one. */
  accessTokens: string[];
  /** The app's client secret: the HMAC-SHA1 key of `X-Hub-Signature` (research §B.4). */
  clientSecret: string;
  /** App id (`app_id` in notifications, `workspace_id` on contacts). Default `a86dr8yl` (research §B.4 envelope). */
  appId?: string;
  /** Teammates. Default one admin, the `/me` example of the description. The first answers `/me`. */
  admins?: SimAdmin[];
  /** Teams. Default one team with the id the description's conversation examples use (5017691). */
  teams?: SimTeam[];
  /** Tags that exist in the workspace, for `POST /conversations/{id}/tags`. More with `createTag`. */
  tags?: Array<{ id?: string; name: string }>;
  /**
   * Custom data attributes defined in the workspace. When given, contact writes with any other key
   * answer 400, as Intercom refuses attributes not created first (3p: intercom/intercom-php#355,
   * segmentio/action-destinations#682). Absent = any key accepted.
   */
  customAttributes?: string[];
  /** Where notifications go (the app's webhook subscription). Can be set later with `setWebhook`. */
  webhook?: { url: string; topics?: WebhookTopic[] };
  webhookRetry?: WebhookRetryPolicy;
  /**
   * What `data.item.conversation_parts` holds in a notification: only the parts behind the event
   * (default; research §B.4 [3p], UNVERIFIED per §E) or every part.
   */
  webhookParts?: 'triggering' | 'all';
  /**
   * Requests per window per app (research §B.1 / rate-limiting doc: windows of 10 s; the doc's example
   * is 1000/min = 167 per window). Default 1667 per 10 s (10,000/min, research §B.1 [3p]).
   */
  rateLimit?: { limit: number; windowSeconds?: number };
  /** Contacts younger than this are not found by `/contacts/search` (research §B.2: "a few minutes"). Default 0. */
  searchIndexLagMs?: number;
  /**
   * `GET /contacts/find_by_external_id/{id}` for an id no user has. Spec 2.14 documents only 200
   * (a contact) and 401 for it, so the default answers 200 with an empty contact list
   * (`{type: 'list', data: [], total_count: 0}`; the shape is UNVERIFIED, the status is the
   * documented one). `'not-found'`: the 404 `not_found` "User Not Found" error.list that other
   * contact routes document, for adapters that must cope with either.
   */
  unknownExternalId?: 'empty-list' | 'not-found';
  /**
   * `app_package_code` on parts created through the REST API ("The app package code if this part was
   * created via API", 2.14 `conversation_part`). Default null, as in every example of the description.
   */
  appPackageCode?: string | null;
  /** Clock in ms; tests may freeze or move it. Default Date.now. */
  now?: () => number;
  /** Log one line per request and delivery to stderr. */
  log?: boolean;
}

/** A `contact` as the description's Create contact example shows it. */
export interface Contact {
  type: 'contact';
  id: string;
  workspace_id: string;
  external_id: string | null;
  role: 'user' | 'lead';
  email: string;
  phone: string | null;
  name: string | null;
  avatar: null | { type: 'avatar'; image_url: string | null };
  owner_id: number | null;
  custom_attributes: Record<string, string | number | boolean | null>;
  created_at: number;
  updated_at: number;
  signed_up_at: number | null;
  last_seen_at: number | null;
  last_replied_at: number | null;
  unsubscribed_from_emails: boolean;
  [field: string]: unknown;
}

/** `part_attachment` (2.14). */
export interface PartAttachment {
  type: 'upload';
  name: string;
  url: string;
  content_type: string;
  filesize?: number;
  width?: number;
  height?: number;
}

export interface PartAuthor {
  type: 'user' | 'lead' | 'admin' | 'bot' | 'team';
  id: string;
  name: string | null;
  email?: string;
  from_ai_agent: boolean;
  is_ai_answer: boolean;
}

/** `conversation_part` (2.14), with every field the description's examples carry. */
export interface ConversationPart {
  type: 'conversation_part';
  id: string;
  part_type: string;
  body: string | null;
  created_at: number;
  updated_at: number;
  notified_at: number;
  assigned_to: null | { type: 'admin' | 'team' | 'nobody_admin'; id: string | null };
  author: PartAuthor;
  attachments: PartAttachment[];
  external_id: string | null;
  redacted: boolean;
  metadata: Record<string, unknown>;
  email_message_metadata: null;
  state: 'open' | 'closed' | 'snoozed';
  tags: Array<{ type: 'tag'; id: string; name: string }>;
  event_details: null;
  app_package_code: string | null;
}

export interface ConversationTag {
  type: 'tag';
  id: string;
  name: string;
  applied_at: number;
  applied_by: { type: 'admin'; id: string };
}

/** `conversation` (2.14) as GET /conversations/{id} returns it. */
export interface Conversation {
  type: 'conversation';
  id: string;
  title: string | null;
  created_at: number;
  updated_at: number;
  waiting_since: number | null;
  snoozed_until: number | null;
  source: {
    type: 'conversation';
    id: string;
    delivered_as: string;
    subject: string;
    body: string;
    author: PartAuthor;
    attachments: PartAttachment[];
    url: string | null;
    redacted: boolean;
  };
  contacts: { type: 'contact.list'; contacts: Array<{ type: 'contact'; id: string; external_id: string | null }> };
  first_contact_reply: null | { created_at: number; type: 'conversation'; url: string | null };
  admin_assignee_id: number | null;
  team_assignee_id: number | null;
  open: boolean;
  state: 'open' | 'closed' | 'snoozed';
  read: boolean;
  tags: { type: 'tag.list'; tags: ConversationTag[] };
  priority: 'priority' | 'not_priority';
  sla_applied: null;
  statistics: null;
  conversation_rating: null;
  teammates: null;
  custom_attributes: Record<string, unknown>;
  topics: Record<string, never>;
  ticket: null;
  linked_objects: { type: 'list'; data: []; total_count: 0; has_more: false };
  ai_agent: null;
  ai_agent_participated: boolean;
  conversation_parts: { type: 'conversation_part.list'; conversation_parts: ConversationPart[]; total_count: number };
}

/** `notification_event` (research §B.4; the shape of a delivered Intercom notification). */
export interface NotificationEvent {
  type: 'notification_event';
  app_id: string;
  data: { type: 'notification_event_data'; item: Conversation | { type: 'ping'; message: string } };
  links: Record<string, never>;
  id: string;
  topic: WebhookTopic;
  delivery_status: string;
  delivery_attempts: number;
  delivered_at: number;
  first_sent_at: number;
  created_at: number;
  self: null;
}

/** One POST of a notification to the webhook URL, and what came back. */
export interface DeliveryAttempt {
  notificationId: string;
  topic: WebhookTopic;
  attempt: number;
  url: string;
  at: number;
  /** Request headers as sent (lower-case names). */
  headers: Record<string, string>;
  /** The exact bytes signed and sent. */
  body: string;
  /** 0 when no answer came (network error or timeout). */
  status: number;
  response: string;
  error?: string;
  durationMs: number;
}

export interface NotificationRecord {
  id: string;
  topic: WebhookTopic;
  conversationId?: string;
  createdAt: number;
  /** The payload as first sent (later attempts differ in `delivery_attempts` only). */
  payload: NotificationEvent;
  /**
   * `unsubscribed`: no webhook URL, or topic not subscribed — recorded, never sent.
   * `pending` until a 2xx (`delivered`) or the attempts run out (`failed`).
   */
  state: 'unsubscribed' | 'pending' | 'delivered' | 'failed';
  attempts: DeliveryAttempt[];
}

/** One API request and the simulator's answer. */
export interface RecordedRequest {
  at: number;
  method: string;
  /** Path without query. */
  path: string;
  query: string;
  route: ApiRoute | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when it parsed, else the raw text ('' for none). */
  body: unknown;
  status: number;
  response: unknown;
  responseHeaders: Record<string, string>;
}

export interface InjectedFailure {
  status: number;
  count: number;
  /** Sent as `Retry-After` when given (Intercom documents none; research §B.1). */
  retryAfter?: string | number;
}

/** What an admin action (Inbox side) did. */
export interface AdminActionResult {
  conversation: Conversation;
  parts: ConversationPart[];
  notification: NotificationRecord;
  /** The first delivery attempt, when a subscription exists (the call waits for it). */
  firstAttempt?: DeliveryAttempt;
}

/** An attachment an admin adds in the Inbox: a URL, or bytes the simulator hosts under `/_sim/files/`. */
export interface AdminAttachment {
  name: string;
  contentType: string;
  url?: string;
  data?: Buffer | string;
  width?: number;
  height?: number;
}

export interface AdminOptions {
  /** Who acts; default the first admin. */
  adminId?: string;
}
