/**
 * The real command line, as a child process: check-config (offline and against the simulators),
 * migrate, serve without a file in production, and the sandbox walk-through of the README over
 * real HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ACCESS_KEY, ADMIN_TOKEN, rawConfig, startSimulators } from '../helpers/harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'src', 'cli.ts');
// `--import tsx` resolves tsx from the cwd; the sandbox runs in a temp dir, so use its absolute URL.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const TIMEOUT = 30_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment of a child: ours without what would change its behaviour, plus `extra`. */
function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // vitest sets NODE_ENV=test; the CLI must see only what each test says.
  for (const k of ['NODE_ENV', 'PORT', 'BRIDGE_CONFIG', 'LOG_LEVEL']) delete env[k];
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

const children = new Set<ChildProcess>();

function start(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): ChildProcess {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: childEnv(opts.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Runs the CLI to its end; kills it (and fails) after `timeoutMs`. */
function run(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  const child = start(args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => {
        child.kill('SIGKILL');
        reject(new Error(`blip-helpdesk-bridge ${args.join(' ')} did not exit within ${opts.timeoutMs ?? TIMEOUT} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
      },
      opts.timeoutMs ?? TIMEOUT - 2_000,
    );
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
});

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bridge-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function writeConfig(raw: Record<string, unknown>): string {
  const path = join(dir, `bridge-${++files}.yaml`);
  writeFileSync(path, stringify(raw));
  return path;
}

const TOOL_SECRET = `whsec_${Buffer.from('a-tool-secret-of-at-least-24-bytes!!').toString('base64')}`;

/** A valid file whose URLs point nowhere: enough for everything offline. */
function offlineConfig(storeFile: string): Record<string, any> {
  return {
    server: { adminToken: ADMIN_TOKEN },
    store: { url: `sqlite:${storeFile}` },
    bots: [
      {
        id: 'acme',
        blip: { identifier: 'acmehuman', accessKey: ACCESS_KEY, baseUrl: 'http://127.0.0.1:9', inboundToken: 'inbound-token-0123456789' },
        helpdesk: { type: 'webhook', url: 'http://127.0.0.1:9/bridge', secret: TOOL_SECRET },
      },
    ],
  };
}

describe('check-config --offline', () => {
  it('exits 0 and prints ✓ for a valid file, without touching the store', { timeout: TIMEOUT }, async () => {
    const store = join(dir, 'offline-valid.db');
    const path = writeConfig(offlineConfig(store));
    const res = await run(['check-config', '--offline'], { env: { BRIDGE_CONFIG: path } });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toBe(`✓ ${path}: valid (1 bot: acme → webhook)`);
    expect(existsSync(store)).toBe(false);
  });

  it('takes the file as an argument too', { timeout: TIMEOUT }, async () => {
    const path = writeConfig(offlineConfig(join(dir, 'offline-arg.db')));
    const res = await run(['check-config', path, '--offline'], { env: { BRIDGE_CONFIG: join(dir, 'not-this-one.yaml') } });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`✓ ${path}: valid`);
  });

  it('exits 2 and prints each problem with its path for a bad file', { timeout: TIMEOUT }, async () => {
    const raw = offlineConfig(join(dir, 'offline-bad.db'));
    raw['server'] = { adminToken: 'short', prot: 8080 };
    delete raw['bots'][0].blip.identifier;
    raw['bots'][0].blip.accessKey = '${CLI_TEST_UNSET_KEY}';
    raw['bots'][0].helpdesk.secret = 'not-whsec';
    const path = writeConfig(raw);
    const res = await run(['check-config', '--offline'], { env: { BRIDGE_CONFIG: path } });
    expect(res.code).toBe(2);
    expect(res.stdout).not.toContain('✓');
    expect(res.stderr).toContain(`${path}: 5 problem(s) in the configuration:`);
    for (const line of [
      '  - bots[0].blip.accessKey: environment variable CLI_TEST_UNSET_KEY is not set',
      '  - server.prot: Unexpected property',
      '  - server.adminToken: Expected string length greater or equal to 16',
      '  - bots[0].blip.identifier: Expected required property',
      '  - bots[0].helpdesk.secret: must be whsec_ followed by the base64 of at least 24 random bytes',
    ]) {
      expect(res.stderr).toContain(line);
    }
    expect(res.stderr).not.toContain('short');
    expect(res.stderr).not.toContain('not-whsec');
  });

  it('exits 2 naming a file that does not exist', { timeout: TIMEOUT }, async () => {
    const path = join(dir, 'missing.yaml');
    const res = await run(['check-config', '--offline'], { env: { BRIDGE_CONFIG: path } });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${path}: 1 problem(s)`);
    expect(res.stderr).toContain('BRIDGE_CONFIG names a file that does not exist');
  });
});

describe('check-config against the simulators', () => {
  let sims: Awaited<ReturnType<typeof startSimulators>>;
  beforeAll(async () => {
    sims = await startSimulators();
  });
  afterAll(async () => {
    await sims?.blip.stop();
    await sims?.tool.stop();
  });

  it('exits 0 and prints ✓ for Blip and for the helpdesk', { timeout: TIMEOUT }, async () => {
    const path = writeConfig(rawConfig(sims.blipUrl, sims.toolUrl, mkdtempSync(join(dir, 'online-'))));
    const res = await run(['check-config'], { env: { BRIDGE_CONFIG: path } });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines[0]).toBe(`✓ ${path}: valid (1 bot: acme → webhook)`);
    expect(lines[1]).toMatch(/^✓ acme blip: Blip accepted the key of acmehuman/);
    expect(lines[2]).toMatch(new RegExp(`^✓ acme helpdesk: ${sims.toolUrl}/bridge reachable`));
    expect(lines).toHaveLength(3);
    // The check really asked Blip, with the bot's key.
    expect(sims.blip.received.commands.some((c) => c.bot === 'acmehuman' && c.status === 200)).toBe(true);
  });

  it('exits 1 and says Blip refused the key (401) when the access key is wrong', { timeout: TIMEOUT }, async () => {
    const raw = rawConfig(sims.blipUrl, sims.toolUrl, mkdtempSync(join(dir, 'online-')));
    const wrongKey = Buffer.from('WRONG-access-key').toString('base64');
    (raw['bots'] as Array<Record<string, any>>)[0]!['blip'].accessKey = wrongKey;
    const path = writeConfig(raw);
    const res = await run(['check-config'], { env: { BRIDGE_CONFIG: path } });
    expect(res.code).toBe(1);
    const blipLine = res.stdout.split('\n').find((l) => l.includes(' acme blip: '));
    expect(blipLine).toMatch(/^✗ acme blip: .*answered 401\b.*check blip\.identifier and blip\.accessKey/);
    // The helpdesk part is still checked, and passes.
    expect(res.stdout).toMatch(/^✓ acme helpdesk: /m);
    expect(res.stdout + res.stderr).not.toContain(wrongKey);
  });

  it('exits 1 when the helpdesk is unreachable', { timeout: TIMEOUT }, async () => {
    const raw = rawConfig(sims.blipUrl, 'http://127.0.0.1:9', mkdtempSync(join(dir, 'online-')));
    const path = writeConfig(raw);
    const res = await run(['check-config'], { env: { BRIDGE_CONFIG: path } });
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^✓ acme blip: /m);
    expect(res.stdout).toMatch(/^✗ acme helpdesk: http:\/\/127\.0\.0\.1:9\/bridge unreachable/m);
  });
});

describe('migrate', () => {
  it('applies the migrations once, then says the store is up to date', { timeout: TIMEOUT * 2 }, async () => {
    const store = join(dir, 'migrate', 'bridge.db');
    const path = writeConfig(offlineConfig(store));
    const first = await run(['migrate'], { env: { BRIDGE_CONFIG: path } });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^applied: \S+/);
    expect(existsSync(store)).toBe(true);
    const second = await run(['migrate'], { env: { BRIDGE_CONFIG: path } });
    expect(second.code).toBe(0);
    expect(second.stdout.trim()).toBe('the store is up to date');
  });
});

describe('serve', () => {
  it('exits non-zero in production without a file, naming the file', { timeout: TIMEOUT }, async () => {
    const path = join(dir, 'no-such-bridge.yaml');
    const cwd = mkdtempSync(join(dir, 'prod-'));
    const res = await run(['serve'], { env: { NODE_ENV: 'production', BRIDGE_CONFIG: path }, cwd });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${path}: 1 problem(s)`);
    expect(res.stderr).toContain('BRIDGE_CONFIG names a file that does not exist');
    expect(res.stdout).not.toContain('SANDBOX');
    expect(existsSync(join(cwd, 'data'))).toBe(false);
    const noFile = await run(['serve'], { env: { NODE_ENV: 'production' }, cwd });
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain(`${join(cwd, 'bridge.yaml')}: 1 problem(s)`);
  });

  // Four CLI processes, each a few seconds on a loaded machine.
  it('a BRIDGE_CONFIG that names a missing file is an error outside production too, never the sandbox', { timeout: TIMEOUT * 4 }, async () => {
    const path = join(dir, 'typo-bridge.yaml');
    const cwd = mkdtempSync(join(dir, 'typo-'));
    let serveError = '';
    for (const args of [['serve'], ['attendances'], ['migrate']]) {
      const res = await run(args, { env: { BRIDGE_CONFIG: path }, cwd });
      if (args[0] === 'serve') serveError = res.stderr;
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr).toContain(`${path}: 1 problem(s)`);
      expect(res.stderr).toContain('BRIDGE_CONFIG names a file that does not exist');
      expect(res.stdout).not.toContain('SANDBOX');
    }
    expect(existsSync(join(cwd, 'data'))).toBe(false);
    // No file and no sandbox store yet: the admin commands say where to start, and create nothing.
    const nothing = await run(['attendances'], { cwd });
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('no sandbox store');
    expect(existsSync(join(cwd, 'data'))).toBe(false);
    // The error sends the reader to a README section that exists.
    const section = /README, "([^"]+)"/.exec(serveError)?.[1];
    expect(section).toBeDefined();
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n')).toContain(`## ${section}`);
  });

  it('starts the sandbox without a file, and the README walk-through works over HTTP', { timeout: 120_000 }, async () => {
    const cwd = mkdtempSync(join(dir, 'sandbox-'));
    const port = await freePortRun(3);
    const child = start([], { env: { PORT: String(port), LOG_LEVEL: 'warn' }, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );

    // The banner, complete (it ends with the /_sim/received line and a rule).
    await until(
      () => /SANDBOX MODE/.test(stdout) && /\/_sim\/received\n═+\n/.test(stdout),
      TIMEOUT,
      () => `the banner\nstdout: ${stdout}\nstderr: ${stderr}`,
    );
    const bridgeUrl = banner(stdout, /^ {2}bridge +(http:\/\/\S+)/m);
    const blipUrl = banner(stdout, /^ {2}Blip simulator +(http:\/\/\S+)/m);
    const toolUrl = banner(stdout, /^ {2}tool simulator +(http:\/\/\S+)/m);
    console.log(`sandbox: bridge ${bridgeUrl}, Blip simulator ${blipUrl}, tool simulator ${toolUrl}`);
    // src/sandbox.ts: the service on PORT, the Blip simulator on PORT+1, the tool on PORT+2.
    expect([bridgeUrl, blipUrl, toolUrl]).toEqual([port, port + 1, port + 2].map((p) => `http://127.0.0.1:${p}`));
    const customerPath = banner(stdout, /(\/_sim\/customers\/[^/\s]+\/messages)/);
    expect((await http('GET', `${bridgeUrl}/healthz`)).status).toBe(200);

    // 1. The customer says hello.
    const said = await http('POST', `${blipUrl}${customerPath}`, { text: 'Hello' });
    expect(said.status).toBe(200);
    expect((said.body as { status: number }).status).toBe(202);

    // 2. The tool receives the attendance (and the message).
    const attendanceId = await until(
      async () => {
        const { body } = await http('GET', `${toolUrl}/_sim/events`);
        const events = (body as { events: Array<{ type: string; data: any }> }).events;
        const opened = events.find((e) => e.type === 'attendance.opened');
        const hello = events.find((e) => e.type === 'customer.message' && e.data.message.content.text === 'Hello');
        return opened && hello ? (opened.data.attendance.id as string) : undefined;
      },
      TIMEOUT,
      () => 'the attendance at the tool',
    );

    // 3. The agent answers, then ends the attendance. The banner says `/_sim/attendances/latest/…`,
    // but the tool simulator has no `latest` alias, so the walk-through uses the attendance id.
    const replied = await http('POST', `${toolUrl}/_sim/attendances/${attendanceId}/reply`, { text: 'Hi Maria, how can I help?' });
    expect(replied.status).toBe(202);
    const ended = await http('POST', `${toolUrl}/_sim/attendances/${attendanceId}/end`, {});
    expect(ended.status).toBe(202);

    // 4. Blip received the reply, then the Redirect back to the bot.
    const messages = await until(
      async () => {
        const { body } = await http('GET', `${blipUrl}/_sim/received`);
        const sent = (body as { messages: Array<{ body: { type: string; content: unknown } }> }).messages.map((m) => m.body);
        return sent.some((m) => m.type === 'application/vnd.lime.redirect+json') ? sent : undefined;
      },
      TIMEOUT,
      () => 'the Redirect at Blip',
    );
    const reply = messages.findIndex((m) => m.type === 'text/plain' && m.content === 'Hi Maria, how can I help?');
    const redirect = messages.findIndex((m) => m.type === 'application/vnd.lime.redirect+json');
    expect(reply).toBeGreaterThanOrEqual(0);
    expect(redirect).toBeGreaterThan(reply);
    expect(redirect).toBe(messages.length - 1);

    // The sandbox's store is under the cwd it was started in.
    expect(existsSync(join(cwd, 'data', 'sandbox.db'))).toBe(true);

    // With no bridge.yaml the admin commands read the sandbox's store: a table, or JSON.
    const table = await run(['attendances'], { cwd, env: { PORT: String(port) } });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stderr).toContain("using the sandbox's store");
    const [head, row, total] = table.stdout.trim().split('\n');
    expect(head).toMatch(/^ID +BOT +STATE +CUSTOMER +OPENED +CLOSED +REASON$/);
    expect(row).toMatch(new RegExp(`^${attendanceId} +sandbox +closed +Maria Silva 5511999990001@wa\\.gw\\.msging\\.net +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +\\d{4}-.* +agent$`));
    expect(total).toBe('1 attendance(s), times in UTC');
    const json = await run(['attendances', '--json'], { cwd, env: { PORT: String(port) } });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject([{ id: attendanceId, bot: 'sandbox', state: 'closed', closeReason: 'agent' }]);

    child.kill('SIGTERM');
    const { code, signal } = await Promise.race([
      exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit after SIGTERM\nstderr: ${stderr}`)), 15_000)),
    ]);
    expect(signal).toBeNull();
    expect(code).toBe(0);

    // Restarted, the sandbox begins from a clean store (the simulators forget everything) and says
    // so; the walk-through works again from step 1.
    const again = start([], { env: { PORT: String(port), LOG_LEVEL: 'warn' }, cwd });
    let out = '';
    again.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    await until(() => /\/_sim\/received\n═+\n/.test(out) || undefined, TIMEOUT, () => `the second banner\nstdout: ${out}`);
    expect(out).toMatch(/store +sqlite:\.\/data\/sandbox\.db +\(emptied: each start begins clean/);
    expect((await http('POST', `${blipUrl}${customerPath}`, { text: 'Hello again' })).status).toBe(200);
    await until(
      async () => {
        const { body } = await http('GET', `${toolUrl}/_sim/events`);
        return (body as { events: Array<{ type: string; data: any }> }).events.some((e) => e.type === 'customer.message' && e.data.message.content.text === 'Hello again') || undefined;
      },
      TIMEOUT,
      () => 'the second attendance at the tool',
    );
    const ended2 = await http('POST', `${toolUrl}/_sim/attendances/latest/end`, {});
    expect(ended2.status).toBe(202);
    const listed = await run(['attendances', '--json'], { cwd, env: { PORT: String(port) } });
    expect((JSON.parse(listed.stdout) as unknown[]).length).toBe(1);
    again.kill('SIGTERM');
  });
});

// ── helpers ───────────────────────────────────────────────────────────────────────────────────

function banner(text: string, pattern: RegExp): string {
  const m = pattern.exec(text);
  if (!m?.[1]) throw new Error(`the sandbox banner has no ${pattern}:\n${text}`);
  return m[1];
}

async function http(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A port p such that p … p+count-1 are free on 127.0.0.1 (the sandbox takes three in a row). */
async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = await listenAndClose(0);
    if (base + count - 1 > 65535) continue;
    let ok = true;
    for (let i = 1; i < count && ok; i++) ok = (await listenAndClose(base + i).catch(() => -1)) !== -1;
    if (ok) return base;
  }
  throw new Error(`no run of ${count} free ports`);
}

function listenAndClose(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const p = typeof address === 'object' && address ? address.port : -1;
      server.close(() => resolve(p));
    });
  });
}
