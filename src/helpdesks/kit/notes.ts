/**
 * What the agent reads in the helpdesk when the bridge, not the agent, acts on an attendance: the
 * close it made (issue 10 §4: "an internal note giving the reason") and a reply that did not reach
 * the customer (issue 11). One wording for every adapter, so the guides can quote it.
 */
import type { AgentMessageStatus, CloseReason } from '../adapter.js';

const CLOSE_WHY: Record<CloseReason, string> = {
  agent: 'an agent ended it',
  customer: 'the customer asked to end it',
  admin: 'an operator ended it',
  'customer-inactive': 'the customer stopped answering',
  'no-agent': 'no agent was available in time',
  'outside-hours': 'it is outside business hours',
  expired: 'it reached its maximum duration',
  failed: 'the hand-off could not be completed',
};

/** "Blip: the customer was handed back to the bot (customer-inactive: the customer stopped answering)." */
export function closeNote(reason: CloseReason): string {
  return `Blip: the customer was handed back to the bot (${reason}: ${CLOSE_WHY[reason]}).`;
}

/** "Blip: a reply was not delivered to the customer (BLIP_REFUSED: …)." — for `failed` only. */
export function failedNote(update: Pick<AgentMessageStatus, 'code' | 'reason'>, quoted?: string): string {
  const why = [update.code, update.reason].filter(Boolean).join(': ') || 'no reason given';
  const what = quoted ? `your reply "${quoted.length > 80 ? `${quoted.slice(0, 77)}…` : quoted}"` : 'a reply';
  return `Blip: ${what} was not delivered to the customer (${why}).`;
}
