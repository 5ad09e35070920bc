/**
 * The bridge: the three paths of DESIGN §3 for every configured bot.
 * - Blip → us: validate, then one transaction {dedupe, find/open attendance, log, enqueue}.
 * - helpdesk → us: verified events, one transaction {dedupe, match attendance, enqueue}.
 * - end: attendance closing → to-blip lane drains → farewell → Redirect → closed.
 * Outbound work is only ever enqueued here; the DeliveryWorker runs it through `execute`.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { BotConfig, Config } from '../config/schema.js';
import { BlipClient } from '../blip/client.js';
import { customerFromEnvelope, enrichCustomer, readTranscript } from '../blip/customer.js';
import { Pacer } from '../blip/pacer.js';
import { DeliveryError } from '../delivery/errors.js';
import type { HttpClient } from '../delivery/http.js';
import type { Effects, Executor } from '../delivery/worker.js';
import type { AttendanceInfo, CloseReason, Customer, HelpdeskAdapter, HelpdeskEvent, HelpdeskRef } from '../helpdesks/adapter.js';
import { adapterDefinition } from '../helpdesks/registry.js';
import { BridgeError } from '../http/errors.js';
import { MIME, identityOf, type MessageEnvelope, type NotificationEnvelope, type OutboundMessage } from '../lime/envelope.js';
import type { Queries, Store } from '../store/store.js';
import type { AttendanceRow, DeliveryRow, MessageRow } from '../store/schema.js';
import type { ChatState, Content } from './content.js';
import { chatStateToLime, contentToLime, limeToContent } from './convert.js';
import { Links } from './links.js';
import type { MediaPolicy } from './media.js';

/** What a delivery carries, by lane and kind. */
export type DeliveryPayload =
  | { lane: 'to-helpdesk'; kind: 'open' }
  | { lane: 'to-helpdesk'; kind: 'message'; messageId: string }
  | { lane: 'to-helpdesk'; kind: 'typing'; state: ChatState; at: number }
  | { lane: 'to-helpdesk'; kind: 'close'; reason: CloseReason }
  | { lane: 'to-helpdesk'; kind: 'status'; messageId: string; status: 'sent' | 'failed' }
  | { lane: 'to-blip'; kind: 'message'; messageId: string }
  | { lane: 'to-blip'; kind: 'chatstate'; state: ChatState; at: number }
  | { lane: 'to-blip'; kind: 'notification'; id: string; event: 'consumed' | 'failed'; reason?: string }
  | { lane: 'to-blip'; kind: 'redirect'; reason: CloseReason };

/** Typing indicators older than this are not worth sending once a lane catches up. */
const STALE_CHATSTATE_MS = 15_000;

export interface BotRuntime {
  config: BotConfig;
  blip: BlipClient;
  pacer: Pacer;
  adapter: HelpdeskAdapter;
}

export interface BridgeHooks {
  /** Called after a transaction enqueued work. */
  wake(): void;
}

export type Inbound = { outcome: 'accepted' | 'duplicate'; attendanceId?: string };

export class Bridge implements Executor {
  readonly bots = new Map<string, BotRuntime>();
  readonly links: Links;
  private hooks: BridgeHooks = { wake: () => undefined };

  constructor(
    readonly config: Config,
    readonly store: Store,
    http: HttpClient,
    private readonly log: Logger,
  ) {
    this.links = new Links(config.server.publicUrl, config.server.adminToken);
    for (const bot of config.bots) this.bots.set(bot.id, createRuntime(bot, http, log, config.delivery.timeoutMs, config.media, this.links));
  }

  setHooks(hooks: BridgeHooks): void {
    this.hooks = hooks;
  }

  bot(id: string): BotRuntime {
    const b = this.bots.get(id);
    if (!b) throw new BridgeError('BRIDGE_ERR_UNKNOWN_BOT', `no bot "${id}"`);
    return b;
  }

  // ── Blip → us ─────────────────────────────────────────────────────────────────────────────

  async receiveBlipMessage(botId: string, env: MessageEnvelope): Promise<Inbound> {
    this.bot(botId);
    // Convert before writing anything: a malformed content is rejected whole.
    const converted = limeToContent(env.type, env.content);
    if (converted.kind === 'invalid') throw new BridgeError('BRIDGE_ERR_INVALID_CONTENT', `${env.type}: ${converted.error}`);
    const address = identityOf(env.from);
    const now = Date.now();
    const result = await retryOnUniqueViolation(() => this.store.transaction(async (q): Promise<Inbound> => {
      if (env.id !== undefined && !(await q.claimDedupe(botId, 'blip-message', env.id, now))) return { outcome: 'duplicate' };
      let att = await q.activeAttendance(botId, address);
      if (converted.kind === 'chatstate') {
        // A typing indicator alone never opens an attendance.
        if (!att || att.state === 'closing') return { outcome: 'accepted' };
        await q.enqueue(this.payload(att, { lane: 'to-helpdesk', kind: 'typing', state: converted.state, at: now }), now);
        return { outcome: 'accepted', attendanceId: att.id };
      }
      if (!att) {
        const id = randomUUID();
        const customer = customerFromEnvelope(address, env.metadata ?? undefined);
        await q.createAttendance({ id, bot_id: botId, customer_address: address, customer, opened_at: now });
        await q.enqueue(this.payload({ id, bot_id: botId }, { lane: 'to-helpdesk', kind: 'open' }), now);
        att = (await q.attendance(id))!;
        this.log.info({ bot: botId, attendance: id, customer: address }, 'attendance opening');
      }
      const messageId = randomUUID();
      if (att.state === 'closing') {
        // The Redirect is on its way: the helpdesk has ended. Keep it in the log and acknowledge
        // it to Blip so nothing looks lost; it is not forwarded to a closed conversation.
        await q.insertMessage({ id: messageId, attendance_id: att.id, direction: 'customer', source_id: env.id ?? null, content: converted.content, status: 'after-end', created_at: now });
        if (env.id) await q.enqueue(this.payload(att, { lane: 'to-blip', kind: 'notification', id: env.id, event: 'consumed' }), now);
        return { outcome: 'accepted', attendanceId: att.id };
      }
      await q.insertMessage({ id: messageId, attendance_id: att.id, direction: 'customer', source_id: env.id ?? null, content: converted.content, status: 'received', created_at: now });
      await q.enqueue(this.payload(att, { lane: 'to-helpdesk', kind: 'message', messageId }), now);
      return { outcome: 'accepted', attendanceId: att.id };
    }));
    if (result.outcome === 'accepted') this.hooks.wake();
    return result;
  }

  /** Blip's notifications about what we sent (accepted → dispatched → received → consumed, or failed). */
  async receiveBlipNotification(botId: string, env: NotificationEnvelope): Promise<Inbound> {
    this.bot(botId);
    const now = Date.now();
    return this.store.transaction(async (q): Promise<Inbound> => {
      if (!(await q.claimDedupe(botId, 'blip-notification', `${env.id}|${env.event}`, now))) return { outcome: 'duplicate' };
      const message = await q.messageById(env.id);
      if (message && message.direction !== 'customer' && shouldAdvance(message.status, env.event)) {
        await q.updateMessage(message.id, { status: env.event === 'failed' ? `failed: ${env.reason?.description ?? 'no reason'}` : env.event }, now);
      }
      return { outcome: 'accepted', ...(message ? { attendanceId: message.attendance_id } : {}) };
    });
  }

  // ── helpdesk → us ─────────────────────────────────────────────────────────────────────────

  /** Applies verified, parsed events all together or not at all. */
  async receiveHelpdeskEvents(botId: string, events: HelpdeskEvent[]): Promise<{ accepted: number; duplicates: number; ignored: string[] }> {
    const bot = this.bot(botId);
    const unmatched = bot.adapter.webhook?.unmatched ?? 'ignore';
    const now = Date.now();
    const out = await this.store.transaction(async (q) => {
      const res = { accepted: 0, duplicates: 0, ignored: [] as string[] };
      for (const ev of events) {
        if (ev.kind === 'ignored') {
          res.ignored.push(ev.reason);
          continue;
        }
        const m = ev.attendance;
        let att = 'key' in m ? await q.attendanceByHelpdeskKey(botId, m.key) : await q.attendance(m.id);
        // A vendor that echoes our id back (Omnize's `extra`) must name the same attendance.
        if (att && 'key' in m && m.id !== undefined && m.id !== att.id) att = undefined;
        // Such a vendor may send events while the hand-off is still in flight, before we have stored
        // its key (Omnize queues the interaction as it creates it): then our echoed id alone names
        // the attendance, but only one still opening, which has no key to contradict it.
        if (!att && 'key' in m && m.id !== undefined) {
          const opening = await q.attendance(m.id);
          if (opening && opening.state === 'opening' && opening.helpdesk_key === null) att = opening;
        }
        if (!att || att.bot_id !== botId) {
          if (unmatched === 'reject') throw new BridgeError('BRIDGE_ERR_UNKNOWN_ATTENDANCE', `no attendance ${JSON.stringify(ev.attendance)}`);
          res.ignored.push(`unknown attendance ${JSON.stringify(ev.attendance)}`);
          continue;
        }
        if (!(await q.claimDedupe(botId, 'helpdesk-event', ev.eventId, now))) {
          res.duplicates++;
          continue;
        }
        if (att.state === 'closing' || att.state === 'closed') {
          if (unmatched === 'reject') throw new BridgeError('BRIDGE_ERR_ATTENDANCE_CLOSED', `attendance ${att.id} is ${att.state}`);
          res.ignored.push(`attendance ${att.id} is ${att.state}`);
          continue;
        }
        switch (ev.kind) {
          case 'agent.message': {
            // The vendor's message id is its idempotency key, beside the event id.
            if (!(await q.claimDedupe(botId, 'agent-message', ev.message.id, now))) {
              res.duplicates++;
              continue;
            }
            const messageId = randomUUID();
            await q.insertMessage({ id: messageId, attendance_id: att.id, direction: 'agent', source_id: ev.message.id, content: { ...ev.message.content, ...(ev.message.agent ? { agent: ev.message.agent } : {}) }, status: 'queued', created_at: now });
            await q.enqueue(this.payload(att, { lane: 'to-blip', kind: 'message', messageId }), now);
            break;
          }
          case 'agent.typing':
            await q.enqueue(this.payload(att, { lane: 'to-blip', kind: 'chatstate', state: ev.state, at: now }), now);
            break;
          case 'agent.assigned':
            await q.updateAttendance(att.id, { agent: JSON.stringify(ev.agent ?? {}) }, now);
            break;
          case 'attendance.ended':
            await this.beginClose(q, att, 'agent', now);
            break;
          case 'notice':
            await this.enqueueSystemText(q, att, ev.text, now);
            break;
          case 'no-agent':
            // TODO(issue 10): hand back at once when waitingForAgent.handBackAfter is set.
            if (ev.text) await this.enqueueSystemText(q, att, ev.text, now);
            break;
        }
        res.accepted++;
      }
      return res;
    });
    if (out.accepted > 0) this.hooks.wake();
    return out;
  }

  // ── the end ───────────────────────────────────────────────────────────────────────────────

  /** Admin (or timeout) close. */
  async close(attendanceId: string, reason: CloseReason): Promise<AttendanceRow> {
    const now = Date.now();
    const row = await this.store.transaction(async (q) => {
      const att = await q.attendance(attendanceId);
      if (!att) throw new BridgeError('BRIDGE_ERR_UNKNOWN_ATTENDANCE', `no attendance ${attendanceId}`);
      if (att.state === 'closing' || att.state === 'closed') throw new BridgeError('BRIDGE_ERR_ATTENDANCE_CLOSED', `attendance ${att.id} is ${att.state}`);
      await this.beginClose(q, att, reason, now);
      return (await q.attendance(attendanceId))!;
    });
    this.hooks.wake();
    return row;
  }

  /** Replays a dead delivery (admin). False when it is not dead. */
  async retry(deliveryId: number): Promise<boolean> {
    const ok = await this.store.revive(deliveryId, Date.now());
    if (ok) this.hooks.wake();
    return ok;
  }

  /**
   * closing: the to-blip lane keeps its order, so pending agent messages go first, then the
   * farewell, then the Redirect (whose delivery closes the attendance). The helpdesk hears of the
   * end through its own lane.
   */
  private async beginClose(q: Queries, att: AttendanceRow, reason: CloseReason, now: number): Promise<void> {
    await q.updateAttendance(att.id, { state: 'closing', close_reason: reason }, now, ['opening', 'open']);
    const bot = this.bot(att.bot_id);
    const farewell = bot.config.attendance.messages.closed;
    if (farewell) await this.enqueueSystemText(q, att, farewell, now);
    await q.enqueue(this.payload(att, { lane: 'to-blip', kind: 'redirect', reason }), now);
    if (bot.adapter.close) await q.enqueue(this.payload(att, { lane: 'to-helpdesk', kind: 'close', reason }), now);
    this.log.info({ bot: att.bot_id, attendance: att.id, reason }, 'attendance closing');
  }

  private async enqueueSystemText(q: Queries, att: Pick<AttendanceRow, 'id' | 'bot_id'>, text: string, now: number): Promise<void> {
    const messageId = randomUUID();
    await q.insertMessage({ id: messageId, attendance_id: att.id, direction: 'system', source_id: null, content: { type: 'text', text } satisfies Content, status: 'queued', created_at: now });
    await q.enqueue(this.payload(att, { lane: 'to-blip', kind: 'message', messageId }), now);
  }

  private payload(att: Pick<AttendanceRow, 'id' | 'bot_id'>, p: DeliveryPayload) {
    const { lane, kind, ...rest } = p;
    return { attendance_id: att.id, bot_id: att.bot_id, lane, kind, payload: JSON.stringify(rest) };
  }

  // ── deliveries (Executor) ─────────────────────────────────────────────────────────────────

  pauseKey(d: DeliveryRow): string | undefined {
    // Blip's limit is per bot: one 429 pauses all of that bot's traffic to Blip. A helpdesk whose
    // limit is account-wide pauses all of the bot's lanes to it; otherwise only the lane waits.
    if (d.lane === 'to-blip') return `blip:${d.bot_id}`;
    return this.bots.get(d.bot_id)?.adapter.capabilities.accountRateLimit ? `helpdesk:${d.bot_id}` : undefined;
  }

  async execute(d: DeliveryRow): Promise<Effects | void> {
    const p = { lane: d.lane, kind: d.kind, ...(JSON.parse(d.payload) as object) } as DeliveryPayload;
    const att = await this.store.attendance(d.attendance_id);
    if (!att) throw new DeliveryError(`attendance ${d.attendance_id} does not exist`, false);
    const bot = this.bot(att.bot_id);
    const info: AttendanceInfo = { id: att.id, bot: att.bot_id, openedAt: new Date(att.opened_at).toISOString() };
    const ctx = { attempt: d.attempts, deliveryId: d.id };
    if (p.lane === 'to-helpdesk') {
      switch (p.kind) {
        case 'open':
          return this.open(bot, att, info, ctx);
        case 'message':
          return this.deliverToHelpdesk(bot, att, info, d, p.messageId, ctx);
        case 'typing':
          if (Date.now() - p.at > STALE_CHATSTATE_MS || !bot.adapter.signal || !bot.adapter.capabilities.typing) return;
          await bot.adapter.signal(requireRef(att), info, p.state, ctx);
          return;
        case 'close':
          if (!att.helpdesk_ref) return; // never opened in the helpdesk: nothing to tell it
          await bot.adapter.close?.(requireRef(att), info, p.reason, ctx);
          return;
        case 'status': {
          const m = await this.store.messageById(p.messageId);
          if (!m?.source_id || !bot.adapter.messageStatus) return;
          await bot.adapter.messageStatus(requireRef(att), info, { sourceId: m.source_id, status: p.status }, ctx);
          return;
        }
      }
    }
    const to = att.customer_address;
    const customer = JSON.parse(att.customer) as Customer;
    switch (p.kind) {
      case 'message': {
        const m = await this.store.messageById(p.messageId);
        if (!m) throw new DeliveryError(`message ${p.messageId} does not exist`, false);
        const lime = contentToLime(JSON.parse(m.content) as Content);
        await bot.pacer.take();
        // Our log id is the LIME id: stable across retries, and Blip's notifications name it.
        await bot.blip.sendMessage({ id: m.id, to, ...lime, ...tunnelMetadata(customer) });
        return async (q, now) => {
          await q.updateMessage(m.id, { status: 'sent' }, now);
          if (m.direction === 'agent' && bot.adapter.messageStatus) await q.enqueue(this.payload(att, { lane: 'to-helpdesk', kind: 'status', messageId: m.id, status: 'sent' }), now);
        };
      }
      case 'chatstate':
        if (Date.now() - p.at > STALE_CHATSTATE_MS) return;
        await bot.pacer.take();
        // LIME recommends no id on chat states (research/blip.md §3.2).
        await bot.blip.sendMessage({ to, ...chatStateToLime(p.state) });
        return;
      case 'notification':
        await bot.blip.sendNotification({
          id: p.id,
          to,
          event: p.event,
          ...(p.event === 'failed' ? { reason: { code: 101, description: (p.reason ?? 'not delivered to the helpdesk').slice(0, 500) } } : {}),
        });
        return;
      case 'redirect': {
        const content: Record<string, unknown> = {};
        if (bot.config.blip.returnTo) content['address'] = bot.config.blip.returnTo;
        await bot.pacer.take();
        const redirect: OutboundMessage = { id: `redirect-${att.id}`, to, type: MIME.redirect, content, ...tunnelMetadata(customer) };
        await bot.blip.sendMessage(redirect);
        return async (q, now) => {
          await q.updateAttendance(att.id, { state: 'closed', closed_at: now }, now, ['closing']);
          this.log.info({ bot: att.bot_id, attendance: att.id }, 'attendance closed; customer redirected');
        };
      }
    }
  }

  /**
   * A customer message to the helpdesk. When the adapter batches and the lane is behind, the
   * consecutive messages waiting behind this one go with it, and are done with it.
   */
  private async deliverToHelpdesk(bot: BotRuntime, att: AttendanceRow, info: AttendanceInfo, d: DeliveryRow, messageId: string, ctx: { attempt: number; deliveryId: number }): Promise<Effects> {
    const ref = requireRef(att);
    const batch = bot.adapter.deliverBatch && (bot.adapter.capabilities.batch ?? 1) > 1 ? bot.adapter.capabilities.batch! : 1;
    const followers = batch > 1 ? await this.store.laneFollowers(att.id, 'to-helpdesk', d.id, 'message', batch - 1) : [];
    const ids = [messageId, ...followers.map((f) => (JSON.parse(f.payload) as { messageId: string }).messageId)];
    const rows: MessageRow[] = [];
    for (const id of ids) {
      const m = await this.store.messageById(id);
      if (!m) throw new DeliveryError(`message ${id} does not exist`, false);
      rows.push(m);
    }
    const outgoing = rows.map((m) => ({ id: m.id, at: new Date(m.created_at).toISOString(), content: JSON.parse(m.content) as Content }));
    const { vendorMessageId } = outgoing.length > 1 && bot.adapter.deliverBatch ? await bot.adapter.deliverBatch(ref, info, outgoing, ctx) : await bot.adapter.deliver(ref, info, outgoing[0]!, ctx);
    return async (q, now) => {
      for (const f of followers) await q.markDone(f.id, now);
      for (const m of rows) {
        await q.updateMessage(m.id, { status: 'delivered', vendor_id: vendorMessageId ?? null }, now);
        if (m.source_id) await q.enqueue(this.payload(att, { lane: 'to-blip', kind: 'notification', id: m.source_id, event: 'consumed' }), now);
      }
    };
  }

  private async open(bot: BotRuntime, att: AttendanceRow, info: AttendanceInfo, ctx: { attempt: number; deliveryId: number }): Promise<Effects> {
    const log = this.log.child({ bot: att.bot_id, attendance: att.id });
    let customer = JSON.parse(att.customer) as Customer;
    customer = await enrichCustomer(bot.blip, bot.config.blip, customer, log);
    const own = new Set((await this.store.messagesOf(att.id)).map((m) => m.source_id).filter((s): s is string => s !== null));
    const transcript = await readTranscript(bot.blip, bot.config.blip, customer, bot.config.attendance.transcriptMessages, own, att.opened_at, log);
    // Kept before the helpdesk hears of it: some fetch it from us while we open (Omnize external_history).
    await this.store.updateAttendance(att.id, { transcript: JSON.stringify(transcript), customer: JSON.stringify(customer) }, Date.now());
    const ref: HelpdeskRef = await bot.adapter.open(info, customer, transcript, ctx);
    return async (q, now) => {
      await q.updateAttendance(att.id, { state: 'open', customer: JSON.stringify(customer), helpdesk_key: ref.key, helpdesk_ref: JSON.stringify(ref) }, now, ['opening']);
      const opened = bot.config.attendance.messages.opened;
      if (opened) await this.enqueueSystemText(q, att, opened, now);
      log.info({ helpdeskKey: ref.key }, 'attendance open in the helpdesk');
    };
  }

  /** A dead delivery is reported where that helps (DESIGN §3). */
  async onDead(q: Queries, d: DeliveryRow, error: string, now: number): Promise<void> {
    const p = { lane: d.lane, kind: d.kind, ...(JSON.parse(d.payload) as object) } as DeliveryPayload;
    const att = await q.attendance(d.attendance_id);
    if (!att) return;
    if (p.lane === 'to-helpdesk' && p.kind === 'message') {
      const m = await q.messageById(p.messageId);
      if (m) {
        await q.updateMessage(m.id, { status: `failed: ${error.slice(0, 300)}` }, now);
        if (m.source_id) await q.enqueue(this.payload(att, { lane: 'to-blip', kind: 'notification', id: m.source_id, event: 'failed', reason: error }), now);
      }
    }
    if (p.lane === 'to-helpdesk' && p.kind === 'open' && att.state === 'opening') {
      // The helpdesk never took the customer: tell them, and give them back to the bot rather
      // than leave them talking to nobody.
      for (const m of await q.messagesOf(att.id)) {
        if (m.direction === 'customer' && m.status === 'received') {
          await q.updateMessage(m.id, { status: 'failed: the helpdesk did not open the attendance' }, now);
          if (m.source_id) await q.enqueue(this.payload(att, { lane: 'to-blip', kind: 'notification', id: m.source_id, event: 'failed', reason: error }), now);
        }
      }
      const failed = this.bot(att.bot_id).config.attendance.messages.failed;
      if (failed) await this.enqueueSystemText(q, att, failed, now);
      await q.updateAttendance(att.id, { state: 'closing', close_reason: 'failed' }, now, ['opening']);
      await q.enqueue(this.payload(att, { lane: 'to-blip', kind: 'redirect', reason: 'failed' }), now);
      this.log.error({ bot: att.bot_id, attendance: att.id, error }, 'the helpdesk could not open the attendance; customer handed back');
    }
    if (p.lane === 'to-blip' && p.kind === 'redirect') {
      // Without the Redirect the customer stays with us; close anyway so a new message opens a new
      // attendance, and leave the dead delivery for an operator to replay.
      await q.updateAttendance(att.id, { state: 'closed', closed_at: now }, now, ['closing']);
    }
    if (p.lane === 'to-blip' && p.kind === 'message') {
      const m = await q.messageById(p.messageId);
      if (m) await q.updateMessage(m.id, { status: `failed: ${error.slice(0, 300)}` }, now);
      if (m?.direction === 'agent' && this.bots.get(att.bot_id)?.adapter.messageStatus) {
        await q.enqueue(this.payload(att, { lane: 'to-helpdesk', kind: 'status', messageId: m.id, status: 'failed' }), now);
      }
    }
  }

}

/** A bot's Blip client, pacer and helpdesk adapter, from its validated config. */
export function createRuntime(bot: BotConfig, http: HttpClient, log: Logger, timeoutMs: number, media: MediaPolicy, links: Links): BotRuntime {
  const def = adapterDefinition(bot.helpdesk.type);
  if (!def) throw new Error(`bots.${bot.id}.helpdesk.type: unknown helpdesk type ${bot.helpdesk.type}`);
  return {
    config: bot,
    blip: new BlipClient(bot.blip, http, timeoutMs),
    pacer: new Pacer(bot.blip.messagesPerSecond),
    adapter: def.create(bot.helpdesk, {
      http,
      log: log.child({ bot: bot.id, helpdesk: bot.helpdesk.type }),
      botId: bot.id,
      media,
      transcriptUrl: (attendanceId) => links.transcriptUrl(attendanceId),
    }),
  };
}

/** check-config: each bot's Blip key and helpdesk, without touching the store. */
export async function checkConnections(config: Config, http: HttpClient, log: Logger): Promise<Array<{ bot: string; part: 'blip' | 'helpdesk'; ok: boolean; detail: string }>> {
  const out: Array<{ bot: string; part: 'blip' | 'helpdesk'; ok: boolean; detail: string }> = [];
  for (const bot of config.bots) {
    const rt = createRuntime(bot, http, log, config.delivery.timeoutMs, config.media, new Links(config.server.publicUrl, config.server.adminToken));
    const [b, h] = await Promise.all([rt.blip.check(), rt.adapter.check().catch((e: Error) => ({ ok: false, detail: e.message }))]);
    out.push({ bot: bot.id, part: 'blip', ...b }, { bot: bot.id, part: 'helpdesk', ...h });
  }
  return out;
}

/**
 * Two first messages of one customer at once (two replicas, or two connections) both try to open
 * an attendance; the partial unique index lets one win. The loser runs again and finds it.
 */
async function retryOnUniqueViolation<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as { code?: string };
    if (e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE') return fn();
    throw err;
  }
}

function requireRef(att: AttendanceRow): HelpdeskRef {
  if (!att.helpdesk_ref) throw new DeliveryError(`attendance ${att.id} is not open in the helpdesk`, false);
  return JSON.parse(att.helpdesk_ref) as HelpdeskRef;
}

/** Builder copies the tunnel metadata on its replies; we do the same (research/blip.md §2.3). */
function tunnelMetadata(c: Customer): { metadata?: Record<string, string> } {
  const metadata: Record<string, string> = {};
  if (c.router) metadata['#tunnel.owner'] = c.router;
  if (c.originator) metadata['#tunnel.originator'] = c.originator;
  return Object.keys(metadata).length ? { metadata } : {};
}

const RANK: Record<string, number> = { queued: 0, sent: 1, accepted: 2, dispatched: 3, received: 4, consumed: 5 };

/** Notifications can arrive out of order; a status only moves forward (failed always wins). */
function shouldAdvance(current: string, event: string): boolean {
  if (event === 'failed') return true;
  const next = RANK[event];
  if (next === undefined) return false;
  const cur = RANK[current] ?? (current.startsWith('failed') ? 99 : -1);
  return next > cur;
}
