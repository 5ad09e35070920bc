/**
 * Loads bridge.yaml: YAML → ${VAR} interpolation → defaults → schema (core, then each bot's
 * helpdesk against its adapter's schema) → frozen. Every problem is reported with the path it
 * concerns, all at once, so a user fixes a file in one go.
 */
import { readFileSync } from 'node:fs';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { parseDocument } from 'yaml';
import type { TSchema } from '@sinclair/typebox';
import { ConfigSchema, type Config } from './schema.js';
import { adapterDefinition, adapterTypes } from '../helpdesks/registry.js';

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: ${problems.length} problem(s) in the configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const coreCheck = TypeCompiler.Compile(ConfigSchema);
const compiled = new Map<TSchema, ReturnType<typeof TypeCompiler.Compile>>();

/** `/bots/0/blip/accessKey` → `bots[0].blip.accessKey` */
export function readablePath(pointer: string, prefix = ''): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = prefix;
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(root)' : out;
}

/** Replaces ${VAR} and ${VAR:-default} in every string scalar; missing variables are errors. */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: string, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      problems.push(`${path || '(root)'}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${path}[${i}]`, problems));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, env, path ? `${path}.${k}` : k, problems);
    return out;
  }
  return value;
}

function schemaProblems(schema: TSchema, value: unknown, prefix: string): string[] {
  let check = compiled.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of check.Errors(value)) {
    const path = readablePath(e.path, prefix);
    // A union reports one error per branch; the first per path is the useful one.
    if (seen.has(path)) continue;
    seen.add(path);
    out.push(`${path}: ${e.message}${e.value !== undefined && typeof e.value !== 'object' && !/token|key|secret/i.test(path) ? ` (got ${JSON.stringify(e.value)})` : ''}`);
  }
  return out;
}

/** Validates an already-parsed object (tests and the sandbox build configs in code). */
export function parseConfig(raw: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const interpolated = interpolate(raw, env, '', problems);
  if (problems.length) throw new ConfigError(source, problems);
  const value = Value.Default(ConfigSchema, structuredClone(interpolated));
  if (!coreCheck.Check(value)) throw new ConfigError(source, schemaProblems(ConfigSchema, value, ''));
  const config = value as Config;
  const ids = new Set<string>();
  config.bots.forEach((bot, i) => {
    if (ids.has(bot.id)) problems.push(`bots[${i}].id: duplicate bot id "${bot.id}"`);
    ids.add(bot.id);
    const def = adapterDefinition(bot.helpdesk.type);
    if (!def) {
      problems.push(`bots[${i}].helpdesk.type: unknown helpdesk type "${bot.helpdesk.type}" (known: ${adapterTypes().join(', ')})`);
      return;
    }
    const helpdesk = Value.Default(def.configSchema, bot.helpdesk);
    problems.push(...schemaProblems(def.configSchema, helpdesk, `bots[${i}].helpdesk`));
    bot.helpdesk = helpdesk as typeof bot.helpdesk;
  });
  if (problems.length) throw new ConfigError(source, problems);
  return deepFreeze(config);
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new ConfigError(path, doc.errors.map((e) => `YAML: ${e.message}`));
  const config = parseConfig(doc.toJS(), path, env);
  const port = env['PORT'];
  if (port !== undefined && port !== '') {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(path, [`PORT: not a port number (got ${JSON.stringify(port)})`]);
    return deepFreeze({ ...structuredClone(config), server: { ...config.server, port: n } } as Config);
  }
  return config;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
