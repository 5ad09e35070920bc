/**
 * The sandbox: the real service wired to in-process simulators of Blip and of a custom tool, so a
 * newcomer can try the whole loop with curl (README, "Try it"). Started by `npm start` when there is
 * no bridge.yaml outside production. Ports: the service on PORT (default 8080), the Blip simulator
 * on PORT+1, the tool simulator on PORT+2.
 */
import { existsSync, rmSync } from 'node:fs';
import { BlipSimulator } from '../simulators/blip/index.js';
import { WebhookToolSimulator } from '../simulators/webhook-tool/index.js';
import { buildApp, makeLogger } from './app.js';
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

/**
 * The sandbox's configuration; the admin commands use it too, to read the sandbox's store when
 * there is no bridge.yaml. The simulators are on PORT+1 and PORT+2.
 */
export function sandboxConfig(port = sandboxPort(), host = '127.0.0.1'): Config {
  return parseConfig(
    {
      server: { port, host, adminToken: SANDBOX.adminToken, publicUrl: `http://${host}:${port}` },
      store: { url: `sqlite:${SANDBOX.store}` },
      log: { level: process.env['LOG_LEVEL'] ?? 'info' },
      delivery: { baseDelayMs: 200, maxAttempts: 6 },
      bots: [
        {
          id: SANDBOX.bot,
          blip: {
            identifier: SANDBOX.identifier,
            accessKey: SANDBOX.accessKey,
            baseUrl: `http://${host}:${port + 1}`,
            inboundToken: SANDBOX.inboundToken,
          },
          helpdesk: { type: 'webhook', url: `http://${host}:${port + 2}/bridge`, secret: SANDBOX.toolSecret },
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

export async function startSandbox(): Promise<void> {
  const port = sandboxPort();
  const host = '127.0.0.1';
  const blip = new BlipSimulator({
    bots: [{ identifier: SANDBOX.identifier, accessKey: SANDBOX.accessKey, router: SANDBOX.router, service: SANDBOX.service }],
    notifyDispatched: true,
  });
  const blipUrl = await blip.start(port + 1);
  const tool = new WebhookToolSimulator({ secret: SANDBOX.toolSecret });
  const toolUrl = await tool.start(port + 2);

  // The simulators start empty, so a store left by a previous run would name attendances and
  // tunnels they have never heard of: every start begins from a clean store, and says so.
  const wiped = SANDBOX_FILES.some((f) => existsSync(f));
  for (const f of SANDBOX_FILES) rmSync(f, { force: true });
  const config = sandboxConfig(port, host);
  const running = await buildApp(config, { logger: makeLogger(config.log.level) });
  const bridgeUrl = await running.app.listen({ port, host });
  blip.setBotUrls(SANDBOX.identifier, {
    messagesUrl: `${bridgeUrl}/blip/${SANDBOX.bot}/messages`,
    notificationsUrl: `${bridgeUrl}/blip/${SANDBOX.bot}/notifications`,
    headers: { authorization: `Bearer ${SANDBOX.inboundToken}` },
  });
  tool.setBridgeWebhookUrl(`${bridgeUrl}/helpdesk/${SANDBOX.bot}/webhook`);
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
      `  tool simulator  ${toolUrl}   (custom tool, type: webhook)`,
      `  store           sqlite:${SANDBOX.store}   (${wiped ? 'emptied: each start begins clean, like the simulators' : 'new'})`,
      '',
      '  Try it (README, "Try it in the sandbox"):',
      `   1. the customer says hello:`,
      `      curl -s -XPOST ${blipUrl}/_sim/customers/${enc}/messages -H 'content-type: application/json' -d '{"text":"Hello, I need help"}'`,
      `   2. the tool received the attendance; note its id:`,
      `      curl -s ${toolUrl}/_sim/events`,
      `   3. the agent answers, then ends the attendance:`,
      `      curl -s -XPOST ${toolUrl}/_sim/attendances/latest/reply -H 'content-type: application/json' -d '{"text":"Hi Maria, how can I help?"}'`,
      `      curl -s -XPOST ${toolUrl}/_sim/attendances/latest/end -H 'content-type: application/json' -d '{}'`,
      `   4. what Blip received (the reply, then the Redirect):`,
      `      curl -s ${blipUrl}/_sim/received`,
      line,
      '',
    ].join('\n'),
  );
  shutdownOn(async () => {
    await running.close();
    await blip.stop();
    await tool.stop();
  }, running.app.log);
}
