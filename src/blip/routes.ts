/**
 * Blip's two URLs (DESIGN §6): token checked (Blip signs nothing; it sends a static header we
 * configure), envelope validated, then stored in one transaction; 202 only once stored.
 */
import type { FastifyInstance } from 'fastify';
import type { Bridge } from '../core/bridge.js';
import { BridgeError } from '../http/errors.js';
import { bearer, safeEqual } from '../http/auth.js';
import { Validator, parseJson } from '../http/body.js';
import type { Metrics } from '../http/metrics.js';
import { MessageEnvelope, NotificationEnvelope, TUNNEL_DOMAIN, domainOf, identityOf } from '../lime/envelope.js';

const messages = new Validator(MessageEnvelope, 'BRIDGE_ERR_INVALID_ENVELOPE');
const notifications = new Validator(NotificationEnvelope, 'BRIDGE_ERR_INVALID_ENVELOPE');

export async function blipRoutes(app: FastifyInstance, opts: { bridge: Bridge; metrics: Metrics }): Promise<void> {
  const { bridge, metrics } = opts;

  function authenticate(botId: string, headers: Record<string, string | string[] | undefined>) {
    const bot = bridge.bot(botId);
    const header = bot.config.blip.inboundHeader.toLowerCase();
    const raw = headers[header];
    const given = header === 'authorization' ? bearer(raw) : Array.isArray(raw) ? raw[0] : raw;
    if (given === undefined || !safeEqual(given, bot.config.blip.inboundToken)) {
      throw new BridgeError('BRIDGE_ERR_UNAUTHORIZED', `send the bot's inboundToken in the ${header} header`);
    }
  }

  app.post<{ Params: { bot: string } }>('/blip/:bot/messages', async (req, reply) => {
    authenticate(req.params.bot, req.headers);
    const env = messages.parse(parseJson(req.body));
    // Only a router routes through a tunnel, and only a router acts on the Redirect that ends an
    // attendance (research/blip.md §2.5): a direct address would stay with us for good.
    if (domainOf(env.from) !== TUNNEL_DOMAIN && !bridge.bot(req.params.bot).config.blip.acceptDirectAddresses) {
      throw new BridgeError(
        'BRIDGE_ERR_NOT_ROUTED',
        `/from: ${JSON.stringify(identityOf(env.from))} is not a tunnel address (…@${TUNNEL_DOMAIN}); make this bot a service of a router, or set bots[].blip.acceptDirectAddresses`,
      );
    }
    const res = await bridge.receiveBlipMessage(req.params.bot, env);
    metrics.inbound.inc({ route: 'blip-message', outcome: res.outcome });
    return reply.code(202).send(res);
  });

  app.post<{ Params: { bot: string } }>('/blip/:bot/notifications', async (req, reply) => {
    authenticate(req.params.bot, req.headers);
    const env = notifications.parse(parseJson(req.body));
    const res = await bridge.receiveBlipNotification(req.params.bot, env);
    metrics.inbound.inc({ route: 'blip-notification', outcome: res.outcome });
    return reply.code(202).send(res);
  });
}
