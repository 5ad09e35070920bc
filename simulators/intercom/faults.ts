/**
 * What can go wrong between an app and Intercom's REST API, on demand (injected statuses, an outage,
 * latency), and Intercom's own rate limit.
 */
import type { FailRoute, InjectedFailure } from './types.js';

export class Faults {
  private readonly queued = new Map<FailRoute, InjectedFailure[]>();
  /** `reset` drops the connection (what an outage looks like to undici); a number answers with it. */
  down: false | 'reset' | number = false;
  latencyMs = 0;

  /** Rules queue up per route: `failNext(r, {count: 2})` twice fails the next four requests to r. */
  failNext(route: FailRoute, f: InjectedFailure): void {
    if (!Number.isInteger(f.count) || f.count < 1) throw new Error('failNext: count must be a positive integer');
    if (!Number.isInteger(f.status) || f.status < 100 || f.status > 599) throw new Error('failNext: status must be an HTTP status');
    const q = this.queued.get(route) ?? [];
    q.push({ ...f });
    this.queued.set(route, q);
  }

  /** Consumes one injected failure for this route (its own rules first, then `*`). */
  take(route: FailRoute | undefined): InjectedFailure | undefined {
    for (const key of route ? [route, '*' as const] : ['*' as const]) {
      const q = this.queued.get(key);
      const head = q?.[0];
      if (!q || !head) continue;
      head.count -= 1;
      if (head.count === 0) q.shift();
      return head;
    }
    return undefined;
  }

  clear(): void {
    this.queued.clear();
    this.down = false;
    this.latencyMs = 0;
  }
}

export interface RateState {
  limit: number;
  remaining: number;
  /** UNIX seconds when the window ends. */
  reset: number;
  exceeded: boolean;
}

/**
 * [doc] developers.intercom.com rate-limiting (research §B.1): the per-app limit is "evenly
 * distributed into 10 second windows"; the doc's header example shows `X-RateLimit-Reset` moving
 * from 1487332510 to 1487332520, i.e. fixed windows ending on multiples of 10 s. Requests refused
 * with 429 do not count (the example's 429 shows Remaining 0, not a negative count).
 */
export class RateLimiter {
  private windowStart = -1;
  private count = 0;

  constructor(
    public limit: number,
    public readonly windowSeconds: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error('rateLimit.limit must be a positive integer');
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1) throw new Error('rateLimit.windowSeconds must be a positive integer');
  }

  take(nowMs: number): RateState {
    const sec = Math.floor(nowMs / 1000);
    const start = sec - (sec % this.windowSeconds);
    if (start !== this.windowStart) {
      this.windowStart = start;
      this.count = 0;
    }
    const reset = start + this.windowSeconds;
    if (this.count >= this.limit) return { limit: this.limit, remaining: 0, reset, exceeded: true };
    this.count += 1;
    return { limit: this.limit, remaining: this.limit - this.count, reset, exceeded: false };
  }

  /** The window as it stands, without counting a request (for injected 429s). */
  peek(nowMs: number): RateState {
    const sec = Math.floor(nowMs / 1000);
    const start = sec - (sec % this.windowSeconds);
    const used = start === this.windowStart ? this.count : 0;
    return { limit: this.limit, remaining: Math.max(0, this.limit - used), reset: start + this.windowSeconds, exceeded: false };
  }

  clear(): void {
    this.windowStart = -1;
    this.count = 0;
  }
}
