/**
 * The ServiceNow simulator's HTTP surface: one handler for every request (faults, routing,
 * recording), the authentication of configure-send-request.md and set-up-message-auth-va-api.md,
 * the instance's inbound rate limiting, and the CCCIF media upload and download. What a request
 * does to the conversations is in actions.ts; the state and the agent's side in index.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { integration } from './actions.js';
import type { Faults, RateLimiter } from './faults.js';
import { ERR, MEDIA_PATH_PREFIX, MEDIA_UPLOAD_PATHS, INTEGRATION_PATH, b2bSignature, mediaToken, safeEqual, sysId } from './fixtures.js';
import type { ActionResult, ApiRoute, BodyItem, InboundRecord, MediaFile, ServiceNowSimulatorOptions, SimAgent, SimConversation, VaRequest } from './types.js';
import { isObject } from './validate.js';

export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  outcome: InboundRecord['outcome'];
  /** Sent as text/plain instead of JSON (the UPDATE_MESSAGES text answer). */
  text?: boolean;
  principal?: string;
  requestId?: string;
  action?: string | null;
  conversationId?: string;
  duplicateOf?: number;
  /** Runs once the answer is on the wire: the asynchronous VA response. */
  after?: () => void;
}

export type Principal = { ok: true; principal: string; rest: boolean } | { ok: false; kind: 'rest' | 'token' | 'hash' };

/** What the API reads and changes of the simulator (its state, configuration and helpers). */
export interface Host {
  readonly options: ServiceNowSimulatorOptions;
  readonly requests: InboundRecord[];
  readonly media: MediaFile[];
  readonly store: Map<string, SimConversation>;
  readonly faults: Faults;
  readonly limiter: RateLimiter | undefined;
  readonly seenRequestIds: Map<string, number>;
  readonly baseUrl: string | undefined;
  readonly url: string;
  now(): number;
  accept(id: string, agent?: SimAgent | string): Promise<ActionResult>;
  respond(c: SimConversation | undefined, cause: string, body: BodyItem[] | 'send-history', flags: { agentChat?: boolean; completed?: boolean; takeControl?: boolean; score?: number; silent?: boolean }, r: VaRequest): void;
  track(p: Promise<unknown>): void;
  logLine(line: string): void;
}

export async function handle(sim: Host, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (sim.faults.down === 'reset') {
    reply.hijack();
    req.raw.socket.destroy();
    sim.logLine(`${req.method} ${req.url} → connection reset (down)`);
    return undefined;
  }
  if (sim.faults.latencyMs > 0) await sleep(sim.faults.latencyMs);
  const path = (req.url.split('?', 1)[0] ?? '/').replace(/\/+$/, '') || '/';
  const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const route: ApiRoute | undefined =
    path === INTEGRATION_PATH
      ? 'POST integration'
      : (MEDIA_UPLOAD_PATHS as readonly string[]).includes(path)
        ? 'POST media/upload'
        : path.startsWith(MEDIA_PATH_PREFIX)
          ? 'GET media'
          : undefined;

  let answer: Answer;
  let binary: { type: string; data: Buffer } | undefined;
  const injected = typeof sim.faults.down === 'number' ? undefined : sim.faults.take(route);
  if (typeof sim.faults.down === 'number') {
    answer = { status: sim.faults.down, body: ERR.serverError(`Service unavailable (${sim.faults.down})`), outcome: 'injected' };
  } else if (injected) {
    const body = injected.status === 429 ? ERR.rateLimited(1, 'VA Bot Integration') : injected.status === 401 ? ERR.unauthenticated() : injected.status >= 500 ? ERR.serverError(`Injected ${injected.status}`) : ERR.badRequest(`Injected ${injected.status}`);
    answer = { status: injected.status, body, outcome: 'injected', ...(injected.retryAfter !== undefined ? { headers: { 'retry-after': String(injected.retryAfter) } } : {}) };
  } else if (!route) {
    answer = { status: 400, body: ERR.noResource(), outcome: 'rejected' };
  } else if (route === 'POST integration') {
    answer = req.method === 'POST' ? await integration(sim, req, bytes) : { status: 405, body: ERR.methodNotAllowed(req.method), outcome: 'rejected' };
  } else if (route === 'POST media/upload') {
    answer = req.method === 'POST' ? await upload(sim, req, bytes) : { status: 405, body: ERR.methodNotAllowed(req.method), outcome: 'rejected' };
  } else {
    const r = download(sim, req, path);
    answer = r.answer;
    binary = r.binary;
  }

  sim.requests.push({
    at: sim.now(),
    method: req.method,
    path,
    headers: { ...req.headers },
    raw: String(req.headers['content-type'] ?? '').startsWith('multipart/') ? `(multipart, ${bytes.length} bytes)` : bytes.toString('utf8'),
    body: parseOr(bytes),
    status: answer.status,
    response: answer.body,
    responseHeaders: answer.headers ?? {},
    outcome: answer.outcome,
    ...(answer.principal !== undefined ? { principal: answer.principal } : {}),
    ...(answer.requestId !== undefined ? { requestId: answer.requestId } : {}),
    ...(answer.action !== undefined ? { action: answer.action } : {}),
    ...(answer.conversationId !== undefined ? { conversationId: answer.conversationId } : {}),
    ...(answer.duplicateOf !== undefined ? { duplicateOf: answer.duplicateOf } : {}),
  });
  sim.logLine(`${req.method} ${path} → ${answer.status} (${answer.outcome})`);
  reply.code(answer.status);
  if (answer.headers) reply.headers(answer.headers);
  if (answer.after) {
    const after = answer.after;
    reply.raw.once('finish', () => after());
  }
  if (binary) return reply.type(binary.type).send(binary.data);
  if (answer.text) return reply.type('text/plain; charset=utf-8').send(String(answer.body));
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(answer.body));
}

/** Authentication of configure-send-request.md step 6 and set-up-message-auth-va-api.md. */
export function authenticate(sim: Host, req: FastifyRequest, raw: string, body: unknown): Principal {
  const a = sim.options.auth;
  const authz = header(req, 'authorization');
  let rest: string | undefined;
  if (authz !== undefined) {
    const basic = /^Basic\s+(.+)$/i.exec(authz);
    const bearer = /^Bearer\s+(.+)$/i.exec(authz);
    if (basic) {
      const [user, ...pass] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      const hit = (a.basic ?? []).find((c) => safeEqual(c.username, user ?? '') && safeEqual(c.password, pass.join(':')));
      if (!hit) return { ok: false, kind: 'rest' };
      rest = `basic:${hit.username}`;
    } else if (bearer) {
      const i = (a.bearer ?? []).findIndex((t) => safeEqual(t, bearer[1]!.trim()));
      if (i < 0) return { ok: false, kind: 'rest' };
      rest = `oauth:${i}`;
    } else return { ok: false, kind: 'rest' };
  }
  // Message auth, when the provider application has one, is required on top of (or instead of)
  // Basic/OAuth: "You can use token-based authentication (Static or Hash) with or without Basic or OAuth".
  if (a.token !== undefined) {
    // "The token can be passed in either the request body or the header. If the token is
    // specified in both places, the one in the header is accepted."
    const given = header(req, 'token') ?? (isObject(body) && typeof body['token'] === 'string' ? body['token'] : undefined);
    if (given === undefined || !safeEqual(given, a.token)) return { ok: false, kind: 'token' };
    return { ok: true, principal: rest ?? 'token', rest: rest !== undefined };
  }
  if (a.hashSecret !== undefined) {
    const sig = header(req, 'x-b2b-signature');
    if (sig === undefined || !hashOk(sim, a.hashSecret, raw, sig.toLowerCase())) return { ok: false, kind: 'hash' };
    return { ok: true, principal: rest ?? 'hash', rest: rest !== undefined };
  }
  if (rest === undefined) return { ok: false, kind: 'rest' };
  return { ok: true, principal: rest, rest: true };
}

export function hashOk(sim: Host, secret: string, raw: string, sig: string): boolean {
  const mode = sim.options.auth.hashInput ?? 'normalized';
  const tries: Array<'normalized' | 'raw'> = mode === 'either' ? ['normalized', 'raw'] : [mode];
  return tries.some((t) => {
    try {
      return safeEqual(b2bSignature(secret, raw, t), sig);
    } catch {
      return false; // not JSON: nothing to normalise
    }
  });
}

export function rateLimit(sim: Host, principal: string): { refused?: Answer; headers: Record<string, string> } {
  if (!sim.limiter) return { headers: {} };
  const v = sim.limiter.take(principal);
  if (v.allowed) return { headers: v.headers };
  return {
    headers: v.headers,
    refused: { status: 429, body: ERR.rateLimited(sim.limiter.rule.limit, sim.limiter.rule.apiName ?? 'VA Bot Integration'), headers: v.headers, outcome: 'rate-limited', principal },
  };
}

/**
 * cccif-api.md (ServiceNowDocs, research §1.4; virtual-agent-api-whats-new.md 3.0.x "Secure file
 * uploads"): multipart `user_id` (required), `provider_application_id` (optional), `file`;
 * "Basic or OAuth authentication is supported, but Message Authentication is not"; 201 with
 * `{"result": {mediaUrl, name, state: "pending", attachmentId}}`.
 */
export async function upload(sim: Host, req: FastifyRequest, bytes: Buffer): Promise<Answer> {
  const who = restPrincipal(sim, req);
  if (!who) return { status: 401, body: ERR.unauthenticated(), outcome: 'unauthorized' };
  const rl = rateLimit(sim, who);
  if (rl.refused) return rl.refused;
  const base = { headers: rl.headers, principal: who };
  const type = header(req, 'content-type') ?? '';
  if (!/^multipart\/form-data/i.test(type)) return { ...base, status: 400, body: ERR.badRequest('Content-Type must be multipart/form-data'), outcome: 'rejected' };
  let form: FormData;
  try {
    form = await new Request('http://sim.invalid/', { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(bytes) }).formData();
  } catch {
    return { ...base, status: 400, body: ERR.badRequest('malformed multipart body'), outcome: 'rejected' };
  }
  const user = form.get('user_id');
  if (typeof user !== 'string' || user === '') return { ...base, status: 400, body: ERR.badRequest('user_id is required'), outcome: 'rejected' };
  const file = form.get('file');
  if (file === null || typeof file === 'string') return { ...base, status: 400, body: ERR.badRequest('file is required'), outcome: 'rejected' };
  const app = form.get('provider_application_id');
  const token = mediaToken();
  const f: MediaFile = {
    attachmentId: sysId(),
    token,
    userId: user,
    ...(typeof app === 'string' && app !== '' ? { providerApplicationId: app } : {}),
    name: file.name || 'file',
    contentType: file.type || 'application/octet-stream',
    data: Buffer.from(await file.arrayBuffer()),
    mediaUrl: `${sim.url}${MEDIA_PATH_PREFIX}${token}`,
    at: sim.now(),
  };
  sim.media.push(f);
  return { ...base, status: 201, body: { result: { mediaUrl: f.mediaUrl, name: f.name, state: 'pending', attachmentId: f.attachmentId } }, outcome: 'accepted' };
}

export function download(sim: Host, req: FastifyRequest, path: string): { answer: Answer; binary?: { type: string; data: Buffer } } {
  if (req.method !== 'GET') return { answer: { status: 405, body: ERR.methodNotAllowed(req.method), outcome: 'rejected' } };
  if (sim.options.mediaRequiresAuth && !restPrincipal(sim, req)) return { answer: { status: 401, body: ERR.unauthenticated(), outcome: 'unauthorized' } };
  const f = sim.media.find((m) => m.token === path.slice(MEDIA_PATH_PREFIX.length));
  if (!f) return { answer: { status: 404, body: ERR.noResource(), outcome: 'rejected' } };
  return { answer: { status: 200, body: `(${f.data.length} bytes)`, outcome: 'accepted' }, binary: { type: f.contentType, data: f.data } };
}

export function restPrincipal(sim: Host, req: FastifyRequest): string | undefined {
  const authz = header(req, 'authorization') ?? '';
  const basic = /^Basic\s+(.+)$/i.exec(authz);
  const bearer = /^Bearer\s+(.+)$/i.exec(authz);
  if (basic) {
    const [user, ...pass] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
    const hit = (sim.options.auth.basic ?? []).find((c) => safeEqual(c.username, user ?? '') && safeEqual(c.password, pass.join(':')));
    return hit ? `basic:${hit.username}` : undefined;
  }
  if (bearer) {
    const i = (sim.options.auth.bearer ?? []).findIndex((t) => safeEqual(t, bearer[1]!.trim()));
    return i >= 0 ? `oauth:${i}` : undefined;
  }
  return undefined;
}

export function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function parseOr(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}
