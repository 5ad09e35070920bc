/**
 * What can go wrong between a primary bot and the instance, on demand: injected statuses per
 * route, an outage, latency, and the instance's own inbound REST rate limiting (ServiceNowDocs
 * `rest-api-explorer/inbound-REST-API-rate-limiting.md`, research other-helpdesks.md §1.5: a rule
 * allows N requests per hour per user; over it, 429 with `Retry-After` and `X-RateLimit-*`).
 */
import { Faults as CommonFaults } from '../common/faults.js';
import type { ApiRoute, InjectedFailure, RateLimitRule } from './types.js';

/** Injected failures, outages and latency: the simulators' common kind. */
export class Faults extends CommonFaults<ApiRoute, InjectedFailure> {}

export interface RateVerdict {
  allowed: boolean;
  /** `X-RateLimit-*` (and `Retry-After` when refused). */
  headers: Record<string, string>;
}

/**
 * One rule, fixed windows per user (the rate-limiting page counts "requests per hour" per user and
 * resets at the window's end). The headers' exact semantics are the page's: `X-RateLimit-Limit` the
 * rule's limit, `X-RateLimit-Reset` the window's end in epoch seconds, `X-RateLimit-Rule` the
 * rule's sys_id. That they are sent on allowed requests too is UNVERIFIED.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  readonly ruleSysId: string;

  constructor(
    readonly rule: RateLimitRule,
    private readonly now: () => number,
    ruleSysId: string,
  ) {
    if (!Number.isInteger(rule.limit) || rule.limit < 1) throw new Error('rateLimit.limit must be a positive integer');
    this.ruleSysId = rule.ruleSysId ?? ruleSysId;
  }

  take(user: string): RateVerdict {
    const windowMs = (this.rule.windowSeconds ?? 3600) * 1000;
    const now = this.now();
    let w = this.windows.get(user);
    if (!w || now >= w.start + windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(user, w);
    }
    const resetMs = w.start + windowMs;
    const headers: Record<string, string> = {
      'x-ratelimit-limit': String(this.rule.limit),
      'x-ratelimit-reset': String(Math.ceil(resetMs / 1000)),
      'x-ratelimit-rule': this.ruleSysId,
    };
    if (w.count >= this.rule.limit) {
      headers['retry-after'] = String(Math.max(1, Math.ceil((resetMs - now) / 1000)));
      return { allowed: false, headers };
    }
    w.count += 1;
    return { allowed: true, headers };
  }

  clear(): void {
    this.windows.clear();
  }
}
