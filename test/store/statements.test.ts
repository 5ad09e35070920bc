/**
 * The hot statements (src/store/statements.ts) are compiled once per engine with a placeholder per
 * parameter. Here every parameter of every statement gets a distinct value, and the statement as
 * compiled up front, bound by name, must be exactly what Kysely builds from those values itself:
 * same SQL, same values in the same positions. A swapped or forgotten parameter would show, which
 * equal values would hide.
 */
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/schema.js';
import { DEFINITIONS, bind, compileStatements, type StatementName } from '../../src/store/statements.js';

// Compiling needs a dialect, never a connection.
const never = () => {
  throw new Error('no connection: statements are only compiled here');
};
const engines = {
  sqlite: new Kysely<Database>({ dialect: new SqliteDialect({ database: never as never }) }),
  postgres: new Kysely<Database>({ dialect: new PostgresDialect({ pool: never as never }) }),
};

/** A distinct value for every parameter name, of a type that column takes. */
function distinctValues(): Record<string, unknown> {
  let n = 1000;
  return new Proxy({} as Record<string, unknown>, {
    get: (cache, name: string) => (cache[name] ??= /^(now|nextAt|leaseUntil|limit|attempts|id|createdAt|dueAt)$/.test(name) ? ++n : `${name}-${++n}`),
  });
}

describe.each(Object.entries(engines))('hot statements on %s', (_engine, db) => {
  const statements = compileStatements(db);
  const names = Object.keys(DEFINITIONS) as StatementName[];

  it('PostgreSQL claims lock the heads they take, and skip those locked by others', () => {
    expect(statements.claimHeads.sql.includes('for update of "d" skip locked')).toBe(_engine === 'postgres');
  });

  it.each(names)('%s binds each value to its own parameter', (name) => {
    const values = distinctValues();
    // Read every name the statement binds, so the proxy holds a value for each.
    const named = statements[name].slots.flatMap((s) => ('name' in s ? [s.name] : []));
    for (const k of named) void values[k];
    const expected = (DEFINITIONS[name] as { build(db: Kysely<Database>, p: unknown): { compile(): { sql: string; parameters: readonly unknown[] } } }).build(db, values).compile();
    const ours = bind(statements, name, values as never);
    expect(ours.sql).toBe(expected.sql);
    expect(ours.parameters).toEqual(expected.parameters);
  });

  it('no two names are one statement, and a missing value is refused', () => {
    // markDone and markDead share their SQL text and differ in what they bind.
    const shapes = names.map((n) => JSON.stringify([statements[n].sql, statements[n].slots]));
    expect(new Set(shapes).size).toBe(shapes.length);
    expect(() => bind(statements, 'attendance', {} as never)).toThrow('store: statement attendance needs a value for id');
  });
});
