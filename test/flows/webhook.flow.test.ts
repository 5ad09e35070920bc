/** The custom tool (`type: webhook`) through the shared flow suite. */
import { WebhookToolSimulator } from '../../simulators/webhook-tool/index.js';
import { TOOL_SECRET, until } from '../helpers/harness.js';
import { flowSuite } from './suite.js';
import type { HelpdeskFixture } from './world.js';

function webhookFixture(): HelpdeskFixture {
  const tool = new WebhookToolSimulator({ secret: TOOL_SECRET });
  return {
    name: 'webhook',
    async start() {
      const url = await tool.start();
      return { type: 'webhook', url: `${url}/bridge`, secret: TOOL_SECRET };
    },
    connect(bridgeUrl, bot) {
      tool.setBridgeWebhookUrl(`${bridgeUrl}/helpdesk/${bot}/webhook`);
    },
    driver: {
      async waitOpened(originator) {
        const ev = await until(() => tool.eventsOfType('attendance.opened').find((e) => e.data.customer.originator === originator), 10_000, 'attendance.opened');
        return {
          key: ev.data.attendance.id,
          ...(ev.data.customer.name ? { customerName: ev.data.customer.name } : {}),
          transcript: ev.data.transcript.map((t) => t.content.text),
        };
      },
      customerTexts(key) {
        return tool.eventsOfType('customer.message').filter((e) => e.data.attendanceId === key).map((e) => e.data.message.content.text);
      },
      async reply(key, text) {
        const res = await tool.reply(key, text);
        if (res.status !== 202) throw new Error(`reply answered ${res.status}`);
      },
      async end(key) {
        const res = await tool.end(key);
        if (res.status !== 202) throw new Error(`end answered ${res.status}`);
      },
      async redeliverLastWebhook() {
        const last = tool.sent.at(-1)!;
        const text = JSON.stringify(last.body);
        // Standard Webhooks retries keep the webhook-id and sign again.
        return (await tool.postRaw(text, tool.sign(text, last.webhookId))).status;
      },
      async waitClosedByBridge(key) {
        // The tool's own view: attendance.closed with the reason (docs/helpdesks/webhook.md).
        const ev = await until(() => tool.eventsOfType('attendance.closed').find((e) => e.data.attendanceId === key), 10_000, 'attendance.closed');
        return { note: `attendance.closed: ${ev.data.reason}` };
      },
      async forgedWebhook() {
        const key = [...tool.attendances.keys()].at(-1) ?? 'none';
        const body = { type: 'agent.message', timestamp: new Date().toISOString(), data: { attendanceId: key, message: { id: 'forged-1', content: { type: 'text', text: 'forged' } } } };
        return (await tool.postRaw(body, { 'webhook-signature': 'v1,' + Buffer.alloc(32).toString('base64') })).status;
      },
    },
    async stop() {
      await tool.stop();
    },
  };
}

flowSuite(webhookFixture);
