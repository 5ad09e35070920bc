/**
 * The processes under test: spawned on loopback, waited for, sampled from /proc (CPU from
 * utime+stime in /proc/<pid>/stat, RSS from VmRSS/VmHWM in /proc/<pid>/status), stopped.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** Clock ticks per second for /proc/<pid>/stat; 100 on every Linux we run on (`getconf CLK_TCK`). */
const CLK_TCK = 100;

// The tests' own: a port that was free a moment ago on 127.0.0.1.
export { freePort } from '../test/helpers/process.js';

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export const BUILD = join(ROOT, 'node_modules', '.cache', 'bench-build');

/**
 * Compiles the service and the relay with tsc (bench/tsconfig.json) so they run as in production,
 * `node dist/src/cli.js`: the tsx loader would add its own thread and ~30 MB to every RSS figure.
 * Type errors elsewhere in a working tree do not stop the emit.
 */
export function build(): void {
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'bench', 'tsconfig.json')], { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    // tsc exits 2 on type errors but has emitted; only a missing output is fatal.
    if (!existsSync(join(BUILD, 'src', 'cli.js'))) throw err;
  }
}

/**
 * `node [nodeArgs] <build>/<script> [args]` (a compiled .js under BUILD), ready when
 * GET <url><readyPath> answers 200.
 */
export async function spawnNode(name: string, script: string, args: string[], opts: { port: number; env?: Record<string, string>; nodeArgs?: string[]; readyPath?: string }): Promise<Proc> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), join(BUILD, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(opts.port), NODE_ENV: 'production', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited early (${child.exitCode}):\n${out}`);
    try {
      const res = await request(`${url}${opts.readyPath ?? '/readyz'}`);
      await res.body.text();
      if (res.statusCode === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${name} not ready in 60 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name,
    child,
    pid: child.pid!,
    url,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface ProcSample {
  /** CPU seconds (user + system) since the process started. */
  cpuSeconds: number;
  rssBytes: number;
  /** Peak RSS since the process started. */
  hwmBytes: number;
}

export function sample(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: fields count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { cpuSeconds: (utime + stime) / CLK_TCK, rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Machine-wide CPU ticks (all cores) from /proc/stat: busy excludes idle and iowait. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3]! - v[4]!, total };
}

/** PostgreSQL's server processes (postmaster and backends), whose CPU is part of the PG targets. */
export function postgresPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'postgres') out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * Waits until the machine is quiet (other work under `maxBusyPercent` of all cores over a second),
 * for at most `timeoutMs`: other jobs on a shared 2-core machine would otherwise be measured as the
 * service's slowness. Returns the busy % seen last and how long it waited.
 */
export async function quiet(maxBusyPercent = 15, timeoutMs = 120_000): Promise<{ busyPercent: number; waitedSeconds: number }> {
  const t0 = Date.now();
  for (;;) {
    const a = machineTicks();
    await new Promise((r) => setTimeout(r, 1000));
    const b = machineTicks();
    const busyPercent = round(((b.busy - a.busy) / Math.max(1, b.total - a.total)) * 100, 1);
    if (busyPercent <= maxBusyPercent || Date.now() - t0 > timeoutMs) return { busyPercent, waitedSeconds: round((Date.now() - t0) / 1000, 1) };
  }
}

/**
 * Samples the processes under test over a phase: CPU % over the phase (100 % = one core), RSS at
 * the end and the largest RSS seen while it ran; plus PostgreSQL's CPU and what everything else
 * on the machine used meanwhile (noise, reported beside the figures).
 */
export class PhaseMeter {
  private readonly start = new Map<number, ProcSample>();
  private readonly pgStart = new Map<number, number>();
  private readonly machine0 = machineTicks();
  private readonly bench0 = process.cpuUsage();
  private readonly peak = new Map<number, number>();
  private readonly t0 = process.hrtime.bigint();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pids: number[]) {
    for (const pid of pids) {
      const s = sample(pid);
      if (s) this.start.set(pid, s);
    }
    for (const pid of postgresPids()) {
      const s = sample(pid);
      if (s) this.pgStart.set(pid, s.cpuSeconds);
    }
    this.timer = setInterval(() => this.poll(), 250);
    this.timer.unref();
  }

  private poll(): void {
    for (const pid of this.pids) {
      const s = sample(pid);
      if (s) this.peak.set(pid, Math.max(this.peak.get(pid) ?? 0, s.rssBytes));
    }
  }

  /** Current figures without stopping (for the progress line). */
  now(): { cpuPercent: number; rssMB: number } {
    const secs = Number(process.hrtime.bigint() - this.t0) / 1e9;
    let cpu = 0;
    let rss = 0;
    for (const pid of this.pids) {
      const s = sample(pid);
      const s0 = this.start.get(pid);
      if (!s || !s0) continue;
      cpu += s.cpuSeconds - s0.cpuSeconds;
      rss += s.rssBytes;
    }
    return { cpuPercent: secs > 0 ? (cpu / secs) * 100 : 0, rssMB: rss / 2 ** 20 };
  }

  finish(): PhaseFigures {
    clearInterval(this.timer);
    this.poll();
    const secs = Number(process.hrtime.bigint() - this.t0) / 1e9;
    const pct = (cpuSeconds: number) => round((cpuSeconds / secs) * 100, 1);
    const procs = this.pids.map((pid) => {
      const s = sample(pid);
      const s0 = this.start.get(pid);
      return {
        pid,
        cpuSeconds: s && s0 ? s.cpuSeconds - s0.cpuSeconds : NaN,
        rssMB: s ? round(s.rssBytes / 2 ** 20, 1) : NaN,
        peakRssMB: round((this.peak.get(pid) ?? 0) / 2 ** 20, 1),
      };
    });
    let pg = 0;
    for (const [pid, c0] of this.pgStart) {
      const s = sample(pid);
      if (s) pg += s.cpuSeconds - c0;
    }
    const bench = process.cpuUsage(this.bench0);
    const benchSeconds = (bench.user + bench.system) / 1e6;
    const m = machineTicks();
    const machineSeconds = (m.busy - this.machine0.busy) / CLK_TCK;
    const targetSeconds = procs.reduce((a, p) => a + p.cpuSeconds, 0);
    return {
      seconds: round(secs, 2),
      targetCpuSeconds: targetSeconds,
      cpuPercent: pct(targetSeconds),
      rssMB: round(procs.reduce((a, p) => a + p.rssMB, 0), 1),
      peakRssMB: round(procs.reduce((a, p) => a + p.peakRssMB, 0), 1),
      perProcess: procs.map((p) => ({ pid: p.pid, cpuPercent: pct(p.cpuSeconds), rssMB: p.rssMB, peakRssMB: p.peakRssMB })),
      postgresCpuPercent: pct(pg),
      benchCpuPercent: pct(benchSeconds),
      othersCpuPercent: Math.max(0, pct(machineSeconds - targetSeconds - pg - benchSeconds)),
    };
  }
}

export interface PhaseFigures {
  seconds: number;
  targetCpuSeconds: number;
  /** The target processes together (100 = one core). */
  cpuPercent: number;
  rssMB: number;
  peakRssMB: number;
  perProcess: Array<{ pid: number; cpuPercent: number; rssMB: number; peakRssMB: number }>;
  postgresCpuPercent: number;
  /** The load side (this process: customers, Blip, tool, agents). */
  benchCpuPercent: number;
  /** Anything else running on the machine meanwhile. */
  othersCpuPercent: number;
}

export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
