/**
 * A custom tool speaking our public contract (docs/helpdesks/webhook.md, DESIGN §6), as a team
 * would build it: it receives the bridge's events at `POST /bridge`, verifies their Standard
 * Webhooks signature on the raw body, validates them against the published schemas, dedupes on
 * `webhook-id` (a duplicate is acknowledged but not applied, as the contract asks), and lets a
 * test or the sandbox act as the agent by POSTing signed events to the bridge.
 *
 * It is a fake of the *other side*, so it shares only the contract with the adapter, never code.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { Webhook } from 'standardwebhooks';
import { Agent, request } from 'undici';
import type { ChatState, Content } from '../../src/core/content.js';
import {
  OUTBOUND_EVENTS,
  isOutboundEventName,
  validateEvent,
  webhookEventSchemas,
  type AgentMessage,
  type AgentMessageStatus,
  type AgentTyping,
  type AttendanceEnd,
  type OutboundEventName,
  type WebhookCustomer,
  type WebhookTranscriptEntry,
} from '../../src/helpdesks/webhook/contract.js';

export interface WebhookToolSimulatorOptions {
  /** The shared `whsec_…` secret (the bridge's `helpdesk.secret`). */
  secret: string;
  /** The bridge's `/helpdesk/{bot}/webhook` URL; can be set later with setBridgeWebhookUrl. */
  bridgeWebhookUrl?: string;
  /** Answer 404 to events about an attendance never opened here (exposes ordering bugs). Default false. */
  requireOpened?: boolean;
}

/** One event the tool accepted (duplicates are not recorded twice). */
export type SimEvent = {
  [K in OutboundEventName]: { webhookId: string; type: K; data: Static<(typeof webhookEventSchemas)[K]>['data']; at: string };
}[OutboundEventName];

/** Every POST /bridge, including refused, failed and duplicate ones: retries show up here. */
export interface SimAttempt {
  webhookId: string | undefined;
  type: string | undefined;
  status: number;
  /** 'reset' when the socket was destroyed instead of answered. */
  outcome: 'accepted' | 'duplicate' | 'rejected' | 'injected' | 'reset';
  at: string;
  /** Request headers as received (lower-case names). */
  headers: Record<string, string>;
}

export interface SimMessage {
  direction: 'customer' | 'agent';
  id: string;
  at: string;
  content: Content;
  agent?: { id: string; name: string };
  /** The last agent.message.status the bridge sent about this agent message. */
  status?: AgentMessageStatus['data']['status'];
}

/** One agent.message.status, as the tool shows it to the agent. */
export interface SimStatus {
  messageId: string;
  status: AgentMessageStatus['data']['status'];
  code?: string;
  reason?: string;
  at: string;
}

export interface SimAttendance {
  id: string;
  bot: string;
  openedAt: string;
  customer: WebhookCustomer;
  transcript: WebhookTranscriptEntry[];
  messages: SimMessage[];
  customerTyping?: ChatState;
  closed?: { reason: string; closedAt: string };
  /** Every agent.message.status about this attendance's agent messages, in arrival order. */
  statuses: SimStatus[];
}

/** What the bridge answered to one of our agent-side calls. */
export interface BridgeAnswer {
  status: number;
  body: unknown;
  webhookId: string;
}

export class WebhookToolSimulator {
  readonly events: SimEvent[] = [];
  readonly attempts: SimAttempt[] = [];
  readonly attendances = new Map<string, SimAttendance>();
  /** Agent-side calls we made and what the bridge answered. */
  readonly sent: Array<{ type: string; webhookId: string; body: unknown; status: number; answer: unknown }> = [];

  private readonly wh: Webhook;
  private readonly requireOpened: boolean;
  private readonly seen = new Set<string>();
  private readonly failures: Array<{ status: number; retryAfter?: string | number }> = [];
  private readonly dispatcher = new Agent({ keepAliveTimeout: 1_000 });
  private bridgeWebhookUrl: string | undefined;
  private down: false | 'reset' | 'unavailable' = false;
  private latencyMs = 0;
  private app: FastifyInstance | undefined;
  private seq = 0;

  constructor(options: WebhookToolSimulatorOptions) {
    this.wh = new Webhook(options.secret);
    this.bridgeWebhookUrl = options.bridgeWebhookUrl;
    this.requireOpened = options.requireOpened ?? false;
  }

  /** Listens on 127.0.0.1 and returns the base URL; the bridge's `helpdesk.url` is `${baseUrl}/bridge`. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
    // Signatures cover the exact bytes, so every route gets the raw text and parses it itself.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    app.post('/bridge', async (req, reply) => this.receive(String(req.body ?? ''), req.headers, reply));
    this.controlRoutes(app);
    await app.listen({ port, host });
    this.app = app;
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('simulator has no TCP address');
    return `http://${host}:${address.port}`;
  }

  async stop(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
    await this.dispatcher.close();
  }

  get baseUrl(): string {
    const address = this.app?.server.address();
    if (!address || typeof address === 'string') throw new Error('simulator not started');
    return `http://127.0.0.1:${address.port}`;
  }

  setBridgeWebhookUrl(url: string): void {
    this.bridgeWebhookUrl = url;
  }

  // ------------------------------------------------------------------------------------------
  // Fault injection

  /** The next `count` POST /bridge calls answer `status` (with Retry-After when given), before any check. */
  failNext(count: number, status: number, retryAfter?: string | number): void {
    for (let i = 0; i < count; i++) this.failures.push(retryAfter === undefined ? { status } : { status, retryAfter });
  }

  /** Down: 'reset' destroys each connection without an answer (a network error); 'unavailable' answers 503. */
  setDown(down: boolean, how: 'reset' | 'unavailable' = 'reset'): void {
    this.down = down ? how : false;
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** Resolves when `predicate(this)` holds, polling; rejects after `timeoutMs`. */
  async waitFor(predicate: (sim: this) => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline) throw new Error(`WebhookToolSimulator.waitFor: condition not met within ${timeoutMs} ms`);
      await sleep(5);
    }
  }

  eventsOfType<K extends OutboundEventName>(type: K): Array<Extract<SimEvent, { type: K }>> {
    return this.events.filter((e): e is Extract<SimEvent, { type: K }> => e.type === type);
  }

  // ------------------------------------------------------------------------------------------
  // The agent side: signed calls to the bridge

  /** Standard Webhooks headers for `body`, as the tool sends them. */
  sign(body: string, webhookId = `sim_${randomUUID()}`, at = new Date()): Record<string, string> {
    return {
      'content-type': 'application/json',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': this.wh.sign(webhookId, at, body),
    };
  }

  /** An agent reply. The webhook-id derives from the message id, so re-sending the same message is a duplicate. */
  async reply(
    attendanceId: string,
    content: Content | string,
    options: { messageId?: string; agent?: { id: string; name: string } } = {},
  ): Promise<BridgeAnswer> {
    const messageId = options.messageId ?? `agt_${++this.seq}_${randomUUID().slice(0, 8)}`;
    const c: Content = typeof content === 'string' ? { type: 'text', text: content } : content;
    const event: AgentMessage = {
      type: 'agent.message',
      timestamp: new Date().toISOString(),
      data: { attendanceId, message: { id: messageId, content: c, ...(options.agent ? { agent: options.agent } : {}) } },
    };
    const answer = await this.send(event, `msg_${safe(messageId)}`);
    if (answer.status >= 200 && answer.status < 300) {
      this.attendances.get(attendanceId)?.messages.push({
        direction: 'agent',
        id: messageId,
        at: event.timestamp,
        content: c,
        ...(options.agent ? { agent: options.agent } : {}),
      });
    }
    return answer;
  }

  async typing(attendanceId: string, state: ChatState): Promise<BridgeAnswer> {
    const event: AgentTyping = { type: 'agent.typing', timestamp: new Date().toISOString(), data: { attendanceId, state } };
    return this.send(event, `typ_${++this.seq}_${randomUUID().slice(0, 8)}`);
  }

  /** Ends the attendance; stable webhook-id per attendance, since it can end only once. */
  async end(attendanceId: string, reason?: string): Promise<BridgeAnswer> {
    const event: AttendanceEnd = {
      type: 'attendance.end',
      timestamp: new Date().toISOString(),
      data: { attendanceId, ...(reason !== undefined ? { reason } : {}) },
    };
    return this.send(event, `end_${safe(attendanceId)}`);
  }

  /**
   * Posts `body` (serialised unless a string) signed correctly, then applies `headersOverride`
   * (a value of `undefined` removes that header): for bad-signature and replay tests.
   */
  async postRaw(body: unknown, headersOverride: Record<string, string | undefined> = {}): Promise<BridgeAnswer> {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = this.sign(text);
    for (const [k, v] of Object.entries(headersOverride)) {
      if (v === undefined) delete headers[k.toLowerCase()];
      else headers[k.toLowerCase()] = v;
    }
    return this.post(text, headers);
  }

  private async send(event: AgentMessage | AgentTyping | AttendanceEnd, webhookId: string): Promise<BridgeAnswer> {
    const text = JSON.stringify(event);
    const answer = await this.post(text, this.sign(text, webhookId));
    this.sent.push({ type: event.type, webhookId, body: event, status: answer.status, answer: answer.body });
    return answer;
  }

  private async post(text: string, headers: Record<string, string>): Promise<BridgeAnswer> {
    if (!this.bridgeWebhookUrl) throw new Error('WebhookToolSimulator: no bridge webhook URL (setBridgeWebhookUrl)');
    const res = await request(this.bridgeWebhookUrl, { method: 'POST', headers, body: text, dispatcher: this.dispatcher });
    const raw = await res.body.text();
    let body: unknown = raw;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.statusCode, body, webhookId: headers['webhook-id'] ?? '' };
  }

  // ------------------------------------------------------------------------------------------
  // Receiving the bridge's events

  private async receive(raw: string, headers: Record<string, string | string[] | undefined>, reply: FastifyReply): Promise<unknown> {
    const webhookId = typeof headers['webhook-id'] === 'string' ? headers['webhook-id'] : undefined;
    const seenHeaders = Object.fromEntries(
      Object.entries(headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : v]])),
    );
    // eslint-disable-next-line prefer-const -- record() closes over it before the body is parsed
    let type: string | undefined;
    const record = (status: number, outcome: SimAttempt['outcome']) =>
      this.attempts.push({ webhookId, type, status, outcome, at: new Date().toISOString(), headers: seenHeaders });
    const answer = (status: number, outcome: SimAttempt['outcome'], body: unknown) => {
      record(status, outcome);
      return reply.code(status).send(body);
    };

    if (this.down === 'reset') {
      record(0, 'reset');
      reply.hijack();
      reply.raw.socket?.destroy();
      return reply;
    }
    if (this.down === 'unavailable') return answer(503, 'injected', { error: 'down' });
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    const failure = this.failures.shift();
    if (failure) {
      if (failure.retryAfter !== undefined) reply.header('retry-after', String(failure.retryAfter));
      return answer(failure.status, 'injected', { error: 'injected failure' });
    }

    // What the contract asks of a tool, in order: signature on the raw bytes, then JSON, then schema.
    try {
      this.wh.verify(raw, headers as Record<string, string>, { jsonParse: false });
    } catch (err) {
      return answer(401, 'rejected', { error: `bad signature: ${(err as Error).message}` });
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return answer(400, 'rejected', { error: 'body is not JSON' });
    }
    const t = (body as { type?: unknown } | null)?.type;
    type = typeof t === 'string' ? t : undefined;
    if (!isOutboundEventName(t)) {
      return answer(400, 'rejected', { error: `unknown type ${JSON.stringify(t)}; expected one of ${OUTBOUND_EVENTS.join(', ')}` });
    }
    const checked = validateEvent(t, body);
    if (!checked.ok) return answer(400, 'rejected', { error: `${t} ${checked.path}: ${checked.message}`, path: checked.path });
    if (webhookId === undefined) return answer(401, 'rejected', { error: 'webhook-id must be a single header' });
    if (this.seen.has(webhookId)) return answer(200, 'duplicate', { duplicate: true });

    const event = { webhookId, type: t, data: checked.value.data, at: new Date().toISOString() } as SimEvent;
    const problem = this.apply(event);
    if (problem) return answer(404, 'rejected', { error: problem });
    this.seen.add(webhookId);
    this.events.push(event);
    return answer(200, 'accepted', { ok: true });
  }

  /** Updates the attendance view; returns a reason when `requireOpened` refuses the event. */
  private apply(event: SimEvent): string | undefined {
    if (event.type === 'attendance.opened') {
      const { attendance, customer, transcript } = event.data;
      this.attendances.set(attendance.id, { id: attendance.id, bot: attendance.bot, openedAt: attendance.openedAt, customer, transcript, messages: [], statuses: [] });
      return undefined;
    }
    const a = this.attendances.get(event.data.attendanceId);
    if (!a) return this.requireOpened ? `unknown attendance ${event.data.attendanceId}` : undefined;
    switch (event.type) {
      case 'customer.message':
        a.messages.push({ direction: 'customer', id: event.data.message.id, at: event.data.message.at, content: event.data.message.content });
        break;
      case 'customer.typing':
        a.customerTyping = event.data.state;
        break;
      case 'attendance.closed':
        a.closed = { reason: event.data.reason, closedAt: event.data.closedAt };
        break;
      case 'agent.message.status': {
        const { messageId, status, code, reason } = event.data;
        a.statuses.push({ messageId, status, ...(code !== undefined ? { code } : {}), ...(reason !== undefined ? { reason } : {}), at: event.at });
        const m = a.messages.find((x) => x.direction === 'agent' && x.id === messageId);
        if (m) m.status = status;
        break;
      }
    }
    return undefined;
  }

  // ------------------------------------------------------------------------------------------
  // HTTP control for the sandbox: each call answers with what the bridge answered. `:id` may be
  // `latest` (the attendance opened most recently).

  private controlRoutes(app: FastifyInstance): void {
    app.get('/_sim/events', async () => ({
      events: this.events,
      attendances: [...this.attendances.values()],
      attempts: this.attempts.length,
    }));

    const relay = async (reply: FastifyReply, call: () => Promise<BridgeAnswer>) => {
      if (!this.bridgeWebhookUrl) return reply.code(409).send({ error: 'no bridge webhook URL configured' });
      try {
        const answer = await call();
        return reply.code(answer.status).send(answer.body ?? null);
      } catch (err) {
        return reply.code(502).send({ error: `bridge unreachable: ${(err as Error).message}` });
      }
    };
    const json = (raw: unknown): Record<string, unknown> | undefined => {
      try {
        const v: unknown = typeof raw === 'string' && raw !== '' ? JSON.parse(raw) : {};
        return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
      } catch {
        return undefined;
      }
    };

    app.post<{ Params: { id: string } }>('/_sim/attendances/:id/reply', async (req, reply) => {
      const b = json(req.body);
      const content = b?.content ?? (typeof b?.text === 'string' ? b.text : undefined);
      if (content === undefined) return reply.code(400).send({ error: 'body must be {"text": "…"} or {"content": {…}}' });
      const agent = b?.agent as { id: string; name: string } | undefined;
      const messageId = typeof b?.messageId === 'string' ? b.messageId : undefined;
      const id = this.resolveAttendance(req.params.id);
      if (id === undefined) return reply.code(404).send({ error: 'no attendance opened yet' });
      return relay(reply, () => this.reply(id, content as Content | string, { ...(agent ? { agent } : {}), ...(messageId ? { messageId } : {}) }));
    });
    app.post<{ Params: { id: string } }>('/_sim/attendances/:id/typing', async (req, reply) => {
      const state = json(req.body)?.state;
      if (state !== 'typing' && state !== 'paused') return reply.code(400).send({ error: 'body must be {"state": "typing" | "paused"}' });
      const id = this.resolveAttendance(req.params.id);
      if (id === undefined) return reply.code(404).send({ error: 'no attendance opened yet' });
      return relay(reply, () => this.typing(id, state));
    });
    app.post<{ Params: { id: string } }>('/_sim/attendances/:id/end', async (req, reply) => {
      const b = json(req.body);
      if (!b) return reply.code(400).send({ error: 'body must be a JSON object, e.g. {"reason": "solved"}' });
      const reason = typeof b.reason === 'string' ? b.reason : undefined;
      const id = this.resolveAttendance(req.params.id);
      if (id === undefined) return reply.code(404).send({ error: 'no attendance opened yet' });
      return relay(reply, () => this.end(id, reason));
    });
  }

  /** `latest` saves sandbox users from copying ids: the most recently opened attendance. */
  private resolveAttendance(id: string): string | undefined {
    if (id !== 'latest') return id;
    return [...this.attendances.keys()].at(-1);
  }
}

function safe(id: string): string {
  return /^[A-Za-z0-9_-]{1,200}$/.test(id) ? id : Buffer.from(id).toString('base64url').slice(0, 200);
}
