/**
 * to-helpdesk `open`: the hand-off. Reads the customer's contact and the bot transcript from Blip,
 * then opens the attendance in the helpdesk; the vendor's reference is stored with the completion.
 */
import { Type } from '@sinclair/typebox';
import { enrichCustomer, readTranscript } from '../../blip/customer.js';
import type { HelpdeskRef } from '../../helpdesks/adapter.js';
import { transition } from '../attendance.js';
import { beginClose } from '../lifecycle.js';
import { systemText } from '../messages.js';
import { FAILURES } from '../reasons.js';
import { customerOf } from '../rows.js';
import { blipNotification } from './blip-notification.js';
import { defineKind, enqueue } from './kind.js';

export const open = defineKind({
  lane: 'to-helpdesk',
  kind: 'open',
  payload: Type.Object({}),

  async run({ core, att, bot, info, call }) {
    // Ended before the helpdesk took it (a timer, an operator): open nothing there.
    if (att.state !== 'opening') return;
    const log = core.log.child({ bot: att.bot_id, attendance: att.id });
    const customer = await enrichCustomer(bot.blip, bot.config.blip, customerOf(att), log);
    const own = new Set((await core.store.messagesOf(att.id)).map((m) => m.source_id).filter((s): s is string => s !== null));
    const transcript = await readTranscript(bot.blip, bot.config.blip, customer, bot.config.attendance.transcriptMessages, own, att.opened_at, log);
    // Kept before the helpdesk hears of it: some fetch it from us while we open (Omnize external_history).
    await core.store.updateAttendance(att.id, { transcript: JSON.stringify(transcript), customer: JSON.stringify(customer) }, core.clock.now());
    const ref: HelpdeskRef = await bot.adapter.open(info, customer, transcript, call);
    return async (q, now) => {
      // The reference is kept whatever happened meanwhile: an attendance that began closing while
      // the helpdesk was opening it needs it for the helpdesk to hear of the close.
      await q.updateAttendance(att.id, { customer: JSON.stringify(customer), helpdesk_key: ref.key, helpdesk_ref: JSON.stringify(ref) }, now);
      const cur = await q.attendance(att.id);
      if (cur?.state !== 'opening') return;
      await transition(q, cur, 'open', {}, now);
      const opened = bot.policy.messages.opened;
      if (opened) await systemText(q, att, opened, now);
      log.info({ helpdeskKey: ref.key }, 'attendance open in the helpdesk');
    };
  },

  async onDead({ core, q, att, error, now }) {
    if (att.state !== 'opening') return;
    // The helpdesk never took the customer: each of their messages fails once (the deliveries of
    // those messages then find no conversation and send nothing more), they are told, and they go
    // back to the bot rather than talk to nobody.
    const f = FAILURES.HELPDESK_OPEN_FAILED;
    for (const m of await q.messagesOf(att.id)) {
      if (m.direction !== 'customer' || m.status !== 'received') continue;
      await q.updateMessage(m.id, { status: 'failed: the helpdesk did not open the attendance' }, now);
      if (m.source_id) await enqueue(q, att, blipNotification, { id: m.source_id, event: 'failed', code: f.code, reason: f.text }, now);
    }
    await beginClose(core, q, att, 'failed', now);
    core.log.error({ bot: att.bot_id, attendance: att.id, error }, 'the helpdesk could not open the attendance; customer handed back');
  },

  replayRefusal({ att }) {
    return att.state === 'opening' ? undefined : `the attendance is ${att.state} (${att.close_reason ?? 'no reason'}): the customer's next message opens a new one`;
  },
});
