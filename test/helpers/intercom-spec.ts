/**
 * Intercom's 2.14 API description (../shared/specs/intercom/api.intercom.io.2.14.yaml), normalised
 * so ajv can compile it, for every test that validates Intercom traffic (the simulator's tests and
 * the adapter's). Each fix asserts its target still exists, so a new description that no longer
 * needs it fails loudly here instead of silently loosening the checks.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { OpenApi, specAvailable, specPath } from './openapi.js';

export const INTERCOM_SPEC = 'intercom/api.intercom.io.2.14.yaml';

/** False where ../shared is absent: tests then skip the validation, with a warning. */
export function intercomSpecAvailable(): boolean {
  return specAvailable(INTERCOM_SPEC);
}

/**
 * A copy of the 2.14 description with its self-contradictions fixed, so that what Intercom's own
 * examples show validates. Each fix is named and justified below.
 */
function normalisedSpec(): { file: string; cleanup: () => void } {
  const doc = parse(readFileSync(specPath(INTERCOM_SPEC), 'utf8')) as Record<string, any>;
  const schemas = doc['components']['schemas'];
  const must = (cond: unknown, what: string) => {
    if (!cond) throw new Error(`spec normalisation no longer applies: ${what}`);
  };
  // 1. `nullable` beside `$ref` / `oneOf` without `type` (e.g. conversation.ai_agent, conversation_part.assigned_to):
  //    OpenAPI 3.0 ignores it and ajv refuses it, but the description's examples put null there. Made explicit.
  //    `nullable: false` without type (content_sources_list) is a no-op that ajv also refuses.
  let nullableFixes = 0;
  const walk = (n: any): void => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== 'object') return;
    Object.values(n).forEach(walk);
    if (n.type !== undefined || n.nullable === undefined) return;
    nullableFixes += 1;
    if (n.nullable === true && n.$ref) {
      n.anyOf = [{ $ref: n.$ref }, { type: 'null' }];
      delete n.$ref;
    } else if (n.nullable === true && Array.isArray(n.oneOf)) {
      n.oneOf.push({ type: 'null' });
    }
    delete n.nullable;
  };
  walk(schemas);
  must(nullableFixes >= 10, 'nullable without type');
  // 2. create_conversation_request.from.id is `format: uuid`, yet contact ids are 24 hex characters
  //    (its own example `6762f11b1bb69f9f2193bba3` fails the format).
  const fromId = schemas['create_conversation_request']['properties']['from']['properties']['id'];
  must(fromId['format'] === 'uuid', 'from.id format uuid');
  delete fromId['format'];
  // 3. Contact sub-list urls are `format: uri`, but every contact example shows "/contacts/{id}/tags".
  for (const name of ['contact_tags', 'contact_notes', 'contact_companies', 'contact_subscription_types']) {
    must(schemas[name]['properties']['url']['format'] === 'uri', `${name}.url format uri`);
    schemas[name]['properties']['url']['format'] = 'uri-reference';
  }
  // 4. `format: timestamp` is not a format ajv knows (it only warns); the type (integer) stays checked.
  const snoozed = schemas['snooze_conversation_request']['properties']['snoozed_until'];
  must(snoozed['format'] === 'timestamp', 'snoozed_until format timestamp');
  delete snoozed['format'];
  const dir = mkdtempSync(join(tmpdir(), 'intercom-spec-'));
  const file = join(dir, 'api.intercom.io.2.14.normalised.yaml');
  writeFileSync(file, stringify(doc));
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The normalised description as an OpenApi checker, and a cleanup that removes its temporary copy
 * (call it in afterAll). Throws where ../shared is absent: check `intercomSpecAvailable()` first.
 */
export function intercomSpec(): { api: OpenApi; cleanup: () => void } {
  const n = normalisedSpec();
  try {
    return { api: new OpenApi(n.file), cleanup: n.cleanup };
  } catch (err) {
    n.cleanup();
    throw err;
  }
}
