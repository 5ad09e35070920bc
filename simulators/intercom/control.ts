/**
 * `/_sim/*`: HTTP controls so a person (or the sandbox UI) can act as the agents in the Inbox,
 * look at the workspace, break things, and fetch hosted attachments. Unauthenticated by design,
 * hence loopback only. `:id` may be `latest` (the conversation created most recently).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { IntercomSimulator } from './index.js';
import type { AdminAttachment, WebhookTopic } from './types.js';
import { isObject } from './validate.js';
import { loopbackOnly, registerFaultRoutes, controlBody as json, nonEmpty as str } from '../common/control.js';

export function registerControlRoutes(app: FastifyInstance, sim: IntercomSimulator): void {
  app.register(
    async (r) => {
      loopbackOnly(r);

      /** Runs an admin action, mapping "unknown conversation/admin" to 404 and bad input to 400. */
      const act = async (reply: FastifyReply, run: () => Promise<unknown>) => {
        try {
          return await run();
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          return reply.code(/unknown/.test(message) ? 404 : 400).send({ error: message });
        }
      };
      const text = (b: Record<string, unknown>) => str(b['html']) ?? str(b['text']);

      r.get('/state', async () => ({
        webhookUrl: sim.webhookUrl ?? null,
        contacts: sim.contacts,
        conversations: sim.conversations(),
        notifications: sim.notifications.map(({ payload: _payload, ...n }) => n),
      }));
      r.get('/requests', async () => sim.requests);

      /** Body `{html}` or `{text}` (Inbox HTML is made from text), optional `adminId`, `close`, `attachments: [{name, contentType, url | base64}]`. */
      r.post<{ Params: { id: string } }>('/conversations/:id/admin-reply', async (req, reply) => {
        const b = json(req.body);
        const body = b && text(b);
        if (!b || !body) return reply.code(400).send({ error: 'body must be {"html": "…"} or {"text": "…"}' });
        const attachments: AdminAttachment[] = [];
        for (const a of Array.isArray(b['attachments']) ? b['attachments'] : []) {
          if (!isObject(a) || !str(a['name']) || !str(a['contentType']) || (!str(a['url']) && !str(a['base64']))) {
            return reply.code(400).send({ error: 'attachments: [{name, contentType, url | base64}]' });
          }
          attachments.push({
            name: a['name'] as string,
            contentType: a['contentType'] as string,
            ...(str(a['url']) ? { url: a['url'] as string } : { data: Buffer.from(a['base64'] as string, 'base64') }),
          });
        }
        const adminId = str(b['adminId']);
        return act(reply, () => sim.adminReply(req.params.id, body, { ...(adminId ? { adminId } : {}), attachments, close: b['close'] === true }));
      });

      r.post<{ Params: { id: string } }>('/conversations/:id/note', async (req, reply) => {
        const b = json(req.body);
        const body = b && text(b);
        if (!b || !body) return reply.code(400).send({ error: 'body must be {"html": "…"} or {"text": "…"}' });
        const adminId = str(b['adminId']);
        return act(reply, () => sim.adminNote(req.params.id, body, adminId ? { adminId } : {}));
      });

      /** Body `{assigneeId, team?, adminId?}`. */
      r.post<{ Params: { id: string } }>('/conversations/:id/assign', async (req, reply) => {
        const b = json(req.body);
        const assigneeId = b && str(b['assigneeId']);
        if (!b || !assigneeId) return reply.code(400).send({ error: 'body must be {"assigneeId": "…"}' });
        const adminId = str(b['adminId']);
        return act(reply, () => sim.assign(req.params.id, assigneeId, { ...(adminId ? { adminId } : {}), team: b['team'] === true }));
      });

      /** Body `{html?, text?, adminId?}`. */
      r.post<{ Params: { id: string } }>('/conversations/:id/close', async (req, reply) => {
        const b = json(req.body);
        if (!b) return reply.code(400).send({ error: 'body must be a JSON object' });
        const adminId = str(b['adminId']);
        const html = text(b);
        return act(reply, () => sim.close(req.params.id, { ...(adminId ? { adminId } : {}), ...(html ? { html } : {}) }));
      });

      /** Body `{until?: unix seconds, adminId?}`. */
      r.post<{ Params: { id: string } }>('/conversations/:id/snooze', async (req, reply) => {
        const b = json(req.body);
        if (!b) return reply.code(400).send({ error: 'body must be a JSON object' });
        const adminId = str(b['adminId']);
        const until = typeof b['until'] === 'number' ? b['until'] : undefined;
        return act(reply, () => sim.snooze(req.params.id, { ...(adminId ? { adminId } : {}), ...(until !== undefined ? { until } : {}) }));
      });

      r.post<{ Params: { id: string } }>('/conversations/:id/open', async (req, reply) => {
        const b = json(req.body);
        if (!b) return reply.code(400).send({ error: 'body must be a JSON object' });
        const adminId = str(b['adminId']);
        return act(reply, () => sim.open(req.params.id, adminId ? { adminId } : {}));
      });

      /** Body `{url, topics?, ping?}`; `{url: null}` removes the subscription. */
      r.post('/webhook', async (req, reply) => {
        const b = json(req.body);
        if (!b || (b['url'] !== null && !str(b['url'])))
          return reply.code(400).send({ error: 'body must be {"url": "…"|null, "topics"?: [...], "ping"?: bool}' });
        const topics = Array.isArray(b['topics']) ? (b['topics'] as WebhookTopic[]) : undefined;
        const attempt = await sim.setWebhook(str(b['url']), { ...(topics ? { topics } : {}), ping: b['ping'] !== false });
        return { webhookUrl: sim.webhookUrl ?? null, ping: attempt ?? null };
      });
      r.post('/webhook/ping', async () => ({ ping: (await sim.ping()) ?? null }));

      registerFaultRoutes(r, sim);

      /** Attachments the simulator hosts (Inbox uploads, `attachment_files`). */
      r.get<{ Params: { id: string; name: string } }>('/files/:id/:name', async (req, reply) => {
        const f = sim.file(req.params.id);
        if (!f) return reply.code(404).send({ error: 'no such file' });
        return reply.type(f.contentType).send(f.data);
      });
    },
    { prefix: '/_sim' },
  );
}
