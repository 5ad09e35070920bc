/**
 * The shared flow suite's world: the Blip simulator, one helpdesk (through a fixture that knows
 * its simulator) and the real service between them. Each adapter passes the same flows
 * (DESIGN §8: "Each adapter passes the same shared flow suite").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { BlipSimulator } from '../../simulators/blip/index.js';
import { buildApp, type BridgeApp } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/core/context.js';
import { ACCESS_KEY, ADMIN_TOKEN, BOT, IDENTIFIER, INBOUND_TOKEN, ROUTER } from '../helpers/harness.js';

/** What a test can make the agent do and see, whatever the helpdesk. */
export interface AgentDriver {
  /** Waits until the helpdesk has the customer's attendance; `key` names it in the other calls. */
  waitOpened(originator: string): Promise<{ key: string; customerName?: string; transcript: string[] }>;
  /** What the agent sees of the customer's messages so far, in order, as text. */
  customerTexts(key: string): string[];
  reply(key: string, text: string): Promise<void>;
  end(key: string): Promise<void>;
  /** Sends the helpdesk's last webhook to the bridge again, byte for byte; returns the status. */
  redeliverLastWebhook(): Promise<number>;
  /** Sends a webhook with a wrong signature; returns the status. */
  forgedWebhook(): Promise<number>;
  /**
   * Resolves when the helpdesk shows that the bridge ended the attendance (a timer, an operator),
   * the way that helpdesk shows such a close (ticket solved, conversation closed, session ended…),
   * with the note the agent reads (it names the close reason).
   */
  waitClosedByBridge?(key: string): Promise<{ note: string }>;
}

export interface HelpdeskFixture {
  name: string;
  /** Starts the helpdesk simulator; returns the bot's `helpdesk:` config. */
  start(): Promise<Record<string, unknown>>;
  /** The bridge is up: point the simulator's webhooks at it. */
  connect(bridgeUrl: string, bot: string): void;
  driver: AgentDriver;
  stop(): Promise<void>;
}

export interface FlowWorld {
  blip: BlipSimulator;
  bridge: BridgeApp;
  url: string;
  helpdesk: HelpdeskFixture;
  admin(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export interface WorldOptions {
  /** Spread into the bot's config (top-level keys of `bots[0]`). */
  bot?: Record<string, unknown>;
  /** Spread into `delivery` (e.g. maxAttempts for a 429 storm). */
  delivery?: Record<string, unknown>;
  /** Other top-level config keys, e.g. `media: { allowedHosts: ['127.0.0.1'] }` for adapters that download attachments. */
  config?: Record<string, unknown>;
  /** The lifecycle's clock (test/helpers/clock.ts). */
  clock?: Clock;
}

export async function startWorld(helpdesk: HelpdeskFixture, opts: WorldOptions = {}): Promise<FlowWorld> {
  const dir = mkdtempSync(join(tmpdir(), `bridge-flow-${helpdesk.name}-`));
  const blip = new BlipSimulator({ bots: [{ identifier: IDENTIFIER, accessKey: ACCESS_KEY, router: ROUTER, service: 'human' }] });
  const blipUrl = await blip.start();
  const helpdeskConfig = await helpdesk.start();
  const config = parseConfig(
    {
      server: { port: 0, host: '127.0.0.1', adminToken: ADMIN_TOKEN },
      store: { url: `sqlite:${join(dir, 'bridge.db')}` },
      log: { level: 'silent' },
      delivery: { baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 20, pollIntervalMs: 50, timeoutMs: 3000, ...opts.delivery },
      bots: [
        {
          id: BOT,
          blip: { identifier: IDENTIFIER, accessKey: ACCESS_KEY, baseUrl: blipUrl, inboundToken: INBOUND_TOKEN, messagesPerSecond: 1000, returnTo: 'principal' },
          helpdesk: helpdeskConfig,
          attendance: { transcriptMessages: 10, messages: { closed: 'Goodbye!' } },
          ...opts.bot,
        },
      ],
      ...opts.config,
    },
    `flow:${helpdesk.name}`,
  );
  const bridge = await buildApp(config, { logger: pino({ level: process.env['TEST_LOG'] ?? 'silent' }), ...(opts.clock ? { clock: opts.clock } : {}) });
  const url = await bridge.app.listen({ port: 0, host: '127.0.0.1' });
  blip.setBotUrls(IDENTIFIER, {
    messagesUrl: `${url}/blip/${BOT}/messages`,
    notificationsUrl: `${url}/blip/${BOT}/notifications`,
    headers: { authorization: `Bearer ${INBOUND_TOKEN}` },
  });
  helpdesk.connect(url, BOT);
  return {
    blip,
    bridge,
    url,
    helpdesk,
    async admin(method, path, body) {
      const res = await request(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? null : JSON.stringify(body),
      });
      const text = await res.body.text();
      return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
    },
    async stop() {
      await bridge.close();
      await blip.stop();
      await helpdesk.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
