/**
 * Sunshine Conversations v2, the messaging route (research §A.1), plus the Agent Workspace side of
 * a Zendesk account: what happens when a conversation is handed to `zd-agentWorkspace`, and what
 * an agent does there (reply, type, solve, end the session).
 *
 * Served under `{base}/sc/v2/apps/{appId}/…` like `https://{subdomain}.zendesk.com/sc`
 * (spec `servers`). Behaviour cites the spec (../shared/specs/sunshine-conversations/openapi.yaml,
 * by operationId or schema) or research; guesses say UNVERIFIED.
 */
import { Sequence, hexSecret, isoMillis, objectId } from './ids.js';
import { isObject, mediaType, mimeFromName, type Result, type Route, type SimRequest, type SimResponse } from './http.js';
import { authenticateSunCo, keyScope, type ScAuth, type SunCoKey } from './sunco-auth.js';
import {
  conversationJson,
  conversationTruncatedJson,
  messageJson,
  messageWebhookJson,
  switchboardIntegrationJson,
  userJson,
  webhookJson,
  type Metadata,
  type MessagingTicket,
  type ScAttachment,
  type ScAuthor,
  type ScConversation,
  type ScMessage,
  type ScSwitchboardIntegration,
  type ScUser,
  type Scalar,
  type SwitchboardChange,
} from './sunco-shapes.js';
import { ACTIVITY_TYPES, asMetadata, invalidAuthor, invalidContent, invalidMetadata, invalidUserCreate } from './sunco-validate.js';
import { SunCoWebhookDispatcher, type ScEvent, type ScWebhookConfig } from './sunco-webhooks.js';

export type { SunCoKey } from './sunco-auth.js';

/** Names of the built-in switchboard integrations (spec example `listSwitchboardIntegrations`; research §A.1.8). */
export const AGENT_WORKSPACE = 'zd-agentWorkspace';
/** research §A.1.8: "The bot is `zd-answerBot` [3p … not in spec]"; its integrationType is UNVERIFIED. */
export const ANSWER_BOT = 'zd-answerBot';

/** Every trigger the simulator can emit; the default subscription of the custom integration's webhook. */
export const SUNCO_EMITTED_TRIGGERS = [
  'conversation:create',
  'conversation:message',
  'conversation:read',
  'conversation:typing',
  'switchboard:acceptControl',
  'switchboard:offerControl',
  'switchboard:passControl',
  'switchboard:releaseControl',
] as const;

export interface SunCoOptions {
  /** 24-hex app id; default random. */
  appId?: string;
  /** API keys; default one app key `app_<24 hex>` with a random secret. */
  keys?: SunCoKey[];
  /** The bridge's custom integration (spec schema `custom`). */
  integration?: { id?: string; displayName?: string };
  /** Its one webhook (`custom.webhooks` has exactly 1 item). */
  webhook?: { id?: string; target?: string; secret?: string; triggers?: string[]; includeFullUser?: boolean; includeFullSource?: boolean };
  switchboard?: {
    /** Default true. "When a switchboard is disabled, integrations linked to the switchboard will receive all events." */
    enabled?: boolean;
    /** The custom integration's switchboard integration name; default `blip-bridge`. */
    bridgeName?: string;
    /** Of the bridge's switchboard integration; default true (spec `switchboardIntegrationCreateBody` default). */
    deliverStandbyEvents?: boolean;
    /**
     * Who gets control of a new conversation (spec `defaultSwitchboardIntegrationId`). Default
     * `zd-agentWorkspace`, so a user message posted before passControl reaches Agent Workspace and
     * opens a ticket without metadata, the trap research §A.1.9 step 3 / §D.6 describes. UNVERIFIED
     * which integration real accounts default to.
     */
    defaultIntegration?: 'bridge' | typeof AGENT_WORKSPACE | typeof ANSWER_BOT;
    /**
     * Agent Workspace's `nextSwitchboardIntegrationId`: where its handback goes. Default
     * `zd-answerBot`: a real account passes control to its own next, often the answer bot, not back
     * to a third-party integration (research §A.1.8). An account setting; `bridge` is the other case.
     */
    agentWorkspaceNext?: typeof ANSWER_BOT | 'bridge';
  };
  /**
   * Which events reach the bridge's integration when it is not in control and `deliverStandbyEvents`
   * is false. The spec says only "if webhooks should be sent when the switchboard integration is not
   * in control" (deliverStandbyEvents), and that offerControl signals the offered integration; the
   * rest is UNVERIFIED, so each is a switch:
   * - `pending`: what an integration that was offered control (pending) gets. Default `all` (what
   *   research §A.1.9 step 4 relies on); `switchboard`: only switchboard events; `none`.
   * - `switchboardToStandby`: switchboard events also reach a standby integration. Default false
   *   (the spec's words apply to every webhook).
   * Judged after the action: an integration that stops being pending on a passControl is standby.
   */
  standby?: { pending?: 'all' | 'switchboard' | 'none'; switchboardToStandby?: boolean };
  /** The Agent Workspace agent that `agentReply` speaks as. */
  agent?: { id: number; name: string; avatarUrl?: string };
  /** Messages per conversation before 423 (spec: 30,000). */
  messageLimit?: number;
  /**
   * How Agent Workspace hands the conversation back when its ticket closes. research §A.1.8/§E: the
   * spec allows `reason: ticketClosed` on both; Certainly saw `switchboard:passControl`, Botpress
   * listens to `switchboard:releaseControl`. Default `passControl`. UNVERIFIED.
   */
  handback?: 'passControl' | 'releaseControl';
  /**
   * Handback happens when the ticket goes Solved → Closed (research §A.1.8, support article
   * 4408824482586), which Zendesk's default automation does about 4 days after Solved. Default
   * false: a solved ticket stays solved until `closeTicket` (or `closeSolvedAfterMs`); true closes at
   * once, as a trigger that closes solved messaging tickets would.
   */
  closeOnSolve?: boolean;
  /** Closes a solved ticket after this long, as Zendesk's automation does (about 4 days); default never (call `closeTicket`). */
  closeSolvedAfterMs?: number;
  /** Webhook retry intervals (4 = 5 attempts). Default 60 s, 120 s, 240 s, 480 s (UNVERIFIED intervals). */
  webhookRetryDelaysMs?: number[];
  /** Default 20 s (spec: "If no response is received within 20 seconds"). */
  webhookTimeoutMs?: number;
  /** Default 10 (UNVERIFIED: the spec gives no number). */
  maxEventsPerPayload?: number;
}

export interface AgentMedia {
  mediaUrl: string;
  mediaType?: string;
  /** File name, saved as `altText` (spec: altText defaults to the file name). */
  name?: string;
  text?: string;
}

/** Every event the simulator produced, and whether the custom integration's webhook got it. */
export interface ScEmitted {
  event: ScEvent;
  conversationId?: string;
  sent: boolean;
  /** Why not sent: `not subscribed`, `pending` or `standby` (see SunCoOptions.standby). */
  skipped?: string;
}

type Ctx = { auth: ScAuth };

const LIST_MESSAGES_PAGE = 100; // spec ListMessages: "The page size limit is fixed at 100 messages per page."
const DEFAULT_BUSINESS_AVATAR = 'https://www.gravatar.com/avatar/00000000000000000000000000000000.png?s=200&d=mm'; // spec example listMessages

function errors(status: number, code: string, title: string, headers?: Record<string, string>): SimResponse {
  // spec info.description "Errors": `{"errors": [{"code", "title"}]}`.
  return { status, json: { errors: [{ code, title }] }, ...(headers ? { headers } : {}) };
}

const badRequest = (title: string): SimResponse => errors(400, 'bad_request', title);

export class SunCo {
  readonly appId: string;
  readonly keys: SunCoKey[];
  readonly integration: { id: string; type: 'custom'; status: 'active'; displayName: string };
  readonly webhook: ScWebhookConfig;
  readonly switchboard: { id: string; enabled: boolean; defaultSwitchboardIntegrationId: string };
  readonly switchboardIntegrations: ScSwitchboardIntegration[];
  readonly users = new Map<string, ScUser>();
  readonly conversations = new Map<string, ScConversation>();
  readonly tickets: MessagingTicket[] = [];
  readonly attachments = new Map<string, ScAttachment>();
  readonly emitted: ScEmitted[] = [];
  readonly dispatcher: SunCoWebhookDispatcher;
  readonly routes: Route<Ctx>[];

  private readonly byExternalId = new Map<string, string>();
  private readonly agent: { id: number; name: string; avatarUrl?: string };
  private readonly messageLimit: number;
  private readonly handbackHow: 'passControl' | 'releaseControl';
  private readonly closeOnSolve: boolean;
  private readonly closeSolvedAfterMs: number | undefined;
  private readonly closeTimers = new Set<NodeJS.Timeout>();
  private readonly pendingGets: 'all' | 'switchboard' | 'none';
  private readonly switchboardToStandby: boolean;
  private readonly zendeskUserIds = new Sequence(30_000_000_000_000);

  constructor(
    options: SunCoOptions,
    private readonly deps: { baseUrl: () => string; ticketIds: Sequence; log: (line: string) => void },
  ) {
    this.appId = options.appId ?? objectId();
    this.keys = (options.keys ?? [{ id: `app_${objectId()}`, secret: hexSecret(32) }]).map((k) => ({ ...k, scope: keyScope(k) }));
    if (this.keys.length === 0) throw new Error('ZendeskSimulator: sunco.keys must not be empty');
    this.integration = {
      id: options.integration?.id ?? objectId(),
      type: 'custom',
      status: 'active',
      displayName: options.integration?.displayName ?? 'blip-bridge',
    };
    this.webhook = {
      id: options.webhook?.id ?? objectId(),
      target: options.webhook?.target,
      secret: options.webhook?.secret ?? hexSecret(16),
      triggers: [...(options.webhook?.triggers ?? SUNCO_EMITTED_TRIGGERS)],
      includeFullUser: options.webhook?.includeFullUser ?? false,
      includeFullSource: options.webhook?.includeFullSource ?? false,
    };
    const sw = options.switchboard ?? {};
    const bridge: ScSwitchboardIntegration = {
      id: objectId(),
      name: sw.bridgeName ?? 'blip-bridge',
      integrationId: this.integration.id,
      integrationType: 'custom',
      deliverStandbyEvents: sw.deliverStandbyEvents ?? true,
      nextSwitchboardIntegrationId: null,
    };
    const aw: ScSwitchboardIntegration = {
      id: objectId(),
      name: AGENT_WORKSPACE,
      integrationId: objectId(),
      integrationType: 'zd:agentWorkspace',
      deliverStandbyEvents: false, // spec example listSwitchboardIntegrations
      nextSwitchboardIntegrationId: null, // set below: where "next" and the handback go (an account setting)
    };
    const bot: ScSwitchboardIntegration = {
      id: objectId(),
      name: ANSWER_BOT,
      integrationId: objectId(),
      integrationType: 'zd:answerBot', // UNVERIFIED
      deliverStandbyEvents: false,
      nextSwitchboardIntegrationId: aw.id,
    };
    bridge.nextSwitchboardIntegrationId = aw.id;
    aw.nextSwitchboardIntegrationId = sw.agentWorkspaceNext === 'bridge' ? bridge.id : bot.id;
    this.switchboardIntegrations = [bridge, aw, bot];
    const def = sw.defaultIntegration ?? AGENT_WORKSPACE;
    this.switchboard = {
      id: objectId(),
      enabled: sw.enabled ?? true,
      defaultSwitchboardIntegrationId: (def === 'bridge' ? bridge : def === ANSWER_BOT ? bot : aw).id,
    };
    this.agent = options.agent ?? { id: 361_000_000_001, name: 'Ana Agent' };
    this.messageLimit = options.messageLimit ?? 30_000;
    this.handbackHow = options.handback ?? 'passControl';
    this.closeOnSolve = options.closeOnSolve ?? false;
    this.closeSolvedAfterMs = options.closeSolvedAfterMs;
    this.pendingGets = options.standby?.pending ?? 'all';
    this.switchboardToStandby = options.standby?.switchboardToStandby ?? false;
    this.dispatcher = new SunCoWebhookDispatcher({
      appId: this.appId,
      webhook: this.webhook,
      retryDelaysMs: options.webhookRetryDelaysMs ?? [60_000, 120_000, 240_000, 480_000],
      timeoutMs: options.webhookTimeoutMs ?? 20_000,
      maxEventsPerPayload: options.maxEventsPerPayload ?? 10,
      log: (l) => deps.log(`sc ${l}`),
    });
    this.routes = this.buildRoutes();
  }

  get bridgeSwitchboard(): ScSwitchboardIntegration {
    return this.switchboardIntegrations[0]!;
  }

  get agentWorkspace(): ScSwitchboardIntegration {
    return this.switchboardIntegrations[1]!;
  }

  switchboardById = (id: string): ScSwitchboardIntegration | undefined => this.switchboardIntegrations.find((s) => s.id === id);

  reset(): void {
    this.users.clear();
    this.byExternalId.clear();
    this.conversations.clear();
    this.tickets.length = 0;
    this.attachments.clear();
    this.emitted.length = 0;
    for (const t of this.closeTimers) clearTimeout(t);
    this.closeTimers.clear();
    this.dispatcher.clear();
  }

  // ─── auth ───────────────────────────────────────────────────────────────────────────────────

  authenticate(authorization: string | undefined): ScAuth | SimResponse {
    const r = authenticateSunCo(authorization, this.keys);
    // spec info.description: 401 `{"errors":[{"code":"unauthorized","title":"Authorization is required"}]}`;
    // titles other than that example are UNVERIFIED.
    return 'error' in r ? errors(401, 'unauthorized', r.error) : r;
  }

  // ─── routes ─────────────────────────────────────────────────────────────────────────────────

  private buildRoutes(): Route<Ctx>[] {
    const app = '^/sc/v2/apps/([^/]+)';
    const r = (method: Route<Ctx>['method'], path: string, op: string, handle: Route<Ctx>['handle']): Route<Ctx> => ({
      method,
      pattern: new RegExp(`${app}${path}$`),
      op,
      handle: (req, ctx) => (req.params[0] === this.appId ? handle(req, ctx) : errors(404, 'app_not_found', 'App not found')),
    });
    const conv =
      (fn: (c: ScConversation, req: SimRequest, ctx: Ctx) => SimResponse): Route<Ctx>['handle'] =>
      (req, ctx) => {
        const c = this.conversations.get(req.params[1] ?? '');
        return c ? fn(c, req, ctx) : errors(404, 'conversation_not_found', 'Conversation not found');
      };
    return [
      r('GET', '', 'GetApp', () => ({
        status: 200,
        json: { app: { id: this.appId, displayName: 'Zendesk simulator', settings: { multiConvoEnabled: true }, subdomain: 'sim' } },
      })),
      r('POST', '/users', 'CreateUser', (req) => this.createUser(req)),
      r('GET', '/users/([^/]+)', 'GetUser', (req) => {
        const u = this.findUser(req.params[1] ?? '');
        return u ? { status: 200, json: { user: userJson(u) } } : errors(404, 'user_not_found', 'User not found');
      }),
      r('POST', '/conversations', 'CreateConversation', (req) => this.createConversation(req)),
      r('GET', '/conversations', 'ListConversations', (req) => this.listConversations(req)),
      r(
        'GET',
        '/conversations/([^/]+)',
        'GetConversation',
        conv((c) => ({ status: 200, json: { conversation: conversationJson(c, this.switchboardById) } })),
      ),
      r(
        'POST',
        '/conversations/([^/]+)/messages',
        'PostMessage',
        conv((c, req) => this.postMessage(c, req)),
      ),
      r(
        'GET',
        '/conversations/([^/]+)/messages',
        'ListMessages',
        conv((c, req) => this.listMessages(c, req)),
      ),
      r(
        'POST',
        '/conversations/([^/]+)/activity',
        'PostActivity',
        conv((c, req) => this.postActivity(c, req)),
      ),
      r(
        'POST',
        '/conversations/([^/]+)/passControl',
        'PassControl',
        conv((c, req) => this.passControl(c, req)),
      ),
      r(
        'POST',
        '/conversations/([^/]+)/offerControl',
        'OfferControl',
        conv((c, req) => this.offerControl(c, req)),
      ),
      r(
        'POST',
        '/conversations/([^/]+)/acceptControl',
        'AcceptControl',
        conv((c, req, ctx) => this.acceptControl(c, req, ctx)),
      ),
      r(
        'POST',
        '/conversations/([^/]+)/releaseControl',
        'ReleaseControl',
        conv((c, req, ctx) => this.releaseControl(c, req, ctx)),
      ),
      r('POST', '/attachments', 'UploadAttachment', (req) => this.uploadAttachment(req)),
      r('GET', '/integrations/([^/]+)/webhooks', 'ListWebhooks', (req, ctx) =>
        this.ownIntegration(req.params[1], ctx)
          ? { status: 200, json: { webhooks: [webhookJson(this.webhook)] } }
          : errors(404, 'integration_not_found', 'Integration not found'),
      ),
      r('GET', '/integrations/([^/]+)/webhooks/([^/]+)', 'GetWebhook', (req, ctx) =>
        !this.ownIntegration(req.params[1], ctx)
          ? errors(404, 'integration_not_found', 'Integration not found')
          : req.params[2] === this.webhook.id
            ? { status: 200, json: { webhook: webhookJson(this.webhook) } }
            : errors(404, 'webhook_not_found', 'Webhook not found'),
      ),
      // Switchboard configuration needs app or account scope (research §A.1.1); integration keys get 403.
      r('GET', '/switchboards', 'ListSwitchboards', (_req, ctx) =>
        ctx.auth.scope !== 'app' ? errors(403, 'forbidden', 'Forbidden') : { status: 200, json: { switchboards: [{ ...this.switchboard }] } },
      ),
      r('GET', '/switchboards/([^/]+)/switchboardIntegrations', 'ListSwitchboardIntegrations', (req, ctx) =>
        ctx.auth.scope !== 'app'
          ? errors(403, 'forbidden', 'Forbidden')
          : req.params[1] !== this.switchboard.id
            ? errors(404, 'switchboard_not_found', 'Switchboard not found')
            : { status: 200, json: { switchboardIntegrations: this.switchboardIntegrations.map(switchboardIntegrationJson) } },
      ),
    ];
  }

  /** `me` is how integration-scoped callers name their own integration (research §A.1.7). */
  private ownIntegration(id: string | undefined, ctx: Ctx): boolean {
    return id === this.integration.id || (id === 'me' && ctx.auth.scope === 'integration');
  }

  /** JSON body or a 400; spec info.description: JSON requests need `content-type: application/json`. */
  private json(req: SimRequest, required = true): Result<Record<string, unknown>> {
    if (req.body.length === 0 && !required) return { ok: {} };
    if (mediaType(req.headers) !== 'application/json') return { error: badRequest('content-type must be application/json') };
    let v: unknown;
    try {
      v = JSON.parse(req.body.toString('utf8'));
    } catch {
      return { error: badRequest('Invalid JSON body') };
    }
    return isObject(v) ? { ok: v } : { error: badRequest('The body must be a JSON object') };
  }

  // ─── users ──────────────────────────────────────────────────────────────────────────────────

  /** GetUser's `userIdOrExternalId`: "The user's id or externalId" (id first: UNVERIFIED precedence). */
  findUser(idOrExternalId: string): ScUser | undefined {
    return this.users.get(idOrExternalId) ?? this.users.get(this.byExternalId.get(idOrExternalId) ?? '');
  }

  private createUser(req: SimRequest): SimResponse {
    const parsed = this.json(req);
    if ('error' in parsed) return parsed.error;
    const b = parsed.ok;
    const invalid = invalidUserCreate(b);
    if (invalid) return badRequest(invalid);
    const externalId = b['externalId'] as string | undefined;
    // CreateUser 409: `{"errors":[{"code":"conflict","title":"User already exists"}]}`.
    if (externalId !== undefined && this.byExternalId.has(externalId)) return errors(409, 'conflict', 'User already exists');
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
    this.users.set(user.id, user);
    if (externalId !== undefined) this.byExternalId.set(externalId, user.id);
    return { status: 201, json: { user: userJson(user) } };
  }

  // ─── conversations ──────────────────────────────────────────────────────────────────────────

  private createConversation(req: SimRequest): SimResponse {
    const parsed = this.json(req);
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
      const user = hasId ? this.users.get(p['userId'] as string) : this.findByExternalId(p['userExternalId'] as string);
      // participantSubSchema: "It will return 404 if the user can't be found."
      if (!user) return errors(404, 'user_not_found', 'User not found');
      members.push({ id: objectId(), userId: user.id, subscribeSDKClient: p['subscribeSDKClient'] === true });
    }
    const now = Date.now();
    const at = isoMillis(now);
    const firstPersonal =
      type === 'personal' && ![...this.conversations.values()].some((c) => c.type === 'personal' && c.participants[0]?.userId === members[0]?.userId);
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
    if (this.switchboard.enabled) {
      c.active = this.switchboard.defaultSwitchboardIntegrationId;
      this.logSwitch(c, 'initial', 'api');
    }
    this.conversations.set(c.id, c);
    const user = members[0] ? this.users.get(members[0].userId) : undefined;
    this.emit('conversation:create', c, {
      conversation: conversationTruncatedJson(c, this.switchboardById),
      creationReason: 'none', // spec conversationCreateEvent: "Used primarily when a conversation is created via the Create Conversation API."
      source: { type: 'api:conversations' },
      ...(type === 'personal' && user ? { user: userJson(user) } : {}),
    });
    return { status: 201, json: { conversation: conversationJson(c, this.switchboardById) } };
  }

  private findByExternalId(externalId: string): ScUser | undefined {
    return this.users.get(this.byExternalId.get(externalId) ?? '');
  }

  /** ListConversations: `filter[userId]` or `filter[userExternalId]`, "One … is required, but not both". */
  private listConversations(req: SimRequest): SimResponse {
    const byId = req.query.get('filter[userId]');
    const byExt = req.query.get('filter[userExternalId]');
    if ((byId === null) === (byExt === null)) return badRequest('One of filter[userId] or filter[userExternalId] is required, but not both');
    const user = byId !== null ? this.users.get(byId) : this.findByExternalId(byExt!);
    if (!user) return errors(404, 'user_not_found', 'User not found');
    const all = [...this.conversations.values()].filter((c) => c.participants.some((p) => p.userId === user.id));
    const page = this.page(req, all, 25);
    if ('status' in page) return page;
    return {
      status: 200,
      json: { conversations: page.items.map((c) => conversationJson(c, this.switchboardById)), meta: page.meta, links: page.links },
    };
  }

  /**
   * Cursor pagination (spec info.description "API Pagination"): `page[after]` / `page[before]`
   * (a record id, not both) and `page[size]` 1–100; `meta: {hasMore, afterCursor?, beforeCursor?}`.
   */
  private page<T extends { id: string }>(
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
    const base = `${this.deps.baseUrl()}${req.path}`;
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

  // ─── messages ───────────────────────────────────────────────────────────────────────────────

  private postMessage(c: ScConversation, req: SimRequest): SimResponse {
    const parsed = this.json(req);
    if ('error' in parsed) return parsed.error;
    const b = parsed.ok;
    const invalid = invalidAuthor(b['author']) ?? invalidContent(b['content']) ?? invalidMetadata(b['metadata']);
    if (invalid) return badRequest(invalid);
    // spec PostMessage 423: "Message limit of 30000 per conversation reached."
    if (c.messages.length >= this.messageLimit) return errors(423, 'locked', `Message limit of ${this.messageLimit} per conversation reached.`);
    const a = b['author'] as Record<string, unknown>;
    let user: ScUser | undefined;
    if (a['type'] === 'user') {
      user = typeof a['userId'] === 'string' ? this.users.get(a['userId']) : this.findByExternalId(a['userExternalId'] as string);
      // UNVERIFIED: PostMessage documents no 404, but an unknown author cannot post.
      if (!user) return errors(404, 'user_not_found', 'User not found');
    }
    const author: ScAuthor = {
      type: a['type'] as 'user' | 'business',
      ...(Array.isArray(a['subtypes']) ? { subtypes: a['subtypes'] as string[] } : {}),
      ...(user ? { userId: user.id } : {}),
      ...(typeof a['displayName'] === 'string' ? { displayName: a['displayName'] } : {}),
      // spec examples text-2 / listMessages: business messages come back with the app's avatar.
      ...(typeof a['avatarUrl'] === 'string' ? { avatarUrl: a['avatarUrl'] } : a['type'] === 'business' ? { avatarUrl: DEFAULT_BUSINESS_AVATAR } : {}),
    };
    const m: ScMessage = {
      id: objectId(),
      received: isoMillis(),
      author,
      content: this.normaliseContent(b['content'] as Record<string, unknown>),
      // spec examples text-2, image-2: messages posted through the API have `source.type: "api:conversations"`.
      source: { type: 'api:conversations' },
      ...(isObject(b['metadata']) ? { metadata: asMetadata(b['metadata'])! } : {}),
    };
    this.addMessage(c, m);
    // "A single request may produce multiple messages" only for template shorthand: one here.
    return { status: 201, json: { messages: [messageJson(m)] } };
  }

  /** What SunCo stores for what was posted: read-only fields filled, write-only ones converted. */
  private normaliseContent(input: Record<string, unknown>): Record<string, unknown> {
    const c = structuredClone(input);
    switch (c['type']) {
      case 'text': {
        // spec markdownText: "writeOnly … Will be converted to htmlText upon reception"; htmlText/markdownText "will be converted to text" when no text.
        const md = c['markdownText'];
        delete c['markdownText'];
        if (typeof md === 'string') {
          c['htmlText'] = `<p>${escapeHtml(md)}</p>`;
          if (c['text'] === undefined) c['text'] = md;
        }
        if (c['text'] === undefined && typeof c['htmlText'] === 'string') c['text'] = c['htmlText'].replace(/<[^>]*>/g, '');
        return c;
      }
      case 'image':
      case 'file': {
        const url = c['mediaUrl'] as string;
        const uploaded = [...this.attachments.values()].find((x) => x.mediaUrl === url);
        // spec image/file mediaType and mediaSize are read-only: SunCo fills them. Without the file at
        // hand the simulator guesses the type from the name and omits the size (UNVERIFIED).
        c['mediaType'] = uploaded?.mediaType ?? mimeFromName(url) ?? (c['type'] === 'image' ? 'image/jpeg' : 'application/octet-stream');
        if (uploaded) c['mediaSize'] = uploaded.bytes.length;
        else delete c['mediaSize'];
        // spec altText: "The field will be saved by default with the file name as the value."
        if (c['altText'] === undefined) c['altText'] = uploaded?.name ?? decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '') ?? '';
        return c;
      }
      case 'location': {
        // spec example location-2: the read-only fallback text.
        const co = c['coordinates'] as { lat: number; long: number };
        c['text'] = `Location shared:\nhttps://maps.google.com/maps?q=${co.lat},${co.long}`;
        return c;
      }
      default:
        return c;
    }
  }

  private addMessage(c: ScConversation, m: ScMessage): void {
    c.messages.push(m);
    c.lastUpdatedAt = m.received;
    const aw = this.agentWorkspace;
    // research §A.1.9 step 3 (Botpress comment): a user message reaching Agent Workspace creates the
    // ticket, after which passControl metadata can no longer set its fields.
    if (m.author.type === 'user' && c.active === aw.id) this.ensureTicket(c, 'message', {});
    const t = this.openTicket(c);
    if (t) {
      t.messages.push(m.id);
      t.updatedAt = m.received;
    }
    const user = m.author.userId ? this.users.get(m.author.userId) : undefined;
    // Every message, the integration's own included (echoes: research §D.2).
    this.emit('conversation:message', c, {
      conversation: conversationTruncatedJson(c, this.switchboardById),
      message: messageWebhookJson(m, user, this.webhook),
    });
  }

  /** ListMessages: backwards pagination, "the most recent (i.e. last) page of messages being returned by default". */
  private listMessages(c: ScConversation, req: SimRequest): SimResponse {
    const after = req.query.get('page[after]');
    const before = req.query.get('page[before]');
    if (after !== null && before !== null) return badRequest('Invalid page query parameters');
    const all = c.messages;
    let start: number;
    let end: number;
    if (after !== null) {
      start = all.findIndex((m) => m.id === after) + 1;
      if (start === 0) start = all.length;
      end = Math.min(all.length, start + LIST_MESSAGES_PAGE);
    } else {
      end =
        before === null
          ? all.length
          : Math.max(
              0,
              all.findIndex((m) => m.id === before),
            );
      start = Math.max(0, end - LIST_MESSAGES_PAGE);
    }
    const items = all.slice(start, end);
    const base = `${this.deps.baseUrl()}${req.path}`;
    const meta: Record<string, unknown> = { hasMore: after !== null ? end < all.length : start > 0 };
    const links: Record<string, string> = {};
    if (start > 0 && items[0]) {
      meta['beforeCursor'] = items[0].id;
      links['prev'] = `${base}?page[before]=${items[0].id}`;
    }
    const last = items[items.length - 1];
    if (end < all.length && last) {
      meta['afterCursor'] = last.id;
      links['next'] = `${base}?page[after]=${last.id}`;
    }
    return { status: 200, json: { messages: items.map(messageJson), meta, links } };
  }

  // ─── activities ─────────────────────────────────────────────────────────────────────────────

  private postActivity(c: ScConversation, req: SimRequest): SimResponse {
    const parsed = this.json(req);
    if ('error' in parsed) return parsed.error;
    const b = parsed.ok;
    const type = b['type'];
    if (!ACTIVITY_TYPES.includes(type as (typeof ACTIVITY_TYPES)[number])) return badRequest(`type must be one of ${ACTIVITY_TYPES.join(', ')}`);
    const invalid = invalidAuthor(b['author']);
    if (invalid) return badRequest(invalid);
    const a = b['author'] as Record<string, unknown>;
    // spec activityTypes: "If the author type is `user`, only `conversation:read` is supported."
    if (a['type'] === 'user' && type !== 'conversation:read') return badRequest('If the author type is user, only conversation:read is supported');
    const now = isoMillis();
    if (a['type'] === 'user') {
      const user = typeof a['userId'] === 'string' ? this.users.get(a['userId']) : this.findByExternalId(a['userExternalId'] as string);
      if (!user) return errors(404, 'user_not_found', 'User not found');
      this.emit('conversation:read', c, {
        conversation: conversationTruncatedJson(c, this.switchboardById),
        activity: {
          type,
          author: { type: 'user', userId: user.id, user: { id: user.id, ...(user.externalId ? { externalId: user.externalId } : {}), authenticated: false } },
          source: { type: 'api:conversations' },
        },
      });
    } else if (type === 'conversation:read') {
      // spec conversation.businessLastRead: "the moment the conversation was last marked as read with role business".
      c.businessLastRead = now;
    } else {
      // The trigger is described as "When a user starts or stops typing"; that business typing posted
      // through the API is echoed to the integration's webhook is UNVERIFIED.
      this.emit('conversation:typing', c, {
        conversation: conversationTruncatedJson(c, this.switchboardById),
        activity: {
          type,
          author: { type: 'business', ...(typeof a['displayName'] === 'string' ? { displayName: a['displayName'] } : {}) },
          source: { type: 'api:conversations' },
        },
      });
    }
    return { status: 200, json: {} };
  }

  // ─── switchboard actions (research §A.1.8) ───────────────────────────────────────────────────

  /**
   * passControlBody.switchboardIntegration: "May be referenced by its id, name, or integrationType,
   * in that order of precedence … ambiguity … an error … The `next` keyword".
   */
  private resolveTarget(c: ScConversation, ref: unknown): ScSwitchboardIntegration | string {
    if (typeof ref !== 'string' || ref === '') return 'switchboardIntegration is required';
    if (ref === 'next') {
      const from = c.active ? this.switchboardById(c.active) : undefined;
      const next = from?.nextSwitchboardIntegrationId ? this.switchboardById(from.nextSwitchboardIntegrationId) : undefined;
      return next ?? 'There is no next switchboard integration';
    }
    const byId = this.switchboardById(ref);
    if (byId) return byId;
    const byName = this.switchboardIntegrations.find((s) => s.name === ref);
    if (byName) return byName;
    const byType = this.switchboardIntegrations.filter((s) => s.integrationType === ref);
    if (byType.length > 1) return `switchboardIntegration ${ref} is ambiguous`;
    // UNVERIFIED: an unknown target as a synchronous 400 (the spec also has `*:failure` webhooks).
    return byType[0] ?? `Switchboard integration ${ref} not found`;
  }

  private passControl(c: ScConversation, req: SimRequest): SimResponse {
    const parsed = this.json(req);
    if ('error' in parsed) return parsed.error;
    const b = parsed.ok;
    const invalid = invalidMetadata(b['metadata']);
    if (invalid) return badRequest(invalid);
    const target = this.resolveTarget(c, b['switchboardIntegration']);
    if (typeof target === 'string') return badRequest(target);
    const metadata = asMetadata(b['metadata']);
    // "marks the selected switchboard integration as active and transitions all the other switchboard
    // integrations to standby status": a pending offer ends too (UNVERIFIED that it is cleared).
    c.active = target.id;
    delete c.pending;
    this.logSwitch(c, 'passControl', 'api', metadata);
    if (target.id === this.agentWorkspace.id) this.ensureTicket(c, 'passControl', metadata ?? {});
    this.emit('switchboard:passControl', c, {
      conversation: conversationTruncatedJson(c, this.switchboardById),
      ...(metadata ? { metadata } : {}),
    });
    return { status: 200, json: {} };
  }

  private offerControl(c: ScConversation, req: SimRequest): SimResponse {
    const parsed = this.json(req);
    if ('error' in parsed) return parsed.error;
    const b = parsed.ok;
    const invalid = invalidMetadata(b['metadata']);
    if (invalid) return badRequest(invalid);
    const target = this.resolveTarget(c, b['switchboardIntegration']);
    if (typeof target === 'string') return badRequest(target);
    // offerControlBody: "This cannot match the active switchboard integration." (title from the spec's
    // switchboardOfferControlFailureEvent example; a synchronous 400 is UNVERIFIED).
    if (target.id === c.active) return badRequest('Cannot offer control to the active switchboard integration.');
    const metadata = asMetadata(b['metadata']);
    c.pending = target.id; // "Invalidates previous offerControl actions."
    this.logSwitch(c, 'offerControl', 'api', metadata);
    this.emit('switchboard:offerControl', c, {
      conversation: conversationTruncatedJson(c, this.switchboardById),
      ...(metadata ? { metadata } : {}),
    });
    return { status: 200, json: {} };
  }

  private acceptControl(c: ScConversation, req: SimRequest, ctx: Ctx): SimResponse {
    const parsed = this.json(req, false);
    if ('error' in parsed) return parsed.error;
    const b = parsed.ok;
    const invalid = invalidMetadata(b['metadata']);
    if (invalid) return badRequest(invalid);
    // spec example switchboardAcceptControlFailureEvent: "There is no pendingSwitchboardIntegration".
    if (!c.pending) return badRequest('There is no pendingSwitchboardIntegration');
    // AcceptControl: "When using integration auth scope, a 403 is returned if the pending switchboard integration is not the authenticated integration."
    if (ctx.auth.scope === 'integration' && c.pending !== this.bridgeSwitchboard.id) return errors(403, 'forbidden', 'Forbidden');
    const metadata = asMetadata(b['metadata']);
    c.active = c.pending;
    delete c.pending;
    this.logSwitch(c, 'acceptControl', 'api', metadata);
    if (c.active === this.agentWorkspace.id) this.ensureTicket(c, 'acceptControl', metadata ?? {});
    this.emit('switchboard:acceptControl', c, {
      conversation: conversationTruncatedJson(c, this.switchboardById),
      ...(metadata ? { metadata } : {}),
    });
    return { status: 200, json: {} };
  }

  private releaseControl(c: ScConversation, req: SimRequest, ctx: Ctx): SimResponse {
    const parsed = this.json(req, false);
    if ('error' in parsed) return parsed.error;
    const b = parsed.ok;
    const invalid = invalidMetadata(b['metadata']);
    if (invalid) return badRequest(invalid);
    // ReleaseControl: "When using integration auth scope, a 403 is returned if the authenticated integration is not currently active".
    if (ctx.auth.scope === 'integration' && c.active !== this.bridgeSwitchboard.id) return errors(403, 'forbidden', 'Forbidden');
    const metadata = asMetadata(b['metadata']);
    // "releases the control of the conversation by nullifying its switchboard state". An open Agent
    // Workspace ticket stays open (UNVERIFIED).
    delete c.active;
    delete c.pending;
    this.logSwitch(c, 'releaseControl', 'api', metadata);
    this.emit('switchboard:releaseControl', c, {
      conversation: conversationTruncatedJson(c, this.switchboardById),
      ...(metadata ? { metadata } : {}),
    });
    return { status: 200, json: {} };
  }

  private logSwitch(c: ScConversation, action: SwitchboardChange['action'], by: SwitchboardChange['by'], metadata?: Metadata, reason?: string): void {
    const active = c.active ? this.switchboardById(c.active)?.name : undefined;
    const pending = c.pending ? this.switchboardById(c.pending)?.name : undefined;
    c.switchboardLog.push({
      at: isoMillis(),
      action,
      by,
      ...(active ? { active } : {}),
      ...(pending ? { pending } : {}),
      ...(metadata ? { metadata } : {}),
      ...(reason ? { reason } : {}),
    });
  }

  // ─── attachments (research §A.1.5) ──────────────────────────────────────────────────────────

  private async uploadAttachmentAsync(req: SimRequest): Promise<SimResponse> {
    // UploadAttachment: `access` is a required query parameter; "Currently the only available access level is public."
    const access = req.query.get('access');
    if (access === null) return badRequest('access is required');
    if (access !== 'public') return badRequest('Only public access is supported');
    const conversationId = req.query.get('conversationId') ?? undefined;
    if (conversationId !== undefined && !this.conversations.has(conversationId)) return badRequest('Invalid conversationId');
    const ct = String(req.headers['content-type'] ?? '');
    if (!/^multipart\/form-data\b/i.test(ct)) return badRequest('Files are uploaded using the multipart/form-data content type');
    let file: unknown;
    try {
      const form = await new Request('http://sim.invalid/', { method: 'POST', headers: { 'content-type': ct }, body: new Uint8Array(req.body) }).formData();
      file = form.get('source');
    } catch {
      return badRequest('Invalid multipart body');
    }
    // attachmentUploadBody: `source` (binary) is required.
    if (!(file instanceof Blob)) return badRequest('source is required');
    const name = (file as File).name || 'file';
    const bytes = Buffer.from(await file.arrayBuffer());
    const id = objectId();
    const type = (file.type && file.type !== 'application/octet-stream' ? file.type : mimeFromName(name)) ?? 'application/octet-stream';
    // spec example uploadAttachment: `https://subdomain.zendesk.com/sc/attachments/v2/{id}/my_file.jpeg`.
    const mediaUrl = `${this.deps.baseUrl()}/sc/attachments/v2/${id}/${encodeURIComponent(name)}`;
    this.attachments.set(id, { id, name, mediaType: type, bytes, mediaUrl, ...(conversationId ? { conversationId } : {}) });
    return { status: 201, json: { attachment: { mediaUrl, mediaType: type } } };
  }

  private uploadAttachment(req: SimRequest): Promise<SimResponse> {
    return this.uploadAttachmentAsync(req);
  }

  // ─── Agent Workspace: tickets from handoffs ─────────────────────────────────────────────────

  private openTicket(c: ScConversation): MessagingTicket | undefined {
    const t = c.ticketId !== undefined ? this.tickets.find((x) => x.id === c.ticketId) : undefined;
    return t && t.status !== 'closed' ? t : undefined;
  }

  ticketOf(conversationId: string): MessagingTicket | undefined {
    const c = this.conversations.get(conversationId);
    return c?.ticketId !== undefined ? this.tickets.find((x) => x.id === c.ticketId) : undefined;
  }

  /**
   * Control reached Agent Workspace: the ticket is created now, with the metadata that came with
   * it (research §A.1.8: `first_message_id`, `dataCapture.systemField.*`, `dataCapture.ticketField.*`;
   * the full list of accepted keys is UNVERIFIED, research §E). If a ticket is already open its
   * fields stay as they were and the late metadata is recorded in `ignoredMetadata` (research §D.6).
   */
  private ensureTicket(c: ScConversation, createdBy: MessagingTicket['createdBy'], metadata: Metadata): MessagingTicket {
    const open = this.openTicket(c);
    if (open) {
      if (Object.keys(metadata).length > 0) open.ignoredMetadata.push(metadata);
      return open;
    }
    const user = this.users.get(c.participants[0]?.userId ?? '');
    const at = isoMillis();
    const tags: string[] = [];
    const systemFields: Record<string, Scalar | null> = {};
    const customFields: Record<string, Scalar | null> = {};
    let requesterName: string | undefined;
    let groupId: string | undefined;
    for (const [k, v] of Object.entries(metadata)) {
      if (k === 'dataCapture.systemField.tags') {
        // research §A.1.8 example `"a,b"`; whitespace-separated tags are accepted too (UNVERIFIED).
        tags.push(
          ...String(v)
            .split(/[\s,]+/)
            .filter(Boolean),
        );
      } else if (k === 'dataCapture.systemField.group_id') groupId = String(v);
      else if (k === 'dataCapture.systemField.requester.name') requesterName = String(v);
      else if (k.startsWith('dataCapture.systemField.')) systemFields[k.slice('dataCapture.systemField.'.length)] = v;
      else if (k.startsWith('dataCapture.ticketField.')) customFields[k.slice('dataCapture.ticketField.'.length)] = v;
    }
    const firstId = typeof metadata['first_message_id'] === 'string' ? metadata['first_message_id'] : undefined;
    const from = firstId !== undefined ? c.messages.findIndex((m) => m.id === firstId) : -1;
    // support article 4419179022874 (research §A.1.8): `first_message_id` sets where the transcript
    // starts; "By default only the latest 10 messages are shown".
    const transcript = (from >= 0 ? c.messages.slice(from) : c.messages.slice(-10)).map((m) => m.id);
    if (user && user.zendeskId === undefined) user.zendeskId = String(this.zendeskUserIds.take()); // linked core user (timing UNVERIFIED)
    const name = [user?.profile.givenName, user?.profile.surname].filter((x): x is string => typeof x === 'string' && x !== '').join(' ');
    const t: MessagingTicket = {
      id: this.deps.ticketIds.take(),
      conversationId: c.id,
      userId: user?.id ?? '',
      status: 'open',
      createdAt: at,
      updatedAt: at,
      createdBy,
      metadata: { ...metadata },
      ignoredMetadata: [],
      ...(firstId !== undefined ? { firstMessageId: firstId } : {}),
      transcript,
      messages: [],
      ...(requesterName !== undefined ? { requesterName } : name ? { requesterName: name } : {}),
      tags,
      ...(groupId !== undefined ? { groupId } : {}),
      systemFields,
      customFields,
    };
    this.tickets.push(t);
    c.ticketId = t.id;
    this.deps.log(`sc ticket #${t.id} for conversation ${c.id} (${createdBy})`);
    return t;
  }

  private conversation(id: string): ScConversation {
    const c = this.conversations.get(id);
    if (!c) throw new Error(`ZendeskSimulator: unknown conversation ${id}`);
    return c;
  }

  private requireAgentWorkspace(c: ScConversation, what: string): MessagingTicket {
    if (c.active !== this.agentWorkspace.id) throw new Error(`ZendeskSimulator.${what}: ${AGENT_WORKSPACE} is not in control of conversation ${c.id}`);
    const t = this.openTicket(c);
    if (!t) throw new Error(`ZendeskSimulator.${what}: conversation ${c.id} has no open ticket yet`);
    return t;
  }

  /**
   * An agent answers in Agent Workspace: a business message with `source.type: "zd:agentWorkspace"`
   * and `metadata["__zendesk_msg.agent.id"]` (research §A.1.9 step 5 / §C: seen in third-party code
   * only, UNVERIFIED), subtype `agent` (spec author.subtypes: "generated by human agents").
   */
  agentReply(
    conversationId: string,
    input: string | AgentMedia,
    opts: { agent?: { id: number; name: string; avatarUrl?: string } } = {},
  ): Record<string, unknown> {
    const c = this.conversation(conversationId);
    this.requireAgentWorkspace(c, 'agentReply');
    const agent = opts.agent ?? this.agent;
    let content: Record<string, unknown>;
    if (typeof input === 'string') content = { type: 'text', text: input };
    else {
      const type = input.mediaType ?? mimeFromName(input.name ?? input.mediaUrl) ?? 'application/octet-stream';
      content = this.normaliseContent({
        type: type.startsWith('image/') ? 'image' : 'file',
        mediaUrl: input.mediaUrl,
        ...(input.name !== undefined ? { altText: input.name } : {}),
        ...(input.text !== undefined ? { text: input.text } : {}),
      });
      content['mediaType'] = type;
    }
    const m: ScMessage = {
      id: objectId(),
      received: isoMillis(),
      author: { type: 'business', subtypes: ['agent'], displayName: agent.name, ...(agent.avatarUrl ? { avatarUrl: agent.avatarUrl } : {}) },
      content,
      source: { type: 'zd:agentWorkspace' },
      metadata: { '__zendesk_msg.agent.id': String(agent.id) },
    };
    this.addMessage(c, m);
    return messageJson(m);
  }

  /** The agent types in Agent Workspace: `conversation:typing` with a business author (that Zendesk sends it is UNVERIFIED). */
  agentTyping(conversationId: string, on: boolean): void {
    const c = this.conversation(conversationId);
    this.requireAgentWorkspace(c, 'agentTyping');
    this.emit('conversation:typing', c, {
      conversation: conversationTruncatedJson(c, this.switchboardById),
      activity: {
        type: on ? 'typing:start' : 'typing:stop',
        author: { type: 'business', displayName: this.agent.name },
        source: { type: 'zd:agentWorkspace' },
      },
    });
  }

  /** The agent solves the ticket. It stays solved until `closeTicket` (or `closeSolvedAfterMs`); with `closeOnSolve` it closes at once. */
  solveTicket(conversationId: string): MessagingTicket {
    const c = this.conversation(conversationId);
    const t = this.openTicket(c);
    if (!t) throw new Error(`ZendeskSimulator.solveTicket: conversation ${conversationId} has no open ticket`);
    t.status = 'solved';
    t.updatedAt = isoMillis();
    if (this.closeOnSolve) this.closeTicket(conversationId);
    else if (this.closeSolvedAfterMs !== undefined) {
      const timer = setTimeout(() => {
        this.closeTimers.delete(timer);
        // The agent may have reopened (not simulated) or closed it meanwhile.
        if (t.status === 'solved') this.closeTicket(conversationId);
      }, this.closeSolvedAfterMs);
      timer.unref();
      this.closeTimers.add(timer);
    }
    return t;
  }

  /**
   * Solved → Closed: "Conversation handback is initiated when the status of the ticket … is changed
   * from Solved to Closed" (support article 4408824482586, research §A.1.8). Zendesk persists an
   * `activity: {type: "ticket:closed"}` message (spec `ticketClosed`; its text is UNVERIFIED), then
   * hands control to Agent Workspace's next integration with `reason: "ticketClosed"` (spec
   * switchboardPassControl/ReleaseControl `reason`; which of the two: option `handback`).
   */
  closeTicket(conversationId: string): MessagingTicket {
    const c = this.conversation(conversationId);
    const t = this.openTicket(c);
    if (!t) throw new Error(`ZendeskSimulator.closeTicket: conversation ${conversationId} has no open ticket`);
    if (t.status !== 'solved') throw new Error(`ZendeskSimulator.closeTicket: ticket ${t.id} must be solved first`);
    t.status = 'closed';
    t.updatedAt = isoMillis();
    this.addMessage(c, {
      id: objectId(),
      received: isoMillis(),
      author: { type: 'business', subtypes: ['activity'], avatarUrl: DEFAULT_BUSINESS_AVATAR },
      activity: { type: 'ticket:closed' },
      content: { type: 'text', text: 'Ticket closed' },
      source: { type: 'zd:agentWorkspace' },
    });
    if (c.active === this.agentWorkspace.id) this.handback(c, 'ticketClosed');
    return t;
  }

  /**
   * The agent ends the messaging session without closing the ticket, which "hands the user back to
   * the bot" (research §A.1.8, Botpress hub.md). Events: a passControl to the next integration with
   * no reason (the spec's reasons are only ticketClosed / transferToEmail). UNVERIFIED.
   */
  endSession(conversationId: string): void {
    const c = this.conversation(conversationId);
    if (c.active !== this.agentWorkspace.id) throw new Error(`ZendeskSimulator.endSession: ${AGENT_WORKSPACE} is not in control of conversation ${c.id}`);
    this.handback(c, undefined, 'passControl');
  }

  private handback(c: ScConversation, reason: 'ticketClosed' | undefined, how = this.handbackHow): void {
    if (how === 'releaseControl') {
      delete c.active;
      delete c.pending;
      this.logSwitch(c, 'releaseControl', 'agentWorkspace', undefined, reason);
      this.emit('switchboard:releaseControl', c, { conversation: conversationTruncatedJson(c, this.switchboardById), ...(reason ? { reason } : {}) });
      return;
    }
    const next = this.agentWorkspace.nextSwitchboardIntegrationId ?? this.bridgeSwitchboard.id;
    c.active = next;
    delete c.pending;
    this.logSwitch(c, 'passControl', 'agentWorkspace', undefined, reason);
    this.emit('switchboard:passControl', c, { conversation: conversationTruncatedJson(c, this.switchboardById), ...(reason ? { reason } : {}) });
  }

  // ─── webhook events ─────────────────────────────────────────────────────────────────────────

  /**
   * Routes an event to the custom integration's webhook: only subscribed triggers ("Will match one
   * of the subscribed triggers"); while the integration is active, or the switchboard is disabled
   * ("integrations linked to the switchboard will receive all events"), or nobody is in control,
   * everything; otherwise, with `deliverStandbyEvents` (spec: "if webhooks should be sent when the
   * switchboard integration is not in control"), everything; without it, what the `standby` switches
   * say (UNVERIFIED): a pending integration gets `standby.pending`, a standby one switchboard events
   * only with `standby.switchboardToStandby`.
   */
  private emit(type: string, c: ScConversation | undefined, payload: Record<string, unknown>): void {
    const event: ScEvent = { id: objectId(), createdAt: isoMillis(), type, payload };
    const entry: ScEmitted = { event, ...(c ? { conversationId: c.id } : {}), sent: false };
    if (!this.webhook.triggers.includes(type)) entry.skipped = 'not subscribed';
    else if (c && !this.reaches(c, type)) entry.skipped = c.pending === this.bridgeSwitchboard.id ? 'pending' : 'standby';
    else {
      entry.sent = true;
      this.dispatcher.enqueue(event);
    }
    this.emitted.push(entry);
  }

  /** Whether an event of conversation `c` reaches the bridge's integration (see `emit`). */
  private reaches(c: ScConversation, type: string): boolean {
    const bridge = this.bridgeSwitchboard;
    if (!this.switchboard.enabled || c.active === undefined || c.active === bridge.id || bridge.deliverStandbyEvents) return true;
    const switchboard = type.startsWith('switchboard:');
    // offerControl: "trigger a webhook signal to that integration indicating that they have been offered control".
    if (c.pending === bridge.id && type === 'switchboard:offerControl') return true;
    if (c.pending === bridge.id) return this.pendingGets === 'all' || (this.pendingGets === 'switchboard' && switchboard);
    return switchboard && this.switchboardToStandby;
  }
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
