/**
 * Intercom (`type: intercom`) as the playground's desk: the IntercomSimulator plays the workspace
 * and its admin in the Inbox (reply, a file, close), driven as the flow suite's fixture does
 * (test/flows/intercom-fixture.ts), with the same credentials shape (docs/helpdesks/intercom.md).
 */
import { IntercomSimulator, type Conversation, type ConversationPart } from '../../simulators/intercom/index.js';
import { mustAccept, type Desk, type DeskMessage } from './desk.js';

const TOKEN = 'dG9rOnNhbmRib3gtaW50ZXJjb20tdG9rZW4=';
const CLIENT_SECRET = 'sandbox-intercom-client-secret';
/** The simulator's default (first) admin, the description's `/me`: the bridge closes as this admin. */
const ADMIN_ID = '991267459';

/** Inbox HTML as the lines a person reads (the simulator wraps each line in `<p>`). */
function htmlLines(html: string | null | undefined): string[] {
  if (!html) return [];
  return html
    .split(/<\/p>|<br\s*\/?>/i)
    .map((l) =>
      l
        .replace(/<[^>]+>/g, '')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&amp;/g, '&'),
    )
    .filter((l) => l.trim() !== '');
}

function message(p: ConversationPart): DeskMessage | undefined {
  const who = p.author.type === 'user' || p.author.type === 'lead' ? 'customer' : p.author.type === 'admin' ? 'agent' : 'system';
  const text = htmlLines(p.body).join('\n');
  const file = p.attachments[0];
  // Notes, assignments and closes are the agents' own record: shown as the system's lines.
  const from = p.part_type === 'comment' || p.part_type === 'open' ? who : 'system';
  if (!text && !file && from !== 'system') return undefined;
  return {
    from,
    text: text || (file ? file.name : p.part_type),
    at: p.created_at * 1000,
    ...(file ? { media: { url: file.url, name: file.name } } : {}),
  };
}

function check(what: string, r: { firstAttempt?: { status?: number } | undefined }): void {
  mustAccept(what, r.firstAttempt?.status);
}

export function intercomDesk(): Desk {
  const sim = new IntercomSimulator({
    accessTokens: [TOKEN],
    clientSecret: CLIENT_SECRET,
    // Quick retries, as the flow fixture: a refused notification shows in seconds, not Intercom's minutes.
    webhookRetry: { maxAttempts: 4, delaysMs: [50, 100, 200], timeoutMs: 3_000, throttleDelayMs: 100 },
  });
  let url = '';
  const customerOf = (c: Conversation): string => {
    const contact = c.contacts.contacts[0];
    const found = contact ? sim.contact(contact.id) : undefined;
    return found?.name ?? found?.external_id ?? contact?.id ?? 'customer';
  };
  return {
    type: 'intercom',
    get url() {
      return url;
    },
    async start(port) {
      url = await sim.start(port);
      return { type: 'intercom', accessToken: TOKEN, clientSecret: CLIENT_SECRET, baseUrl: url, adminId: ADMIN_ID };
    },
    connect(bridgeUrl, bot) {
      // Saving a webhook in the Developer Hub sends a ping; the sandbox starts without one.
      void sim.setWebhook(`${bridgeUrl}/helpdesk/${bot}/webhook`, { ping: false });
    },
    conversations() {
      return sim
        .conversations()
        .slice()
        .reverse()
        .map((c) => ({
          key: c.id,
          customer: customerOf(c),
          state: c.state,
          closed: c.state === 'closed',
          // The bridge's first message (the conversation's `source`) carries the transcript.
          transcript: htmlLines(c.source.body),
          messages: c.conversation_parts.conversation_parts.map(message).filter((m): m is DeskMessage => m !== undefined),
          // The REST API and its webhooks carry no customer typing.
          customerTyping: false,
        }));
    },
    async reply(key, text) {
      check('reply', await sim.adminReply(key, text));
    },
    async typing() {
      throw new Error('Intercom has no API or webhook for an admin typing: the customer cannot see it');
    },
    async file(key, f) {
      check('file', await sim.adminReply(key, f.name, { attachments: [{ name: f.name, contentType: f.mimeType, url: f.url }] }));
    },
    async end(key) {
      check('end', await sim.close(key));
    },
    stop: () => sim.stop(),
  };
}
