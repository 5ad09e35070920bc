/**
 * The bare relay: the yardstick of `npm run bench` (DESIGN §9). The same hops and the same HTTP as
 * the service, and nothing else: no store, no queue, no retries, no attendance state.
 *
 *   POST /blip/{bot}/messages       Bearer token, JSON parsed, 202 at once; then the customer.message
 *                                   POSTed to the tool (Standard Webhooks signed) and, when the tool
 *                                   took it, a `consumed` notification to Blip, as the service does.
 *   POST /helpdesk/{bot}/webhook    signature verified on the raw body, JSON parsed, 202; then the
 *                                   agent's text POSTed to Blip /messages to the tunnel (Key auth).
 *
 * The attendance id given to the tool is the tunnel address itself (nothing is opened). Fastify
 * with raw-body parsing in, the service's own HttpClient (undici, same pool settings) out.
 * Configured by environment: PORT, BOT, BLIP_URL, TOOL_URL, SECRET, INBOUND_TOKEN, IDENTIFIER,
 * ACCESS_KEY.
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { Webhook } from 'standardwebhooks';
import { blipKey } from '../src/blip/client.js';
import { HttpClient } from '../src/delivery/http.js';

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`relay: ${k} is not set`);
  return v;
};
const port = Number(env('PORT'));
const bot = env('BOT');
const blipUrl = env('BLIP_URL');
const toolUrl = env('TOOL_URL');
const inbound = `Bearer ${env('INBOUND_TOKEN')}`;
const auth = `Key ${blipKey(env('IDENTIFIER'), env('ACCESS_KEY'))}`;
const wh = new Webhook(env('SECRET'));
const http = new HttpClient(10_000);
const stats = { toTool: 0, toBlip: 0, failed: 0 };

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

app.get('/readyz', async () => ({ status: 'ready', ...stats }));

app.post<{ Params: { bot: string } }>('/blip/:bot/messages', async (req, reply) => {
  if (req.params.bot !== bot) return reply.code(404).send({ code: 'BRIDGE_ERR_UNKNOWN_BOT' });
  if (req.headers.authorization !== inbound) return reply.code(401).send({ code: 'BRIDGE_ERR_UNAUTHORIZED' });
  const env = JSON.parse((req.body as Buffer).toString('utf8')) as { id?: string; from?: string; type?: string; content?: unknown };
  if (typeof env.from !== 'string' || typeof env.type !== 'string') return reply.code(400).send({ code: 'BRIDGE_ERR_INVALID_ENVELOPE' });
  void forwardToTool(env as { id?: string; from: string; content?: unknown });
  return reply.code(202).send({ outcome: 'accepted' });
});

app.post<{ Params: { bot: string } }>('/helpdesk/:bot/webhook', async (req, reply) => {
  if (req.params.bot !== bot) return reply.code(404).send({ code: 'BRIDGE_ERR_UNKNOWN_BOT' });
  const raw = (req.body as Buffer).toString('utf8');
  const h = req.headers as Record<string, string>;
  try {
    wh.verify(raw, { 'webhook-id': h['webhook-id']!, 'webhook-timestamp': h['webhook-timestamp']!, 'webhook-signature': h['webhook-signature']! }, { jsonParse: false });
  } catch {
    return reply.code(401).send({ code: 'BRIDGE_ERR_BAD_SIGNATURE' });
  }
  const ev = JSON.parse(raw) as { type?: string; data?: { attendanceId?: string; message?: { content?: { text?: string } } } };
  if (ev.type !== 'agent.message' || typeof ev.data?.attendanceId !== 'string') return reply.code(200).send({ ignored: 'not an agent message' });
  void forwardToBlip(ev.data.attendanceId, ev.data.message?.content?.text ?? '');
  return reply.code(202).send({ accepted: 1, duplicates: 0, ignored: [] });
});

async function forwardToTool(env: { id?: string; from: string; content?: unknown }): Promise<void> {
  const id = env.id ?? randomUUID();
  const now = new Date();
  const at = now.toISOString();
  const body = JSON.stringify({ type: 'customer.message', timestamp: at, data: { attendanceId: env.from, message: { id, at, content: { type: 'text', text: String(env.content) } } } });
  const webhookId = `msg_${id}`;
  try {
    await http.send({
      method: 'POST',
      url: toolUrl,
      body,
      headers: { 'content-type': 'application/json', 'webhook-id': webhookId, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': wh.sign(webhookId, now, body) },
    });
    stats.toTool++;
    if (env.id) await http.send({ url: `${blipUrl}/notifications`, headers: { authorization: auth }, body: { id: env.id, to: env.from, event: 'consumed' } });
  } catch {
    stats.failed++;
  }
}

async function forwardToBlip(to: string, text: string): Promise<void> {
  try {
    await http.send({ url: `${blipUrl}/messages`, headers: { authorization: auth }, body: { id: randomUUID(), to, type: 'text/plain', content: text } });
    stats.toBlip++;
  } catch {
    stats.failed++;
  }
}

await app.listen({ port, host: '127.0.0.1' });
const stop = () => void app.close().then(() => http.close()).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
