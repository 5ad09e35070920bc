/**
 * The Zendesk simulator's messaging route (Sunshine Conversations v2 + Agent Workspace) over real
 * HTTP. Every request these tests send and every answer they get is checked against Zendesk's
 * OpenAPI description (../shared/specs/sunshine-conversations/openapi.yaml); webhook payloads
 * against the spec's webhook event components. The suite is skipped, saying so in its title,
 * where ../shared is absent.
 */
import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OpenApi } from '../helpers/openapi.js';
import { SUNCO_EVENT_COMPONENT, explain, suncoSpec, suncoSpecAvailable } from '../helpers/sunco-spec.js';
import { ZendeskSimulator, sunCoJwt, type ScEvent, type ScWebhookPayload } from '../../simulators/zendesk/index.js';

const HAVE_SPEC = suncoSpecAvailable();

// ─── the spec, made digestible for Ajv (test/helpers/sunco-spec.ts) ───────────────────────────

const api: OpenApi | undefined = HAVE_SPEC ? suncoSpec() : undefined;

/** The webhook event component for each trigger (spec `x-webhooks` "Webhook Event"). */
const EVENT_COMPONENT = SUNCO_EVENT_COMPONENT;

function checkPayload(payload: ScWebhookPayload): void {
  expect(explain(api!.component('appSubSchema', payload.app))).toBe('');
  expect(explain(api!.component('webhookSubSchema', payload.webhook))).toBe('');
  expect(Object.keys(payload).sort()).toEqual(['app', 'events', 'webhook']);
  expect(payload.events.length).toBeGreaterThan(0);
  for (const e of payload.events) {
    const component = EVENT_COMPONENT[e.type];
    expect(component, `no component for ${e.type}`).toBeDefined();
    expect(explain(api!.component(component!, e))).toBe('');
    expect(Object.keys(e).sort()).toEqual(['createdAt', 'id', 'payload', 'type']);
    expect(e.id).toMatch(/^[0-9a-f]{24}$/);
    expect(e.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
}

// ─── the bridge's side: a webhook receiver ─────────────────────────────────────────────────────

interface Hit {
  headers: IncomingHttpHeaders;
  body: ScWebhookPayload;
  at: number;
}

class Receiver {
  hits: Hit[] = [];
  /** Answers for the next requests, in order; then 200. */
  answers: Array<{ status: number; delayMs?: number }> = [];
  private app: FastifyInstance | undefined;
  url = '';

  async start(): Promise<void> {
    const app = Fastify();
    app.post('/helpdesk/acme/webhook', async (req, reply) => {
      const a = this.answers.shift() ?? { status: 200 };
      this.hits.push({ headers: req.headers, body: req.body as ScWebhookPayload, at: Date.now() });
      if (a.delayMs) await sleep(a.delayMs);
      return reply.code(a.status).send({ ok: a.status < 300 });
    });
    this.url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/helpdesk/acme/webhook`;
    this.app = app;
  }

  events(type?: string): ScEvent[] {
    return this.hits.flatMap((h) => h.body.events).filter((e) => type === undefined || e.type === type);
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }
}

// ─── a client that checks everything against the spec ──────────────────────────────────────────

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  json: any;
}

interface CallOptions {
  /** Authorization header; `null` sends none. Default: Basic with the app key. */
  auth?: string | null;
  /** The request is deliberately wrong: the spec must reject it too (`spec`), or cannot express the rule (`prose`). */
  invalid?: 'spec' | 'prose' | undefined;
  contentType?: string;
  raw?: string | Uint8Array;
}

function makeClient(sim: () => ZendeskSimulator) {
  return async function sc(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, opts: CallOptions = {}): Promise<Answer> {
    if (body !== undefined && opts.raw === undefined) {
      const p = api!.request(method, path, body);
      if (opts.invalid === 'spec') expect(p, `the spec accepts this request, so the simulator should too: ${JSON.stringify(body)}`).toBeDefined();
      else if (opts.invalid !== 'prose') expect(explain(p)).toBe('');
    }
    const auth = opts.auth === undefined ? sim().suncoAuthorization() : opts.auth;
    const res = await request(`${sim().url}/sc${path}`, {
      method,
      headers: {
        ...(auth !== null ? { authorization: auth } : {}),
        ...(body !== undefined || opts.raw !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {}),
      },
      ...(opts.raw !== undefined ? { body: opts.raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    const json = text === '' ? undefined : JSON.parse(text);
    // Every answer is valid: against the operation's documented status, or (401, 429, …, which the
    // spec documents once, in its introduction) against `errorResponse`.
    const documented = api!.response(method, path, res.statusCode, json);
    if (documented && documented.errors.some((e) => e.startsWith('status '))) {
      expect(explain(api!.component('errorResponse', json))).toBe('');
      expect(json.errors.length).toBeGreaterThan(0);
    } else {
      expect(explain(documented)).toBe('');
    }
    return { status: res.statusCode, headers: res.headers, json };
  };
}

const describeSpec = describe.skipIf(!HAVE_SPEC);
const TITLE = HAVE_SPEC
  ? 'Zendesk simulator: Sunshine Conversations + Agent Workspace'
  : 'Zendesk simulator: Sunshine Conversations (SKIPPED: ../shared/specs/sunshine-conversations/openapi.yaml not found)';

describeSpec(TITLE, () => {
  let sim: ZendeskSimulator;
  let hook: Receiver;
  const sc = makeClient(() => sim);
  const p = (suffix: string) => `/v2/apps/${sim.sunco.appId}${suffix}`;

  beforeAll(async () => {
    hook = new Receiver();
    await hook.start();
    sim = new ZendeskSimulator({
      sunco: {
        keys: [
          { id: 'app_5f1c0a0b0c0d0e0f10111213', secret: 'app-secret' },
          { id: 'int_5f1c0a0b0c0d0e0f10111214', secret: 'int-secret' },
        ],
        webhook: { secret: 'whsec-of-the-custom-integration' },
        // As a production bridge sets it (research §A.1.9 step 1): standby events off.
        switchboard: { deliverStandbyEvents: false },
        webhookRetryDelaysMs: [30, 60, 120, 240],
        messageLimit: 50,
      },
    });
    await sim.start();
    sim.setSunCoWebhookTarget(hook.url);
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

  let seq = 0;
  async function user(externalId = `blip:5511999990${String(++seq).padStart(3, '0')}@wa.gw.msging.net`) {
    const r = await sc('POST', p('/users'), { externalId, profile: { givenName: 'Maria', surname: 'Silva', email: 'maria@example.com' } });
    expect(r.status).toBe(201);
    return r.json.user as { id: string; externalId: string };
  }

  async function conversation(externalId?: string) {
    const u = await user(externalId);
    const r = await sc('POST', p('/conversations'), { type: 'personal', participants: [{ userExternalId: u.externalId, subscribeSDKClient: false }] });
    expect(r.status).toBe(201);
    return { user: u, conversation: r.json.conversation as { id: string; isDefault: boolean; activeSwitchboardIntegration?: { name: string } } };
  }

  /** research §A.1.9 steps 2–3: the bridge takes control of a fresh conversation before posting. */
  async function ownedConversation() {
    const x = await conversation();
    expect((await sc('POST', p(`/conversations/${x.conversation.id}/passControl`), { switchboardIntegration: 'blip-bridge' })).status).toBe(200);
    return x;
  }

  const say = (conversationId: string, externalId: string, text: string) =>
    sc('POST', p(`/conversations/${conversationId}/messages`), { author: { type: 'user', userExternalId: externalId }, content: { type: 'text', text } });

  // ─── auth ──────────────────────────────────────────────────────────────────────────────────

  describe('authentication (spec securitySchemes basicAuth / bearerAuth)', () => {
    it('answers 401 with the spec error body without credentials or with wrong ones', async () => {
      const none = await sc('GET', p('/users/nobody'), undefined, { auth: null });
      expect(none.status).toBe(401);
      expect(none.json.errors[0].code).toBe('unauthorized');
      const wrong = await sc('GET', p('/users/nobody'), undefined, { auth: `Basic ${Buffer.from('app_5f1c0a0b0c0d0e0f10111213:nope').toString('base64')}` });
      expect(wrong.status).toBe(401);
      const unknownKey = await sc('GET', p('/users/nobody'), undefined, {
        auth: `Basic ${Buffer.from('app_000000000000000000000000:app-secret').toString('base64')}`,
      });
      expect(unknownKey.status).toBe(401);
    });

    it('accepts an HS256 JWT whose kid is the key id and whose scope is app, and nothing less', async () => {
      const key = { id: 'app_5f1c0a0b0c0d0e0f10111213', secret: 'app-secret' };
      const ok = await sc('GET', p('/users/nobody'), undefined, { auth: `Bearer ${sunCoJwt(key, { scope: 'app' })}` });
      expect(ok.status).toBe(404); // authenticated: the user does not exist
      expect(ok.json.errors[0].code).toBe('user_not_found');
      expect((await sc('GET', p('/users/nobody'), undefined, { auth: sim.suncoAuthorization('jwt') })).status).toBe(404);

      const wrongScope = await sc('GET', p('/users/nobody'), undefined, { auth: `Bearer ${sunCoJwt(key, { scope: 'account' })}` });
      expect(wrongScope.status).toBe(401);
      const noScope = await sc('GET', p('/users/nobody'), undefined, { auth: `Bearer ${sunCoJwt(key, {})}` });
      expect(noScope.status).toBe(401);
      const badSig = await sc('GET', p('/users/nobody'), undefined, { auth: `Bearer ${sunCoJwt({ id: key.id, secret: 'other' })}` });
      expect(badSig.status).toBe(401);
      const expired = await sc('GET', p('/users/nobody'), undefined, {
        auth: `Bearer ${sunCoJwt(key, { scope: 'app', exp: Math.floor(Date.now() / 1000) - 10 })}`,
      });
      expect(expired.status).toBe(401);
      // "Unsigned JWTs are not accepted."
      const h = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: key.id })).toString('base64url');
      const pl = Buffer.from(JSON.stringify({ scope: 'app' })).toString('base64url');
      expect((await sc('GET', p('/users/nobody'), undefined, { auth: `Bearer ${h}.${pl}.` })).status).toBe(401);
      const hs = createHmac('sha256', key.secret).update(`${h}.${pl}`).digest('base64url');
      expect((await sc('GET', p('/users/nobody'), undefined, { auth: `Bearer ${h}.${pl}.${hs}` })).status).toBe(401);
    });

    it('answers 404 app_not_found for another app id', async () => {
      const r = await sc('GET', '/v2/apps/000000000000000000000000/users/x');
      expect(r.status).toBe(404);
      expect(r.json.errors[0].code).toBe('app_not_found');
    });
  });

  // ─── users ─────────────────────────────────────────────────────────────────────────────────

  describe('users (CreateUser, GetUser)', () => {
    it('creates a user with an externalId and finds it by id or by externalId', async () => {
      const created = await user('blip:maria@wa.gw.msging.net');
      expect(created.id).toMatch(/^[0-9a-f]{24}$/);
      expect(created.externalId).toBe('blip:maria@wa.gw.msging.net');
      const byId = await sc('GET', p(`/users/${created.id}`));
      const byExternal = await sc('GET', p(`/users/${encodeURIComponent('blip:maria@wa.gw.msging.net')}`));
      expect(byId.status).toBe(200);
      expect(byExternal.json.user).toEqual(byId.json.user);
      expect(byId.json.user.profile).toMatchObject({ givenName: 'Maria', surname: 'Silva', email: 'maria@example.com' });
    });

    it('answers 409 conflict to a duplicate externalId', async () => {
      await user('blip:dup@wa.gw.msging.net');
      const again = await sc('POST', p('/users'), { externalId: 'blip:dup@wa.gw.msging.net' });
      expect(again.status).toBe(409);
      expect(again.json).toEqual({ errors: [{ code: 'conflict', title: 'User already exists' }] });
      expect(sim.sunco.users.size).toBe(1);
    });

    it('answers 400 to bodies the spec rejects, and 404 user_not_found', async () => {
      expect((await sc('POST', p('/users'), { externalId: '' }, { invalid: 'spec' })).status).toBe(400);
      expect((await sc('POST', p('/users'), { externalId: 'x', profile: { email: 'not-an-email' } }, { invalid: 'spec' })).status).toBe(400);
      expect((await sc('POST', p('/users'), { externalId: 'x', metadata: { nested: { no: 1 } } }, { invalid: 'prose' })).status).toBe(400);
      expect((await sc('POST', p('/users'), undefined, { raw: '{"externalId":', invalid: 'prose' })).status).toBe(400);
      expect((await sc('POST', p('/users'), undefined, { raw: '{"externalId":"x"}', contentType: 'text/plain' })).status).toBe(400);
      expect((await sc('POST', p('/users'), undefined, { raw: '{"externalId":"x"}', contentType: 'nonsense' })).status).toBe(400);
      const missing = await sc('GET', p('/users/unknown'));
      expect(missing.status).toBe(404);
      expect(missing.json.errors[0]).toEqual({ code: 'user_not_found', title: 'User not found' });
    });
  });

  // ─── conversations ─────────────────────────────────────────────────────────────────────────

  describe('conversations (CreateConversation, GetConversation, ListConversations)', () => {
    it('creates personal conversations; the first is the default; lists them by user', async () => {
      const { user: u, conversation: first } = await conversation();
      expect(first.id).toMatch(/^[0-9a-f]{24}$/);
      expect(first.isDefault).toBe(true);
      // A new conversation starts with the switchboard's default integration in control.
      expect(first.activeSwitchboardIntegration?.name).toBe('zd-agentWorkspace');
      const second = await sc('POST', p('/conversations'), { type: 'personal', participants: [{ userId: u.id }] });
      expect(second.status).toBe(201);
      expect(second.json.conversation.isDefault).toBe(false);

      const got = await sc('GET', p(`/conversations/${first.id}`));
      expect(got.json.conversation.id).toBe(first.id);
      const byExternal = await sc('GET', p(`/conversations?filter[userExternalId]=${encodeURIComponent(u.externalId)}`));
      const byId = await sc('GET', p(`/conversations?filter[userId]=${u.id}`));
      expect(byExternal.json.conversations.map((c: { id: string }) => c.id)).toEqual([first.id, second.json.conversation.id]);
      expect(byId.json.conversations).toEqual(byExternal.json.conversations);
      expect(byExternal.json.meta.hasMore).toBe(false);
      const paged = await sc('GET', p(`/conversations?filter[userId]=${u.id}&page[size]=1`));
      expect(paged.json.conversations).toHaveLength(1);
      expect(paged.json.meta).toMatchObject({ hasMore: true, afterCursor: first.id });
    });

    it('refuses what the spec forbids: participants ≠ 1 for personal, unknown users, missing filters', async () => {
      const u = await user();
      expect((await sc('POST', p('/conversations'), { type: 'personal', participants: [] }, { invalid: 'prose' })).status).toBe(400);
      expect((await sc('POST', p('/conversations'), { type: 'group' }, { invalid: 'spec' })).status).toBe(400);
      const ghost = await sc('POST', p('/conversations'), { type: 'personal', participants: [{ userExternalId: 'nobody' }] });
      expect(ghost.status).toBe(404);
      expect(ghost.json.errors[0].code).toBe('user_not_found');
      expect((await sc('GET', p('/conversations'))).status).toBe(400);
      expect((await sc('GET', p(`/conversations?filter[userId]=${u.id}&filter[userExternalId]=${u.externalId}`))).status).toBe(400);
      const missing = await sc('GET', p('/conversations/000000000000000000000000'));
      expect(missing.status).toBe(404);
      expect(missing.json.errors[0].code).toBe('conversation_not_found');
    });
  });

  // ─── messages ──────────────────────────────────────────────────────────────────────────────

  describe('messages (PostMessage, ListMessages)', () => {
    it('posts as the user and as the business, with text, image, file and location contents', async () => {
      const { user: u, conversation: c } = await ownedConversation();
      const asUser = await say(c.id, u.externalId, 'Oi, preciso de ajuda');
      expect(asUser.status).toBe(201);
      const m = asUser.json.messages[0];
      expect(m).toMatchObject({
        author: { type: 'user', userId: u.id },
        content: { type: 'text', text: 'Oi, preciso de ajuda' },
        source: { type: 'api:conversations' },
      });
      expect(m.author.userExternalId).toBeUndefined(); // writeOnly
      expect(m.id).toMatch(/^[0-9a-f]{24}$/);
      expect(m.received).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      const image = await sc('POST', p(`/conversations/${c.id}/messages`), {
        author: { type: 'user', userId: u.id },
        content: { type: 'image', mediaUrl: 'https://media.msging.net/photo.png', text: 'the receipt' },
        metadata: { 'blip.id': 'abc-123' },
      });
      expect(image.status).toBe(201);
      expect(image.json.messages[0].content).toMatchObject({ type: 'image', mediaType: 'image/png', altText: 'photo.png' });
      expect(image.json.messages[0].metadata).toEqual({ 'blip.id': 'abc-123' });

      const file = await sc('POST', p(`/conversations/${c.id}/messages`), {
        author: { type: 'business', displayName: 'Bot' },
        content: { type: 'file', mediaUrl: 'https://example.org/FAQ.pdf' },
      });
      expect(file.json.messages[0].content).toMatchObject({ type: 'file', mediaType: 'application/pdf', altText: 'FAQ.pdf' });
      expect(file.json.messages[0].author.type).toBe('business');

      const location = await sc('POST', p(`/conversations/${c.id}/messages`), {
        author: { type: 'user', userExternalId: u.externalId },
        content: { type: 'location', coordinates: { lat: -23.55, long: -46.63 }, location: { name: 'Paulista' } },
      });
      expect(location.json.messages[0].content.text).toBe('Location shared:\nhttps://maps.google.com/maps?q=-23.55,-46.63');

      const list = await sc('GET', p(`/conversations/${c.id}/messages`));
      expect(list.json.messages.map((x: { id: string }) => x.id)).toEqual([
        m.id,
        image.json.messages[0].id,
        file.json.messages[0].id,
        location.json.messages[0].id,
      ]);
      expect(list.json.meta.hasMore).toBe(false);
    });

    it('answers 400 to invalid messages and 423 at the conversation message limit', async () => {
      const { user: u, conversation: c } = await ownedConversation();
      const post = (body: unknown, invalid: CallOptions['invalid']) => sc('POST', p(`/conversations/${c.id}/messages`), body, { invalid });
      expect((await post({ author: { type: 'user', userExternalId: u.externalId } }, 'spec')).status).toBe(400);
      expect((await post({ author: { type: 'user', userExternalId: u.externalId }, content: { type: 'text', text: 'x'.repeat(4097) } }, 'spec')).status).toBe(
        400,
      );
      expect((await post({ author: { type: 'user', userExternalId: u.externalId }, content: { type: 'image' } }, 'spec')).status).toBe(400);
      expect((await post({ author: { type: 'user', userExternalId: u.externalId }, content: { type: 'sticker', id: 1 } }, 'spec')).status).toBe(400);
      expect((await post({ author: { type: 'business', subtypes: ['agent'] }, content: { type: 'text', text: 'x' } }, 'prose')).status).toBe(400);
      expect((await post({ author: { type: 'business', userId: u.id }, content: { type: 'text', text: 'x' } }, 'prose')).status).toBe(400);
      expect((await post({ author: { type: 'user' }, content: { type: 'text', text: 'x' } }, 'prose')).status).toBe(400);
      expect(
        (
          await post(
            { author: { type: 'user', userExternalId: u.externalId }, content: { type: 'text', text: 'x' }, metadata: { big: 'x'.repeat(5000) } },
            'prose',
          )
        ).status,
      ).toBe(400);
      // spec info.description "Request Size Limits": JSON 100kb.
      const huge = JSON.stringify({
        author: { type: 'user', userExternalId: u.externalId },
        content: { type: 'text', text: 'x' },
        padding: 'x'.repeat(101 * 1024),
      });
      expect((await sc('POST', p(`/conversations/${c.id}/messages`), undefined, { raw: huge })).status).toBe(413);
      expect(sim.conversation(c.id)!.messages).toHaveLength(0);

      const x4096 = await post({ author: { type: 'user', userExternalId: u.externalId }, content: { type: 'text', text: 'x'.repeat(4096) } }, undefined);
      expect(x4096.status).toBe(201);
      for (let i = 1; i < 50; i++) expect((await say(c.id, u.externalId, `m${i}`)).status).toBe(201);
      const locked = await say(c.id, u.externalId, 'one too many');
      expect(locked.status).toBe(423);
      expect(locked.json.errors[0]).toEqual({ code: 'locked', title: 'Message limit of 50 per conversation reached.' });
    });

    it('uploads an attachment (multipart `source`) whose mediaUrl serves the file and fills image messages', async () => {
      const { user: u, conversation: c } = await ownedConversation();
      const form = new FormData();
      form.append('source', new Blob([Buffer.from('%PNG fake bytes')], { type: 'image/png' }), 'receipt.png');
      // Node's own fetch (its FormData is not the npm undici's).
      const r = await fetch(`${sim.url}/sc${p(`/attachments?access=public&for=message&conversationId=${c.id}`)}`, {
        method: 'POST',
        headers: { authorization: sim.suncoAuthorization() },
        body: form,
      });
      const json = (await r.json()) as { attachment: { mediaUrl: string; mediaType: string } };
      expect(r.status).toBe(201);
      expect(explain(api!.response('POST', p('/attachments'), 201, json))).toBe('');
      expect(json.attachment.mediaType).toBe('image/png');
      expect(json.attachment.mediaUrl).toMatch(new RegExp(`^${sim.url}/sc/attachments/v2/[0-9a-f]{24}/receipt\\.png$`));
      const fetched = await request(json.attachment.mediaUrl);
      expect(Buffer.from(await fetched.body.arrayBuffer()).toString()).toBe('%PNG fake bytes');

      const m = await sc('POST', p(`/conversations/${c.id}/messages`), {
        author: { type: 'user', userId: u.id },
        content: { type: 'image', mediaUrl: json.attachment.mediaUrl },
      });
      expect(m.json.messages[0].content).toMatchObject({ mediaType: 'image/png', mediaSize: 15, altText: 'receipt.png' });

      const noAccess = await fetch(`${sim.url}/sc${p('/attachments')}`, { method: 'POST', headers: { authorization: sim.suncoAuthorization() }, body: form });
      expect(noAccess.status).toBe(400);
      expect(explain(api!.response('POST', p('/attachments'), 400, await noAccess.json()))).toBe('');
    });
  });

  // ─── webhooks ──────────────────────────────────────────────────────────────────────────────

  describe('webhooks (x-webhooks "Webhook Event", tag Webhooks)', () => {
    it('POSTs every message, the integration’s own included, with X-API-Key = the webhook secret', async () => {
      const { user: u, conversation: c } = await ownedConversation();
      const posted = (await say(c.id, u.externalId, 'echo me')).json.messages[0];
      const ev = await sim.waitFor(() => hook.events('conversation:message').find((e) => (e.payload['message'] as { id: string }).id === posted.id));
      const hit = hook.hits.find((h) => h.body.events.includes(ev))!;
      expect(hit.headers['x-api-key']).toBe('whsec-of-the-custom-integration');
      expect(hit.headers['content-type']).toMatch(/^application\/json/);
      expect(hit.body.app).toEqual({ id: sim.sunco.appId });
      expect(hit.body.webhook).toEqual({ id: sim.sunco.webhook.id, version: 'v2' });
      for (const h of hook.hits) checkPayload(h.body);
      expect(ev.payload['conversation']).toMatchObject({
        id: c.id,
        type: 'personal',
        activeSwitchboardIntegration: { name: 'blip-bridge', integrationType: 'custom', integrationId: sim.sunco.integration.id },
      });
      expect(ev.payload['message']).toMatchObject({
        id: posted.id,
        author: { type: 'user', userId: u.id, user: { id: u.id, externalId: u.externalId } },
        content: { type: 'text', text: 'echo me' },
        source: { type: 'api:conversations' },
      });
      // The passControl the bridge made came back too.
      expect(hook.events('switchboard:passControl')[0]!.payload['conversation']).toMatchObject({
        id: c.id,
        activeSwitchboardIntegration: { name: 'blip-bridge' },
      });
    });

    it('puts events that pile up while a delivery is in flight into one payload', async () => {
      const { user: u, conversation: c } = await ownedConversation();
      await sim.webhooksIdle();
      hook.hits = [];
      hook.answers = [{ status: 200, delayMs: 300 }];
      await say(c.id, u.externalId, 'first');
      await sim.waitFor(() => hook.hits.length === 1);
      await say(c.id, u.externalId, 'second');
      await say(c.id, u.externalId, 'third');
      await sim.waitFor(() => hook.hits.length === 2);
      expect(hook.hits[1]!.body.events.map((e) => (e.payload['message'] as { content: { text: string } }).content.text)).toEqual(['second', 'third']);
      for (const h of hook.hits) checkPayload(h.body);
    });

    it('retries a payload the target answered 500, with the same event ids, and stops at non-recoverable statuses', async () => {
      const { user: u, conversation: c } = await ownedConversation();
      await sim.webhooksIdle();
      hook.hits = [];
      hook.answers = [{ status: 500 }, { status: 503 }];
      const posted = (await say(c.id, u.externalId, 'retry me')).json.messages[0];
      await sim.waitFor(() => hook.hits.length === 3);
      const ids = hook.hits.map((h) => h.body.events.map((e) => e.id).join());
      expect(new Set(ids).size).toBe(1);
      expect(hook.hits[2]!.body.events[0]!.payload['message']).toMatchObject({ id: posted.id });
      // The third attempt is recorded once the simulator has read our answer, a moment after the hit.
      const triesOf = () => sim.suncoDeliveries.filter((d) => d.payload.events[0]!.id === hook.hits[0]!.body.events[0]!.id);
      await sim.waitFor(() => triesOf().length === 3);
      const tries = triesOf();
      expect(tries.map((d) => [d.attempt, d.status, d.outcome])).toEqual([
        [1, 500, 'retry'],
        [2, 503, 'retry'],
        [3, 200, 'delivered'],
      ]);
      // The spec's intervals grow: the second wait is longer than the first.
      expect(tries[2]!.at - tries[1]!.at).toBeGreaterThanOrEqual(tries[1]!.at - tries[0]!.at - 5);

      // "400, 401, 403, 404, 406 … will not reattempt a call".
      hook.hits = [];
      hook.answers = [{ status: 401 }];
      await say(c.id, u.externalId, 'refused');
      await sim.webhooksIdle();
      expect(hook.hits).toHaveLength(1);
      expect(sim.suncoDeliveries.at(-1)).toMatchObject({ status: 401, outcome: 'dropped', attempt: 1 });
    });

    it('gives up after 5 attempts', async () => {
      const { user: u, conversation: c } = await ownedConversation();
      await sim.webhooksIdle();
      hook.hits = [];
      hook.answers = Array.from({ length: 6 }, () => ({ status: 502 }));
      await say(c.id, u.externalId, 'never');
      await sim.webhooksIdle();
      expect(hook.hits).toHaveLength(5);
      expect(sim.suncoDeliveries.at(-1)).toMatchObject({ attempt: 5, outcome: 'dropped' });
      hook.answers = [];
    });

    it('sends conversation:read for a user read, conversation:typing for business typing; refuses user typing', async () => {
      const { user: u, conversation: c } = await ownedConversation();
      const read = await sc('POST', p(`/conversations/${c.id}/activity`), {
        author: { type: 'user', userExternalId: u.externalId },
        type: 'conversation:read',
      });
      expect(read.status).toBe(200);
      expect(read.json).toEqual({});
      const typing = await sc('POST', p(`/conversations/${c.id}/activity`), { author: { type: 'business' }, type: 'typing:start' });
      expect(typing.status).toBe(200);
      // "If the author type is `user`, only `conversation:read` is supported."
      expect(
        (await sc('POST', p(`/conversations/${c.id}/activity`), { author: { type: 'user', userId: u.id }, type: 'typing:start' }, { invalid: 'prose' })).status,
      ).toBe(400);
      expect((await sc('POST', p(`/conversations/${c.id}/activity`), { author: { type: 'business' }, type: 'dancing' }, { invalid: 'spec' })).status).toBe(400);
      const r = await sim.waitFor(() => hook.events('conversation:read')[0]);
      const t = await sim.waitFor(() => hook.events('conversation:typing')[0]);
      expect(r.payload['activity']).toMatchObject({ type: 'conversation:read', author: { type: 'user', userId: u.id } });
      expect(t.payload['activity']).toMatchObject({ type: 'typing:start', author: { type: 'business' } });
      for (const h of hook.hits) checkPayload(h.body);
    });
  });

  // ─── the handoff ───────────────────────────────────────────────────────────────────────────

  describe('handoff to Agent Workspace (research §A.1.8, §A.1.9)', () => {
    it('passControl with metadata opens a ticket with those fields; agent replies and typing reach the pending bridge; solved is not the end, closed hands back', async () => {
      const { user: u, conversation: c } = await ownedConversation();
      const transcript = [];
      for (const text of ['Oi', 'Quero cancelar', 'Meu pedido é 123']) transcript.push((await say(c.id, u.externalId, text)).json.messages[0].id as string);
      expect(sim.messagingTickets).toHaveLength(0); // the bridge is in control: no ticket yet

      const pass = await sc('POST', p(`/conversations/${c.id}/passControl`), {
        switchboardIntegration: 'zd-agentWorkspace',
        metadata: {
          first_message_id: transcript[0]!,
          'dataCapture.systemField.requester.name': 'Maria Silva',
          'dataCapture.systemField.tags': 'blip,vip',
          'dataCapture.systemField.group_id': '360001',
          'dataCapture.systemField.priority': 'high',
          'dataCapture.ticketField.7001': 'Gold',
        },
      });
      expect(pass.status).toBe(200);
      expect(pass.json).toEqual({});
      const ticket = sim.ticketOf(c.id)!;
      expect(ticket).toMatchObject({
        status: 'open',
        createdBy: 'passControl',
        firstMessageId: transcript[0],
        transcript,
        requesterName: 'Maria Silva',
        tags: ['blip', 'vip'],
        groupId: '360001',
        systemFields: { priority: 'high' },
        customFields: { '7001': 'Gold' },
      });
      expect(sim.switchboardState(c.id)).toEqual({ active: 'zd-agentWorkspace' });
      expect((await sc('GET', p(`/users/${u.id}`))).json.user.zendeskId).toMatch(/^\d+$/);

      // research §A.1.9 step 4: offer control back to itself, so events keep coming while standby.
      expect((await sc('POST', p(`/conversations/${c.id}/offerControl`), { switchboardIntegration: 'blip-bridge' })).status).toBe(200);
      expect(sim.switchboardState(c.id)).toEqual({ active: 'zd-agentWorkspace', pending: 'blip-bridge' });
      const offer = await sim.waitFor(() => hook.events('switchboard:offerControl')[0]);
      expect(offer.payload['conversation']).toMatchObject({
        activeSwitchboardIntegration: { name: 'zd-agentWorkspace' },
        pendingSwitchboardIntegration: { name: 'blip-bridge' },
      });

      const reply = sim.agentReply(c.id, 'Olá Maria, sou a Ana.');
      sim.agentTyping(c.id, true);
      sim.agentReply(c.id, { mediaUrl: 'https://acme.zendesk.com/attachments/token/abc/?name=boleto.pdf', name: 'boleto.pdf' });
      const agentMessages = await sim.waitFor(() => {
        const ms = hook.events('conversation:message').filter((e) => (e.payload['message'] as { author: { type: string } }).author.type === 'business');
        return ms.length === 2 ? ms : undefined;
      });
      expect(agentMessages[0]!.payload['message']).toMatchObject({
        id: reply['id'],
        author: { type: 'business', subtypes: ['agent'], displayName: 'Ana Agent' },
        content: { type: 'text', text: 'Olá Maria, sou a Ana.' },
        source: { type: 'zd:agentWorkspace' },
        metadata: { '__zendesk_msg.agent.id': expect.stringMatching(/^\d+$/) },
      });
      expect(agentMessages[1]!.payload['message']).toMatchObject({ content: { type: 'file', mediaType: 'application/pdf', altText: 'boleto.pdf' } });
      expect((await sim.waitFor(() => hook.events('conversation:typing')[0])).payload['activity']).toMatchObject({
        type: 'typing:start',
        author: { type: 'business' },
      });
      expect(sim.ticketOf(c.id)!.messages).toContain(reply['id']);

      // The agent solves: nothing happens yet (support article 4408824482586: handback at Solved → Closed).
      await sim.webhooksIdle();
      hook.hits = [];
      const emitted = sim.suncoEmitted.length;
      sim.solveTicket(c.id);
      expect(sim.ticketOf(c.id)!.status).toBe('solved');
      expect(sim.suncoEmitted).toHaveLength(emitted);
      // Closed (Zendesk's automation, days later): the ticket:closed message, then the handback to
      // Agent Workspace's next, the answer bot. The bridge, pending until then, is standby after it.
      sim.closeTicket(c.id);
      expect(sim.ticketOf(c.id)!.status).toBe('closed');
      expect(sim.switchboardState(c.id)).toEqual({ active: 'zd-answerBot' });
      const closed = await sim.waitFor(() => hook.events('conversation:message').find((e) => (e.payload['message'] as { activity?: unknown }).activity));
      expect(closed.payload['message']).toMatchObject({ activity: { type: 'ticket:closed' }, author: { type: 'business', subtypes: ['activity'] } });
      const back = sim.suncoEmitted.at(-1)!;
      expect(back).toMatchObject({ sent: false, skipped: 'standby', event: { type: 'switchboard:passControl' } });
      expect(back.event.payload).toMatchObject({ reason: 'ticketClosed', conversation: { id: c.id, activeSwitchboardIntegration: { name: 'zd-answerBot' } } });
      checkPayload(hook.hits[0]!.body);
    });

    it('a user message reaching Agent Workspace first opens the ticket without metadata; later metadata is ignored (research §D.6)', async () => {
      const { user: u, conversation: c } = await conversation(); // Agent Workspace is the default: no passControl to the bridge
      await say(c.id, u.externalId, 'hello?');
      expect(sim.ticketOf(c.id)).toMatchObject({ createdBy: 'message', metadata: {}, tags: [] });
      await sc('POST', p(`/conversations/${c.id}/passControl`), {
        switchboardIntegration: 'zd-agentWorkspace',
        metadata: { 'dataCapture.systemField.tags': 'late' },
      });
      expect(sim.messagingTickets).toHaveLength(1);
      expect(sim.ticketOf(c.id)).toMatchObject({ tags: [], ignoredMetadata: [{ 'dataCapture.systemField.tags': 'late' }] });
      // The bridge is on standby without deliverStandbyEvents: its own message was not delivered to it.
      expect(sim.suncoEmitted.find((e) => e.event.type === 'conversation:message')).toMatchObject({ sent: false, skipped: 'standby' });
    });

    it('keeps standby events from a bridge that neither controls nor was offered the conversation', async () => {
      const { user: u, conversation: c } = await ownedConversation();
      await say(c.id, u.externalId, 'please, a human');
      await sc('POST', p(`/conversations/${c.id}/passControl`), { switchboardIntegration: 'next' }); // the bridge's next: Agent Workspace
      expect(sim.switchboardState(c.id)).toEqual({ active: 'zd-agentWorkspace' });
      const reply = sim.agentReply(c.id, 'unseen');
      await sim.webhooksIdle();
      expect(hook.events('conversation:message').some((e) => (e.payload['message'] as { id: string }).id === reply['id'])).toBe(false);
      expect(sim.suncoEmitted.at(-1)).toMatchObject({ sent: false, skipped: 'standby' });
      // Nor do switchboard events, the passControl that made it standby included (standby.switchboardToStandby: false).
      expect(
        hook
          .events('switchboard:passControl')
          .map((e) => (e.payload['conversation'] as { activeSwitchboardIntegration: { name: string } }).activeSwitchboardIntegration.name),
      ).toEqual(['blip-bridge']);
    });

    it('ending the messaging session passes control back without a reason; releaseControl nullifies the state', async () => {
      const { conversation: c } = await ownedConversation();
      await sc('POST', p(`/conversations/${c.id}/passControl`), { switchboardIntegration: 'zd:agentWorkspace' }); // by integrationType
      sim.endSession(c.id);
      // To Agent Workspace's next (the answer bot), without a reason; the bridge is standby, so it does not hear it.
      expect(sim.switchboardState(c.id)).toEqual({ active: 'zd-answerBot' });
      const ended = sim.suncoEmitted.at(-1)!;
      expect(ended).toMatchObject({ sent: false, skipped: 'standby', event: { type: 'switchboard:passControl' } });
      expect(ended.event.payload['reason']).toBeUndefined();
      expect(sim.ticketOf(c.id)!.status).toBe('open');

      const rel = await sc('POST', p(`/conversations/${c.id}/releaseControl`), { metadata: { why: 'done' } });
      expect(rel.status).toBe(200);
      expect(sim.switchboardState(c.id)).toEqual({});
      const released = await sim.waitFor(() => hook.events('switchboard:releaseControl')[0]);
      expect(released.payload).toEqual({ conversation: { id: c.id, type: 'personal' }, metadata: { why: 'done' } });
      for (const h of hook.hits) checkPayload(h.body);
    });

    it('switchboard errors: unknown target, offering the active one, accept without offer, 403 for an integration key not in control', async () => {
      const { conversation: c } = await ownedConversation();
      expect((await sc('POST', p(`/conversations/${c.id}/passControl`), { switchboardIntegration: 'nobody' })).status).toBe(400);
      expect((await sc('POST', p(`/conversations/${c.id}/passControl`), {}, { invalid: 'spec' })).status).toBe(400);
      expect((await sc('POST', p(`/conversations/${c.id}/offerControl`), { switchboardIntegration: 'blip-bridge' })).status).toBe(400);
      expect((await sc('POST', p(`/conversations/${c.id}/acceptControl`), {})).status).toBe(400);
      await sc('POST', p(`/conversations/${c.id}/passControl`), { switchboardIntegration: 'zd-agentWorkspace' });
      const asIntegration = `Basic ${Buffer.from('int_5f1c0a0b0c0d0e0f10111214:int-secret').toString('base64')}`;
      const forbidden = await sc('POST', p(`/conversations/${c.id}/releaseControl`), undefined, { auth: asIntegration });
      expect(forbidden.status).toBe(403);
      expect(sim.switchboardState(c.id)).toEqual({ active: 'zd-agentWorkspace' });
      expect((await sc('GET', p('/switchboards'), undefined, { auth: asIntegration })).status).toBe(403);
      expect((await sc('POST', p('/conversations/000000000000000000000000/passControl'), { switchboardIntegration: 'next' })).status).toBe(404);
    });

    it('lists the switchboard, its integrations and the custom integration’s webhook (for setup checks)', async () => {
      const sws = await sc('GET', p('/switchboards'));
      expect(sws.json.switchboards[0]).toMatchObject({ id: sim.sunco.switchboard.id, enabled: true });
      const ints = await sc('GET', p(`/switchboards/${sim.sunco.switchboard.id}/switchboardIntegrations`));
      expect(ints.json.switchboardIntegrations.map((s: { name: string }) => s.name)).toEqual(['blip-bridge', 'zd-agentWorkspace', 'zd-answerBot']);
      expect(ints.json.switchboardIntegrations[1]).toMatchObject({ integrationType: 'zd:agentWorkspace', deliverStandbyEvents: false });
      const whs = await sc('GET', p(`/integrations/${sim.sunco.integration.id}/webhooks`));
      expect(whs.json.webhooks[0]).toMatchObject({ id: sim.sunco.webhook.id, version: 'v2', target: hook.url, secret: 'whsec-of-the-custom-integration' });
      expect((await sc('GET', p('/integrations/000000000000000000000000/webhooks'))).status).toBe(404);
    });
  });

  // ─── faults and controls ───────────────────────────────────────────────────────────────────

  describe('faults and sandbox controls', () => {
    it('failNext answers 429 with Retry-After and the spec error body, once', async () => {
      const { user: u, conversation: c } = await ownedConversation();
      sim.failNext('sc:PostMessage', { status: 429, retryAfter: 2 });
      const limited = await say(c.id, u.externalId, 'slow down');
      expect(limited.status).toBe(429);
      expect(limited.headers['retry-after']).toBe('2');
      expect(limited.json.errors[0].code).toBe('too_many_requests');
      expect(sim.conversation(c.id)!.messages).toHaveLength(0);
      expect((await say(c.id, u.externalId, 'again')).status).toBe(201);
    });

    it('setDown resets connections or answers a status; setLatency delays', async () => {
      sim.setDown(true);
      await expect(request(`${sim.url}/sc${p('/users/x')}`, { headers: { authorization: sim.suncoAuthorization() } })).rejects.toThrow();
      sim.setDown(true, 503);
      expect((await sc('GET', p('/users/x'))).status).toBe(503);
      sim.setDown(false);
      sim.setLatency(120);
      const t0 = Date.now();
      expect((await sc('GET', p('/users/x'))).status).toBe(404);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
      sim.setLatency(0);
    });

    it('plays the agent through /_sim (loopback only)', async () => {
      const { user: u, conversation: c } = await ownedConversation();
      await say(c.id, u.externalId, 'alguém?');
      await sc('POST', p(`/conversations/${c.id}/passControl`), { switchboardIntegration: 'zd-agentWorkspace' });
      await sc('POST', p(`/conversations/${c.id}/offerControl`), { switchboardIntegration: 'blip-bridge' });
      const post = async (path: string, body: unknown) => {
        const r = await request(`${sim.url}/_sim${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: r.statusCode, json: (await r.body.json()) as any };
      };
      expect((await post('/sc/conversations/latest/reply', { text: 'Olá!' })).status).toBe(200);
      expect((await post('/sc/conversations/latest/typing', { on: false })).status).toBe(200);
      await sim.waitFor(() =>
        hook.events('conversation:message').find((e) => (e.payload['message'] as { content: { text?: string } }).content.text === 'Olá!'),
      );
      expect((await post('/sc/conversations/latest/solve', {})).status).toBe(200);
      expect((await post('/sc/conversations/latest/close', {})).status).toBe(200);
      expect((await post('/sc/conversations/latest/solve', {})).status).toBe(409); // nothing open any more
      const state = (await (await request(`${sim.url}/_sim/state`)).body.json()) as any;
      expect(state.sunco.conversations[0]).toMatchObject({ id: c.id, switchboard: { active: 'zd-answerBot' }, ticket: { status: 'closed' } });
      expect(state.credentials.sunco.appId).toBe(sim.sunco.appId);
    });
  });

  describe('a solved ticket closes by the clock (option closeSolvedAfterMs, as Zendesk\'s automation does)', () => {
    it('hands back only when the solved ticket closes', async () => {
      const other = new ZendeskSimulator({ sunco: { closeSolvedAfterMs: 150, webhookRetryDelaysMs: [20] } });
      await other.start();
      other.setSunCoWebhookTarget(hook.url);
      try {
        const client = makeClient(() => other);
        const q = (s: string) => `/v2/apps/${other.sunco.appId}${s}`;
        const u = (await client('POST', q('/users'), { externalId: 'blip:clock' })).json.user;
        const c = (await client('POST', q('/conversations'), { type: 'personal', participants: [{ userId: u.id }] })).json.conversation;
        await client('POST', q(`/conversations/${c.id}/passControl`), { switchboardIntegration: 'zd-agentWorkspace' });
        other.solveTicket(c.id);
        expect(other.switchboardState(c.id)).toEqual({ active: 'zd-agentWorkspace' });
        const closed = await other.waitFor((s) => (s.ticketOf(c.id)!.status === 'closed' ? s.switchboardState(c.id) : undefined), 5_000);
        expect(closed).toEqual({ active: 'zd-answerBot' });
      } finally {
        await other.webhooksIdle();
        await other.stop();
      }
    });
  });

  describe('handback by releaseControl (option handback)', () => {
    it('sends switchboard:releaseControl with reason ticketClosed and no active integration', async () => {
      const other = new ZendeskSimulator({ sunco: { handback: 'releaseControl', webhookRetryDelaysMs: [20] } });
      await other.start();
      other.setSunCoWebhookTarget(hook.url);
      try {
        const client = makeClient(() => other);
        const q = (s: string) => `/v2/apps/${other.sunco.appId}${s}`;
        const u = (await client('POST', q('/users'), { externalId: 'blip:x' })).json.user;
        const c = (await client('POST', q('/conversations'), { type: 'personal', participants: [{ userId: u.id }] })).json.conversation;
        await client('POST', q(`/conversations/${c.id}/passControl`), { switchboardIntegration: 'zd-agentWorkspace' });
        other.solveTicket(c.id);
        expect(other.ticketOf(c.id)!.status).toBe('solved');
        expect(other.switchboardState(c.id)).toEqual({ active: 'zd-agentWorkspace' }); // no handback before Closed
        other.closeTicket(c.id);
        const ev = await other.waitFor((s) => s.suncoEvents('switchboard:releaseControl')[0]);
        expect(ev.payload).toEqual({ conversation: { id: c.id, type: 'personal' }, reason: 'ticketClosed' });
        expect(explain(api!.component('switchboardReleaseControl', ev))).toBe('');
      } finally {
        await other.webhooksIdle();
        await other.stop();
      }
    });
  });
});
