/**
 * npm run bench [-- --quick] [--only relay,sqlite,pg1,pg2] [--profile] [--inflight N] [--rate R] [--seconds S]
 *
 * The whole loop on loopback (DESIGN §9, issue 5): customers → Blip → the service → the custom
 * tool → an agent's reply → the service → Blip, for SQLite, PostgreSQL with one replica and with two
 * sharing one database, and the bare relay (bench/relay.ts: same hops, no persistence) as the
 * yardstick, all in one run. Per target, after opening the attendances:
 *   1. a fixed offered rate (500 customer messages/s by default): end-to-end latency;
 *   2. max throughput: a closed loop with N loops in flight: messages/s both ways and latency.
 * The service's CPU and RSS come from /proc. Results: a table on stdout, bench/results/<date>.json.
 * --profile runs the service with --cpu-prof into bench/profiles/<target>/ (see bench/profile.ts).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { createTestDatabase, type TestDatabase } from '../test/helpers/postgres.js';
import { Loop, type PhaseResult } from './loop.js';
import { PhaseMeter, ROOT, build, freePort, quiet, round, sample, spawnNode, type PhaseFigures, type Proc } from './proc.js';

// ── settings ──────────────────────────────────────────────────────────────────────────────────

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i === -1 ? undefined : argv[i + 1];
};
const quick = flag('--quick');
const profile = flag('--profile');
const only = (opt('--only') ?? 'relay,sqlite,pg1,pg2').split(',');

const settings = {
  quick,
  /** Fixed offered rate for the latency figures (customer messages/s; each gets one agent reply). */
  rate: Number(opt('--rate') ?? 500),
  fixedSeconds: Number(opt('--seconds') ?? (quick ? 5 : 15)),
  maxSeconds: Number(opt('--seconds') ?? (quick ? 6 : 20)),
  maxWarmSeconds: quick ? 2 : 3,
  /** Loops in flight in the max-throughput phase. */
  inflight: Number(opt('--inflight') ?? 128),
  /** Attendances opened before measuring (SQLite: the "RSS with 10,000 open attendances" figure). */
  attendances: { relay: quick ? 1000 : 2000, sqlite: quick ? 2000 : 10_000, pg1: quick ? 1000 : 2000, pg2: quick ? 1000 : 2000 } as Record<string, number>,
  openInflight: 64,
  service: {
    log: { level: 'warn' },
    // Deliveries in flight: enough to keep both lanes of every busy attendance moving at the
    // max-throughput phase's loops in flight, without piling attempts onto the event loop.
    delivery: { concurrency: Number(opt('--concurrency') ?? 256), pollIntervalMs: 500, timeoutMs: 10_000, maxAttempts: 12, baseDelayMs: 500 },
    // Blip's real limit is per contract (50/s on paid plans); the bench measures the bridge, so the
    // pacer must not be what limits it.
    messagesPerSecond: 10_000,
    transcriptMessages: 5,
    pgPoolSize: Number(opt('--pool') ?? 10),
  },
};

const BOT = 'acme';
const IDS = {
  bot: BOT,
  identifier: 'acmehuman',
  accessKey: Buffer.from('acme-secret-key').toString('base64'),
  router: 'acmerouter',
  inboundToken: 'inbound-token-0123456789',
  secret: `whsec_${Buffer.from('a-tool-secret-of-at-least-24-bytes!!').toString('base64')}`,
};
const ADMIN_TOKEN = 'admin-token-0123456789';

// ── progress ──────────────────────────────────────────────────────────────────────────────────

const tty = process.stderr.isTTY;
let lastLine = 0;
function progress(line: string, force = false): void {
  if (tty) process.stderr.write(`\r\x1b[K${line}`);
  else if (force || Date.now() - lastLine >= 5000) {
    process.stderr.write(`${line}\n`);
    lastLine = Date.now();
  }
}
function endProgress(line: string): void {
  if (tty) process.stderr.write(`\r\x1b[K${line}\n`);
  else process.stderr.write(`${line}\n`);
  lastLine = 0;
}

// ── targets ───────────────────────────────────────────────────────────────────────────────────

interface Target {
  name: string;
  label: string;
  procs: Proc[];
  stop(): Promise<void>;
}

function serviceConfig(blipUrl: string, toolUrl: string, storeUrl: string): Record<string, unknown> {
  const s = settings.service;
  return {
    server: { port: 0, host: '127.0.0.1', adminToken: ADMIN_TOKEN },
    store: { url: storeUrl },
    log: s.log,
    delivery: s.delivery,
    bots: [
      {
        id: BOT,
        blip: { identifier: IDS.identifier, accessKey: IDS.accessKey, baseUrl: blipUrl, inboundToken: IDS.inboundToken, messagesPerSecond: s.messagesPerSecond },
        helpdesk: { type: 'webhook', url: `${toolUrl}/bridge`, secret: IDS.secret },
        attendance: { transcriptMessages: s.transcriptMessages },
      },
    ],
  };
}

/** --profile: V8 CPU profiles of the target processes, written when they exit. */
function profiling(name: string): { nodeArgs?: string[] } {
  // --node-args '…': extra node flags for the target processes (investigations).
  const extra = opt('--node-args')?.split(' ').filter(Boolean) ?? [];
  if (!profile) return extra.length ? { nodeArgs: extra } : {};
  const dir = join(ROOT, 'bench', 'profiles', name);
  mkdirSync(dir, { recursive: true });
  return { nodeArgs: [...extra, '--cpu-prof', '--cpu-prof-dir', dir] };
}

async function startServices(name: string, label: string, storeUrl: string, replicas: number, urls: { blipUrl: string; toolUrl: string }, cleanup: () => Promise<void>): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const configPath = join(dir, 'bridge.yaml');
  writeFileSync(configPath, stringify(serviceConfig(urls.blipUrl, urls.toolUrl, storeUrl)));
  const procs: Proc[] = [];
  try {
    // One after the other: the first runs the migrations (the others would wait for its lock anyway).
    for (let i = 0; i < replicas; i++) {
      procs.push(
        await spawnNode(`${name}#${i + 1}`, 'src/cli.js', ['serve'], {
          port: await freePort(),
          env: { BRIDGE_CONFIG: configPath },
          ...profiling(name),
        }),
      );
    }
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop()));
    throw err;
  }
  return {
    name,
    label,
    procs,
    async stop() {
      await Promise.all(procs.map((p) => p.stop()));
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startTarget(name: string, urls: { blipUrl: string; toolUrl: string }): Promise<Target> {
  const pg = settings.service.pgPoolSize;
  switch (name) {
    case 'relay': {
      const proc = await spawnNode('relay', 'bench/relay.js', [], {
        port: await freePort(),
        ...profiling(name),
        env: { BOT, BLIP_URL: urls.blipUrl, TOOL_URL: `${urls.toolUrl}/bridge`, SECRET: IDS.secret, INBOUND_TOKEN: IDS.inboundToken, IDENTIFIER: IDS.identifier, ACCESS_KEY: IDS.accessKey },
      });
      return { name, label: 'bare relay (no store)', procs: [proc], stop: () => proc.stop() };
    }
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'bench-sqlite-db-'));
      return startServices(name, 'bridge, SQLite', `sqlite:${join(dir, 'bridge.db')}`, 1, urls, async () => rmSync(dir, { recursive: true, force: true }));
    }
    case 'pg1':
    case 'pg2': {
      const db: TestDatabase = await createTestDatabase();
      const url = `${db.url}${db.url.includes('?') ? '&' : '?'}pool_size=${pg}`;
      const replicas = name === 'pg1' ? 1 : 2;
      return startServices(name, `bridge, PostgreSQL ×${replicas}`, url, replicas, urls, () => db.drop());
    }
    default:
      throw new Error(`unknown target ${name} (relay, sqlite, pg1, pg2)`);
  }
}

// ── one target ────────────────────────────────────────────────────────────────────────────────

type Figures = Omit<PhaseFigures, 'targetCpuSeconds'> & { cpuMsPerLoop: number; quiet: { busyPercent: number; waitedSeconds: number } };

interface TargetResult {
  name: string;
  label: string;
  replicas: number;
  attendances: number;
  open: { seconds: number; perSec: number; missing: number; rssMB: number };
  fixed: PhaseResult & { offered: number } & Figures;
  max: PhaseResult & { inflight: number } & Figures;
  /** V8 heap of each service process right after the max phase (its /metrics), MB. */
  memory: Array<Record<string, number> | undefined>;
}

/** The service's own view of its memory (prom-client default metrics); the relay has none. */
async function heapOf(url: string): Promise<Record<string, number> | undefined> {
  try {
    const res = await request(`${url}/metrics`);
    const text = await res.body.text();
    if (res.statusCode !== 200) return undefined;
    const pick = (name: string) => {
      const m = new RegExp(`^bridge_process_${name} (\\S+)$`, 'm').exec(text);
      return m ? round(Number(m[1]) / 2 ** 20, 1) : NaN;
    };
    return { rssMB: pick('process_resident_memory_bytes'), heapTotalMB: pick('nodejs_heap_size_total_bytes'), heapUsedMB: pick('nodejs_heap_size_used_bytes'), externalMB: pick('nodejs_external_memory_bytes') };
  } catch {
    return undefined;
  }
}

function figures(f: PhaseFigures, r: PhaseResult, q: { busyPercent: number; waitedSeconds: number }): Figures {
  const { targetCpuSeconds, ...rest } = f;
  return { ...rest, cpuMsPerLoop: round((targetCpuSeconds * 1000) / Math.max(1, r.phaseCompleted), 3), quiet: q };
}

async function settle(tag: string): Promise<{ busyPercent: number; waitedSeconds: number }> {
  progress(`${tag} waiting for a quiet machine…`, true);
  const q = await quiet();
  if (q.waitedSeconds > 2) endProgress(`${tag} machine quiet after ${q.waitedSeconds} s (${q.busyPercent}% busy)`);
  return q;
}

async function runTarget(loop: Loop, name: string, urls: { blipUrl: string; toolUrl: string }): Promise<TargetResult> {
  const target = await startTarget(name, urls);
  const pids = target.procs.map((p) => p.pid);
  const tag = `[${name}]`;
  try {
    loop.setTargets(target.procs.map((p) => p.url));
    const n = settings.attendances[name] ?? 1000;

    const opened = await loop.open(0, n, settings.openInflight, (done) => progress(`${tag} opening attendances ${done}/${n}`));
    await sleep(1000); // let the consumed notifications of the last ones settle
    const rssAfterOpen = round(pids.reduce((a, pid) => a + (sample(pid)?.rssBytes ?? 0), 0) / 2 ** 20, 1);
    endProgress(`${tag} ${n} attendances open in ${opened.seconds.toFixed(1)} s (${Math.round(opened.perSec)}/s); RSS ${rssAfterOpen} MB`);

    let q = await settle(tag);
    let meter = new PhaseMeter(pids);
    const fixed = await loop.fixedRate(settings.rate, settings.fixedSeconds, n, (p) => {
      const m = meter.now();
      progress(`${tag} fixed ${settings.rate}/s  ${p.elapsed.toFixed(0)}/${settings.fixedSeconds} s  sent ${p.sent}  looped ${p.done}  cpu ${m.cpuPercent.toFixed(0)}%  rss ${m.rssMB.toFixed(0)} MB`);
    });
    const fixedFig = figures(meter.finish(), fixed, q);
    endProgress(`${tag} fixed ${settings.rate}/s: e2e p50 ${fixed.e2e.p50} p95 ${fixed.e2e.p95} p99 ${fixed.e2e.p99} ms, cpu ${fixedFig.cpuPercent}%, others ${fixedFig.othersCpuPercent}%, missing ${fixed.missing}, errors ${fixed.errors}`);

    q = await settle(tag);
    meter = new PhaseMeter(pids);
    const max = await loop.maxRate(settings.maxSeconds, settings.maxWarmSeconds, settings.inflight, n, (p) => {
      const m = meter.now();
      progress(`${tag} max  ${p.elapsed.toFixed(0)}/${settings.maxSeconds + settings.maxWarmSeconds} s  looped ${p.done}  ${Math.round(p.rate)} loops/s  cpu ${m.cpuPercent.toFixed(0)}%  rss ${m.rssMB.toFixed(0)} MB`);
    });
    const maxFig = figures(meter.finish(), max, q);
    const memory = await Promise.all(target.procs.map((p) => heapOf(p.url)));
    endProgress(
      `${tag} max: ${max.customerPerSec} customer msg/s, ${max.agentPerSec} agent msg/s, e2e p99 ${max.e2e.p99} ms, cpu ${maxFig.cpuPercent}% (${maxFig.cpuMsPerLoop} ms/loop; postgres ${maxFig.postgresCpuPercent}%, bench ${maxFig.benchCpuPercent}%, others ${maxFig.othersCpuPercent}%), missing ${max.missing}, errors ${max.errors}`,
    );

    return {
      name,
      label: target.label,
      replicas: target.procs.length,
      attendances: n,
      open: { ...opened, rssMB: rssAfterOpen },
      fixed: { ...fixed, offered: settings.rate, ...fixedFig },
      max: { ...max, inflight: settings.inflight, ...maxFig },
      memory,
    };
  } catch (err) {
    for (const p of target.procs) process.stderr.write(`--- ${p.name} output (tail) ---\n${p.output().slice(-4000)}\n`);
    throw err;
  } finally {
    await target.stop();
  }
}

// ── report ────────────────────────────────────────────────────────────────────────────────────

function table(results: TargetResult[]): string {
  const relay = results.find((r) => r.name === 'relay');
  const head = ['target', 'cust msg/s', 'agent msg/s', 'ratio', 'e2e p50/p95/p99 @max', `e2e p50/p95/p99 @${settings.rate}/s`, 'CPU @max', 'CPU ms/loop', 'others CPU', 'RSS open/peak MB'];
  const rows = results.map((r) => [
    r.label,
    String(r.max.customerPerSec),
    String(r.max.agentPerSec),
    relay && r !== relay ? (r.max.customerPerSec / relay.max.customerPerSec).toFixed(2) : r === relay ? '1.00' : '—',
    `${r.max.e2e.p50} / ${r.max.e2e.p95} / ${r.max.e2e.p99} ms`,
    `${r.fixed.e2e.p50} / ${r.fixed.e2e.p95} / ${r.fixed.e2e.p99} ms`,
    `${r.max.cpuPercent}%${r.max.postgresCpuPercent > 1 ? ` +pg ${r.max.postgresCpuPercent}%` : ''}`,
    String(r.max.cpuMsPerLoop),
    `${r.max.othersCpuPercent}%`,
    `${r.open.rssMB} / ${Math.max(r.fixed.peakRssMB, r.max.peakRssMB)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function verdicts(results: TargetResult[]): string[] {
  const out: string[] = [];
  const sqlite = results.find((r) => r.name === 'sqlite');
  const relay = results.find((r) => r.name === 'relay');
  const mark = (ok: boolean) => (ok ? '✓' : '✗');
  if (sqlite) {
    out.push(`${mark(sqlite.max.customerPerSec >= 2000)} SQLite end to end: ${sqlite.max.customerPerSec} customer msg/s (target ≥ 2,000)`);
    out.push(`${mark(sqlite.fixed.e2e.p99 < 50)} SQLite p99 at ${settings.rate}/s: ${sqlite.fixed.e2e.p99} ms (target < 50 ms)`);
    if (relay) {
      const ratio = sqlite.max.customerPerSec / relay.max.customerPerSec;
      out.push(`${mark(ratio >= 0.5)} SQLite / bare relay: ${ratio.toFixed(2)} (target ≥ 0.5)`);
    }
    const rss = Math.max(sqlite.open.rssMB, sqlite.fixed.peakRssMB, sqlite.max.peakRssMB);
    out.push(`${mark(rss < 200)} SQLite RSS with ${sqlite.attendances.toLocaleString('en')} open attendances: ${sqlite.open.rssMB} MB after opening, ${rss} MB peak under load (target < 200 MB${sqlite.attendances < 10_000 ? '; --quick opens fewer than 10,000' : ''})`);
  }
  return out;
}

// ── main ──────────────────────────────────────────────────────────────────────────────────────

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function main(): Promise<void> {
  progress('bench: compiling the service and the relay (tsc -p bench/tsconfig.json)…', true);
  build();
  const loop = new Loop(IDS);
  const urls = await loop.start();
  const results: TargetResult[] = [];
  const started = new Date();
  progress(`bench: ${only.join(', ')}${quick ? ' (quick)' : ''}; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`, true);
  try {
    for (const name of only) results.push(await runTarget(loop, name, urls));
  } finally {
    await loop.stop();
  }

  const settingsLine = [
    `service: log.level=${settings.service.log.level}, delivery.concurrency=${settings.service.delivery.concurrency}, blip.messagesPerSecond=${settings.service.messagesPerSecond}, attendance.transcriptMessages=${settings.service.transcriptMessages}, PostgreSQL pool_size=${settings.service.pgPoolSize}`,
    `load: ${settings.inflight} loops in flight at max (after ${settings.maxWarmSeconds} s warm-up, ${settings.maxSeconds} s measured); ${settings.rate}/s offered for ${settings.fixedSeconds} s; every customer message gets one agent reply; lean loopback Blip and tool endpoints (bench/loop.ts)`,
  ];
  const text = [table(results), '', ...verdicts(results), '', ...settingsLine].join('\n');
  process.stdout.write(`\n${text}\n`);

  const day = started.toISOString().slice(0, 10);
  const file = join(ROOT, 'bench', 'results', `${day}${quick ? '-quick' : ''}.json`);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: started.toISOString(),
        machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGB: round(totalmem() / 2 ** 30, 1), node: process.version },
        settings,
        results,
        ratios: Object.fromEntries(results.filter((r) => r.name !== 'relay').map((r) => [r.name, round(r.max.customerPerSec / (results.find((x) => x.name === 'relay')?.max.customerPerSec ?? NaN), 2)])),
        verdicts: verdicts(results),
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`\nwritten: ${file.slice(ROOT.length + 1)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`\nbench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
