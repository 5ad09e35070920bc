/**
 * `/_sim/*`: HTTP controls so a person (or the sandbox UI) can act as Omnize's agents, look at the
 * account, and break things. Unauthenticated by design, hence loopback only. `:hash` may be
 * `latest` (the interaction created most recently). Not affected by `setDown`/`failNext`/latency.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AgentMessageInput, OmnizeSimulator } from './index.js';
import type { MessageType } from './types.js';
import { isObject } from './validate.js';
import { MESSAGE_TYPES } from './fixtures.js';
import { loopbackOnly, registerFaultRoutes, controlBody as json, nonEmpty as str } from '../common/control.js';

export function registerControlRoutes(app: FastifyInstance, sim: OmnizeSimulator): void {
  app.register(
    async (r) => {
      loopbackOnly(r);

      /** Runs an agent action: "unknown interaction/agent" → 404, anything else refused → 409. */
      const act = async (reply: FastifyReply, run: () => Promise<unknown>) => {
        try {
          return await run();
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          return reply.code(/unknown/.test(message) ? 404 : 409).send({ error: message });
        }
      };
      const hashOf = (h: string) => (h === 'latest' ? (sim.latestHash() ?? h) : h);

      r.get('/state', async () => ({
        webhookUrl: sim.webhookUrl ?? null,
        interactions: sim.interactions(),
        triggers: sim.triggers.map(({ attempts, ...t }) => ({ ...t, attempts: attempts.map((a) => a.index) })),
        deliveries: sim.deliveries,
      }));
      r.get('/requests', async () => sim.requests);
      r.get<{ Params: { hash: string } }>('/interactions/:hash', async (req, reply) => {
        const i = sim.interaction(req.params.hash);
        return i ?? reply.code(404).send({ error: `unknown interaction ${req.params.hash}` });
      });

      /** Body `{position?}`. */
      r.post<{ Params: { hash: string } }>('/interactions/:hash/queue', async (req, reply) => {
        const b = json(req.body);
        if (!b) return reply.code(400).send({ error: 'body must be a JSON object' });
        const position = typeof b['position'] === 'number' ? b['position'] : undefined;
        return act(reply, () => sim.queue(hashOf(req.params.hash), position));
      });
      /** Body `{agentId?}` (an agent of the account) or `{agent: {id, name}}`. */
      r.post<{ Params: { hash: string } }>('/interactions/:hash/accept', async (req, reply) => {
        const b = json(req.body);
        if (!b) return reply.code(400).send({ error: 'body must be a JSON object' });
        const a = b['agent'];
        const agent =
          isObject(a) && typeof a['id'] === 'number' && typeof a['name'] === 'string'
            ? { id: a['id'], name: a['name'] }
            : typeof b['agentId'] === 'number'
              ? b['agentId']
              : undefined;
        return act(reply, () => sim.accept(hashOf(req.params.hash), agent));
      });
      r.post<{ Params: { hash: string } }>('/interactions/:hash/unavailable', async (req, reply) => act(reply, () => sim.unavailable(hashOf(req.params.hash))));
      /** Body `{text}` or `{type, url, content?}`. */
      r.post<{ Params: { hash: string } }>('/interactions/:hash/message', async (req, reply) => {
        const b = json(req.body);
        let input: AgentMessageInput | undefined;
        if (b && str(b['text'])) input = b['text'] as string;
        else if (b && (MESSAGE_TYPES as readonly unknown[]).includes(b['type'])) {
          input = {
            type: b['type'] as MessageType,
            ...(str(b['url']) ? { url: b['url'] as string } : {}),
            ...(typeof b['content'] === 'string' ? { content: b['content'] } : {}),
          };
        }
        if (!input)
          return reply.code(400).send({ error: 'body must be {"text": "…"} or {"type": "image|video|audio|file|text", "url": "…", "content"?: "…"}' });
        const message = input;
        return act(reply, () => sim.agentMessage(hashOf(req.params.hash), message));
      });
      /** Body `{on: bool}` (default true). */
      r.post<{ Params: { hash: string } }>('/interactions/:hash/typing', async (req, reply) => {
        const b = json(req.body);
        if (!b) return reply.code(400).send({ error: 'body must be a JSON object' });
        return act(reply, () => sim.agentTyping(hashOf(req.params.hash), b['on'] !== false));
      });
      r.post<{ Params: { hash: string } }>('/interactions/:hash/finish', async (req, reply) => act(reply, () => sim.finish(hashOf(req.params.hash))));
      r.post<{ Params: { hash: string } }>('/interactions/:hash/history', async (req, reply) => act(reply, () => sim.fetchHistory(hashOf(req.params.hash))));

      /** Body `{url: "…" | null}`. */
      r.post('/webhook', async (req, reply) => {
        const b = json(req.body);
        if (!b || (b['url'] !== null && !str(b['url']))) return reply.code(400).send({ error: 'body must be {"url": "…" | null}' });
        try {
          sim.setWebhookUrl(str(b['url']));
        } catch (e) {
          return reply.code(400).send({ error: e instanceof Error ? e.message : String(e) });
        }
        return { webhookUrl: sim.webhookUrl ?? null };
      });
      /** Body `{index?}` (default: the last delivery). */
      r.post('/redeliver', async (req, reply) => {
        const b = json(req.body);
        if (!b) return reply.code(400).send({ error: 'body must be a JSON object' });
        const index = typeof b['index'] === 'number' ? b['index'] : -1;
        try {
          return await sim.redeliver(index);
        } catch (e) {
          return reply.code(404).send({ error: e instanceof Error ? e.message : String(e) });
        }
      });

      registerFaultRoutes(r, sim);
    },
    { prefix: '/_sim' },
  );
}
