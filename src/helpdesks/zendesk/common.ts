/**
 * What both Zendesk adapters share: the error mapping and text splitting (header reading and
 * constant-time checks are the helpdesk kit's, src/helpdesks/kit/).
 */
import { DeliveryError, parseRetryAfter } from '../../delivery/errors.js';
import type { HttpResponse } from '../../delivery/http.js';

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
  // Seconds (what Zendesk sends, research §A.2.6) or an HTTP date.
  const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  return new ZendeskError(`Zendesk ${method} ${path} answered ${res.status}: ${detail}`, retryable, retryAfterMs, res.status, code);
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Where to cut `s` at or before `max` UTF-16 units without splitting a character: the last grapheme
 * boundary (so an emoji with its skin tone or a ZWJ family stays whole), else, for a single
 * "character" longer than `max`, never between the two halves of a surrogate pair.
 */
function hardCut(s: string, max: number): number {
  let cut = 0;
  // A little lookahead, so the boundary at `max` itself is judged with what follows it.
  for (const { index } of graphemes.segment(s.slice(0, max + 16))) {
    if (index > max) break;
    cut = index;
  }
  if (cut > 0) return cut;
  const code = s.charCodeAt(max - 1);
  return code >= 0xd800 && code <= 0xdbff && max > 1 ? max - 1 : max;
}

/**
 * Splits text into pieces of at most `max` UTF-16 units (SunCo's 4096 limit counts characters,
 * which are never more than units), preferring line then word breaks, and never cutting a
 * character in two.
 */
export function splitText(text: string, max: number): string[] {
  if (max < 2) throw new RangeError('splitText: max must be at least 2');
  const out: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf('\n', max);
    if (cut < max / 2) cut = rest.lastIndexOf(' ', max);
    const atBreak = cut >= max / 2;
    if (!atBreak) cut = hardCut(rest, max);
    out.push(rest.slice(0, cut));
    // The line or word break we cut at is not content; a hard cut keeps everything.
    rest = atBreak ? rest.slice(cut + 1) : rest.slice(cut);
  }
  if (rest.length || out.length === 0) out.push(rest);
  return out;
}
