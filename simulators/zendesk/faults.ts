/**
 * What can go wrong between an adapter and Zendesk, on demand (DESIGN §8 "Faults are tests"):
 * injected statuses per operation, an outage, latency. Operation names are the vendor's own
 * operationIds: SunCo's from the OpenAPI description, Support's from Zendesk's API reference.
 */
import { Faults as CommonFaults } from '../common/faults.js';

export type SunCoOperation =
  | 'GetApp'
  | 'CreateUser'
  | 'GetUser'
  | 'CreateConversation'
  | 'GetConversation'
  | 'ListConversations'
  | 'PostMessage'
  | 'ListMessages'
  | 'PostActivity'
  | 'PassControl'
  | 'OfferControl'
  | 'AcceptControl'
  | 'ReleaseControl'
  | 'UploadAttachment'
  | 'ListWebhooks'
  | 'GetWebhook'
  | 'ListSwitchboards'
  | 'ListSwitchboardIntegrations';

export type SupportOperation =
  'CreateOrUpdateUser' | 'ShowUser' | 'SearchUsers' | 'CreateTicket' | 'UpdateTicket' | 'ShowTicket' | 'ListTicketComments' | 'UploadFiles' | 'DeleteUpload';

/** `sc:PostMessage`, `support:UpdateTicket`, a whole API (`sc:*`, `support:*`) or everything (`*`). */
export type SimRoute = `sc:${SunCoOperation}` | `support:${SupportOperation}` | 'sc:*' | 'support:*' | '*';

export interface InjectedFailure {
  status: number;
  /** How many requests fail; default 1. */
  count?: number;
  /** Sent as `Retry-After` (seconds, or an HTTP date) when given. */
  retryAfter?: number | string;
}

/**
 * The simulators' shared failure queue (simulators/common/faults.ts), with Zendesk's routes: an
 * operation's own rules first, then its API's (`sc:*`, `support:*`), then `*`.
 */
export class Faults extends CommonFaults<SimRoute, { status: number; count?: number; retryAfter?: string }> {
  override failNext(route: SimRoute, f: InjectedFailure): void {
    super.failNext(route, {
      status: f.status,
      ...(f.count !== undefined ? { count: f.count } : {}),
      ...(f.retryAfter !== undefined ? { retryAfter: String(f.retryAfter) } : {}),
    });
  }

  /** Consumes one injected failure for this operation. */
  takeFor(api: 'sc' | 'support', op: string): { status: number; retryAfter?: string } | undefined {
    const head = this.take(`${api}:${op}` as SimRoute, [`${api}:*`]);
    return head && { status: head.status, ...(head.retryAfter !== undefined ? { retryAfter: head.retryAfter } : {}) };
  }
}
