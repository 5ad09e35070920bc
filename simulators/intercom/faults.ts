/**
 * What can go wrong between an app and Intercom's REST API, on demand (injected statuses, an outage,
 * latency), and Intercom's own rate limit.
 */
import { Faults as CommonFaults } from '../common/faults.js';
import type { ApiRoute, InjectedFailure } from './types.js';

/** Injected failures, outages and latency: the simulators' common kind. */
export class Faults extends CommonFaults<ApiRoute, InjectedFailure> {}

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
