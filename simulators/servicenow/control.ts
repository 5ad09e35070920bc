/**
 * `/_sim/*`: HTTP controls so a person (or the sandbox UI) can act as a live agent in Agent Chat,
 * look at the instance, and break things. Unauthenticated by design, hence loopback only. `:id` is
 * a conversation sys_id or `latest`. Not affected by `setDown`/`failNext`/latency.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AgentMessageInput, ServiceNowSimulator } from './index.js';
import type { CloseSignal, PickerOption } from './types.js';
import { isObject } from './validate.js';
import { loopbackOnly, registerFaultRoutes, controlBody as json, nonEmpty as str } from '../common/control.js';

const SIGNALS: readonly CloseSignal[] = ['system', 'switchToVirtualAgent', 'completed', 'takeControl'];

/** `{text}` | `{image, altText?}` | `{link, label, header?}` | `{card: {templateName, data}}` | `{picker: {label, options, style?}}` | `{item}`. */
function agentInput(b: Record<string, unknown>): AgentMessageInput | undefined {
  if (str(b['text'])) return b['text'] as string;
  if (str(b['image'])) return { image: b['image'] as string, ...(str(b['altText']) ? { altText: b['altText'] as string } : {}) };
  if (str(b['link']) && str(b['label'])) return { link: b['link'] as string, label: b['label'] as string, ...(str(b['header']) ? { header: b['header'] as string } : {}) };
  const card = b['card'];
  if (isObject(card) && str(card['templateName'])) return { card: { templateName: card['templateName'] as string, data: card['data'] } };
  const p = b['picker'];
  if (isObject(p) && str(p['label']) && Array.isArray(p['options'])) {
    const options = (p['options'] as unknown[]).filter((o): o is PickerOption => isObject(o) && typeof o['label'] === 'string' && typeof o['value'] === 'string');
    if (options.length === 0) return undefined;
    return { picker: { label: p['label'] as string, options, ...(p['style'] === 'carousel' ? { style: 'carousel' as const } : {}) } };
  }
  const item = b['item'];
  if (isObject(item) && str(item['uiType'])) return { item: item as never };
  return undefined;
}

export function registerControlRoutes(app: FastifyInstance, sim: ServiceNowSimulator): void {
  app.register(
    async (r) => {
      loopbackOnly(r);

      /** Runs an agent action: "unknown …" → 404, anything else refused → 409. */
      const act = async (reply: FastifyReply, run: () => Promise<unknown>) => {
        try {
          return await run();
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          return reply.code(/unknown/.test(message) ? 404 : 409).send({ error: message });
        }
      };
      const idOf = (id: string) => (id === 'latest' ? (sim.latestId() ?? id) : id);

      r.get('/state', async () => ({
        responseEndpoint: sim.responseEndpoint ? { url: sim.responseEndpoint.url, headers: Object.keys(sim.responseEndpoint.headers ?? {}), auth: sim.responseEndpoint.auth?.type ?? null } : null,
        conversations: sim.conversations(),
        outbound: sim.outbound,
        media: sim.media.map(({ data, ...m }) => ({ ...m, bytes: data.length })),
      }));
      r.get('/requests', async () => sim.requests);
      r.get<{ Params: { id: string } }>('/conversations/:id', async (req, reply) => sim.conversation(req.params.id) ?? reply.code(404).send({ error: `unknown conversation ${req.params.id}` }));

      /** Body `{agentId?}` (an agent of the instance) or `{agent: {id, name, avatar?}}`. */
      r.post<{ Params: { id: string } }>('/conversations/:id/accept', async (req, reply) => {
        const b = json(req.body);
        if (!b) return reply.code(400).send({ error: 'body must be a JSON object' });
        const a = b['agent'];
        const agent =
          isObject(a) && str(a['id']) && str(a['name'])
            ? { id: a['id'] as string, name: a['name'] as string, ...(str(a['avatar']) ? { avatar: a['avatar'] as string } : {}) }
            : str(b['agentId']);
        return act(reply, () => sim.accept(idOf(req.params.id), agent));
      });
      r.post<{ Params: { id: string } }>('/conversations/:id/message', async (req, reply) => {
        const b = json(req.body);
        const input = b && agentInput(b);
        if (!input) return reply.code(400).send({ error: 'body must be {"text"} | {"image", "altText"?} | {"link", "label", "header"?} | {"card": {"templateName", "data"}} | {"picker": {"label", "options": [{"label", "value"}], "style"?}} | {"item": {…}}' });
        return act(reply, () => sim.agentMessage(idOf(req.params.id), input));
      });
      /** Body `{on: bool}` (default true). */
      r.post<{ Params: { id: string } }>('/conversations/:id/typing', async (req, reply) => {
        const b = json(req.body);
        if (!b) return reply.code(400).send({ error: 'body must be a JSON object' });
        return act(reply, () => sim.agentTyping(idOf(req.params.id), b['on'] !== false));
      });
      /** Body `{waitTime, message?}`. */
      r.post<{ Params: { id: string } }>('/conversations/:id/spinner', async (req, reply) => {
        const b = json(req.body);
        if (!b || !str(b['waitTime'])) return reply.code(400).send({ error: 'body must be {"waitTime": "…", "message"?: "…"}' });
        return act(reply, () => sim.spinner(idOf(req.params.id), b['waitTime'] as string, str(b['message'])));
      });
      /** Body `{signals?: ["system" | "switchToVirtualAgent" | "completed" | "takeControl"]}`. */
      r.post<{ Params: { id: string } }>('/conversations/:id/close', async (req, reply) => {
        const b = json(req.body);
        const signals = b?.['signals'];
        if (!b || (signals !== undefined && (!Array.isArray(signals) || !signals.every((s) => (SIGNALS as readonly unknown[]).includes(s))))) {
          return reply.code(400).send({ error: `body must be {"signals"?: [${SIGNALS.map((s) => `"${s}"`).join(' | ')}]}` });
        }
        return act(reply, () => sim.close(idOf(req.params.id), signals as CloseSignal[] | undefined));
      });

      /** Body `{url, username?, password?, token?, headers?, timeoutMs?}` or `{url: null}`. */
      r.post('/response-endpoint', async (req, reply) => {
        const b = json(req.body);
        if (!b || (b['url'] !== null && !str(b['url']))) return reply.code(400).send({ error: 'body must be {"url": "…" | null, …}' });
        try {
          if (b['url'] === null) sim.setResponseEndpoint(undefined);
          else {
            const auth = str(b['username']) && str(b['password']) ? { type: 'basic' as const, username: b['username'] as string, password: b['password'] as string } : str(b['token']) ? { type: 'bearer' as const, token: b['token'] as string } : undefined;
            const headers = isObject(b['headers']) ? Object.fromEntries(Object.entries(b['headers']).map(([k, v]) => [k, String(v)])) : undefined;
            sim.setResponseEndpoint({ url: b['url'] as string, ...(auth ? { auth } : {}), ...(headers ? { headers } : {}), ...(typeof b['timeoutMs'] === 'number' ? { timeoutMs: b['timeoutMs'] } : {}) });
          }
        } catch (e) {
          return reply.code(400).send({ error: e instanceof Error ? e.message : String(e) });
        }
        return { url: sim.responseEndpoint?.url ?? null };
      });
      /** Body `{index?}` (default: the last response sent). */
      r.post('/redeliver', async (req, reply) => {
        const b = json(req.body);
        if (!b) return reply.code(400).send({ error: 'body must be a JSON object' });
        try {
          return await sim.redeliver(typeof b['index'] === 'number' ? b['index'] : undefined);
        } catch (e) {
          return reply.code(404).send({ error: e instanceof Error ? e.message : String(e) });
        }
      });

      registerFaultRoutes(r, sim);
    },
    { prefix: '/_sim' },
  );
}
