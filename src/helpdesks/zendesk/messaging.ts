/**
 * Zendesk messaging (`type: zendesk-messaging`): live chat in Agent Workspace through Sunshine
 * Conversations v2 (research zendesk-intercom.md §A.1). Vendor words: an attendance is a SunCo
 * *conversation* (and, in Zendesk, a messaging *ticket*); the customer is a SunCo *user* whose
 * `externalId` is our stable customer key; agents write as `business`.
 *
 * Hand-off (§A.1.9): user → personal conversation → passControl to our own switchboard
 * integration → the transcript as one business message → passControl to Agent Workspace with
 * ticket metadata (first_message_id, dataCapture.*) → offerControl back to ourselves, so our webhook
 * keeps receiving the conversation while Zendesk is in control. The end: switchboard
 * passControl/releaseControl away from Agent Workspace (ticket closed, messaging session ended).
 */
import { createHmac } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { FormData } from 'undici';
import type { Content, ContentType } from '../../core/content.js';
import { fetchMedia } from '../../core/media.js';
import { DeliveryError } from '../../delivery/errors.js';
import type { HttpResponse } from '../../delivery/http.js';
import { BridgeError } from '../../http/errors.js';
import type { AdapterDefinition, Customer, HelpdeskAdapter, HelpdeskEvent, TranscriptEntry, WebhookReceiver } from '../adapter.js';
import { safeEqual } from '../kit/auth.js';
import { header } from '../kit/headers.js';
import { closeNote, failedNote } from '../kit/notes.js';
import { ZendeskError, splitText, zendeskError } from './common.js';
import { sunshineToContent, type Json } from './convert.js';

export const ZendeskMessagingConfig = Type.Object(
  {
    type: Type.Literal('zendesk-messaging'),
    baseUrl: Type.String({ pattern: '^https?://', description: 'Sunshine Conversations base URL: https://{subdomain}.zendesk.com/sc' }),
    appId: Type.String({ minLength: 1, description: 'The Sunshine Conversations app id (Admin Center → Apps and integrations → Conversations API).' }),
    keyId: Type.String({ minLength: 1, description: 'API key id (app_…) of the Conversations API key.' }),
    keySecret: Type.String({ minLength: 1, description: 'API key secret.' }),
    auth: Type.Union([Type.Literal('basic'), Type.Literal('jwt')], {
      default: 'basic',
      description: "'basic' (key id and secret) or 'jwt' (an HS256 app-scope token signed with the secret).",
    }),
    webhookSecret: Type.String({ minLength: 8, description: "The secret of the integration's webhook: Zendesk sends it as X-API-Key." }),
    integrationId: Type.Optional(
      Type.String({ minLength: 1, description: 'Our custom integration id: messages it posted come back as webhooks and are dropped by it.' }),
    ),
    switchboardIntegration: Type.String({
      minLength: 1,
      default: 'blip-bridge',
      description: 'Name of our switchboard integration (created in the setup guide).',
    }),
    agentWorkspace: Type.String({ minLength: 1, default: 'zd-agentWorkspace', description: "Agent Workspace's switchboard integration name." }),
    ticket: Type.Object(
      {
        tags: Type.Array(Type.String({ pattern: '^[^\\s,]+$' }), { default: [], description: 'Tags on the ticket.' }),
        groupId: Type.Optional(Type.String({ pattern: '^\\d+$', description: 'Group the ticket is routed to.' })),
        fields: Type.Record(Type.String({ pattern: '^\\d+$' }), Type.String({ minLength: 1 }), {
          default: {},
          description: 'Ticket fields from the Blip contact: { <ticket field id>: <contact extras key> }.',
        }),
      },
      { additionalProperties: false, default: {}, description: 'What the ticket is created with (dataCapture metadata).' },
    ),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 15_000, description: 'Deadline of one call to Zendesk, in milliseconds.' }),
  },
  { additionalProperties: false, description: 'Zendesk messaging (Sunshine Conversations + Agent Workspace). See docs/helpdesks/zendesk.md.' },
);
export type ZendeskMessagingConfig = Static<typeof ZendeskMessagingConfig>;

/** SunCo text limit (spec textMessage.text maxLength 4096). */
const MAX_TEXT = 4096;
/** Marks what we post, so its webhook echo is recognised whatever the integration id, and a retry finds it. */
const ORIGIN = 'blipBridgeMessageId';
/** Which piece of a split message (0-based): a retry posts only the pieces still missing. */
const PART = 'blipBridgePart';
/** Marks our own switchboard actions (metadata comes back in their webhook events, spec switchboardPassControl). */
const SWITCH = 'blipBridgeAttendanceId';
const CONTENTS: readonly ContentType[] = ['text', 'media', 'location', 'contact', 'choices', 'reply', 'unsupported'];

interface RefData {
  userId: string;
  externalId: string;
}

// ── webhook payload (only what we read; unknown fields tolerated) ─────────────────────────────
const Loose = Type.Record(Type.String(), Type.Unknown());
const Conversation = Type.Object({ id: Type.String({ minLength: 1 }), activeSwitchboardIntegration: Type.Optional(Type.Union([Type.Null(), Loose])) });
const WebhookEvent = Type.Object({
  id: Type.String({ minLength: 1 }),
  type: Type.String({ minLength: 1 }),
  payload: Type.Optional(Type.Object({ conversation: Type.Optional(Conversation) })),
});
const WebhookBody = Type.Object({ events: Type.Array(WebhookEvent, { maxItems: 1000 }) });
const checkBody = TypeCompiler.Compile(WebhookBody);


function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** An app-scope JWT (research §A.1.1): header `{alg: HS256, typ: JWT, kid}`, payload `{scope: "app"}`, signed with the key secret. */
function jwt(keyId: string, secret: string): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: keyId }));
  const body = b64url(JSON.stringify({ scope: 'app' }));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** The transcript as one readable business message. */
function transcriptText(customer: Customer, transcript: TranscriptEntry[]): string {
  const lines = [`Handed over by the Blip bot${customer.channel ? ` (${customer.channel})` : ''}.`];
  if (transcript.length) {
    lines.push('', 'Conversation before the hand-off:');
    for (const t of transcript) lines.push(`${t.direction === 'bot' ? 'Bot' : 'Customer'}: ${t.content.text.replace(/\n/g, '\n  ')}`);
  }
  return lines.join('\n');
}

export const zendeskMessagingAdapter: AdapterDefinition<ZendeskMessagingConfig> = {
  type: 'zendesk-messaging',
  configSchema: ZendeskMessagingConfig,
  create(config, deps): HelpdeskAdapter {
    const base = `${config.baseUrl.replace(/\/+$/, '')}/v2/apps/${encodeURIComponent(config.appId)}`;
    // Without `exp` the token does not expire, so one is made once (research §A.1.1).
    const authorization =
      config.auth === 'basic'
        ? `Basic ${Buffer.from(`${config.keyId}:${config.keySecret}`).toString('base64')}`
        : `Bearer ${jwt(config.keyId, config.keySecret)}`;
    const isAgentWorkspace = (sw: Json | undefined): boolean => !!sw && (sw['name'] === config.agentWorkspace || sw['integrationType'] === 'zd:agentWorkspace');
    const isOurs = (sw: Json | undefined): boolean =>
      !!sw && (sw['name'] === config.switchboardIntegration || (config.integrationId !== undefined && sw['integrationId'] === config.integrationId));

    async function call(method: 'GET' | 'POST', path: string, body?: unknown, ok: number[] = []): Promise<HttpResponse> {
      const res = await deps.http.request({
        method,
        url: `${base}${path}`,
        headers: { authorization, accept: 'application/json' },
        ...(body !== undefined ? { body } : {}),
        timeoutMs: config.timeoutMs,
      });
      if ((res.status >= 200 && res.status < 300) || ok.includes(res.status)) return res;
      throw zendeskError(method, path, res);
    }

    async function user(customer: Customer): Promise<RefData> {
      // get-or-create by externalId (§A.1.2): GET; on 404 POST; on 409 (a race) GET again.
      const externalId = customer.id;
      const path = `/users/${encodeURIComponent(externalId)}`;
      const got = await call('GET', path, undefined, [404]);
      if (got.status !== 404) return { userId: String((got.body as Json)['user']['id']), externalId };
      const created = await call(
        'POST',
        '/users',
        {
          externalId,
          profile: { ...(customer.name ? { givenName: customer.name } : {}), ...(customer.email ? { email: customer.email } : {}) },
          metadata: { channel: customer.channel ?? 'blip', blipAddress: customer.address },
        },
        [409],
      );
      if (created.status === 409) return { userId: String(((await call('GET', path)).body as Json)['user']['id']), externalId };
      return { userId: String((created.body as Json)['user']['id']), externalId };
    }

    /** Posts one message marked as ours (so its webhook echo and a retry can recognise it); returns its id. */
    async function post(conversationId: string, author: Json, content: Json, ourId: string, part: number): Promise<string> {
      const res = await call('POST', `/conversations/${encodeURIComponent(conversationId)}/messages`, {
        author,
        content,
        metadata: { [ORIGIN]: ourId, [PART]: part },
      });
      const messages = ((res.body as Json)['messages'] ?? []) as Json[];
      return String(messages.at(-1)?.['id'] ?? '');
    }

    /**
     * The parts of `ourId` an earlier attempt already posted (part → message id). List Messages
     * returns the most recent 100 first (§A.1.4), which is where a retried message's parts are.
     */
    async function alreadyPosted(conversationId: string, ourId: string): Promise<Map<number, string>> {
      const res = await call('GET', `/conversations/${encodeURIComponent(conversationId)}/messages`);
      const found = new Map<number, string>();
      for (const m of ((res.body as Json)['messages'] ?? []) as Json[]) {
        if (m['metadata']?.[ORIGIN] === ourId) found.set(Number(m['metadata']?.[PART] ?? 0), String(m['id']));
      }
      return found;
    }

    /** SunCo contents for one canonical content: texts split at 4096; media uploaded first (lazily, so a retry that finds it posted uploads nothing). */
    function toSunshine(conversationId: string, c: Content): Array<() => Promise<Json>> {
      switch (c.type) {
        case 'media':
          return [
            async () => {
              // Blip's links expire: the file goes through the attachments API (§A.1.5).
              const file = await fetchMedia(c.url, deps.media);
              const type = c.mimeType || file.contentType;
              const form = new FormData();
              form.append('source', new Blob([new Uint8Array(file.bytes)], { type }), c.name ?? defaultName(type));
              const res = await call('POST', `/attachments?access=public&for=message&conversationId=${encodeURIComponent(conversationId)}`, form);
              const mediaUrl = String((res.body as Json)['attachment']['mediaUrl']);
              const kind = type.startsWith('image/') ? 'image' : 'file';
              return {
                type: kind,
                mediaUrl,
                ...(c.name ? { altText: c.name.slice(0, 128) } : {}),
                ...(c.caption ? { text: c.caption.slice(0, MAX_TEXT) } : {}),
              };
            },
          ];
        case 'location':
          return [
            async () => ({
              type: 'location',
              coordinates: { lat: c.latitude, long: c.longitude },
              ...(c.name || c.address ? { location: { ...(c.name ? { name: c.name } : {}), ...(c.address ? { address: c.address } : {}) } } : {}),
            }),
          ];
        default:
          return splitText(c.text, MAX_TEXT).map((text) => async () => ({ type: 'text', text }));
      }
    }

    /** Our own switchboard actions carry this, so their webhook echoes are not read as Zendesk's. */
    const ownAction = (attendanceId: string) => ({ [SWITCH]: attendanceId });

    const webhook: WebhookReceiver = {
      unmatched: 'ignore', // the app's webhook carries every conversation, not only ours
      verify(_raw, hdrs) {
        const key = header(hdrs, 'x-api-key');
        if (!key) return { ok: false, reason: 'missing X-API-Key' };
        return safeEqual(key, config.webhookSecret) ? { ok: true } : { ok: false, reason: 'X-API-Key does not match the webhook secret' };
      },
      parse(body): HelpdeskEvent[] {
        if (!checkBody.Check(body)) {
          const first = checkBody.Errors(body).First();
          throw new BridgeError('BRIDGE_ERR_INVALID_EVENT', `${first?.path || '/'}: ${first?.message ?? 'not a Sunshine Conversations webhook'}`);
        }
        // One payload may carry events of several conversations (§A.1.7): each maps on its own.
        return body.events.map((ev): HelpdeskEvent => {
          const p = (ev.payload ?? {}) as Json;
          const conversationId = p['conversation']?.['id'] as string | undefined;
          if (!conversationId) return { kind: 'ignored', reason: `${ev.type}: no conversation` };
          const attendance = { key: conversationId };
          switch (ev.type) {
            case 'conversation:message': {
              const m = (p['message'] ?? {}) as Json;
              // Zendesk persists the end as a message (spec message.activity): the ticket closed, or the
              // conversation moved to e-mail. It comes before the handback, while we are still offered
              // control, so it is seen even where the handback itself never reaches us.
              const activity = m['activity']?.['type'];
              if (activity === 'ticket:closed' || activity === 'ticket:transfer:email')
                return { kind: 'attendance.ended', eventId: ev.id, attendance, reason: activity === 'ticket:closed' ? 'ticketClosed' : 'transferToEmail' };
              // Any message while another integration (the answer bot…) holds the conversation means
              // Agent Workspace let it go, whether or not its passControl reached us.
              const active = (p['conversation']?.['activeSwitchboardIntegration'] ?? undefined) as Json | undefined;
              if (active && !isAgentWorkspace(active) && !isOurs(active))
                return { kind: 'attendance.ended', eventId: ev.id, attendance, reason: `control passed to ${String(active['name'] ?? active['integrationType'] ?? 'another integration')}` };
              if (m['author']?.['type'] !== 'business') return { kind: 'ignored', reason: 'not from the business' };
              // Our own posts (the transcript, the end note) come back too: drop the echo.
              if (m['metadata']?.[ORIGIN] !== undefined || (config.integrationId && m['source']?.['integrationId'] === config.integrationId))
                return { kind: 'ignored', reason: 'echo of our own message' };
              // System messages (`activity: ticket:closed`…) are not the agent speaking.
              if (m['content']?.['type'] === undefined || m['activity']) return { kind: 'ignored', reason: 'activity message' };
              const agentId = m['metadata']?.['__zendesk_msg.agent.id'];
              const name = m['author']?.['displayName'];
              return {
                kind: 'agent.message',
                eventId: ev.id,
                attendance,
                message: {
                  id: String(m['id'] ?? ev.id),
                  content: sunshineToContent(m['content'] as Json),
                  agent: { ...(agentId !== undefined ? { id: String(agentId) } : {}), ...(typeof name === 'string' ? { name } : {}) },
                },
              };
            }
            case 'conversation:typing': {
              const a = (p['activity'] ?? {}) as Json;
              if (a['author']?.['type'] !== 'business') return { kind: 'ignored', reason: 'typing not from the business' };
              return { kind: 'agent.typing', eventId: ev.id, attendance, state: a['type'] === 'typing:start' ? 'typing' : 'paused' };
            }
            case 'switchboard:passControl': {
              // Our own passControl to ourselves while opening (or retrying an open) is no end.
              if (p['metadata']?.[SWITCH] !== undefined) return { kind: 'ignored', reason: 'our own switchboard action' };
              const active = (p['conversation']?.['activeSwitchboardIntegration'] ?? undefined) as Json | undefined;
              // Our hand-off to Agent Workspace, echoed: the attendance is starting, not ending.
              if (isAgentWorkspace(active)) return { kind: 'ignored', reason: 'control passed to Agent Workspace' };
              // Control left Agent Workspace: the ticket closed (reason ticketClosed), the agent ended
              // the messaging session (no reason), or it went to another bot or to e-mail.
              return {
                kind: 'attendance.ended',
                eventId: ev.id,
                attendance,
                reason: typeof p['reason'] === 'string' ? p['reason'] : 'messaging session ended',
              };
            }
            case 'switchboard:releaseControl':
              if (p['metadata']?.[SWITCH] !== undefined) return { kind: 'ignored', reason: 'our own switchboard action' };
              return { kind: 'attendance.ended', eventId: ev.id, attendance, reason: typeof p['reason'] === 'string' ? p['reason'] : 'control released' };
            default:
              return { kind: 'ignored', reason: ev.type };
          }
        });
      },
    };

    return {
      type: 'zendesk-messaging',
      // typing: SunCo takes only conversation:read from a user (§A.1.6). SunCo's limits are the app's,
      // not a conversation's (§A.1.1 publishes no numbers): a 429 pauses every lane of the bot.
      capabilities: { contents: CONTENTS, typing: false, accountRateLimit: true },
      webhook,

      async check() {
        try {
          // Switchboard configuration needs an app (or account) key: this also proves the key's scope.
          const list = await call('GET', '/switchboards');
          const board = (((list.body as Json)['switchboards'] ?? []) as Json[])[0];
          if (!board) return { ok: false, detail: `app ${config.appId} has no switchboard (see docs/helpdesks/zendesk.md)` };
          const sis = (((await call('GET', `/switchboards/${encodeURIComponent(String(board['id']))}/switchboardIntegrations`)).body as Json)[
            'switchboardIntegrations'
          ] ?? []) as Json[];
          const names = sis.map((x) => String(x['name']));
          const missing = [config.switchboardIntegration, config.agentWorkspace].filter((n) => !names.includes(n));
          if (missing.length) return { ok: false, detail: `switchboard integration(s) ${missing.join(', ')} not found (have: ${names.join(', ') || 'none'})` };
          return {
            ok: true,
            detail: `Sunshine Conversations accepted the key for app ${config.appId}; switchboard has ${config.switchboardIntegration} and ${config.agentWorkspace}`,
          };
        } catch (err) {
          return { ok: false, detail: (err as Error).message };
        }
      },

      async open(attendance, customer, transcript, ctx) {
        const u = await user(customer);
        let conversation: Json | undefined;
        if (ctx.attempt > 1) {
          // An earlier attempt may have created the conversation (and gone further) before failing.
          const list = await call('GET', `/conversations?filter[userId]=${encodeURIComponent(u.userId)}&page[size]=100`);
          conversation = (((list.body as Json)['conversations'] ?? []) as Json[]).find((c) => c['metadata']?.['bridgeAttendanceId'] === attendance.id);
        }
        if (!conversation) {
          const created = await call('POST', '/conversations', {
            type: 'personal',
            participants: [{ userId: u.userId, subscribeSDKClient: false }],
            displayName: (customer.name ?? customer.originator ?? customer.address).slice(0, 100),
            metadata: { bridgeAttendanceId: attendance.id },
          });
          conversation = (created.body as Json)['conversation'] as Json;
        }
        const conversationId = String(conversation['id']);
        const conv = `/conversations/${encodeURIComponent(conversationId)}`;
        const transcriptId = `transcript:${attendance.id}`;
        // A new conversation starts with the account's default integration in control, often Agent
        // Workspace itself; only a transcript we posted, followed by Agent Workspace in control,
        // proves an earlier attempt got as far as the hand-off.
        const posted = ctx.attempt > 1 ? await alreadyPosted(conversationId, transcriptId) : new Map<number, string>();
        const handedOver = posted.size > 0 && isAgentWorkspace(conversation['activeSwitchboardIntegration'] as Json | undefined);
        if (!handedOver) {
          // We hold control while posting, so the ticket is not created by the first message
          // without its metadata (§A.1.9 step 3).
          await call('POST', `${conv}/passControl`, { switchboardIntegration: config.switchboardIntegration, metadata: ownAction(attendance.id) });
          const pieces = splitText(transcriptText(customer, transcript), MAX_TEXT);
          for (const [i, text] of pieces.entries()) {
            if (!posted.has(i))
              posted.set(i, await post(conversationId, { type: 'business', displayName: 'Blip bot' }, { type: 'text', text }, transcriptId, i));
          }
          const metadata: Record<string, string> = { first_message_id: posted.get(0)! };
          if (customer.name) metadata['dataCapture.systemField.requester.name'] = customer.name;
          if (config.ticket.tags.length) metadata['dataCapture.systemField.tags'] = config.ticket.tags.join(',');
          if (config.ticket.groupId) metadata['dataCapture.systemField.group_id'] = config.ticket.groupId;
          for (const [field, extra] of Object.entries(config.ticket.fields)) {
            const v = customer.extras[extra];
            if (v !== undefined) metadata[`dataCapture.ticketField.${field}`] = v;
          }
          // The ticket is created now, with these fields (§A.1.8).
          await call('POST', `${conv}/passControl`, { switchboardIntegration: config.agentWorkspace, metadata: fitMetadata(metadata) });
        }
        // Pending but not in control: the conversation's events keep reaching our webhook (§A.1.9
        // step 4) even with deliverStandbyEvents off. Without it the agent's replies may never come,
        // so the open is not done until it succeeds: a failure fails the attempt, and the retry
        // (which finds the hand-off done above) offers again; a second offer only replaces the first
        // (spec offerControl: "Invalidates previous offerControl actions").
        await call('POST', `${conv}/offerControl`, { switchboardIntegration: config.switchboardIntegration, metadata: ownAction(attendance.id) });
        return { key: conversationId, data: { ...u } };
      },

      async deliver(ref, _attendance, message, ctx) {
        const data = ref.data as unknown as RefData;
        const posted = ctx.attempt > 1 ? await alreadyPosted(ref.key, message.id) : new Map<number, string>();
        const parts = toSunshine(ref.key, message.content);
        for (const [i, make] of parts.entries()) {
          if (posted.has(i)) continue;
          try {
            posted.set(i, await post(ref.key, { type: 'user', userId: data.userId }, await make(), message.id, i));
          } catch (err) {
            // 423: the conversation reached SunCo's 30,000-message limit; nothing will change that.
            if (err instanceof ZendeskError && err.status === 423) throw new DeliveryError(err.message, false, undefined, 423);
            throw err;
          }
        }
        return { vendorMessageId: posted.get(parts.length - 1) ?? '' };
      },

      async close(ref, attendance, reason, ctx) {
        if (reason === 'agent') return; // Zendesk ended it
        const conv = `/conversations/${encodeURIComponent(ref.key)}`;
        // The agent learns why the customer is gone, in the conversation they are looking at (the
        // user has no SDK client, so nobody else sees it), then Agent Workspace loses control: the
        // bridge releases it (spec releaseControl: "nullifying its switchboard state"), as Botpress
        // does for a bot-initiated end (research §A.1.9 step 6). The ticket stays for the agent to solve.
        try {
          await note(ref.key, `close:${attendance.id}`, `${closeNote(reason)} Messages written here no longer reach them.`, ctx.attempt);
        } catch (err) {
          // A deleted conversation has nobody to tell; anything else is retried.
          if (!(err instanceof ZendeskError && err.status === 404)) throw err;
          return;
        }
        await call('POST', `${conv}/releaseControl`, { metadata: { ...ownAction(attendance.id), reason: `bridge:${reason}` } }, [404]);
      },

      async messageStatus(ref, _attendance, update, ctx) {
        const data = ref.data as unknown as RefData;
        if (update.status === 'read') {
          // Sunshine Conversations takes one activity from a user: conversation:read (spec activityPost,
          // research §A.1.6), which Zendesk shows as the customer having read the conversation.
          await call('POST', `/conversations/${encodeURIComponent(ref.key)}/activity`, { author: { type: 'user', userId: data.userId }, type: 'conversation:read' }, [404]);
          return;
        }
        // `sent` and `delivered` have no place in Agent Workspace: nothing to show.
        if (update.status !== 'failed') return;
        const list = await call('GET', `/conversations/${encodeURIComponent(ref.key)}/messages`, undefined, [404]);
        if (list.status === 404) return;
        const failed = (((list.body as Json)['messages'] ?? []) as Json[]).find((m) => m['id'] === update.sourceId);
        const quoted = failed ? sunshineToContent((failed['content'] ?? {}) as Json).text : undefined;
        await note(ref.key, `status:${update.sourceId}`, failedNote(update, quoted), ctx.attempt);
      },
    };

    /**
     * A business message for the agent's eyes (SunCo has no internal notes; the user has no SDK
     * client, so only Agent Workspace shows it), marked as ours so its echo is dropped and a retry
     * that finds it posted posts nothing.
     */
    async function note(conversationId: string, ourId: string, text: string, attempt: number): Promise<void> {
      if (attempt > 1 && (await alreadyPosted(conversationId, ourId)).size > 0) return;
      for (const [i, piece] of splitText(text, MAX_TEXT).entries())
        await post(conversationId, { type: 'business', displayName: 'Blip bot' }, { type: 'text', text: piece }, ourId, i);
    }
  },
};

/** A file name for an attachment Blip sent without one (SunCo saves it as the alt text). */
function defaultName(mimeType: string): string {
  const sub = mimeType.split('/')[1]?.split(/[;+]/)[0] ?? 'bin';
  return `attachment.${sub.replace(/[^a-z0-9]/gi, '') || 'bin'}`;
}

/** SunCo refuses metadata over 4 KB (§A.1.1): long ticket fields are dropped, last first, rather than losing the hand-off. */
function fitMetadata(m: Record<string, string>): Record<string, string> {
  const out = { ...m };
  const keys = Object.keys(out).filter((k) => k.startsWith('dataCapture.ticketField.'));
  while (Buffer.byteLength(JSON.stringify(out)) > 4000 && keys.length) delete out[keys.pop()!];
  return out;
}
