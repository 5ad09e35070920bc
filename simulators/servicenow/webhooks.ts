/**
 * The asynchronous half of the API: VA response bodies POSTed to the configured response endpoint
 * (bot-api.md: "The VA then processes the request and sends a second response to the configured
 * response endpoint"; configure-response-endpoint-auth-va-api.md for its setup).
 *
 * - A `POST` of the JSON body to the Connection URL as configured, with the Credential
 *   (an authentication profile: Basic or OAuth 2.0 bearer) and up to 10 custom headers from the
 *   Attributes tab. **Unsigned**: "Outbound message creation … is currently not supported in the
 *   Virtual Agent API" (set-up-message-auth-va-api.md).
 * - "The default value for Connection timeout is 5000ms": an answer slower than the timeout is a
 *   failed attempt (status 0, `timedOut`).
 * - Retries are not documented: none by default (UNVERIFIED); `retry` turns them on.
 * - First attempts go out one at a time, in the order the VA produced them (UNVERIFIED).
 * - `redeliver` sends an attempt again, byte for byte: a duplicate response.
 */
import { Agent, request } from 'undici';
import { DEFAULT_CONNECTION_TIMEOUT_MS, MAX_CUSTOM_HEADERS } from './fixtures.js';
import type { DeliveryAttempt, OutboundRecord, OutboundRetry, ResponseEndpoint } from './types.js';

export function checkEndpoint(e: ResponseEndpoint): void {
  const u = new URL(e.url); // throws on a malformed URL
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('responseEndpoint.url must be http(s)');
  if (Object.keys(e.headers ?? {}).length > MAX_CUSTOM_HEADERS) {
    throw new Error(`responseEndpoint.headers: "You can add maximum ${MAX_CUSTOM_HEADERS} headers" (configure-response-endpoint-auth-va-api.md)`);
  }
  if (e.timeoutMs !== undefined && (!Number.isInteger(e.timeoutMs) || e.timeoutMs < 1)) throw new Error('responseEndpoint.timeoutMs must be a positive integer');
}

export interface DispatcherDeps {
  retry: Required<OutboundRetry>;
  delayMs: number;
  now: () => number;
  log: (line: string) => void;
}

export class ResponseDispatcher {
  endpoint: ResponseEndpoint | undefined;

  private chain: Promise<void> = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly agent = new Agent({ keepAliveTimeout: 1_000, connections: 16 });
  private stopped = false;

  constructor(private readonly deps: DispatcherDeps) {}

  /** Queues the first attempt of a record (the payload was snapshotted by the caller). */
  send(record: OutboundRecord): Promise<DeliveryAttempt | undefined> {
    const endpoint = this.endpoint;
    if (!endpoint) {
      record.state = 'unsent';
      this.deps.log(`response #${record.index} (${record.cause}) not sent: no response endpoint`);
      return Promise.resolve(undefined);
    }
    const first = this.chain.then(async () => {
      if (this.deps.delayMs > 0) await new Promise((r) => setTimeout(r, this.deps.delayMs));
      return this.attempt(record, endpoint, true, false);
    });
    this.chain = first.then(
      () => undefined,
      () => undefined,
    );
    this.track(first);
    return first;
  }

  /** One more attempt now, outside any retry schedule. */
  redeliver(record: OutboundRecord): Promise<DeliveryAttempt> {
    const endpoint = this.endpoint;
    if (!endpoint) return Promise.reject(new Error('no response endpoint'));
    const p = this.attempt(record, endpoint, false, true);
    this.track(p);
    return p;
  }

  cancelRetries(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
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

  private headers(e: ResponseEndpoint): Record<string, string> {
    const h: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    for (const [k, v] of Object.entries(e.headers ?? {})) h[k.toLowerCase()] = v;
    if (e.auth?.type === 'basic') h['authorization'] = `Basic ${Buffer.from(`${e.auth.username}:${e.auth.password}`).toString('base64')}`;
    if (e.auth?.type === 'bearer') h['authorization'] = `Bearer ${e.auth.token}`;
    return h;
  }

  private async attempt(record: OutboundRecord, e: ResponseEndpoint, retry: boolean, redelivery: boolean): Promise<DeliveryAttempt> {
    const n = record.attempts.length + 1;
    const body = JSON.stringify(record.payload);
    const headers = this.headers(e);
    const timeoutMs = e.timeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS;
    const at = this.deps.now();
    const t0 = performance.now();
    let status = 0;
    let response = '';
    let error: string | undefined;
    let timedOut = false;
    try {
      const res = await request(e.url, {
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
    } catch (err) {
      const x = err as Error & { code?: string };
      timedOut = x.name === 'TimeoutError' || x.code === 'UND_ERR_HEADERS_TIMEOUT' || x.code === 'UND_ERR_BODY_TIMEOUT';
      status = 0;
      error = `${x.name}: ${x.message}`;
    }
    const attempt: DeliveryAttempt = {
      index: record.index,
      attempt: n,
      redelivery,
      url: e.url,
      at,
      headers,
      body,
      status,
      response,
      ...(error !== undefined ? { error } : {}),
      ...(timedOut ? { timedOut } : {}),
      durationMs: Math.round(performance.now() - t0),
    };
    record.attempts.push(attempt);
    this.deps.log(`response #${record.index} (${record.cause}) attempt ${n}${redelivery ? ' (redelivery)' : ''} → ${status || error}`);

    if (status >= 200 && status < 300) {
      if (!redelivery) record.state = 'delivered';
    } else if (!retry) {
      // a redelivery leaves the schedule alone
    } else if (n <= this.deps.retry.retries && !this.stopped) {
      const delays = this.deps.retry.delaysMs;
      const delay = delays[Math.min(n - 1, delays.length - 1)] ?? 1000;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.track(this.attempt(record, e, true, false));
      }, delay);
      this.timers.add(timer);
    } else {
      record.state = 'failed';
    }
    return attempt;
  }
}
