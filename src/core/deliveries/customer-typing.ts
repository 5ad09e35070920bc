/** to-helpdesk `typing`: the customer is typing (or stopped). Best effort: stale ones are dropped. */
import { Type } from '@sinclair/typebox';
import { requireRef } from '../rows.js';
import { STALE_CHATSTATE_MS } from './blip-chatstate.js';
import { defineKind } from './kind.js';

export const customerTyping = defineKind({
  lane: 'to-helpdesk',
  kind: 'typing',
  payload: Type.Object({ state: Type.Union([Type.Literal('typing'), Type.Literal('paused')]), at: Type.Number() }),

  async run({ core, att, bot, info, call }, p) {
    if (core.clock.now() - p.at > STALE_CHATSTATE_MS || !bot.adapter.signal || !bot.adapter.capabilities.typing) return;
    if (!att.helpdesk_ref) return; // never opened (ended before): nobody to tell
    await bot.adapter.signal(requireRef(att), info, p.state, call);
  },
});
