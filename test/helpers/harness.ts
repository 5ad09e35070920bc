/**
 * One conversation's world on loopback: the Blip simulator, the custom-tool simulator and the real
 * service between them, over real HTTP. Tests read like the conversation (DESIGN §8).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { BlipSimulator } from '../../simulators/blip/index.js';
import { WebhookToolSimulator } from '../../simulators/webhook-tool/index.js';
import { buildApp, type BridgeApp } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { Clock } from '../../src/core/context.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export const BOT = 'acme';
export const IDENTIFIER = 'acmehuman';
export const ACCESS_KEY = Buffer.from('acme-secret-key').toString('base64');
export const ROUTER = 'acmerouter';
export const INBOUND_TOKEN = 'inbound-token-0123456789';
export const ADMIN_TOKEN = 'admin-token-0123456789';
export const TOOL_SECRET = `whsec_${Buffer.from('a-tool-secret-of-at-least-24-bytes!!').toString('base64')}`;

export interface HarnessOptions {
  /** Deep-merged into the bot's config. */
  bot?: Record<string, unknown>;
  delivery?: Record<string, unknown>;
  storePath?: string;
  /** A whole store.url; wins over storePath. */
  storeUrl?: string;
  notifyDispatched?: boolean;
  /** The lifecycle's clock (test/helpers/clock.ts). */
  clock?: Clock;
}

export interface Harness {
  blip: BlipSimulator;
  tool: WebhookToolSimulator;
  bridge: BridgeApp;
  url: string;
  config: Config;
  dir: string;
  /** The raw config object, for writing a bridge.yaml (e2e tests). */
  raw: Record<string, unknown>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string }>;
  admin(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!b) return a;
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export async function startSimulators(opts: HarnessOptions = {}) {
  const blip = new BlipSimulator({
    bots: [{ identifier: IDENTIFIER, accessKey: ACCESS_KEY, router: ROUTER, service: 'human' }],
    notifyDispatched: opts.notifyDispatched ?? false,
  });
  const blipUrl = await blip.start();
  const tool = new WebhookToolSimulator({ secret: TOOL_SECRET });
  const toolUrl = await tool.start();
  return { blip, blipUrl, tool, toolUrl };
}

export function rawConfig(blipUrl: string, toolUrl: string, dir: string, opts: HarnessOptions = {}): Record<string, unknown> {
  return {
    server: { port: 0, host: '127.0.0.1', adminToken: ADMIN_TOKEN },
    store: { url: opts.storeUrl ?? `sqlite:${opts.storePath ?? join(dir, 'bridge.db')}` },
    log: { level: 'silent' },
    delivery: merge({ baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 5, pollIntervalMs: 50, timeoutMs: 2000 }, opts.delivery),
    bots: [
      merge(
        {
          id: BOT,
          blip: { identifier: IDENTIFIER, accessKey: ACCESS_KEY, baseUrl: blipUrl, inboundToken: INBOUND_TOKEN, messagesPerSecond: 1000 },
          helpdesk: { type: 'webhook', url: `${toolUrl}/bridge`, secret: TOOL_SECRET },
          attendance: { transcriptMessages: 5 },
        },
        opts.bot,
      ),
    ],
  };
}

/**
 * TEST_STORE=postgres runs the same suites on a fresh PostgreSQL database per harness; SQLite in a
 * temp dir is the default.
 */
async function testStore(opts: HarnessOptions): Promise<TestDatabase | undefined> {
  const engine = process.env['TEST_STORE'] ?? 'sqlite';
  if (engine !== 'sqlite' && engine !== 'postgres') throw new Error(`TEST_STORE must be sqlite or postgres, got "${engine}"`);
  if (engine === 'sqlite' || opts.storeUrl !== undefined || opts.storePath !== undefined) return undefined;
  return createTestDatabase();
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-test-'));
  const database = await testStore(opts);
  const { blip, blipUrl, tool, toolUrl } = await startSimulators(opts);
  const raw = rawConfig(blipUrl, toolUrl, dir, database ? { ...opts, storeUrl: database.url } : opts);
  const config = parseConfig(raw, 'test');
  const bridge = await buildApp(config, { logger: pino({ level: process.env['TEST_LOG'] ?? 'silent' }), ...(opts.clock ? { clock: opts.clock } : {}) });
  const url = await bridge.app.listen({ port: 0, host: '127.0.0.1' });
  blip.setBotUrls(IDENTIFIER, {
    messagesUrl: `${url}/blip/${BOT}/messages`,
    notificationsUrl: `${url}/blip/${BOT}/notifications`,
    headers: { authorization: `Bearer ${INBOUND_TOKEN}` },
  });
  tool.setBridgeWebhookUrl(`${url}/helpdesk/${BOT}/webhook`);

  async function call(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await request(`${url}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.statusCode, body: parsed as any, text };
  }

  return {
    blip,
    tool,
    bridge,
    url,
    config,
    dir,
    raw,
    post: (path, body, headers) => call('POST', path, body, headers),
    get: (path, headers) => call('GET', path, undefined, headers),
    admin: (method, path, body) => call(method, path, body, { authorization: `Bearer ${ADMIN_TOKEN}` }),
    async stop() {
      await bridge.close();
      await blip.stop();
      await tool.stop();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Polls until `fn` holds. The default budget is generous on purpose (as the simulators' waitFor):
 * a wait ends as soon as its condition holds, so the budget only matters on a loaded machine.
 */
export async function until<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
