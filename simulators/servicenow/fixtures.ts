/**
 * Every wire shape the simulator produces, each with the page it follows. Paths are relative to
 * `../shared/specs/servicenow/` unless they say otherwise; "ServiceNowDocs …" names a page of the
 * `ServiceNow/ServiceNowDocs` repository that is not saved there (research other-helpdesks.md §1
 * cites it). "[3p]" is third-party evidence; UNVERIFIED means no source at all.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AgentInfo, BodyItem, PickerOption, SendHistoryResponse, VaResponse } from './types.js';

export const INTEGRATION_PATH = '/api/sn_va_as_service/bot/integration';
/** cccif-api.md (ServiceNowDocs `api-reference/rest-apis/cccif-api.md`): versioned and default URL. */
export const MEDIA_UPLOAD_PATHS = ['/api/now/v1/cccif/media/upload', '/api/now/cccif/media/upload'] as const;
/** virtual-agent-api-whats-new.md 3.0.x "Secure file uploads": `mediaUrl` is `…/api/now/v1/cs/media/<token>`. */
export const MEDIA_PATH_PREFIX = '/api/now/v1/cs/media/';

/** A sys_id: 32 lower-case hex characters, as every id in the reference's examples. */
export function sysId(): string {
  return randomBytes(16).toString('hex');
}

/** The media token of cccif-api.md's example mediaUrl: 64 alphanumerics. */
export function mediaToken(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(64);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

// ─── the call status (the immediate HTTP answer) ─────────────────────────────────────────────

/** bot-api.md "Response body parameters": `status` success | failure, `error {message, detail}` on errors. */
export const SUCCESS = { status: 'success' } as const;

/** Key order follows the platform's own error bodies (rate-limiting page): `error` first, then `status`. */
export interface Failure {
  error: { message: string; detail: string | null };
  status: 'failure';
}

export function failure(message: string, detail: string | null): Failure {
  return { error: { message, detail }, status: 'failure' };
}

export const ERR = {
  /**
   * 401 "The user credentials are incorrect or have not been passed" (bot-api.md status codes).
   * The wording is the platform's, widely quoted by clients ([3p], e.g. demisto/content
   * ServiceNow tests); not on a saved page.
   */
  unauthenticated: () => failure('User Not Authenticated', 'Required to provide Auth information'),
  /** 401 for a failed static/hash token. Wording UNVERIFIED. */
  badMessageToken: (kind: 'token' | 'hash') =>
    failure('User Not Authenticated', kind === 'hash' ? 'Hash message verification failed (x-b2b-signature)' : 'Token verification failed'),
  /** 400 "A bad request type or malformed request was detected" (bot-api.md). Wording UNVERIFIED. */
  badRequest: (detail: string) => failure('Bad Request', detail),
  /** c_RESTAPI.md (ServiceNowDocs) "Failing to provide the required headers results in a 400 Bad Request". Wording UNVERIFIED. */
  badHeader: (detail: string) => failure('Bad Request', detail),
  /** 405 "Invalid method. The functionality is disabled." (bot-api.md). Wording UNVERIFIED. */
  methodNotAllowed: (method: string) => failure('Method not Supported', `${method} method not supported for API`),
  disabled: () => failure('Method not Supported', 'The functionality is disabled'),
  /** 500 (bot-api.md). Wording UNVERIFIED. */
  serverError: (detail: string) => failure('Internal Server Error', detail),
  /** An unknown path: the platform answers 400 with this message ([3p]; UNVERIFIED here). */
  noResource: () => failure('Requested URI does not represent any resource', null),
  /**
   * 429 body, verbatim shape of ServiceNowDocs `inbound-REST-API-rate-limiting.md`:
   * `{"error":{"message":"Rate limit exceeded","detail":"Rate limit of 10 requests per hour for Table API exceeded"},"status":"failure"}`.
   */
  rateLimited: (limit: number, apiName: string) => failure('Rate limit exceeded', `Rate limit of ${limit} requests per hour for ${apiName} exceeded`),
};

// ─── hash token ───────────────────────────────────────────────────────────────────────────────

/**
 * set-up-message-auth-va-api.md step 4: `x-b2b-signature` is "the HmacSHA1 encoded value of the
 * request payload", and the Postman pre-request script computes
 * `CryptoJS.HmacSHA1(JSON.stringify(JSON.parse(request.data)), '<token>').toString(CryptoJS.enc.Hex)`.
 * `normalized` (default) follows that script; `raw` signs the bytes as they are.
 */
export function b2bSignature(secret: string, body: string, input: 'normalized' | 'raw' = 'normalized'): string {
  const text = input === 'normalized' ? JSON.stringify(JSON.parse(body)) : body;
  return createHmac('sha1', secret).update(text, 'utf8').digest('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// ─── the VA response body (outbound) ─────────────────────────────────────────────────────────

/**
 * Builds a VA response body with only the top-level fields bot-api.md's "VA response body
 * parameters" lists, in the order its examples use (requestId, clientSessionId, nowSessionId,
 * message, userId, body, agentChat, completed, takeControl, score, interactionId, clientVariables).
 * `agentChat`/`completed`/`takeControl` are left out unless true ("false: … isn't returned").
 */
export function vaResponse(f: {
  requestId?: string | undefined;
  clientSessionId?: string | undefined;
  nowSessionId?: string | undefined;
  message?: VaResponse['message'] | undefined;
  userId: string;
  body: BodyItem[];
  agentChat?: boolean;
  completed?: boolean;
  takeControl?: boolean;
  score?: number;
  interactionId?: string | undefined;
  clientVariables?: Record<string, unknown> | undefined;
}): VaResponse {
  return {
    ...(f.requestId !== undefined ? { requestId: f.requestId } : {}),
    // Every example carries clientSessionId, "" when the request sent "".
    clientSessionId: f.clientSessionId ?? '',
    ...(f.nowSessionId !== undefined ? { nowSessionId: f.nowSessionId } : {}),
    ...(f.message !== undefined ? { message: f.message } : {}),
    userId: f.userId,
    body: f.body,
    ...(f.agentChat ? { agentChat: true as const } : {}),
    ...(f.completed ? { completed: true as const } : {}),
    ...(f.takeControl ? { takeControl: true as const } : {}),
    // Every example carries score (1 or 0); for agent-originated bodies the value is UNVERIFIED.
    score: f.score ?? 1,
    // virtual-agent-api-whats-new.md 4.0.0: "sends the interaction Id … in response to the primary bot".
    ...(f.interactionId !== undefined ? { interactionId: f.interactionId } : {}),
    ...(f.clientVariables !== undefined ? { clientVariables: f.clientVariables } : {}),
  };
}

/** bot-api.md "Update only chat history": the body the response endpoint receives. */
export const SEND_HISTORY_RESPONSE: SendHistoryResponse = { status: 'success' };

// ─── body[] items ─────────────────────────────────────────────────────────────────────────────

/**
 * bot-api.md "End a Live Agent conversation by setting the action parameter": the response carries
 * this OutputText and `completed: true`. The VA-only example carries the same text without `completed`.
 */
export const END_TEXT = 'The conversation has ended. If you need help again, type hi.';
export function endText(): BodyItem {
  return { uiType: 'OutputText', group: 'DefaultText', value: END_TEXT, maskType: 'NONE' };
}

/** bot-api.md "Transfer a conversation to Live Agent Support based on the user's selection" (item verbatim, no maskType). */
export const STAND_BY_TEXT = 'Please stand by while I connect you to a live agent.';
export function standBy(): BodyItem {
  return { uiType: 'OutputText', group: 'DefaultText', value: STAND_BY_TEXT };
}

/** bot-api.md `body.actionType` StartSpinner example, verbatim but for `waitTime`. */
export const SPINNER_MESSAGE = 'Routing you to a live agent...';
export function startSpinner(waitTime: string, message = SPINNER_MESSAGE): BodyItem {
  return { uiType: 'ActionMsg', actionType: 'StartSpinner', spinnerType: 'wait_time', message, waitTime };
}

/** virtual-agent-api-whats-new.md 3.0.x action messages: EndSpinner "stops the spinner that was sent previously". Fields beyond uiType/actionType: none documented. */
export function endSpinner(): BodyItem {
  return { uiType: 'ActionMsg', actionType: 'EndSpinner' };
}

/**
 * bot-api.md `body.actionType` example `{"uiType":"ActionMsg","actionType":"StartTypingIndicator"}`;
 * its list also names `EndTypingIndicator`. (virtual-agent-api-whats-new.md names them
 * `StartTypingIndicatorActionMsg`/`EndTypingIndicatorActionMsg`, but its synchronous example sends
 * `StartTypingIndicator`; the short names are used.)
 */
export function typingIndicator(on: boolean): BodyItem {
  return { uiType: 'ActionMsg', actionType: on ? 'StartTypingIndicator' : 'EndTypingIndicator' };
}

/** virtual-agent-api-whats-new.md 3.0.x: SwitchToLiveAgent "a live agent has accepted the conversation". No example: fields UNVERIFIED. */
export function switchToLiveAgent(): BodyItem {
  return { uiType: 'ActionMsg', actionType: 'SwitchToLiveAgent' };
}

/** virtual-agent-api-whats-new.md 3.0.x: SwitchToVirtualAgent "the live agent session has ended". No example: fields UNVERIFIED. */
export function switchToVirtualAgent(): BodyItem {
  return { uiType: 'ActionMsg', actionType: 'SwitchToVirtualAgent' };
}

/**
 * virtual-agent-api-whats-new.md 3.0.x: System — "A live agent has entered the c[h]at", "Either the
 * live agent or the user closed the chat", "timed out". No JSON example; the `message` field and
 * the "… has closed the support session …" wording are [3p] pypestream/contact-center-connect
 * (`service-now.service.ts`, `hasEndConversationAction`). The join wording is UNVERIFIED.
 */
export function systemMessage(message: string): BodyItem {
  return { uiType: 'ActionMsg', actionType: 'System', message };
}
export const joinedText = (agentName: string) => `${agentName} has joined the chat.`;
export const closedText = (agentName: string) => `${agentName} has closed the support session.`;

/**
 * bot-api.md `body.agentInfo` ("If enabled in the agent chat setup, the name and avatar") and its
 * example; default-rich-controls-va-cccif.md: "If the rich control is sent from a live agent, then
 * the agentInfo attribute is added" with at least `{sentFromAgent: true}`.
 */
export function agentInfo(agent: { id: string; name: string; avatar?: string | undefined }, setup: 'off' | 'sentFromAgent' | 'namesAndAvatars'): AgentInfo | undefined {
  if (setup === 'off') return undefined;
  if (setup === 'sentFromAgent') return { sentFromAgent: true };
  return {
    sentFromAgent: true,
    agentName: agent.name,
    ...(agent.avatar !== undefined ? { agentAvatar: agent.avatar } : {}),
    agentId: agent.id,
  };
}

/** va-api-controls.md "Output Text": `{uiType, group: DefaultText, value, maskType}`; plus `messageId` (bot-api.md `body.messageId`). */
export function outputText(value: string, extra: { messageId?: string; agentInfo?: AgentInfo } = {}): BodyItem {
  return { uiType: 'OutputText', group: 'DefaultText', value, maskType: 'NONE', ...extra };
}

/** va-api-controls.md "Output Image": `{uiType, group: DefaultOutputImage, value: <url>, altText?}`. */
export function outputImage(url: string, altText: string | undefined, extra: { messageId?: string; agentInfo?: AgentInfo } = {}): BodyItem {
  return { uiType: 'OutputImage', group: 'DefaultOutputImage', value: url, ...(altText !== undefined ? { altText } : {}), ...extra };
}

/** va-api-controls.md "Output Link": `{uiType, group: DefaultOutputLink, label, header, type: link, value: {action, target}}`. */
export function outputLink(
  url: string,
  label: string,
  header: string | undefined,
  extra: { messageId?: string; agentInfo?: AgentInfo } = {},
): BodyItem {
  return {
    uiType: 'OutputLink',
    group: 'DefaultOutputLink',
    label,
    ...(header !== undefined ? { header } : {}),
    type: 'link',
    value: { action: url, target: '_blank' },
    ...extra,
  };
}

/** va-api-controls.md "Output Card": `{uiType, group: DefaultOutputCard, templateName, data: <JSON string>}`. */
export function outputCard(templateName: string, data: unknown, extra: { messageId?: string; agentInfo?: AgentInfo } = {}): BodyItem {
  return { uiType: 'OutputCard', group: 'DefaultOutputCard', templateName, data: typeof data === 'string' ? data : JSON.stringify(data), ...extra };
}

/** va-api-controls.md "Picker" (list) and "Carousel" (`itemType: Picture`, `style: carousel`). */
export function picker(
  label: string,
  options: PickerOption[],
  style: 'list' | 'carousel',
  extra: { messageId?: string; agentInfo?: AgentInfo } = {},
): BodyItem {
  return {
    uiType: 'Picker',
    group: 'DefaultPicker',
    required: true,
    nluTextEnabled: false,
    label,
    itemType: style === 'carousel' ? 'Picture' : 'List',
    style,
    multiSelect: false,
    options: options.map((o) => ({ renderStyle: 'data', enabled: false, ...o })),
    scriptedData: null,
    ...extra,
  };
}

// ─── the Virtual Agent's own answers (before/without a live agent) ───────────────────────────

/** bot-api.md "START_CONVERSATION" response: greeting + TopicPickerControl (options trimmed to the two of that example). */
export function greeting(): BodyItem[] {
  return [
    { uiType: 'OutputText', group: 'DefaultText', value: "Hi, I'm your Virtual Agent. Let me know how I can help you today.", maskType: 'NONE' },
    {
      uiType: 'TopicPickerControl',
      group: 'DefaultPicker',
      nluTextEnabled: false,
      promptMsg:
        'Hi guest, please enter your request or make a selection of what I can help with. You can type help any time when you need help.',
      label: 'Show me everything',
      options: [
        { label: 'b2b topic', value: '2bb7bd7670de6010f877c7f188266fc7', enabled: true },
        { label: 'Live Agent Support.', value: 'ce2ee85053130010cf8cddeeff7b12bf', enabled: true },
      ],
    },
  ];
}

/** bot-api.md "Transfer a conversation to Live Agent in a specific queue" response: what the VA says to text it does not understand. */
export function notUnderstood(): BodyItem[] {
  return [
    { uiType: 'OutputText', group: 'DefaultText', value: "I am sorry but I didn't understand your request.", maskType: 'NONE' },
    {
      uiType: 'OutputText',
      group: 'DefaultText',
      value: "Please try giving me your request in a different way. I'm currently better at understanding short sentences.",
      maskType: 'NONE',
    },
  ];
}

/** bot-api.md "Transfer a conversation to Live Agent using utterance": the Picker answering `agent`. */
export const LIVE_AGENT_CHOICE = 'Live Agent Support.';
export function agentUtterancePicker(): BodyItem {
  return picker(
    'I want to be sure I got this right. What item best describes what you want to do?',
    [
      { label: LIVE_AGENT_CHOICE, value: LIVE_AGENT_CHOICE },
      { label: 'Virtual Agent Capabilities.', value: 'Virtual Agent Capabilities.' },
      { label: 'I want something else', value: '-1' },
    ],
    'list',
  );
}

/** bot-api.md "Create a chat interaction": `ActionMsg` `CreateConversation` with the three ids. */
export function createConversation(conversationId: string, interactionId: string, messageId: string): BodyItem {
  return { uiType: 'ActionMsg', actionType: 'CreateConversation', conversationId, interactionId, messageId };
}

/** bot-api.md `message.attachment.contentType` "Valid values (not case-sensitive)". */
export const ATTACHMENT_TYPES = ['application/pdf', 'application/msword', 'image/png', 'image/jpeg', 'text/plain', 'video/mpeg'];

/** bot-api.md `message.status` "Valid values (not case-sensitive)". */
export const MESSAGE_STATUSES = ['external_error', 'sent_to_user'];

/** bot-api.md "Update the message on the agent chat panel": the documented reply text. */
export const UPDATE_MESSAGES_TEXT = 'Message Processed Successfully';

/** The default live agent: the name and avatar of bot-api.md's `agentInfo` example. */
export const DEFAULT_AGENT = {
  id: '46d44a23a9fe19810012d100cca80666',
  name: 'Beth Anglin',
  avatar: 'https://instance.servicenow.com/ee4eebf30a0004d963b5c5ac0d734dc4.iix?t=small',
};

/** configure-response-endpoint-auth-va-api.md: "The default value for Connection timeout is 5000ms." */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 5000;
/** configure-response-endpoint-auth-va-api.md: "You can add maximum 10 headers." */
export const MAX_CUSTOM_HEADERS = 10;
