/**
 * ServiceNow (`type: servicenow`) as the shared flow suite sees it: the ServiceNowSimulator plays
 * the instance with the Virtual Agent API and its live agents (Agent Chat), and POSTs VA response
 * bodies to the bridge's webhook with the response endpoint's Basic credential.
 * Kept apart from the flow test so other tests can build the same world.
 */
import { request } from 'undici';
import { ServiceNowSimulator, type ServiceNowSimulatorOptions, type SimConversation } from '../../simulators/servicenow/index.js';
import { until } from '../helpers/harness.js';
import type { HelpdeskFixture } from './world.js';

export const SN_USER = { username: 'blip.bridge', password: 'integration-user-pass' };
/** The Credential of the response endpoint (Bot Connection): what the bridge requires on its webhook. */
export const SN_RESPONSE = { username: 'servicenow', password: 'response-endpoint-pass' };

export interface ServiceNowFixture extends HelpdeskFixture {
  readonly sim: ServiceNowSimulator;
  readonly webhookUrl: string;
}

export function serviceNowFixture(options: Partial<ServiceNowSimulatorOptions> = {}, helpdesk: Record<string, unknown> = {}): ServiceNowFixture {
  const sim = new ServiceNowSimulator({ auth: { basic: [SN_USER] }, ...options });
  let webhookUrl: string | undefined;

  /** The customer's live-agent conversation: the userId the bridge sends is the Blip originator. */
  const conversationOf = (originator: string): SimConversation | undefined => {
    const c = sim.conversationOf(originator);
    return c && c.state !== 'virtual_agent' ? c : undefined;
  };

  return {
    name: 'servicenow',
    sim,
    get webhookUrl() {
      if (!webhookUrl) throw new Error('servicenow fixture: not connected');
      return webhookUrl;
    },
    async start() {
      const url = await sim.start();
      return { type: 'servicenow', instanceUrl: url, auth: 'basic', ...SN_USER, response: { ...SN_RESPONSE }, timeoutMs: 3_000, ...helpdesk };
    },
    connect(bridgeUrl, bot) {
      webhookUrl = `${bridgeUrl}/helpdesk/${bot}/webhook`;
      sim.setResponseEndpoint({ url: webhookUrl, auth: { type: 'basic', ...SN_RESPONSE } });
    },
    driver: {
      async waitOpened(originator) {
        const c = await until(() => conversationOf(originator), 10_000, `the ServiceNow conversation of ${originator}`);
        if (c.state === 'queued') await sim.accept(c.id);
        // The bot transcript is history[]; the customer's lines carry their name as displayName.
        const name = c.history.find((h) => !h.isBotMessage)?.displayName;
        return { key: c.id, ...(name && name !== 'Customer' ? { customerName: name } : {}), transcript: c.history.map((h) => h.value) };
      },
      customerTexts(key) {
        const c = sim.conversation(key);
        // The first customer message is the hand-off's own text (handoffText), not the customer's;
        // "Blip:" lines (clientMessageId note-…) are the bridge's notes to the agent.
        return c ? c.messages.filter((m) => m.direction === 'customer' && !m.id?.startsWith('open-') && !m.id?.startsWith('note-')).map((m) => m.text ?? '') : [];
      },
      async waitClosedByBridge(key) {
        // END_CONVERSATION ends the chat for the agent; the reason is the "Blip:" line just before it
        // (ServiceNow has no internal note a primary bot can write).
        const c = await until(() => {
          const x = sim.conversation(key);
          return x?.state === 'closed' && x.closed?.by === 'customer' ? x : undefined;
        }, 10_000, `END_CONVERSATION of ${key}`);
        const note = [...c.messages].reverse().find((m) => m.direction === 'customer' && m.id?.startsWith('note-end-'))?.text;
        if (!note) throw new Error(`servicenow: the chat ${key} was ended with no note to the agent`);
        return { note };
      },
      async reply(key, text) {
        const r = await sim.agentMessage(key, text);
        const status = r.firstAttempt?.status ?? 0;
        if (status < 200 || status >= 300) throw new Error(`the bridge answered ${status} to an agent message`);
      },
      async end(key) {
        const r = await sim.close(key);
        const status = r.firstAttempt?.status ?? 0;
        if (status < 200 || status >= 300) throw new Error(`the bridge answered ${status} to the close`);
      },
      async redeliverLastWebhook() {
        return (await sim.redeliver()).status;
      },
      async forgedWebhook() {
        if (!webhookUrl) throw new Error('servicenow fixture: not connected');
        const c = sim.conversation('latest');
        const body = JSON.stringify({
          requestId: c?.lastRequestId ?? 'x',
          clientSessionId: c?.clientSessionId ?? 'x',
          userId: c?.userId ?? 'x',
          body: [{ uiType: 'OutputText', group: 'DefaultText', value: 'forged', maskType: 'NONE', agentInfo: { sentFromAgent: true, agentName: 'Mallory' } }],
          agentChat: true,
          score: 1,
        });
        const res = await request(webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${SN_RESPONSE.username}:not-the-password`).toString('base64')}` },
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
