/**
 * The load side of the benchmark, in the bench process: lean loopback stand-ins for Blip and for the
 * custom tool, and the customers and agents that drive them.
 *
 * Why not simulators/blip and simulators/webhook-tool: they keep every request, envelope and
 * thread in memory and validate each event against the published schemas, which is what tests
 * want and what would dominate (and slowly grow) the CPU and memory of the machine the service
 * shares here. These endpoints speak the same HTTP contract with none of that:
 * - Blip: `POST /messages` and `/notifications` with `Authorization: Key …` answer 202 (401 on a
 *   wrong key); `POST /commands` answers 200 with a contact and an empty thread (attendance opens).
 * - the tool: `POST /bridge` answers 200 and, for each `customer.message`, the agent replies with a
 *   Standard-Webhooks-signed `agent.message` to the service. Signatures of the service's calls are
 *   not verified here (that would be the tool's CPU, not the service's).
 *
 * One loop: customer message (`m:<seq>`) → service → tool → agent reply (`r:<seq>`) → service →
 * Blip `/messages`. End-to-end latency is from the customer's send (the scheduled time, at a fixed
 * rate, so a stall is not hidden by sending late) to the reply arriving at Blip.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';
import { Agent, request } from 'undici';

export interface LoopOptions {
  bot: string;
  identifier: string;
  accessKey: string;
  router: string;
  inboundToken: string;
  secret: string;
}

export interface PhaseResult {
  seconds: number;
  /** Customer messages the tool received per second (the end of the customer → agent path). */
  customerPerSec: number;
  /** Agent replies Blip received per second (the end of the whole loop). */
  agentPerSec: number;
  sent: number;
  completed: number;
  /** Loops completed over the whole phase (warm-up and drain included), for CPU per loop. */
  phaseCompleted: number;
  /** Sent but not back by the end of the drain. */
  missing: number;
  errors: number;
  /** Whole loop, ms. */
  e2e: Percentiles;
  /** Customer send → the tool has it, ms. */
  toTool: Percentiles;
  /** Customer send → the service's 202, ms. */
  ack: Percentiles;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

const CAPACITY = 1 << 22;

/** Hot-path JSON shape tests: the bodies are ours, a miss just means "not a loop message". */
export class Loop {
  readonly blipAuth: string;
  /** Service base URLs (one per replica); customers and agents round-robin over them. */
  private targets: string[] = [];
  private nextTarget = 0;
  private readonly wh: Webhook;
  private readonly agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });
  private blipServer: Server | undefined;
  private toolServer: Server | undefined;

  // Per message, indexed by seq (ms since the performance origin; 0 = not yet).
  private readonly sentAt = new Float64Array(CAPACITY);
  private readonly ackAt = new Float64Array(CAPACITY);
  private readonly toolAt = new Float64Array(CAPACITY);
  private readonly doneAt = new Float64Array(CAPACITY);
  private seq = 0;
  private customerCursor = 0;
  private inflight = 0;
  private onDone: (() => void) | undefined;

  counters = { customerSent: 0, customerErrors: 0, toolCustomerMessages: 0, toolOpened: 0, toolOther: 0, agentSent: 0, agentErrors: 0, blipReplies: 0, blipOtherMessages: 0, blipNotifications: 0, blipCommands: 0, blipUnauthorized: 0 };

  constructor(private readonly o: LoopOptions) {
    const password = Buffer.from(o.accessKey, 'base64').toString('utf8');
    this.blipAuth = `Key ${Buffer.from(`${o.identifier}:${password}`, 'utf8').toString('base64')}`;
    this.wh = new Webhook(o.secret);
  }

  async start(): Promise<{ blipUrl: string; toolUrl: string }> {
    this.blipServer = await listen((req, res) => this.blip(req, res));
    this.toolServer = await listen((req, res) => this.tool(req, res));
    return { blipUrl: urlOf(this.blipServer), toolUrl: urlOf(this.toolServer) };
  }

  async stop(): Promise<void> {
    await Promise.all([close(this.blipServer), close(this.toolServer)]);
    await this.agent.close();
  }

  setTargets(urls: string[]): void {
    this.targets = urls;
  }

  // ── phases ────────────────────────────────────────────────────────────────────────────────

  /** The first message of customers [from, to): each opens an attendance. Closed loop, `inflight` at a time. */
  async open(from: number, to: number, inflight: number, progress: (done: number) => void): Promise<{ seconds: number; perSec: number; missing: number }> {
    const t0 = performance.now();
    const first = this.seq;
    let next = from;
    await new Promise<void>((resolve) => {
      let lastDone = -1;
      let stalledSince = performance.now();
      const end = () => {
        clearInterval(tick);
        resolve();
      };
      // Progress, and a way out if some loop never comes back (reported as missing).
      const tick = setInterval(() => {
        const done = this.countDone(first, this.seq);
        progress(done);
        if (done !== lastDone) {
          lastDone = done;
          stalledSince = performance.now();
        } else if (performance.now() - stalledSince > 30_000) end();
      }, 1000);
      const pump = () => {
        while (this.inflight < inflight && next < to) this.send(next++);
        if (next >= to && this.inflight === 0) end();
      };
      this.onDone = pump;
      pump();
    });
    this.onDone = undefined;
    const seconds = (performance.now() - t0) / 1000;
    this.customerCursor = to;
    return { seconds, perSec: (to - from) / seconds, missing: this.seq - first - this.countDone(first, this.seq) };
  }

  /** Open loop at `rate` messages/s for `seconds`, round-robin over customers [0, customers). */
  async fixedRate(rate: number, seconds: number, customers: number, progress: (p: { sent: number; done: number; elapsed: number }) => void): Promise<PhaseResult> {
    const first = this.seq;
    const t0 = performance.now();
    const total = Math.round(rate * seconds);
    let i = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        // Everything due by now goes out, stamped with the time it was due.
        while (i < total && t0 + (i * 1000) / rate <= now) {
          this.send(this.nextCustomer(customers), t0 + (i * 1000) / rate);
          i++;
        }
        if (i >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
      const tick = setInterval(() => {
        progress({ sent: i, done: this.countDone(first, this.seq), elapsed: (performance.now() - t0) / 1000 });
        if (i >= total) clearInterval(tick);
      }, 1000);
    });
    await this.drain(first, 30_000);
    return this.summarise(first, this.seq, t0, t0 + seconds * 1000);
  }

  /**
   * Closed loop: `inflight` loops at a time, each completion sends the next. Throughput counts what
   * completed after `warmSeconds` until the end; latency is over the messages sent in that window.
   */
  async maxRate(seconds: number, warmSeconds: number, inflight: number, customers: number, progress: (p: { done: number; elapsed: number; rate: number }) => void): Promise<PhaseResult> {
    const t0 = performance.now();
    const tEnd = t0 + (warmSeconds + seconds) * 1000;
    let stopping = false;
    let windowFirst = -1;
    const first = this.seq;
    await new Promise<void>((resolve) => {
      const pump = () => {
        if (stopping) return;
        while (this.inflight < inflight) this.send(this.nextCustomer(customers));
      };
      this.onDone = pump;
      pump();
      let lastDone = 0;
      let lastT = t0;
      const tick = setInterval(() => {
        const now = performance.now();
        if (windowFirst < 0 && now >= t0 + warmSeconds * 1000) windowFirst = this.seq;
        const done = this.countDone(first, this.seq);
        progress({ done, elapsed: (now - t0) / 1000, rate: ((done - lastDone) * 1000) / (now - lastT) });
        lastDone = done;
        lastT = now;
        if (now >= tEnd) {
          stopping = true;
          clearInterval(tick);
          resolve();
        }
      }, 250);
    });
    this.onDone = undefined;
    const sentEnd = this.seq;
    await this.drain(first, 30_000);
    const w0 = t0 + warmSeconds * 1000;
    return this.summarise(windowFirst < 0 ? first : windowFirst, sentEnd, w0, tEnd, { countFrom: first });
  }

  // ── the customer ──────────────────────────────────────────────────────────────────────────

  private nextCustomer(customers: number): number {
    const c = this.customerCursor % customers;
    this.customerCursor++;
    return c;
  }

  static tunnelOf(customer: number): string {
    return `00000000-0000-4000-8000-${customer.toString(16).padStart(12, '0')}@tunnel.msging.net`;
  }

  private send(customer: number, at = performance.now()): void {
    const seq = this.seq++;
    this.sentAt[seq] = at;
    this.inflight++;
    const originator = `5511${String(customer).padStart(9, '0')}@wa.gw.msging.net`;
    const now = Date.now();
    const body = JSON.stringify({
      id: `c${seq}-${RUN}`,
      from: Loop.tunnelOf(customer),
      to: `${this.o.identifier}@msging.net`,
      type: 'text/plain',
      content: `m:${seq}`,
      metadata: {
        '#uniqueId': randomUUID(),
        date_created: String(now),
        '#tunnel.owner': `${this.o.router}@msging.net`,
        '#tunnel.originator': originator,
        '#tunnel.originalFrom': `${this.o.router}@msging.net/iris-hosted-1`,
      },
    });
    const target = this.pick();
    this.counters.customerSent++;
    request(`${target}/blip/${this.o.bot}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.o.inboundToken}` },
      body,
      dispatcher: this.agent,
    }).then(
      async (res) => {
        await res.body.dump();
        if (res.statusCode !== 202) {
          this.counters.customerErrors++;
          this.finish(seq, false);
        } else this.ackAt[seq] = performance.now();
      },
      () => {
        this.counters.customerErrors++;
        this.finish(seq, false);
      },
    );
  }

  private pick(): string {
    const t = this.targets[this.nextTarget % this.targets.length]!;
    this.nextTarget++;
    return t;
  }

  private finish(seq: number, ok: boolean): void {
    if (ok) {
      if (this.doneAt[seq] !== 0) return; // a duplicate reply
      this.doneAt[seq] = performance.now();
    } else this.doneAt[seq] = -1;
    this.inflight--;
    this.onDone?.();
  }

  // ── Blip ──────────────────────────────────────────────────────────────────────────────────

  private blip(req: IncomingMessage, res: ServerResponse): void {
    readBody(req, (raw) => {
      if (req.headers.authorization !== this.blipAuth) {
        this.counters.blipUnauthorized++;
        return answer(res, 401);
      }
      if (req.url === '/messages') {
        answer(res, 202);
        const env = parse(raw) as { content?: unknown } | undefined;
        const c = env?.content;
        if (typeof c === 'string' && c.startsWith('r:')) {
          this.counters.blipReplies++;
          this.finish(Number(c.slice(2)), true);
        } else this.counters.blipOtherMessages++;
        return;
      }
      if (req.url === '/notifications') {
        this.counters.blipNotifications++;
        return answer(res, 202);
      }
      if (req.url === '/commands') {
        this.counters.blipCommands++;
        const cmd = parse(raw) as { id?: string; uri?: string } | undefined;
        const isThread = cmd?.uri?.includes('/threads/');
        const resource = isThread ? { itemType: 'application/vnd.iris.thread-message+json', items: [] } : { name: 'Bench Customer', extras: { plan: 'bench' } };
        return answer(res, 200, JSON.stringify({ id: cmd?.id, method: 'get', status: 'success', type: isThread ? 'application/vnd.lime.collection+json' : 'application/vnd.lime.contact+json', resource }));
      }
      answer(res, 404);
    });
  }

  // ── the tool and its agents ───────────────────────────────────────────────────────────────

  private tool(req: IncomingMessage, res: ServerResponse): void {
    readBody(req, (raw) => {
      answer(res, 200, '{"ok":true}');
      const ev = parse(raw) as { type?: string; data?: { attendanceId?: string; message?: { content?: { text?: string } } } } | undefined;
      if (ev?.type === 'customer.message') {
        const text = ev.data?.message?.content?.text;
        if (typeof text !== 'string' || !text.startsWith('m:')) return;
        const seq = Number(text.slice(2));
        if (this.toolAt[seq] !== 0) return; // a retried delivery: the tool dedupes
        this.toolAt[seq] = performance.now();
        this.counters.toolCustomerMessages++;
        this.reply(ev.data!.attendanceId!, seq);
      } else if (ev?.type === 'attendance.opened') this.counters.toolOpened++;
      else this.counters.toolOther++;
    });
  }

  private reply(attendanceId: string, seq: number): void {
    const id = `a${seq}-${RUN}`;
    const body = JSON.stringify({ type: 'agent.message', timestamp: new Date().toISOString(), data: { attendanceId, message: { id, content: { type: 'text', text: `r:${seq}` } } } });
    const webhookId = `msg_${id}`;
    const at = new Date();
    this.counters.agentSent++;
    request(`${this.pick()}/helpdesk/${this.o.bot}/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': webhookId,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': this.wh.sign(webhookId, at, body),
      },
      body,
      dispatcher: this.agent,
    }).then(
      async (res) => {
        await res.body.dump();
        if (res.statusCode < 200 || res.statusCode >= 300) {
          this.counters.agentErrors++;
          this.finish(seq, false);
        }
      },
      () => {
        this.counters.agentErrors++;
        this.finish(seq, false);
      },
    );
  }

  // ── accounting ────────────────────────────────────────────────────────────────────────────

  private countDone(from: number, to: number): number {
    let n = 0;
    for (let s = from; s < to; s++) if (this.doneAt[s] !== 0) n++;
    return n;
  }

  private async drain(from: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.inflight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    void from;
  }

  /**
   * Latency over messages sent in [first, last); throughput as completions (at the tool, at Blip)
   * that happened inside [t0, t1], counted over every message of the phase from `countFrom`.
   */
  private summarise(first: number, last: number, t0: number, t1: number, opts: { countFrom?: number } = {}): PhaseResult {
    const e2e: number[] = [];
    const toTool: number[] = [];
    const ack: number[] = [];
    let missing = 0;
    let errors = 0;
    for (let s = first; s < last; s++) {
      const d = this.doneAt[s]!;
      if (d === 0) missing++;
      else if (d < 0) errors++;
      else e2e.push(d - this.sentAt[s]!);
      if (this.toolAt[s]! > 0) toTool.push(this.toolAt[s]! - this.sentAt[s]!);
      if (this.ackAt[s]! > 0) ack.push(this.ackAt[s]! - this.sentAt[s]!);
    }
    let atTool = 0;
    let atBlip = 0;
    for (let s = opts.countFrom ?? first; s < this.seq; s++) {
      const tt = this.toolAt[s]!;
      if (tt >= t0 && tt <= t1) atTool++;
      const d = this.doneAt[s]!;
      if (d >= t0 && d <= t1) atBlip++;
    }
    const seconds = (t1 - t0) / 1000;
    let phaseCompleted = 0;
    for (let s = opts.countFrom ?? first; s < this.seq; s++) if (this.doneAt[s]! > 0) phaseCompleted++;
    return {
      seconds,
      customerPerSec: Math.round(atTool / seconds),
      agentPerSec: Math.round(atBlip / seconds),
      sent: last - first,
      completed: e2e.length,
      phaseCompleted,
      missing,
      errors,
      e2e: percentiles(e2e),
      toTool: percentiles(toTool),
      ack: percentiles(ack),
    };
  }
}

/** Ids must not collide with an earlier run against the same database. */
const RUN = Date.now().toString(36);

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const v = Float64Array.from(values).sort();
  const at = (q: number) => Math.round(v[Math.min(v.length - 1, Math.floor(q * v.length))]! * 10) / 10;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: Math.round(v[v.length - 1]! * 10) / 10 };
}

function readBody(req: IncomingMessage, done: (raw: string) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => done(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
}

function answer(res: ServerResponse, status: number, body?: string): void {
  if (body === undefined) {
    res.writeHead(status, { 'content-length': '0' });
    res.end();
  } else {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

function parse(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = createServer({ keepAliveTimeout: 60_000 }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

function urlOf(server: Server): string {
  const a = server.address();
  if (!a || typeof a === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${a.port}`;
}

async function close(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}
