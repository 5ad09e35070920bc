/**
 * `application/vnd.lime.sensitive+json`: "the server will not store the message content"
 * (research/blip.md §3.2). The agent still needs it, and we must persist before acknowledging, so
 * the content is kept sealed (AES-256-GCM, a key derived from server.adminToken) only until the
 * helpdesk has it; then the message log keeps a placeholder. It is never at rest in clear, and the
 * admin API, the CLI and the logs only ever show `[sensitive]`.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { DeliveryError } from '../delivery/errors.js';
import { MIME } from '../lime/envelope.js';
import type { Content } from './content.js';

/** What the log keeps of a sensitive message, once delivered (or never forwarded). */
export const SENSITIVE_PLACEHOLDER = { type: 'unsupported', mimeType: MIME.sensitive, text: '[sensitive]' } as const satisfies Content;

/** The stored form until delivery: the placeholder plus the sealed content. */
export type SealedContent = typeof SENSITIVE_PLACEHOLDER & { sealed: string };

export function sealingKey(adminToken: string): Buffer {
  return Buffer.from(hkdfSync('sha256', adminToken, 'blip-helpdesk-bridge', 'sensitive-content-v1', 32));
}

export function seal(content: Content, key: Buffer): SealedContent {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(content), 'utf8'), cipher.final()]);
  return { ...SENSITIVE_PLACEHOLDER, sealed: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64') };
}

export function isSealed(c: unknown): c is SealedContent {
  return typeof c === 'object' && c !== null && typeof (c as { sealed?: unknown }).sealed === 'string';
}

export function isSensitive(c: unknown): boolean {
  return typeof c === 'object' && c !== null && (c as { mimeType?: unknown }).mimeType === MIME.sensitive && (c as { type?: unknown }).type === 'unsupported';
}

export function unseal(c: SealedContent, key: Buffer): Content {
  const raw = Buffer.from(c.sealed, 'base64');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as Content;
  } catch {
    // Sealed under another server.adminToken: it cannot be read any more, by anyone.
    throw new DeliveryError('a sensitive message sealed under a previous server.adminToken cannot be opened', false);
  }
}

/** What shows outside the store (admin API, CLI, logs): never the sealed bytes. */
export function shown(c: unknown): unknown {
  return isSealed(c) ? SENSITIVE_PLACEHOLDER : c;
}
