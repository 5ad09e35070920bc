/** to-blip `chatstate`: the agent is typing (or stopped). Best effort: stale ones are dropped. */
import { Type } from '@sinclair/typebox';
import { chatStateToLime } from '../convert.js';
import { defineKind } from './kind.js';

/** Typing indicators older than this are not worth sending once a lane catches up. */
export const STALE_CHATSTATE_MS = 15_000;

export const blipChatstate = defineKind({
  lane: 'to-blip',
  kind: 'chatstate',
  payload: Type.Object({ state: Type.Union([Type.Literal('typing'), Type.Literal('paused')]), at: Type.Number() }),

  async run({ core, att, bot }, p) {
    if (core.clock.now() - p.at > STALE_CHATSTATE_MS) return;
    // LIME recommends no id on chat states (research/blip.md §3.2).
    await bot.blip.sendMessage({ to: att.customer_address, ...chatStateToLime(p.state) });
  },
});
