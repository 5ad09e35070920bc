/**
 * The shapes Blip puts on the wire, built in one place so each can cite what it follows.
 * Citations: `research §x` = ../shared/research/blip.md; `[DOC] path` = takenet/blip-docs
 * `source/includes/en/<path>`; `[LIME-C#] path` = takenet/lime-csharp. Anything not backed by a
 * source is marked UNVERIFIED where it is built.
 */
import { createHash, randomUUID } from 'node:crypto';
import { MIME, TUNNEL_DOMAIN } from '../../src/lime/envelope.js';

/** Bots and routers live in this domain ([DOC] concepts2/addressing.md, research §3.1). */
export const BOT_DOMAIN = 'msging.net';

/** The postmasters that answer commands (research §1.2 "Inbound extension endpoints"). */
export const POSTMASTER = {
  msging: `postmaster@${BOT_DOMAIN}`,
  crm: 'postmaster@crm.msging.net',
  tunnel: `postmaster@${TUNNEL_DOMAIN}`,
} as const;

/**
 * Blip answers from a postmaster node whose instance names the server, e.g.
 * `postmaster@msging.net/#az-iris1` ([DOC] extensions/chat-history.md, research §1.2).
 */
export const SERVER_INSTANCE = '#az-iris1';

/**
 * LIME reason codes, from [LIME-C#] src/Lime.Protocol/ReasonCodes.cs (commit 6e927d1). The codes
 * are LIME's; the descriptions Blip attaches to them are UNVERIFIED except 42's, which is the
 * example in research §3.1 ([LIME] index.html).
 */
export const REASON = {
  authorizationError: { code: 31, description: 'Unauthorized access to the resource' }, // description UNVERIFIED
  destinationNotFound: { code: 42, description: 'Destination not found' }, // research §3.1
  resourceNotSupported: { code: 62, description: 'The resource is not supported' }, // description UNVERIFIED
  methodNotSupported: { code: 63, description: 'The method is not supported' }, // description UNVERIFIED
  invalidArgument: { code: 64, description: 'Invalid argument' }, // description UNVERIFIED
  resourceNotFound: { code: 67, description: 'The requested resource was not found' }, // description UNVERIFIED
} as const;

export type Reason = { code: number; description: string };

export function botIdentity(identifier: string): string {
  return `${identifier}@${BOT_DOMAIN}`;
}

/**
 * Tunnel ids are "unique … represents the sender, receiver and originator" ([DOC] extensions/tunnel.md,
 * research §2.2). Real ids look like v4 UUIDs; whether they are stable over time is UNVERIFIED
 * (research §2.3). We derive them from the triple so they are stable across resets and restarts,
 * which keeps sandbox sessions and benchmark runs reproducible.
 */
export function tunnelIdFor(router: string, originator: string, bot: string): string {
  const h = createHash('sha256').update(`${router}\n${originator.toLowerCase()}\n${bot}`).digest('hex');
  const variant = ((parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}@${TUNNEL_DOMAIN}`;
}

/**
 * What the router forwards to a sub-bot, after research §2.2 ([OBSERVED] WhatsApp message received
 * by a sub-bot) and §2.3 (metadata keys). `#tunnel.originalFrom`'s instance is invented (the
 * observed one is `iris-hosted-4`); `#wa.timestamp` is only set for WhatsApp originators, as observed.
 */
export function inboundMessage(args: {
  id: string;
  tunnel: string;
  bot: string;
  router: string;
  originator: string;
  type: string;
  content: unknown;
  metadata?: Record<string, string>;
  now: number;
}): Record<string, unknown> {
  const channel: Record<string, string> = args.originator.toLowerCase().endsWith('@wa.gw.msging.net')
    ? { '#wa.timestamp': String(Math.floor(args.now / 1000)) }
    : {};
  return {
    id: args.id,
    from: args.tunnel,
    to: botIdentity(args.bot),
    type: args.type,
    content: args.content,
    metadata: {
      ...channel,
      '#uniqueId': randomUUID(),
      date_created: String(args.now),
      '#date_processed': String(args.now),
      '#tunnel.owner': botIdentity(args.router),
      '#tunnel.originator': args.originator,
      '#tunnel.originalFrom': `${botIdentity(args.router)}/iris-hosted-1`,
      // `{dest%40msging.net}@tunnel.msging.net/{originator%40…}` — research §2.3.
      '#tunnel.originalTo': `${encodeURIComponent(botIdentity(args.bot))}@${TUNNEL_DOMAIN}/${encodeURIComponent(args.originator)}`,
      ...args.metadata,
    },
  };
}

/**
 * The server's own `accepted` for a message a bot sent: from the postmaster, `#message.to` = where
 * the message went ([DOC] extensions/chat-history.md, "Get notifications of a message").
 */
export function serverNotification(args: {
  id: string;
  bot: string;
  event: 'accepted' | 'failed';
  messageTo: string;
  reason?: Reason;
  now: number;
}): Record<string, unknown> {
  return {
    id: args.id,
    from: `${POSTMASTER.msging}/${SERVER_INSTANCE}`,
    to: botIdentity(args.bot),
    event: args.event,
    ...(args.reason ? { reason: args.reason } : {}),
    metadata: {
      '#envelope.timestamp': String(args.now),
      '#message.to': args.messageTo,
      '#envelope.storageDate': new Date(args.now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    },
  };
}

/**
 * A notification the customer's side produced (dispatched/received/consumed), forwarded through the
 * tunnel: research §3.1 [OBSERVED] "a notification as received by a sub-bot for a tunnelled message"
 * and [DOC] extensions/chat-history.md "Get logged notifications". Both sources show
 * `#tunnel.owner: postmaster@msging.net` (not the router) on these, so we do the same: a bridge must
 * not take the router from a notification's metadata.
 */
export function tunnelNotification(args: {
  id: string;
  tunnel: string;
  bot: string;
  router: string;
  originator: string;
  event: string;
  reason?: Reason;
  metadata?: Record<string, string>;
  now: number;
}): Record<string, unknown> {
  return {
    id: args.id,
    from: args.tunnel,
    to: botIdentity(args.bot),
    event: args.event,
    ...(args.reason ? { reason: args.reason } : {}),
    metadata: {
      '#envelope.timestamp': String(args.now),
      '#message.uniqueId': randomUUID(),
      '#message.to': botIdentity(args.router),
      '#tunnel.owner': POSTMASTER.msging,
      '#tunnel.originator': args.originator,
      '#tunnel.originalFrom': `${POSTMASTER.msging}/#iris-hosted-1`,
      '#tunnel.originalTo': `${encodeURIComponent(botIdentity(args.bot))}@${TUNNEL_DOMAIN}/${encodeURIComponent(args.originator)}`,
      '#envelope.storageDate': new Date(args.now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      ...args.metadata,
    },
  };
}

/**
 * `application/vnd.lime.contact+json` resource ([DOC] extensions/contacts.md, documents/contact.md,
 * research §4.2). `extras` is string→string only, as documented.
 */
export interface Contact {
  identity: string;
  name?: string;
  email?: string;
  phoneNumber?: string;
  extras?: Record<string, string>;
  lastMessageDate?: string;
  source?: string;
}

/**
 * `application/vnd.iris.thread-message+json` item ([DOC] extensions/chat-history.md "Get last
 * messages", research §4.1): `direction` is from the thread owner's point of view ('received' = the
 * customer wrote); status starts `accepted` for received items and follows notifications for sent ones.
 */
export interface ThreadMessage {
  id: string;
  direction: 'sent' | 'received';
  type: string;
  content: unknown;
  date: string;
  status: string;
  metadata: Record<string, string>;
}

/** `application/vnd.iris.tunnel+json` ([DOC] extensions/tunnel.md, documents/tunnels.md, research §2.3). */
export interface Tunnel {
  owner: string;
  originator: string;
  destination: string;
}

export const COLLECTION = MIME.collection;

/** Command responses come back in the HTTP 200 body, failures included ([DOC] concepts2/commands.md, research §1.2). */
export function commandSuccess(
  cmd: { id: string; method: string; uri: string },
  caller: string,
  postmaster: string,
  type: string,
  resource: unknown,
): Record<string, unknown> {
  return {
    type,
    resource,
    method: cmd.method,
    status: 'success',
    id: cmd.id,
    from: `${postmaster}/${SERVER_INSTANCE}`,
    to: caller,
    metadata: { '#command.uri': commandUri(cmd.uri, caller) },
  };
}

export function commandFailure(
  cmd: { id: string; method: string; uri: string },
  caller: string,
  postmaster: string,
  reason: Reason,
): Record<string, unknown> {
  return {
    method: cmd.method,
    status: 'failure',
    reason,
    id: cmd.id,
    from: `${postmaster}/${SERVER_INSTANCE}`,
    to: caller,
    metadata: { '#command.uri': commandUri(cmd.uri, caller) },
  };
}

/** Blip echoes the absolute form of the uri in `#command.uri` ([DOC] extensions/contacts.md example). */
function commandUri(uri: string, caller: string): string {
  return uri.startsWith('lime://') ? uri : `lime://${caller}${uri.startsWith('/') ? '' : '/'}${uri}`;
}
