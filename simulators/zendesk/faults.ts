/**
 * What can go wrong between an adapter and Zendesk, on demand (DESIGN §8 "Faults are tests"):
 * injected statuses per operation, an outage, latency. Operation names are the vendor's own
 * operationIds: SunCo's from the OpenAPI description, Support's from Zendesk's API reference.
 */

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

interface Pending {
  status: number;
  remaining: number;
  retryAfter?: string;
}

export class Faults {
  private readonly queued = new Map<SimRoute, Pending[]>();
  /** `reset` destroys the connection (what an outage looks like to undici); a number answers with it. */
  down: false | 'reset' | number = false;
  latencyMs = 0;

  /** Rules queue up per route: `failNext(r, {count: 2})` twice fails the next four requests to r. */
  failNext(route: SimRoute, f: InjectedFailure): void {
    const count = f.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new Error('failNext: count must be a positive integer');
    if (!Number.isInteger(f.status) || f.status < 100 || f.status > 599) throw new Error('failNext: status must be an HTTP status');
    const q = this.queued.get(route) ?? [];
    q.push({ status: f.status, remaining: count, ...(f.retryAfter !== undefined ? { retryAfter: String(f.retryAfter) } : {}) });
    this.queued.set(route, q);
  }

  /** Consumes one injected failure for this operation: the most specific rule first. */
  take(api: 'sc' | 'support', op: string): { status: number; retryAfter?: string } | undefined {
    for (const key of [`${api}:${op}`, `${api}:*`, '*'] as SimRoute[]) {
      const q = this.queued.get(key);
      const head = q?.[0];
      if (!q || !head) continue;
      head.remaining -= 1;
      if (head.remaining === 0) q.shift();
      return { status: head.status, ...(head.retryAfter !== undefined ? { retryAfter: head.retryAfter } : {}) };
    }
    return undefined;
  }

  clear(): void {
    this.queued.clear();
    this.down = false;
    this.latencyMs = 0;
  }
}
