/**
 * to-blip `redirect`: hands the customer back to the main bot (research/blip.md §2.5), last on the
 * lane so every agent message and the farewell go first; its completion closes the attendance.
 */
import { Type } from '@sinclair/typebox';
import { CLOSE_REASONS, type CloseReason } from '../../helpdesks/adapter.js';
import { MIME, type OutboundMessage } from '../../lime/envelope.js';
import { transition } from '../attendance.js';
import { redirectContext } from '../redirect-context.js';
import { customerOf, tunnelMetadata } from '../rows.js';
import { defineKind } from './kind.js';

export const redirect = defineKind({
  lane: 'to-blip',
  kind: 'redirect',
  // Rows written before the close reasons were one list may hold another word: read as admin.
  payload: Type.Object({ reason: Type.String() }),

  async run({ core, att, bot }, p) {
    const reason: CloseReason = (att.close_reason as CloseReason | null) ?? ((CLOSE_REASONS as readonly string[]).includes(p.reason) ? (p.reason as CloseReason) : 'admin');
    const content: Record<string, unknown> = {};
    if (bot.config.blip.returnTo) content['address'] = bot.config.blip.returnTo;
    const context = redirectContext(att, bot, reason);
    if (context) content['context'] = context;
    const message: OutboundMessage = { id: `redirect-${att.id}`, to: att.customer_address, type: MIME.redirect, content, ...tunnelMetadata(customerOf(att)) };
    await bot.blip.sendMessage(message);
    return async (q, now) => {
      const cur = await q.attendance(att.id);
      if (cur?.state === 'closing') await transition(q, cur, 'closed', {}, now);
      core.log.info({ bot: att.bot_id, attendance: att.id, reason }, 'attendance closed; customer redirected');
    };
  },

  async onDead({ q, att, now }) {
    // Without the Redirect the customer stays with us; close anyway so a new message opens a new
    // attendance, and leave the dead delivery for an operator to replay.
    const cur = await q.attendance(att.id);
    if (cur?.state === 'closing') await transition(q, cur, 'closed', {}, now);
  },

  replayRefusal({ newer }) {
    // The one safe replay: the customer is still routed to us with nothing open.
    return newer ? 'the customer already has a newer attendance: a Redirect now would hand them back in the middle of it' : undefined;
  },
});
