/**
 * Public types of the ServiceNow simulator: its options, the wire objects of the Virtual Agent Bot
 * Integration API (`specs/servicenow/bot-api.md`, "the reference" below) and what it records for
 * assertions.
 */

// ─── inbound: the request body of POST /api/sn_va_as_service/bot/integration ─────────────────

/** bot-api.md, request body, `action` "Valid values" (TYPING/VIEWING are listed as one bullet). */
export type VaAction =
  | 'AGENT'
  | 'CREATE_CONVERSATION'
  | 'END_CONVERSATION'
  | 'FAULT_CONVERSATION'
  | 'SEND_HISTORY'
  | 'SET_USER_TIMEZONE'
  | 'START_CONVERSATION'
  | 'START_CREATED_CONVERSATION'
  | 'SWITCH'
  | 'TYPING'
  | 'VIEWING'
  | 'UPDATE_MESSAGES';

/** bot-api.md `message.attachment` (URL only). */
export interface VaAttachment {
  clientAttachmentId?: string;
  contentType: string;
  fileName: string;
  url: string;
  headers?: { Authorization?: string };
  id?: string;
}

/** bot-api.md `message` (every action but UPDATE_MESSAGES). */
export interface VaMessage {
  text?: string;
  typed: boolean;
  clientMessageId?: string;
  /** The table types it as an array; every example sends one object. Both are accepted. */
  attachment?: VaAttachment | VaAttachment[];
  id?: string;
  status?: string;
}

/** bot-api.md "Update the message on the agent chat panel": `message` is a list of these. */
export interface VaMessageUpdate {
  id: string;
  /** `external_error` | `sent_to_user` (not case-sensitive). */
  status?: string;
  /** "Must be the updated text to be reflected on agent chat panel". */
  text?: string;
}

/** bot-api.md `history` (an object in the table, a list in the SEND_HISTORY example; both accepted). */
export interface VaHistoryEntry {
  displayName: string;
  isBotMessage: boolean;
  /** "13-digit Unix timestamp", a string. */
  timestamp: string;
  type: 'text';
  value: string;
}

/** The validated request, as the simulator understood it. */
export interface VaRequest {
  requestId: string;
  userId: string;
  action: VaAction | null;
  clientSessionId?: string;
  emailId?: string;
  message?: VaMessage;
  updates?: VaMessageUpdate[];
  botToBot?: boolean;
  silentMessage?: boolean;
  contextVariables?: Record<string, unknown>;
  clientVariables?: Record<string, unknown>;
  history?: VaHistoryEntry[];
  intent?: { id: string };
  topic?: { name?: string; id?: string };
  timestamp?: number;
  timezone?: string;
  cause?: string;
  nowSessionId?: string;
  enterpriseId?: string;
  nowBotId?: string;
  /** "The token can be passed in either the request body or the header" (configure-send-request.md). */
  token?: string;
}

// ─── outbound: the "VA response body" POSTed to the response endpoint ─────────────────────────

/** bot-api.md `body.agentInfo`. */
export interface AgentInfo {
  agentAvatar?: string;
  agentId?: string;
  agentName?: string;
  sentFromAgent: boolean;
}

/** bot-api.md `body.options` / va-api-controls.md Picker options. */
export interface PickerOption {
  label: string;
  value: string;
  renderStyle?: string;
  enabled?: boolean;
  description?: string;
  attachment?: string;
}

/**
 * One element of `body[]`. Only the fields bot-api.md's "VA response body parameters" table (and
 * va-api-controls.md for a control's own fields) documents; which ones each control carries is in
 * fixtures.ts, with its source.
 */
export interface BodyItem {
  uiType: string;
  group?: string;
  value?: string | { action: string; target?: string };
  maskType?: 'NONE' | 'SECURE';
  label?: string;
  header?: string;
  type?: string;
  altText?: string;
  templateName?: string;
  data?: string;
  required?: boolean;
  nluTextEnabled?: boolean;
  promptMsg?: string;
  itemType?: string;
  style?: string;
  multiSelect?: boolean;
  options?: PickerOption[];
  scriptedData?: null;
  actionType?: string;
  spinnerType?: string;
  waitTime?: string;
  message?: string;
  messageId?: string;
  agentInfo?: AgentInfo;
  conversationId?: string;
  interactionId?: string;
}

/**
 * bot-api.md "VA response body parameters": the top-level fields, and no others. `agentChat`,
 * `completed` and `takeControl` appear only when true ("false: … this parameter isn't returned").
 */
export interface VaResponse {
  requestId?: string;
  clientSessionId: string;
  nowSessionId?: string;
  message?: VaMessage;
  userId: string;
  body: BodyItem[];
  agentChat?: true;
  completed?: true;
  takeControl?: true;
  score: number;
  interactionId?: string;
  clientVariables?: Record<string, unknown>;
}

/** bot-api.md "Update only chat history": the response endpoint receives `{"status": "success"}`. */
export interface SendHistoryResponse {
  status: 'success';
}

export type OutboundPayload = VaResponse | SendHistoryResponse;

// ─── options ──────────────────────────────────────────────────────────────────────────────────

export interface BasicCredential {
  username: string;
  password: string;
}

/**
 * Inbound authentication (configure-send-request.md step 6: "Basic, OAuth, Hash, or Static Token").
 * Enable any combination; at least one.
 */
export interface InboundAuth {
  /** Basic users allowed to call the endpoint. */
  basic?: BasicCredential[];
  /** OAuth access tokens accepted as `Authorization: Bearer …`. */
  bearer?: string[];
  /** Static token (`token_verification`), sent as the `token` header or a body `token` field. */
  token?: string;
  /** Hash token secret (`hash_message_verification`), proving `x-b2b-signature`. */
  hashSecret?: string;
  /**
   * What a request whose static/hash token does not verify gets. `'reject'` (default): 401, as
   * va-features-custom-chat-integrations.md says provider authentication is synchronous ("an
   * immediate response with the request successful or failure code"). `'silent'`: 200 success and
   * nothing happens, as bot-api.md's 200 troubleshooting list describes ("failing in Static, JWT, or
   * Hash Based Token validation, which generally happens in the worker thread"). UNVERIFIED which.
   */
  messageAuthFailure?: 'reject' | 'silent';
  /**
   * What `x-b2b-signature` is computed over. `'normalized'` (default) follows the doc's Postman
   * script, `JSON.stringify(JSON.parse(body))`; `'raw'` is the bytes as sent; `'either'` accepts
   * both. What the instance really hashes is UNVERIFIED.
   */
  hashInput?: 'normalized' | 'raw' | 'either';
}

/** Outbound auth of the response endpoint's "Credential" (configure-response-endpoint-auth-va-api.md). */
export type OutboundAuth = { type: 'basic'; username: string; password: string } | { type: 'bearer'; token: string };

/** configure-response-endpoint-auth-va-api.md: Connection URL, Credential, Connection timeout, ≤ 10 headers. */
export interface ResponseEndpoint {
  url: string;
  auth?: OutboundAuth;
  /** "You can add maximum 10 headers." More throws. */
  headers?: Record<string, string>;
  /** "The default value for Connection timeout is 5000ms." */
  timeoutMs?: number;
}

/** Retries of the outbound POST: undocumented, hence none by default. UNVERIFIED. */
export interface OutboundRetry {
  /** Attempts after the first. Default 0. */
  retries: number;
  /** Delay before each retry (the last repeats). Default [1000]. */
  delaysMs?: number[];
}

/**
 * Inbound REST API rate limiting (ServiceNowDocs `rest-api-explorer/inbound-REST-API-rate-limiting.md`,
 * not saved under specs/servicenow; research other-helpdesks.md §1.5): a rule allows `limit`
 * requests per hour per user.
 */
export interface RateLimitRule {
  limit: number;
  /** The rule's sys_id, sent as `X-RateLimit-Rule`. */
  ruleSysId?: string;
  /** Window length; the doc's rules are hourly. Default 3600 (tests may shorten it). */
  windowSeconds?: number;
  /** The API's name in the 429 detail. Default `VA Bot Integration` (configure-send-request.md step 2). */
  apiName?: string;
}

/** An AWA queue, chosen by conditions on `contextVariables` (bot-api.md "Transfer … in a specific queue"). */
export interface SimQueue {
  name: string;
  /** Every key must equal (as a string) the context variable of that name. */
  conditions: Record<string, string>;
}

/** A live agent (Live Profile). */
export interface SimAgent {
  /** sys_id of the live_profile (bot-api.md `agentInfo.agentId`). */
  id: string;
  name: string;
  avatar?: string;
}

/** How a live agent's close shows on the response endpoint (see close()). */
export type CloseSignal = 'system' | 'switchToVirtualAgent' | 'completed' | 'takeControl';

export interface ServiceNowSimulatorOptions {
  auth: InboundAuth;
  responseEndpoint?: ResponseEndpoint;
  retry?: OutboundRetry;
  rateLimit?: RateLimitRule;
  /** AWA queues, first match wins; no match → `defaultQueue`. */
  queues?: SimQueue[];
  /** Default `Live Agent Support`. */
  defaultQueue?: string;
  /** Default: Beth Anglin, the name in bot-api.md's `agentInfo` example. */
  agents?: SimAgent[];
  /**
   * What the agent chat setup puts in `agentInfo`. bot-api.md: "If enabled in the agent chat setup,
   * the name and avatar of the associated agent" — so by default (`'off'`) live-agent items carry
   * no agentInfo and only the response's `agentChat: true` says who speaks. `'sentFromAgent'`:
   * `{sentFromAgent: true}` alone (default-rich-controls-va-cccif.md's example); `'namesAndAvatars'`:
   * with agentName, agentAvatar and agentId too (bot-api.md's example, 3.14.3 "agent Id").
   */
  agentInfo?: 'off' | 'sentFromAgent' | 'namesAndAvatars';
  /** Custom adapter property `third_party_chat` (clientSessionId stored; UPDATE_MESSAGES allowed). Default true. */
  thirdPartyChat?: boolean;
  /** What `close()` sends by default. Default `['system', 'switchToVirtualAgent']`. */
  closeSignals?: CloseSignal[];
  /** The StartSpinner sent when a conversation is queued for an agent; `null` sends none. Default the doc's `8 Seconds`. */
  queueWaitTime?: string | null;
  /** Accept every AGENT hand-off at once with this agent (sandbox convenience). Default off. */
  autoAccept?: SimAgent | boolean;
  /** Body validation failures: `'reject'` (400, default) or `'silent'` (200, nothing happens). */
  validationFailure?: 'reject' | 'silent';
  /** `UPDATE_MESSAGES` answer: `'json'` `{status:'success'}` (default) or the doc's text `Message Processed Successfully`. */
  updateMessagesAnswer?: 'json' | 'text';
  /** Allowed `attachment.contentType`s. Default bot-api.md's list. */
  attachmentTypes?: string[];
  /** Trusted media domains of sys_cs_provider; an attachment elsewhere is not taken. Default: all. */
  trustedDomains?: string[];
  /** GET each attachment URL (with its `headers.Authorization`), as the VA does to scan it. Default false. */
  fetchAttachments?: boolean;
  /** Require Basic/OAuth to download uploaded media. Default false. UNVERIFIED. */
  mediaRequiresAuth?: boolean;
  /** Require `Accept` on the integration endpoint (c_RESTAPI.md: missing → 400). Default true. */
  requireAccept?: boolean;
  /** Delay before the asynchronous VA response is POSTed. Default 0. */
  responseDelayMs?: number;
  /**
   * A request whose requestId was seen before: `'process'` (default) handles it again, as nothing
   * in bot-api.md says the endpoint deduplicates; `'ignore'` answers success and does nothing.
   * UNVERIFIED which the instance does. Either way `InboundRecord.duplicateOf` marks it.
   */
  duplicateRequests?: 'process' | 'ignore';
  now?: () => number;
  log?: boolean;
}

// ─── recorded state ───────────────────────────────────────────────────────────────────────────

export type ConversationState = 'virtual_agent' | 'queued' | 'live' | 'closed';

export interface SimMessage {
  /** customer → agent, agent → customer, or what the VA/system said. */
  direction: 'customer' | 'agent' | 'system';
  at: number;
  text?: string;
  /** sys_cs_message id (`body.messageId`) for agent messages; `clientMessageId` for customer ones. */
  id?: string;
  attachments?: Array<VaAttachment & { taken: boolean; reason?: string; fetched?: { status: number; bytes: number } | { error: string } }>;
  /** The body item as sent, for agent/system messages. */
  item?: BodyItem;
  /** Delivery statuses reported with UPDATE_MESSAGES, oldest first. */
  statuses?: Array<{ status: string; at: number }>;
  /** Text updated with UPDATE_MESSAGES (the agent panel's "Updated" tag). */
  updatedText?: string;
  requestId?: string;
}

export interface SimConversation {
  /** sys_cs_conversation sys_id. */
  id: string;
  interactionId: string;
  userId: string;
  emailId?: string;
  /** Stored only with `third_party_chat` (bot-api.md `clientSessionId`). */
  clientSessionId?: string;
  state: ConversationState;
  queue?: string;
  contextVariables: Record<string, unknown>;
  clientVariables?: Record<string, unknown>;
  /** The primary bot's transcript, shown to the agent. */
  history: VaHistoryEntry[];
  messages: SimMessage[];
  agent?: SimAgent;
  /** The customer's typing indicator on the agent side (TYPING → true, VIEWING → false). */
  customerTyping: boolean;
  typingLog: Array<{ on: boolean; at: number }>;
  /** UPDATE_MESSAGES calls: every status reported, with the message id, known or not. */
  statusUpdates: Array<{ messageId: string; status?: string; text?: string; known: boolean; at: number }>;
  timezone?: string;
  silent: boolean;
  createdAt: number;
  acceptedAt?: number;
  closed?: { by: 'customer' | 'agent' | 'fault'; at: number };
  /** The latest inbound request of the conversation (agent-originated responses carry its requestId). */
  lastRequestId?: string;
  lastNowSessionId?: string;
  spinner: boolean;
}

export interface InboundRecord {
  at: number;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The raw body as text (multipart bodies are summarised). */
  raw: string;
  body: unknown;
  status: number;
  response: unknown;
  responseHeaders: Record<string, string>;
  outcome: 'accepted' | 'rejected' | 'unauthorized' | 'auth-failed-silently' | 'invalid-silently' | 'rate-limited' | 'injected' | 'reset';
  /** Who the request authenticated as: `basic:<user>`, `oauth:<n>`, `token`, `hash`. */
  principal?: string;
  requestId?: string;
  action?: string | null;
  conversationId?: string;
  /** Set when an earlier accepted request carried the same requestId (index into `requests`). */
  duplicateOf?: number;
}

export interface DeliveryAttempt {
  /** Index of the OutboundRecord in `outbound`. */
  index: number;
  attempt: number;
  redelivery: boolean;
  url: string;
  at: number;
  headers: Record<string, string>;
  /** The exact bytes sent. */
  body: string;
  /** 0 = no answer (network error or timeout). */
  status: number;
  response: string;
  error?: string;
  timedOut?: boolean;
  durationMs: number;
}

export interface OutboundRecord {
  index: number;
  conversationId?: string;
  /** What produced it: the inbound action, or the agent-side call. */
  cause: string;
  payload: OutboundPayload;
  state: 'pending' | 'delivered' | 'failed' | 'unsent';
  attempts: DeliveryAttempt[];
}

export interface InjectedFailure {
  status: number;
  count?: number;
  /** Seconds (or any header value) for `Retry-After`. */
  retryAfter?: number | string;
}

export interface MediaFile {
  attachmentId: string;
  /** The token in the media URL. */
  token: string;
  userId: string;
  providerApplicationId?: string;
  name: string;
  contentType: string;
  data: Buffer;
  mediaUrl: string;
  at: number;
}

/** The routes `failNext` can target. */
export type ApiRoute = 'POST integration' | 'POST media/upload' | 'GET media';
export type FailRoute = ApiRoute | '*';

/** What an agent-side call produced: the conversation after it, and the outbound POST it caused. */
export interface ActionResult {
  conversation: SimConversation;
  outbound?: OutboundRecord;
  /** The first attempt of that POST (absent when no response endpoint is set). */
  firstAttempt?: DeliveryAttempt;
}
