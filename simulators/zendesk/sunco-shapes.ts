/**
 * Sunshine Conversations records and their wire shapes. Every shape follows a schema of
 * ../shared/specs/sunshine-conversations/openapi.yaml (named at each builder) and, where the spec
 * leaves a field's presence open, the spec's own examples.
 */
import type { ScWebhookConfig } from './sunco-webhooks.js';

export type Scalar = string | number | boolean;
export type Metadata = Record<string, Scalar | null>;

export interface ScProfile {
  givenName?: string | null;
  surname?: string | null;
  email?: string | null;
  avatarUrl?: string | null;
  locale?: string | null;
}

export interface ScUser {
  id: string;
  externalId?: string;
  signedUpAt: string;
  toBeRetained?: boolean;
  profile: ScProfile;
  metadata: Metadata;
  /** Set once Agent Workspace made a ticket for the user: the core Zendesk user it is linked to. */
  zendeskId?: string;
}

export interface ScSwitchboardIntegration {
  id: string;
  name: string;
  integrationId: string;
  integrationType: string;
  deliverStandbyEvents: boolean;
  nextSwitchboardIntegrationId: string | null;
}

export interface ScAuthor {
  type: 'user' | 'business';
  userId?: string;
  displayName?: string;
  avatarUrl?: string;
  subtypes?: string[];
}

export interface ScMessage {
  id: string;
  received: string;
  author: ScAuthor;
  content: Record<string, unknown>;
  source: { type: string; integrationId?: string };
  metadata?: Metadata;
  activity?: { type: string };
}

/** One change of a conversation's switchboard state, oldest first in `ScConversation.switchboardLog`. */
export interface SwitchboardChange {
  at: string;
  action: 'initial' | 'passControl' | 'offerControl' | 'acceptControl' | 'releaseControl';
  /** `api` = a request to the API; `agentWorkspace` = Zendesk's own handback (ticket closed, session ended). */
  by: 'api' | 'agentWorkspace';
  /** Switchboard integration names after the change. */
  active?: string;
  pending?: string;
  metadata?: Metadata;
  reason?: string;
}

export interface ScConversation {
  id: string;
  type: 'personal' | 'sdkGroup';
  isDefault: boolean;
  displayName?: string;
  description?: string;
  iconUrl?: string;
  metadata?: Metadata;
  createdAt: string;
  lastUpdatedAt: string;
  businessLastRead?: string;
  participants: Array<{ id: string; userId: string; subscribeSDKClient: boolean }>;
  /** Switchboard integration ids. */
  active?: string;
  pending?: string;
  switchboardLog: SwitchboardChange[];
  messages: ScMessage[];
  /** The Agent Workspace ticket currently linked to the conversation. */
  ticketId?: number;
}

/**
 * What Agent Workspace made of a handoff: the ticket and the passControl metadata it was created
 * with (research §A.1.8 "Passing a conversation to Zendesk agents with ticket data").
 */
export interface MessagingTicket {
  id: number;
  conversationId: string;
  userId: string;
  status: 'open' | 'solved' | 'closed';
  createdAt: string;
  updatedAt: string;
  /** `passControl` when control passed with (possibly empty) metadata; `message` when a user message reached Agent Workspace first. */
  createdBy: 'passControl' | 'acceptControl' | 'message';
  /** The metadata the ticket was created with (empty when `createdBy` is `message`). */
  metadata: Metadata;
  /** Metadata that arrived after the ticket existed: Zendesk no longer applies it (research §D.6). */
  ignoredMetadata: Metadata[];
  firstMessageId?: string;
  /** Message ids the agent sees as the conversation history when the ticket opens. */
  transcript: string[];
  /** Message ids added to the conversation while the ticket was linked to it. */
  messages: string[];
  requesterName?: string;
  tags: string[];
  groupId?: string;
  /** Other `dataCapture.systemField.*` values (priority, brand_id, …). */
  systemFields: Record<string, Scalar | null>;
  /** `dataCapture.ticketField.<id>` values. */
  customFields: Record<string, Scalar | null>;
}

export interface ScAttachment {
  id: string;
  name: string;
  mediaType: string;
  bytes: Buffer;
  mediaUrl: string;
  conversationId?: string;
}

/** `user` (spec `components/schemas/user`; field presence as in the `createUser`/`getUser` examples). */
export function userJson(u: ScUser): Record<string, unknown> {
  return {
    id: u.id,
    ...(u.externalId !== undefined ? { externalId: u.externalId } : {}),
    ...(u.zendeskId !== undefined ? { zendeskId: u.zendeskId } : {}),
    signedUpAt: u.signedUpAt,
    ...(u.toBeRetained !== undefined ? { toBeRetained: u.toBeRetained } : {}),
    // spec examples createUser/getUser: `hasPaymentInfo: false`, `identities: []`.
    hasPaymentInfo: false,
    identities: [],
    profile: profileJson(u.profile),
    metadata: { ...u.metadata },
  };
}

/** spec examples createUser/getUser: a profile without a locale gets the account's (`en`, `localeOrigin: zendeskAccount`). */
function profileJson(p: ScProfile): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) if (v !== undefined) out[k] = v;
  if (out['locale'] === undefined || out['locale'] === null) {
    out['locale'] = 'en';
    out['localeOrigin'] = 'zendeskAccount';
  }
  return out;
}

/** `switchboardIntegrationWebhook`: `{id, name, integrationId, integrationType}`. */
export function switchboardRef(s: ScSwitchboardIntegration): Record<string, unknown> {
  return { id: s.id, name: s.name, integrationId: s.integrationId, integrationType: s.integrationType };
}

/** `switchboardIntegration` (spec; example `listSwitchboardIntegrations`). */
export function switchboardIntegrationJson(s: ScSwitchboardIntegration): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    integrationId: s.integrationId,
    integrationType: s.integrationType,
    deliverStandbyEvents: s.deliverStandbyEvents,
    nextSwitchboardIntegrationId: s.nextSwitchboardIntegrationId,
  };
}

/**
 * `conversationTruncated`, as webhook payloads carry it. `activeSwitchboardIntegration` "is omitted
 * if no activeSwitchboardIntegration exists"; `pendingSwitchboardIntegration` likewise.
 */
export function conversationTruncatedJson(c: ScConversation, sw: (id: string) => ScSwitchboardIntegration | undefined): Record<string, unknown> {
  const active = c.active ? sw(c.active) : undefined;
  const pending = c.pending ? sw(c.pending) : undefined;
  return {
    id: c.id,
    type: c.type,
    ...(c.metadata !== undefined ? { metadata: { ...c.metadata } } : {}),
    ...(active ? { activeSwitchboardIntegration: switchboardRef(active) } : {}),
    ...(pending ? { pendingSwitchboardIntegration: switchboardRef(pending) } : {}),
  };
}

/** `conversation` (spec; fields as in the `createConversation` example plus the truncated ones). */
export function conversationJson(c: ScConversation, sw: (id: string) => ScSwitchboardIntegration | undefined): Record<string, unknown> {
  return {
    ...conversationTruncatedJson(c, sw),
    isDefault: c.isDefault,
    ...(c.displayName !== undefined ? { displayName: c.displayName } : {}),
    ...(c.description !== undefined ? { description: c.description } : {}),
    ...(c.iconUrl !== undefined ? { iconUrl: c.iconUrl } : {}),
    ...(c.businessLastRead !== undefined ? { businessLastRead: c.businessLastRead } : {}),
    lastUpdatedAt: c.lastUpdatedAt,
    createdAt: c.createdAt,
  };
}

/** `message` as the REST API returns it (spec examples `text-2`, `image-2`, `listMessages`). */
export function messageJson(m: ScMessage): Record<string, unknown> {
  return {
    id: m.id,
    received: m.received,
    author: authorJson(m.author),
    ...(m.activity ? { activity: { ...m.activity } } : {}),
    content: structuredClone(m.content),
    source: { ...m.source },
    ...(m.metadata !== undefined ? { metadata: { ...m.metadata } } : {}),
  };
}

function authorJson(a: ScAuthor): Record<string, unknown> {
  return {
    type: a.type,
    ...(a.subtypes ? { subtypes: [...a.subtypes] } : {}),
    ...(a.userId !== undefined ? { userId: a.userId } : {}),
    ...(a.displayName !== undefined ? { displayName: a.displayName } : {}),
    ...(a.avatarUrl !== undefined ? { avatarUrl: a.avatarUrl } : {}),
  };
}

/**
 * `authorWebhook`: user authors carry `user` (id, externalId, authenticated, as the spec's
 * `conversationMessageEvent` example shows); "`profile` is included in the payload if the
 * `includeFullUser` option is enabled".
 */
export function authorWebhookJson(a: ScAuthor, user: ScUser | undefined, wh: ScWebhookConfig): Record<string, unknown> {
  const out = authorJson(a);
  if (a.type === 'user' && user) {
    out['user'] = {
      id: user.id,
      ...(user.externalId !== undefined ? { externalId: user.externalId } : {}),
      authenticated: false,
      ...(wh.includeFullUser ? { ...userJson(user), authenticated: false } : {}),
    };
  }
  return out;
}

/** `messageWebhook` (spec): the message inside a `conversation:message` event. */
export function messageWebhookJson(m: ScMessage, user: ScUser | undefined, wh: ScWebhookConfig): Record<string, unknown> {
  return {
    id: m.id,
    received: m.received,
    author: authorWebhookJson(m.author, user, wh),
    ...(m.activity ? { activity: { ...m.activity } } : {}),
    content: structuredClone(m.content),
    source: { ...m.source },
    ...(m.metadata !== undefined ? { metadata: { ...m.metadata } } : {}),
  };
}

/** `webhook` (spec; example `createWebhook`). */
export function webhookJson(wh: ScWebhookConfig): Record<string, unknown> {
  return {
    id: wh.id,
    version: 'v2',
    target: wh.target ?? '',
    triggers: [...wh.triggers],
    secret: wh.secret,
    includeFullUser: wh.includeFullUser,
    includeFullSource: wh.includeFullSource,
  };
}
