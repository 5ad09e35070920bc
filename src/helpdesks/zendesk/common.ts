/**
 * What both Zendesk adapters share: the error mapping, constant-time secrets and text splitting.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DeliveryError } from '../../delivery/errors.js';
import type { HttpResponse } from '../../delivery/http.js';

export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Compares secrets without revealing where they differ (nor their length). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHmac('sha256', 'bridge').update(given).digest();
  const b = createHmac('sha256', 'bridge').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Zendesk errors: Sunshine Conversations answers `{errors: [{code, title}]}`, Support answers
 * `{error, description}` or `{error: {title, message}}`; 429 carries Retry-After (seconds).
 * 409 and 423 are not retried here: each caller decides what a conflict means.
 */
export class ZendeskError extends DeliveryError {
  constructor(
    message: string,
    retryable: boolean,
    retryAfterMs: number | undefined,
    status: number,
    readonly code: string | undefined,
  ) {
    super(message, retryable, retryAfterMs, status);
  }
}

export function zendeskError(method: string, path: string, res: HttpResponse): ZendeskError {
  const b = res.body as { errors?: Array<{ code?: string; title?: string }>; error?: unknown; description?: string } | string | undefined;
  let code: string | undefined;
  let detail = '';
  if (b && typeof b === 'object') {
    if (Array.isArray(b.errors)) {
      code = b.errors[0]?.code;
      detail = b.errors.map((e) => `${e.code ?? ''}: ${e.title ?? ''}`).join('; ');
    } else if (b.error !== undefined) {
      code = typeof b.error === 'string' ? b.error : (b.error as { title?: string }).title;
      detail = `${code ?? ''}${b.description ? `: ${b.description}` : ''}`;
    }
  } else if (typeof b === 'string') detail = b.slice(0, 300);
  const ra = header(res.headers, 'retry-after');
  const retryAfterMs = ra && /^\d+(\.\d+)?$/.test(ra) ? Math.round(Number(ra) * 1000) : undefined;
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  return new ZendeskError(`Zendesk ${method} ${path} answered ${res.status}: ${detail}`, retryable, retryAfterMs, res.status, code);
}

/** Splits text into pieces of at most `max` UTF-16 units without cutting a surrogate pair, preferring line and word breaks. */
export function splitText(text: string, max: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf('\n', max);
    if (cut < max / 2) cut = rest.lastIndexOf(' ', max);
    if (cut < max / 2) cut = max;
    // Never between a high and a low surrogate.
    const code = rest.charCodeAt(cut - 1);
    if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^[\n ]/, '');
  }
  if (rest.length || out.length === 0) out.push(rest);
  return out;
}
