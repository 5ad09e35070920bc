/**
 * The agent's desk of the playground: one helpdesk simulator's agent side behind one small
 * interface, so the playground page shows any helpdesk the same way (the attendance with its
 * transcript, reply, typing, a file, end). Each desk drives its simulator exactly as the flow
 * suite's fixture does (test/flows/*-fixture.ts), with the same credentials shape.
 */
import { ServiceNowSimulator } from '../../simulators/servicenow/index.js';
import { WebhookToolSimulator } from '../../simulators/webhook-tool/index.js';
import { intercomDesk } from './desk-intercom.js';
import { omnizeDesk } from './desk-omnize.js';
import { zendeskMessagingDesk, zendeskTicketsDesk } from './desk-zendesk.js';

export interface DeskMessage {
  from: 'customer' | 'agent' | 'system';
  text: string;
  at: number;
  /** A picture or file the message carries. */
  media?: { url: string; name: string };
}

export interface DeskConversation {
  key: string;
  customer: string;
  /** The helpdesk's own word for where it is (open, queued, chatting, closed…). */
  state: string;
  closed: boolean;
  /** The bot transcript as the agent sees it, one line per message. */
  transcript: string[];
  messages: DeskMessage[];
  customerTyping: boolean;
}

export interface DeskFile {
  url: string;
  name: string;
  mimeType: string;
}

export interface Desk {
  readonly type: string;
  /** Starts the simulator on `port`; returns the bot's `helpdesk:` config. */
  start(port: number, host: string): Promise<Record<string, unknown>>;
  /** The bridge listens: point the simulator's webhooks at it. */
  connect(bridgeUrl: string, bot: string): void;
  readonly url: string;
  conversations(): DeskConversation[];
  reply(key: string, text: string): Promise<void>;
  typing(key: string, on: boolean): Promise<void>;
  file(key: string, file: DeskFile): Promise<void>;
  end(key: string): Promise<void>;
  stop(): Promise<void>;
}

const AGENT = { id: 'agent-ana', name: 'Ana (agent)' };

/** The bridge's answer to an agent-side call must be a 2xx, or the desk shows why not. */
export function mustAccept(what: string, status: number | undefined, body?: unknown): void {
  if (status === undefined || status < 200 || status >= 300) throw new Error(`${what}: the bridge answered ${status ?? 'nothing'}${body ? ` ${JSON.stringify(body)}` : ''}`);
}

/** The custom tool (`type: webhook`): our own contract, signed both ways (docs/helpdesks/webhook.md). */
export function webhookDesk(secret: string): Desk {
  const tool = new WebhookToolSimulator({ secret });
  let url = '';
  return {
    type: 'webhook',
    get url() {
      return url;
    },
    async start(port, host) {
      url = await tool.start(port, host);
      return { type: 'webhook', url: `${url}/bridge`, secret };
    },
    connect(bridgeUrl, bot) {
      tool.setBridgeWebhookUrl(`${bridgeUrl}/helpdesk/${bot}/webhook`);
    },
    conversations() {
      return [...tool.attendances.values()].reverse().map((a) => ({
        key: a.id,
        customer: a.customer.name ?? a.customer.originator ?? a.customer.address,
        state: a.closed ? `closed (${a.closed.reason})` : 'open',
        closed: Boolean(a.closed),
        transcript: a.transcript.map((t) => `${t.direction === 'bot' ? 'Bot' : 'Customer'}: ${t.content.text}`),
        messages: a.messages.map((m) => ({
          from: m.direction,
          text: m.content.text,
          at: Date.parse(m.at),
          ...(m.content.type === 'media' ? { media: { url: m.content.url, name: m.content.name ?? m.content.mimeType } } : {}),
        })),
        customerTyping: a.customerTyping === 'typing',
      }));
    },
    async reply(key, text) {
      const r = await tool.reply(key, text, { agent: AGENT });
      mustAccept('reply', r.status, r.body);
    },
    async typing(key, on) {
      const r = await tool.typing(key, on ? 'typing' : 'paused');
      mustAccept('typing', r.status, r.body);
    },
    async file(key, f) {
      const r = await tool.reply(key, { type: 'media', url: f.url, mimeType: f.mimeType, name: f.name, text: `${f.name}: ${f.url}` }, { agent: AGENT });
      mustAccept('file', r.status, r.body);
    },
    async end(key) {
      const r = await tool.end(key);
      mustAccept('end', r.status, r.body);
    },
    stop: () => tool.stop(),
  };
}

/** ServiceNow's Virtual Agent API with a live agent in Agent Chat (docs/helpdesks/servicenow.md). */
export function serviceNowDesk(): Desk {
  const user = { username: 'blip.bridge', password: 'sandbox-integration-user' };
  const response = { username: 'servicenow', password: 'sandbox-response-endpoint' };
  const sim = new ServiceNowSimulator({ auth: { basic: [user] } });
  let url = '';
  /** The agent accepts a queued chat the first time they act on it, as in Agent Workspace. */
  async function live(key: string): Promise<void> {
    if (sim.conversation(key)?.state === 'queued') mustAccept('accept', (await sim.accept(key)).firstAttempt?.status);
  }
  return {
    type: 'servicenow',
    get url() {
      return url;
    },
    async start(port) {
      url = await sim.start(port);
      return { type: 'servicenow', instanceUrl: url, auth: 'basic', ...user, response };
    },
    connect(bridgeUrl, bot) {
      sim.setResponseEndpoint({ url: `${bridgeUrl}/helpdesk/${bot}/webhook`, auth: { type: 'basic', ...response } });
    },
    conversations() {
      return sim
        .conversations()
        .filter((c) => c.state !== 'virtual_agent')
        .reverse()
        .map((c) => ({
          key: c.id,
          customer: c.history.find((h) => !h.isBotMessage)?.displayName ?? c.userId,
          state: c.state,
          closed: c.state === 'closed',
          transcript: c.history.map((h) => `${h.displayName}: ${h.value}`),
          messages: c.messages.map((m) => {
            const image = m.item?.uiType === 'OutputImage' ? String(m.item['value'] ?? '') : undefined;
            const attachment = m.attachments?.[0];
            const mediaUrl = image ?? attachment?.url;
            return {
              from: m.direction,
              text: m.updatedText ?? m.text ?? (image ? 'picture' : attachment ? (attachment.fileName ?? 'attachment') : ''),
              at: m.at,
              ...(mediaUrl ? { media: { url: mediaUrl, name: attachment?.fileName ?? 'picture' } } : {}),
            };
          }),
          customerTyping: c.customerTyping,
        }));
    },
    async reply(key, text) {
      await live(key);
      mustAccept('reply', (await sim.agentMessage(key, text)).firstAttempt?.status);
    },
    async typing(key, on) {
      await live(key);
      mustAccept('typing', (await sim.agentTyping(key, on)).firstAttempt?.status);
    },
    async file(key, f) {
      await live(key);
      mustAccept('file', (await sim.agentMessage(key, { image: f.url, altText: f.name })).firstAttempt?.status);
    },
    async end(key) {
      mustAccept('end', (await sim.close(key)).firstAttempt?.status);
    },
    stop: () => sim.stop(),
  };
}

/** The helpdesks the playground can play, by `helpdesk.type`. */
export const DESKS: Record<string, (toolSecret: string) => Desk> = {
  webhook: (secret) => webhookDesk(secret),
  servicenow: () => serviceNowDesk(),
  intercom: () => intercomDesk(),
  omnize: () => omnizeDesk(),
  'zendesk-messaging': () => zendeskMessagingDesk(),
  'zendesk-tickets': () => zendeskTicketsDesk(),
};
