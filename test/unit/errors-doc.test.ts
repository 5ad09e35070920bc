/**
 * docs/errors.md and the catalog (src/http/errors.ts) say the same thing (DESIGN §10): every code
 * is documented with its status and message, and the doc lists nothing the catalog does not have.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BridgeError, ERRORS } from '../../src/http/errors.js';

const DOC_PATH = new URL('../../docs/errors.md', import.meta.url);

type Catalog = Record<string, { status: number; message: string }>;

/** The cells of a Markdown table row (`| a | b \| c |` → ['a', 'b | c']). */
function cells(line: string): string[] {
  const body = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  return body.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

const isSeparator = (line: string) => /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(line);
const unquote = (cell: string) => cell.replace(/^`(.*)`$/, '$1').trim();

/** Every Markdown table whose header names a `code` and a `status` column, as rows keyed by header. */
function codeTables(markdown: string): Array<Array<Record<string, string>>> {
  const lines = markdown.split(/\r?\n/);
  const tables: Array<Array<Record<string, string>>> = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    const header = lines[i]!;
    if (!header.trim().startsWith('|') || !isSeparator(lines[i + 1]!)) continue;
    const names = cells(header).map((h) => h.toLowerCase());
    if (!names.includes('code') || !names.includes('status')) continue;
    const rows: Array<Record<string, string>> = [];
    let j = i + 2;
    for (; j < lines.length && lines[j]!.trim().startsWith('|'); j++) {
      const values = cells(lines[j]!);
      rows.push(Object.fromEntries(names.map((n, k) => [n, values[k] ?? ''])));
    }
    tables.push(rows);
    i = j;
  }
  return tables;
}

/** What is out of sync between the doc and the catalog; empty when they agree. */
function syncProblems(markdown: string, catalog: Catalog): string[] {
  const problems: string[] = [];
  const tables = codeTables(markdown);
  if (tables.length === 0) return ['no table with "code" and "status" columns'];
  const documented = new Map<string, Record<string, string>>();
  for (const row of tables.flat()) {
    const code = unquote(row['code'] ?? '');
    if (documented.has(code)) problems.push(`${code}: listed twice`);
    documented.set(code, row);
    const entry = catalog[code];
    if (!entry) {
      problems.push(`${code}: in the doc, not in the catalog`);
      continue;
    }
    const status = unquote(row['status'] ?? '');
    if (status !== String(entry.status)) problems.push(`${code}: the doc says status ${status}, the catalog ${entry.status}`);
    if (row['message'] !== undefined && unquote(row['message']) !== entry.message) {
      problems.push(`${code}: the doc says message ${JSON.stringify(row['message'])}, the catalog ${JSON.stringify(entry.message)}`);
    }
    for (const column of ['when', 'what the caller should do']) {
      if (!(row[column] ?? '').trim()) problems.push(`${code}: empty "${column}"`);
    }
  }
  for (const code of Object.keys(catalog)) if (!documented.has(code)) problems.push(`${code}: in the catalog, not in the doc`);
  return problems;
}

const doc = readFileSync(DOC_PATH, 'utf8');
const catalog: Catalog = ERRORS;

describe('docs/errors.md', () => {
  it('documents every code of the catalog with its status and message, and nothing else', () => {
    expect(syncProblems(doc, catalog)).toEqual([]);
  });

  it('shows the answer body the error handler sends: { error: { code, message, detail? } }', () => {
    const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as unknown);
    const example = blocks.find((b): b is { error: Record<string, unknown> } => typeof b === 'object' && b !== null && 'error' in b);
    expect(example, 'a ```json block with an "error" object').toBeDefined();
    const actual = new BridgeError('BRIDGE_ERR_UNAUTHORIZED', 'some detail').toJSON();
    expect(Object.keys(example!)).toEqual(Object.keys(actual));
    expect(Object.keys(example!.error).sort()).toEqual(Object.keys(actual.error).sort());
    // The example is a real catalog entry, not an invented one.
    const code = example!.error['code'] as string;
    expect(catalog[code]?.message).toBe(example!.error['message']);
    // detail is optional: absent when the error has none.
    expect(new BridgeError('BRIDGE_ERR_INTERNAL').toJSON()).toEqual({ error: { code: 'BRIDGE_ERR_INTERNAL', message: ERRORS.BRIDGE_ERR_INTERNAL.message } });
  });
});

describe('the doc/catalog check itself', () => {
  // The check above passes only if it can fail: each kind of drift must be caught.
  const first = Object.keys(catalog)[0]!;
  const firstRow = doc.split('\n').find((l) => l.startsWith(`| \`${first}\``))!;

  it('finds the rows of the real doc', () => {
    expect(firstRow).toBeDefined();
    expect(
      codeTables(doc)
        .flat()
        .map((r) => unquote(r['code']!)),
    ).toEqual(expect.arrayContaining(Object.keys(catalog)));
  });

  it('catches a code missing from the doc', () => {
    expect(syncProblems(doc.replace(`${firstRow}\n`, ''), catalog)).toEqual([`${first}: in the catalog, not in the doc`]);
  });

  it('catches a code in the doc that the catalog does not have', () => {
    const extra = firstRow.replace(first, 'BRIDGE_ERR_NO_SUCH_THING');
    expect(syncProblems(doc.replace(firstRow, `${firstRow}\n${extra}`), catalog)).toEqual(['BRIDGE_ERR_NO_SUCH_THING: in the doc, not in the catalog']);
  });

  it('catches a status that differs from the catalog', () => {
    const status = catalog[first]!.status;
    const changed = firstRow.replace(`| ${status} |`, '| 418 |');
    expect(changed).not.toBe(firstRow);
    expect(syncProblems(doc.replace(firstRow, changed), catalog)).toEqual([`${first}: the doc says status 418, the catalog ${status}`]);
  });

  it('catches a message that differs from the catalog, a duplicate row and a missing table', () => {
    const changed = firstRow.replace(catalog[first]!.message, 'Something else.');
    expect(syncProblems(doc.replace(firstRow, changed), catalog)).toHaveLength(1);
    expect(syncProblems(doc.replace(firstRow, `${firstRow}\n${firstRow}`), catalog)).toEqual([`${first}: listed twice`]);
    expect(syncProblems('# Errors\n\nnothing here\n', catalog)).toEqual(['no table with "code" and "status" columns']);
  });

  it('catches a catalog entry added without its doc row', () => {
    expect(syncProblems(doc, { ...catalog, BRIDGE_ERR_NEW: { status: 422, message: 'New.' } })).toEqual(['BRIDGE_ERR_NEW: in the catalog, not in the doc']);
  });
});
