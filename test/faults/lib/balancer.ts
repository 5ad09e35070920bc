/**
 * A load balancer in front of replicas, as production runs them (docs/operations.md): every request
 * goes to one live backend picked at random, so one customer's messages and one tool's webhooks
 * land on different replicas. A backend that does not answer gets a 502 for that request; the
 * caller retries, as Blip's router and a tool would. Only what the fault suite needs: buffered
 * bodies, no streaming.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent, request } from 'undici';

const HOP_BY_HOP = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'proxy-connection']);

export class LoadBalancer {
  /** Requests forwarded per backend (answered or not). */
  readonly forwarded = new Map<string, number>();
  private backends: string[] = [];
  private server: Server | undefined;
  private readonly agent = new Agent({ keepAliveTimeout: 2_000, connections: 64 });

  constructor(backends: string[]) {
    this.setBackends(backends);
  }

  setBackends(backends: string[]): void {
    this.backends = [...backends];
  }

  remove(backend: string): void {
    this.backends = this.backends.filter((b) => b !== backend);
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    const a = server.address();
    if (a === null || typeof a === 'string') throw new Error('load balancer has no TCP address');
    return `http://127.0.0.1:${a.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.agent.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      res.destroy();
      return;
    }
    const live = this.backends;
    const target = live[Math.floor(Math.random() * live.length)];
    if (target === undefined) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"no live backend"}');
      return;
    }
    this.forwarded.set(target, (this.forwarded.get(target) ?? 0) + 1);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headers[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    const body = Buffer.concat(chunks);
    try {
      const r = await request(`${target}${req.url ?? '/'}`, {
        method: (req.method ?? 'GET') as 'GET',
        headers,
        body: body.length > 0 || req.method === 'POST' ? body : null,
        dispatcher: this.agent,
        headersTimeout: 15_000,
        bodyTimeout: 15_000,
      });
      const out = Buffer.from(await r.body.arrayBuffer());
      const outHeaders: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers)) {
        if (v === undefined || HOP_BY_HOP.has(k)) continue;
        outHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      res.writeHead(r.statusCode, outHeaders).end(out);
    } catch (err) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `backend ${target} failed: ${(err as Error).message}` }));
    }
  }
}
