/**
 * Loads bridge.yaml: YAML → ${VAR} interpolation → defaults → schema (core, then each bot's
 * helpdesk against its adapter's schema) → frozen. Every problem is reported with the path it
 * concerns, all at once, so a user fixes a file in one go.
 */
import { readFileSync } from 'node:fs';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { parseDocument } from 'yaml';
import type { TSchema } from '@sinclair/typebox';
import { AttendanceConfig, ConfigSchema, type BotConfig, type Config } from './schema.js';
import { attemptTimingProblem } from '../delivery/attempt.js';
import { policyProblems } from '../core/policy.js';
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
const attendanceCheck = TypeCompiler.Compile(AttendanceConfig);
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

/** Paths whose values are never echoed in a problem. */
const SECRET_PATH = /token|key|secret|password|headers|store\.url/i;

/** Schema problems of `value`, one per path, skipping paths in `skip` (already reported). */
function schemaProblems(schema: TSchema, value: unknown, prefix: string, skip: ReadonlySet<string> = new Set()): string[] {
  let check = compiled.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  const seen = new Set<string>(skip);
  const out: string[] = [];
  for (const e of check.Errors(value)) {
    const path = readablePath(e.path, prefix);
    // A union reports one error per branch; the first per path is the useful one.
    if (seen.has(path)) continue;
    seen.add(path);
    // The value of an unknown key is not what is wrong, and a misspelt key (adminTokn: ${TOKEN})
    // must not print the secret it holds.
    const echo = e.value !== undefined && typeof e.value !== 'object' && e.type !== ValueErrorType.ObjectAdditionalProperties && !SECRET_PATH.test(path);
    // A schema may say in words what its pattern means (`errorMessage`): a regex explains nothing.
    const words = (e.schema as { errorMessage?: unknown }).errorMessage;
    const message = e.type === ValueErrorType.StringPattern && typeof words === 'string' ? words : e.message;
    out.push(`${path}: ${message}${echo ? ` (got ${JSON.stringify(e.value)})` : ''}`);
  }
  return out;
}

/** Validates an already-parsed object (tests and the sandbox build configs in code). */
export function parseConfig(raw: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const unset = new Set<string>();
  const interpolated = interpolate(raw, env, '', problems);
  // A variable that is not set is reported at its path; the empty string standing for it must not
  // be reported there again by the schemas.
  for (const p of problems) unset.add(p.slice(0, p.indexOf(': ')));
  const value = Value.Default(ConfigSchema, structuredClone(interpolated));
  if (!coreCheck.Check(value)) problems.push(...schemaProblems(ConfigSchema, value, '', unset));
  // The bots are checked even when other parts are wrong, so that every problem shows at once.
  const bots: unknown[] = isObject(value) && Array.isArray(value['bots']) ? value['bots'] : [];
  const ids = new Set<string>();
  bots.forEach((bot, i) => {
    if (!isObject(bot)) return;
    const id = bot['id'];
    if (typeof id === 'string') {
      if (ids.has(id)) problems.push(`bots[${i}].id: duplicate bot id "${id}"`);
      ids.add(id);
    }
    // What a schema cannot see (a time zone that exists, slots that do not overlap…), once the
    // attendance block has the right shape.
    if (attendanceCheck.Check(bot['attendance'])) problems.push(...policyProblems(bot['attendance'] as BotConfig['attendance'], `bots[${i}].attendance`));
    const helpdesk = bot['helpdesk'];
    if (!isObject(helpdesk) || typeof helpdesk['type'] !== 'string' || helpdesk['type'] === '') return; // the core schema said so
    const def = adapterDefinition(helpdesk['type']);
    if (!def) {
      problems.push(`bots[${i}].helpdesk.type: unknown helpdesk type "${helpdesk['type']}" (known: ${adapterTypes().join(', ')})`);
      return;
    }
    const withDefaults = Value.Default(def.configSchema, helpdesk);
    problems.push(...schemaProblems(def.configSchema, withDefaults, `bots[${i}].helpdesk`, unset));
    bot['helpdesk'] = withDefaults;
  });
  if (problems.length === 0) {
    const timing = attemptTimingProblem(value as Config);
    if (timing) problems.push(timing);
  }
  if (problems.length) throw new ConfigError(source, problems);
  return deepFreeze(value as Config);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  // Not prettyErrors: its snippet of the offending line could print a secret written there.
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length) {
    throw new ConfigError(
      path,
      doc.errors.map((e) => {
        const before = text.slice(0, e.pos[0]).split('\n');
        return `YAML: line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}: ${e.code}: ${e.message.split('\n')[0] ?? ''}`;
      }),
    );
  }
  const port = env['PORT'];
  // Digits only: Number() would also take '0x1F90', '1e3' and ' ' (= 0, a random port).
  const portProblem =
    port === undefined || port === '' || (/^\d{1,5}$/.test(port) && Number(port) <= 65535) ? undefined : `PORT: not a port number (got ${JSON.stringify(port)})`;
  let config: Config;
  try {
    config = parseConfig(doc.toJS(), path, env);
  } catch (err) {
    if (err instanceof ConfigError && portProblem) throw new ConfigError(path, [...err.problems, portProblem]);
    throw err;
  }
  if (portProblem) throw new ConfigError(path, [portProblem]);
  if (port !== undefined && port !== '') {
    return deepFreeze({ ...structuredClone(config), server: { ...config.server, port: Number(port) } } as Config);
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
