/**
 * The configuration loader (DESIGN §6): YAML → ${VAR} → defaults → schema (core, then each bot's
 * helpdesk against its adapter's schema) → frozen. Errors name the path, all at once, and never
 * echo a secret.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { adapterTypes } from '../../src/helpdesks/registry.js';

const dir = mkdtempSync(join(tmpdir(), 'bridge-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes `content` (YAML text, or an object to serialise) to a fresh file and returns its path. */
function file(content: string | Record<string, unknown>): string {
  const path = join(dir, `bridge-${++files}.yaml`);
  writeFileSync(path, typeof content === 'string' ? content : stringify(content));
  return path;
}

const ADMIN_TOKEN = 'admin-token-0123456789';
const INBOUND_TOKEN = 'inbound-token-0123456789';
const ACCESS_KEY = Buffer.from('acme-secret-key').toString('base64');
const TOOL_SECRET = `whsec_${Buffer.from('a-tool-secret-of-at-least-24-bytes!!').toString('base64')}`;

/** The smallest valid file: only what has no default. */
const MINIMAL = `
server:
  adminToken: ${ADMIN_TOKEN}
bots:
  - id: acme
    blip:
      identifier: acmehuman
      accessKey: ${ACCESS_KEY}
      inboundToken: ${INBOUND_TOKEN}
    helpdesk:
      type: webhook
      url: https://tool.example.com/bridge
      secret: ${TOOL_SECRET}
`;

/** The same as an object, for variations. */
function minimal(): { server: Record<string, unknown>; bots: Array<Record<string, any>>; [k: string]: unknown } {
  return {
    server: { adminToken: ADMIN_TOKEN },
    bots: [
      {
        id: 'acme',
        blip: { identifier: 'acmehuman', accessKey: ACCESS_KEY, inboundToken: INBOUND_TOKEN },
        helpdesk: { type: 'webhook', url: 'https://tool.example.com/bridge', secret: TOOL_SECRET },
      },
    ],
  };
}

/** The ConfigError `fn` throws (fails the test if it throws anything else or nothing). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

/** Loads with an explicit environment, so the test runner's own PORT or variables never leak in. */
const load = (path: string, env: NodeJS.ProcessEnv = {}) => loadConfigFile(path, env);

describe('a valid file', () => {
  it('gets its defaults', () => {
    const config = load(file(MINIMAL));
    expect(config.server).toEqual({ adminToken: ADMIN_TOKEN, port: 8080, host: '0.0.0.0', bodyLimitBytes: 1024 * 1024 });
    expect(config.store.url).toBe('sqlite:./data/bridge.db');
    expect(config.log.level).toBe('info');
    expect(config.delivery).toMatchObject({ maxAttempts: 12, baseDelayMs: 500, maxDelayMs: 300_000, timeoutMs: 10_000, concurrency: 64 });
    const bot = config.bots[0]!;
    expect(bot.blip).toMatchObject({
      baseUrl: 'https://http.msging.net',
      inboundHeader: 'authorization',
      messagesPerSecond: 50,
      historySource: 'router',
      contactSource: 'router',
      acceptDirectAddresses: false,
    });
    expect(bot.blip.returnTo).toBeUndefined();
    // No timers and always open unless configured: an attendance ends when the helpdesk or an operator ends it.
    expect(bot.attendance).toEqual({ transcriptMessages: 30, timeZone: 'UTC', holidays: [], outsideHours: 'handback', messages: {} });
    expect(bot.blip.redirectContext).toBe('ticket');
    // The adapter's own defaults apply too.
    expect(bot.helpdesk).toEqual({ type: 'webhook', url: 'https://tool.example.com/bridge', secret: TOOL_SECRET, timeoutMs: 10_000, messageStatus: [] });
  });

  it('keeps the values it gives over the defaults', () => {
    const raw = minimal();
    raw.server = { ...raw.server, port: 9000 };
    raw['delivery'] = { maxAttempts: 3 };
    raw.bots[0]!['attendance'] = { transcriptMessages: 0, messages: { closed: 'Bye' } };
    raw.bots[0]!['blip'].inboundHeader = 'x-bridge-token';
    const config = load(file(raw));
    expect(config.server.port).toBe(9000);
    expect(config.delivery.maxAttempts).toBe(3);
    expect(config.delivery.baseDelayMs).toBe(500);
    expect(config.bots[0]!.attendance).toMatchObject({ transcriptMessages: 0, messages: { closed: 'Bye' } });
    expect(config.bots[0]!.blip.inboundHeader).toBe('x-bridge-token');
  });

  it('takes the lifecycle block of the issue as written', () => {
    const raw = minimal();
    raw.bots[0]!['attendance'] = {
      timeZone: 'America/Sao_Paulo',
      hours: { 'mon-fri': ['08:00-12:00', '13:00-18:00'], sat: ['09:00-13:00'] },
      holidays: ['2026-12-25', '2027-01-01'],
      outsideHours: 'handback',
      inactivity: { remindAfter: '5m', closeAfter: '10m', keepWhileCustomerWaits: true },
      waitingForAgent: { notifyAfter: '3m', handBackAfter: '30m' },
      maxDuration: '72h',
      messages: { opened: 'o', closed: 'c', failed: 'f', outsideHours: 'h', reminder: 'r', inactive: 'i', waiting: 'w', noAgents: 'n' },
    };
    raw.bots[0]!['blip'].redirectContext = 'json';
    const config = load(file(raw));
    expect(config.bots[0]!.attendance.inactivity).toEqual({ remindAfter: '5m', closeAfter: '10m', keepWhileCustomerWaits: true });
    expect(config.bots[0]!.blip.redirectContext).toBe('json');
  });

  it('names each lifecycle mistake with its path: time zone, inverted or overlapping slot, impossible date, a duration without its unit', () => {
    const raw = minimal();
    raw.bots[0]!['attendance'] = {
      timeZone: 'America/Sao_Paolo',
      hours: { 'mon-fri': ['08:00-12:00', '11:30-13:00'], sat: ['13:00-09:00'], 'fri-sat': ['10:00-11:00'] },
      holidays: ['2026-02-30'],
      inactivity: { closeAfter: '10', remindAfter: '20m' },
    };
    let problems: string[] = [];
    try {
      load(file(raw));
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems.some((p) => p.startsWith('bots[0].attendance.inactivity.closeAfter:'))).toBe(true);
    // The schema error stops the semantic checks of that block; fix it and the rest shows.
    (raw.bots[0]!['attendance'] as { inactivity: { closeAfter: string } }).inactivity.closeAfter = '10m';
    try {
      load(file(raw));
      expect.unreachable();
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^bots\[0\]\.attendance\.timeZone: unknown time zone "America\/Sao_Paolo"/),
        expect.stringMatching(/^bots\[0\]\.attendance\.hours\.mon-fri\[1\]: the slot "11:30-13:00" overlaps bots\[0\]\.attendance\.hours\.mon-fri\[0\] on mon/),
        expect.stringMatching(/^bots\[0\]\.attendance\.hours\.sat\[0\]: the slot "13:00-09:00" ends before it starts/),
        expect.stringMatching(/^bots\[0\]\.attendance\.hours\.fri-sat\[0\]: the slot "10:00-11:00" overlaps bots\[0\]\.attendance\.hours\.mon-fri\[0\] on fri/),
        expect.stringMatching(/^bots\[0\]\.attendance\.holidays\[0\]: "2026-02-30" is not a date/),
        expect.stringMatching(/^bots\[0\]\.attendance\.inactivity\.remindAfter: must be shorter than closeAfter/),
      ]),
    );
  });

  it('is frozen, all the way down', () => {
    const config = load(file(MINIMAL));
    for (const part of [
      config,
      config.server,
      config.delivery,
      config.bots,
      config.bots[0]!,
      config.bots[0]!.blip,
      config.bots[0]!.helpdesk,
      config.bots[0]!.attendance.messages,
    ]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    // ESM is strict mode: writing to a frozen object throws instead of failing silently.
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.bots as unknown[]).push({});
    }).toThrow(TypeError);
    expect(config.server.port).toBe(8080);
    // parseConfig (used by the sandbox and the tests) freezes too.
    expect(Object.isFrozen(parseConfig(minimal(), 'test', {}).bots[0]!.blip)).toBe(true);
  });

  it('does not change the object it was given', () => {
    const raw = minimal();
    const before = structuredClone(raw);
    parseConfig(raw, 'test', {});
    expect(raw).toEqual(before);
    expect(Object.isFrozen(raw)).toBe(false);
  });
});

describe('${VAR} interpolation', () => {
  const TEMPLATE = `
server:
  adminToken: \${BRIDGE_ADMIN_TOKEN}
bots:
  - id: acme
    blip:
      identifier: acmehuman
      accessKey: \${BLIP_KEY}
      baseUrl: \${BLIP_BASE:-https://acme.http.msging.net}
      inboundToken: "\${BLIP_INBOUND_TOKEN:-default-inbound-token-0123}"
    helpdesk:
      type: webhook
      url: https://\${TOOL_HOST}/bridge
      secret: \${TOOL_SECRET}
`;
  const ENV = { BRIDGE_ADMIN_TOKEN: ADMIN_TOKEN, BLIP_KEY: ACCESS_KEY, TOOL_HOST: 'tool.internal:8443', TOOL_SECRET };

  it('replaces ${VAR} with the variable, inside longer strings too, and uses ${VAR:-default} when unset', () => {
    const config = load(file(TEMPLATE), ENV);
    expect(config.server.adminToken).toBe(ADMIN_TOKEN);
    expect(config.bots[0]!.blip.accessKey).toBe(ACCESS_KEY);
    expect(config.bots[0]!.blip.baseUrl).toBe('https://acme.http.msging.net');
    expect(config.bots[0]!.blip.inboundToken).toBe('default-inbound-token-0123');
    expect(config.bots[0]!.helpdesk).toMatchObject({ url: 'https://tool.internal:8443/bridge', secret: TOOL_SECRET });
  });

  it('prefers the variable over the default, treats an empty variable as unset, and takes values literally', () => {
    const config = load(file(TEMPLATE), {
      ...ENV,
      BLIP_BASE: 'https://other.http.msging.net',
      BLIP_INBOUND_TOKEN: '',
      // A value that looks like a reference is not expanded again.
      BRIDGE_ADMIN_TOKEN: '${TOOL_SECRET}-and-more-characters',
    });
    expect(config.bots[0]!.blip.baseUrl).toBe('https://other.http.msging.net');
    expect(config.bots[0]!.blip.inboundToken).toBe('default-inbound-token-0123');
    expect(config.server.adminToken).toBe('${TOOL_SECRET}-and-more-characters');
  });

  it('reports each missing variable with the path that uses it', () => {
    const { BLIP_KEY: _k, TOOL_SECRET: _s, ...env } = ENV;
    const err = configError(() => load(file(TEMPLATE), env));
    expect(err.problems).toEqual([
      'bots[0].blip.accessKey: environment variable BLIP_KEY is not set',
      'bots[0].helpdesk.secret: environment variable TOOL_SECRET is not set',
    ]);
    expect(err.message).toContain('bots[0].blip.accessKey: environment variable BLIP_KEY is not set');
  });

  it('reads process.env by default', () => {
    const name = `BRIDGE_TEST_VAR_${process.pid}`;
    process.env[name] = 'acmefromenv';
    try {
      const raw = minimal();
      raw.bots[0]!['blip'].identifier = `\${${name}}`;
      expect(parseConfig(raw).bots[0]!.blip.identifier).toBe('acmefromenv');
    } finally {
      delete process.env[name];
    }
  });
});

describe('problems name their path', () => {
  it('reports wrong types, missing keys, short tokens and unknown keys, all at once', () => {
    const raw = minimal();
    raw.server = { adminToken: 'too-short', prot: 8080, port: 'eighty' };
    delete raw.bots[0]!['blip'].identifier;
    raw.bots[0]!['blip'].messagesPerSecond = 0;
    const err = configError(() => load(file(raw)));
    const paths = err.problems.map((p) => p.slice(0, p.indexOf(':')));
    expect(paths).toEqual(
      expect.arrayContaining(['server.prot', 'server.port', 'server.adminToken', 'bots[0].blip.identifier', 'bots[0].blip.messagesPerSecond']),
    );
    expect(err.problems).toContain('server.prot: Unexpected property');
    expect(err.problems).toContain('bots[0].blip.identifier: Expected required property');
    expect(err.problems.find((p) => p.startsWith('server.adminToken:'))).toMatch(/length greater or equal to 16/);
    expect(err.problems.find((p) => p.startsWith('server.port:'))).toMatch(/Expected integer/);
    expect(err.problems).toHaveLength(5);
    // The message lists every problem, under the file's name.
    expect(err.source).toMatch(/bridge-\d+\.yaml$/);
    expect(err.message.startsWith(`${err.source}: 5 problem(s)`)).toBe(true);
    for (const p of err.problems) expect(err.message).toContain(`  - ${p}`);
  });

  it('names a missing section and an empty bots list', () => {
    const raw = minimal();
    delete (raw as Record<string, unknown>)['server'];
    expect(configError(() => load(file(raw))).problems).toEqual(['server: Expected required property']);
    const none = minimal();
    none.bots = [];
    expect(configError(() => load(file(none))).problems[0]).toMatch(/^bots: /);
  });

  it('names the known helpdesk types when the type is unknown', () => {
    const raw = minimal();
    raw.bots[0]!['helpdesk'] = { type: 'zendesk', subdomain: 'acme' };
    const err = configError(() => load(file(raw)));
    expect(err.problems).toEqual([`bots[0].helpdesk.type: unknown helpdesk type "zendesk" (known: ${adapterTypes().join(', ')})`]);
    expect(adapterTypes()).toContain('webhook');
  });

  it("reports the webhook helpdesk's own schema errors under bots[i].helpdesk", () => {
    const raw = minimal();
    raw.bots.push({ ...structuredClone(raw.bots[0]!), id: 'beta' });
    raw.bots[1]!['helpdesk'] = { type: 'webhook', url: 'ftp://tool.example.com', secret: 'not-a-standard-webhooks-secret', timeoutMs: 5, colour: 'blue' };
    const err = configError(() => load(file(raw)));
    const paths = err.problems.map((p) => p.slice(0, p.indexOf(':')));
    expect(paths.sort()).toEqual(['bots[1].helpdesk.colour', 'bots[1].helpdesk.secret', 'bots[1].helpdesk.timeoutMs', 'bots[1].helpdesk.url']);
    expect(err.problems.find((p) => p.startsWith('bots[1].helpdesk.secret:'))).toContain('whsec_');
  });

  it('reports a secret with the whsec_ prefix but too few bytes', () => {
    const raw = minimal();
    raw.bots[0]!['helpdesk'].secret = `whsec_${Buffer.from('only-16-bytes!!!').toString('base64')}`;
    expect(configError(() => load(file(raw))).problems.map((p) => p.slice(0, p.indexOf(':')))).toEqual(['bots[0].helpdesk.secret']);
  });

  it.each([
    ['no whsec_ prefix', Buffer.from('a-secret-of-at-least-24-bytes!!!').toString('base64')],
    ['too few bytes', `whsec_${Buffer.from('only-16-bytes!!!').toString('base64')}`],
    ['not base64', 'whsec_this is not base64 at all, is it? no it is not'],
  ])('explains a bad secret (%s) in words, not as a regular expression, and never echoes it', (_name, secret) => {
    const raw = minimal();
    raw.bots[0]!['helpdesk'].secret = secret;
    const [problem, ...more] = configError(() => load(file(raw))).problems;
    expect(more).toEqual([]);
    expect(problem).toMatch(/^bots\[0\]\.helpdesk\.secret: must be whsec_ followed by the base64 of at least 24 random bytes .*Generate one with: node -e/);
    expect(problem).not.toMatch(/\^|\{4\}|match/);
    expect(problem).not.toContain(secret);
  });

  it.each([
    ['the Key header pasted whole', `Key ${Buffer.from('acme:secret').toString('base64')}`],
    ['a quoted key', `"${Buffer.from('secret').toString('base64')}"`],
    ['a key cut short', 'c2VjcmV0L'],
  ])('refuses an accessKey that is not base64 (%s), in words, without echoing it', (_name, accessKey) => {
    const raw = minimal();
    raw.bots[0]!['blip'].accessKey = accessKey;
    const [problem, ...more] = configError(() => load(file(raw))).problems;
    expect(more).toEqual([]);
    expect(problem).toMatch(/^bots\[0\]\.blip\.accessKey: must be the access key as the Blip portal shows it, which is base64/);
    expect(problem).not.toContain(accessKey);
  });

  it('reports duplicate bot ids', () => {
    const raw = minimal();
    raw.bots.push(structuredClone(raw.bots[0]!), { ...structuredClone(raw.bots[0]!), id: 'other' });
    expect(configError(() => load(file(raw))).problems).toEqual(['bots[1].id: duplicate bot id "acme"']);
  });

  it('reports problems of different stages together: variables, core schema, helpdesk schema, duplicates', () => {
    // One pass over the file must be enough to fix it (src/config/load.ts's promise).
    const raw = minimal();
    raw.server = { adminToken: 'too-short' };
    raw.bots[0]!['blip'].accessKey = '${BLIP_KEY}';
    raw.bots[0]!['helpdesk'].secret = 'not-a-standard-webhooks-secret';
    raw.bots.push({ ...structuredClone(minimal().bots[0]!), helpdesk: { type: 'zendesk' } });
    const err = configError(() => load(file(raw)));
    const paths = err.problems.map((p) => p.slice(0, p.indexOf(':')));
    expect(paths).toEqual(
      expect.arrayContaining(['bots[0].blip.accessKey', 'server.adminToken', 'bots[0].helpdesk.secret', 'bots[1].id', 'bots[1].helpdesk.type']),
    );
    // A missing variable is reported once, not again as the empty string it stands for.
    expect(err.problems.filter((p) => p.startsWith('bots[0].blip.accessKey:'))).toEqual(['bots[0].blip.accessKey: environment variable BLIP_KEY is not set']);
    expect(err.problems).toHaveLength(5);
  });
});

describe('secrets are never echoed', () => {
  it('does not print the value of a bad token, key or secret, but does print other bad values', () => {
    const raw = minimal();
    const secrets = {
      admin: 'SECRET-admin-x',
      inbound: 'SECRET-inb',
      helpdesk: 'SECRET-whsec-less-but-long-enough-to-matter',
    };
    raw.server = { adminToken: secrets.admin };
    raw.bots[0]!['blip'].inboundToken = secrets.inbound;
    raw.bots[0]!['blip'].accessKey = 123456789;
    raw.bots[0]!['blip'].identifier = 'acme@msging.net';
    raw.bots[0]!['helpdesk'].secret = secrets.helpdesk;
    const err = configError(() => load(file(raw)));
    expect(err.problems.map((p) => p.slice(0, p.indexOf(':'))).sort()).toEqual([
      'bots[0].blip.accessKey',
      'bots[0].blip.identifier',
      'bots[0].blip.inboundToken',
      'bots[0].helpdesk.secret',
      'server.adminToken',
    ]);
    expect(err.message).not.toContain('SECRET');
    expect(err.message).not.toContain('123456789');
    // Values that are not secrets are shown, so the user sees what was wrong.
    expect(err.message).toContain('(got "acme@msging.net")');
  });

  it('does not print the value of an unknown key that looks like a secret', () => {
    const raw = minimal();
    raw.server = { ...raw.server, adminTokn: 'SECRET-typo-in-the-key-name' };
    raw.bots[0]!['blip'].acessKey = 'SECRET-another-typo';
    const err = configError(() => load(file(raw)));
    expect(err.problems.map((p) => p.slice(0, p.indexOf(':'))).sort()).toEqual(['bots[0].blip.acessKey', 'server.adminTokn']);
    expect(err.message).not.toContain('SECRET');
  });

  it("does not print the webhook helpdesk's extra headers (they carry gateway credentials)", () => {
    const raw = minimal();
    raw.bots[0]!['helpdesk'].headers = { Authorization: 987654321 };
    const err = configError(() => load(file(raw)));
    expect(err.problems.map((p) => p.slice(0, p.indexOf(':')))).toEqual(['bots[0].helpdesk.headers.Authorization']);
    expect(err.message).not.toContain('987654321');
  });
});

describe('the file', () => {
  it('reports a YAML syntax error with its position', () => {
    const path = file('server:\n  adminToken: "unterminated\nbots: [\n');
    const err = configError(() => load(path));
    expect(err.source).toBe(path);
    expect(err.problems.length).toBeGreaterThan(0);
    for (const p of err.problems) expect(p).toMatch(/^YAML: /);
    expect(err.problems.join('\n')).toMatch(/line \d+/);
  });

  it('does not print the offending line, which may hold a secret', () => {
    const path = file('server:\n  adminToken: "sup3r-s3cret-t0ken-value\n  port: [\n');
    const err = configError(() => load(path));
    expect(err.problems.join('\n')).not.toContain('sup3r-s3cret');
  });

  it('reports a file that is not a mapping', () => {
    expect(configError(() => load(file(''))).problems).toEqual(['(root): Expected object']);
    expect(configError(() => load(file('- a\n- b\n'))).problems).toEqual(['(root): Expected object']);
  });

  it('reports a missing file, naming it', () => {
    const path = join(dir, 'does-not-exist.yaml');
    const err = configError(() => load(path));
    expect(err.source).toBe(path);
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(/^cannot read the file: .*ENOENT/);
    expect(err.message).toContain(path);
  });
});

describe('PORT', () => {
  it('overrides server.port, and the result is still frozen', () => {
    const raw = minimal();
    raw.server = { ...raw.server, port: 9000 };
    const path = file(raw);
    const config: Config = load(path, { PORT: '9191' });
    expect(config.server.port).toBe(9191);
    expect(config.server.adminToken).toBe(ADMIN_TOKEN);
    expect(config.bots[0]!.blip.identifier).toBe('acmehuman');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.server)).toBe(true);
    expect(Object.isFrozen(config.bots[0]!.blip)).toBe(true);
    expect(load(path, { PORT: '0' }).server.port).toBe(0);
    expect(load(path, { PORT: '' }).server.port).toBe(9000);
    expect(load(path, {}).server.port).toBe(9000);
  });

  it.each(['abc', '70000', '-1', '80.5', '0x1F90', '1e3', ' ', '8080 '])('refuses PORT=%j', (port) => {
    const err = configError(() => load(file(MINIMAL), { PORT: port }));
    expect(err.problems).toEqual([`PORT: not a port number (got ${JSON.stringify(port)})`]);
  });

  it('is reported together with the problems of the file', () => {
    const raw = minimal();
    raw.server = { adminToken: 'too-short' };
    const err = configError(() => load(file(raw), { PORT: 'abc' }));
    expect(err.problems.map((p) => p.slice(0, p.indexOf(':'))).sort()).toEqual(['PORT', 'server.adminToken']);
  });
});
