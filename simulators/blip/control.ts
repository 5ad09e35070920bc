/**
 * `/_sim/*`: HTTP controls so a person (or the sandbox UI) can play the customer and look at what
 * the bot did. Unauthenticated by design, hence loopback only.
 */
import type { FastifyInstance } from 'fastify';
import { MIME } from '../../src/lime/envelope.js';
import type { BlipSimulator } from './index.js';
import type { CustomerMessage } from './types.js';
import { parseJsonBody } from './validate.js';
import { loopbackOnly } from '../common/control.js';

export function registerControlRoutes(app: FastifyInstance, sim: BlipSimulator, defaultBot: string): void {
  app.register(
    async (r) => {
      loopbackOnly(r);

      /** Body `{text}` or `{type, content}`, optional `id` and `bot` (default: the first bot). */
      r.post<{ Params: { originator: string } }>('/customers/:originator/messages', async (req, reply) => {
        const b = parseJsonBody(req.body);
        if (!b) return reply.code(400).send({ error: 'body must be JSON: {text} or {type, content}' });
        const bot = typeof b['bot'] === 'string' ? b['bot'] : defaultBot;
        if (!sim.hasBot(bot)) return reply.code(404).send({ error: `unknown bot ${bot}` });
        let msg: CustomerMessage;
        if (typeof b['text'] === 'string') msg = { type: MIME.text, content: b['text'] };
        else if (typeof b['type'] === 'string' && b['content'] !== undefined) msg = { type: b['type'], content: b['content'] };
        else return reply.code(400).send({ error: 'body must be {text} or {type, content}' });
        if (typeof b['id'] === 'string') msg.id = b['id'];
        try {
          return await sim.customerSays(req.params.originator, bot, msg);
        } catch (e) {
          // e.g. the bot has no messages URL yet
          return reply.code(409).send({ error: e instanceof Error ? e.message : String(e) });
        }
      });

      /** What the main sub-bot does to start an attendance; body `{bot?}`. */
      r.post<{ Params: { originator: string } }>('/customers/:originator/handoff', async (req, reply) => {
        const bot = parseJsonBody(req.body)?.['bot'];
        const id = typeof bot === 'string' ? bot : defaultBot;
        if (!sim.hasBot(id)) return reply.code(404).send({ error: `unknown bot ${id}` });
        sim.handOff(req.params.originator, id);
        return sim.customerView(req.params.originator, sim.routerOf(id));
      });

      r.get('/received', async () => sim.received);

      r.get<{ Params: { originator: string }; Querystring: { router?: string } }>('/customers/:originator', async (req, reply) => {
        const view = sim.customerView(req.params.originator, req.query.router ?? sim.routerOf(defaultBot));
        return view ?? reply.code(404).send({ error: 'unknown customer' });
      });
    },
    { prefix: '/_sim' },
  );
}
