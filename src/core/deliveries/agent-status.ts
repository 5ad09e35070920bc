/** to-helpdesk `status`: what became of an agent message on the customer's side (issue 11). */
import { Type } from '@sinclair/typebox';
import { requireRef } from '../rows.js';
import { defineKind } from './kind.js';

export const agentStatus = defineKind({
  lane: 'to-helpdesk',
  kind: 'status',
  payload: Type.Object({
    messageId: Type.String(),
    status: Type.Union([Type.Literal('sent'), Type.Literal('delivered'), Type.Literal('read'), Type.Literal('failed')]),
    code: Type.Optional(Type.String()),
    reason: Type.Optional(Type.String()),
  }),

  async run({ core, att, bot, info, call }, p) {
    const m = await core.store.messageById(p.messageId);
    if (!m?.source_id || !bot.adapter.messageStatus || !att.helpdesk_ref) return;
    await bot.adapter.messageStatus(requireRef(att), info, { sourceId: m.source_id, status: p.status, ...(p.code ? { code: p.code } : {}), ...(p.reason ? { reason: p.reason } : {}) }, call);
  },
});
