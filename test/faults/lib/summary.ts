/**
 * The fault suite's summary table. Each scenario attaches its rows to its test's `meta` (which
 * vitest carries from the worker to the main process, failed or not), and this reporter prints them
 * once the run ends, after vitest's own summary, so CI logs end with the figures.
 */
import type { TestContext } from 'vitest';
import type { Reporter, TestModule } from 'vitest/node';

export interface FaultRow {
  scenario: string;
  /** 'customer→helpdesk' (Blip inbound to the tool) or 'agent→customer' (tool to Blip), or another label. */
  direction: string;
  /** Acknowledged inputs (2xx from the bridge), each counted once. */
  inputs: number;
  /** Acknowledged inputs that reached the receiver at least once. */
  delivered: number;
  lost: number;
  /** Inputs that reached the receiver as more than one distinct message (an effect twice). */
  duplicated: number;
  /** The same message re-sent with the same id, which the receiver recognised (harmless by design). */
  resentDeduped: number;
  /** Messages that reached the receiver before one acknowledged ahead of them in their lane. */
  orderViolations: number;
  notes?: string;
}

declare module 'vitest' {
  interface TaskMeta {
    faultRows?: FaultRow[];
  }
}

/** Adds a row to the running test (call it before asserting, so failures are tabled too). */
export function report(ctx: TestContext, row: FaultRow): void {
  const rows = (ctx.task.meta.faultRows ??= []);
  rows.push(row);
  const ok = row.lost === 0 && row.duplicated === 0 && row.orderViolations === 0;
  console.log(
    `[faults] ${ok ? 'ok  ' : 'FAIL'} ${row.scenario} (${row.direction}): ${row.inputs} inputs, ${row.delivered} delivered, ${row.lost} lost, ` +
      `${row.duplicated} duplicated, ${row.resentDeduped} resent+deduped, ${row.orderViolations} out of order${row.notes ? `; ${row.notes}` : ''}`,
  );
}

export function formatTable(rows: ReadonlyArray<FaultRow & { status?: string }>): string {
  const head = ['scenario', 'direction', 'inputs', 'delivered', 'lost', 'duplicated', 'resent+deduped', 'order viol.', 'result', 'notes'];
  const body = rows.map((r) => {
    const ok = r.lost === 0 && r.duplicated === 0 && r.orderViolations === 0 && r.delivered === r.inputs;
    const result = ok ? (r.status === 'failed' ? 'ok*' : 'ok') : 'FAILED';
    return [r.scenario, r.direction, String(r.inputs), String(r.delivered), String(r.lost), String(r.duplicated), String(r.resentDeduped), String(r.orderViolations), result, r.notes ?? ''];
  });
  const numeric = new Set([2, 3, 4, 5, 6, 7]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric.has(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  const footnote = body.some((row) => row[8] === 'ok*') ? ['* these figures are right, but the scenario failed another of its checks (see the failures above)'] : [];
  return [line(head), rule, ...body.map(line), ...footnote].join('\n');
}

/** Prints every row of the run as one table. */
export default class FaultSummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rows: Array<FaultRow & { status?: string }> = [];
    for (const m of testModules) {
      for (const t of m.children.allTests()) {
        for (const r of t.meta().faultRows ?? []) rows.push({ ...r, status: t.result().state });
      }
    }
    if (rows.length === 0) return;
    process.stdout.write(`\nFault suite summary (exactly once in effect = lost 0 and duplicated 0; order per lane)\n${formatTable(rows)}\n\n`);
  }
}
