/**
 * The sandbox: the real service wired to in-process simulators of Blip and of a helpdesk (the
 * custom tool by default, or any with a playground desk: `--helpdesk <type>` or SANDBOX_HELPDESK),
 * so a newcomer can try the whole loop in the playground page or with curl (README, "Try it").
 * Started by `npm start` when there is no bridge.yaml outside production. Ports: the service (with
 * /playground and /console) on PORT (default 8080), the Blip simulator on PORT+1, the helpdesk
 * simulator on PORT+2.
 */
import { existsSync, rmSync } from 'node:fs';
import { BlipSimulator } from '../simulators/blip/index.js';
import { buildApp, makeLogger } from './app.js';
import { DESKS } from './playground/desk.js';
import { playgroundRoutes } from './playground/routes.js';
import { shutdownOn } from './shutdown.js';
import { parseConfig } from './config/load.js';
import type { Config } from './config/schema.js';

export const SANDBOX = {
  bot: 'sandbox',
  identifier: 'sandboxhuman',
  accessKey: Buffer.from('sandbox-access-key').toString('base64'),
  router: 'sandboxrouter',
  service: 'human',
  inboundToken: 'sandbox-inbound-token',
  adminToken: 'sandbox-admin-token',
  toolSecret: `whsec_${Buffer.from('sandbox-tool-secret-32-bytes-long!!').toString('base64')}`,
  customer: '5511999990001@wa.gw.msging.net',
  store: './data/sandbox.db',
} as const;

const SANDBOX_FILES = [SANDBOX.store, `${SANDBOX.store}-wal`, `${SANDBOX.store}-shm`];

/** The helpdesk the sandbox plays: `--helpdesk <type>`, else SANDBOX_HELPDESK, else the custom tool. */
export function sandboxHelpdesk(flag: string | undefined): string {
  const type = flag ?? (process.env['SANDBOX_HELPDESK'] || 'webhook');
  if (!Object.hasOwn(DESKS, type)) throw new Error(`--helpdesk / SANDBOX_HELPDESK: the sandbox plays ${Object.keys(DESKS).join(', ')} (got ${JSON.stringify(type)})`);
  return type;
}

/**
 * The sandbox's configuration; the admin commands use it too, to read the sandbox's store when
 * there is no bridge.yaml. The simulators are on PORT+1 and PORT+2.
 */
export function sandboxConfig(
  port = sandboxPort(),
  host = '127.0.0.1',
  over: { helpdesk?: Record<string, unknown>; storeUrl?: string; blipUrl?: string; logLevel?: string } = {},
): Config {
  const helpdesk = over.helpdesk ?? { type: 'webhook', url: `http://${host}:${port + 2}/bridge`, secret: SANDBOX.toolSecret };
  return parseConfig(
    {
      server: { port, host, adminToken: SANDBOX.adminToken, publicUrl: `http://${host}:${port}` },
      store: { url: over.storeUrl ?? `sqlite:${SANDBOX.store}` },
      log: { level: over.logLevel ?? process.env['LOG_LEVEL'] ?? 'info' },
      delivery: { baseDelayMs: 200, maxAttempts: 6 },
      // The playground's picture is served by the sandbox itself; adapters that re-upload
      // customer attachments may fetch it (sandbox only: live deployments keep Blip's hosts).
      media: { allowedHosts: [host, 'blipmediastore.blob.core.windows.net', '.msging.net', '.blip.ai'] },
      bots: [
        {
          id: SANDBOX.bot,
          blip: {
            identifier: SANDBOX.identifier,
            accessKey: SANDBOX.accessKey,
            baseUrl: over.blipUrl ?? `http://${host}:${port + 1}`,
            inboundToken: SANDBOX.inboundToken,
          },
          helpdesk,
          // Short timers, so a walk-through shows them within minutes (README, "Try it").
          attendance: {
            transcriptMessages: 30,
            inactivity: { remindAfter: '1m', closeAfter: '3m' },
            waitingForAgent: { notifyAfter: '2m', handBackAfter: '10m' },
            maxDuration: '1h',
            messages: {
              opened: 'You are now talking to a person. (sandbox)',
              closed: 'Thanks for talking to us! Back to the bot now.',
              reminder: 'Are you still there? This chat closes after 3 quiet minutes. (sandbox)',
              inactive: 'Closing this chat: no answer for 3 minutes. Back to the bot now. (sandbox)',
              waiting: 'Still looking for a free agent… (sandbox)',
              noAgents: 'No agent answered in 10 minutes; back to the bot. (sandbox)',
            },
          },
        },
      ],
    },
    'sandbox',
  );
}

function sandboxPort(): number {
  const raw = process.env['PORT'] || '8080';
  const port = Number(raw);
  // Digits only, as the config loader; the simulators take the next two ports.
  if (!/^\d{1,5}$/.test(raw) || port < 1 || port > 65533) throw new Error(`PORT: not a usable port for the sandbox (got ${JSON.stringify(raw)}; it uses PORT, PORT+1 and PORT+2)`);
  return port;
}

export interface SandboxOptions {
  /** The service's port; the simulators take the next two. 0: three free ports (tests). */
  port: number;
  helpdesk: string;
  /** Default ./data/sandbox.db, emptied first (the simulators start empty too). */
  storeUrl?: string;
  /** Default LOG_LEVEL or info. */
  logLevel?: string;
}

export interface Sandbox {
  bridgeUrl: string;
  blipUrl: string;
  deskUrl: string;
  /** The default store existed and was emptied. */
  wiped: boolean;
  close(): Promise<void>;
}

/** The sandbox's world, listening; startSandbox adds the banner and the signal handling. */
export async function createSandbox(opts: SandboxOptions): Promise<Sandbox> {
  const { port } = opts;
  const next = (n: number) => (port === 0 ? 0 : port + n);
  const host = '127.0.0.1';
  const blip = new BlipSimulator({
    bots: [{ identifier: SANDBOX.identifier, accessKey: SANDBOX.accessKey, router: SANDBOX.router, service: SANDBOX.service }],
    notifyDispatched: true,
  });
  const blipUrl = await blip.start(next(1));
  const desk = DESKS[opts.helpdesk]!(SANDBOX.toolSecret);
  const helpdesk = await desk.start(next(2), host);

  // The simulators start empty, so a store left by a previous run would name attendances and
  // tunnels they have never heard of: every start begins from a clean store, and says so.
  let wiped = false;
  if (!opts.storeUrl) {
    wiped = SANDBOX_FILES.some((f) => existsSync(f));
    for (const f of SANDBOX_FILES) rmSync(f, { force: true });
  }
  const config = sandboxConfig(port, host, { helpdesk, blipUrl, ...(opts.storeUrl ? { storeUrl: opts.storeUrl } : {}), ...(opts.logLevel ? { logLevel: opts.logLevel } : {}) });
  const running = await buildApp(config, {
    logger: makeLogger(config.log.level),
    routes: (app) =>
      playgroundRoutes(app, {
        blip,
        desk,
        bot: SANDBOX.bot,
        identifier: SANDBOX.identifier,
        customer: { originator: SANDBOX.customer, name: 'Maria Silva' },
        humanService: SANDBOX.service,
        adminToken: SANDBOX.adminToken,
        attendance: config.bots[0]!.attendance,
      }),
  });
  const bridgeUrl = await running.app.listen({ port, host });
  blip.setBotUrls(SANDBOX.identifier, {
    messagesUrl: `${bridgeUrl}/blip/${SANDBOX.bot}/messages`,
    notificationsUrl: `${bridgeUrl}/blip/${SANDBOX.bot}/notifications`,
    headers: { authorization: `Bearer ${SANDBOX.inboundToken}` },
  });
  desk.connect(bridgeUrl, SANDBOX.bot);
  blip.addCustomer({
    originator: SANDBOX.customer,
    name: 'Maria Silva',
    email: 'maria@example.com',
    phoneNumber: '+55 11 99999-0001',
    extras: { plan: 'Gold' },
    history: [
      { direction: 'received', type: 'text/plain', content: 'Hi' },
      {
        direction: 'sent',
        type: 'application/vnd.lime.select+json',
        content: { text: 'How can I help?', options: [{ text: 'Billing' }, { text: 'Talk to a person' }] },
      },
      { direction: 'received', type: 'text/plain', content: 'Talk to a person' },
      { direction: 'sent', type: 'text/plain', content: 'One moment, I am calling an agent.' },
    ],
  });

  return {
    bridgeUrl,
    blipUrl,
    deskUrl: desk.url,
    wiped,
    async close() {
      await running.close();
      await blip.stop();
      await desk.stop();
    },
  };
}

export async function startSandbox(options: { helpdesk?: string } = {}): Promise<void> {
  const helpdesk = sandboxHelpdesk(options.helpdesk);
  const sandbox = await createSandbox({ port: sandboxPort(), helpdesk });
  const { bridgeUrl, blipUrl, deskUrl: toolUrl, wiped } = sandbox;
  const line = '═'.repeat(78);
  const enc = encodeURIComponent(SANDBOX.customer);
  process.stdout.write(
    [
      '',
      line,
      '  SANDBOX MODE: no bridge.yaml was found, so this is NOT connected to Blip or a helpdesk.',
      '  The service talks to in-process simulators. Tokens below are public: never use them live.',
      line,
      `  bridge          ${bridgeUrl}   (admin token: ${SANDBOX.adminToken})`,
      `  Blip simulator  ${blipUrl}   (bot "${SANDBOX.bot}", inbound token: ${SANDBOX.inboundToken})`,
      helpdesk === 'webhook' ? `  tool simulator  ${toolUrl}   (custom tool, type: webhook; --helpdesk ${Object.keys(DESKS).join(' | ')})` : `  ${helpdesk} simulator  ${toolUrl}`,
      `  store           sqlite:${SANDBOX.store}   (${wiped ? 'emptied: each start begins clean, like the simulators' : 'new'})`,
      '',
      `  Playground: open ${bridgeUrl}/playground  (the customer's phone and the agent's desk)`,
      `  Console:    open ${bridgeUrl}/console     (admin token: ${SANDBOX.adminToken})`,
      ...(helpdesk !== 'webhook'
        ? []
        : [
            '',
            '  Or with curl (README, "Try it with curl"):',
      `   1. the customer says hello:`,
      `      curl -s -XPOST ${blipUrl}/_sim/customers/${enc}/messages -H 'content-type: application/json' -d '{"text":"Hello, I need help"}'`,
      `   2. the tool received the attendance; note its id:`,
      `      curl -s ${toolUrl}/_sim/events`,
      `   3. the agent answers, then ends the attendance:`,
      `      curl -s -XPOST ${toolUrl}/_sim/attendances/latest/reply -H 'content-type: application/json' -d '{"text":"Hi Maria, how can I help?"}'`,
      `      curl -s -XPOST ${toolUrl}/_sim/attendances/latest/end -H 'content-type: application/json' -d '{}'`,
      `   4. what Blip received (the reply, then the Redirect):`,
      `      curl -s ${blipUrl}/_sim/received`,
          ]),
      line,
      '',
    ].join('\n'),
  );
  shutdownOn(sandbox.close, makeLogger('info'));
}
