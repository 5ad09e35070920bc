/**
 * Triggers to the account's webhook URL (interactions.md "Triggers": "Add your URL to receive the
 * trigger events").
 *
 * - A plain `POST` of the JSON payload, `Content-Type: application/json`, to the URL exactly as
 *   configured (a query string, e.g. a secret, is kept). **Unsigned**: Omnize documents no signature
 *   or auth header (research §5: "No header auth, no webhook signature documented").
 * - First attempts go out one at a time, in the order the events happened (UNVERIFIED: Omnize says
 *   nothing about ordering).
 * - A 2xx is delivered. Retries are not documented: by default there are none (one attempt), which
 *   is UNVERIFIED; `webhookRetry` turns them on (non-2xx, network error or timeout → retry after
 *   `delaysMs[n]`, on its own timer).
 * - `redeliver` sends an attempt again, byte for byte (the payloads carry no delivery counter).
 */
import { Agent, request } from 'undici';
import type { Delivery, TriggerEvent, TriggerPayload, TriggerRecord, WebhookRetryPolicy } from './types.js';

export const DEFAULT_RETRY: Required<WebhookRetryPolicy> = { maxAttempts: 1, delaysMs: [1_000], timeoutMs: 5_000 };

export interface DispatcherDeps {
  retry: Required<WebhookRetryPolicy>;
  now: () => number;
  log: (line: string) => void;
  /** Every attempt as it completes; returns the index it got in the deliveries list. */
  onAttempt: (d: Omit<Delivery, 'index'>) => Delivery;
}

export class TriggerDispatcher {
  url: string | undefined;

  private seq = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly agent = new Agent({ keepAliveTimeout: 1_000, connections: 16 });
  private stopped = false;

  constructor(private readonly deps: DispatcherDeps) {}

  /** Records a trigger (the payload is snapshotted now) and queues its first attempt when a URL is set. */
  emit(event: TriggerEvent, interactionHash: string, payload: TriggerPayload): { record: TriggerRecord; first: Promise<Delivery | undefined> } {
    const record: TriggerRecord = {
      id: ++this.seq,
      event,
      interactionHash,
      payload: structuredClone(payload),
      at: this.deps.now(),
      state: this.url === undefined ? 'unsent' : 'pending',
      attempts: [],
    };
    if (this.url === undefined) {
      this.deps.log(`trigger ${event} not sent (no webhook URL)`);
      return { record, first: Promise.resolve(undefined) };
    }
    const url = this.url;
    const first = this.chain.then(() => this.attempt(record, url, true));
    this.chain = first.then(
      () => undefined,
      () => undefined,
    );
    this.track(first);
    return { record, first };
  }

  /** One more attempt of a trigger now, outside any retry schedule: a duplicate delivery. */
  redeliver(record: TriggerRecord, url: string): Promise<Delivery> {
    const p = this.attempt(record, url, false, true);
    this.track(p);
    return p;
  }

  cancelRetries(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Cancels pending retries and waits for requests in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelRetries();
    await Promise.allSettled([...this.inFlight]);
    await this.agent.close();
  }

  private track(p: Promise<unknown>): void {
    const t = p.catch(() => undefined);
    this.inFlight.add(t);
    void t.finally(() => this.inFlight.delete(t));
  }

  private async attempt(record: TriggerRecord, url: string, retry: boolean, redelivery = false): Promise<Delivery> {
    const n = record.attempts.length + 1;
    const at = this.deps.now();
    const body = JSON.stringify(record.payload);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const timeoutMs = this.deps.retry.timeoutMs;
    const t0 = performance.now();
    let status = 0;
    let response = '';
    let error: string | undefined;
    try {
      const res = await request(url, {
        method: 'POST',
        headers,
        body,
        dispatcher: this.agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.statusCode;
      response = await res.body.text();
    } catch (e) {
      error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    const delivery = this.deps.onAttempt({
      triggerId: record.id,
      event: record.event,
      interactionHash: record.interactionHash,
      attempt: n,
      redelivery,
      url,
      at,
      headers,
      body,
      payload: structuredClone(record.payload),
      status,
      response,
      ...(error !== undefined ? { error } : {}),
      durationMs: Math.round(performance.now() - t0),
    });
    record.attempts.push(delivery);
    this.deps.log(`trigger ${record.event} #${n}${redelivery ? ' (redelivery)' : ''} → ${status || error}`);

    if (status >= 200 && status < 300) {
      if (!redelivery) record.state = 'delivered';
    } else if (!retry) {
      // a redelivery (or the last allowed attempt) leaves the schedule alone
    } else if (n < this.deps.retry.maxAttempts && !this.stopped) {
      const delays = this.deps.retry.delaysMs;
      const delay = delays[Math.min(n - 1, delays.length - 1)] ?? 0;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.track(this.attempt(record, url, true));
      }, delay);
      this.timers.add(timer);
    } else {
      record.state = 'failed';
    }
    return delivery;
  }
}
