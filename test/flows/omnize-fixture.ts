/**
 * Omnize / Zenvia Chat (`type: omnize`) as the flow suites see it: the OmnizeSimulator plays the
 * account and its agents (queue, accept, reply, finish) and sends its triggers, unsigned, to the
 * trigger URL with our `?secret=`, as Omnize does (specs/omnize/interactions.md "Triggers").
 *
 * `external_history` needs `server.publicUrl`, which the shared world does not set (the bridge's
 * port is known only once it listens). `startPublicUrl()` gives a fixed loopback URL that forwards
 * to the bridge once it is up, for worlds that pass it as `server.publicUrl`; without it the adapter
 * posts the transcript as the interaction's first message, and the driver reads it from there.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { OmnizeSimulator, type OmnizeSimulatorOptions, type SimInteraction } from '../../simulators/omnize/index.js';
import { TRANSCRIPT_HEADER } from '../../src/helpdesks/omnize/index.js';
import { until } from '../helpers/harness.js';
import type { HelpdeskFixture } from './world.js';

export const OMNIZE_TOKEN = 'omnize-flow-token-0123';
export const OMNIZE_SECRET = 'omnize-trigger-secret-0123456789';
/** interactions.md "Start interaction" example department; the simulator's default. */
export const OMNIZE_DEPARTMENT = 9999;
export const EXTRA_KEY = 'bridgeAttendanceId';

export interface OmnizeFixtureOptions {
  sim?: Partial<OmnizeSimulatorOptions>;
  /** Spread into the bot's `helpdesk:` config. */
  helpdesk?: Record<string, unknown>;
}

export interface OmnizeFixture extends HelpdeskFixture {
  readonly sim: OmnizeSimulator;
  /** The trigger URL on the bridge, with the secret, once connected. */
  readonly webhookUrl: string;
  /** The interaction of a customer (matched by the phone the adapter takes from a WhatsApp originator). */
  interactionOf(originator: string): SimInteraction | undefined;
}

/** A customer message that is the adapter's transcript fallback, not something the customer typed. */
export const isTranscriptMessage = (content: string): boolean => content.startsWith(TRANSCRIPT_HEADER);

/**
 * A loopback URL to use as `server.publicUrl` before the bridge listens: it forwards every request
 * to `target` once set.
 */
export async function startPublicUrl(): Promise<{ url: string; setTarget(url: string): void; stop(): Promise<void> }> {
  let target: URL | undefined;
  const server: Server = createServer((req, res) => {
    if (!target) {
      res.writeHead(503).end('bridge not connected yet');
      return;
    }
    const up = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setTarget(url) {
      target = new URL(url);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function omnizeFixture(options: OmnizeFixtureOptions = {}): OmnizeFixture {
  const sim = new OmnizeSimulator({ tokens: [OMNIZE_TOKEN], ...options.sim });
  let webhookUrl: string | undefined;

  const interactionOf = (originator: string): SimInteraction | undefined => {
    const phone = originator.split('@')[0];
    return sim.interactions().find((i) => i.customer?.phone === phone);
  };

  const delivered = (status: number | undefined, what: string): void => {
    if (status === undefined || status < 200 || status >= 300) throw new Error(`the bridge answered ${status ?? 'nothing'} to the ${what} trigger`);
  };

  return {
    name: 'omnize',
    sim,
    interactionOf,
    get webhookUrl() {
      if (!webhookUrl) throw new Error('omnize fixture: not connected');
      return webhookUrl;
    },
    async start() {
      await sim.start();
      return {
        type: 'omnize',
        baseUrl: sim.apiUrl,
        token: OMNIZE_TOKEN,
        departmentId: OMNIZE_DEPARTMENT,
        webhookSecret: OMNIZE_SECRET,
        timeoutMs: 3_000,
        ...options.helpdesk,
      };
    },
    connect(url, bot) {
      webhookUrl = `${url}/helpdesk/${bot}/webhook?secret=${OMNIZE_SECRET}`;
      sim.setWebhookUrl(webhookUrl);
    },
    driver: {
      async waitOpened(originator) {
        // Open is done (the bridge knows the interaction_hash) once a customer message came after it.
        const i = await until(
          () => {
            const x = interactionOf(originator);
            return x?.messages.some((m) => m.direction === 'customer' && !isTranscriptMessage(m.content)) ? x : undefined;
          },
          10_000,
          `the Omnize interaction of ${originator}`,
        );
        let transcript: string[];
        if (i.externalHistory) {
          // What the agent sees: the history Omnize fetched from the bridge.
          const h = await sim.waitFor((s) => s.interaction(i.hash)?.history[0]);
          transcript = h.messages?.map((m) => m.content) ?? [];
        } else {
          transcript = i.messages.find((m) => m.direction === 'customer' && isTranscriptMessage(m.content))?.content.split('\n') ?? [];
        }
        return { key: i.hash, ...(i.customer?.name ? { customerName: i.customer.name } : {}), transcript };
      },
      customerTexts(key) {
        return (sim.interaction(key)?.messages ?? []).filter((m) => m.direction === 'customer' && !isTranscriptMessage(m.content)).map((m) => m.content);
      },
      async reply(key, text) {
        if (sim.interaction(key)?.state !== 'accepted') delivered((await sim.accept(key)).delivery?.status, 'accepted');
        delivered((await sim.agentMessage(key, text)).delivery?.status, 'agent message');
      },
      async end(key) {
        delivered((await sim.finish(key)).delivery?.status, 'finished');
      },
      async waitClosedByBridge(key) {
        // PUT /finish by the bridge, with the reason in the interaction's note (Update interaction) first.
        const i = await until(() => {
          const x = sim.interaction(key);
          return x?.finished?.by === 'api' ? x : undefined;
        }, 10_000, `the finish of interaction ${key}`);
        if (!i.note) throw new Error(`omnize: interaction ${key} was finished with no note`);
        return { note: i.note };
      },
      async redeliverLastWebhook() {
        return (await sim.redeliver()).status;
      },
      async forgedWebhook() {
        if (!webhookUrl) throw new Error('omnize fixture: not connected');
        const i = sim.interaction('latest');
        const body = JSON.stringify({
          interaction_hash: i?.hash ?? '322e458c-540c-4c11-ab5c-d38d39f57213',
          message: { hash: '3110a5da-87c7-4f6d-a4ab-2b1ed5edfd46', content: 'forged', type: 'text', url: null },
          agent: { id: 111, name: 'Mallory' },
          extra: i?.extra ?? {},
        });
        const res = await request(webhookUrl.replace(`secret=${OMNIZE_SECRET}`, 'secret=not-the-secret-0123456789'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        await res.body.dump();
        return res.statusCode;
      },
    },
    async stop() {
      await sim.stop();
    },
  };
}
