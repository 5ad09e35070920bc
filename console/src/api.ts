/**
 * The console's calls: the admin API and the console's own routes, with the session cookie the
 * login set (HttpOnly: this code never sees it). Requests that change something carry the
 * x-bridge-console header the server requires of cookie sessions (src/http/session.ts).
 */

export interface ApiError {
  status: number;
  code: string;
  message: string;
  detail?: string;
}

export class ApiFailure extends Error {
  constructor(readonly error: ApiError) {
    super(error.detail ? `${error.code}: ${error.detail}` : `${error.code}: ${error.message}`);
  }
}

/** Called when the server says the session is gone (expired, token rotated, logged out elsewhere). */
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export async function api<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', 'x-bridge-console': '1' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; detail?: string } } | undefined)?.error;
    const error: ApiError = { status: res.status, code: e?.code ?? `HTTP ${res.status}`, message: e?.message ?? res.statusText, ...(e?.detail ? { detail: e.detail } : {}) };
    if (res.status === 401 && path !== '/console/session') onUnauthorized();
    throw new ApiFailure(error);
  }
  return json as T;
}

// ── shapes of the admin API (src/http/admin.ts, src/http/console.ts) ──────────────────────────

export type AttendanceState = 'opening' | 'open' | 'closing' | 'closed';
export const STATES: AttendanceState[] = ['opening', 'open', 'closing', 'closed'];
/** DESIGN §6: one list of close reasons everywhere. */
export const CLOSE_REASONS = ['agent', 'customer', 'admin', 'customer-inactive', 'no-agent', 'outside-hours', 'expired', 'failed'] as const;

export interface Content {
  type: string;
  text?: string;
  [k: string]: unknown;
}

export interface Customer {
  id?: string;
  address?: string;
  originator?: string;
  name?: string;
  email?: string;
  phone?: string;
  channel?: string;
  [k: string]: unknown;
}

export interface Attendance {
  id: string;
  bot: string;
  state: AttendanceState;
  customer: Customer;
  helpdesk: Record<string, unknown> | null;
  agent: { id?: string; name?: string } | null;
  openedAt: string;
  closedAt: string | null;
  closeReason: string | null;
}

export interface Message {
  id: string;
  direction: 'customer' | 'agent' | 'system';
  sourceId: string | null;
  vendorId: string | null;
  status: string;
  at: string;
  content: Content;
}

export interface Delivery {
  id: number;
  attendanceId: string;
  bot: string;
  lane: 'to-helpdesk' | 'to-blip';
  kind: string;
  state: 'pending' | 'done' | 'dead';
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  payload: Record<string, unknown>;
}

export interface AttendanceDetail extends Attendance {
  messages: Message[];
  deliveries: Delivery[];
}

export interface TranscriptEntry {
  direction: 'customer' | 'bot';
  at: string;
  content: Content;
}

export interface Series {
  name: string;
  labels: Record<string, string | number>;
  value: number;
}

export interface BotSummary {
  id: string;
  helpdesk: string;
  blip: { identifier: string; baseUrl: string };
  attendances: Partial<Record<AttendanceState, number>>;
  backlog: { pending: number; dead: number; cappedAt: number };
  metrics: Series[];
}

export interface BotsSummary {
  bots: BotSummary[];
  service: { metrics: Series[]; latency: Array<{ lane: string; count: number; p50: number | null; p95: number | null }> };
}

export interface CheckResult {
  bot: string;
  checkedAt: string;
  blip: { ok: boolean; detail: string };
  helpdesk: { type: string; ok: boolean; detail: string };
}

export interface Session {
  expiresAt: string;
  bots: string[];
}
