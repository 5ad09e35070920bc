/**
 * Notifications to the app's webhook URL, signed and retried (research §B.4).
 *
 * - Signed: `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body, key = client secret>`.
 * - First attempts go out one at a time in the order the events happened; retries run on their own
 *   timers, so a retried notification can arrive after later ones (Intercom promises no order,
 *   research §D.3).
 * - A 2xx is delivered; anything else, a network error or no answer within `timeoutMs` is retried
 *   per the policy. The count, delays and timeout are UNVERIFIED (research §E) and configurable; a
 *   429 pushes the next attempt back by at least `throttleDelayMs` ([doc] webhook-notifications:
 *   "we throttle further notifications with a delay that starts at 1 minute").
 * - Not reproduced: pausing a topic after 1000 consecutive errors in 15 minutes, suspending after 7
 *   days, the 150,000/min priority and dropping throttled notifications (all [doc], all about volume
 *   or time scales no test reaches).
 */
import { Agent, request } from 'undici';
import { WEBHOOK_USER_AGENT, hubSignature, notification, notificationId, unix } from './fixtures.js';
import type { DeliveryAttempt, NotificationEvent, NotificationRecord, WebhookRetryPolicy, WebhookTopic } from './types.js';

export const DEFAULT_RETRY: Required<WebhookRetryPolicy> = {
  maxAttempts: 6,
  delaysMs: [60_000, 120_000, 240_000, 480_000, 960_000],
  timeoutMs: 5_000,
  throttleDelayMs: 60_000,
};

export interface DispatcherDeps {
  appId: string;
  clientSecret: string;
  retry: Required<WebhookRetryPolicy>;
  now: () => number;
  log: (line: string) => void;
  /** Every attempt, as it completes. */
  onAttempt: (a: DeliveryAttempt) => void;
}

export class WebhookDispatcher {
  url: string | undefined;
  topics: ReadonlySet<WebhookTopic> | undefined;

  private chain: Promise<void> = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly agent = new Agent({ keepAliveTimeout: 1_000, connections: 16 });
  private stopped = false;

  constructor(private readonly deps: DispatcherDeps) {}

  /** Ping is always subscribed to (research §B.4). */
  subscribed(topic: WebhookTopic): boolean {
    return this.url !== undefined && (topic === 'ping' || this.topics === undefined || this.topics.has(topic));
  }

  /**
   * Records a notification for `item` (a snapshot is taken now) and, when subscribed, queues its
   * first attempt. `first` settles when that attempt has an answer.
   */
  emit(
    topic: WebhookTopic,
    item: NotificationEvent['data']['item'],
    conversationId?: string,
  ): { record: NotificationRecord; first: Promise<DeliveryAttempt | undefined> } {
    const createdAt = unix(this.deps.now());
    const id = notificationId();
    const snapshot = structuredClone(item);
    const record: NotificationRecord = {
      id,
      topic,
      ...(conversationId !== undefined ? { conversationId } : {}),
      createdAt,
      payload: notification({ id, appId: this.deps.appId, topic, item: snapshot, createdAt, firstSentAt: createdAt, attempt: 1 }),
      state: this.subscribed(topic) ? 'pending' : 'unsubscribed',
      attempts: [],
    };
    if (record.state === 'unsubscribed') {
      this.deps.log(`notification ${topic} not sent (no subscription)`);
      return { record, first: Promise.resolve(undefined) };
    }
    const url = this.url!;
    const first = this.chain.then(() => this.attempt(record, url, 1));
    this.chain = first.then(
      () => undefined,
      () => undefined,
    );
    this.track(first);
    return { record, first };
  }

  /**
   * One more attempt of a notification now, outside the retry schedule: the duplicate delivery an
   * at-least-once sender makes (research §D.1). Its outcome does not schedule further retries.
   */
  redeliver(record: NotificationRecord): Promise<DeliveryAttempt> {
    if (!this.url) throw new Error('IntercomSimulator.redeliver: no webhook URL');
    const p = this.attempt(record, this.url, record.attempts.length + 1, false);
    this.track(p);
    return p;
  }

  /** Cancels pending retries and waits for requests in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
    await this.agent.close();
  }

  /** Forgets scheduled retries (the records stay as they are). */
  cancelRetries(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private track(p: Promise<unknown>): void {
    const t = p.catch(() => undefined);
    this.inFlight.add(t);
    void t.finally(() => this.inFlight.delete(t));
  }

  private async attempt(record: NotificationRecord, url: string, n: number, retry = true): Promise<DeliveryAttempt> {
    const startedMs = this.deps.now();
    // first_sent_at: the first attempt's time, kept on every retry.
    const firstSentAt = n === 1 ? unix(startedMs) : record.payload.first_sent_at;
    const payload = notification({
      id: record.id,
      appId: this.deps.appId,
      topic: record.topic,
      item: record.payload.data.item,
      createdAt: record.createdAt,
      firstSentAt,
      attempt: n,
    });
    if (n === 1) record.payload = payload;
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': WEBHOOK_USER_AGENT,
      'x-hub-signature': hubSignature(this.deps.clientSecret, body),
    };
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
        headersTimeout: this.deps.retry.timeoutMs,
        bodyTimeout: this.deps.retry.timeoutMs,
        signal: AbortSignal.timeout(this.deps.retry.timeoutMs),
      });
      status = res.statusCode;
      response = await res.body.text();
    } catch (e) {
      error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    const attempt: DeliveryAttempt = {
      notificationId: record.id,
      topic: record.topic,
      attempt: n,
      url,
      at: startedMs,
      headers,
      body,
      status,
      response,
      ...(error !== undefined ? { error } : {}),
      durationMs: Math.round(performance.now() - t0),
    };
    record.attempts.push(attempt);
    this.deps.onAttempt(attempt);
    this.deps.log(`webhook ${record.topic} #${n} → ${status || error}`);

    if (status >= 200 && status < 300) {
      record.state = 'delivered';
    } else if (!retry) {
      // a redelivery leaves the record's state and schedule alone
    } else if (n < this.deps.retry.maxAttempts && !this.stopped) {
      const delays = this.deps.retry.delaysMs;
      let delay = delays[Math.min(n - 1, delays.length - 1)] ?? 0;
      if (status === 429) delay = Math.max(delay, this.deps.retry.throttleDelayMs);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.track(this.attempt(record, url, n + 1));
      }, delay);
      this.timers.add(timer);
    } else {
      record.state = 'failed';
    }
    return attempt;
  }
}
