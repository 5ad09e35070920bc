/**
 * Renders the configuration reference (docs/configuration.md) from the schemas themselves, so the
 * documentation cannot drift from what the loader accepts (a test compares the file).
 * Run: npm run docs:config
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Kind, type TSchema } from '@sinclair/typebox';
import { ConfigSchema } from './schema.js';
import { adapterTypes, adapterDefinition } from '../helpdesks/registry.js';

interface Row {
  key: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
}

function typeOf(s: TSchema): string {
  const kind = s[Kind] as string;
  if (kind === 'Union') return (s['anyOf'] as TSchema[]).map(typeOf).join(' \\| ');
  if (kind === 'Literal') return JSON.stringify(s['const']);
  if (kind === 'Array') return `list of ${typeOf(s['items'] as TSchema)}`;
  if (kind === 'Record') return 'map';
  return kind.toLowerCase();
}

function walk(schema: TSchema, prefix: string, required: boolean, rows: Row[]): void {
  const kind = schema[Kind] as string;
  const props = kind === 'Object' ? (schema['properties'] as Record<string, TSchema>) : kind === 'Array' && (schema['items'] as TSchema)[Kind] === 'Object' ? ((schema['items'] as TSchema)['properties'] as Record<string, TSchema>) : undefined;
  const here: Row = { key: prefix, type: typeOf(schema), required, description: (schema['description'] as string | undefined) ?? '' };
  if (schema['default'] !== undefined && kind !== 'Object') here.default = schema['default'];
  if (prefix && (!props || here.description)) rows.push(here);
  if (!props) return;
  const req = new Set<string>(((kind === 'Array' ? (schema['items'] as TSchema) : schema)['required'] as string[] | undefined) ?? []);
  const base = kind === 'Array' ? `${prefix}[]` : prefix;
  for (const [k, v] of Object.entries(props)) {
    if (base === 'bots[]' && k === 'helpdesk') continue; // documented per adapter below
    walk(v, base ? `${base}.${k}` : k, req.has(k) && v['default'] === undefined, rows);
  }
}

function table(rows: Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    '| key | type | required | default | meaning |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| \`${r.key}\` | ${r.type} | ${r.required ? 'yes' : 'no'} | ${r.default === undefined ? '' : `\`${esc(JSON.stringify(r.default))}\``} | ${esc(r.description)} |`),
  ].join('\n');
}

export function renderReference(): string {
  const rows: Row[] = [];
  walk(ConfigSchema, '', true, rows);
  const parts = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts and each adapter\'s schema by `npm run docs:config`; do not edit by hand. -->',
    '',
    'The service reads the YAML file named by `BRIDGE_CONFIG` (default `./bridge.yaml`). Any string may use',
    '`${VAR}` or `${VAR:-default}` to read the environment; a missing variable is an error naming the key.',
    '`PORT` overrides `server.port`. Unknown keys are errors, so typos do not pass silently.',
    '',
    table(rows),
    '',
    '## `bots[].helpdesk`',
    '',
    'One block per bot; `type` chooses the adapter. Each adapter validates its own keys:',
  ];
  for (const type of adapterTypes()) {
    const def = adapterDefinition(type)!;
    const r: Row[] = [];
    walk(def.configSchema, 'bots[].helpdesk', true, r);
    parts.push('', `### \`type: ${type}\``, '', table(r));
  }
  return `${parts.join('\n')}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  writeFileSync('docs/configuration.md', renderReference());
  console.log('wrote docs/configuration.md');
}
