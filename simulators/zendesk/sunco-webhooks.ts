/**
 * Delivers Sunshine Conversations webhook payloads to the custom integration's webhook target,
 * the way the spec's "Webhooks" tag describes (research §A.1.7):
 *
 * - Envelope `{app: {id}, webhook: {id, version: "v2"}, events: [{id, createdAt, type, payload}]}`
 *   (spec `x-webhooks` "Webhook Event"), with the webhook secret in `X-API-Key` (spec: "It is
 *   included as an X-API-Key header with each webhook request"). No HMAC: research §A.1.7.
 * - "A webhook payload contains an array of events, which may or may not originate from the same
 *   user or conversation": events that pile up while a payload is in flight go out together in the
 *   next one (at most `maxEventsPerPayload`, a number the spec does not give: UNVERIFIED).
 * - Retry policy (spec, tag Webhooks): "attempted up to 5 times over a 15 minute window … at an
 *   exponentially increasing interval if the target responds with anything but a success (2XX) or a
 *   non-recoverable error"; no response within 20 s is a failure; 400, 401, 403, 404 and 406 are
 *   never retried. The exact intervals are not published (UNVERIFIED): the default 1, 2, 4, 8 min
 *   fills the 15-minute window; tests pass shorter ones. A retry does not hold back later payloads,
 *   so a retried event can arrive after newer ones (research §D.3: ordering is not guaranteed).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';

/** Statuses the spec calls non-recoverable ("Sunshine Conversations will not reattempt a call"). */
export const NON_RECOVERABLE = new Set([400, 401, 403, 404, 406]);

export interface ScWebhookConfig {
  id: string;
  /** Where payloads go; undefined until the bridge's URL is known (setSunCoWebhookTarget). */
  target: string | undefined;
  secret: string;
  triggers: string[];
  includeFullUser: boolean;
  includeFullSource: boolean;
}

export interface ScEvent {
  id: string;
  createdAt: string;
  type: string;
  payload: Record<string, unknown>;
}

export interface ScWebhookPayload {
  app: { id: string };
  webhook: { id: string; version: 'v2' };
  events: ScEvent[];
}

/** One POST to the webhook target (retries are separate attempts of the same `deliveryId`). */
export interface ScDeliveryAttempt {
  deliveryId: number;
  attempt: number;
  url: string;
  at: number;
  headers: Record<string, string>;
  payload: ScWebhookPayload;
  /** The target's status; 0 when there was no answer (network error, timeout, no target). */
  status: number;
  error?: string;
  /** What happens next: `delivered`, `retry` (scheduled), `dropped` (non-recoverable or attempts exhausted). */
  outcome: 'delivered' | 'retry' | 'dropped';
}

export interface ScDispatcherOptions {
  appId: string;
  webhook: ScWebhookConfig;
  retryDelaysMs: number[];
  timeoutMs: number;
  maxEventsPerPayload: number;
  log: (line: string) => void;
}

export class SunCoWebhookDispatcher {
  readonly attempts: ScDeliveryAttempt[] = [];
  private readonly queue: ScEvent[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly dispatcher = new Agent({ keepAliveTimeout: 1_000, connections: 16 });
  private sending = false;
  private scheduled = false;
  private nextDeliveryId = 1;
  private stopped = false;

  constructor(private readonly options: ScDispatcherOptions) {}

  /** Queues an event; it goes out after the current tick, with whatever else piled up. */
  enqueue(event: ScEvent): void {
    if (this.stopped) return;
    this.queue.push(event);
    this.schedule();
  }

  /** True while something is queued, being sent or waiting for a retry. */
  get busy(): boolean {
    return this.queue.length > 0 || this.sending || this.scheduled || this.timers.size > 0 || this.inFlight.size > 0;
  }

  clear(): void {
    this.queue.length = 0;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.attempts.length = 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
    await this.dispatcher.close();
  }

  private schedule(): void {
    if (this.scheduled || this.sending) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.track(this.pump());
    });
  }

  /** First attempts go one payload at a time, so events produced meanwhile batch up. */
  private async pump(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const events = this.queue.splice(0, this.options.maxEventsPerPayload);
        const payload: ScWebhookPayload = {
          app: { id: this.options.appId },
          webhook: { id: this.options.webhook.id, version: 'v2' },
          events,
        };
        await this.attempt(this.nextDeliveryId++, payload, 1);
      }
    } finally {
      this.sending = false;
    }
  }

  private async attempt(deliveryId: number, payload: ScWebhookPayload, attempt: number): Promise<void> {
    const wh = this.options.webhook;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-api-key': wh.secret };
    const record = (status: number, error?: string): ScDeliveryAttempt['outcome'] => {
      const maxAttempts = this.options.retryDelaysMs.length + 1;
      const retryable = !NON_RECOVERABLE.has(status) && !(status >= 200 && status < 300);
      const outcome: ScDeliveryAttempt['outcome'] =
        status >= 200 && status < 300 ? 'delivered' : retryable && attempt < maxAttempts && wh.target !== undefined ? 'retry' : 'dropped';
      this.attempts.push({
        deliveryId,
        attempt,
        url: wh.target ?? '',
        at: Date.now(),
        headers,
        payload,
        status,
        ...(error !== undefined ? { error } : {}),
        outcome,
      });
      this.options.log(`webhook #${deliveryId} try ${attempt} [${payload.events.map((e) => e.type).join(', ')}] → ${status || error} (${outcome})`);
      return outcome;
    };

    let outcome: ScDeliveryAttempt['outcome'];
    if (wh.target === undefined) {
      outcome = record(0, 'no webhook target configured (setSunCoWebhookTarget)');
    } else {
      try {
        const res = await request(wh.target, {
          method: 'POST',
          headers,
          body: JSON.stringify(payload),
          headersTimeout: this.options.timeoutMs,
          bodyTimeout: this.options.timeoutMs,
          dispatcher: this.dispatcher,
        });
        await res.body.dump();
        outcome = record(res.statusCode);
      } catch (e) {
        outcome = record(0, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      }
    }
    if (outcome !== 'retry' || this.stopped) return;
    const delay = this.options.retryDelaysMs[attempt - 1] ?? 0;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.track(this.attempt(deliveryId, payload, attempt + 1));
    }, delay);
    this.timers.add(timer);
  }

  private track(p: Promise<void>): void {
    const t = p.catch((e: unknown) => this.options.log(`webhook delivery crashed: ${String(e)}`));
    this.inFlight.add(t);
    void t.finally(() => this.inFlight.delete(t));
  }
}

/** Resolves once `busy()` is false (nothing queued, in flight or waiting to retry). */
export async function untilIdle(busy: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (busy()) {
    if (Date.now() > deadline) throw new Error(`${what}: still busy after ${timeoutMs} ms`);
    await sleep(5);
  }
}
