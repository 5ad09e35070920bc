/**
 * What can go wrong between an app and a vendor's API, on demand, for the helpdesk simulators:
 * statuses injected per route, an outage, latency. Each simulator names its routes (`R`) and what
 * an injected failure carries besides its status (e.g. `Retry-After`).
 */
export interface Injected {
  status: number;
  /** How many requests it fails; default 1. */
  count?: number;
}

export class Faults<R extends string, F extends Injected = Injected> {
  private readonly queued = new Map<R | '*', Array<F & { count: number }>>();
  /** `reset` drops the connection (what an outage looks like to undici); a number answers with it. */
  down: false | 'reset' | number = false;
  latencyMs = 0;

  /** Rules queue up per route: `failNext(r, {count: 2})` twice fails the next four requests to r. */
  failNext(route: R | '*', f: F): void {
    const count = f.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new Error('failNext: count must be a positive integer');
    if (!Number.isInteger(f.status) || f.status < 100 || f.status > 599) throw new Error('failNext: status must be an HTTP status');
    const q = this.queued.get(route) ?? [];
    q.push({ ...f, count });
    this.queued.set(route, q);
  }

  /**
   * Consumes one injected failure for this route: its own rules first, then those of `wider` routes
   * in order (e.g. a whole API, `sc:*`), then `*`.
   */
  take(route: R | '*' | undefined, wider: readonly R[] = []): (F & { count: number }) | undefined {
    for (const key of route !== undefined && route !== '*' ? [route, ...wider, '*' as const] : ['*' as const]) {
      const q = this.queued.get(key);
      const head = q?.[0];
      if (!q || !head) continue;
      head.count -= 1;
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
