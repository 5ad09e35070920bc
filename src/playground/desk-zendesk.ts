/**
 * The playground's Zendesk desks: the ZendeskSimulator's agent side on either route, driven as the
 * flow suite's fixture drives it (test/flows/zendesk-fixture.ts), with the same credentials shape.
 * - messaging (`type: zendesk-messaging`): Sunshine Conversations + Agent Workspace; the agent
 *   replies and types in Agent Workspace, and ends by solving the ticket, which Zendesk then closes
 *   and so hands the conversation back.
 * - tickets (`type: zendesk-tickets`): Support tickets with an event-subscribed, signed webhook; the
 *   agent comments publicly, attaches files to comments, and ends by solving (then closing) the ticket.
 */
import { request } from 'undici';
import { ZendeskSimulator, type ScMessage } from '../../simulators/zendesk/index.js';
import type { Desk, DeskConversation, DeskMessage } from './desk.js';

/** Quick retries, as the fixture's, so a refused webhook shows on the desk within seconds. */
const FAST_SUNCO = { webhookRetryDelaysMs: [50, 100, 200, 400], webhookTimeoutMs: 3_000 };
const FAST_SUPPORT_RETRY = { delaysMs: [50, 100, 200], timeoutMs: 3_000 };
/** How long the desk waits for the bridge to accept what the agent did. */
const ACCEPT_MS = 10_000;

const AGENT = { email: 'agent@sandbox.example', token: 'sandbox-zendesk-api-token', name: 'Ana (agent)', role: 'admin' as const };
const SIGNING_SECRET = 'sandbox-zendesk-webhook-signing-secret';
const SC_WEBHOOK_SECRET = 'sandbox-sunco-webhook-secret';
const SC_KEY = { id: 'app_5f1c0a0b0c0d0e0f10111213', secret: 'sandbox-sunco-app-key-secret' };

/** What a SunCo message reads as (text, or a file's name). */
function messageText(m: ScMessage): string {
  const c = m.content as { type?: string; text?: string; altText?: string; mediaUrl?: string };
  return c.type === 'text' ? (c.text ?? '') : [c.text, c.altText ?? c.mediaUrl].filter(Boolean).join(' ');
}

/** Sunshine Conversations + Agent Workspace (docs/helpdesks/zendesk.md, messaging). */
export function zendeskMessagingDesk(): Desk {
  const sim = new ZendeskSimulator({ sunco: { keys: [SC_KEY], webhook: { secret: SC_WEBHOOK_SECRET }, ...FAST_SUNCO } });
  let url = '';

  /** Waits until the bridge accepted the webhook carrying the event SunCo emitted for `match` (as the fixture). */
  async function accepted(from: number, match: (e: { type: string; payload: Record<string, any> }) => boolean, what: string): Promise<void> {
    const emitted = sim.suncoEmitted.slice(from).find((x) => match(x.event));
    if (!emitted) throw new Error(`${what}: Zendesk emitted no event for it`);
    if (!emitted.sent) throw new Error(`${what}: the event was not sent to the bridge (${emitted.skipped ?? '?'})`);
    await sim
      .waitFor((s) => s.suncoEvents().some((e) => e.id === emitted.event.id), ACCEPT_MS)
      .catch(() => {
        throw new Error(`${what}: the bridge did not accept the webhook within ${ACCEPT_MS / 1000} s`);
      });
  }

  return {
    type: 'zendesk-messaging',
    get url() {
      return url;
    },
    async start(port, host) {
      url = await sim.start(port, host);
      const c = sim.credentials.sunco;
      return {
        type: 'zendesk-messaging',
        baseUrl: c.baseUrl,
        appId: c.appId,
        keyId: c.keyId,
        keySecret: c.keySecret,
        webhookSecret: c.webhookSecret,
        integrationId: c.integrationId,
      };
    },
    connect(bridgeUrl, bot) {
      sim.setSunCoWebhookTarget(`${bridgeUrl}/helpdesk/${bot}/webhook`);
    },
    conversations() {
      const out: DeskConversation[] = [];
      for (const c of sim.sunco.conversations.values()) {
        // The agent sees a conversation once a hand-off made its Agent Workspace ticket.
        const t = sim.ticketOf(c.id);
        if (!t) continue;
        const byId = new Map(c.messages.map((m) => [m.id, m]));
        const user = sim.sunco.users.get(t.userId);
        const name = [user?.profile.givenName, user?.profile.surname].filter(Boolean).join(' ');
        const active = sim.switchboardState(c.id).active;
        out.push({
          key: c.id,
          customer: t.requesterName ?? (name || (user?.externalId ?? c.id)),
          state: `ticket ${t.status}${active ? `, ${active} in control` : ''}`,
          closed: t.status !== 'open',
          transcript: t.transcript
            .map((id) => byId.get(id))
            .filter((m): m is ScMessage => m?.author.type === 'business')
            .flatMap((m) => messageText(m).split('\n')),
          messages: t.messages
            .map((id) => byId.get(id))
            .filter((m): m is ScMessage => m !== undefined)
            .map((m): DeskMessage => {
              const media = (m.content as { mediaUrl?: string; altText?: string }).mediaUrl;
              return {
                from: m.author.type === 'user' ? 'customer' : m.author.subtypes?.includes('agent') ? 'agent' : 'system',
                text: messageText(m),
                at: Date.parse(m.received),
                ...(media ? { media: { url: media, name: (m.content as { altText?: string }).altText ?? 'file' } } : {}),
              };
            }),
          // The simulator keeps no customer typing state for Agent Workspace.
          customerTyping: false,
        });
      }
      return out.reverse();
    },
    async reply(key, text) {
      const from = sim.suncoEmitted.length;
      const m = sim.agentReply(key, text) as { id: string };
      await accepted(from, (e) => e.type === 'conversation:message' && e.payload['message']?.id === m.id, 'reply');
    },
    async typing(key, on) {
      const from = sim.suncoEmitted.length;
      sim.agentTyping(key, on);
      await accepted(from, (e) => e.type === 'conversation:typing', 'typing');
    },
    async file(key, f) {
      const from = sim.suncoEmitted.length;
      const m = sim.agentReply(key, { mediaUrl: f.url, mediaType: f.mimeType, name: f.name }) as { id: string };
      await accepted(from, (e) => e.type === 'conversation:message' && e.payload['message']?.id === m.id, 'file');
    },
    async end(key) {
      // What Zendesk does (the fixture's `end`): the agent solves; the ticket closes later (its
      // automation), and only then is the conversation handed back. Wait for every event of it that
      // reaches the bridge.
      const from = sim.suncoEmitted.length;
      sim.solveTicket(key);
      sim.closeTicket(key);
      const sent = sim.suncoEmitted.slice(from).filter((x) => x.conversationId === key && x.sent);
      if (sent.length === 0) throw new Error('end: nothing of the ticket closing was sent to the bridge');
      for (const x of sent) {
        await sim
          .waitFor((s) => s.suncoEvents().some((e) => e.id === x.event.id), ACCEPT_MS)
          .catch(() => {
            throw new Error(`end: the bridge did not accept ${x.event.type} within ${ACCEPT_MS / 1000} s`);
          });
      }
    },
    stop: () => sim.stop(),
  };
}

/** Support tickets with a signed event webhook (docs/helpdesks/zendesk.md, tickets). */
export function zendeskTicketsDesk(): Desk {
  const sim = new ZendeskSimulator({ support: { agents: [AGENT], webhook: { signingSecret: SIGNING_SECRET, mode: 'events', retry: FAST_SUPPORT_RETRY } } });
  let url = '';

  /** Waits until the bridge accepted the invocation Zendesk made for `match` (as the fixture). */
  async function accepted(match: (body: Record<string, any>) => boolean, what: string): Promise<void> {
    await sim
      .waitFor((s) => s.supportDeliveries.some((a) => a.outcome === 'delivered' && match(JSON.parse(a.body) as Record<string, any>)), ACCEPT_MS)
      .catch(() => {
        throw new Error(`${what}: the bridge did not accept Zendesk's webhook within ${ACCEPT_MS / 1000} s`);
      });
  }
  const commented = (id: number) => (b: Record<string, any>) => b['type'] === 'zen:event-type:ticket.comment_added' && b['event']?.comment?.id === String(id);

  return {
    type: 'zendesk-tickets',
    get url() {
      return url;
    },
    async start(port, host) {
      url = await sim.start(port, host);
      return { type: 'zendesk-tickets', baseUrl: url, email: AGENT.email, apiToken: AGENT.token, webhookSecret: SIGNING_SECRET };
    },
    connect(bridgeUrl, bot) {
      sim.setSupportWebhookEndpoint(`${bridgeUrl}/helpdesk/${bot}/webhook`);
    },
    conversations() {
      return [...sim.support.tickets.values()].reverse().map((t) => {
        const requester = sim.support.users.get(t.requester_id);
        return {
          key: String(t.id),
          customer: requester?.name ?? String(t.requester_id),
          state: t.status,
          // The bridge ends the attendance when the ticket is solved.
          closed: t.status === 'solved' || t.status === 'closed',
          // The first comment is the bridge's transcript.
          transcript: (t.comments[0]?.plain_body ?? '').split('\n'),
          messages: t.comments.slice(1).map((c): DeskMessage => {
            const file = c.attachments[0];
            return {
              // An internal note (the bridge's, e.g. why it closed) is not the agent talking to the customer.
              from: !c.public ? 'system' : c.author_id === t.requester_id ? 'customer' : 'agent',
              text: c.plain_body,
              at: Date.parse(c.created_at),
              ...(file ? { media: { url: file.content_url, name: file.file_name } } : {}),
            };
          }),
          customerTyping: false,
        };
      });
    },
    async reply(key, text) {
      const c = sim.agentComment(Number(key), text);
      await accepted(commented(c.id), 'reply');
    },
    async typing() {
      throw new Error('typing: Zendesk tickets have no typing indicator (the messaging route has)');
    },
    async file(key, f) {
      // The agent attaches the file to a public comment, as in the agent interface.
      const res = await request(f.url);
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`file: could not read ${f.url} (${res.statusCode})`);
      }
      const data = Buffer.from(await res.body.arrayBuffer());
      const c = sim.agentComment(Number(key), f.name, { attachments: [{ fileName: f.name, contentType: f.mimeType, data }] });
      await accepted(commented(c.id), 'file');
    },
    async end(key) {
      // What Zendesk does: the agent solves (the webhook the bridge acts on); an automation closes
      // the solved ticket later, which fires no trigger.
      sim.setStatus(Number(key), 'solved');
      await accepted((b) => b['type'] === 'zen:event-type:ticket.status_changed' && b['detail']?.id === key && b['event']?.current === 'SOLVED', 'end');
      if (sim.ticket(Number(key))?.status === 'solved') sim.setStatus(Number(key), 'closed');
    },
    stop: () => sim.stop(),
  };
}
