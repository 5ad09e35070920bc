/**
 * The small request/response model both APIs are written against, so auth, fault injection,
 * latency and recording happen once (index.ts) and each API is a table of routes.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface SimRequest {
  method: string;
  /** Path without the query string, e.g. `/sc/v2/apps/abc/users`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The raw body; empty when none. */
  body: Buffer;
  /** Captured path segments, URL-decoded. */
  params: string[];
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** Serialised as JSON (`application/json; charset=utf-8`). */
  json?: unknown;
  /** Sent as `text/plain` unless `headers['content-type']` says otherwise. */
  text?: string;
  bytes?: Buffer;
}

export interface Route<Ctx> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  pattern: RegExp;
  /** The vendor's operationId: the name faults and records use. */
  op: string;
  handle: (req: SimRequest, ctx: Ctx) => SimResponse | Promise<SimResponse>;
}

/** A parsed input or the answer that refuses it. */
export type Result<T> = { ok: T } | { error: SimResponse };

/** One API request the simulator answered, for assertions. */
export interface ApiCall {
  api: 'sc' | 'support';
  op: string;
  method: string;
  path: string;
  query: string;
  status: number;
  /** Parsed JSON body, the raw text when not JSON, or `<n bytes>` for binary uploads. */
  body: unknown;
  response: unknown;
  headers: IncomingHttpHeaders;
  at: number;
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** `application/json; charset=utf-8` → `application/json`. */
export function mediaType(headers: IncomingHttpHeaders): string {
  return (header(headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function match<Ctx>(routes: readonly Route<Ctx>[], method: string, path: string): { route: Route<Ctx>; params: string[] } | 'method' | undefined {
  let pathMatched = false;
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    return { route, params: m.slice(1).map((p) => safeDecode(p ?? '')) };
  }
  return pathMatched ? 'method' : undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Guesses a MIME type from a file name, for media the simulator did not receive itself. */
export function mimeFromName(name: string): string | undefined {
  const ext = /\.([A-Za-z0-9]+)(?:$|[?#])/.exec(name)?.[1]?.toLowerCase();
  if (!ext) return undefined;
  return MIME[ext];
}

const MIME: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  mp4: 'video/mp4',
  zip: 'application/zip',
  json: 'application/json',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
};
