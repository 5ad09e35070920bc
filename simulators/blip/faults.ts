/**
 * What can go wrong between a bot and Blip's HTTP API, on demand: injected statuses, an outage,
 * latency, and Blip's per-bot throughput limits.
 */

export type ApiPath = '/messages' | '/notifications' | '/commands';
export const API_PATHS: readonly ApiPath[] = ['/messages', '/notifications', '/commands'];

export interface InjectedFailure {
  status: number;
  count: number;
  retryAfter?: string;
}

export class Faults {
  private readonly queued = new Map<ApiPath, InjectedFailure[]>();
  /** `reset` drops the connection (what an outage looks like to undici); a number answers with it. */
  down: false | 'reset' | number = false;
  latencyMs = 0;

  /** Rules queue up: `failNext(p, {count: 2})` twice fails the next four requests to p. */
  failNext(path: ApiPath, f: InjectedFailure): void {
    if (!Number.isInteger(f.count) || f.count < 1) throw new Error('failNext: count must be a positive integer');
    const q = this.queued.get(path) ?? [];
    q.push({ ...f });
    this.queued.set(path, q);
  }

  /** Consumes one injected failure for this path, if any is pending. */
  take(path: ApiPath): InjectedFailure | undefined {
    const q = this.queued.get(path);
    const head = q?.[0];
    if (!q || !head) return undefined;
    head.count -= 1;
    if (head.count === 0) q.shift();
    return head;
  }

  clear(): void {
    this.queued.clear();
    this.down = false;
    this.latencyMs = 0;
  }
}

/**
 * Throughput per bot and per kind of envelope ([DOC] concepts2/throughput.md, research §1.2:
 * messages 3/s free, 50/s paid; notifications 6/100; commands 48/200). What Blip does beyond the
 * limit is UNVERIFIED (research §1.2: a third-party note says "429 for 2 minutes", third-party code
 * logs Cloudflare 1015 429s). We answer 429 with `Retry-After: 1` — the header is UNVERIFIED too —
 * in fixed one-second windows, and rejected requests do not count.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { second: number; count: number }>();

  constructor(private readonly perSecond: Partial<Record<ApiPath, number>>) {}

  /** Undefined when allowed, else the Retry-After value. */
  check(bot: string, path: ApiPath, now = Date.now()): string | undefined {
    const limit = this.perSecond[path];
    if (limit === undefined) return undefined;
    const second = Math.floor(now / 1000);
    const k = `${bot}\n${path}`;
    const w = this.windows.get(k);
    if (!w || w.second !== second) {
      this.windows.set(k, { second, count: 1 });
      return undefined;
    }
    if (w.count >= limit) return '1';
    w.count += 1;
    return undefined;
  }

  clear(): void {
    this.windows.clear();
  }
}
