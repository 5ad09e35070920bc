/**
 * Bodies arrive as raw bytes (signatures are checked on them before anything is parsed) and are
 * parsed and validated per route with a compiled schema. A failure names the field.
 */
import type { TSchema, Static } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { BridgeError, type ErrorCode } from './errors.js';

export function parseJson(raw: unknown): unknown {
  if (!Buffer.isBuffer(raw)) {
    if (raw === undefined || raw === null) throw new BridgeError('BRIDGE_ERR_INVALID_JSON', 'the body is empty');
    return raw;
  }
  if (raw.length === 0) throw new BridgeError('BRIDGE_ERR_INVALID_JSON', 'the body is empty');
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new BridgeError('BRIDGE_ERR_INVALID_JSON', (err as Error).message);
  }
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
    throw new BridgeError(this.code, `${path}: ${first?.message ?? 'invalid'}`);
  }
}
