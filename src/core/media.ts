/**
 * Fetches a customer's attachment to re-upload it to a helpdesk (Blip's links expire in about
 * 30 minutes, research/blip.md §2.2). Only from allowed hosts, with size and time limits, and
 * without following redirects to elsewhere (DESIGN §7: no SSRF).
 */
import { request } from 'undici';
import { DeliveryError } from '../delivery/errors.js';

export interface MediaPolicy {
  /** Host names, exact (`blipmediastore.blob.core.windows.net`) or a suffix (`.msging.net`). */
  allowedHosts: readonly string[];
  maxBytes: number;
  timeoutMs: number;
}

export function hostAllowed(url: URL, allowed: readonly string[]): boolean {
  const host = url.hostname.toLowerCase();
  return allowed.some((a) => {
    const h = a.toLowerCase();
    return h.startsWith('.') ? host.endsWith(h) || host === h.slice(1) : host === h;
  });
}

export interface FetchedMedia {
  bytes: Buffer;
  contentType: string;
}

export async function fetchMedia(url: string, policy: MediaPolicy): Promise<FetchedMedia> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DeliveryError(`media URL is not a URL`, false);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new DeliveryError(`media URL scheme ${parsed.protocol} is not allowed`, false);
  if (!hostAllowed(parsed, policy.allowedHosts)) throw new DeliveryError(`media host ${parsed.hostname} is not in media.allowedHosts`, false);
  let res;
  try {
    // undici's request never follows redirects, so a 3xx to an internal address is just refused below.
    res = await request(parsed, { method: 'GET', headersTimeout: policy.timeoutMs, bodyTimeout: policy.timeoutMs, signal: AbortSignal.timeout(policy.timeoutMs) });
  } catch (err) {
    throw new DeliveryError(`media download failed: ${(err as Error).message}`, true);
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    // An expired Blip link answers 403/404: not worth retrying.
    throw new DeliveryError(`media download answered ${res.statusCode}`, res.statusCode >= 500 || res.statusCode === 429);
  }
  const declared = Number(res.headers['content-length'] ?? NaN);
  if (declared > policy.maxBytes) {
    await res.body.dump();
    throw new DeliveryError(`media is ${declared} bytes, over the ${policy.maxBytes} limit`, false);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > policy.maxBytes) {
      res.body.destroy();
      throw new DeliveryError(`media is over the ${policy.maxBytes} byte limit`, false);
    }
    chunks.push(chunk as Buffer);
  }
  return { bytes: Buffer.concat(chunks), contentType: String(res.headers['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim() };
}
