import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time comparison of secrets. Hashing first makes both sides the same length, so the
 * comparison time does not reveal the expected length either.
 */
export function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearer(header: string | string[] | undefined): string | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(v.trim());
  return m?.[1];
}
