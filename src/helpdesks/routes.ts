/**
 * The helpdesks' webhooks: verified on the raw bytes with the vendor's own scheme before
 * anything is parsed (DESIGN §7), then parsed to events and applied in one transaction.
 */
import type { FastifyInstance } from 'fastify';
import type { Bridge } from '../core/bridge.js';
import { BridgeError } from '../http/errors.js';
import { parseJson } from '../http/body.js';
import type { Metrics } from '../http/metrics.js';
import { unsendable } from '../core/content.js';
import type { HelpdeskEvent, WebhookReceiver } from './adapter.js';

export async function helpdeskRoutes(app: FastifyInstance, opts: { bridge: Bridge; metrics: Metrics }): Promise<void> {
  const { bridge, metrics } = opts;

  // Some vendors (Intercom) check the URL with a HEAD request when the webhook is saved.
  app.head<{ Params: { bot: string } }>('/helpdesk/:bot/webhook', async (req, reply) => {
    const bot = bridge.bot(req.params.bot);
    if (!bot.adapter.webhook) throw new BridgeError('BRIDGE_ERR_NOT_FOUND', `the ${bot.adapter.type} helpdesk does not use webhooks`);
    return reply.code(200).send();
  });

  app.post<{ Params: { bot: string } }>('/helpdesk/:bot/webhook', async (req, reply) => {
    const bot = bridge.bot(req.params.bot);
    const receiver = bot.adapter.webhook;
    if (!receiver) throw new BridgeError('BRIDGE_ERR_NOT_FOUND', `the ${bot.adapter.type} helpdesk does not use webhooks`);
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verdict = receiver.verify(raw, req.headers, req.query as Record<string, string | undefined>);
    if (!verdict.ok) {
      req.log.warn({ bot: bot.config.id, reason: verdict.reason }, 'helpdesk webhook rejected');
      throw new BridgeError('BRIDGE_ERR_BAD_SIGNATURE', verdict.reason);
    }
    const events = sendableOnly(receiver.parse(parseJson(raw), req.headers), receiver.unmatched, (reason) =>
      req.log.warn({ bot: bot.config.id, reason }, 'agent message not sent to the customer'),
    );
    const res = await bridge.receiveHelpdeskEvents(bot.config.id, events);
    const outcome = res.accepted > 0 ? 'accepted' : res.duplicates > 0 ? 'duplicate' : 'ignored';
    metrics.inbound.inc({ route: 'helpdesk-webhook', outcome });
    if (outcome === 'ignored') return reply.code(200).send({ ignored: res.ignored.join('; ') || 'nothing to do' });
    return reply.code(202).send(res);
  });
}

/**
 * Agent messages that cannot reach the customer (empty, or media Blip cannot fetch) are never
 * stored. Our own tool's contract answers 400 to the whole request; vendors that retry a 4xx
 * forever (`unmatched: 'ignore'`) get the event ignored, with the reason in the answer and the log.
 */
export function sendableOnly(events: HelpdeskEvent[], mode: WebhookReceiver['unmatched'], warn: (reason: string) => void): HelpdeskEvent[] {
  return events.map((ev) => {
    if (ev.kind !== 'agent.message') return ev;
    const why = unsendable(ev.message.content);
    if (why === undefined) return ev;
    const reason = `agent message ${JSON.stringify(ev.message.id)}: ${why}`;
    if (mode === 'reject') throw new BridgeError('BRIDGE_ERR_UNSENDABLE_CONTENT', reason);
    warn(reason);
    return { kind: 'ignored', reason };
  });
}
