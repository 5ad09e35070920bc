/**
 * Traces over real HTTP, with the spans kept in memory: a customer message's trace runs from the
 * bridge's request span, through the durable lane (the traceparent stored with the delivery), to the
 * attempt's span and the call to the helpdesk, which receives the traceparent; an agent message's
 * from the helpdesk's webhook to the call to Blip. On PostgreSQL, the store's queries are in it too
 * (pg is imported by the test helpers before tracing starts, as the app's modules import it before
 * buildApp runs: the instrumentation must work on a module already loaded). No span carries
 * message content or a secret.
 */
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTracing } from '../../src/telemetry/tracing.js';
import { ACCESS_KEY, ADMIN_TOKEN, IDENTIFIER, INBOUND_TOKEN, TOOL_SECRET, startHarness, until, type Harness } from '../helpers/harness.js';
import { createTestDatabase, postgres, type TestDatabase } from '../helpers/postgres.js';

const CUSTOMER = '5511000000077@wa.gw.msging.net';
const exporter = new InMemorySpanExporter();

beforeAll(() => {
  // Off in the config: the exporter given here (as a test's) starts it.
  expect(startTracing({ enabled: false, serviceName: 'bridge-test', sampleRatio: 1 }, { exporter, env: {} })).toBeDefined();
});

const spans = () => exporter.getFinishedSpans();
const traceOf = (s: ReadableSpan) => s.spanContext().traceId;
const idOf = (s: ReadableSpan) => s.spanContext().spanId;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

/** True when `ancestor` is `s`'s parent, grandparent… among the spans exported. */
function descends(s: ReadableSpan, ancestor: ReadableSpan): boolean {
  const byId = new Map(spans().map((x) => [idOf(x), x]));
  for (let cur: ReadableSpan | undefined = s; cur; cur = byId.get(parentOf(cur) ?? '')) if (parentOf(cur) === idOf(ancestor)) return true;
  return false;
}

/** The bridge's request span for a route (@fastify/otel), among those of `trace` if given. */
function requestSpan(route: string, trace?: string): ReadableSpan | undefined {
  return spans().find((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === route && (trace === undefined || traceOf(s) === trace));
}

function attemptSpan(name: string, attendanceId: string): ReadableSpan | undefined {
  return spans().find((s) => s.name === name && s.attributes['bridge.attendance.id'] === attendanceId && s.attributes['bridge.delivery.outcome'] === 'delivered');
}

function clientSpanUnder(parent: ReadableSpan): ReadableSpan | undefined {
  return spans().find((s) => s.kind === SpanKind.CLIENT && parentOf(s) === idOf(parent));
}

describe('traces', () => {
  let h: Harness | undefined;
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await h?.stop();
    await db?.drop();
    h = undefined;
    db = undefined;
    exporter.reset();
  });

  async function conversation(): Promise<{ attendanceId: string }> {
    h!.blip.addCustomer({ originator: CUSTOMER });
    await h!.blip.customerSays(CUSTOMER, IDENTIFIER, { type: 'text/plain', content: 'my card number is Quokka-4111-Zebra' });
    const opened = await until(() => h!.tool.eventsOfType('attendance.opened').find((e) => e.data.customer.originator === CUSTOMER), 5000, 'the attendance opened');
    const attendanceId: string = opened.data.attendance.id;
    await h!.tool.waitFor(() => h!.tool.eventsOfType('customer.message').some((e) => e.data.attendanceId === attendanceId));
    return { attendanceId };
  }

  it("a customer message's trace: request → stored with the delivery → attempt → the helpdesk call, which gets the traceparent", async () => {
    h = await startHarness();
    const { attendanceId } = await conversation();

    const attempt = await until(() => attemptSpan('delivery to-helpdesk message', attendanceId), 5000, 'the attempt span');
    const request = requestSpan('/blip/:bot/messages', traceOf(attempt));
    expect(request, 'the attempt continues the trace of the request that enqueued it').toBeDefined();
    expect(request!.name).toBe('POST /blip/:bot/messages');
    expect(descends(attempt, request!)).toBe(true);
    expect(attempt.kind).toBe(SpanKind.CONSUMER);
    expect(attempt.attributes).toMatchObject({ 'bridge.bot': 'acme', 'bridge.delivery.lane': 'to-helpdesk', 'bridge.delivery.kind': 'message', 'bridge.delivery.attempt': 1 });

    // The trace context was stored with the delivery, and it is the request's trace.
    const stored = (await h.bridge.store.deliveriesOf(attendanceId)).find((d) => d.id === attempt.attributes['bridge.delivery.id']);
    expect(stored?.trace).toMatch(new RegExp(`^00-${traceOf(request!)}-[0-9a-f]{16}-01$`));

    const call = await until(() => clientSpanUnder(attempt), 5000, 'the outbound call span');
    expect(call.attributes['url.full']).toBe((h.config.bots[0]!.helpdesk as { url?: string }).url);
    const got = h.tool.attempts.find((a) => a.headers['traceparent'] === `00-${traceOf(call)}-${idOf(call)}-01`);
    expect(got?.type).toBe('customer.message');
  });

  it("an agent message's trace: the helpdesk's webhook → attempt → the call to Blip", async () => {
    h = await startHarness();
    const { attendanceId } = await conversation();
    expect((await h.tool.reply(attendanceId, 'Hi, how can I help?')).status).toBe(202);

    const attempt = await until(() => attemptSpan('delivery to-blip message', attendanceId) && spans().find((s) => s.name === 'delivery to-blip message' && s.attributes['bridge.attendance.id'] === attendanceId && requestSpan('/helpdesk/:bot/webhook', traceOf(s))), 5000, 'the agent message attempt');
    expect(descends(attempt, requestSpan('/helpdesk/:bot/webhook', traceOf(attempt))!)).toBe(true);
    const call = await until(() => clientSpanUnder(attempt), 5000, 'the call to Blip');
    const atBlip = h.blip.received.messages.find((r) => r.headers['traceparent'] === `00-${traceOf(call)}-${idOf(call)}-01`);
    expect(atBlip?.body).toMatchObject({ content: 'Hi, how can I help?' });
  });

  it('a failed attempt is an error span with the status; the retry is another span of the same trace', async () => {
    h = await startHarness({ delivery: { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 20 } });
    const { attendanceId } = await conversation();
    h.tool.failNext(1, 503);
    await h.blip.customerSays(CUSTOMER, IDENTIFIER, { type: 'text/plain', content: 'second' });
    const retried = await until(() => spans().find((s) => s.name === 'delivery to-helpdesk message' && s.attributes['bridge.delivery.outcome'] === 'retry'), 5000, 'the failed attempt');
    expect(retried.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': '503', 'bridge.attendance.id': attendanceId });
    expect(retried.status.code).toBe(2); // ERROR
    const next = await until(
      () => spans().find((s) => s.attributes['bridge.delivery.id'] === retried.attributes['bridge.delivery.id'] && s.attributes['bridge.delivery.outcome'] === 'delivered'),
      5000,
      'the retry',
    );
    expect(traceOf(next)).toBe(traceOf(retried));
    expect(next.attributes['bridge.delivery.attempt']).toBe(2);
  });

  it('PostgreSQL: the store queries are spans of the request and of the attempt (pg loaded before tracing started)', async (ctx) => {
    if (!(await postgres()).ok) return ctx.skip();
    db = await createTestDatabase();
    h = await startHarness({ storeUrl: db.url });
    const { attendanceId } = await conversation();
    const attempt = await until(() => attemptSpan('delivery to-helpdesk message', attendanceId), 5000, 'the attempt span');
    const request = requestSpan('/blip/:bot/messages', traceOf(attempt))!;
    const queries = spans().filter((s) => s.attributes['db.system.name'] === 'postgresql');
    expect(queries.some((s) => descends(s, request) && /insert into "deliveries"/i.test(String(s.attributes['db.query.text'])))).toBe(true);
    // The attempt records its outcome (the fenced update) under its own span.
    expect(queries.some((s) => descends(s, attempt) && /update "deliveries"/i.test(String(s.attributes['db.query.text'])))).toBe(true);
  });

  it('no span carries message content, a secret or a query string', async () => {
    h = await startHarness();
    const { attendanceId } = await conversation();
    await h.tool.reply(attendanceId, 'agent secret words');
    await until(() => attemptSpan('delivery to-blip message', attendanceId), 5000, 'the agent message attempt');
    // A webhook URL with a query string (as Omnize's carry a secret).
    await h.post('/helpdesk/acme/webhook?token=do-not-trace-me', {});
    await until(() => requestSpan('/helpdesk/:bot/webhook') && spans().some((s) => String(s.attributes['url.path'] ?? '').startsWith('/helpdesk/acme/webhook') && s.events.length >= 0));
    const text = JSON.stringify(spans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })));
    // Words that no id, port or hash can contain by chance (a bare '4111' once matched a port).
    for (const secret of ['Quokka-4111-Zebra', 'agent secret words', 'do-not-trace-me', ACCESS_KEY, INBOUND_TOKEN, ADMIN_TOKEN, TOOL_SECRET]) expect(text).not.toContain(secret);
    expect(spans().length).toBeGreaterThan(5);
  });
});
