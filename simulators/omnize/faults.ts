/**
 * What can go wrong between an app and Omnize's API, on demand: injected statuses per route, an
 * outage, latency. Omnize documents no rate limit (research §5: "Rate limits: none documented"),
 * so none is simulated; a 429 can be injected with `failNext`.
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
