/**
 * to-helpdesk `message`: a customer message to the helpdesk, then `consumed` to Blip. When the
 * adapter batches and the lane is behind, the consecutive messages waiting behind this one go with
 * it, and are done with it.
 */
import { Type } from '@sinclair/typebox';
import { DeliveryError } from '../../delivery/errors.js';
import type { MessageRow } from '../../store/schema.js';
import { FAILURES } from '../reasons.js';
import { contentOf, requireRef } from '../rows.js';
import { SENSITIVE_PLACEHOLDER, isSealed, unseal } from '../sensitive.js';
import { blipNotification } from './blip-notification.js';
import { defineKind, enqueue, payloadOf } from './kind.js';

export const customerMessage = defineKind({
  lane: 'to-helpdesk',
  kind: 'message',
  payload: Type.Object({ messageId: Type.String() }),

  async run({ core, d, att, bot, info, call }, p) {
    // The open failed and said so (one `failed` per message, from the open): nothing more to do.
    if (!att.helpdesk_ref && (att.state === 'closing' || att.state === 'closed')) return;
    const ref = requireRef(att);
    const batch = bot.adapter.deliverBatch && (bot.adapter.capabilities.batch ?? 1) > 1 ? bot.adapter.capabilities.batch! : 1;
    const followers = batch > 1 ? await core.store.laneFollowers(att.id, 'to-helpdesk', d.id, 'message', batch - 1) : [];
    const ids = [p.messageId, ...followers.map((f) => payloadOf(customerMessage, f).messageId)];
    const rows: MessageRow[] = [];
    for (const id of ids) {
      const m = await core.store.messageById(id);
      if (!m) throw new DeliveryError(`message ${id} does not exist`, false);
      rows.push(m);
    }
    const outgoing = rows.map((m) => {
      const stored: unknown = JSON.parse(m.content);
      const at = new Date(Number(m.created_at)).toISOString();
      return isSealed(stored) ? { id: m.id, at, content: unseal(stored, core.sealKey), sensitive: true } : { id: m.id, at, content: contentOf(m) };
    });
    const { vendorMessageId } = outgoing.length > 1 && bot.adapter.deliverBatch ? await bot.adapter.deliverBatch(ref, info, outgoing, call) : await bot.adapter.deliver(ref, info, outgoing[0]!, call);
    return async (q, now) => {
      for (const f of followers) await q.markDone(f.id, now);
      for (const [i, m] of rows.entries()) {
        // The helpdesk has it: the sealed content goes, the placeholder stays.
        if (outgoing[i]!.sensitive) await q.updateMessage(m.id, { status: 'delivered', vendor_id: vendorMessageId ?? null, content: SENSITIVE_PLACEHOLDER }, now);
        else await q.updateMessage(m.id, { status: 'delivered', vendor_id: vendorMessageId ?? null }, now);
        if (m.source_id) await enqueue(q, att, blipNotification, { id: m.source_id, event: 'consumed' }, now);
      }
    };
  },

  async onDead({ q, att, error, now }, p) {
    const m = await q.messageById(p.messageId);
    if (!m) return;
    await q.updateMessage(m.id, { status: `failed: ${error.slice(0, 300)}` }, now);
    const f = FAILURES.HELPDESK_UNDELIVERED;
    if (m.source_id) await enqueue(q, att, blipNotification, { id: m.source_id, event: 'failed', code: f.code, reason: f.text }, now);
  },

  replayRefusal({ att, newer }) {
    if (att.state === 'closed' || att.state === 'closing') return `the attendance is ${att.state}: the helpdesk conversation is over`;
    if (newer) return 'the customer has a newer attendance';
    return undefined;
  },
});
