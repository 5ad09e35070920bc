/**
 * Zendesk (Support) webhook deliveries: one POST per invocation, signed as research §A.2.5 says
 * (developer.zendesk.com/documentation/webhooks/verifying):
 *
 *   X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(key = signing secret as given, TIMESTAMP + BODY))
 *
 * with TIMESTAMP the exact `X-Zendesk-Webhook-Signature-Timestamp` header (`2021-03-25T05:09:27Z`),
 * and the other headers of "Anatomy of a webhook request": `x-zendesk-account-id`,
 * `x-zendesk-webhook-id`, `x-zendesk-webhook-invocation-id` (plus `User-Agent: Zendesk Webhook`, 3p).
 *
 * Retries: Zendesk's developer docs have a "Webhook retries" section
 * (developer.zendesk.com/api-reference/webhooks/introduction: "Zendesk webhooks retry failed HTTP
 * requests that return certain HTTP response codes") whose details research could not read
 * (§A.2.5, §E). The default policy here is UNVERIFIED and configurable: 409 is retried; 429 and
 * 503 are retried only when `Retry-After` is under 60 s (after that delay); timeouts (10 s, 3p) and
 * connection errors are retried; anything else, 500 included, is not. At most 3 retries. Each
 * attempt is signed afresh with its own timestamp (UNVERIFIED).
 */
import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import { isoSeconds } from './ids.js';

export interface SupportRetryPolicy {
  /** Retried after `delaysMs[attempt - 1]`. Default [409]. */
  statuses: number[];
  /** Retried only with a `Retry-After` below `maxRetryAfterSeconds`, after that many seconds. Default [429, 503]. */
  retryAfterStatuses: number[];
  maxRetryAfterSeconds: number;
  /** Default true: timeouts and connection errors are retried. */
  onNetworkError: boolean;
  /** Delays before retries 1, 2, 3…; its length is the number of retries. Default 10 s, 30 s, 60 s. */
  delaysMs: number[];
  /** Default 10 s (research §A.2.5, third-party summary of Zendesk's docs). */
  timeoutMs: number;
}

export const DEFAULT_SUPPORT_RETRY: SupportRetryPolicy = {
  statuses: [409],
  retryAfterStatuses: [429, 503],
  maxRetryAfterSeconds: 60,
  onNetworkError: true,
  delaysMs: [10_000, 30_000, 60_000],
  timeoutMs: 10_000,
};

export interface SupportWebhookConfig {
  id: string;
  endpoint: string | undefined;
  signingSecret: string;
}

export interface SupportDeliveryAttempt {
  invocationId: string;
  attempt: number;
  url: string;
  at: number;
  headers: Record<string, string>;
  /** The exact body sent (what the signature covers). */
  body: string;
  /** What fired it: `trigger:comment`, `trigger:solved`, or a `zen:event-type:…`. */
  source: string;
  ticketId: number;
  status: number;
  error?: string;
  outcome: 'delivered' | 'retry' | 'dropped';
}

/** base64(HMAC-SHA256(secret, timestamp + body)) (research §A.2.5). */
export function zendeskSignature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret)
    .update(timestamp + body)
    .digest('base64');
}

export class SupportWebhookDispatcher {
  readonly attempts: SupportDeliveryAttempt[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly dispatcher = new Agent({ keepAliveTimeout: 1_000, connections: 16 });
  private nextInvocation = 8_350_205_582; // like the docs' example invocation id
  private stopped = false;

  constructor(
    private readonly webhook: SupportWebhookConfig,
    private readonly accountId: number,
    private readonly policy: SupportRetryPolicy,
    private readonly log: (line: string) => void,
  ) {}

  get busy(): boolean {
    return this.timers.size > 0 || this.inFlight.size > 0;
  }

  invoke(body: string, source: string, ticketId: number): string {
    const invocationId = String(this.nextInvocation++);
    if (!this.stopped) this.track(this.attempt(invocationId, body, source, ticketId, 1));
    return invocationId;
  }

  clear(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.attempts.length = 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
    await this.dispatcher.close();
  }

  private async attempt(invocationId: string, body: string, source: string, ticketId: number, attempt: number): Promise<void> {
    const timestamp = isoSeconds();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'Zendesk Webhook',
      'x-zendesk-account-id': String(this.accountId),
      'x-zendesk-webhook-id': this.webhook.id,
      'x-zendesk-webhook-invocation-id': invocationId,
      'x-zendesk-webhook-signature': zendeskSignature(this.webhook.signingSecret, timestamp, body),
      'x-zendesk-webhook-signature-timestamp': timestamp,
    };
    const url = this.webhook.endpoint;
    let status = 0;
    let error: string | undefined;
    let retryAfter: string | undefined;
    if (url === undefined) error = 'no webhook endpoint configured (setSupportWebhookEndpoint)';
    else {
      try {
        const res = await request(url, {
          method: 'POST',
          headers,
          body,
          headersTimeout: this.policy.timeoutMs,
          bodyTimeout: this.policy.timeoutMs,
          dispatcher: this.dispatcher,
        });
        await res.body.dump();
        status = res.statusCode;
        const ra = res.headers['retry-after'];
        retryAfter = Array.isArray(ra) ? ra[0] : ra;
      } catch (e) {
        error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      }
    }
    const delay = url === undefined ? undefined : this.retryDelay(status, retryAfter, attempt);
    const outcome: SupportDeliveryAttempt['outcome'] = status >= 200 && status < 300 ? 'delivered' : delay !== undefined ? 'retry' : 'dropped';
    this.attempts.push({
      invocationId,
      attempt,
      url: url ?? '',
      at: Date.now(),
      headers,
      body,
      source,
      ticketId,
      status,
      ...(error !== undefined ? { error } : {}),
      outcome,
    });
    this.log(`support webhook ${source} #${invocationId} try ${attempt} → ${status || error} (${outcome})`);
    if (outcome !== 'retry' || this.stopped || delay === undefined) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.track(this.attempt(invocationId, body, source, ticketId, attempt + 1));
    }, delay);
    this.timers.add(timer);
  }

  /** Milliseconds before the next attempt, or undefined when there is none. */
  private retryDelay(status: number, retryAfter: string | undefined, attempt: number): number | undefined {
    if (status >= 200 && status < 300) return undefined;
    const fallback = this.policy.delaysMs[attempt - 1];
    if (fallback === undefined) return undefined;
    if (status === 0) return this.policy.onNetworkError ? fallback : undefined;
    if (this.policy.statuses.includes(status)) return fallback;
    if (this.policy.retryAfterStatuses.includes(status)) {
      const seconds = retryAfter !== undefined && /^\d+(\.\d+)?$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
      return seconds !== undefined && seconds < this.policy.maxRetryAfterSeconds ? seconds * 1000 : undefined;
    }
    return undefined;
  }

  private track(p: Promise<void>): void {
    const t = p.catch((e: unknown) => this.log(`support webhook crashed: ${String(e)}`));
    this.inFlight.add(t);
    void t.finally(() => this.inFlight.delete(t));
  }
}
