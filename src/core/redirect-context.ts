/**
 * What the Redirect at the end tells the main bot (`blip.redirectContext`, DESIGN §6).
 * - `ticket`: shaped like the ticket Blip Desk puts in its own Redirect when its attendance ends
 *   (research/blip.md §2.5, `application/vnd.iris.ticket+json`), so a main bot written for Blip
 *   Desk needs no change; our close reason rides along as `closeReason`.
 * - `json`: the bridge's own summary (docs/blip-setup.md documents it).
 * Built from stored facts only, so every retry of the Redirect carries the same context.
 */
import type { CloseReason } from '../helpdesks/adapter.js';
import type { AttendanceRow } from '../store/schema.js';
import { agentOf, customerOf, refOf } from './rows.js';
import type { BotRuntime } from './runtime.js';

/**
 * Blip Desk's statuses (research/blip.md §4.4: ClosedAttendant, ClosedClient,
 * ClosedClientInactivity). Desk has none for an attendance no agent ever took; those close as the
 * attendant side (`ClosedAttendant`) and `closeReason` tells them apart, so a flow can skip its
 * satisfaction survey.
 */
const DESK_STATUS: Record<CloseReason, string> = {
  agent: 'ClosedAttendant',
  admin: 'ClosedAttendant',
  expired: 'ClosedAttendant',
  'no-agent': 'ClosedAttendant',
  'outside-hours': 'ClosedAttendant',
  failed: 'ClosedAttendant',
  customer: 'ClosedClient',
  'customer-inactive': 'ClosedClientInactivity',
};

export interface RedirectSummary {
  attendanceId: string;
  bot: string;
  helpdesk: { type: string; id: string | null };
  agent: { id?: string; name?: string } | null;
  reason: CloseReason;
  openedAt: string;
  closedAt: string;
  /** From the hand-off to the first agent message (null: no agent wrote). */
  waitSeconds: number | null;
  /** From the first agent message to the close (null: no agent wrote). */
  handleSeconds: number | null;
}

export function redirectSummary(att: AttendanceRow, bot: BotRuntime, reason: CloseReason): RedirectSummary {
  const closedAt = Number(att.closed_at ?? att.updated_at);
  const firstAgent = att.first_agent_at === null ? null : Number(att.first_agent_at);
  const agent = agentOf(att);
  return {
    attendanceId: att.id,
    bot: att.bot_id,
    helpdesk: { type: bot.adapter.type, id: refOf(att)?.key ?? null },
    agent: agent && (agent.id || agent.name) ? { ...(agent.id ? { id: agent.id } : {}), ...(agent.name ? { name: agent.name } : {}) } : null,
    reason,
    openedAt: new Date(Number(att.opened_at)).toISOString(),
    closedAt: new Date(closedAt).toISOString(),
    waitSeconds: firstAgent === null ? null : Math.round((firstAgent - Number(att.opened_at)) / 1000),
    handleSeconds: firstAgent === null ? null : Math.round((closedAt - firstAgent) / 1000),
  };
}

export function redirectContext(att: AttendanceRow, bot: BotRuntime, reason: CloseReason): { type: string; value: Record<string, unknown> } | undefined {
  const mode = bot.config.blip.redirectContext;
  if (mode === 'none') return undefined;
  const summary = redirectSummary(att, bot, reason);
  if (mode === 'json') return { type: 'application/json', value: { ...summary } };
  const customer = customerOf(att);
  const agent = agentOf(att);
  return {
    type: 'application/vnd.iris.ticket+json',
    value: {
      id: att.id,
      ownerIdentity: `${bot.config.blip.identifier}@msging.net`,
      customerIdentity: customer.originator ?? customer.address,
      ...(agent?.email || agent?.id ? { agentIdentity: agent.email ?? agent.id } : {}),
      status: DESK_STATUS[reason],
      ...(agent?.team ? { team: agent.team } : {}),
      storageDate: summary.openedAt,
      closeDate: summary.closedAt,
      ...(summary.helpdesk.id ? { externalId: summary.helpdesk.id } : {}),
      provider: bot.adapter.type,
      closeReason: reason,
    },
  };
}
