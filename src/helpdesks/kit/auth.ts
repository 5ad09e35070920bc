/**
 * Checks of what a helpdesk sends us, all in constant time and failing closed (DESIGN §7): Basic
 * credentials, HMAC signatures of the raw body. Generic: the adapter says which header and scheme.
 */
import { createHmac } from 'node:crypto';
import { safeEqual } from '../../http/auth.js';

export { safeEqual } from '../../http/auth.js';

/** `Authorization: Basic …` carries exactly `user:pass` (compared as one string, in constant time). */
export function basicMatches(authorization: string | undefined, user: string, pass: string): boolean {
  const m = /^Basic\s+(.+)$/i.exec(authorization?.trim() ?? '');
  if (!m) return false;
  return safeEqual(Buffer.from(m[1]!, 'base64').toString('utf8'), `${user}:${pass}`);
}

/** HMAC of the raw bytes, hex or base64, as the vendor prints it. */
export function hmac(algorithm: 'sha1' | 'sha256', secret: string, raw: Buffer | string, encoding: 'hex' | 'base64' = 'hex'): string {
  return createHmac(algorithm, secret).update(raw).digest(encoding);
}

/** A signature header equals the expected one (after trimming; hex compared case-insensitively by the caller's choice). */
export function signatureMatches(given: string | undefined, expected: string, opts: { caseInsensitive?: boolean } = {}): boolean {
  if (given === undefined || given.trim() === '') return false;
  const g = given.trim();
  return opts.caseInsensitive ? safeEqual(g.toLowerCase(), expected.toLowerCase()) : safeEqual(g, expected);
}
