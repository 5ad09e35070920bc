/**
 * The admin API (DESIGN §6), bearer `server.adminToken`: attendances with their message log and
 * deliveries, close one, dead deliveries and their retry. Secrets never appear in answers.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Bridge } from '../core/bridge.js';
import { CLOSE_REASONS } from '../helpdesks/adapter.js';
import { shown } from '../core/sensitive.js';
import type { AttendanceRow, DeliveryRow, MessageRow } from '../store/schema.js';
import { BridgeError } from './errors.js';
import { Validator, parseJson } from './body.js';
import type { ConsoleSessions } from './session.js';

const ListAttendances = new Validator(
  Type.Object({
    bot: Type.Optional(Type.String({ maxLength: 64 })),
    state: Type.Optional(Type.Union([Type.Literal('opening'), Type.Literal('open'), Type.Literal('closing'), Type.Literal('closed')])),
    customer: Type.Optional(Type.String({ maxLength: 1024 })),
    reason: Type.Optional(Type.Union(CLOSE_REASONS.map((r) => Type.Literal(r)))),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
    before: Type.Optional(Type.String({ maxLength: 200, description: 'The `next` cursor of the previous page.' })),
  }),
  'BRIDGE_ERR_INVALID_REQUEST',
);
const ListDeliveries = new Validator(
  Type.Object({
    state: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('done'), Type.Literal('dead')])),
    bot: Type.Optional(Type.String({ maxLength: 64 })),
    lane: Type.Optional(Type.Union([Type.Literal('to-helpdesk'), Type.Literal('to-blip')])),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
    after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
  }),
  'BRIDGE_ERR_INVALID_REQUEST',
);
const CloseBody = new Validator(
  Type.Object({ reason: Type.Optional(Type.Union(CLOSE_REASONS.filter((r) => r !== 'agent' && r !== 'failed').map((r) => Type.Literal(r)))) }, { additionalProperties: false }),
  'BRIDGE_ERR_INVALID_REQUEST',
);
const Id = new Validator(Type.String({ pattern: '^[0-9]{1,15}$' }), 'BRIDGE_ERR_INVALID_REQUEST');

function limitOf(v: string | undefined): number {
  return Math.min(500, Math.max(1, Number(v ?? 50)));
}

export function attendanceView(a: AttendanceRow) {
  return {
    id: a.id,
    bot: a.bot_id,
    state: a.state,
    customer: JSON.parse(a.customer) as unknown,
    helpdesk: a.helpdesk_ref ? (JSON.parse(a.helpdesk_ref) as unknown) : null,
    agent: a.agent ? (JSON.parse(a.agent) as unknown) : null,
    openedAt: new Date(Number(a.opened_at)).toISOString(),
    closedAt: a.closed_at === null ? null : new Date(Number(a.closed_at)).toISOString(),
    closeReason: a.close_reason,
  };
}

function messageView(m: MessageRow) {
  return {
    id: m.id,
    direction: m.direction,
    sourceId: m.source_id,
    vendorId: m.vendor_id,
    status: m.status,
    at: new Date(Number(m.created_at)).toISOString(),
    // A sensitive message shows as its placeholder, sealed or not (src/core/sensitive.ts).
    content: shown(JSON.parse(m.content)),
  };
}

export function deliveryView(d: DeliveryRow) {
  return {
    id: Number(d.id),
    attendanceId: d.attendance_id,
    bot: d.bot_id,
    lane: d.lane,
    kind: d.kind,
    state: d.state,
    attempts: d.attempts,
    nextAttemptAt: d.state === 'pending' ? new Date(Number(d.next_at)).toISOString() : null,
    lastError: d.last_error,
    createdAt: new Date(Number(d.created_at)).toISOString(),
    updatedAt: new Date(Number(d.updated_at)).toISOString(),
    payload: JSON.parse(d.payload) as unknown,
  };
}

export async function adminRoutes(app: FastifyInstance, opts: { bridge: Bridge; sessions: ConsoleSessions }): Promise<void> {
  const { bridge } = opts;
  const store = bridge.store;

  // The bearer token, or the web console's session cookie (http/session.ts).
  app.addHook('onRequest', async (req) => opts.sessions.authorize(req));

  app.get('/admin/attendances', async (req) => {
    const q = ListAttendances.parse(req.query);
    const limit = limitOf(q.limit);
    let before: { openedAt: number; id: string } | undefined;
    if (q.before) {
      const [t, id] = q.before.split('_');
      if (!t || !id || !/^\d+$/.test(t)) throw new BridgeError('BRIDGE_ERR_INVALID_REQUEST', 'before: not a cursor from a previous page');
      before = { openedAt: Number(t), id };
    }
    const rows = await store.listAttendances({ limit, ...(q.bot ? { bot: q.bot } : {}), ...(q.state ? { state: q.state } : {}), ...(q.customer ? { customer: q.customer } : {}), ...(q.reason ? { reason: q.reason } : {}), ...(before ? { before } : {}) });
    const last = rows.at(-1);
    return { attendances: rows.map(attendanceView), next: rows.length === limit && last ? `${last.opened_at}_${last.id}` : null };
  });

  app.get<{ Params: { id: string } }>('/admin/attendances/:id', async (req) => {
    const a = await store.attendance(req.params.id);
    if (!a) throw new BridgeError('BRIDGE_ERR_UNKNOWN_ATTENDANCE', req.params.id);
    const [messages, deliveries] = await Promise.all([store.messagesOf(a.id), store.deliveriesOf(a.id)]);
    return { ...attendanceView(a), messages: messages.map(messageView), deliveries: deliveries.map(deliveryView) };
  });

  app.post<{ Params: { id: string } }>('/admin/attendances/:id/close', async (req, reply) => {
    const body = req.body === undefined || (Buffer.isBuffer(req.body) && req.body.length === 0) ? {} : CloseBody.parse(parseJson(req.body));
    const a = await bridge.close(req.params.id, body.reason ?? 'admin');
    return reply.code(202).send(attendanceView(a));
  });

  app.get('/admin/deliveries', async (req) => {
    const q = ListDeliveries.parse(req.query);
    const limit = limitOf(q.limit);
    const rows = await store.listDeliveries({ limit, state: q.state ?? 'dead', ...(q.bot ? { bot: q.bot } : {}), ...(q.lane ? { lane: q.lane } : {}), ...(q.after ? { afterId: Number(q.after) } : {}) });
    const last = rows.at(-1);
    return { deliveries: rows.map(deliveryView), next: rows.length === limit && last ? String(last.id) : null };
  });

  app.post<{ Params: { id: string } }>('/admin/deliveries/:id/retry', async (req, reply) => {
    const id = Number(Id.parse(req.params.id));
    const d = await store.delivery(id);
    if (!d) throw new BridgeError('BRIDGE_ERR_NOT_FOUND', `no delivery ${id}`);
    if (!(await bridge.retry(id))) throw new BridgeError('BRIDGE_ERR_DELIVERY_NOT_DEAD', `delivery ${id} is ${d.state}`);
    return reply.code(202).send(deliveryView((await store.delivery(id))!));
  });
}
