/**
 * node --import tsx bench/profile.ts <file.cpuprofile | dir> [--top N]
 *
 * Summarises a V8 CPU profile (`npm run bench -- --profile` writes them to bench/profiles/<target>/):
 * self time by function, and by where the code lives (our src/, each package, node internals,
 * GC, idle), so the hot spots read without a browser.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

const args = process.argv.slice(2);
const top = Number(args[args.indexOf('--top') + 1] ?? 25) || 25;
const target = args.find((a) => !a.startsWith('--') && a !== String(top));
if (!target) {
  console.error('usage: bench/profile.ts <file.cpuprofile | dir> [--top N]');
  process.exit(2);
}
const files = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(target, f))
  : [target];

for (const file of files) summarise(file);

function where(url: string): string {
  if (url === '') return '(native/vm)';
  const path = url.replace(/^file:\/\//, '');
  const built0 = path.indexOf('/.cache/bench-build/');
  const nm = built0 === -1 ? path.lastIndexOf('node_modules/') : -1;
  if (nm !== -1) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (path.startsWith('node:')) return 'node';
  const built = path.indexOf('/.cache/bench-build/');
  if (built !== -1) return path.slice(built + '/.cache/bench-build/'.length).replace(/\.js$/, '.ts');
  const i = path.indexOf('/src/');
  if (i !== -1) return path.slice(i + 1).replace(/\.js$/, '.ts');
  const b = path.indexOf('/bench/');
  if (b !== -1) return path.slice(b + 1).replace(/\.js$/, '.ts');
  return relative(process.cwd(), path);
}

function summarise(file: string): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // Self time per node from samples × time deltas (more precise than hitCount × interval).
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + (deltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);

  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const name = functionName || '(anonymous)';
    const w = ['(idle)', '(garbage collector)', '(program)', '(root)'].includes(name) ? name : where(url);
    const key = w.startsWith('(') && w !== '(native/vm)' ? w : `${name}  ${w}${url ? `:${lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    area.set(w, (area.get(w) ?? 0) + us);
  }
  const idle = area.get('(idle)') ?? 0;
  const busy = total - idle;
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled, ${((busy / total) * 100).toFixed(0)}% busy (percentages below are of busy time)`);
  console.log('\n  by area');
  for (const [k, v] of [...area].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(v)}  ${k}`);
  console.log('\n  by function (self)');
  for (const [k, v] of [...fn].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(v)}  ${k}`);
}
