/**
 * buildApp(config) → a ready Fastify instance with the bridge, its store and its delivery worker,
 * without listening (tests use inject() or listen on port 0). `close()` stops the worker, the
 * server and the store in that order.
 */
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import type { Config } from './config/schema.js';
import { Bridge } from './core/bridge.js';
import type { Clock } from './core/context.js';
import { HttpClient } from './delivery/http.js';
import { attemptTiming } from './delivery/attempt.js';
import { DeliveryWorker } from './delivery/worker.js';
import { blipRoutes } from './blip/routes.js';
import { helpdeskRoutes } from './helpdesks/routes.js';
import { adminRoutes } from './http/admin.js';
import { consoleRoutes } from './http/console.js';
import { ConsoleSessions } from './http/session.js';
import { transcriptRoutes } from './http/transcripts.js';
import { BridgeError } from './http/errors.js';
import { Metrics, inboundRoute } from './http/metrics.js';
import { eventJsonSchema, WEBHOOK_EVENTS } from './helpdesks/webhook/contract.js';
import { openStore } from './store/engines.js';
import { startTracing } from './telemetry/tracing.js';
import type { Store } from './store/store.js';

export interface BuildOptions {
  logger?: Logger;
  /** Start the delivery worker and the timers (default true). */
  worker?: boolean;
  /** The lifecycle's clock (tests inject one to move time without sleeping). */
  clock?: Clock;
  /** More routes on the same server (the sandbox's playground), registered before it is ready. */
  routes?: (app: FastifyInstance, running: { bridge: Bridge; store: Store }) => Promise<void>;
}

export interface BridgeApp {
  app: FastifyInstance;
  bridge: Bridge;
  store: Store;
  worker: DeliveryWorker;
  metrics: Metrics;
  close(): Promise<void>;
}

/** Secrets never reach the logs (DESIGN §7). */
export const REDACT = [
  'req.headers.authorization',
  'req.headers["x-bridge-token"]',
  'req.headers["webhook-signature"]',
  'req.headers["x-hub-signature"]',
  'req.headers["x-api-key"]',
  '*.accessKey',
  '*.accessToken',
  '*.clientSecret',
  '*.inboundToken',
  '*.adminToken',
  '*.secret',
  '*.password',
  '*.apiToken',
];

export function makeLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' } });
}

/** Deletes closed attendances past the retention age, in batches, until none is left. */
export async function purgeOnce(store: Store, days: number): Promise<{ attendances: number; dedupe: number }> {
  const before = Date.now() - days * 86_400_000;
  const total = { attendances: 0, dedupe: 0 };
  for (;;) {
    const r = await store.transaction((q) => q.purgeClosed(before, 500));
    total.attendances += r.attendances;
    total.dedupe += r.dedupe;
    if (r.attendances < 500) return total;
  }
}

function startPurge(store: Store, cfg: Config['retention'], log: Logger): NodeJS.Timeout {
  const run = () => {
    purgeOnce(store, cfg.days).then(
      (r) => {
        if (r.attendances || r.dedupe) log.info({ ...r, days: cfg.days }, 'retention: purged closed attendances');
      },
      (err: unknown) => log.error({ err }, 'retention: purge failed; it runs again at the next interval'),
    );
  };
  const timer = setInterval(run, cfg.intervalMinutes * 60_000);
  timer.unref();
  setTimeout(run, 5_000).unref();
  return timer;
}

export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<BridgeApp> {
  const log = opts.logger ?? makeLogger(config.log.level);
  // Before the store opens and the first request: everything after it can be traced.
  const traces = startTracing(config.telemetry, { log });
  const store = await openStore(config.store.url);
  await store.migrate();
  if (store.engine === 'sqlite') await store.releaseAllLeases();
  const http = new HttpClient(config.delivery.timeoutMs);
  const bridge = new Bridge(config, store, http, log, opts.clock);
  const metrics = new Metrics(store);
  const worker = new DeliveryWorker(
    store,
    bridge,
    config.delivery,
    log.child({ component: 'worker' }),
    {
      onOutcome(d, outcome, seconds) {
        metrics.deliveries.inc({ lane: d.lane, kind: d.kind, outcome });
        if (outcome === 'delivered') metrics.latency.observe({ lane: d.lane }, seconds);
      },
    },
    attemptTiming(config),
    () => bridge.core.clock.now(),
  );
  bridge.setHooks({ wake: () => worker.wake(), closing: (bot, reason) => metrics.closed.inc({ bot, reason }) });

  const app = Fastify({
    loggerInstance: log,
    bodyLimit: config.server.bodyLimitBytes,
    // Per-request lines would dominate the log at thousands of messages a second; rejections and
    // deliveries are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // While closing, requests already on a connection are served normally (the store closes last),
    // so every answer still comes from our own error catalog.
    return503OnClosing: false,
  });
  // Before any route, so every route gets its request span.
  if (traces) await app.register(traces.fastifyPlugin);
  app.removeAllContentTypeParsers();
  const keepBytes = (_req: unknown, body: Buffer | string, done: (err: null, body: Buffer | string) => void) => done(null, body);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, keepBytes);
  app.addContentTypeParser(/^application\/[a-z0-9.+-]*\+json$/, { parseAs: 'buffer' }, keepBytes);

  app.setErrorHandler((err: FastifyError | BridgeError, req, reply) => {
    let e: BridgeError;
    if (err instanceof BridgeError) e = err;
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = new BridgeError('BRIDGE_ERR_UNSUPPORTED_MEDIA_TYPE', `got ${JSON.stringify(req.headers['content-type'] ?? 'none')}`);
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new BridgeError('BRIDGE_ERR_BODY_TOO_LARGE', `limit is ${config.server.bodyLimitBytes} bytes`);
    else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') e = new BridgeError('BRIDGE_ERR_INVALID_JSON', err.message);
    else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) e = new BridgeError('BRIDGE_ERR_INVALID_REQUEST', err.message);
    else {
      req.log.error({ err }, 'unexpected error');
      e = new BridgeError('BRIDGE_ERR_INTERNAL');
    }
    // A rejected call from Blip or a helpdesk is counted by its code: a wrong token in the Blip
    // portal or a wrong webhook secret shows in the metrics, not only in the logs.
    const route = inboundRoute(req.routeOptions.url);
    if (route !== undefined) metrics.inbound.inc({ route, outcome: e.code });
    // The path only: some vendors' webhook URLs carry a secret in the query string (Omnize).
    if (e.status >= 400 && e.status < 500) req.log.info({ code: e.code, detail: e.detail, url: req.url.split('?')[0] }, 'request rejected');
    if (e.code === 'BRIDGE_ERR_INTERNAL') void reply.header('retry-after', '5');
    return reply.code(e.status).send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new BridgeError('BRIDGE_ERR_NOT_FOUND', `${req.method} ${req.url.split('?')[0]}`);
    return reply.code(404).send(e.toJSON());
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await store.ping();
      const pending = await store.pendingMigrations();
      if (pending.length) return reply.code(503).send(new BridgeError('BRIDGE_ERR_NOT_READY', `migrations pending: ${pending.join(', ')}`).toJSON());
      return { status: 'ready', store: store.engine, bots: [...bridge.bots.keys()], deliveriesInFlight: worker.inFlight };
    } catch (err) {
      return reply.code(503).send(new BridgeError('BRIDGE_ERR_NOT_READY', `store: ${(err as Error).message}`).toJSON());
    }
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
  app.get<{ Params: { event: string } }>('/schemas/webhook/:event', async (req) => {
    const name = req.params.event.replace(/\.json$/, '');
    if (!(WEBHOOK_EVENTS as readonly string[]).includes(name)) throw new BridgeError('BRIDGE_ERR_NOT_FOUND', `no schema for "${name}" (known: ${WEBHOOK_EVENTS.join(', ')})`);
    return eventJsonSchema(name as (typeof WEBHOOK_EVENTS)[number], config.server.publicUrl);
  });

  await app.register(blipRoutes, { bridge, metrics });
  await app.register(helpdeskRoutes, { bridge, metrics });
  const sessions = new ConsoleSessions(config.server.adminToken, config.server.publicUrl?.startsWith('https:') ?? false);
  await app.register(adminRoutes, { bridge, sessions });
  await app.register(consoleRoutes, { bridge, metrics, sessions });
  await app.register(transcriptRoutes, { store, links: bridge.links });
  if (opts.routes) await app.register(async (scope) => opts.routes!(scope as unknown as FastifyInstance, { bridge, store }));
  await app.ready();

  if (opts.worker !== false) {
    worker.start();
    bridge.timers.start();
  }
  const purge = config.retention.days > 0 && opts.worker !== false ? startPurge(store, config.retention, log) : undefined;

  let closed = false;
  return {
    app: app as unknown as FastifyInstance,
    bridge,
    store,
    worker,
    metrics,
    async close() {
      if (closed) return;
      closed = true;
      if (purge) clearInterval(purge);
      await bridge.timers.stop();
      await worker.stop();
      await app.close();
      await http.close();
      await store.close();
      await traces?.flush();
    },
  };
}
