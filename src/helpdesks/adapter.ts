/**
 * The contract between the core and one helpdesk vendor (DESIGN §5). An adapter is created from
 * its validated config; the core never sees vendor payloads, and adapters never see LIME.
 */
import type { TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { ChatState, Content, ContentType } from '../core/content.js';
import type { HttpClient } from '../delivery/http.js';
import type { MediaPolicy } from '../core/media.js';

/**
 * Why an attendance ended: one list everywhere (webhook contract, admin API, metrics, the Redirect's
 * context; DESIGN §6). `agent`: the helpdesk ended it; `customer`: the customer asked to end, where a
 * helpdesk supports it; `admin`: an operator; `customer-inactive`, `no-agent`, `outside-hours`,
 * `expired`: the attendance's timers and hours; `failed`: the helpdesk could not open it.
 */
export const CLOSE_REASONS = ['agent', 'customer', 'admin', 'customer-inactive', 'no-agent', 'outside-hours', 'expired', 'failed'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** The person on the other side of the router, as we hand them to the helpdesk. */
export interface Customer {
  /** Stable key for the helpdesk's external id: the originator when Blip gave one, else the tunnel address. */
  id: string;
  /** The tunnel address Blip routes to us (`{tunnel-id}@tunnel.msging.net`); replies go here. */
  address: string;
  /** `#tunnel.originator`: the customer's identity in the router (e.g. `5511…@wa.gw.msging.net`). */
  originator?: string;
  /** `#tunnel.owner`: the router's identity. */
  router?: string;
  /** The channel's domain (e.g. `wa.gw.msging.net`). */
  channel?: string;
  name?: string;
  email?: string;
  phone?: string;
  /** Blip contact extras (string → string). */
  extras: Record<string, string>;
}

export interface AttendanceInfo {
  id: string;
  bot: string;
  openedAt: string;
}

export interface TranscriptEntry {
  direction: 'customer' | 'bot';
  at: string;
  content: Content;
}

/** What the store keeps of the vendor side: `key` finds the attendance from a webhook. */
export interface HelpdeskRef {
  key: string;
  data?: Record<string, unknown>;
}

export interface OutgoingMessage {
  /** Our message id: stable across retries, usable as an idempotency key. */
  id: string;
  at: string;
  content: Content;
  /** The customer sent it as sensitive (LIME sensitive): mark it so where the helpdesk can; we keep only a placeholder once it is delivered. */
  sensitive?: boolean;
}

/**
 * Identifies which attendance a vendor event is about: our id, or the vendor key from the ref
 * (with our id too when the vendor echoes it back: both must then match).
 */
export type AttendanceMatch = { id: string } | { key: string; id?: string };

export type HelpdeskEvent =
  | {
      kind: 'agent.message';
      eventId: string;
      attendance: AttendanceMatch;
      message: { id: string; content: Content; agent?: { id?: string; name?: string } };
    }
  | { kind: 'agent.typing'; eventId: string; attendance: AttendanceMatch; state: ChatState }
  | { kind: 'agent.assigned'; eventId: string; attendance: AttendanceMatch; agent?: { id?: string; name?: string } }
  | { kind: 'attendance.ended'; eventId: string; attendance: AttendanceMatch; reason?: string }
  /**
   * The helpdesk says no agent is available for this attendance (Omnize `unavailable`, …): with
   * `attendance.waitingForAgent.handBackAfter` set the customer is handed back at once (no-agent).
   */
  | { kind: 'no-agent'; eventId: string; attendance: AttendanceMatch; text?: string }
  /** Something the customer should be told that no agent wrote (queue position…). */
  | { kind: 'notice'; eventId: string; attendance: AttendanceMatch; text: string }
  | { kind: 'ignored'; reason: string };

export interface AgentMessageStatus {
  /** The id the helpdesk's event gave the agent message (HelpdeskEvent agent.message `message.id`). */
  sourceId: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  /** For `failed`: a stable code (e.g. BLIP_REFUSED, DELIVERY_DEAD) and a plain sentence for the agent. */
  code?: string;
  reason?: string;
}

export interface CheckResult {
  ok: boolean;
  detail: string;
}

/** Context each call gets: `attempt` starts at 1, so adapters can tell a retry. */
export interface CallContext {
  attempt: number;
  deliveryId: number;
}

export interface WebhookReceiver {
  /** Verify authenticity on the raw bytes, in constant time; fail closed. */
  verify(rawBody: Buffer, headers: Record<string, string | string[] | undefined>, query?: Record<string, string | undefined>): { ok: true } | { ok: false; reason: string };
  /** Turn a verified body into events; throw a BridgeError (400) on a malformed body. */
  parse(body: unknown, headers: Record<string, string | string[] | undefined>): HelpdeskEvent[];
  /**
   * What to answer for an event about an attendance we do not know or have closed: our own tool
   * contract wants 404/409; vendors that retry forever on 4xx want a 200 "ignored".
   */
  unmatched: 'reject' | 'ignore';
}

export interface HelpdeskAdapter {
  readonly type: string;
  /**
   * `batch`: deliverBatch takes up to this many consecutive messages when the lane is behind.
   * `accountRateLimit`: the vendor's rate limit is account-wide, so one 429 pauses every lane of the
   * bot to this helpdesk (otherwise only the lane that got it waits).
   */
  readonly capabilities: { contents: readonly ContentType[]; typing: boolean; batch?: number; accountRateLimit?: boolean };
  check(): Promise<CheckResult>;
  open(attendance: AttendanceInfo, customer: Customer, transcript: TranscriptEntry[], ctx: CallContext): Promise<HelpdeskRef>;
  deliver(ref: HelpdeskRef, attendance: AttendanceInfo, message: OutgoingMessage, ctx: CallContext): Promise<{ vendorMessageId?: string }>;
  /** Several consecutive customer messages as one vendor message (rate-limited vendors). */
  deliverBatch?(ref: HelpdeskRef, attendance: AttendanceInfo, messages: OutgoingMessage[], ctx: CallContext): Promise<{ vendorMessageId?: string }>;
  signal?(ref: HelpdeskRef, attendance: AttendanceInfo, state: ChatState, ctx: CallContext): Promise<void>;
  /**
   * What became of an agent message on the customer's side (issue 11): `sent` (Blip took it),
   * `delivered` / `read` (Blip's `received` / `consumed` notifications), `failed` (refused by Blip or
   * dead after its retries). `failed` must reach the agent the way the helpdesk shows such things
   * (an internal note, the vendor's message-status API); the others where the helpdesk shows them.
   */
  messageStatus?(ref: HelpdeskRef, attendance: AttendanceInfo, update: AgentMessageStatus, ctx: CallContext): Promise<void>;
  close?(ref: HelpdeskRef, attendance: AttendanceInfo, reason: CloseReason, ctx: CallContext): Promise<void>;
  webhook?: WebhookReceiver;
}

export interface AdapterDeps {
  http: HttpClient;
  log: Logger;
  botId: string;
  /** Where customer attachments may be downloaded from, for adapters that re-upload them. */
  media: MediaPolicy;
  /** A signed, expiring URL of the attendance's transcript on this service (undefined without server.publicUrl). */
  transcriptUrl?(attendanceId: string): string | undefined;
}

export interface AdapterDefinition<C = unknown> {
  type: string;
  /** TypeBox schema of `bots[].helpdesk` for this type (must include `type: Literal(type)`). */
  configSchema: TSchema;
  create(config: C, deps: AdapterDeps): HelpdeskAdapter;
}
