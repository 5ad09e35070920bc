/**
 * Who may call /admin/*: a client with `Authorization: Bearer <server.adminToken>` (CLI, scripts),
 * or the web console with the session cookie it got by posting that token once to
 * /console/session. The token itself never reaches the browser's storage nor a URL: the cookie
 * holds only an expiry and an HMAC keyed by a key derived from the token (so rotating the token
 * ends every session, and any replica can check a session without shared state). The cookie is
 * HttpOnly (page scripts cannot read it) and SameSite=Strict (other sites' pages do not send it);
 * a request it authorises that changes something must also carry the `x-bridge-console` header,
 * which a page of another origin cannot add without a CORS preflight that we never grant (this
 * covers same-site origins too, such as the sandbox's simulators on the next ports).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearer, safeEqual } from './auth.js';
import { BridgeError } from './errors.js';

export const SESSION_COOKIE = 'bridge_console';
export const CONSOLE_HEADER = 'x-bridge-console';
/** A working day: an operator logs in again the next morning. */
export const SESSION_TTL_MS = 12 * 3_600_000;

export class ConsoleSessions {
  private readonly key: Buffer;

  constructor(
    private readonly adminToken: string,
    /** Secure cookies when the service is reached over https (server.publicUrl). */
    private readonly secure: boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createHmac('sha256', adminToken).update('blip-helpdesk-bridge console sessions').digest();
  }

  private sign(expires: number): string {
    return createHmac('sha256', this.key).update(`v1.${expires}`).digest('base64url');
  }

  /** True when `token` is the admin token (constant time). */
  tokenMatches(token: string): boolean {
    return safeEqual(token, this.adminToken);
  }

  /** The Set-Cookie value of a new session. */
  issue(): { cookie: string; expiresAt: number } {
    const expires = this.now() + SESSION_TTL_MS;
    const attrs = [`${SESSION_COOKIE}=v1.${expires}.${this.sign(expires)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${SESSION_TTL_MS / 1000}`];
    if (this.secure) attrs.push('Secure');
    return { cookie: attrs.join('; '), expiresAt: expires };
  }

  /** The Set-Cookie value that ends the session in this browser. */
  cleared(): string {
    return [`${SESSION_COOKIE}=`, 'Path=/', 'HttpOnly', 'SameSite=Strict', 'Max-Age=0', ...(this.secure ? ['Secure'] : [])].join('; ');
  }

  /** The session's expiry when the request carries a valid, unexpired session cookie. */
  sessionOf(req: FastifyRequest): number | undefined {
    const value = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const m = value ? /^v1\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(value) : null;
    if (!m) return undefined;
    const expires = Number(m[1]);
    const expected = Buffer.from(this.sign(expires));
    const given = Buffer.from(m[2]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    return expires > this.now() ? expires : undefined;
  }

  /** onRequest hook body for /admin/*: the bearer token, or a console session (see the file's comment). */
  authorize(req: FastifyRequest): void {
    const token = bearer(req.headers.authorization);
    if (token !== undefined) {
      if (this.tokenMatches(token)) return;
      throw new BridgeError('BRIDGE_ERR_UNAUTHORIZED', 'send Authorization: Bearer <server.adminToken>');
    }
    if (this.sessionOf(req) === undefined) throw new BridgeError('BRIDGE_ERR_UNAUTHORIZED', 'send Authorization: Bearer <server.adminToken>, or log in to the console');
    if (!SAFE_METHODS.has(req.method) && req.headers[CONSOLE_HEADER] !== '1') {
      throw new BridgeError('BRIDGE_ERR_UNAUTHORIZED', `a console session changes something only with the ${CONSOLE_HEADER} header (cross-site request refused)`);
    }
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function setNoStore(reply: FastifyReply): void {
  void reply.header('cache-control', 'no-store');
}
