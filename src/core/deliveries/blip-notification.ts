/**
 * to-blip `notification`: what became of a customer message (`consumed` once the helpdesk has it,
 * `failed` when it never will). One per customer message; a `failed` reason is a stable code and a
 * plain sentence (src/core/reasons.ts), never an error's text.
 */
import { Type } from '@sinclair/typebox';
import { defineKind } from './kind.js';

export const blipNotification = defineKind({
  lane: 'to-blip',
  kind: 'notification',
  payload: Type.Object({
    id: Type.String(),
    event: Type.Union([Type.Literal('consumed'), Type.Literal('failed')]),
    code: Type.Optional(Type.Integer()),
    reason: Type.Optional(Type.String()),
  }),

  async run({ att, bot }, p) {
    await bot.blip.sendNotification({
      id: p.id,
      to: att.customer_address,
      event: p.event,
      // Rows written before reasons had codes hold the raw error: send the plain sentence instead.
      ...(p.event === 'failed' ? { reason: { code: p.code ?? 101, description: p.code === undefined ? 'The message could not be delivered to the support team.' : (p.reason ?? '').slice(0, 500) } } : {}),
    });
  },
});
