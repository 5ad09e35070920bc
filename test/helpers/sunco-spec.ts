/**
 * Zendesk's Sunshine Conversations description (../shared/specs/sunshine-conversations/openapi.yaml),
 * normalised so ajv can compile it, for every test that validates SunCo traffic (the simulator's
 * tests and the zendesk-messaging adapter's). Each translation asserts its target still exists, so a
 * new description that no longer needs it fails loudly here instead of silently loosening checks.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { OpenApi, specAvailable, specPath, type Problem } from './openapi.js';

export const SUNCO_SPEC = 'sunshine-conversations/openapi.yaml';

/** False where ../shared is absent: tests then skip the validation, saying so. */
export function suncoSpecAvailable(): boolean {
  return specAvailable(SUNCO_SPEC);
}

/**
 * test/helpers/openapi.ts hands a description to ajv as is. Two OpenAPI 3.0 constructs in the SunCo
 * file need translating first, or validation is impossible or wrong:
 * - `nullable` on a schema without `type` (e.g. `allOf` + `nullable: true`): ajv throws
 *   '"nullable" cannot be used without "type"'. OpenAPI means "this, or null".
 * - `oneOf` + `discriminator` (message `content`, …): with discriminators off, `textMessage` (whose
 *   `type` has no enum) matches every content, so an image is "text, file and image" and fails
 *   oneOf. OpenAPI means "the schema the discriminator value maps to".
 * Mutates `doc`; returns how many of each it translated.
 */
export function normaliseSunCoSpec(doc: unknown): { nullable: number; discriminators: number } {
  const counts = { nullable: 0, discriminators: 0 };
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(walk);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const o = node as Record<string, unknown>;
    for (const v of Object.values(o)) walk(v);
    const disc = o['discriminator'] as { propertyName?: string; mapping?: Record<string, string> } | undefined;
    if (disc?.propertyName && disc.mapping && Array.isArray(o['oneOf'])) {
      counts.discriminators += 1;
      const prop = disc.propertyName;
      delete o['oneOf'];
      delete o['discriminator'];
      o['required'] = [...new Set([...((o['required'] as string[] | undefined) ?? []), prop])];
      o['properties'] = { ...((o['properties'] as object | undefined) ?? {}), [prop]: { enum: Object.keys(disc.mapping) } };
      o['allOf'] = Object.entries(disc.mapping).map(([value, ref]) => ({ if: { properties: { [prop]: { const: value } } }, then: { $ref: `spec${ref}` } }));
    }
    if (o['nullable'] !== undefined && o['type'] === undefined) {
      counts.nullable += 1;
      const nullable = o['nullable'] === true;
      delete o['nullable'];
      if (nullable) {
        const rest = { ...o };
        for (const k of Object.keys(o)) delete o[k];
        o['anyOf'] = [rest, { type: 'null' }];
      }
    }
  };
  walk(doc);
  return counts;
}

/** The normalised description as an OpenApi checker. Throws where ../shared is absent: check `suncoSpecAvailable()` first. */
export function suncoSpec(): OpenApi {
  const doc: unknown = parse(readFileSync(specPath(SUNCO_SPEC), 'utf8'));
  const counts = normaliseSunCoSpec(doc);
  if (counts.nullable === 0) throw new Error('SunCo spec normalisation no longer applies: nullable without type');
  if (counts.discriminators === 0) throw new Error('SunCo spec normalisation no longer applies: oneOf + discriminator');
  const dir = mkdtempSync(join(tmpdir(), 'sunco-spec-'));
  const file = join(dir, 'openapi.json');
  writeFileSync(file, JSON.stringify(doc));
  try {
    return new OpenApi(file); // an absolute path: specPath() resolves it to itself; read at once
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Readable failure: the problem itself, so `expect(explain(p)).toBe('')` prints what is wrong. */
export const explain = (p: Problem | undefined): string => (p ? `${p.where}: ${p.errors.join('; ')}` : '');

/** The webhook event component for each trigger (spec `x-webhooks` "Webhook Event"). */
export const SUNCO_EVENT_COMPONENT: Readonly<Record<string, string>> = {
  'conversation:create': 'conversationCreateEvent',
  'conversation:message': 'conversationMessageEvent',
  'conversation:read': 'conversationReadEvent',
  'conversation:typing': 'conversationTypingEvent',
  'switchboard:acceptControl': 'switchboardAcceptControl',
  'switchboard:offerControl': 'switchboardOfferControl',
  'switchboard:passControl': 'switchboardPassControl',
  'switchboard:releaseControl': 'switchboardReleaseControl',
};
