/**
 * One fault scenario's world on loopback: the Blip and custom-tool simulators, and the real service
 * as one or more processes (`node --import tsx src/cli.ts serve`) on SQLite or on one PostgreSQL
 * database, behind a load balancer when there are several. Drivers that act like the real peers
 * (retry what was not acknowledged, with the same id) record every acknowledged input in a Ledger,
 * which the scenario checks against what the receivers got (ledger.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { request } from 'undici';
import { parseConfig } from '../../../src/config/load.js';
import { attemptTiming, type AttemptTiming } from '../../../src/delivery/attempt.js';
import { ADMIN_TOKEN, BOT, IDENTIFIER, INBOUND_TOKEN, rawConfig, startSimulators } from '../../helpers/harness.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { freePort, startService, writeConfig, type ServiceProcess } from '../../helpers/process.js';
import { LoadBalancer } from './balancer.js';
import { Ledger } from './ledger.js';

export interface WorldOptions {
  engine?: 'sqlite' | 'postgres';
  /** Processes sharing the store (PostgreSQL only for more than one). Default 1. */
  replicas?: number;
  /** Merged into the delivery config; the suite's defaults retry fast and for long. */
  delivery?: Record<string, unknown>;
  /** Merged into the bot config. */
  bot?: Record<string, unknown>;
}

export interface HttpAnswer {
  status: number;
  body: any;
  text: string;
}

/** Fast retries with a budget no outage in the suite exhausts; a short lease so takeovers happen within a test. */
const DELIVERY = { baseDelayMs: 20, maxDelayMs: 250, maxAttempts: 400, pollIntervalMs: 50, timeoutMs: 1_000, concurrency: 32 };
/**
 * The lease covers the longest call an attempt may make (src/delivery/attempt.ts): the tool's and
 * media downloads' deadlines are as short as delivery.timeoutMs here, so leases last 8 s.
 */
const CALL_TIMEOUTS = { helpdesk: { timeoutMs: 1_000 }, media: { timeoutMs: 1_000 } };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export class World {
  readonly ledger = new Ledger();
  readonly services: Array<ServiceProcess | undefined> = [];
  readonly ports: number[] = [];
  balancer: LoadBalancer | undefined;
  /** Where Blip and the tool send: the balancer, or the single service. */
  entry = '';
  configPath = '';
  /** The services' attempt deadline and lease, from their config. */
  timing!: AttemptTiming;
  /** Service outputs of processes that were stopped, for failure reports. */
  private readonly pastOutput: string[] = [];

  private constructor(
    readonly sims: Awaited<ReturnType<typeof startSimulators>>,
    readonly dir: string,
    readonly engine: 'sqlite' | 'postgres',
    readonly database: TestDatabase | undefined,
  ) {}

  get blip() {
    return this.sims.blip;
  }

  get tool() {
    return this.sims.tool;
  }

  /** The SQLite file (sqlite engine). */
  get sqlitePath(): string {
    return join(this.dir, 'bridge.db');
  }

  static async start(opts: WorldOptions = {}): Promise<World> {
    const engine = opts.engine ?? 'sqlite';
    const replicas = opts.replicas ?? 1;
    if (engine === 'sqlite' && replicas !== 1) throw new Error('SQLite is one process per file');
    const dir = mkdtempSync(join(tmpdir(), 'bridge-faults-'));
    const database = engine === 'postgres' ? await createTestDatabase() : undefined;
    const sims = await startSimulators();
    const world = new World(sims, dir, engine, database);
    try {
      const raw = rawConfig(sims.blipUrl, sims.toolUrl, dir, {
        delivery: { ...DELIVERY, ...opts.delivery },
        bot: { helpdesk: CALL_TIMEOUTS.helpdesk, ...opts.bot },
        ...(database ? { storeUrl: database.url } : { storePath: world.sqlitePath }),
      });
      raw['log'] = { level: process.env['FAULTS_LOG'] ?? 'error' };
      raw['media'] = CALL_TIMEOUTS.media;
      world.timing = attemptTiming(parseConfig(raw, 'faults'));
      world.configPath = writeConfig(dir, raw);
      for (let i = 0; i < replicas; i++) world.ports.push(await freePort());
      // Replicas start together, as after a deploy: migrations must run once, safely.
      const started = await Promise.all(world.ports.map((p) => startService(world.configPath, p)));
      world.services.push(...started);
      if (replicas > 1) {
        world.balancer = new LoadBalancer(started.map((s) => s.url));
        world.entry = await world.balancer.start();
      } else {
        world.entry = started[0]!.url;
      }
      sims.blip.setBotUrls(IDENTIFIER, {
        messagesUrl: `${world.entry}/blip/${BOT}/messages`,
        notificationsUrl: `${world.entry}/blip/${BOT}/notifications`,
        headers: { authorization: `Bearer ${INBOUND_TOKEN}` },
      });
      sims.tool.setBridgeWebhookUrl(`${world.entry}/helpdesk/${BOT}/webhook`);
      return world;
    } catch (err) {
      await world.stop();
      throw err;
    }
  }

  url(i = 0): string {
    return `http://127.0.0.1:${this.ports[i]}`;
  }

  /** Kills replica `i` and waits for it to exit; returns its exit code (null after a signal). */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; ms: number }> {
    const svc = this.services[i];
    if (!svc) throw new Error(`replica ${i} is not running`);
    const t0 = Date.now();
    svc.child.kill(signal);
    const code = await svc.exited;
    this.pastOutput.push(svc.output());
    this.services[i] = undefined;
    this.balancer?.remove(svc.url);
    return { code, ms: Date.now() - t0 };
  }

  /**
   * Freezes replica `i` (SIGSTOP: a paused VM, a stalled host): it keeps its connections, its
   * leases and any transaction it was in, and answers nothing. The balancer stops sending it new
   * requests, as a health check would; requests already on their way to it wait.
   */
  freeze(i: number): void {
    const svc = this.services[i];
    if (!svc) throw new Error(`replica ${i} is not running`);
    svc.child.kill('SIGSTOP');
    this.balancer?.remove(svc.url);
  }

  /** Resumes a frozen replica (SIGCONT) and puts it back behind the balancer. */
  thaw(i: number): void {
    const svc = this.services[i];
    if (!svc) throw new Error(`replica ${i} is not running`);
    svc.child.kill('SIGCONT');
    this.balancer?.setBackends(this.services.filter((s): s is ServiceProcess => s !== undefined).map((s) => s.url));
  }

  async restart(i: number): Promise<void> {
    if (this.services[i]) throw new Error(`replica ${i} is running`);
    const svc = await startService(this.configPath, this.ports[i]!);
    this.services[i] = svc;
    if (this.balancer) this.balancer.setBackends(this.services.filter((s): s is ServiceProcess => s !== undefined).map((s) => s.url));
  }

  /**
   * What the service processes logged (level FAULTS_LOG, default error), one line per distinct
   * message with its count, without stacks: short enough to read in a failed assertion.
   */
  output(maxChars = 4_000): string {
    const counts = new Map<string, number>();
    for (const line of [...this.pastOutput, ...this.services.map((s) => s?.output() ?? '')].join('\n').split('\n')) {
      if (line.trim() === '') continue;
      let key = line.slice(0, 300);
      try {
        const o = JSON.parse(line) as { level?: number; msg?: string; err?: { type?: string; message?: string; code?: string } };
        key = `[${o.level ?? '?'}] ${o.msg ?? ''}${o.err ? `: ${o.err.type ?? 'Error'}${o.err.code ? ` ${o.err.code}` : ''}: ${o.err.message ?? ''}` : ''}`.slice(0, 300);
      } catch {
        /* not a log line */
      }
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const all = [...counts].map(([k, n]) => (n > 1 ? `${k} (×${n})` : k)).join('\n');
    return all.length > maxChars ? `${all.slice(0, maxChars)}…` : all;
  }

  async stop(): Promise<void> {
    for (const s of this.services) {
      if (!s) continue;
      s.child.kill('SIGKILL');
      await s.exited;
    }
    await this.balancer?.stop();
    await this.sims.blip.stop();
    await this.sims.tool.stop();
    await this.database?.drop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Reads the store directly (SQLite read-only, or the PostgreSQL database), for what the admin API
   * does not show: row counts, leases. Positional parameters are `?` on both engines.
   */
  async query<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    if (this.engine === 'sqlite') {
      const db = new BetterSqlite3(this.sqlitePath, { readonly: true, fileMustExist: true });
      try {
        return db.prepare(text).all(...params) as T[];
      } finally {
        db.close();
      }
    }
    let n = 0;
    const client = new pg.Client({ connectionString: this.database!.url });
    await client.connect();
    try {
      const res = await client.query(text.replace(/\?/g, () => `$${++n}`), params);
      return res.rows as T[];
    } finally {
      await client.end();
    }
  }

  /** Rows per table: what "nothing stored" is measured with. */
  async rowCounts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const t of ['attendances', 'messages', 'deliveries', 'dedupe']) {
      const [row] = await this.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${t}`);
      out[t] = Number(row?.n ?? 0);
    }
    return out;
  }

  // ── HTTP ────────────────────────────────────────────────────────────────────────────────────

  /** A request to the entry point (or `base`); network errors come back as status 0. */
  async http(method: 'GET' | 'POST', path: string, opts: { body?: string | Buffer; headers?: Record<string, string>; base?: string } = {}): Promise<HttpAnswer> {
    try {
      const res = await request(`${opts.base ?? this.entry}${path}`, { method, headers: opts.headers ?? {}, body: opts.body ?? null });
      const text = await res.body.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON */
      }
      return { status: res.statusCode, body, text };
    } catch (err) {
      return { status: 0, body: undefined, text: (err as Error).message };
    }
  }

  admin(path: string, base?: string): Promise<HttpAnswer> {
    return this.http('GET', path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, ...(base ? { base } : {}) });
  }

  /** Deliveries replica `i` has in flight (its /readyz), just before a fault lands. */
  async inFlight(i: number): Promise<number> {
    const ready = await this.http('GET', '/readyz', { base: this.url(i) });
    return Number(ready.body?.deliveriesInFlight ?? NaN);
  }

  /** A live replica's URL (admin reads go to any of them). */
  liveUrl(): string {
    const s = this.services.find((x) => x !== undefined);
    if (!s) throw new Error('no replica is running');
    return s.url;
  }

  // ── the customer side (Blip's router) ───────────────────────────────────────────────────────

  /**
   * The customer says `text`; the router retries the same envelope (same id) until the bridge
   * acknowledges it, as Blip would. `copies` > 1 sends that many identical envelopes at once.
   * Messages sent at once share a `together` key: their order is undefined. Returns how many
   * answers said `duplicate`.
   */
  async say(
    originator: string,
    text: string,
    opts: { id?: string; copies?: number; timeoutMs?: number; together?: string } = {},
  ): Promise<{ id: string; duplicates: number; statuses: number[] }> {
    const id = opts.id ?? randomUUID();
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    let duplicates = 0;
    const statuses: number[] = [];
    for (;;) {
      const answers = await Promise.all(
        Array.from({ length: opts.copies ?? 1 }, () => this.blip.customerSays(originator, IDENTIFIER, { id, type: 'text/plain', content: text })),
      );
      for (const a of answers) {
        statuses.push(a.status);
        if (a.status === 202 && /"duplicate"/.test(a.body)) duplicates++;
      }
      if (answers.some((a) => a.status === 202)) {
        this.ledger.customerAcked(originator, text, id, opts.together);
        return { id, duplicates, statuses };
      }
      const bad = answers.find((a) => a.status >= 400 && a.status < 500);
      if (bad) throw new Error(`the bridge refused a good customer message (${bad.status}): ${bad.body}`);
      if (Date.now() > deadline) throw new Error(`customer message ${text} never acknowledged: last status ${answers[0]?.status} ${answers[0]?.error ?? ''}`);
      await sleep(25);
    }
  }

  /** The attendance the tool got for this customer (waits for `attendance.opened`). */
  async attendanceOf(originator: string, timeoutMs = 30_000): Promise<string> {
    return until(
      `attendance.opened for ${originator}`,
      () => this.tool.eventsOfType('attendance.opened').find((e) => e.data.customer.originator === originator)?.data.attendance.id,
      timeoutMs,
    );
  }

  // ── the agent side (the custom tool) ────────────────────────────────────────────────────────

  /** POSTs a Standard-Webhooks-signed body to the bridge's webhook as the tool does. */
  async postSigned(body: unknown, webhookId: string, opts: { at?: Date; base?: string; bot?: string } = {}): Promise<HttpAnswer> {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return this.http('POST', `/helpdesk/${opts.bot ?? BOT}/webhook`, {
      body: text,
      headers: this.tool.sign(text, webhookId, opts.at ?? new Date()),
      ...(opts.base ? { base: opts.base } : {}),
    });
  }

  /**
   * An agent reply, retried (same message id, same webhook-id) until the bridge answers 2xx.
   * `copies` posts identical webhooks at once; `rewrapped` also re-sends the same message under a
   * fresh webhook-id (a tool retrying with a new event id): both must deliver once.
   */
  async reply(
    attendanceId: string,
    text: string,
    opts: { messageId?: string; copies?: number; rewrapped?: number; timestamp?: string; timeoutMs?: number } = {},
  ): Promise<{ messageId: string; duplicates: number; statuses: number[] }> {
    const messageId = opts.messageId ?? `agt_${randomUUID()}`;
    const event = {
      type: 'agent.message',
      timestamp: opts.timestamp ?? new Date().toISOString(),
      data: { attendanceId, message: { id: messageId, content: { type: 'text', text } } },
    };
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    let duplicates = 0;
    const statuses: number[] = [];
    for (;;) {
      const posts: Array<Promise<HttpAnswer>> = [];
      for (let i = 0; i < (opts.copies ?? 1); i++) posts.push(this.postSigned(event, `msg_${messageId}`));
      for (let i = 0; i < (opts.rewrapped ?? 0); i++) posts.push(this.postSigned(event, `msg_${messageId}_again_${i}`));
      const answers = await Promise.all(posts);
      for (const a of answers) {
        statuses.push(a.status);
        if (a.status === 202 && (a.body?.duplicates ?? 0) > 0) duplicates++;
      }
      if (answers.some((a) => a.status >= 200 && a.status < 300)) {
        this.ledger.agentAcked(attendanceId, text, messageId);
        return { messageId, duplicates, statuses };
      }
      const bad = answers.find((a) => a.status >= 400 && a.status < 500);
      if (bad) throw new Error(`the bridge refused a good agent message (${bad.status}): ${bad.text}`);
      if (Date.now() > deadline) throw new Error(`agent message ${text} never acknowledged: last status ${answers[0]?.status} ${answers[0]?.text ?? ''}`);
      await sleep(25);
    }
  }

  /** The agent ends the attendance, retried until acknowledged. */
  async end(attendanceId: string): Promise<void> {
    const event = { type: 'attendance.end', timestamp: new Date().toISOString(), data: { attendanceId, reason: 'solved' } };
    await until(`attendance.end of ${attendanceId} acknowledged`, async () => {
      const a = await this.postSigned(event, `end_${attendanceId}`);
      if (a.status >= 400 && a.status < 500) throw new Error(`the bridge refused attendance.end (${a.status}): ${a.text}`);
      return a.status >= 200 && a.status < 300;
    }, 60_000);
  }

  // ── settling ────────────────────────────────────────────────────────────────────────────────

  /** Deliveries of a state, read through the admin API of a live replica. */
  async deliveries(state: 'pending' | 'dead'): Promise<Array<Record<string, any>>> {
    const out: Array<Record<string, any>> = [];
    let after: string | null = null;
    do {
      const a = await this.admin(`/admin/deliveries?state=${state}&limit=500${after ? `&after=${after}` : ''}`, this.liveUrl());
      if (a.status !== 200) throw new Error(`admin deliveries answered ${a.status}: ${a.text}`);
      out.push(...(a.body.deliveries as Array<Record<string, any>>));
      after = a.body.next as string | null;
    } while (after);
    return out;
  }

  /**
   * Waits until every acknowledged input reached its receiver and nothing is pending, then a little
   * longer so late re-sends (duplicates) would show up too.
   */
  async settle(timeoutMs = 60_000): Promise<void> {
    await until('every acknowledged input at its receiver', () => this.ledger.allArrived(this.blip, this.tool), timeoutMs);
    await until('no pending deliveries', async () => (await this.deliveries('pending')).length === 0, timeoutMs);
    await sleep(300);
  }
}
