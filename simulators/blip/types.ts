/**
 * The simulator's public types. `Received` entries are what bots sent to the API; `Sent` entries
 * are what the simulator (as Blip's router) POSTed to bots.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Contact, ThreadMessage } from './fixtures.js';

export interface SimBot {
  identifier: string;
  /** Base64, as the portal shows it (research §1.2). */
  accessKey: string;
  /** Router identifier, e.g. `acmerouter` (identity `acmerouter@msging.net`). */
  router: string;
  /** This sub-bot's service name in the router, the name Redirects use (research §2.1, §2.5). */
  service: string;
  messagesUrl?: string;
  notificationsUrl?: string;
  /** Static custom headers Blip sends to the bot's URLs (research §1.1), e.g. `{authorization: 'Bearer x'}`. */
  headers?: Record<string, string>;
}

export interface BlipSimulatorOptions {
  bots: SimBot[];
  /** Per bot; beyond it → 429 (research §1.2, behaviour UNVERIFIED). Unset kinds are unlimited. */
  rateLimit?: { messagesPerSecond: number; notificationsPerSecond?: number; commandsPerSecond?: number };
  /**
   * After accepting a message with an `id` to a customer, POST `accepted`, `dispatched` and
   * `received` notifications to the bot's notifications URL; `failed` when the tunnel is unknown.
   */
  notifyDispatched?: boolean;
  /** One line per request and per POST to a bot, on stderr. */
  log?: boolean;
  /** How long the router waits for a bot's answer. Blip's own timeout is UNVERIFIED. */
  botTimeoutMs?: number;
}

export type ReceivedKind = 'message' | 'notification' | 'command';

/** One request a bot made to the API and the status it got (requests dropped by `setDown` are not recorded). */
export interface Received {
  kind: ReceivedKind;
  /** Authenticated bot identifier; '' when authentication failed. */
  bot: string;
  at: number;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or the raw text when it was not JSON. */
  body: any;
  status: number;
  /** For commands: the command response returned in the body. */
  response?: unknown;
}

/** One POST the simulator made to a bot (customer messages, notifications). */
export interface Sent {
  kind: 'message' | 'notification';
  bot: string;
  url: string;
  at: number;
  body: Record<string, unknown>;
  /** The bot's HTTP status; 0 when the request failed (`error`) or there was no URL. */
  status: number;
  response: string;
  error?: string;
}

export interface BotAnswer {
  id: string;
  /** The bot's HTTP status; 0 when nothing reached the bot (another service is active, network error). */
  status: number;
  body: string;
  error?: string;
}

export interface CustomerInit {
  /** The customer's identity in the router, e.g. `5511999990001@wa.gw.msging.net`. */
  originator: string;
  /** Router identifier; default: the first bot's router (or `bot`'s). */
  router?: string;
  /** The sub-bot the customer is handed off to when `handedOff`; default: the router's first bot. */
  bot?: string;
  name?: string;
  email?: string;
  phoneNumber?: string;
  extras?: Record<string, string>;
  /** The bot conversation before hand-off, oldest first, as the router's thread holds it. */
  history?: Array<{ direction: 'sent' | 'received'; type: string; content: unknown; date?: string; metadata?: Record<string, string> }>;
  /** Default true: our sub-bot is already the active service (the main bot redirected to it). */
  handedOff?: boolean;
}

export interface CustomerMessage {
  type: string;
  content: unknown;
  id?: string;
  metadata?: Record<string, string>;
}

/** A customer message the router gave to a service other than the bot named (or a Redirect context). */
export interface Routed {
  router: string;
  originator: string;
  service: string;
  id: string;
  type: string;
  content: unknown;
  cause: 'customer' | 'redirect-context';
  at: number;
}

export interface RedirectRecord {
  router: string;
  originator: string;
  bot: string;
  from: string;
  to: string;
  context?: { type: string; value: unknown };
  at: number;
}

export interface WaitOptions {
  /** Also match requests answered with a non-2xx status (default: only accepted ones). */
  includeRejected?: boolean;
}

export interface CustomerView {
  originator: string;
  router: string;
  activeService: string;
  /** Bot identifier → tunnel address. */
  tunnels: Record<string, string>;
  contact: Contact;
  /** The router's thread, oldest first. */
  thread: ThreadMessage[];
  /** Accepted messages bots sent to this customer's tunnels. */
  messages: Received[];
}
