/**
 * What Blip's API refuses with 400: the fields each envelope must carry (research §3.1, [LIME]
 * index.html). Returns a readable reason, or undefined when the envelope is acceptable.
 */
import { MIME } from '../../src/lime/envelope.js';

export type Envelope = Record<string, unknown>;

/** LIME notification events ([LIME] index.html, lime-js Notification.ts; `deleted` from blip-sdk-js) — research §3.1. */
const EVENTS = new Set(['accepted', 'validated', 'authorized', 'dispatched', 'received', 'consumed', 'failed', 'deleted']);
/** LIME command methods, research §3.1. Blip's own docs also write `GET` (research §4.5), so case-insensitive. */
const METHODS = new Set(['get', 'set', 'merge', 'delete', 'subscribe', 'unsubscribe', 'observe']);

export function isObject(v: unknown): v is Envelope {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

export function invalidMessage(m: Envelope): string | undefined {
  if (m['id'] !== undefined && !nonEmpty(m['id'])) return 'Message id must be a non-empty string';
  if (!nonEmpty(m['to'])) return 'Message requires to';
  if (!nonEmpty(m['type'])) return 'Message requires type';
  if (m['content'] === undefined || m['content'] === null) return 'Message requires content';
  // UNVERIFIED: Blip deserialises content by its type, so these shapes fail there; we check the two we rely on.
  if (m['type'] === MIME.text && typeof m['content'] !== 'string') return 'text/plain content must be a string';
  if (m['type'] === MIME.redirect) {
    const c = m['content'];
    if (!isObject(c)) return 'Redirect content must be an object';
    if (c['address'] !== undefined && !nonEmpty(c['address'])) return 'Redirect address must be a non-empty string';
    if (c['context'] !== undefined && !(isObject(c['context']) && nonEmpty(c['context']['type']))) return 'Redirect context must be {type, value}';
  }
  return undefined;
}

export function invalidNotification(n: Envelope): string | undefined {
  if (!nonEmpty(n['id'])) return 'Notification requires id';
  if (!nonEmpty(n['event'])) return 'Notification requires event';
  if (!EVENTS.has(n['event'])) return `Unknown notification event ${n['event']}`;
  if (!nonEmpty(n['to'])) return 'Notification requires to';
  if (n['reason'] !== undefined && !isObject(n['reason'])) return 'Notification reason must be {code, description}';
  return undefined;
}

export function invalidCommand(c: Envelope): string | undefined {
  if (!nonEmpty(c['id'])) return 'Command requires id';
  if (!nonEmpty(c['method'])) return 'Command requires method';
  if (!METHODS.has(c['method'].toLowerCase())) return `Unknown command method ${c['method']}`;
  if (!nonEmpty(c['uri'])) return 'Command requires uri';
  return undefined;
}

export function parseJsonBody(body: unknown): Envelope | undefined {
  if (typeof body !== 'string' || body === '') return undefined;
  try {
    const v: unknown = JSON.parse(body);
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
