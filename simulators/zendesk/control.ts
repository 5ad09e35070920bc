/**
 * `/_sim/*`: HTTP controls so a person (or the sandbox) can play the Zendesk agent and look at the
 * account's state. Unauthenticated by design, hence loopback only. An `:id` of `latest` means the
 * most recent conversation (messaging route) or ticket (ticket route).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZendeskSimulator } from './index.js';
import { messageJson } from './sunco-shapes.js';
import type { TicketStatus } from './support.js';
import { loopbackOnly, controlBody as parse } from '../common/control.js';
import { commentJson, ticketJson, userJson } from './support-shapes.js';

const STATUSES = new Set(['new', 'open', 'pending', 'hold', 'solved', 'closed']);

export function registerControlRoutes(app: FastifyInstance, sim: ZendeskSimulator): void {
  app.register(
    async (r) => {
      loopbackOnly(r);

      const conversationId = (id: string): string | undefined => (id === 'latest' ? [...sim.sunco.conversations.keys()].at(-1) : id);
      const ticketId = (id: string): number | undefined => (id === 'latest' ? [...sim.support.tickets.keys()].at(-1) : Number(id));
      const act = (reply: FastifyReply, fn: () => unknown) => {
        try {
          return fn() ?? { ok: true };
        } catch (e) {
          return reply.code(409).send({ error: e instanceof Error ? e.message : String(e) });
        }
      };
      const conversationView = (id: string) => {
        const c = sim.conversation(id);
        if (!c) return undefined;
        return {
          id: c.id,
          type: c.type,
          participants: c.participants.map((p) => sim.sunco.users.get(p.userId)),
          switchboard: sim.switchboardState(c.id),
          switchboardLog: c.switchboardLog,
          ticket: sim.ticketOf(c.id),
          messages: c.messages.map(messageJson),
        };
      };

      r.get('/state', async () => ({
        credentials: sim.credentials,
        sunco: {
          users: [...sim.sunco.users.values()],
          conversations: [...sim.sunco.conversations.keys()].map(conversationView),
          tickets: sim.messagingTickets,
        },
        support: {
          users: [...sim.support.users.values()].map((u) => userJson(sim.support, u)),
          tickets: [...sim.support.tickets.values()].map((t) => ({
            ...ticketJson(sim.support, t),
            comments: t.comments.map((c) => commentJson(sim.support, c)),
          })),
        },
      }));
      r.get('/deliveries', async () => ({ sunco: sim.suncoDeliveries, support: sim.supportDeliveries }));

      // ── messaging route: the Agent Workspace agent ──
      r.get<{ Params: { id: string } }>('/sc/conversations/:id', async (req, reply) => {
        const id = conversationId(req.params.id);
        const view = id !== undefined ? conversationView(id) : undefined;
        return view ?? reply.code(404).send({ error: 'unknown conversation' });
      });
      /** `{text}` or `{mediaUrl, mediaType?, name?, text?}`. */
      r.post<{ Params: { id: string } }>('/sc/conversations/:id/reply', async (req, reply) => {
        const b = parse(req.body);
        const id = conversationId(req.params.id);
        if (!b) return reply.code(400).send({ error: 'body must be JSON: {"text": "…"} or {"mediaUrl": "…"}' });
        if (id === undefined) return reply.code(404).send({ error: 'no conversation yet' });
        if (typeof b['mediaUrl'] === 'string') {
          const media = {
            mediaUrl: b['mediaUrl'],
            ...(typeof b['mediaType'] === 'string' ? { mediaType: b['mediaType'] } : {}),
            ...(typeof b['name'] === 'string' ? { name: b['name'] } : {}),
            ...(typeof b['text'] === 'string' ? { text: b['text'] } : {}),
          };
          return act(reply, () => sim.agentReply(id, media));
        }
        if (typeof b['text'] !== 'string') return reply.code(400).send({ error: 'body must be {"text": "…"} or {"mediaUrl": "…"}' });
        const text = b['text'];
        return act(reply, () => sim.agentReply(id, text));
      });
      /** `{on: true|false}`. */
      r.post<{ Params: { id: string } }>('/sc/conversations/:id/typing', async (req, reply) => {
        const b = parse(req.body);
        const id = conversationId(req.params.id);
        if (typeof b?.['on'] !== 'boolean') return reply.code(400).send({ error: 'body must be {"on": true|false}' });
        if (id === undefined) return reply.code(404).send({ error: 'no conversation yet' });
        const on = b['on'];
        return act(reply, () => sim.agentTyping(id, on));
      });
      for (const [path, fn] of [
        ['solve', (id: string) => sim.solveTicket(id)],
        ['close', (id: string) => sim.closeTicket(id)],
        ['end-session', (id: string) => sim.endSession(id)],
      ] as const) {
        r.post<{ Params: { id: string } }>(`/sc/conversations/:id/${path}`, async (req, reply) => {
          const id = conversationId(req.params.id);
          if (id === undefined) return reply.code(404).send({ error: 'no conversation yet' });
          return act(reply, () => fn(id));
        });
      }

      // ── ticket route: the Support agent ──
      r.get<{ Params: { id: string } }>('/support/tickets/:id', async (req, reply) => {
        const id = ticketId(req.params.id);
        const t = id !== undefined ? sim.ticket(id) : undefined;
        return t
          ? { ...ticketJson(sim.support, t), comments: t.comments.map((c) => commentJson(sim.support, c)) }
          : reply.code(404).send({ error: 'unknown ticket' });
      });
      /** `{text, public?, html?, status?}`; `public: false` is an internal note. */
      r.post<{ Params: { id: string } }>('/support/tickets/:id/comments', async (req, reply) => {
        const b = parse(req.body);
        const id = ticketId(req.params.id);
        if (typeof b?.['text'] !== 'string') return reply.code(400).send({ error: 'body must be {"text": "…", "public"?: boolean}' });
        if (id === undefined || Number.isNaN(id)) return reply.code(404).send({ error: 'no ticket yet' });
        const text = b['text'];
        const opts = {
          ...(typeof b['public'] === 'boolean' ? { public: b['public'] } : {}),
          ...(typeof b['html'] === 'string' ? { html: b['html'] } : {}),
          ...(typeof b['status'] === 'string' && STATUSES.has(b['status']) ? { status: b['status'] as TicketStatus } : {}),
        };
        return act(reply, () => commentJson(sim.support, sim.agentComment(id, text, opts)));
      });
      /** `{status}`. */
      r.post<{ Params: { id: string } }>('/support/tickets/:id/status', async (req, reply) => {
        const b = parse(req.body);
        const id = ticketId(req.params.id);
        const status = b?.['status'];
        if (typeof status !== 'string' || !STATUSES.has(status))
          return reply.code(400).send({ error: 'body must be {"status": "open|pending|hold|solved|closed"}' });
        if (id === undefined || Number.isNaN(id)) return reply.code(404).send({ error: 'no ticket yet' });
        return act(reply, () => ticketJson(sim.support, sim.setStatus(id, status as TicketStatus)));
      });
    },
    { prefix: '/_sim' },
  );
}
