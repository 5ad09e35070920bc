/**
 * A message's trace across its durable lane. When a delivery is enqueued, the trace context of the
 * work that enqueued it (the inbound request's span, or the attempt whose effects enqueue it) is
 * stored with it as a W3C traceparent; each attempt at it is a span that continues that trace, and
 * the outbound call made inside the attempt is a child of it (and carries a traceparent header to
 * the helpdesk or Blip). Retries hours later land in the same trace, one span per attempt.
 *
 * Attributes are ids and outcomes only: never message content, never an error text (a vendor's
 * answer may echo the message), never a URL's query.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { DeliveryRow } from '../store/schema.js';
import { tracing } from './tracing.js';

const tracer = trace.getTracer('blip-helpdesk-bridge');

/** The W3C traceparent of the active span, to store with a delivery; null when nothing is traced. */
export function activeTraceparent(): string | null {
  if (!tracing()) return null;
  const carrier: { traceparent?: string } = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

export type AttemptOutcome = 'delivered' | 'retry' | 'dead' | 'lost';

/** Tells the attempt's span how it ended; `status` is the HTTP status that failed it, if any. */
export type RecordOutcome = (outcome: AttemptOutcome, failure?: { status?: number | undefined; retryable: boolean }) => void;

const untraced: RecordOutcome = () => {};

/**
 * Runs one attempt at `d` inside its span (when traces are on): a child of the context stored with
 * the delivery, or a new trace if it has none. Whatever `run` does meanwhile (the outbound call,
 * the store's queries) is a child of the attempt.
 */
export async function inAttemptSpan<T>(d: DeliveryRow, run: (record: RecordOutcome) => Promise<T>): Promise<T> {
  if (!tracing()) return run(untraced);
  const parent = d.trace ? propagation.extract(ROOT_CONTEXT, { traceparent: d.trace }) : ROOT_CONTEXT;
  const span = tracer.startSpan(
    `delivery ${d.lane} ${d.kind}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'bridge.bot': d.bot_id,
        'bridge.attendance.id': d.attendance_id,
        'bridge.delivery.id': d.id,
        'bridge.delivery.lane': d.lane,
        'bridge.delivery.kind': d.kind,
        'bridge.delivery.attempt': d.attempts,
      },
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => run((outcome, failure) => record(span, outcome, failure)));
  } finally {
    span.end();
  }
}

function record(span: Span, outcome: AttemptOutcome, failure?: { status?: number | undefined; retryable: boolean }): void {
  span.setAttribute('bridge.delivery.outcome', outcome);
  if (!failure) return;
  if (failure.status !== undefined) span.setAttribute('http.response.status_code', failure.status);
  const type = failure.status !== undefined ? String(failure.status) : failure.retryable ? 'transport' : 'permanent';
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: outcome === 'dead' ? `failed (${type}): dead` : `failed (${type}): retried later` });
}
