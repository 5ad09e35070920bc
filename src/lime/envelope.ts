/**
 * LIME envelopes as Blip's HTTP API carries them (research/blip.md §3.1). Pure: no I/O.
 * Inbound schemas are permissive about unknown fields (Blip adds metadata freely) and strict
 * about the fields we rely on.
 */
import { Type, type Static } from '@sinclair/typebox';

/**
 * A LIME node: `name@domain/instance`; we accept anything non-empty and parse lazily. Ids and
 * addresses are indexed: 512 UTF-16 units is at most 1,536 bytes of UTF-8, under PostgreSQL's
 * ~2,700-byte B-tree row limit (real ones are under 100).
 */
const Node = Type.String({ minLength: 1, maxLength: 512 });
const Id = Type.String({ minLength: 1, maxLength: 512 });
/** Metadata values are strings in LIME; some channels send numbers, so accept scalars. */
const Metadata = Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]));

export const MessageEnvelope = Type.Object(
  {
    id: Type.Optional(Id),
    from: Node,
    to: Type.Optional(Node),
    pp: Type.Optional(Node),
    type: Type.String({ minLength: 1, maxLength: 255 }),
    content: Type.Unknown(),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: true },
);
export type MessageEnvelope = Static<typeof MessageEnvelope>;

/**
 * LIME's notification events (research/blip.md §3.1: lime-js `NotificationEvent`, plus `deleted`,
 * which blip-sdk-js subscribes to). Anything else is not a notification Blip sends: refused (400).
 */
export const NOTIFICATION_EVENTS = ['accepted', 'validated', 'authorized', 'dispatched', 'received', 'consumed', 'failed', 'deleted'] as const;
export const NotificationEvent = Type.Union(NOTIFICATION_EVENTS.map((e) => Type.Literal(e)));

export const NotificationEnvelope = Type.Object(
  {
    id: Id,
    from: Type.Optional(Node),
    to: Type.Optional(Node),
    event: NotificationEvent,
    reason: Type.Optional(Type.Object({ code: Type.Optional(Type.Number()), description: Type.Optional(Type.String()) })),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: true },
);
export type NotificationEnvelope = Static<typeof NotificationEnvelope>;

/** What we send to Blip /messages. */
export interface OutboundMessage {
  id: string;
  to: string;
  type: string;
  content: unknown;
  metadata?: Record<string, string>;
}

/** What we send to Blip /notifications. */
export interface OutboundNotification {
  id: string;
  to: string;
  event: 'received' | 'consumed' | 'failed';
  reason?: { code: number; description: string };
  metadata?: Record<string, string>;
}

/** What we send to Blip /commands, and what comes back in the HTTP response. */
export interface Command {
  id: string;
  to?: string;
  method: 'get' | 'set' | 'merge' | 'delete';
  uri: string;
  type?: string;
  resource?: unknown;
}
export interface CommandResponse {
  id?: string;
  method?: string;
  status?: 'success' | 'failure';
  type?: string;
  resource?: unknown;
  reason?: { code?: number; description?: string };
}

export const MIME = {
  text: 'text/plain',
  mediaLink: 'application/vnd.lime.media-link+json',
  webLink: 'application/vnd.lime.web-link+json',
  location: 'application/vnd.lime.location+json',
  select: 'application/vnd.lime.select+json',
  documentSelect: 'application/vnd.lime.document-select+json',
  collection: 'application/vnd.lime.collection+json',
  container: 'application/vnd.lime.container+json',
  list: 'application/vnd.lime.list+json',
  chatstate: 'application/vnd.lime.chatstate+json',
  input: 'application/vnd.lime.input+json',
  reply: 'application/vnd.lime.reply+json',
  reaction: 'application/vnd.lime.reaction+json',
  deleted: 'application/vnd.lime.deleted-content+json',
  redirect: 'application/vnd.lime.redirect+json',
  sensitive: 'application/vnd.lime.sensitive+json',
  resource: 'application/vnd.iris.resource+json',
  contact: 'application/vnd.lime.contact+json',
  ticket: 'application/vnd.iris.ticket+json',
  json: 'application/json',
  threadMessage: 'application/vnd.iris.thread-message+json',
  tunnel: 'application/vnd.iris.tunnel+json',
} as const;

/** `name@domain/instance` → `name@domain`. */
export function identityOf(node: string): string {
  const slash = node.indexOf('/');
  return slash === -1 ? node : node.slice(0, slash);
}

export function domainOf(node: string): string {
  const id = identityOf(node);
  const at = id.lastIndexOf('@');
  return at === -1 ? '' : id.slice(at + 1);
}

export const TUNNEL_DOMAIN = 'tunnel.msging.net';
export const META = {
  owner: '#tunnel.owner',
  originator: '#tunnel.originator',
} as const;
