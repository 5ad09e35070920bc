/**
 * Traces (OpenTelemetry), off unless the config or the standard OTEL_* variables turn them on.
 * One tracer provider per process (OpenTelemetry's API keeps it in a global), shared by every app
 * built in it. What is traced: each HTTP request (@fastify/otel, registered on the Fastify
 * instance), each delivery attempt (deliveries.ts, continuing the trace stored with the delivery),
 * each outbound HTTP call (undici's diagnostics channels) and, on PostgreSQL, each query (pg).
 *
 * Why no require hook (`--import …/register`): this is an ES-module app, so a module imported
 * before the SDK starts is never seen by a require hook, and `import` of a CommonJS package does not
 * go through one either. None is needed: undici publishes its requests on diagnostics channels, which
 * the undici instrumentation subscribes to whenever it starts; pg is CommonJS and keeps its Client
 * prototype in the module cache, so requiring it once after the pg instrumentation is enabled has
 * the instrumentation patch that prototype in place, for the pool the store already made too
 * (test/integration/tracing.test.ts proves both).
 */
import { createRequire } from 'node:module';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import type { FastifyPluginCallback } from 'fastify';
import type { Logger } from 'pino';
import type { TelemetryConfig } from '../config/schema.js';
import { redactUrl } from '../delivery/http.js';

export interface Tracing {
  /** Registered on a Fastify instance before its routes: one span per request. */
  readonly fastifyPlugin: FastifyPluginCallback;
  /** Sends the spans still buffered (at shutdown). */
  flush(): Promise<void>;
}

export interface TracingOptions {
  env?: NodeJS.ProcessEnv;
  /** Replaces the exporters OTEL_TRACES_EXPORTER would choose, spans sent one by one (tests). */
  exporter?: SpanExporter;
  log?: Logger;
}

let active: Tracing | undefined;

const UNTRACED = new Set(['/healthz', '/readyz', '/metrics', '/console', '/console/']);

/** The tracing of this process, if started. */
export function tracing(): Tracing | undefined {
  return active;
}

/** OTEL_TRACES_EXPORTER, as the specification lists it: comma-separated, case-insensitive. */
function exporterNames(env: NodeJS.ProcessEnv): string[] {
  return (env['OTEL_TRACES_EXPORTER'] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
}

/**
 * Whether traces are on. The standard variables win over the file, both ways: an operator turns
 * them on or off for one deployment without editing it.
 */
export function tracingWanted(cfg: TelemetryConfig, env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env['OTEL_SDK_DISABLED'] ?? '').trim().toLowerCase() === 'true') return false;
  const names = exporterNames(env);
  if (names.includes('none')) return false;
  if (names.length > 0) return true;
  if (env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_ENDPOINT']) return true;
  return cfg.enabled;
}

/**
 * Starts tracing for this process if the config or the environment asks for it; returns it (or the
 * one already started: a second app in the process shares it), undefined when traces are off.
 */
export function startTracing(cfg: TelemetryConfig, opts: TracingOptions = {}): Tracing | undefined {
  if (active) return active;
  const env = opts.env ?? process.env;
  if (!opts.exporter && !tracingWanted(cfg, env)) return undefined;
  if (opts.log) diag.setLogger(diagToPino(opts.log), DiagLogLevel.WARN);

  const processors: SpanProcessor[] = [];
  if (opts.exporter) processors.push(new SimpleSpanProcessor(opts.exporter));
  else {
    const names = exporterNames(env);
    for (const name of names.length ? names : ['otlp']) {
      if (name === 'otlp') {
        // An endpoint variable wins over the file (the exporter reads the variables itself,
        // headers and timeout too, but a url given here would win over them).
        const fromEnv = Boolean(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_ENDPOINT']);
        processors.push(new BatchSpanProcessor(new OTLPTraceExporter(!fromEnv && cfg.endpoint ? { url: cfg.endpoint } : {})));
      } else if (name === 'console') processors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
      else opts.log?.warn({ exporter: name }, 'telemetry: OTEL_TRACES_EXPORTER names an exporter this service does not ship (otlp, console, none); ignored');
    }
  }

  const provider = new NodeTracerProvider({
    // The variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) win over the file's name.
    resource: resourceFromAttributes({ 'service.name': cfg.serviceName }).merge(detectResources({ detectors: [envDetector] })),
    // Unset, the SDK reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG itself.
    ...(env['OTEL_TRACES_SAMPLER'] ? {} : { sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sampleRatio) }) }),
    spanProcessors: processors,
  });
  // The global provider, the AsyncLocalStorage context manager and the W3C traceparent propagator.
  provider.register();

  new UndiciInstrumentation({
    // URLs of media downloads (signed blob URLs) and of some vendors carry tokens in the query.
    requestHook(span, request) {
      const url = `${request.origin}${request.path}`;
      span.setAttribute('url.full', redactUrl(url));
      if (url.includes('?')) span.setAttribute('url.query', '…');
    },
  });
  // Query text only (placeholders, never the bound values), and only under a span: the worker's
  // claims every poll interval would otherwise each make a trace of their own.
  new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false });
  // pg is already loaded when the store module was imported: requiring it now, through the hook the
  // instrumentation just installed, patches its (shared) Client prototype in place.
  createRequire(import.meta.url)('pg');

  const fastifyOtel = new FastifyOtelInstrumentation({
    // Probes, scrapes and the console's page and assets would bury the traffic (its admin API
    // calls are traced).
    ignorePaths: (route: { url?: string }) => UNTRACED.has(route.url ?? '') || (route.url ?? '').startsWith('/console/assets/'),
    requestHook(span, request) {
      // Vendors' webhook URLs may carry a secret in the query string (Omnize).
      span.setAttribute('url.path', request.url.split('?')[0] ?? '');
      // The semantic conventions' name for a server span, rather than the plugin's "request".
      const route = request.routeOptions.url;
      if (route !== undefined) span.updateName(`${request.method} ${route}`);
    },
  });

  active = {
    fastifyPlugin: fastifyOtel.plugin(),
    flush: () => provider.forceFlush(),
  };
  opts.log?.info({ exporters: opts.exporter ? ['custom'] : exporterNames(env).length ? exporterNames(env) : ['otlp'] }, 'telemetry: traces on');
  return active;
}

function diagToPino(log: Logger): DiagLogger {
  const l = log.child({ component: 'opentelemetry' });
  return {
    error: (msg, ...args) => l.error({ args }, msg),
    warn: (msg, ...args) => l.warn({ args }, msg),
    info: (msg, ...args) => l.info({ args }, msg),
    debug: (msg, ...args) => l.debug({ args }, msg),
    verbose: (msg, ...args) => l.trace({ args }, msg),
  };
}
