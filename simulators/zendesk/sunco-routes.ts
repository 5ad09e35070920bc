/**
 * The Sunshine Conversations route table (spec paths under `/v2/apps/{appId}`) and the user and
 * conversation operations; messages, switchboard actions and the agent side are beside it
 * (sunco-messages.ts, sunco-switchboard.ts, sunco-agent.ts), the state in sunco.ts.
 */
import { isoMillis, objectId } from './ids.js';
import { isObject, type Route, type SimRequest, type SimResponse } from './http.js';
import {
  conversationJson,
  conversationTruncatedJson,
  switchboardIntegrationJson,
  userJson,
  webhookJson,
  type ScConversation,
  type ScUser,
} from './sunco-shapes.js';
import { asMetadata, invalidMetadata, invalidUserCreate } from './sunco-validate.js';
import { errors, badRequest, type Ctx, type SunCo } from './sunco.js';
import { postMessage, listMessages, postActivity, uploadAttachment } from './sunco-messages.js';
import { passControl, offerControl, acceptControl, releaseControl } from './sunco-switchboard.js';

export function buildRoutes(sim: SunCo): Route<Ctx>[] {
  const app = '^/sc/v2/apps/([^/]+)';
  const r = (method: Route<Ctx>['method'], path: string, op: string, handle: Route<Ctx>['handle']): Route<Ctx> => ({
    method,
    pattern: new RegExp(`${app}${path}$`),
    op,
    handle: (req, ctx) => (req.params[0] === sim.appId ? handle(req, ctx) : errors(404, 'app_not_found', 'App not found')),
  });
  const conv =
    (fn: (c: ScConversation, req: SimRequest, ctx: Ctx) => SimResponse): Route<Ctx>['handle'] =>
    (req, ctx) => {
      const c = sim.conversations.get(req.params[1] ?? '');
      return c ? fn(c, req, ctx) : errors(404, 'conversation_not_found', 'Conversation not found');
    };
  return [
    r('GET', '', 'GetApp', () => ({
      status: 200,
      json: { app: { id: sim.appId, displayName: 'Zendesk simulator', settings: { multiConvoEnabled: true }, subdomain: 'sim' } },
    })),
    r('POST', '/users', 'CreateUser', (req) => createUser(sim, req)),
    r('GET', '/users/([^/]+)', 'GetUser', (req) => {
      const u = sim.findUser(req.params[1] ?? '');
      return u ? { status: 200, json: { user: userJson(u) } } : errors(404, 'user_not_found', 'User not found');
    }),
    r('POST', '/conversations', 'CreateConversation', (req) => createConversation(sim, req)),
    r('GET', '/conversations', 'ListConversations', (req) => listConversations(sim, req)),
    r(
      'GET',
      '/conversations/([^/]+)',
      'GetConversation',
      conv((c) => ({ status: 200, json: { conversation: conversationJson(c, sim.switchboardById) } })),
    ),
    r(
      'POST',
      '/conversations/([^/]+)/messages',
      'PostMessage',
      conv((c, req) => postMessage(sim, c, req)),
    ),
    r(
      'GET',
      '/conversations/([^/]+)/messages',
      'ListMessages',
      conv((c, req) => listMessages(sim, c, req)),
    ),
    r(
      'POST',
      '/conversations/([^/]+)/activity',
      'PostActivity',
      conv((c, req) => postActivity(sim, c, req)),
    ),
    r(
      'POST',
      '/conversations/([^/]+)/passControl',
      'PassControl',
      conv((c, req) => passControl(sim, c, req)),
    ),
    r(
      'POST',
      '/conversations/([^/]+)/offerControl',
      'OfferControl',
      conv((c, req) => offerControl(sim, c, req)),
    ),
    r(
      'POST',
      '/conversations/([^/]+)/acceptControl',
      'AcceptControl',
      conv((c, req, ctx) => acceptControl(sim, c, req, ctx)),
    ),
    r(
      'POST',
      '/conversations/([^/]+)/releaseControl',
      'ReleaseControl',
      conv((c, req, ctx) => releaseControl(sim, c, req, ctx)),
    ),
    r('POST', '/attachments', 'UploadAttachment', (req) => uploadAttachment(sim, req)),
    r('GET', '/integrations/([^/]+)/webhooks', 'ListWebhooks', (req, ctx) =>
      ownIntegration(sim, req.params[1], ctx)
        ? { status: 200, json: { webhooks: [webhookJson(sim.webhook)] } }
        : errors(404, 'integration_not_found', 'Integration not found'),
    ),
    r('GET', '/integrations/([^/]+)/webhooks/([^/]+)', 'GetWebhook', (req, ctx) =>
      !ownIntegration(sim, req.params[1], ctx)
        ? errors(404, 'integration_not_found', 'Integration not found')
        : req.params[2] === sim.webhook.id
          ? { status: 200, json: { webhook: webhookJson(sim.webhook) } }
          : errors(404, 'webhook_not_found', 'Webhook not found'),
    ),
    // Switchboard configuration needs app or account scope (research §A.1.1); integration keys get 403.
    r('GET', '/switchboards', 'ListSwitchboards', (_req, ctx) =>
      ctx.auth.scope !== 'app' ? errors(403, 'forbidden', 'Forbidden') : { status: 200, json: { switchboards: [{ ...sim.switchboard }] } },
    ),
    r('GET', '/switchboards/([^/]+)/switchboardIntegrations', 'ListSwitchboardIntegrations', (req, ctx) =>
      ctx.auth.scope !== 'app'
        ? errors(403, 'forbidden', 'Forbidden')
        : req.params[1] !== sim.switchboard.id
          ? errors(404, 'switchboard_not_found', 'Switchboard not found')
          : { status: 200, json: { switchboardIntegrations: sim.switchboardIntegrations.map(switchboardIntegrationJson) } },
    ),
  ];
}

/** `me` is how integration-scoped callers name their own integration (research §A.1.7). */
export function ownIntegration(sim: SunCo, id: string | undefined, ctx: Ctx): boolean {
  return id === sim.integration.id || (id === 'me' && ctx.auth.scope === 'integration');
}

export function createUser(sim: SunCo, req: SimRequest): SimResponse {
  const parsed = sim.json(req);
  if ('error' in parsed) return parsed.error;
  const b = parsed.ok;
  const invalid = invalidUserCreate(b);
  if (invalid) return badRequest(invalid);
  const externalId = b['externalId'] as string | undefined;
  // CreateUser 409: `{"errors":[{"code":"conflict","title":"User already exists"}]}`.
  if (externalId !== undefined && sim.byExternalId.has(externalId)) return errors(409, 'conflict', 'User already exists');
  const now = Date.now();
  const profile = (b['profile'] ?? {}) as Record<string, string | null>;
  const user: ScUser = {
    id: objectId(now),
    ...(externalId !== undefined ? { externalId } : {}),
    signedUpAt: typeof b['signedUpAt'] === 'string' ? new Date(b['signedUpAt']).toISOString() : isoMillis(now),
    ...(typeof b['toBeRetained'] === 'boolean' ? { toBeRetained: b['toBeRetained'] } : {}),
    profile: {
      ...(profile['givenName'] !== undefined ? { givenName: profile['givenName'] } : {}),
      ...(profile['surname'] !== undefined ? { surname: profile['surname'] } : {}),
      ...(profile['email'] !== undefined ? { email: profile['email'] } : {}),
      ...(profile['avatarUrl'] !== undefined ? { avatarUrl: profile['avatarUrl'] } : {}),
      ...(profile['locale'] !== undefined ? { locale: profile['locale'] } : {}),
    },
    metadata: asMetadata(b['metadata']) ?? {},
  };
  sim.users.set(user.id, user);
  if (externalId !== undefined) sim.byExternalId.set(externalId, user.id);
  return { status: 201, json: { user: userJson(user) } };
}

export function createConversation(sim: SunCo, req: SimRequest): SimResponse {
  const parsed = sim.json(req);
  if ('error' in parsed) return parsed.error;
  const b = parsed.ok;
  const type = b['type'];
  if (type !== 'personal' && type !== 'sdkGroup') return badRequest('type must be personal or sdkGroup');
  const participants = b['participants'] ?? [];
  if (!Array.isArray(participants)) return badRequest('participants must be an array');
  // spec conversationCreateBody: "For personal conversations, this field is required with a length of exactly 1 … sdkGroup … less than or equal to 10."
  if (type === 'personal' && participants.length !== 1) return badRequest('personal conversations must have exactly one participant');
  if (participants.length > 10) return badRequest('participants must have at most 10 items');
  const invalid =
    invalidMetadata(b['metadata']) ??
    (b['displayName'] !== undefined && (typeof b['displayName'] !== 'string' || b['displayName'].length < 1 || b['displayName'].length > 100)
      ? 'displayName must be 1 to 100 characters'
      : undefined) ??
    (b['description'] !== undefined && b['description'] !== null && (typeof b['description'] !== 'string' || b['description'].length > 100)
      ? 'description must be at most 100 characters'
      : undefined);
  if (invalid) return badRequest(invalid);
  const members: ScConversation['participants'] = [];
  for (const [i, p] of participants.entries()) {
    if (!isObject(p)) return badRequest(`participants[${i}] must be an object`);
    const hasId = typeof p['userId'] === 'string';
    const hasExt = typeof p['userExternalId'] === 'string';
    // participantSubSchema: "One of userId or userExternalId is required, but not both."
    if (hasId === hasExt) return badRequest(`participants[${i}]: provide userId or userExternalId, not both`);
    if (type === 'sdkGroup' && typeof p['subscribeSDKClient'] !== 'boolean')
      return badRequest(`participants[${i}].subscribeSDKClient is required for sdkGroup conversations`);
    const user = hasId ? sim.users.get(p['userId'] as string) : sim.findByExternalId(p['userExternalId'] as string);
    // participantSubSchema: "It will return 404 if the user can't be found."
    if (!user) return errors(404, 'user_not_found', 'User not found');
    members.push({ id: objectId(), userId: user.id, subscribeSDKClient: p['subscribeSDKClient'] === true });
  }
  const now = Date.now();
  const at = isoMillis(now);
  const firstPersonal =
    type === 'personal' && ![...sim.conversations.values()].some((c) => c.type === 'personal' && c.participants[0]?.userId === members[0]?.userId);
  const c: ScConversation = {
    id: objectId(now),
    type,
    // spec conversation.isDefault: "true for the first personal conversation created for the user".
    isDefault: firstPersonal,
    ...(typeof b['displayName'] === 'string' ? { displayName: b['displayName'] } : {}),
    ...(typeof b['description'] === 'string' ? { description: b['description'] } : {}),
    ...(typeof b['iconUrl'] === 'string' ? { iconUrl: b['iconUrl'] } : {}),
    ...(isObject(b['metadata']) ? { metadata: asMetadata(b['metadata'])! } : {}),
    createdAt: at,
    lastUpdatedAt: at,
    participants: members,
    switchboardLog: [],
    messages: [],
  };
  // spec defaultSwitchboardIntegrationId: "will be given control when a new conversation begins".
  if (sim.switchboard.enabled) {
    c.active = sim.switchboard.defaultSwitchboardIntegrationId;
    sim.logSwitch(c, 'initial', 'api');
  }
  sim.conversations.set(c.id, c);
  const user = members[0] ? sim.users.get(members[0].userId) : undefined;
  sim.emit('conversation:create', c, {
    conversation: conversationTruncatedJson(c, sim.switchboardById),
    creationReason: 'none', // spec conversationCreateEvent: "Used primarily when a conversation is created via the Create Conversation API."
    source: { type: 'api:conversations' },
    ...(type === 'personal' && user ? { user: userJson(user) } : {}),
  });
  return { status: 201, json: { conversation: conversationJson(c, sim.switchboardById) } };
}

/** ListConversations: `filter[userId]` or `filter[userExternalId]`, "One … is required, but not both". */
export function listConversations(sim: SunCo, req: SimRequest): SimResponse {
  const byId = req.query.get('filter[userId]');
  const byExt = req.query.get('filter[userExternalId]');
  if ((byId === null) === (byExt === null)) return badRequest('One of filter[userId] or filter[userExternalId] is required, but not both');
  const user = byId !== null ? sim.users.get(byId) : sim.findByExternalId(byExt!);
  if (!user) return errors(404, 'user_not_found', 'User not found');
  const all = [...sim.conversations.values()].filter((c) => c.participants.some((p) => p.userId === user.id));
  const page = pageOf(sim, req, all, 25);
  if ('status' in page) return page;
  return {
    status: 200,
    json: { conversations: page.items.map((c) => conversationJson(c, sim.switchboardById)), meta: page.meta, links: page.links },
  };
}

/**
 * Cursor pagination (spec info.description "API Pagination"): `page[after]` / `page[before]`
 * (a record id, not both) and `page[size]` 1–100; `meta: {hasMore, afterCursor?, beforeCursor?}`.
 */
export function pageOf<T extends { id: string }>(
  sim: SunCo,
  req: SimRequest,
  all: T[],
  defaultSize: number,
): { items: T[]; meta: Record<string, unknown>; links: Record<string, string> } | SimResponse {
  const after = req.query.get('page[after]');
  const before = req.query.get('page[before]');
  const sizeRaw = req.query.get('page[size]');
  if (after !== null && before !== null) return badRequest('Invalid page query parameters');
  const size = sizeRaw === null ? defaultSize : Number(sizeRaw);
  if (!Number.isInteger(size) || size < 1 || size > 100) return badRequest('Invalid page query parameters');
  let items: T[];
  let hasMore: boolean;
  if (before !== null) {
    const end = all.findIndex((x) => x.id === before);
    const upTo = end < 0 ? 0 : end;
    items = all.slice(Math.max(0, upTo - size), upTo);
    hasMore = upTo - size > 0;
  } else {
    const start = after === null ? 0 : all.findIndex((x) => x.id === after) + 1;
    items = start <= 0 && after !== null ? [] : all.slice(start, start + size);
    hasMore = start + size < all.length;
  }
  const base = `${sim.deps.baseUrl()}${req.path}`;
  const meta: Record<string, unknown> = { hasMore };
  const links: Record<string, string> = {};
  const last = items[items.length - 1];
  const first = items[0];
  if (before === null && hasMore && last) {
    meta['afterCursor'] = last.id;
    links['next'] = `${base}?page[after]=${last.id}&page[size]=${size}`;
  }
  if (before !== null && hasMore && first) {
    meta['beforeCursor'] = first.id;
    links['prev'] = `${base}?page[before]=${first.id}&page[size]=${size}`;
  }
  return { items, meta, links };
}
