#!/usr/bin/env node
/**
 * blip-helpdesk-bridge <command>
 *   serve (default)        serve BRIDGE_CONFIG (default ./bridge.yaml); no ./bridge.yaml, no
 *                          BRIDGE_CONFIG and not production → the sandbox. A BRIDGE_CONFIG that
 *                          names a missing file is an error in every mode. --helpdesk <type> (or
 *                          SANDBOX_HELPDESK): the helpdesk simulator the sandbox plays.
 *   check-config [file]    validate the file, then check credentials against Blip and the helpdesk
 *                          (--offline: validation only)
 *   migrate                apply pending store migrations and exit
 *   attendances [--state S] [--bot B] [--json]   list attendances (a table; --json for JSON);
 *                          with no file outside production, those of the sandbox's store
 *   close <attendance-id>  end an attendance (farewell + Redirect)
 *   dead                   list dead deliveries
 *   retry <delivery-id>    replay a dead delivery
 *   purge [days]           delete closed attendances older than days (default retention.days)
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildApp, makeLogger, purgeOnce } from './app.js';
import { ConfigError, loadConfigFile } from './config/load.js';
import type { Config } from './config/schema.js';
import { Bridge, checkConnections } from './core/bridge.js';
import { HttpClient } from './delivery/http.js';
import { attendanceView, deliveryView } from './http/admin.js';
import { BridgeError } from './http/errors.js';
import { openStore } from './store/engines.js';
import { shutdownOn } from './shutdown.js';

const USAGE = `usage: blip-helpdesk-bridge [serve [--helpdesk <type>] | check-config [file] [--offline] | migrate | attendances [--state S] [--bot B] [--json] | close <attendance-id> | dead | retry <delivery-id> | purge [days]]`;

function configPath(arg?: string): string {
  return resolve(arg ?? (process.env['BRIDGE_CONFIG'] || './bridge.yaml'));
}

/**
 * Only the default ./bridge.yaml may be absent (then, outside production, the sandbox): a file the
 * user named and that is not there is a mistake to report, never a reason to start the sandbox with
 * its public tokens.
 */
function sandboxInstead(): boolean {
  return !process.env['BRIDGE_CONFIG'] && process.env['NODE_ENV'] !== 'production' && !existsSync(configPath());
}

function missingFile(path: string): ConfigError {
  const why = process.env['BRIDGE_CONFIG'] ? 'BRIDGE_CONFIG names a file that does not exist' : 'there is no configuration file (and NODE_ENV is production, so no sandbox)';
  return new ConfigError(path, [`${why}. Create it (README, "Connect a real Blip router"; every key in docs/configuration.md) or fix BRIDGE_CONFIG.`]);
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
}

/** The configuration file, which must exist (every command but serve and the admin ones without a file). */
function loadRequired(path = configPath()): Config {
  if (!existsSync(path)) throw missingFile(path);
  return loadConfigFile(path);
}

async function serve(args: string[]): Promise<void> {
  const helpdesk = flag(args, '--helpdesk');
  if (args.includes('--helpdesk') && !helpdesk) throw new BridgeError('BRIDGE_ERR_INVALID_REQUEST', '--helpdesk needs a helpdesk type (e.g. --helpdesk servicenow)');
  if (helpdesk && !sandboxInstead()) throw new BridgeError('BRIDGE_ERR_INVALID_REQUEST', `--helpdesk chooses the sandbox's helpdesk, but ${configPath()} is served (the sandbox runs only without a configuration file, outside production)`);
  if (sandboxInstead()) {
    const { startSandbox } = await import('./sandbox.js');
    await startSandbox(helpdesk ? { helpdesk } : {});
    return;
  }
  const path = configPath();
  const config = loadRequired(path);
  const running = await buildApp(config);
  const address = await running.app.listen({ port: config.server.port, host: config.server.host });
  running.app.log.info({ address, bots: config.bots.map((b) => b.id), store: config.store.url.split(':')[0] }, 'blip-helpdesk-bridge serving');
  shutdownOn(running.close, running.app.log);
}

async function checkConfig(args: string[]): Promise<number> {
  const file = args.find((a) => !a.startsWith('--'));
  const path = configPath(file);
  const config = loadRequired(path);
  console.log(`✓ ${path}: valid (${config.bots.length} bot${config.bots.length === 1 ? '' : 's'}: ${config.bots.map((b) => `${b.id} → ${b.helpdesk.type}`).join(', ')})`);
  if (args.includes('--offline')) return 0;
  const http = new HttpClient(config.delivery.timeoutMs);
  try {
    let ok = true;
    for (const r of await checkConnections(config, http, makeLogger('warn'))) {
      ok &&= r.ok;
      console.log(`${r.ok ? '✓' : '✗'} ${r.bot} ${r.part}: ${r.detail}`);
    }
    return ok ? 0 : 1;
  } finally {
    await http.close();
  }
}

/** A Bridge over the store without HTTP server or worker, for one-shot commands. */
async function offlineBridge(config: Config): Promise<{ bridge: Bridge; close: () => Promise<void> }> {
  const store = await openStore(config.store.url);
  await store.migrate();
  const http = new HttpClient(config.delivery.timeoutMs);
  const bridge = new Bridge(config, store, http, makeLogger('warn'));
  return {
    bridge,
    async close() {
      await http.close();
      await store.close();
    },
  };
}

/** The admin commands read the sandbox's store after the README walk-through, when there is no file. */
async function adminConfig(): Promise<Config> {
  if (!sandboxInstead()) return loadRequired();
  const { SANDBOX, sandboxConfig } = await import('./sandbox.js');
  if (!existsSync(SANDBOX.store)) {
    throw new ConfigError(configPath(), [`there is no configuration file, and no sandbox store (${SANDBOX.store}) to read either: start the sandbox with npm start (README, "Try it in the playground") or create the file (README, "Connect a real Blip router").`]);
  }
  console.error(`no ${configPath()}: using the sandbox's store (${SANDBOX.store})`);
  return sandboxConfig();
}

/** One line per attendance, newest first, columns padded; the customer as the router knows them. */
function attendanceTable(rows: ReturnType<typeof attendanceView>[]): string {
  if (rows.length === 0) return 'no attendances';
  const who = (c: unknown) => {
    const x = c as { name?: string; originator?: string; address?: string };
    return [x.name, x.originator ?? x.address].filter(Boolean).join(' ');
  };
  const table = [
    ['ID', 'BOT', 'STATE', 'CUSTOMER', 'OPENED', 'CLOSED', 'REASON'],
    ...rows.map((r) => [r.id, r.bot, r.state, who(r.customer), r.openedAt.slice(0, 19).replace('T', ' '), r.closedAt?.slice(0, 19).replace('T', ' ') ?? '-', r.closeReason ?? '-']),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + `\n${rows.length} attendance(s), times in UTC`;
}

async function main(): Promise<number> {
  const [command = 'serve', ...args] = process.argv.slice(2);
  switch (command) {
    case 'serve':
      await serve(args);
      return -1;
    case 'check-config':
      return checkConfig(args);
    case 'migrate': {
      const config = loadRequired();
      const store = await openStore(config.store.url);
      const applied = await store.migrate();
      await store.close();
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the store is up to date');
      return 0;
    }
    case 'purge': {
      const config = loadRequired();
      const days = args[0] !== undefined ? Number(args[0]) : config.retention.days;
      if (!Number.isInteger(days) || days < 1) throw new BridgeError('BRIDGE_ERR_INVALID_REQUEST', 'purge takes a number of days ≥ 1 (default retention.days)');
      const store = await openStore(config.store.url);
      try {
        const r = await purgeOnce(store, days);
        console.log(`purged ${r.attendances} closed attendance(s) older than ${days} day(s) and ${r.dedupe} dedupe id(s)`);
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'attendances':
    case 'close':
    case 'dead':
    case 'retry': {
      const { bridge, close } = await offlineBridge(await adminConfig());
      try {
        if (command === 'attendances') {
          const state = flag(args, '--state');
          const bot = flag(args, '--bot');
          if (state && !['opening', 'open', 'closing', 'closed'].includes(state)) throw new BridgeError('BRIDGE_ERR_INVALID_REQUEST', `--state must be opening, open, closing or closed`);
          const rows = await bridge.store.listAttendances({ limit: 200, ...(state ? { state: state as 'open' } : {}), ...(bot ? { bot } : {}) });
          console.log(args.includes('--json') ? JSON.stringify(rows.map(attendanceView), null, 2) : attendanceTable(rows.map(attendanceView)));
        } else if (command === 'close') {
          if (!args[0]) throw new BridgeError('BRIDGE_ERR_INVALID_REQUEST', 'close needs an attendance id');
          console.log(JSON.stringify(attendanceView(await bridge.close(args[0], 'admin')), null, 2));
          console.log('closing: the running service sends the farewell and the Redirect.');
        } else if (command === 'dead') {
          console.log(JSON.stringify((await bridge.store.listDeliveries({ state: 'dead', limit: 500 })).map(deliveryView), null, 2));
        } else {
          const id = Number(args[0]);
          if (!Number.isInteger(id)) throw new BridgeError('BRIDGE_ERR_INVALID_REQUEST', 'retry needs a delivery id');
          if (!(await bridge.retry(id))) throw new BridgeError('BRIDGE_ERR_DELIVERY_NOT_DEAD', `delivery ${id} is not dead`);
          console.log(`delivery ${id} is pending again; the running service retries it.`);
        }
      } finally {
        await close();
      }
      return 0;
    }
    case '--help':
    case '-h':
    case 'help':
      console.log(USAGE);
      return 0;
    default:
      console.error(USAGE);
      return 2;
  }
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof ConfigError) console.error(err.message);
    else if (err instanceof BridgeError) console.error(`${err.code}: ${err.message}`);
    else console.error(err);
    process.exit(err instanceof ConfigError || err instanceof BridgeError ? 2 : 1);
  },
);
