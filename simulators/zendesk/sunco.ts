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
import { isObject, mediaType, type Result, type Route, type SimRequest, type SimResponse } from './http.js';
import { authenticateSunCo, keyScope, type ScAuth, type SunCoKey } from './sunco-auth.js';
import {
  conversationTruncatedJson,
  messageWebhookJson,
  type Metadata,
  type MessagingTicket,
  type ScAttachment,
  type ScConversation,
  type ScMessage,
  type ScSwitchboardIntegration,
  type ScUser,
  type SwitchboardChange,
} from './sunco-shapes.js';

import { SunCoWebhookDispatcher, type ScEvent, type ScWebhookConfig } from './sunco-webhooks.js';
import { buildRoutes } from './sunco-routes.js';
import { ensureTicket } from './sunco-agent.js';

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

export type Ctx = { auth: ScAuth };

export const LIST_MESSAGES_PAGE = 100; // spec ListMessages: "The page size limit is fixed at 100 messages per page."
export const DEFAULT_BUSINESS_AVATAR = 'https://www.gravatar.com/avatar/00000000000000000000000000000000.png?s=200&d=mm'; // spec example listMessages

export function errors(status: number, code: string, title: string, headers?: Record<string, string>): SimResponse {
  // spec info.description "Errors": `{"errors": [{"code", "title"}]}`.
  return { status, json: { errors: [{ code, title }] }, ...(headers ? { headers } : {}) };
}

export const badRequest = (title: string): SimResponse => errors(400, 'bad_request', title);

/**
 * The account's state and what every part shares (auth, the event router, the messages and tickets
 * of each conversation). Its members are open to the modules beside it, which hold the rest as
 * functions of it: sunco-routes.ts (route table, users, conversations), sunco-messages.ts,
 * sunco-switchboard.ts, sunco-agent.ts (Agent Workspace). Tests use the ZendeskSimulator (index.ts).
 */
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

  readonly byExternalId = new Map<string, string>();
  readonly agent: { id: number; name: string; avatarUrl?: string };
  readonly messageLimit: number;
  readonly handbackHow: 'passControl' | 'releaseControl';
  readonly closeOnSolve: boolean;
  readonly closeSolvedAfterMs: number | undefined;
  readonly closeTimers = new Set<NodeJS.Timeout>();
  readonly pendingGets: 'all' | 'switchboard' | 'none';
  readonly switchboardToStandby: boolean;
  readonly zendeskUserIds = new Sequence(30_000_000_000_000);

  constructor(
    options: SunCoOptions,
    readonly deps: { baseUrl: () => string; ticketIds: Sequence; log: (line: string) => void },
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
    this.routes = buildRoutes(this);
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

  /** JSON body or a 400; spec info.description: JSON requests need `content-type: application/json`. */
  json(req: SimRequest, required = true): Result<Record<string, unknown>> {
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

  // ─── conversations ──────────────────────────────────────────────────────────────────────────

  findByExternalId(externalId: string): ScUser | undefined {
    return this.users.get(this.byExternalId.get(externalId) ?? '');
  }

  // ─── messages ───────────────────────────────────────────────────────────────────────────────

  addMessage(c: ScConversation, m: ScMessage): void {
    c.messages.push(m);
    c.lastUpdatedAt = m.received;
    const aw = this.agentWorkspace;
    // research §A.1.9 step 3 (Botpress comment): a user message reaching Agent Workspace creates the
    // ticket, after which passControl metadata can no longer set its fields.
    if (m.author.type === 'user' && c.active === aw.id) ensureTicket(this, c, 'message', {});
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

  // ─── activities ─────────────────────────────────────────────────────────────────────────────

  // ─── switchboard actions (research §A.1.8) ───────────────────────────────────────────────────

  logSwitch(c: ScConversation, action: SwitchboardChange['action'], by: SwitchboardChange['by'], metadata?: Metadata, reason?: string): void {
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

  // ─── Agent Workspace: tickets from handoffs ─────────────────────────────────────────────────

  openTicket(c: ScConversation): MessagingTicket | undefined {
    const t = c.ticketId !== undefined ? this.tickets.find((x) => x.id === c.ticketId) : undefined;
    return t && t.status !== 'closed' ? t : undefined;
  }

  ticketOf(conversationId: string): MessagingTicket | undefined {
    const c = this.conversations.get(conversationId);
    return c?.ticketId !== undefined ? this.tickets.find((x) => x.id === c.ticketId) : undefined;
  }

  conversation(id: string): ScConversation {
    const c = this.conversations.get(id);
    if (!c) throw new Error(`ZendeskSimulator: unknown conversation ${id}`);
    return c;
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
  emit(type: string, c: ScConversation | undefined, payload: Record<string, unknown>): void {
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
  reaches(c: ScConversation, type: string): boolean {
    const bridge = this.bridgeSwitchboard;
    if (!this.switchboard.enabled || c.active === undefined || c.active === bridge.id || bridge.deliverStandbyEvents) return true;
    const switchboard = type.startsWith('switchboard:');
    // offerControl: "trigger a webhook signal to that integration indicating that they have been offered control".
    if (c.pending === bridge.id && type === 'switchboard:offerControl') return true;
    if (c.pending === bridge.id) return this.pendingGets === 'all' || (this.pendingGets === 'switchboard' && switchboard);
    return switchboard && this.switchboardToStandby;
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
