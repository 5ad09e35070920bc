/**
 * What can go wrong between a primary bot and the instance, on demand: injected statuses per
 * route, an outage, latency, and the instance's own inbound REST rate limiting (ServiceNowDocs
 * `rest-api-explorer/inbound-REST-API-rate-limiting.md`, research other-helpdesks.md §1.5: a rule
 * allows N requests per hour per user; over it, 429 with `Retry-After` and `X-RateLimit-*`).
 */
import type { FailRoute, InjectedFailure, RateLimitRule } from './types.js';

export class Faults {
  private readonly queued = new Map<FailRoute, InjectedFailure[]>();
  /** `reset` drops the connection (what an outage looks like to undici); a number answers with it. */
  down: false | 'reset' | number = false;
  latencyMs = 0;

  /** Rules queue up per route: `failNext(r, {count: 2})` twice fails the next four requests to r. */
  failNext(route: FailRoute, f: InjectedFailure): void {
    const count = f.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new Error('failNext: count must be a positive integer');
    if (!Number.isInteger(f.status) || f.status < 100 || f.status > 599) throw new Error('failNext: status must be an HTTP status');
    const q = this.queued.get(route) ?? [];
    q.push({ ...f, count });
    this.queued.set(route, q);
  }

  /** Consumes one injected failure for this route (its own rules first, then `*`). */
  take(route: FailRoute | undefined): InjectedFailure | undefined {
    for (const key of route ? [route, '*' as const] : ['*' as const]) {
      const q = this.queued.get(key);
      const head = q?.[0];
      if (!q || !head) continue;
      head.count = (head.count ?? 1) - 1;
      if (head.count <= 0) q.shift();
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
