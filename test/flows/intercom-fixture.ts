/**
 * Intercom (`type: intercom`) as the shared flow suite sees it: the IntercomSimulator plays the
 * workspace and its agents (Inbox replies, closes) and signs its webhooks as Intercom does.
 * Kept apart from the flow test so other tests can build the same world.
 */
import { request } from 'undici';
import { IntercomSimulator, hubSignature, type Conversation, type IntercomSimulatorOptions } from '../../simulators/intercom/index.js';
import { until } from '../helpers/harness.js';
import type { HelpdeskFixture } from './world.js';

export const INTERCOM_TOKEN = 'dG9rOmludGVyY29tLWZsb3ctdG9rZW4=';
export const INTERCOM_CLIENT_SECRET = 'intercom-client-secret-0123';
/** The description's `/me` admin: the bridge closes conversations as this admin. */
export const INTERCOM_ADMIN_ID = '991267459';

export interface IntercomFixture extends HelpdeskFixture {
  readonly sim: IntercomSimulator;
  /** `POST /helpdesk/{bot}/webhook` on the bridge, once connected. */
  readonly webhookUrl: string;
}

/** A contact's or admin's HTML as the lines a person reads (the simulator wraps each line in `<p>`). */
export function htmlLines(html: string | null | undefined): string[] {
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

/** What the agent reads of the customer's own messages in a conversation, oldest first. */
export function customerParts(c: Conversation): Array<{ id: string; text: string; attachments: string[] }> {
  return c.conversation_parts.conversation_parts
    .filter((p) => (p.author.type === 'user' || p.author.type === 'lead') && (p.part_type === 'comment' || p.part_type === 'open'))
    .map((p) => ({ id: p.id, text: htmlLines(p.body).join('\n'), attachments: p.attachments.map((a) => a.url) }));
}

export function intercomFixture(options: Partial<IntercomSimulatorOptions> = {}): IntercomFixture {
  const sim = new IntercomSimulator({
    accessTokens: [INTERCOM_TOKEN],
    clientSecret: INTERCOM_CLIENT_SECRET,
    // Quick retries so a failed notification does not stall a test for Intercom's minutes.
    webhookRetry: { maxAttempts: 4, delaysMs: [50, 100, 200], timeoutMs: 3_000, throttleDelayMs: 100 },
    ...options,
  });
  let webhookUrl: string | undefined;

  const conversationOf = (originator: string): Conversation | undefined => {
    const contact = sim.contact(`blip:${originator}`);
    if (!contact) return undefined;
    return sim.conversations().find((c) => c.contacts.contacts.some((x) => x.id === contact.id));
  };

  return {
    name: 'intercom',
    sim,
    get webhookUrl() {
      if (!webhookUrl) throw new Error('intercom fixture: not connected');
      return webhookUrl;
    },
    async start() {
      const url = await sim.start();
      return { type: 'intercom', accessToken: INTERCOM_TOKEN, clientSecret: INTERCOM_CLIENT_SECRET, baseUrl: url, adminId: INTERCOM_ADMIN_ID };
    },
    connect(bridgeUrl, bot) {
      webhookUrl = `${bridgeUrl}/helpdesk/${bot}/webhook`;
      // Saving a webhook in the Developer Hub sends a ping; the flows start without one.
      void sim.setWebhook(webhookUrl, { ping: false });
    },
    driver: {
      async waitOpened(originator) {
        const c = await until(() => conversationOf(originator), 10_000, `the Intercom conversation of ${originator}`);
        const name = sim.contact(`blip:${originator}`)?.name;
        // The bridge's first message (the conversation's `source`) carries the transcript.
        return { key: c.id, ...(name ? { customerName: name } : {}), transcript: htmlLines(c.source.body) };
      },
      customerTexts(key) {
        const c = sim.conversation(key);
        return c ? customerParts(c).map((p) => p.text) : [];
      },
      async reply(key, text) {
        const r = await sim.adminReply(key, text);
        const status = r.firstAttempt?.status ?? 0;
        if (status < 200 || status >= 300) throw new Error(`the bridge answered ${status} to conversation.admin.replied`);
      },
      async end(key) {
        const r = await sim.close(key);
        const status = r.firstAttempt?.status ?? 0;
        if (status < 200 || status >= 300) throw new Error(`the bridge answered ${status} to conversation.admin.closed`);
      },
      async waitClosedByBridge(key) {
        // Closed by the bridge's admin, with the reason in an internal note just before.
        const c = await until(() => {
          const x = sim.conversation(key);
          return x?.state === 'closed' ? x : undefined;
        }, 10_000, `the close of conversation ${key}`);
        const parts = c.conversation_parts.conversation_parts;
        const close = [...parts].reverse().find((p) => p.part_type === 'close');
        if (close?.author.id !== INTERCOM_ADMIN_ID) throw new Error(`intercom: conversation ${key} was not closed by the bridge's admin`);
        const note = [...parts].reverse().find((p) => p.part_type === 'note' && p.author.id === INTERCOM_ADMIN_ID);
        if (!note) throw new Error(`intercom: conversation ${key} was closed with no note to the agents`);
        return { note: htmlLines(note.body).join('\n') };
      },
      async redeliverLastWebhook() {
        const last = sim.notifications.filter((n) => n.attempts.length > 0).at(-1);
        if (!last) throw new Error('intercom fixture: no notification was sent yet');
        return (await sim.redeliver(last.id)).status;
      },
      async forgedWebhook() {
        if (!webhookUrl) throw new Error('intercom fixture: not connected');
        const last = sim.notifications.filter((n) => n.topic !== 'ping').at(-1);
        const id = last?.conversationId ?? sim.latestConversationId() ?? '1';
        const conversation = sim.conversation(id);
        const body = JSON.stringify({
          type: 'notification_event',
          app_id: sim.workspaceId,
          id: 'notif_00000000-0000-4000-8000-000000000000',
          topic: 'conversation.admin.replied',
          data: {
            type: 'notification_event_data',
            item: {
              ...conversation,
              type: 'conversation',
              id,
              conversation_parts: {
                type: 'conversation_part.list',
                total_count: 1,
                conversation_parts: [
                  {
                    type: 'conversation_part',
                    id: '1',
                    part_type: 'comment',
                    body: '<p>forged</p>',
                    author: { type: 'admin', id: INTERCOM_ADMIN_ID, name: 'Mallory' },
                    attachments: [],
                  },
                ],
              },
            },
          },
        });
        const res = await request(webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-hub-signature': hubSignature('not-the-client-secret', body) },
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
