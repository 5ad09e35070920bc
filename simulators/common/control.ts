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

/** What a simulator exposes for faults on demand (see ./faults.ts). */
export interface FaultControl<R extends string> {
  failNext(route: R, f: { status: number; count: number; retryAfter?: string }): void;
  setDown(down: boolean, how?: 'reset' | number): void;
  setLatency(ms: number): void;
}

/**
 * `POST /fail-next` `{route, status, count?, retryAfter?}`, `POST /down` `{down, status?}` (no
 * status: connections reset), `POST /latency` `{ms}`. A route the simulator does not know is 400.
 */
export function registerFaultRoutes<R extends string>(r: FastifyInstance, sim: FaultControl<R>): void {
  r.post('/fail-next', async (req, reply) => {
    const b = controlBody(req.body);
    const route = b && nonEmpty(b['route']);
    if (!b || !route || typeof b['status'] !== 'number') return reply.code(400).send({ error: 'body must be {"route", "status", "count"?, "retryAfter"?}' });
    try {
      sim.failNext(route as R, {
        status: b['status'],
        count: typeof b['count'] === 'number' ? b['count'] : 1,
        ...(b['retryAfter'] !== undefined ? { retryAfter: String(b['retryAfter']) } : {}),
      });
    } catch (e) {
      return reply.code(400).send({ error: e instanceof Error ? e.message : String(e) });
    }
    return { ok: true };
  });
  r.post('/down', async (req, reply) => {
    const b = controlBody(req.body);
    if (!b || typeof b['down'] !== 'boolean') return reply.code(400).send({ error: 'body must be {"down": bool, "status"?: number}' });
    sim.setDown(b['down'], typeof b['status'] === 'number' ? b['status'] : 'reset');
    return { ok: true };
  });
  r.post('/latency', async (req, reply) => {
    const ms = controlBody(req.body)?.['ms'];
    if (typeof ms !== 'number') return reply.code(400).send({ error: 'body must be {"ms": number}' });
    sim.setLatency(ms);
    return { ok: true };
  });
}
