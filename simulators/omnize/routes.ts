/**
 * The Omnize simulator's API (../shared/specs/omnize/interactions.md, agent.md, departments.md):
 * the route table, the token check, request recording and one handler per documented route. The
 * state and the agents' side stay in index.ts (OmnizeSimulator), which these functions act on.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Faults } from './faults.js';
import {
  MSG,
  clearedSent,
  created,
  departmentView,
  error,
  externalError,
  finishSent,
  messageCreated,
  newHash,
  onlineAgents,
  stateTrigger,
  typingSent,
  updated,
} from './fixtures.js';
import type { ActionResult, ApiRoute, HistoryFetch, OmnizeSimulatorOptions, RecordedRequest, SimAgent, SimDepartment, SimInteraction, TriggerEvent, TriggerPayload } from './types.js';
import * as V from './validate.js';

export type Answer = { status: number; body: unknown; headers?: Record<string, string> };
export interface Ctx {
  params: string[];
  query: URLSearchParams;
  body: Record<string, unknown>;
  /** Run after the answer is written (history fetch, auto-queue). */
  after: Array<() => void>;
}
export interface RouteDef {
  method: 'GET' | 'POST' | 'PUT';
  route: ApiRoute;
  regex: RegExp;
  /** Which page's error shape the route answers with. */
  errorShape: 'interactions' | 'external';
  handle: (ctx: Ctx) => Answer;
}

/** What the routes read and change of the simulator (its state, configuration and helpers). */
export interface ApiHost {
  readonly options: OmnizeSimulatorOptions;
  readonly requests: RecordedRequest[];
  readonly store: Map<string, SimInteraction>;
  readonly faults: Faults;
  readonly tokens: ReadonlySet<string>;
  readonly departments: SimDepartment[];
  readonly agents: SimAgent[];
  readonly basePath: string;
  readonly externalBasePath: string;
  readonly departmentCreatedAt: string;
  readonly routes: RouteDef[];
  now(): number;
  departmentAgents(id: number): SimAgent[];
  allAgents(): SimAgent[];
  queuePosition(rec: SimInteraction): number;
  finishRecord(rec: SimInteraction, by: 'agent' | 'api'): void;
  fetchInto(rec: SimInteraction): Promise<HistoryFetch>;
  send(rec: SimInteraction, event: TriggerEvent, payload: TriggerPayload): Promise<ActionResult>;
  track(p: Promise<unknown>): void;
  logLine(line: string): void;
}

export async function handle(sim: ApiHost, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (sim.faults.down === 'reset') {
    reply.hijack();
    req.raw.socket.destroy();
    sim.logLine(`${req.method} ${req.url} → connection reset (down)`);
    return undefined;
  }
  if (sim.faults.latencyMs > 0) await sleep(sim.faults.latencyMs);

  const [rawPath = '/', rawQuery = ''] = req.url.split('?', 2) as [string, string?];
  const path = rawPath.length > 1 ? rawPath.replace(/\/+$/, '') : rawPath;
  const query = new URLSearchParams(rawQuery);
  const raw = typeof req.body === 'string' ? req.body : '';
  let body: unknown = raw;
  let badJson = false;
  if (raw !== '') {
    try {
      body = JSON.parse(raw);
    } catch {
      badJson = true;
    }
  }
  const match = matchRoute(sim, req.method, path);
  const after: Array<() => void> = [];
  const shape = match?.def.errorShape ?? 'interactions';
  const fail = (status: number, message: string, headers?: Record<string, string>): Answer => ({
    status,
    body: shape === 'external' ? externalError(status, message) : error(status, message),
    ...(headers ? { headers } : {}),
  });

  const answer = ((): Answer => {
    if (typeof sim.faults.down === 'number') return fail(sim.faults.down, `Service unavailable (${sim.faults.down})`);
    const injected = sim.faults.take(match?.def.route);
    if (injected) {
      return fail(
        injected.status,
        `Injected ${injected.status}`,
        injected.retryAfter !== undefined ? { 'retry-after': String(injected.retryAfter) } : undefined,
      );
    }
    if (!match) return fail(404, MSG.routeNotFound); // UNVERIFIED: body of an unknown route
    if (badJson) return fail(400, MSG.badJson); // UNVERIFIED: status and body for malformed JSON
    const obj = V.isObject(body) ? body : {};
    // Token: in the JSON body (interactions.md, every route); in the query string for GETs
    // (departments.md, agent.md: `?token={yourAPIToken}`). A POST/PUT with the token only in the
    // query string is refused (UNVERIFIED: the doc never shows it).
    const token = match.def.method === 'GET' ? (query.get('token') ?? undefined) : V.bodyToken(obj);
    if (!token || !sim.tokens.has(token)) return fail(sim.options.tokenErrorStatus ?? 422, MSG.invalidToken);
    return match.def.handle({ params: match.params, query, body: obj, after });
  })();

  sim.requests.push({
    at: sim.now(),
    method: req.method,
    path,
    query: rawQuery,
    route: match?.def.route,
    headers: { ...req.headers },
    body: raw === '' ? '' : badJson ? raw : body,
    status: answer.status,
    response: answer.body,
  });
  sim.logLine(`${req.method} ${path} → ${answer.status}`);
  reply.code(answer.status);
  if (answer.headers) reply.headers(answer.headers);
  // History fetch and auto-queue start once the answer is on the wire, as a real server's would.
  if (after.length > 0) reply.raw.once('finish', () => after.forEach((f) => f()));
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(answer.body));
}

function matchRoute(sim: ApiHost, method: string, path: string): { def: RouteDef; params: string[] } | undefined {
  for (const def of sim.routes) {
    if (def.method !== method) continue;
    const m = def.regex.exec(path);
    if (m) return { def, params: m.slice(1).map((p) => decodeURIComponent(p)) };
  }
  return undefined;
}

/** The route table: one entry per documented route, with the page whose error shape it answers. */
export function buildRoutes(sim: ApiHost): RouteDef[] {
  const r = (route: ApiRoute, handle: RouteDef['handle'], base = sim.basePath, errorShape: RouteDef['errorShape'] = 'interactions'): RouteDef => {
    const [method, template] = route.split(' ') as [RouteDef['method'], string];
    const regex = new RegExp(`^${escapeRegex(base)}${template.replace(/\{[^}]+\}/g, '([^/]+)')}$`);
    return { method, route, regex, errorShape, handle };
  };
  return [
    r('POST /interactions', (c) => startInteraction(sim, c)),
    r('PUT /interactions/{hash}', (c) => updateInteraction(sim, c)),
    r('POST /interactions/{hash}/messages', (c) => customerMessage(sim, c)),
    r('PUT /interactions/{hash}/typing', (c) => customerTyping(sim, c, true)),
    r('PUT /interactions/{hash}/cleared', (c) => customerTyping(sim, c, false)),
    r('PUT /interactions/{hash}/finish', (c) => apiFinish(sim, c)),
    r('GET /agents/online', (c) => getOnlineAgents(sim, c)),
    r('GET /departments', () => getDepartments(sim), sim.externalBasePath, 'external'),
  ];
}

/** interactions.md "Start interaction". */
function startInteraction(sim: ApiHost, { body, after }: Ctx): Answer {
  const v = V.startInteraction(body);
  if (!v.ok) return { status: 422, body: error(422, v.message) };
  // "Id of an active department from your account".
  const dep = sim.departments.find((d) => d.id === v.value.departmentId && d.active !== false);
  if (!dep) return { status: 422, body: error(422, MSG.departmentNotFound) };
  const rec: SimInteraction = {
    hash: newHash(),
    createdAt: sim.now(),
    department: { id: dep.id, name: dep.name },
    mediaType: v.value.mediaType,
    ...(v.value.customer ? { customer: v.value.customer } : {}),
    extra: v.value.extra,
    ...(v.value.externalHistory ? { externalHistory: v.value.externalHistory } : {}),
    state: 'created',
    messages: [],
    customerTyping: false,
    agentTyping: false,
    history: [],
  };
  sim.store.set(rec.hash, rec);
  const fetchOn = sim.options.fetchHistoryOn ?? 'create';
  if (fetchOn === 'create' && rec.externalHistory) after.push(() => sim.track(sim.fetchInto(rec)));
  if (sim.options.autoQueue) {
    after.push(() => {
      if (rec.state !== 'created') return;
      rec.state = 'queued';
      rec.position = sim.queuePosition(rec);
      sim.track(sim.send(rec, 'queued', stateTrigger(rec.hash, 'queued', rec.extra, rec.position)));
    });
  }
  // HTTP 200: the doc shows the body only (UNVERIFIED: 200 vs 201).
  return { status: 200, body: created(rec.hash) };
}

/** interactions.md "Update interaction". Allowed on a finished interaction (rating comes after the end; UNVERIFIED). */
function updateInteraction(sim: ApiHost, { params, body }: Ctx): Answer {
  const rec = sim.store.get(params[0]!);
  if (!rec) return { status: 404, body: error(404, MSG.notFound) };
  const v = V.updateInteraction(body);
  if (!v.ok) return { status: 422, body: error(422, v.message) };
  if (v.value.mood) rec.mood = v.value.mood;
  if (v.value.tagIds) rec.tagIds = v.value.tagIds;
  if (v.value.customerKey !== undefined) rec.customerKey = v.value.customerKey;
  if (v.value.note !== undefined) rec.note = v.value.note;
  return { status: 200, body: updated() };
}

/** interactions.md "Send message". No trigger: the triggers are the agent's side only. */
function customerMessage(sim: ApiHost, { params, body }: Ctx): Answer {
  const rec = sim.store.get(params[0]!);
  if (!rec) return { status: 404, body: error(404, MSG.notFound) };
  const v = V.sendMessage(body);
  if (!v.ok) return { status: 422, body: error(422, v.message) };
  if (rec.finished) return { status: 422, body: error(422, MSG.finished) };
  rec.messages.push({ hash: newHash(), direction: 'customer', content: v.value.content, type: v.value.type, url: v.value.url, at: sim.now() });
  rec.customerTyping = false;
  return { status: 200, body: messageCreated(rec.hash) };
}

/** interactions.md "Notify when client typing" / "Notify when client stop typing". */
function customerTyping(sim: ApiHost, { params }: Ctx, on: boolean): Answer {
  const rec = sim.store.get(params[0]!);
  if (!rec) return { status: 404, body: error(404, MSG.notFound) };
  if (rec.finished) return { status: 422, body: error(422, MSG.finished) };
  rec.customerTyping = on;
  return { status: 200, body: on ? typingSent() : clearedSent() };
}

/** interactions.md "Finish Interaction". Sends `finished` only with `finishedTriggerOnApiFinish` (UNVERIFIED). */
function apiFinish(sim: ApiHost, { params, after }: Ctx): Answer {
  const rec = sim.store.get(params[0]!);
  if (!rec) return { status: 404, body: error(404, MSG.notFound) };
  if (rec.finished) return { status: 422, body: error(422, MSG.finished) };
  sim.finishRecord(rec, 'api');
  if (sim.options.finishedTriggerOnApiFinish) after.push(() => sim.track(sim.send(rec, 'finished', stateTrigger(rec.hash, 'finished', rec.extra))));
  return { status: 200, body: finishSent() };
}

/** agent.md "Get Online Agents": `department_id` optional, "Id of an active department". */
function getOnlineAgents(sim: ApiHost, { query }: Ctx): Answer {
  const raw = query.get('department_id');
  if (raw === null || raw === '') return { status: 200, body: onlineAgents(sim.allAgents()) };
  const dep = sim.departments.find((d) => String(d.id) === raw && d.active !== false);
  if (!dep) return { status: 422, body: error(422, MSG.departmentNotFound) };
  return { status: 200, body: onlineAgents(sim.departmentAgents(dep.id)) };
}

/** departments.md "Get Departments": a bare array, inactive departments included (`state: 0`). */
function getDepartments(sim: ApiHost): Answer {
  return { status: 200, body: sim.departments.map((d) => departmentView(d, sim.departmentAgents(d.id), sim.departmentCreatedAt)) };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
