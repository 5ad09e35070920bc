/**
 * to-helpdesk `close`: the bridge ended the attendance (a timer, an operator, no agent…); the
 * helpdesk hears it in its own way (the adapter closes the conversation or ticket with a note
 * giving the reason). Behind every customer message still queued for it, by the lane's order.
 */
import { Type } from '@sinclair/typebox';
import { CLOSE_REASONS } from '../../helpdesks/adapter.js';
import { requireRef } from '../rows.js';
import { defineKind } from './kind.js';

export const helpdeskClose = defineKind({
  lane: 'to-helpdesk',
  kind: 'close',
  payload: Type.Object({ reason: Type.Union(CLOSE_REASONS.map((r) => Type.Literal(r))) }),

  async run({ att, bot, info, call }, p) {
    if (!att.helpdesk_ref || !bot.adapter.close) return; // never opened in the helpdesk: nothing to tell it
    await bot.adapter.close(requireRef(att), info, p.reason, call);
  },
});
