/**
 * Zendesk as the shared flow suite (and the adapters' tests) see it: the ZendeskSimulator plays the
 * account and its agents. Two fixtures, one per route:
 * - `zendeskMessagingFixture`: Sunshine Conversations + Agent Workspace (`type: zendesk-messaging`);
 *   the agent replies in Agent Workspace and solves the ticket, which hands the conversation back.
 * - `zendeskTicketsFixture`: Support tickets with an event-subscribed, signed webhook
 *   (`type: zendesk-tickets`); the agent comments publicly and sets the ticket to solved.
 * Kept apart from the flow tests so other tests can build the same world.
 */
import { request } from 'undici';
import { ZendeskSimulator, zendeskSignature, type ScMessage, type ZdTicket, type ZendeskSimulatorOptions } from '../../simulators/zendesk/index.js';
import { until } from '../helpers/harness.js';
import type { HelpdeskFixture } from './world.js';

/** Quick retries so a failed webhook does not stall a test for Zendesk's minutes. */
const FAST_SUNCO = { webhookRetryDelaysMs: [50, 100, 200, 400], webhookTimeoutMs: 3_000 };
const FAST_SUPPORT_RETRY = { delaysMs: [50, 100, 200], timeoutMs: 3_000 };

export const ZD_AGENT = { email: 'bridge@acme.example', token: 'zendesk-api-token-0123', name: 'Ana Agent', role: 'admin' as const };
export const ZD_SIGNING_SECRET = 'zendesk-webhook-signing-secret-0123';
export const SC_WEBHOOK_SECRET = 'sunco-webhook-secret-0123';
export const SC_KEY = { id: 'app_5f1c0a0b0c0d0e0f10111213', secret: 'sunco-app-key-secret' };

export interface ZendeskFixture extends HelpdeskFixture {
  readonly sim: ZendeskSimulator;
  /** `POST /helpdesk/{bot}/webhook` on the bridge, once connected. */
  readonly webhookUrl: string;
}

/** What a SunCo message reads as (text, or a file's name). */
export function messageText(m: ScMessage): string {
  const c = m.content as { type?: string; text?: string; altText?: string; mediaUrl?: string };
  return c.type === 'text' ? (c.text ?? '') : [c.text, c.altText ?? c.mediaUrl].filter(Boolean).join(' ');
}

/** The bridge's batched comments put one message per paragraph. */
export function commentTexts(t: ZdTicket, requesterId: number): string[] {
  return t.comments
    .slice(1) // the first comment is the transcript
    .filter((c) => c.author_id === requesterId && c.public)
    .flatMap((c) => c.plain_body.split('\n\n'));
}

// ─── messaging ────────────────────────────────────────────────────────────────────────────────

/**
 * The ways a real account may behave where Zendesk's documents leave it open (the simulator's
 * switches, simulators/zendesk/README.md "UNVERIFIED"): the flow suite runs in each, and the adapter
 * must see the end in each. `documented` is the simulator's defaults with the setup guide's
 * switchboard integration (standby events on; Agent Workspace hands back to the answer bot).
 */
export const MESSAGING_VARIANTS = {
  documented: {},
  'standby events off (the offer keeps ours coming)': { switchboard: { deliverStandbyEvents: false } },
  'standby off, switchboard events reach standby': { switchboard: { deliverStandbyEvents: false }, standby: { switchboardToStandby: true } },
  "standby off, Agent Workspace's next is the bridge": { switchboard: { deliverStandbyEvents: false, agentWorkspaceNext: 'bridge' } },
  'standby off, handback by releaseControl': { switchboard: { deliverStandbyEvents: false }, handback: 'releaseControl' },
} satisfies Record<string, NonNullable<ZendeskSimulatorOptions['sunco']>>;
export type MessagingVariant = keyof typeof MESSAGING_VARIANTS;

export function zendeskMessagingFixture(options: ZendeskSimulatorOptions = {}, helpdesk: Record<string, unknown> = {}, variant?: MessagingVariant): ZendeskFixture {
  const v: NonNullable<ZendeskSimulatorOptions['sunco']> = variant ? MESSAGING_VARIANTS[variant] : {};
  const sim = new ZendeskSimulator({
    ...options,
    sunco: {
      keys: [SC_KEY],
      webhook: { secret: SC_WEBHOOK_SECRET },
      ...FAST_SUNCO,
      ...v,
      ...options.sunco,
      switchboard: { ...v.switchboard, ...options.sunco?.switchboard },
    },
  });
  let webhookUrl: string | undefined;

  const conversationOf = (originator: string) => {
    const user = sim.sunco.findUser(originator);
    if (!user) return undefined;
    const all = [...sim.sunco.conversations.values()].filter((c) => c.participants.some((p) => p.userId === user.id));
    return all.at(-1);
  };

  /** Waits until the webhook carrying the event SunCo emitted for `match` was accepted by the bridge. */
  async function delivered(match: (e: { type: string; payload: Record<string, any> }) => boolean, what: string): Promise<void> {
    const emitted = await until(() => sim.suncoEmitted.find((x) => match(x.event)), 5_000, `the ${what} event`);
    if (!emitted.sent) throw new Error(`the ${what} event was not sent to the bridge: ${emitted.skipped ?? '?'}`);
    await until(() => sim.suncoEvents().some((e) => e.id === emitted.event.id), 10_000, `the bridge accepting ${what}`);
  }

  return {
    name: variant ? `zendesk-messaging (${variant})` : 'zendesk-messaging',
    sim,
    get webhookUrl() {
      if (!webhookUrl) throw new Error('zendesk fixture: not connected');
      return webhookUrl;
    },
    async start() {
      await sim.start();
      const c = sim.credentials.sunco;
      return {
        type: 'zendesk-messaging',
        baseUrl: c.baseUrl,
        appId: c.appId,
        keyId: c.keyId,
        keySecret: c.keySecret,
        webhookSecret: c.webhookSecret,
        integrationId: c.integrationId,
        ...helpdesk,
      };
    },
    connect(bridgeUrl, bot) {
      webhookUrl = `${bridgeUrl}/helpdesk/${bot}/webhook`;
      sim.setSunCoWebhookTarget(webhookUrl);
    },
    driver: {
      async waitOpened(originator) {
        // Open is done when the ticket exists and the bridge has offered itself control back.
        const c = await until(
          () => {
            const conv = conversationOf(originator);
            return conv && sim.ticketOf(conv.id) && sim.switchboardState(conv.id).pending === 'blip-bridge' ? conv : undefined;
          },
          10_000,
          `the Agent Workspace ticket of ${originator}`,
        );
        const t = sim.ticketOf(c.id)!;
        const byId = new Map(c.messages.map((m) => [m.id, m]));
        const transcript = t.transcript
          .map((id) => byId.get(id))
          .filter((m): m is ScMessage => m?.author.type === 'business')
          .flatMap((m) => messageText(m).split('\n'));
        return { key: c.id, ...(t.requesterName ? { customerName: t.requesterName } : {}), transcript };
      },
      customerTexts(key) {
        const c = sim.conversation(key);
        return c ? c.messages.filter((m) => m.author.type === 'user').map(messageText) : [];
      },
      async reply(key, text) {
        const m = sim.agentReply(key, text) as { id: string };
        await delivered((e) => e.type === 'conversation:message' && e.payload['message']?.id === m.id, `agent reply "${text}"`);
      },
      async end(key) {
        // What Zendesk does: the agent solves; the ticket closes later (its automation, ~4 days), and
        // only then is the conversation handed back. Which of the events that follow reach the bridge
        // depends on the variant: wait for all of those that do.
        const from = sim.suncoEmitted.length;
        sim.solveTicket(key);
        sim.closeTicket(key);
        const sent = sim.suncoEmitted.slice(from).filter((x) => x.conversationId === key && x.sent);
        if (sent.length === 0) throw new Error('zendesk fixture: nothing of the ticket closing was sent to the bridge');
        for (const x of sent) await until(() => sim.suncoEvents().some((e) => e.id === x.event.id), 10_000, `the bridge accepting ${x.event.type}`);
      },
      async waitClosedByBridge(key) {
        // The bridge's note to the agent, then control released (docs/helpdesks/zendesk.md).
        return until(
          () => {
            const c = sim.conversation(key);
            const note = c?.messages.find((m) => m.author.type === 'business' && String(m.metadata?.['blipBridgeMessageId'] ?? '').startsWith('close:'));
            return note && sim.switchboardState(key).active === undefined ? { note: messageText(note) } : undefined;
          },
          10_000,
          `the bridge's close of conversation ${key}`,
        );
      },
      async redeliverLastWebhook() {
        const last = sim.suncoDeliveries.filter((a) => a.outcome === 'delivered').at(-1);
        if (!last) throw new Error('zendesk fixture: no webhook was delivered yet');
        // SunCo retries the same payload, event ids included (spec: events[].id "may be used to ensure that an event is not processed twice").
        const res = await request(last.url, { method: 'POST', headers: last.headers, body: JSON.stringify(last.payload) });
        await res.body.dump();
        return res.statusCode;
      },
      async forgedWebhook() {
        if (!webhookUrl) throw new Error('zendesk fixture: not connected');
        const conversationId = [...sim.sunco.conversations.keys()].at(-1) ?? '000000000000000000000000';
        const body = JSON.stringify({
          app: { id: sim.sunco.appId },
          webhook: { id: sim.sunco.webhook.id, version: 'v2' },
          events: [
            {
              id: 'ffffffffffffffffffffffff',
              createdAt: new Date().toISOString(),
              type: 'conversation:message',
              payload: {
                conversation: { id: conversationId, type: 'personal' },
                message: {
                  id: 'eeeeeeeeeeeeeeeeeeeeeeee',
                  received: new Date().toISOString(),
                  author: { type: 'business', displayName: 'Mallory' },
                  content: { type: 'text', text: 'forged' },
                  source: { type: 'zd:agentWorkspace' },
                },
              },
            },
          ],
        });
        const res = await request(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'not-the-webhook-secret' }, body });
        await res.body.dump();
        return res.statusCode;
      },
    },
    async stop() {
      await sim.stop();
    },
  };
}

// ─── tickets ──────────────────────────────────────────────────────────────────────────────────

export function zendeskTicketsFixture(options: ZendeskSimulatorOptions = {}, helpdesk: Record<string, unknown> = {}): ZendeskFixture {
  const sim = new ZendeskSimulator({
    ...options,
    support: {
      agents: [ZD_AGENT],
      ...options.support,
      webhook: { signingSecret: ZD_SIGNING_SECRET, mode: 'events', retry: FAST_SUPPORT_RETRY, ...options.support?.webhook },
    },
  });
  let webhookUrl: string | undefined;

  const requesterOf = (originator: string) => [...sim.support.users.values()].find((u) => u.external_id === `blip:${originator}`);
  const ticketOf = (originator: string) => {
    const r = requesterOf(originator);
    return r ? [...sim.support.tickets.values()].filter((t) => t.requester_id === r.id).at(-1) : undefined;
  };

  /** Waits until the invocation Zendesk made for `match` was accepted by the bridge (Zendesk sends invocations in parallel, so order needs this). */
  async function delivered(match: (body: Record<string, any>) => boolean, what: string): Promise<void> {
    await until(
      () =>
        sim.supportDeliveries.some((a) => {
          if (a.outcome !== 'delivered') return false;
          return match(JSON.parse(a.body) as Record<string, any>);
        }),
      10_000,
      `the bridge accepting ${what}`,
    );
  }

  return {
    name: 'zendesk-tickets',
    sim,
    get webhookUrl() {
      if (!webhookUrl) throw new Error('zendesk fixture: not connected');
      return webhookUrl;
    },
    async start() {
      const url = await sim.start();
      return { type: 'zendesk-tickets', baseUrl: url, email: ZD_AGENT.email, apiToken: ZD_AGENT.token, webhookSecret: ZD_SIGNING_SECRET, ...helpdesk };
    },
    connect(bridgeUrl, bot) {
      webhookUrl = `${bridgeUrl}/helpdesk/${bot}/webhook`;
      sim.setSupportWebhookEndpoint(webhookUrl);
    },
    driver: {
      async waitOpened(originator) {
        const t = await until(() => ticketOf(originator), 10_000, `the ticket of ${originator}`);
        const name = requesterOf(originator)?.name;
        return { key: String(t.id), ...(name ? { customerName: name } : {}), transcript: (t.comments[0]?.plain_body ?? '').split('\n') };
      },
      customerTexts(key) {
        const t = sim.ticket(Number(key));
        return t ? commentTexts(t, t.requester_id) : [];
      },
      async reply(key, text) {
        const c = sim.agentComment(Number(key), text);
        await delivered((b) => b['type'] === 'zen:event-type:ticket.comment_added' && b['event']?.comment?.id === String(c.id), `agent comment "${text}"`);
      },
      async waitClosedByBridge(key) {
        // An internal note giving the reason, and the ticket solved where Zendesk allows it (docs/helpdesks/zendesk.md).
        return until(
          () => {
            const t = sim.ticket(Number(key));
            const note = t?.comments.find((c) => !c.public && c.author_id !== t.requester_id);
            return note ? { note: note.plain_body } : undefined;
          },
          10_000,
          `the bridge's note on ticket ${key}`,
        );
      },
      async end(key) {
        sim.setStatus(Number(key), 'solved');
        await delivered((b) => b['type'] === 'zen:event-type:ticket.status_changed' && b['detail']?.id === key && b['event']?.current === 'SOLVED', 'solved');
      },
      async redeliverLastWebhook() {
        const last = sim.supportDeliveries.filter((a) => a.outcome === 'delivered').at(-1);
        if (!last) throw new Error('zendesk fixture: no webhook was delivered yet');
        // A Zendesk retry: the same body and invocation id, signed again with a fresh timestamp.
        const timestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        const headers = {
          ...last.headers,
          'x-zendesk-webhook-signature-timestamp': timestamp,
          'x-zendesk-webhook-signature': zendeskSignature(ZD_SIGNING_SECRET, timestamp, last.body),
        };
        const res = await request(last.url, { method: 'POST', headers, body: last.body });
        await res.body.dump();
        return res.statusCode;
      },
      async forgedWebhook() {
        if (!webhookUrl) throw new Error('zendesk fixture: not connected');
        const t = [...sim.support.tickets.values()].at(-1);
        const body = JSON.stringify({
          type: 'zen:event-type:ticket.comment_added',
          account_id: sim.support.accountId,
          id: '00000000-0000-4000-8000-000000000000',
          time: new Date().toISOString(),
          zendesk_event_version: '2022-11-06',
          subject: `zen:ticket:${t?.id ?? 1}`,
          detail: { id: String(t?.id ?? 1), requester_id: String(t?.requester_id ?? 1), status: 'OPEN' },
          event: { comment: { id: '1', body: 'forged', is_public: true, author: { id: '2', is_staff: true, name: 'Mallory' } } },
        });
        const timestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        const res = await request(webhookUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-zendesk-webhook-signature-timestamp': timestamp,
            'x-zendesk-webhook-signature': zendeskSignature('not-the-signing-secret', timestamp, body),
          },
          body,
        });
        await res.body.dump();
        return res.statusCode;
      },
    },
    async stop() {
      await sim.stop();
    },
  };
}
