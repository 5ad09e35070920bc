/**
 * What every simulator's agent-side control (`/_sim/*`) shares: it answers loopback only, and
 * reads small JSON bodies leniently (an empty body is `{}`).
 */
import type { FastifyInstance } from 'fastify';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** Refuses (403) any control request that does not come from this machine. */
export function loopbackOnly(r: FastifyInstance): void {
  r.addHook('onRequest', async (req, reply) => {
    if (!LOOPBACK.has(req.socket.remoteAddress ?? '')) await reply.code(403).send({ error: 'loopback only' });
  });
}

/** The body as a JSON object; `{}` when empty; undefined when it is not a JSON object. */
export function controlBody(raw: unknown): Record<string, unknown> | undefined {
  try {
    const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : '';
    const v: unknown = text === '' ? {} : JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A non-empty string, or undefined. */
export const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
