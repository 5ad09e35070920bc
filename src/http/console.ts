/**
 * The web console (README, "The console"): its page and assets at /console (built from console/
 * by `npm run build`, into dist/console), its login at /console/session, and what it needs beyond
 * the admin API: each bot's checks, backlog and metrics, and an attendance's bot transcript. The
 * console reads everything else through /admin/* with its session cookie (http/session.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Bridge } from '../core/bridge.js';
import type { TranscriptEntry } from '../helpdesks/adapter.js';
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

const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/**
 * Scripts and styles from this origin only; pictures also from the media hosts customers' and
 * agents' attachments live on; the page cannot be framed (clickjacking of the replay buttons).
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The build output, found from this file whether it runs from src/ (tests) or dist/src/. */
export function consoleBuildDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  // From dist/src/http the walk stops at the repository (dist/ has no package.json).
  return join(dir, 'dist', 'console');
}

function loadAssets(dir: string): Map<string, Asset> | string {
  const out = new Map<string, Asset>();
  for (const [name, type] of Object.entries(ASSETS)) {
    const path = join(dir, name);
    if (!existsSync(path)) return `the console is not built (${path} is missing): run npm run build`;
    const body = readFileSync(path);
    out.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export async function consoleRoutes(app: FastifyInstance, opts: { bridge: Bridge; metrics: Metrics; sessions: ConsoleSessions; assetsDir?: string }): Promise<void> {
  const { bridge, metrics, sessions } = opts;
  const assets = loadAssets(opts.assetsDir ?? consoleBuildDir());

  function send(reply: FastifyReply, name: string, ifNoneMatch: string | undefined) {
    if (typeof assets === 'string') throw new BridgeError('BRIDGE_ERR_NOT_READY', assets);
    const a = assets.get(name)!;
    void reply
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .header('cache-control', 'no-cache')
      .header('etag', a.etag);
    if (ifNoneMatch === a.etag) return reply.code(304).send();
    return reply.type(a.type).send(a.body);
  }

  // The page is public (it holds no data); everything it shows comes through the API after login.
  app.get('/console', async (req, reply) => send(reply, 'index.html', req.headers['if-none-match']));
  app.get('/console/', async (req, reply) => send(reply, 'index.html', req.headers['if-none-match']));
  app.get<{ Params: { name: string } }>('/console/assets/:name', async (req, reply) => {
    if (!Object.hasOwn(ASSETS, req.params.name) || req.params.name === 'index.html') throw new BridgeError('BRIDGE_ERR_NOT_FOUND', `no console asset "${req.params.name}"`);
    return send(reply, req.params.name, req.headers['if-none-match']);
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
