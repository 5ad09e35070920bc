/** to-blip `message`: an agent's or the bridge's own message to the customer. */
import { Type } from '@sinclair/typebox';
import { contentToLime } from '../convert.js';
import { FAILURES } from '../reasons.js';
import { contentOf, customerOf, tunnelMetadata } from '../rows.js';
import { DeliveryError } from '../../delivery/errors.js';
import { agentStatus } from './agent-status.js';
import { defineKind, enqueue } from './kind.js';

export const blipMessage = defineKind({
  lane: 'to-blip',
  kind: 'message',
  payload: Type.Object({ messageId: Type.String() }),

  async run({ core, att, bot }, p) {
    const m = await core.store.messageById(p.messageId);
    if (!m) throw new DeliveryError(`message ${p.messageId} does not exist`, false);
    const lime = contentToLime(contentOf(m));
    // Our log id is the LIME id: stable across retries, and Blip's notifications name it.
    await bot.blip.sendMessage({ id: m.id, to: att.customer_address, ...lime, ...tunnelMetadata(customerOf(att)) });
    return async (q, now) => {
      await q.updateMessage(m.id, { status: 'sent' }, now);
      if (m.direction === 'agent' && bot.adapter.messageStatus) await enqueue(q, att, agentStatus, { messageId: m.id, status: 'sent' }, now);
    };
  },

  async onDead({ core, q, att, error, now }, p) {
    const m = await q.messageById(p.messageId);
    if (!m) return;
    await q.updateMessage(m.id, { status: `failed: ${error.slice(0, 300)}` }, now);
    // The agent must learn their reply did not reach the customer (issue 11).
    if (m.direction === 'agent' && core.bots.get(att.bot_id)?.adapter.messageStatus) {
      const f = FAILURES.DELIVERY_DEAD;
      await enqueue(q, att, agentStatus, { messageId: m.id, status: 'failed', code: 'DELIVERY_DEAD', reason: f.text }, now);
    }
  },

  replayRefusal({ att, newer }) {
    if (newer) return 'the customer has a newer attendance: this message would land in the middle of it';
    if (att.state === 'closed') return 'the customer was handed back to the bot: this message would reach them outside the attendance';
    return undefined;
  },
});
