/**
 * The one outbound HTTP client (Blip and every helpdesk). undici pools connections per origin,
 * which matters at thousands of deliveries per second; every call has a deadline.
 * `send` classifies failures into DeliveryError so the worker knows whether to retry.
 */
import { Agent, FormData, request } from 'undici';
import { callBudget } from './attempt.js';
import { DeliveryError, isRetryableStatus, parseRetryAfter } from './errors.js';

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** Serialised as JSON unless it is already a string, a Buffer or a FormData. */
  body?: unknown;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when the response says so, else the text ('' when empty). */
  body: unknown;
}

export class HttpClient {
  private readonly agent: Agent;

  constructor(readonly defaultTimeoutMs = 10_000) {
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 128 });
  }

  /** Any status comes back; only transport failures throw (as retryable DeliveryError). */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...req.headers };
    let body: string | Buffer | FormData | undefined;
    if (req.body !== undefined) {
      // FormData (multipart uploads) sets its own content-type with the boundary.
      if (typeof req.body === 'string' || Buffer.isBuffer(req.body) || req.body instanceof FormData) body = req.body;
      else {
        body = JSON.stringify(req.body);
        headers['content-type'] ??= 'application/json';
      }
    }
    // Last thing before the request leaves: inside a delivery attempt, nothing is sent once its
    // deadline (inside its lease) has passed, and no call outlives it (attempt.ts).
    const timeout = callBudget(req.timeoutMs ?? this.defaultTimeoutMs);
    if (timeout === undefined) {
      throw new DeliveryError(`${req.method ?? 'POST'} ${redactUrl(req.url)} not sent: the attempt's deadline passed (its lease is ending); retried under a new lease`, true);
    }
    try {
      const res = await request(req.url, {
        method: req.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        body: body ?? null,
        dispatcher: this.agent,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal: AbortSignal.timeout(timeout),
      });
      const text = await res.body.text();
      const type = String(res.headers['content-type'] ?? '');
      let parsed: unknown = text;
      if (text !== '' && type.includes('json')) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      return { status: res.statusCode, headers: res.headers, body: parsed };
    } catch (err) {
      const e = err as Error & { code?: string };
      throw new DeliveryError(`${req.method ?? 'POST'} ${redactUrl(req.url)} failed: ${e.code ?? e.name}: ${e.message}`, true);
    }
  }

  /** Like request, but a non-2xx status becomes a DeliveryError (retryable or permanent). */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const res = await this.request(req);
    if (res.status >= 200 && res.status < 300) return res;
    const detail = typeof res.body === 'string' ? res.body.slice(0, 300) : JSON.stringify(res.body).slice(0, 300);
    throw new DeliveryError(
      `${req.method ?? 'POST'} ${redactUrl(req.url)} answered ${res.status}: ${detail}`,
      isRetryableStatus(res.status),
      parseRetryAfter(res.headers['retry-after']),
      res.status,
    );
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Query strings can carry tokens (some vendors put them there): never log them. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?…`;
}
