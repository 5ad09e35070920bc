/**
 * What was acknowledged, and what the receivers got. "Exactly once in effect" is counted at the
 * receiver by distinct message: at the tool, distinct `customer.message` events it accepted (it
 * dedupes re-sends by webhook-id; those are counted apart as resent+deduped); at Blip, distinct LIME
 * ids (a re-send carries the same id, which Blip and the customer's channel recognise). Every input
 * text is unique in its scenario, so a text seen under two distinct ids is an effect applied twice.
 * Order is checked per lane: each customer's messages at the tool, each attendance's agent
 * messages at Blip, against the order the bridge acknowledged them in.
 */
import type { BlipSimulator } from '../../../simulators/blip/index.js';
import type { WebhookToolSimulator } from '../../../simulators/webhook-tool/index.js';
import type { FaultRow } from './summary.js';

interface Acked {
  text: string;
  id: string;
  /** Position in the lane; inputs acknowledged concurrently share one (their order is undefined). */
  rank: number;
}

export class Ledger {
  /** originator → customer messages in the order the bridge acknowledged them. */
  readonly customers = new Map<string, Acked[]>();
  /** attendance id → agent messages in the order the bridge acknowledged them. */
  readonly agents = new Map<string, Acked[]>();

  /** Inputs with the same `together` key were sent at once: any order among them is right. */
  customerAcked(originator: string, text: string, id: string, together?: string): void {
    const list = this.customers.get(originator) ?? [];
    if (!list.some((a) => a.id === id)) list.push({ text, id, rank: rankFor(list, together) });
    this.customers.set(originator, list);
  }

  agentAcked(attendanceId: string, text: string, id: string, together?: string): void {
    const list = this.agents.get(attendanceId) ?? [];
    if (!list.some((a) => a.id === id)) list.push({ text, id, rank: rankFor(list, together) });
    this.agents.set(attendanceId, list);
  }

  /**
   * Replaces an attendance's acknowledged order (when the bridge, not the sender, decided it);
   * `unordered`: the inputs have no defined order among them at all.
   */
  setAgentOrder(attendanceId: string, texts: string[], unordered = false): void {
    const byText = new Map((this.agents.get(attendanceId) ?? []).map((a) => [a.text, a]));
    if (texts.length !== byText.size || texts.some((t) => !byText.has(t))) throw new Error(`acceptance order of ${attendanceId} does not match the acknowledged messages`);
    this.agents.set(attendanceId, texts.map((t, rank) => ({ ...byText.get(t)!, rank: unordered ? 0 : rank })));
  }

  originatorOf(tool: WebhookToolSimulator, attendanceId: string): string {
    const o = attendanceOriginators(tool).get(attendanceId);
    if (!o) throw new Error(`no attendance.opened for ${attendanceId}`);
    return o;
  }

  get customerInputs(): number {
    return [...this.customers.values()].reduce((n, l) => n + l.length, 0);
  }

  get agentInputs(): number {
    return [...this.agents.values()].reduce((n, l) => n + l.length, 0);
  }

  allArrived(blip: BlipSimulator, tool: WebhookToolSimulator): boolean {
    const atTool = new Set(tool.eventsOfType('customer.message').map((e) => textOf(e.data.message.content)));
    for (const list of this.customers.values()) for (const a of list) if (!atTool.has(a.text)) return false;
    if (this.agents.size === 0) return true;
    const atBlip = new Set(blip.received.messages.filter((r) => r.status === 202 && r.body?.type === 'text/plain').map((r) => r.body.content as string));
    for (const list of this.agents.values()) for (const a of list) if (!atBlip.has(a.text)) return false;
    return true;
  }

  /** customer → helpdesk: Blip's acknowledged envelopes against the tool's accepted events. */
  customerRow(scenario: string, tool: WebhookToolSimulator, notes?: string): FaultRow {
    const originatorOf = attendanceOriginators(tool);
    const counts = new Map<string, number>();
    const seen = new Map<string, string[]>(); // originator → texts in arrival order
    for (const e of tool.eventsOfType('customer.message')) {
      const text = textOf(e.data.message.content);
      counts.set(text, (counts.get(text) ?? 0) + 1);
      const o = originatorOf.get(e.data.attendanceId) ?? `?${e.data.attendanceId}`;
      const list = seen.get(o) ?? [];
      list.push(text);
      seen.set(o, list);
    }
    let inputs = 0;
    let delivered = 0;
    let duplicated = 0;
    let order = 0;
    for (const [o, acked] of this.customers) {
      inputs += acked.length;
      for (const a of acked) {
        const n = counts.get(a.text) ?? 0;
        if (n > 0) delivered++;
        if (n > 1) duplicated += n - 1;
      }
      order += orderViolations(acked, seen.get(o) ?? []);
    }
    const resent = tool.attempts.filter((a) => a.outcome === 'duplicate' && a.type === 'customer.message').length;
    return { scenario, direction: 'customer→helpdesk', inputs, delivered, lost: inputs - delivered, duplicated, resentDeduped: resent, orderViolations: order, ...(notes ? { notes } : {}) };
  }

  /** agent → customer: the tool's acknowledged webhooks against the messages Blip accepted. */
  agentRow(scenario: string, blip: BlipSimulator, tool: WebhookToolSimulator, notes?: string): FaultRow {
    const originatorOf = attendanceOriginators(tool);
    let inputs = 0;
    let delivered = 0;
    let duplicated = 0;
    let resent = 0;
    let order = 0;
    for (const [attendanceId, acked] of this.agents) {
      inputs += acked.length;
      const originator = originatorOf.get(attendanceId);
      const wanted = new Set(acked.map((a) => a.text));
      const ids = new Map<string, Set<string>>(); // text → distinct LIME ids
      const firstSeen: string[] = [];
      const seenIds = new Set<string>();
      for (const r of originator ? blip.messagesTo(originator) : []) {
        if (r.body?.type !== 'text/plain' || !wanted.has(r.body.content)) continue;
        const text = r.body.content as string;
        const id = String(r.body.id);
        if (seenIds.has(id)) {
          resent++;
          continue;
        }
        seenIds.add(id);
        firstSeen.push(text);
        const s = ids.get(text) ?? new Set<string>();
        s.add(id);
        ids.set(text, s);
      }
      for (const a of acked) {
        const n = ids.get(a.text)?.size ?? 0;
        if (n > 0) delivered++;
        if (n > 1) duplicated += n - 1;
      }
      order += orderViolations(acked, firstSeen);
    }
    return { scenario, direction: 'agent→customer', inputs, delivered, lost: inputs - delivered, duplicated, resentDeduped: resent, orderViolations: order, ...(notes ? { notes } : {}) };
  }
}

/**
 * Re-sends that reached a receiver after a later message of their lane had: harmless where the
 * receiver dedupes (counted as resent+deduped), but a receiver that does not would take them for a
 * new message out of order. What a replica sending after its lease ended would cause.
 */
export function staleResends(ledger: Ledger, blip: BlipSimulator, tool: WebhookToolSimulator): { customer: number; agent: number } {
  const originatorOf = attendanceOriginators(tool);
  const rankOf = new Map<string, number>(); // originator|text → rank
  for (const [o, acked] of ledger.customers) for (const a of acked) rankOf.set(`${o}|${a.text}`, a.rank);
  const byWebhook = new Map<string, { originator: string; text: string }>();
  for (const e of tool.eventsOfType('customer.message')) {
    byWebhook.set(e.webhookId, { originator: originatorOf.get(e.data.attendanceId) ?? '?', text: textOf(e.data.message.content) });
  }
  let customer = 0;
  const highest = new Map<string, number>();
  for (const a of tool.attempts) {
    if (a.type !== 'customer.message' || a.webhookId === undefined || (a.outcome !== 'accepted' && a.outcome !== 'duplicate')) continue;
    const m = byWebhook.get(a.webhookId);
    const rank = m && rankOf.get(`${m.originator}|${m.text}`);
    if (!m || rank === undefined) continue;
    const top = highest.get(m.originator) ?? -1;
    if (a.outcome === 'duplicate' && rank < top) customer++;
    highest.set(m.originator, Math.max(top, rank));
  }
  let agent = 0;
  for (const [attendanceId, acked] of ledger.agents) {
    const originator = originatorOf.get(attendanceId);
    const rank = new Map(acked.map((a) => [a.text, a.rank]));
    const seen = new Set<string>();
    let top = -1;
    for (const r of originator ? blip.messagesTo(originator) : []) {
      const k = r.body?.type === 'text/plain' ? rank.get(r.body.content as string) : undefined;
      if (k === undefined) continue;
      const id = String(r.body.id);
      if (seen.has(id) && k < top) agent++;
      seen.add(id);
      top = Math.max(top, k);
    }
  }
  return { customer, agent };
}

export function textOf(content: { text?: unknown }): string {
  return typeof content.text === 'string' ? content.text : JSON.stringify(content);
}

export function attendanceOriginators(tool: WebhookToolSimulator): Map<string, string> {
  return new Map(tool.eventsOfType('attendance.opened').map((e) => [e.data.attendance.id, e.data.customer.originator ?? e.data.customer.address]));
}

const groups = new WeakMap<Acked[], Map<string, number>>();

function rankFor(list: Acked[], together: string | undefined): number {
  const next = list.length === 0 ? 0 : list[list.length - 1]!.rank + 1;
  if (together === undefined) return next;
  const byKey = groups.get(list) ?? new Map<string, number>();
  groups.set(list, byKey);
  const rank = byKey.get(together) ?? next;
  byKey.set(together, rank);
  return rank;
}

/**
 * How many of `arrived` (first arrivals, in order) came after one acknowledged later than them:
 * each message that overtook an earlier-acknowledged one counts once. Unknown texts are ignored.
 */
export function orderViolations(acked: ReadonlyArray<{ text: string; rank: number }>, arrived: readonly string[]): number {
  const rank = new Map(acked.map((a) => [a.text, a.rank]));
  const first = new Set<string>();
  let highest = -1;
  let violations = 0;
  for (const t of arrived) {
    const r = rank.get(t);
    if (r === undefined || first.has(t)) continue;
    first.add(t);
    if (r < highest) violations++;
    else highest = r;
  }
  return violations;
}
