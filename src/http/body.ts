/**
 * Bodies arrive as raw bytes (signatures are checked on them before anything is parsed) and are
 * parsed and validated per route with a compiled schema. A failure names the field.
 */
import type { TSchema, Static } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { ValueError } from '@sinclair/typebox/errors';
import { BridgeError, type ErrorCode } from './errors.js';

export function parseJson(raw: unknown): unknown {
  if (!Buffer.isBuffer(raw)) {
    if (raw === undefined || raw === null) throw new BridgeError('BRIDGE_ERR_INVALID_JSON', 'the body is empty');
    return raw;
  }
  if (raw.length === 0) throw new BridgeError('BRIDGE_ERR_INVALID_JSON', 'the body is empty');
  const text = raw.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BridgeError('BRIDGE_ERR_INVALID_JSON', (err as Error).message);
  }
  // PostgreSQL cannot store U+0000 in text, so such a body would be accepted by SQLite and fail with
  // a 5xx on PostgreSQL: refuse it the same way on both. Only an escape can put one in a JSON
  // string (a raw control character is invalid JSON), so the walk runs only when one is written.
  if (/\\u0000/i.test(text) && hasNul(value)) throw new BridgeError('BRIDGE_ERR_INVALID_JSON', 'strings must not contain U+0000 (NUL)');
  return value;
}

function hasNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\0');
  if (Array.isArray(v)) return v.some(hasNul);
  if (v !== null && typeof v === 'object') return Object.entries(v).some(([k, x]) => k.includes('\0') || hasNul(x));
  return false;
}

export class Validator<T extends TSchema> {
  private readonly check: TypeCheck<T>;
  constructor(
    schema: T,
    private readonly code: ErrorCode,
  ) {
    this.check = TypeCompiler.Compile(schema);
  }

  parse(value: unknown): Static<T> {
    if (this.check.Check(value)) return value;
    const first = this.check.Errors(value).First();
    const path = first?.path ? first.path : '/';
    throw new BridgeError(this.code, `${path}: ${first ? explain(first) : 'invalid'}`);
  }
}

/** TypeBox says "Expected union value" for a list of literals; name the values instead. */
function explain(e: ValueError): string {
  const variants = (e.schema as { anyOf?: Array<{ const?: unknown }> }).anyOf;
  if (variants && variants.length > 0 && variants.every((v) => typeof v.const === 'string')) {
    return `${JSON.stringify(e.value)} is not one of: ${variants.map((v) => v.const as string).join(', ')}`;
  }
  return e.message;
}
