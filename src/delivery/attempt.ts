/**
 * How long one delivery attempt may run, and the lease that covers it (DESIGN §3, issue 15).
 *
 * A worker leases a lane head for `leaseMs`; another worker or replica takes the head over once the
 * lease has ended. An attempt that is still sending by then would send a second time what the new
 * holder sends, possibly after later messages of its lane (a replica frozen by SIGSTOP, a VM
 * paused, a stalled event loop). So each attempt runs under a deadline that ends LEASE_MARGIN_MS
 * before its lease does, and every outbound call made inside it (HttpClient) is refused once that
 * deadline has passed and given at most what is left of it. The check is the last thing before the
 * request leaves, so a replica that resumes after its lease ended sends nothing.
 *
 * The deadline travels with the attempt's async context rather than through every adapter's
 * signature: any call any adapter or the Blip client makes inside `execute` is bounded by it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Between an attempt's deadline and the end of its lease: room for replicas' clocks to differ
 * (NTP keeps them within milliseconds) and for an aborted call to be noticed.
 */
export const LEASE_MARGIN_MS = 5_000;

export interface AttemptTiming {
  /** The longest deadline of any single outbound call an attempt may make. */
  longestCallMs: number;
  /** The deadline of a whole attempt, from its claim. */
  attemptMs: number;
  /** How long a claim holds a lane head: attemptMs + LEASE_MARGIN_MS. */
  leaseMs: number;
}

/** What the timing is derived from: the parts of the config that set call deadlines. */
export interface TimingSources {
  delivery: { timeoutMs: number; attemptTimeoutMs?: number | undefined };
  media?: { timeoutMs: number };
  /** Each bot's helpdesk settings: adapters that have a `timeoutMs` use it for their own calls. */
  bots?: ReadonlyArray<{ id: string; helpdesk: Record<string, unknown> }>;
}

/**
 * The longest single call is the largest of delivery.timeoutMs (Blip and the default), each bot's
 * `helpdesk.timeoutMs` (adapters' own deadlines, up to 120 s) and media.timeoutMs (attachments
 * downloaded to re-upload them). By default an attempt may last that plus two ordinary calls (an
 * open reads the contact and the transcript from Blip before it calls the helpdesk).
 * `delivery.attemptTimeoutMs` sets it instead, but never below the longest call: a lease shorter
 * than a call the attempt may make is what let a slow call be sent twice.
 */
export function attemptTiming(s: TimingSources): AttemptTiming {
  let longestCallMs = Math.max(s.delivery.timeoutMs, s.media?.timeoutMs ?? 0);
  for (const bot of s.bots ?? []) {
    const t = bot.helpdesk['timeoutMs'];
    if (typeof t === 'number' && Number.isFinite(t)) longestCallMs = Math.max(longestCallMs, t);
  }
  const attemptMs = s.delivery.attemptTimeoutMs ?? longestCallMs + 2 * s.delivery.timeoutMs;
  return { longestCallMs, attemptMs, leaseMs: attemptMs + LEASE_MARGIN_MS };
}

/** A config problem, or undefined: `delivery.attemptTimeoutMs` shorter than a call it must cover. */
export function attemptTimingProblem(s: TimingSources): string | undefined {
  const configured = s.delivery.attemptTimeoutMs;
  if (configured === undefined) return undefined;
  const { longestCallMs } = attemptTiming({ ...s, delivery: { timeoutMs: s.delivery.timeoutMs } });
  if (configured >= longestCallMs) return undefined;
  return `delivery.attemptTimeoutMs: ${configured} is shorter than the longest call an attempt may make (${longestCallMs} ms: the largest of delivery.timeoutMs, media.timeoutMs and each bot's helpdesk.timeoutMs)`;
}

interface AttemptScope {
  /** Epoch ms after which nothing may be sent for this attempt. */
  deadline: number;
}

const scope = new AsyncLocalStorage<AttemptScope>();

/** Runs one attempt with its deadline: calls made inside it (and in what it awaits) are bounded by it. */
export function withDeadline<T>(deadline: number, fn: () => Promise<T>): Promise<T> {
  return scope.run({ deadline }, fn);
}

/**
 * For a call about to leave: the time it may take (its own timeout, cut to what is left of the
 * attempt), or undefined when the attempt's deadline has passed and it must not be sent.
 */
export function callBudget(timeoutMs: number, now = Date.now()): number | undefined {
  const s = scope.getStore();
  if (!s) return timeoutMs;
  const left = s.deadline - now;
  return left > 0 ? Math.min(timeoutMs, left) : undefined;
}
