/**
 * The helpdesks' webhooks: verified on the raw bytes with the vendor's own scheme before
 * anything is parsed (DESIGN §7), then parsed to events and applied in one transaction.
 */
import type { FastifyInstance } from 'fastify';
import type { Bridge } from '../core/bridge.js';
import { BridgeError } from '../http/errors.js';
import { parseJson } from '../http/body.js';
import type { Metrics } from '../http/metrics.js';

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
      metrics.inbound.inc({ route: 'helpdesk-webhook', outcome: 'bad-signature' });
      req.log.warn({ bot: bot.config.id, reason: verdict.reason }, 'helpdesk webhook rejected');
      throw new BridgeError('BRIDGE_ERR_BAD_SIGNATURE', verdict.reason);
    }
    const events = receiver.parse(parseJson(raw), req.headers);
    const res = await bridge.receiveHelpdeskEvents(bot.config.id, events);
    const outcome = res.accepted > 0 ? 'accepted' : res.duplicates > 0 ? 'duplicate' : 'ignored';
    metrics.inbound.inc({ route: 'helpdesk-webhook', outcome });
    if (outcome === 'ignored') return reply.code(200).send({ ignored: res.ignored.join('; ') || 'nothing to do' });
    return reply.code(202).send(res);
  });
}
