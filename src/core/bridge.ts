/**
 * The bridge: the three paths of DESIGN §3 for every configured bot, composed from their parts.
 * - Blip → us: src/core/inbound-blip.ts
 * - helpdesk → us: src/core/inbound-helpdesk.ts
 * - the end and the clocks: src/core/lifecycle.ts (timers fired by src/core/timers.ts)
 * - each kind of outbound delivery: src/core/deliveries/ (one file each, one map)
 * - the attendance's state: src/core/attendance.ts, its only writer.
 * Outbound work is only ever enqueued; the DeliveryWorker runs it through `execute`.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { DeliveryError } from '../delivery/errors.js';
import type { HttpClient } from '../delivery/http.js';
import type { Effects, Executor } from '../delivery/worker.js';
import type { AttendanceInfo, CloseReason, HelpdeskEvent } from '../helpdesks/adapter.js';
import { BridgeError } from '../http/errors.js';
import type { MessageEnvelope, NotificationEnvelope } from '../lime/envelope.js';
import type { AttendanceRow, DeliveryRow } from '../store/schema.js';
import type { Queries, Store } from '../store/store.js';
import { Core, systemClock, type Clock, type CoreHooks } from './context.js';
import { kindOf } from './deliveries/index.js';
import { payloadOf } from './deliveries/kind.js';
import { receiveBlipMessage, receiveBlipNotification, type Inbound } from './inbound-blip.js';
import { receiveHelpdeskEvents, type HelpdeskInbound } from './inbound-helpdesk.js';
import { beginClose } from './lifecycle.js';
import { Links } from './links.js';
import { createRuntime, type BotRuntime } from './runtime.js';
import { sealingKey } from './sensitive.js';
import { TimerRunner } from './timers.js';

export type { BotRuntime } from './runtime.js';
export { checkConnections, createRuntime } from './runtime.js';
export type { Inbound } from './inbound-blip.js';

export class Bridge implements Executor {
  readonly bots = new Map<string, BotRuntime>();
  readonly links: Links;
  readonly core: Core;
  readonly timers: TimerRunner;

  constructor(
    readonly config: Config,
    readonly store: Store,
    http: HttpClient,
    log: Logger,
    clock: Clock = systemClock,
  ) {
    this.links = new Links(config.server.publicUrl, config.server.adminToken);
    for (const bot of config.bots) this.bots.set(bot.id, createRuntime(bot, http, log, config.delivery.timeoutMs, config.media, this.links));
    this.core = new Core(store, this.bots, log, clock, sealingKey(config.server.adminToken));
    this.timers = new TimerRunner(this.core, Math.min(1000, config.delivery.pollIntervalMs));
  }

  setHooks(hooks: Partial<CoreHooks>): void {
    this.core.hooks = { ...this.core.hooks, ...hooks };
  }

  bot(id: string): BotRuntime {
    return this.core.bot(id);
  }

  receiveBlipMessage(botId: string, env: MessageEnvelope): Promise<Inbound> {
    return receiveBlipMessage(this.core, botId, env);
  }

  receiveBlipNotification(botId: string, env: NotificationEnvelope): Promise<Inbound> {
    return receiveBlipNotification(this.core, botId, env);
  }

  receiveHelpdeskEvents(botId: string, events: HelpdeskEvent[]): Promise<HelpdeskInbound> {
    return receiveHelpdeskEvents(this.core, botId, events);
  }

  /** An operator's close (farewell, helpdesk told, Redirect). */
  async close(attendanceId: string, reason: CloseReason): Promise<AttendanceRow> {
    const now = this.core.clock.now();
    const row = await this.store.transaction(async (q) => {
      const att = await q.attendance(attendanceId);
      if (!att) throw new BridgeError('BRIDGE_ERR_UNKNOWN_ATTENDANCE', `no attendance ${attendanceId}`);
      if (!(await beginClose(this.core, q, att, reason, now))) throw new BridgeError('BRIDGE_ERR_ATTENDANCE_CLOSED', `attendance ${att.id} is ${att.state}`);
      return (await q.attendance(attendanceId))!;
    });
    this.core.hooks.wake();
    return row;
  }

  /**
   * Replays a dead delivery (admin). Refused (409, BRIDGE_ERR_REPLAY_UNSAFE) when its attendance
   * moved on so that the replay would do harm: each kind says when (src/core/deliveries/).
   * False when it is not dead.
   */
  async retry(deliveryId: number): Promise<boolean> {
    const d = await this.store.delivery(deliveryId);
    if (!d || d.state !== 'dead') return false;
    const kind = kindOf(d);
    const att = await this.store.attendance(d.attendance_id);
    if (kind?.replayRefusal && att) {
      const active = await this.store.activeAttendance(att.bot_id, att.customer_address);
      const refusal = kind.replayRefusal({ core: this.core, att, newer: active && active.id !== att.id ? active : undefined }, payloadOf(kind, d));
      if (refusal) throw new BridgeError('BRIDGE_ERR_REPLAY_UNSAFE', `delivery ${deliveryId} (${d.lane} ${d.kind}): ${refusal}`);
    }
    const ok = await this.store.revive(deliveryId, this.core.clock.now());
    if (ok) this.core.hooks.wake();
    return ok;
  }

  // ── deliveries (Executor) ─────────────────────────────────────────────────────────────────

  pauseKey(d: DeliveryRow): string | undefined {
    // Blip's limit is per bot: one 429 pauses all of that bot's traffic to Blip. A helpdesk whose
    // limit is account-wide pauses all of the bot's lanes to it; otherwise only the lane waits.
    if (d.lane === 'to-blip') return `blip:${d.bot_id}`;
    return this.bots.get(d.bot_id)?.adapter.capabilities.accountRateLimit ? `helpdesk:${d.bot_id}` : undefined;
  }

  async execute(d: DeliveryRow): Promise<Effects | void> {
    const kind = kindOf(d);
    if (!kind) throw new DeliveryError(`no delivery kind ${d.lane}/${d.kind}`, false);
    const p = payloadOf(kind, d);
    const att = await this.store.attendance(d.attendance_id);
    if (!att) throw new DeliveryError(`attendance ${d.attendance_id} does not exist`, false);
    const bot = this.bot(att.bot_id);
    const info: AttendanceInfo = { id: att.id, bot: att.bot_id, openedAt: new Date(Number(att.opened_at)).toISOString() };
    return kind.run({ core: this.core, d, att, bot, info, call: { attempt: d.attempts, deliveryId: d.id } }, p);
  }

  /** A dead delivery is reported where that helps (DESIGN §3), as its kind says. */
  async onDead(q: Queries, d: DeliveryRow, error: string, now: number): Promise<void> {
    const kind = kindOf(d);
    if (!kind?.onDead) return;
    const att = await q.attendance(d.attendance_id);
    if (!att) return;
    let p: unknown;
    try {
      p = payloadOf(kind, d);
    } catch {
      return; // the payload itself is what killed it: nothing more to tell
    }
    await kind.onDead({ core: this.core, q, d, att, error, now }, p);
  }
}
