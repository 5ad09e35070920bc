/**
 * The Zendesk simulator's ticket route (Support API + Zendesk webhooks) over real HTTP: auth,
 * users by external id, tickets and comments, uploads, the per-ticket update limit, and webhook
 * deliveries whose signature the test recomputes itself (research §A.2.5).
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TRIGGER_TEMPLATES, ZendeskSimulator, triggerDefinitions, zendeskSignature } from '../../simulators/zendesk/index.js';

const EMAIL = 'bridge@acme.example';
const TOKEN = '6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv';
const SIGNING_SECRET = 'dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==';

interface Hit {
  headers: IncomingHttpHeaders;
  raw: string;
  body: any;
}

/** The bridge's side: records raw bodies (the signature covers the exact bytes). */
class Receiver {
  hits: Hit[] = [];
  answers: Array<{ status: number; retryAfter?: string }> = [];
  url = '';
  private app: FastifyInstance | undefined;

  async start(): Promise<void> {
    const app = Fastify();
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    app.post('/helpdesk/acme/webhook', async (req, reply) => {
      const raw = String(req.body);
      this.hits.push({ headers: req.headers, raw, body: JSON.parse(raw) });
      const a = this.answers.shift() ?? { status: 200 };
      if (a.retryAfter !== undefined) reply.header('retry-after', a.retryAfter);
      return reply.code(a.status).send();
    });
    this.url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/helpdesk/acme/webhook`;
    this.app = app;
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }
}

/** Independent check of research §A.2.5: base64(HMAC-SHA256(secret, timestamp + body)). */
function verify(hit: Hit, secret = SIGNING_SECRET): boolean {
  const ts = hit.headers['x-zendesk-webhook-signature-timestamp'];
  const sig = hit.headers['x-zendesk-webhook-signature'];
  if (typeof ts !== 'string' || typeof sig !== 'string') return false;
  return (
    createHmac('sha256', secret)
      .update(ts + hit.raw)
      .digest('base64') === sig
  );
}

let sim: ZendeskSimulator;
let hook: Receiver;

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const AUTH = basic(`${EMAIL}/token`, TOKEN);

async function zd(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await request(`${sim.url}${path}`, {
    method,
    headers: { authorization: AUTH, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  let json: any;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

async function endUser(externalId: string, name = 'Maria Silva') {
  const r = await zd('POST', '/api/v2/users/create_or_update', {
    user: { name, external_id: externalId, email: `${externalId.replace(/\W/g, '')}@example.com`, skip_verify_email: true },
  });
  expect([200, 201]).toContain(r.status);
  return r.json.user as { id: number; external_id: string };
}

async function ticketFor(requesterId: number, extra: Record<string, unknown> = {}) {
  const r = await zd('POST', '/api/v2/tickets', {
    ticket: {
      subject: 'Blip: Maria Silva',
      requester_id: requesterId,
      external_id: 'att-1',
      comment: { html_body: '<p><b>Transcript</b><br>Oi</p>', public: false },
      tags: ['blip_bridge'],
      ...extra,
    },
  });
  expect(r.status).toBe(201);
  return r.json.ticket as { id: number };
}

beforeAll(async () => {
  hook = new Receiver();
  await hook.start();
  sim = new ZendeskSimulator({
    support: {
      agents: [
        { email: EMAIL, token: TOKEN, name: 'Bridge API', role: 'admin' },
        { email: 'ana@acme.example', password: 'pw', name: 'Ana Agent', role: 'agent' },
      ],
      oauthTokens: [{ token: 'oauth-token-1', email: EMAIL }],
      webhook: { signingSecret: SIGNING_SECRET, retry: { delaysMs: [30, 60, 90] } },
      limits: { ticketUpdatesPerUserPerTicket: 3, ticketUpdateWindowMs: 60_000 },
    },
  });
  await sim.start();
  sim.setSupportWebhookEndpoint(hook.url);
});

afterAll(async () => {
  await sim.stop();
  await hook.stop();
});

beforeEach(() => {
  hook.hits = [];
  hook.answers = [];
});

afterEach(async () => {
  await sim.webhooksIdle(5_000);
  sim.reset();
});

describe('Zendesk simulator: Support tickets API', () => {
  it('authenticates {email}/token:{token}, {email}:{password} and OAuth bearer; 401 otherwise', async () => {
    expect((await zd('GET', '/api/v2/tickets/1.json')).status).toBe(404); // authenticated, no such ticket
    expect((await zd('GET', '/api/v2/tickets/1', undefined, { authorization: 'Bearer oauth-token-1' })).status).toBe(404);
    expect((await zd('GET', '/api/v2/tickets/1', undefined, { authorization: basic('ana@acme.example', 'pw') })).status).toBe(404);
    for (const authorization of ['', basic(`${EMAIL}/token`, 'wrong'), basic(EMAIL, TOKEN), 'Bearer nope', basic('ana@acme.example/token', TOKEN)]) {
      const r = await zd('GET', '/api/v2/tickets/1', undefined, { authorization });
      expect(r.status, authorization).toBe(401);
      expect(r.json).toEqual({ error: "Couldn't authenticate you" });
    }
    const ok = await zd('GET', '/api/v2/users/search?external_id=x');
    expect(ok.headers['x-rate-limit']).toBe('700');
    expect(Number(ok.headers['x-rate-limit-remaining'])).toBeLessThan(700);
  });

  it('create_or_update: 201 + Location when new, 200 when the external id matches in any case', async () => {
    const created = await zd('POST', '/api/v2/users/create_or_update.json', { user: { name: 'Maria', external_id: 'blip:ABC' } });
    expect(created.status).toBe(201);
    expect(created.headers['location']).toBe(`${sim.url}/api/v2/users/${created.json.user.id}.json`);
    expect(created.json.user).toMatchObject({ name: 'Maria', external_id: 'blip:ABC', role: 'end-user' });
    const updated = await zd('POST', '/api/v2/users/create_or_update', { user: { name: 'Maria Silva', external_id: 'blip:abc' } });
    expect(updated.status).toBe(200);
    expect(updated.json.user).toMatchObject({ id: created.json.user.id, name: 'Maria Silva', external_id: 'blip:abc' });
    const found = await zd('GET', '/api/v2/users/search.json?external_id=BLIP:ABC');
    expect(found.json.users.map((u: { id: number }) => u.id)).toEqual([created.json.user.id]);
    const nameless = await zd('POST', '/api/v2/users/create_or_update', { user: { external_id: 'blip:new' } });
    expect(nameless.status).toBe(422);
    expect(nameless.json.error).toBe('RecordInvalid');
    expect((await zd('POST', '/api/v2/users/create_or_update', { name: 'no wrapper' })).status).toBe(400);
  });

  it('creates a ticket (requester, html comment, private, tags, group, custom fields) and adds the requester’s comments', async () => {
    const maria = await endUser('blip:5511999990001@wa.gw.msging.net');
    const r = await zd('POST', '/api/v2/tickets.json', {
      ticket: {
        subject: 'Blip: Maria Silva',
        requester_id: maria.id,
        external_id: 'att-42',
        comment: { html_body: '<p>Transcript:<br>Oi &amp; olá</p>', public: false },
        tags: ['blip_bridge', 'vip'],
        group_id: 360001,
        custom_fields: [{ id: 7001, value: 'gold' }],
        priority: 'high',
      },
    });
    expect(r.status).toBe(201);
    expect(r.headers['location']).toBe(`${sim.url}/api/v2/tickets/${r.json.ticket.id}.json`);
    expect(r.json.ticket).toMatchObject({
      requester_id: maria.id,
      external_id: 'att-42',
      status: 'new',
      tags: ['blip_bridge', 'vip'],
      group_id: 360001,
      custom_fields: [{ id: 7001, value: 'gold' }],
      priority: 'high',
      is_public: false,
      via: { channel: 'api' },
      description: 'Transcript:\nOi & olá',
    });
    expect(r.json.ticket.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(r.json.audit.events[0]).toMatchObject({ type: 'Comment', public: false });
    const id = r.json.ticket.id as number;

    const upd = await zd('PUT', `/api/v2/tickets/${id}.json`, { ticket: { comment: { body: 'Ainda estou aqui', author_id: maria.id, public: true } } });
    expect(upd.status).toBe(200);
    expect(upd.json.audit.events[0]).toMatchObject({ type: 'Comment', author_id: maria.id, body: 'Ainda estou aqui' });

    const shown = await zd('GET', `/api/v2/tickets/${id}`);
    expect(shown.json.ticket.id).toBe(id);
    const comments = await zd('GET', `/api/v2/tickets/${id}/comments.json`);
    expect(comments.json.count).toBe(2);
    expect(comments.json.comments[0]).toMatchObject({
      type: 'Comment',
      public: false,
      html_body: '<p>Transcript:<br>Oi &amp; olá</p>',
      plain_body: 'Transcript:\nOi & olá',
    });
    expect(comments.json.comments[1]).toMatchObject({ author_id: maria.id, public: true, body: 'Ainda estou aqui', plain_body: 'Ainda estou aqui' });
    const paged = await zd('GET', `/api/v2/tickets/${id}/comments?page[size]=1`);
    expect(paged.json.comments).toHaveLength(1);
    expect(paged.json.meta.has_more).toBe(true);
    const next = await request(paged.json.links.next, { headers: { authorization: AUTH } });
    expect(((await next.body.json()) as any).comments[0].author_id).toBe(maria.id);
  });

  it('ticket creation honours Idempotency-Key: the same request again gets the same ticket (hit); other parameters are 400', async () => {
    const maria = await endUser('blip:5511999990009@wa.gw.msging.net');
    const body = { ticket: { subject: 'Chat', requester_id: maria.id, comment: { body: 'Oi', author_id: maria.id } } };
    const key = { 'idempotency-key': 'open-123' };
    const first = await zd('POST', '/api/v2/tickets.json', body, key);
    expect(first.status).toBe(201);
    expect(first.headers['x-idempotency-lookup']).toBe('miss');
    const again = await zd('POST', '/api/v2/tickets.json', body, key);
    expect(again.status).toBe(201);
    expect(again.headers['x-idempotency-lookup']).toBe('hit');
    expect(again.json).toEqual(first.json);
    expect(sim.support.tickets.size).toBe(1);
    expect(sim.support.idempotency.hits).toBe(1);
    const other = await zd('POST', '/api/v2/tickets.json', { ticket: { ...body.ticket, subject: 'Another' } }, key);
    expect(other.status).toBe(400);
    expect(other.json.error).toBe('IdempotentRequestError');
    // Without the header, or with another key, each request is a new ticket.
    expect((await zd('POST', '/api/v2/tickets.json', body)).status).toBe(201);
    expect((await zd('POST', '/api/v2/tickets.json', body, { 'idempotency-key': 'open-456' })).headers['x-idempotency-lookup']).toBe('miss');
    expect(sim.support.tickets.size).toBe(3);
  });

  it('uploads: raw bytes → token → attachment on a comment; tokens are single use', async () => {
    const maria = await endUser('blip:u');
    const t = await ticketFor(maria.id);
    const up = await zd('POST', '/api/v2/uploads.json?filename=receipt.png', Buffer.from('PNGDATA'), { 'content-type': 'image/png' });
    expect(up.status).toBe(201);
    expect(up.json.upload.token).toMatch(/^[a-z0-9]+$/);
    expect(up.json.upload.attachment).toMatchObject({ file_name: 'receipt.png', content_type: 'image/png', size: 7 });
    const more = await zd('POST', `/api/v2/uploads?filename=b.txt&token=${up.json.upload.token}`, 'hello', { 'content-type': 'text/plain' });
    expect(more.json.upload.token).toBe(up.json.upload.token);
    expect(more.json.upload.attachments).toHaveLength(2);

    const r = await zd('PUT', `/api/v2/tickets/${t.id}`, { ticket: { comment: { body: 'photo', author_id: maria.id, uploads: [up.json.upload.token] } } });
    expect(r.status).toBe(200);
    const last = (await zd('GET', `/api/v2/tickets/${t.id}/comments`)).json.comments.at(-1);
    expect(last.attachments.map((a: { file_name: string }) => a.file_name)).toEqual(['receipt.png', 'b.txt']);
    const file = await request(last.attachments[0].content_url);
    expect(await file.body.text()).toBe('PNGDATA');

    await zd('PUT', `/api/v2/tickets/${t.id}`, { ticket: { comment: { body: 'again', author_id: maria.id, uploads: [up.json.upload.token] } } });
    const again = sim.ticket(t.id)!.comments.at(-1)!;
    expect(again.attachments).toHaveLength(0);
    expect(again.ignoredUploads).toEqual([up.json.upload.token]);
    expect((await zd('POST', '/api/v2/uploads?filename=x.bin', 'x', { 'content-type': 'nonsense' })).status).toBe(400);
    const gone = await zd('POST', '/api/v2/uploads?filename=x.bin', 'x', { 'content-type': 'application/binary' });
    expect((await zd('DELETE', `/api/v2/uploads/${gone.json.upload.token}.json`)).status).toBe(204);
    expect((await zd('DELETE', `/api/v2/uploads/${gone.json.upload.token}`)).status).toBe(404);
  });

  it('answers 404, 422 (invalid, closed), 409 (safe update) and changes nothing', async () => {
    const maria = await endUser('blip:e');
    const t = await ticketFor(maria.id);
    expect((await zd('GET', '/api/v2/tickets/999999')).json).toEqual({ error: 'RecordNotFound', description: 'Not found' });
    expect((await zd('PUT', '/api/v2/tickets/999999', { ticket: { comment: { body: 'x' } } })).status).toBe(404);
    expect((await zd('PUT', `/api/v2/tickets/${t.id}`, { ticket: { status: 'archived' } })).status).toBe(422);
    expect((await zd('PUT', `/api/v2/tickets/${t.id}`, { ticket: { comment: { body: 'x', author_id: 1 } } })).status).toBe(422);
    expect((await zd('PUT', `/api/v2/tickets/${t.id}`, { ticket: { status: 'solved' } })).status).toBe(422); // no assignee (research §A.2.3)
    expect((await zd('POST', '/api/v2/tickets', { ticket: { subject: 'no comment', requester_id: maria.id } })).status).toBe(422);
    expect((await zd('POST', '/api/v2/tickets', '{"ticket":', {})).status).toBe(400);
    const stale = await zd('PUT', `/api/v2/tickets/${t.id}`, { ticket: { comment: { body: 'x' }, safe_update: true, updated_stamp: '2000-01-01T00:00:00Z' } });
    expect(stale.status).toBe(409);
    expect(stale.json.error).toBe('UpdateConflict');
    const fresh = sim.ticket(t.id)!.updated_at;
    expect((await zd('PUT', `/api/v2/tickets/${t.id}`, { ticket: { tags: ['blip_bridge', 'x'], safe_update: true, updated_stamp: fresh } })).status).toBe(200);
    expect(sim.ticket(t.id)!.comments).toHaveLength(1);

    sim.setStatus(t.id, 'solved');
    sim.setStatus(t.id, 'closed');
    const closed = await zd('PUT', `/api/v2/tickets/${t.id}`, { ticket: { comment: { body: 'hello?', author_id: maria.id } } });
    expect(closed.status).toBe(422);
    expect(closed.json.details.status[0].description).toBe('Status: closed prevents ticket update');
  });

  it('limits updates per user per ticket (429 + Retry-After), counting only accepted updates', async () => {
    const maria = await endUser('blip:r');
    const t = await ticketFor(maria.id);
    const other = await ticketFor(maria.id);
    for (let i = 0; i < 3; i++)
      expect((await zd('PUT', `/api/v2/tickets/${t.id}`, { ticket: { comment: { body: `m${i}`, author_id: maria.id } } })).status).toBe(200);
    const limited = await zd('PUT', `/api/v2/tickets/${t.id}`, { ticket: { comment: { body: 'm3', author_id: maria.id } } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(sim.ticket(t.id)!.comments).toHaveLength(4);
    // Per ticket, and per user: another ticket, or another agent, is not limited.
    expect((await zd('PUT', `/api/v2/tickets/${other.id}`, { ticket: { comment: { body: 'ok', author_id: maria.id } } })).status).toBe(200);
    expect(
      (
        await zd(
          'PUT',
          `/api/v2/tickets/${t.id}`,
          { ticket: { comment: { body: 'oauth', author_id: maria.id } } },
          { authorization: basic('ana@acme.example', 'pw') },
        )
      ).status,
    ).toBe(200);
  });

  it('limits requests per account: 429 text/plain with Retry-After', async () => {
    const small = new ZendeskSimulator({ support: { agents: [{ email: EMAIL, token: TOKEN }], limits: { requestsPerMinute: 2 } } });
    const url = await small.start();
    try {
      const get = () => request(`${url}/api/v2/tickets/1`, { headers: { authorization: AUTH } });
      expect((await get()).statusCode).toBe(404);
      const second = await get();
      expect(second.headers['x-rate-limit-remaining']).toBe('0');
      const third = await get();
      expect(third.statusCode).toBe(429);
      expect(third.headers['content-type']).toMatch(/^text\/plain/);
      expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
      await third.body.dump();
    } finally {
      await small.stop();
    }
  });

  it('failNext injects statuses per operation with Retry-After', async () => {
    sim.failNext('support:CreateTicket', { status: 503, retryAfter: 7 });
    const maria = await endUser('blip:f');
    const r = await zd('POST', '/api/v2/tickets', { ticket: { requester_id: maria.id, comment: { body: 'x' } } });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('7');
    expect(sim.support.tickets.size).toBe(0);
    await ticketFor(maria.id);
    sim.failNext('support:*', { status: 429, retryAfter: 1, count: 2 });
    expect((await zd('GET', '/api/v2/users/search?external_id=x')).status).toBe(429);
    expect((await zd('GET', '/api/v2/users/search?external_id=x')).status).toBe(429);
    expect((await zd('GET', '/api/v2/users/search?external_id=x')).status).toBe(200);
  });
});

describe('Zendesk simulator: webhooks connected to the bridge’s triggers', () => {
  it('signs each delivery with base64(HMAC-SHA256(secret, timestamp + body)) and Zendesk’s headers', async () => {
    // research §A.2.5's locally computed vector.
    expect(zendeskSignature(SIGNING_SECRET, '2021-03-25T05:09:27Z', '{"type":"zen:event-type:ticket.status_changed","id":"abc"}')).toBe(
      'O3XmbIE3unyOYHFb8EoG1lJM8ToowNZsWuJVBr4/dcg=',
    );
    const maria = await endUser('blip:5511999990001@wa.gw.msging.net');
    const t = await ticketFor(maria.id);
    sim.agentComment(t.id, 'Olá Maria, sou a Ana. "Aspas" e\nquebra de linha.');
    const hit = await sim.waitFor(() => hook.hits[0]);
    expect(verify(hit)).toBe(true);
    expect(verify({ ...hit, raw: hit.raw.replace('Ana', 'Eva') })).toBe(false);
    expect(hit.headers['x-zendesk-webhook-signature-timestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(hit.headers['x-zendesk-webhook-id']).toBe(sim.support.webhook.id);
    expect(hit.headers['x-zendesk-account-id']).toBe('123456');
    expect(hit.headers['x-zendesk-webhook-invocation-id']).toMatch(/^\d+$/);
    expect(hit.headers['content-type']).toMatch(/^application\/json/);
    const agent = sim.support.agents[0]!;
    const comment = sim.ticket(t.id)!.comments.at(-1)!;
    expect(hit.body).toEqual({
      type: 'comment',
      ticket: { id: String(t.id), external_id: 'att-1', requester: { id: String(maria.id), external_id: 'blip:5511999990001@wa.gw.msging.net' } },
      comment: {
        id: String(comment.id),
        public: 'true',
        body: 'Olá Maria, sou a Ana. "Aspas" e\nquebra de linha.',
        author: { id: String(agent.id), name: 'Bridge API' },
        attachments: [],
      },
      current_user: { id: String(agent.id), name: 'Bridge API', role: 'admin', external_id: '' },
    });
  });

  it('delivers internal notes flagged public "false", and agent attachments with their URLs', async () => {
    const maria = await endUser('blip:n');
    const t = await ticketFor(maria.id);
    const ana = sim.support.agents[1]!;
    sim.agentComment(t.id, 'nota interna: cliente VIP', { public: false, agentId: ana.id });
    sim.agentComment(t.id, 'segue o boleto', { attachments: [{ fileName: 'boleto.pdf', contentType: 'application/pdf', data: '%PDF' }] });
    await sim.waitFor(() => hook.hits.length === 2);
    const [note, withFile] = [...hook.hits].sort((a, b) => Number(a.body.comment.id) - Number(b.body.comment.id)) as [Hit, Hit];
    expect(note.body.comment).toMatchObject({ public: 'false', body: 'nota interna: cliente VIP', author: { name: 'Ana Agent' } });
    expect(note.body.current_user).toMatchObject({ id: String(ana.id), role: 'agent' });
    expect(withFile.body.comment.attachments).toEqual([
      { filename: 'boleto.pdf', url: expect.stringMatching(/\/attachments\/token\/[^/]+\/\?name=boleto\.pdf$/) },
    ]);
    expect(await (await request(withFile.body.comment.attachments[0].url)).body.text()).toBe('%PDF');
    expect(hook.hits.every((h) => verify(h))).toBe(true);
  });

  it('does not echo the bridge’s own API comments (current_via_id is_not 5); solved fires the solved trigger', async () => {
    const maria = await endUser('blip:s');
    const t = await ticketFor(maria.id);
    await zd('PUT', `/api/v2/tickets/${t.id}`, { ticket: { comment: { body: 'from the customer', author_id: maria.id } } });
    sim.agentComment(t.id, 'Resolvido!', { status: 'solved' });
    await sim.waitFor(() => hook.hits.length === 2);
    await sim.webhooksIdle();
    expect(hook.hits.map((h) => h.body.type).sort()).toEqual(['comment', 'solved']);
    const solved = hook.hits.find((h) => h.body.type === 'solved')!;
    expect(solved.body).toEqual({
      type: 'solved',
      ticket: { id: String(t.id), external_id: 'att-1', requester: { id: String(maria.id), external_id: 'blip:s' } },
      current_user: expect.objectContaining({ role: 'admin' }),
    });
    expect(sim.ticket(t.id)!.status).toBe('solved');
    expect(sim.ticket(t.id)!.assignee_id).toBe(sim.support.agents[0]!.id); // solving assigns the agent
    // The customer writes again: the ticket reopens, and nothing is echoed.
    await zd('PUT', `/api/v2/tickets/${t.id}`, { ticket: { comment: { body: 'one more thing', author_id: maria.id } } });
    expect(sim.ticket(t.id)!.status).toBe('open');
    sim.setStatus(t.id, 'solved');
    sim.setStatus(t.id, 'closed'); // triggers do not run for closed: no third webhook
    await sim.webhooksIdle();
    expect(hook.hits.map((h) => h.body.type).sort()).toEqual(['comment', 'solved', 'solved']);
  });

  it('retries 409, and 429/503 with a short Retry-After, signing each attempt; a 500 is not retried', async () => {
    const maria = await endUser('blip:t');
    const t = await ticketFor(maria.id);
    hook.answers = [{ status: 409 }, { status: 503, retryAfter: '0' }];
    sim.agentComment(t.id, 'please retry');
    await sim.waitFor(() => hook.hits.length === 3);
    await sim.webhooksIdle();
    expect(new Set(hook.hits.map((h) => h.headers['x-zendesk-webhook-invocation-id'])).size).toBe(1);
    expect(new Set(hook.hits.map((h) => h.raw)).size).toBe(1);
    expect(hook.hits.every((h) => verify(h))).toBe(true);
    expect(sim.supportDeliveries.map((d) => [d.attempt, d.status, d.outcome])).toEqual([
      [1, 409, 'retry'],
      [2, 503, 'retry'],
      [3, 200, 'delivered'],
    ]);

    hook.hits = [];
    hook.answers = [{ status: 500 }, { status: 429, retryAfter: '120' }];
    sim.agentComment(t.id, 'lost');
    sim.agentComment(t.id, 'lost too');
    await sim.waitFor(() => hook.hits.length === 2);
    await sim.webhooksIdle();
    expect(hook.hits).toHaveLength(2);
    expect(sim.supportDeliveries.slice(-2).map((d) => d.outcome)).toEqual(['dropped', 'dropped']);
  });

  it('README quotes the exact trigger templates and trigger definitions the simulator renders', () => {
    const readme = readFileSync(new URL('../../simulators/zendesk/README.md', import.meta.url), 'utf8');
    expect(readme).toContain(TRIGGER_TEMPLATES.comment);
    expect(readme).toContain(TRIGGER_TEMPLATES.solved);
    const defs = triggerDefinitions('<webhook id>', 'blip_bridge') as Record<string, { trigger: { conditions: unknown } }>;
    expect(readme).toContain(JSON.stringify(defs['comment']!.trigger.conditions));
    expect(readme).toContain(JSON.stringify(defs['solved']!.trigger.conditions));
  });
});

describe('Zendesk simulator: webhooks subscribed to ticket events', () => {
  it('sends zen:event-type:ticket.comment_added / status_changed for every update, the bridge’s own included', async () => {
    const events = new ZendeskSimulator({
      support: { agents: [{ email: EMAIL, token: TOKEN, name: 'Bridge API' }], webhook: { mode: 'events', signingSecret: 'evt-secret', endpoint: hook.url } },
    });
    const url = await events.start();
    try {
      const call = async (method: 'POST' | 'PUT', path: string, body: unknown) =>
        (await (
          await request(`${url}${path}`, { method, headers: { authorization: AUTH, 'content-type': 'application/json' }, body: JSON.stringify(body) })
        ).body.json()) as any;
      const maria = (await call('POST', '/api/v2/users/create_or_update', { user: { name: 'Maria', external_id: 'blip:ev' } })).user;
      const t = (await call('POST', '/api/v2/tickets', { ticket: { requester_id: maria.id, comment: { body: 'transcript' } } })).ticket;
      await call('PUT', `/api/v2/tickets/${t.id}`, { ticket: { comment: { body: 'from the customer', author_id: maria.id } } });
      events.agentComment(t.id, 'internal', { public: false });
      events.setStatus(t.id, 'solved');
      await events.waitFor(() => hook.hits.length === 5);
      await events.webhooksIdle();
      const bodies = hook.hits.map((h) => h.body).sort((a, b) => Number(a.event.meta.sequence.id) - Number(b.event.meta.sequence.id));
      expect(bodies.map((b) => b.type)).toEqual([
        'zen:event-type:ticket.comment_added',
        'zen:event-type:ticket.comment_added',
        'zen:event-type:ticket.comment_added',
        'zen:event-type:ticket.status_changed',
        'zen:event-type:ticket.status_changed',
      ]);
      expect(bodies[1]).toMatchObject({
        account_id: 123456,
        zendesk_event_version: '2022-11-06',
        subject: `zen:ticket:${t.id}`,
        detail: { id: String(t.id), requester_id: String(maria.id), status: 'NEW', via: { channel: 'web_service' } },
        event: { comment: { body: 'from the customer', is_public: true, author: { id: String(maria.id), is_staff: false, name: 'Maria' } } },
      });
      expect(bodies[1].id).toMatch(/^[0-9a-f-]{36}$/);
      expect(bodies[2].event.comment).toMatchObject({ is_public: false, author: { is_staff: true } });
      expect(bodies[3].event).toMatchObject({ previous: 'NEW', current: 'OPEN' });
      expect(bodies[4].event).toMatchObject({ previous: 'OPEN', current: 'SOLVED' });
      expect(hook.hits.every((h) => verify(h, 'evt-secret'))).toBe(true);
    } finally {
      await events.stop();
    }
  });
});
