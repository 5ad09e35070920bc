/**
 * The web console (README, "The console"): its page and assets at /console (built from console/
 * by `npm run build`, into dist/console), its login at /console/session, and what it needs beyond
 * the admin API: each bot's checks, backlog and metrics, and an attendance's bot transcript. The
 * console reads everything else through /admin/* with its session cookie (http/session.ts).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Bridge } from '../core/bridge.js';
import type { TranscriptEntry } from '../helpdesks/adapter.js';
import { Assets } from './assets.js';
import { Validator, parseJson } from './body.js';
import { BridgeError } from './errors.js';
import type { Metrics } from './metrics.js';
import { summariseMetrics } from './metrics-summary.js';
import { CONSOLE_HEADER, setNoStore, type ConsoleSessions } from './session.js';

const Login = new Validator(Type.Object({ token: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }), 'BRIDGE_ERR_INVALID_REQUEST');
const BotId = new Validator(Type.String({ minLength: 1, maxLength: 64 }), 'BRIDGE_ERR_INVALID_REQUEST');

/** Counting beyond this many deliveries of one bot in one state only slows the page. */
const BACKLOG_CAP = 1000;
const CHECK_TIMEOUT_MS = 10_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export async function consoleRoutes(app: FastifyInstance, opts: { bridge: Bridge; metrics: Metrics; sessions: ConsoleSessions; assetsDir?: string }): Promise<void> {
  const { bridge, metrics, sessions } = opts;
  const assets = new Assets(['index.html', 'app.js', 'app.css'], opts.assetsDir);
  // The page is public (it holds no data); everything it shows comes through the API after login.
  app.get('/console', async (req, reply) => assets.send(reply, 'index.html', req.headers['if-none-match']));
  app.get('/console/', async (req, reply) => assets.send(reply, 'index.html', req.headers['if-none-match']));
  app.get<{ Params: { name: string } }>('/console/assets/:name', async (req, reply) => {
    if (req.params.name === 'index.html') throw new BridgeError('BRIDGE_ERR_NOT_FOUND', 'no console asset "index.html"');
    return assets.send(reply, req.params.name, req.headers['if-none-match']);
  });

  app.post('/console/session', async (req, reply) => {
    setNoStore(reply);
    // A login posted by another origin's page (login CSRF) lacks the header.
    if (req.headers[CONSOLE_HEADER] !== '1') throw new BridgeError('BRIDGE_ERR_UNAUTHORIZED', `log in from the console page (the ${CONSOLE_HEADER} header is missing)`);
    const body = Login.parse(parseJson(req.body));
    if (!sessions.tokenMatches(body.token)) throw new BridgeError('BRIDGE_ERR_UNAUTHORIZED', 'this is not the admin token (server.adminToken)');
    const s = sessions.issue();
    return reply.header('set-cookie', s.cookie).send({ expiresAt: new Date(s.expiresAt).toISOString() });
  });
  app.get('/console/session', async (req, reply) => {
    setNoStore(reply);
    const expires = sessions.sessionOf(req);
    if (expires === undefined) throw new BridgeError('BRIDGE_ERR_UNAUTHORIZED', 'not logged in, or the session has expired');
    return { expiresAt: new Date(expires).toISOString(), bots: [...bridge.bots.keys()] };
  });
  app.delete('/console/session', async (req, reply) => {
    if (req.headers[CONSOLE_HEADER] !== '1') throw new BridgeError('BRIDGE_ERR_UNAUTHORIZED', `log out from the console page (the ${CONSOLE_HEADER} header is missing)`);
    return reply.header('set-cookie', sessions.cleared()).code(204).send();
  });

  await app.register(async (admin) => {
    admin.addHook('onRequest', async (req) => sessions.authorize(req));

    admin.get('/admin/bots', async () => {
      const [open, series] = await Promise.all([bridge.store.countOpenAttendances(), metrics.registry.getMetricsAsJSON()]);
      const summary = summariseMetrics(series, [...bridge.bots.keys()]);
      const bots = [];
      for (const [id, rt] of bridge.bots) {
        const [pending, dead] = await Promise.all(
          (['pending', 'dead'] as const).map(async (state) => (await bridge.store.listDeliveries({ state, bot: id, limit: BACKLOG_CAP })).length),
        );
        bots.push({
          id,
          helpdesk: rt.config.helpdesk.type,
          blip: { identifier: rt.config.blip.identifier, baseUrl: rt.config.blip.baseUrl },
          attendances: Object.fromEntries(open.filter((r) => r.bot_id === id).map((r) => [r.state, r.n])),
          backlog: { pending, dead, cappedAt: BACKLOG_CAP },
          metrics: summary.perBot.get(id) ?? [],
        });
      }
      return { bots, service: { metrics: summary.service, latency: summary.latency } };
    });

    admin.post<{ Params: { id: string } }>('/admin/bots/:id/check', async (req) => {
      const rt = bridge.bot(BotId.parse(req.params.id));
      const run = (p: () => Promise<{ ok: boolean; detail: string }>, what: string) =>
        withTimeout(p(), CHECK_TIMEOUT_MS, what).catch((e: Error) => ({ ok: false, detail: e.message }));
      const [blip, helpdesk] = await Promise.all([run(() => rt.blip.check(), 'Blip'), run(() => rt.adapter.check(), rt.config.helpdesk.type)]);
      return { bot: rt.config.id, checkedAt: new Date().toISOString(), blip, helpdesk: { type: rt.config.helpdesk.type, ...helpdesk } };
    });

    admin.get<{ Params: { id: string } }>('/admin/attendances/:id/transcript', async (req) => {
      const a = await bridge.store.attendance(req.params.id);
      if (!a) throw new BridgeError('BRIDGE_ERR_UNKNOWN_ATTENDANCE', req.params.id);
      return { transcript: a.transcript ? (JSON.parse(a.transcript) as TranscriptEntry[]) : null };
    });
  });
}
