/**
 * Sunshine Conversations authentication (spec `info.description` "Authentication", research
 * §A.1.1): Basic with key id : secret, or `Bearer <JWT>` with header `{alg: "HS256", typ: "JWT",
 * kid: <key id>}` signed with the key secret and a `scope` claim. "Unsigned JWTs are not accepted."
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SunCoKey {
  id: string;
  secret: string;
  /**
   * `app` for app keys (`app_…`); `integration` for custom-integration keys (`int_…`, spec tag
   * CustomIntegrationApiKeys). Default: from the id's prefix.
   */
  scope?: 'app' | 'integration';
}

export interface ScAuth {
  keyId: string;
  scope: 'app' | 'integration';
  method: 'basic' | 'jwt';
}

export type ScAuthResult = ScAuth | { error: string };

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function keyScope(k: SunCoKey): 'app' | 'integration' {
  return k.scope ?? (k.id.startsWith('int_') ? 'integration' : 'app');
}

function b64urlJson(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function authenticateSunCo(authorization: string | undefined, keys: readonly SunCoKey[], now = Date.now()): ScAuthResult {
  if (!authorization) return { error: 'Authorization is required' };
  const basic = /^basic\s+(\S+)\s*$/i.exec(authorization);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return { error: 'Invalid credentials' };
    const id = decoded.slice(0, i);
    const secret = decoded.slice(i + 1);
    const key = keys.find((k) => k.id === id);
    // Compare even when the key is unknown, so timing does not reveal which key ids exist.
    const ok = safeEqual(secret, key?.secret ?? '\u0000never');
    return key && ok ? { keyId: key.id, scope: keyScope(key), method: 'basic' } : { error: 'Invalid credentials' };
  }
  const bearer = /^bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!bearer) return { error: 'Authorization is required' };
  const parts = bearer[1]!.split('.');
  if (parts.length !== 3) return { error: 'Invalid JWT' };
  const [h, p, s] = parts as [string, string, string];
  const header = b64urlJson(h);
  const payload = b64urlJson(p);
  if (!header || !payload) return { error: 'Invalid JWT' };
  if (header['alg'] !== 'HS256') return { error: 'Invalid JWT: alg must be HS256 (unsigned JWTs are not accepted)' };
  const key = keys.find((k) => k.id === header['kid']);
  if (!key) return { error: 'Invalid JWT: unknown kid' };
  const expected = createHmac('sha256', key.secret).update(`${h}.${p}`).digest('base64url');
  if (!safeEqual(s, expected)) return { error: 'Invalid JWT signature' };
  const scope = keyScope(key);
  // research §A.1.1: app keys sign `scope: "app"`. That integration keys sign `scope: "integration"` is UNVERIFIED.
  if (payload['scope'] !== scope) return { error: `Invalid JWT: scope must be ${scope} for this key` };
  if (typeof payload['exp'] === 'number' && payload['exp'] * 1000 <= now) return { error: 'Invalid JWT: expired' };
  return { keyId: key.id, scope, method: 'jwt' };
}

/** Builds a JWT the way the spec describes; for tests and the sandbox. */
export function sunCoJwt(key: { id: string; secret: string }, claims: Record<string, unknown> = { scope: 'app' }): string {
  const h = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: key.id })).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const s = createHmac('sha256', key.secret).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${s}`;
}
