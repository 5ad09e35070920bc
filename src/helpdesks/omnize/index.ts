/**
 * Omnize, now Zenvia Chat (`type: omnize`): the Interactions API (specs/omnize/interactions.md;
 * research other-helpdesks.md §5). Vendor words: an attendance is an *interaction*, named by its
 * `interaction_hash`; agents answer through "triggers" (webhooks).
 *
 * Omnize authenticates us by a token in the body and signs nothing it sends: its webhook URL
 * carries a secret of ours (`?secret=…`), and an event is accepted only for an interaction we
 * created whose `extra` echoes our attendance id.
 */
import { randomUUID } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Content, ContentType } from '../../core/content.js';
import { DeliveryError, isRetryableStatus, parseRetryAfter } from '../../delivery/errors.js';
import type { HttpResponse } from '../../delivery/http.js';
import { BridgeError } from '../../http/errors.js';
import type { AdapterDefinition, AgentMessageStatus, Customer, HelpdeskAdapter, HelpdeskEvent, TranscriptEntry, WebhookReceiver } from '../adapter.js';
import { safeEqual } from '../kit/auth.js';
import { closeNote, failedNote } from '../kit/notes.js';
import { splitText } from '../kit/split.js';

export const OmnizeConfig = Type.Object(
  {
    type: Type.Literal('omnize'),
    baseUrl: Type.String({
      pattern: '^https?://',
      default: 'https://zchat.zenvia.io/core/api/v1',
      description: 'Interactions API base URL. Older installs: https://core.omnize.com.br/api/v1.',
    }),
    token: Type.String({ minLength: 8, description: 'API token (zchat-admin → Menu → Settings → Integrations → API → Generate Token).' }),
    departmentId: Type.Integer({ minimum: 1, description: 'Department that receives the interactions.' }),
    mediaType: Type.Union([Type.Literal('TEXT'), Type.Literal('SMS'), Type.Literal('WHATSAPP')], { default: 'TEXT', description: "Omnize's media_type of the interactions we start." }),
    webhookSecret: Type.String({ minLength: 16, description: 'A random secret of yours, put in the trigger URL as ?secret=… (Omnize signs nothing).' }),
    cpfExtra: Type.Optional(Type.String({ minLength: 1, description: 'Blip contact extras key holding the customer CPF, sent as customer.cpf.' })),
    messages: Type.Object(
      {
        queued: Type.Optional(Type.String({ minLength: 1, description: 'Told to the customer when queued; {position} is replaced, e.g. "You are number {position} in line."' })),
        unavailable: Type.Optional(Type.String({ minLength: 1, description: 'Told to the customer when no agent is available.' })),
        accepted: Type.Optional(Type.String({ minLength: 1, description: 'Told to the customer when an agent accepts; {agent} is replaced.' })),
      },
      { additionalProperties: false, default: {} },
    ),
    unknownTriggers: Type.Union([Type.Literal('acknowledge'), Type.Literal('reject')], {
      default: 'acknowledge',
      description:
        "The trigger URL is account-wide: the account's other interactions (its web widget, other integrations) and interactions the bridge already closed trigger it too. 'acknowledge' answers them 200 {ignored} and stores nothing, so Omnize has no failure to retry or to disable the webhook for (its docs say nothing of either: UNVERIFIED); 'reject' answers 404 (unknown) / 409 (closed).",
    }),
    notes: Type.Boolean({
      default: true,
      description:
        "Tell the agent what the bridge did: the reason of a close the bridge makes goes in the interaction's note (Update interaction) before /finish, and a reply that did not reach the customer becomes a chat line starting with \"Blip:\".",
    }),
    maxTextLength: Type.Optional(
      Type.Integer({
        minimum: 100,
        description: 'Omnize documents no length limit for a message; if yours refuses long ones, longer customer texts go as ordered parts of at most this many characters (never cut).',
      }),
    ),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 15_000, description: 'Deadline of one call to Omnize, in milliseconds.' }),
  },
  { additionalProperties: false, description: 'Omnize / Zenvia Chat. See docs/helpdesks/omnize.md.' },
);
export type OmnizeConfig = Static<typeof OmnizeConfig>;

const CONTENTS: readonly ContentType[] = ['text', 'media', 'location', 'contact', 'reply', 'unsupported'];

// Trigger payloads (interactions.md "Triggers"); unknown fields tolerated.
const Trigger = Type.Object({
  interaction_hash: Type.String({ minLength: 1, maxLength: 200 }),
  state: Type.Optional(Type.String()),
  position: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
  message: Type.Optional(
    Type.Object({
      hash: Type.String({ minLength: 1 }),
      content: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      type: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      url: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    }),
  ),
  agent: Type.Optional(Type.Union([Type.Null(), Type.Object({ id: Type.Optional(Type.Union([Type.Integer(), Type.String()])), name: Type.Optional(Type.Union([Type.String(), Type.Null()])) })])),
  extra: Type.Optional(Type.Union([Type.Null(), Type.Record(Type.String(), Type.Unknown())])),
});
const checkTrigger = TypeCompiler.Compile(Trigger);

/** Our attendance id in `extra`, echoed by every trigger. */
const EXTRA_KEY = 'bridgeAttendanceId';

const MIME_BY_EXT: Record<string, string> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp',
  mp4: 'video/mp4', mov: 'video/quicktime', mp3: 'audio/mpeg', ogg: 'audio/ogg', oga: 'audio/ogg', m4a: 'audio/mp4', wav: 'audio/wav',
  pdf: 'application/pdf', doc: 'application/msword', docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', txt: 'text/plain',
};

/** Omnize says only "image", "video"…: the extension tells the rest. */
function mimeOf(type: string, url: string): string {
  const ext = /\.([a-z0-9]{2,5})(?:$|[?#])/i.exec(url)?.[1]?.toLowerCase();
  const byExt = ext ? MIME_BY_EXT[ext] : undefined;
  if (byExt && (type === 'file' || byExt.startsWith(`${type}/`))) return byExt;
  return type === 'image' ? 'image/jpeg' : type === 'video' ? 'video/mp4' : type === 'audio' ? 'audio/mpeg' : 'application/octet-stream';
}

/** What Omnize calls a message type, for a canonical media. */
function omnizeType(mimeType: string): 'image' | 'video' | 'audio' | 'file' {
  const top = mimeType.split('/')[0];
  return top === 'image' || top === 'video' || top === 'audio' ? top : 'file';
}

function fileNameOf(url: string): string | undefined {
  const last = url.split(/[?#]/)[0]!.split('/').pop() ?? '';
  try {
    return decodeURIComponent(last) || undefined;
  } catch {
    return last || undefined; // a stray % in the URL
  }
}

function agentContent(m: { content?: string | null; type?: string | null; url?: string | null }): Content {
  const type = (m.type ?? 'text').toLowerCase();
  const text = m.content ?? '';
  // Only http(s) links become media; anything else stays readable text.
  if (type === 'text' || !m.url || !/^https?:\/\//i.test(m.url)) return { type: 'text', text: [text, type !== 'text' ? m.url : ''].filter(Boolean).join('\n') || '(empty message)' };
  const mimeType = mimeOf(type, m.url);
  const name = fileNameOf(m.url);
  // Omnize's content of a file is often just its name: no caption then.
  const caption = text && text !== name ? text : undefined;
  return {
    type: 'media',
    url: m.url,
    mimeType,
    ...(name ? { name } : {}),
    ...(caption ? { caption } : {}),
    text: `📎 ${name ? `${name} ` : ''}(${mimeType}) ${m.url}${caption ? `\n${caption}` : ''}`,
  };
}

/** interactions.md "Start interaction" `customer`: only what we know; CPF from the mapped contact extra. */
export function omnizeCustomer(customer: Customer, cpfExtra: string | undefined): Record<string, string> {
  const raw = cpfExtra ? customer.extras[cpfExtra]?.trim() : undefined;
  // Omnize's example is digits only ("12345678900"); Blip extras often hold "123.456.789-00".
  const cpf = raw && /^[\d.\-\s/]+$/.test(raw) ? raw.replace(/\D/g, '') : raw;
  // WhatsApp originators are the phone number (`5511…@wa.gw.msging.net`) when Blip has no phone.
  const phone = customer.phone ?? (customer.originator?.endsWith('@wa.gw.msging.net') ? customer.originator.split('@')[0] : undefined);
  return {
    ...(customer.name ? { name: customer.name } : {}),
    ...(customer.email ? { email: customer.email } : {}),
    ...(phone ? { phone } : {}),
    ...(cpf ? { cpf } : {}),
  };
}

export const TRANSCRIPT_HEADER = 'Conversation with the bot before the hand-off (sent by the bridge, not typed by the customer):';

/** The transcript as one text message, for when Omnize cannot fetch it (no server.publicUrl). */
export function transcriptMessage(transcript: readonly TranscriptEntry[]): string {
  const lines = transcript.map((t) => `${t.at.slice(11, 16)} ${t.direction === 'customer' ? 'Customer' : 'Bot'}: ${t.content.text}`);
  return [TRANSCRIPT_HEADER, ...lines].join('\n');
}

export const omnizeAdapter: AdapterDefinition<OmnizeConfig> = {
  type: 'omnize',
  configSchema: OmnizeConfig,
  create(config, deps): HelpdeskAdapter {
    const base = config.baseUrl.replace(/\/+$/, '');

    async function call(method: 'GET' | 'POST' | 'PUT', path: string, body?: Record<string, unknown>): Promise<HttpResponse> {
      // The token travels in the body (in the query string for GETs), as Omnize documents.
      const url = method === 'GET' ? `${base}${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(config.token)}` : `${base}${path}`;
      const res = await deps.http.request({ method, url, headers: { accept: 'application/json' }, ...(method === 'GET' ? {} : { body: { token: config.token, ...body } }), timeoutMs: config.timeoutMs });
      const payload = res.body as { message?: string; status?: number } | string | undefined;
      // Errors come as {message, status: 422}; the HTTP status may say the same or 200 (UNVERIFIED).
      const status = typeof payload === 'object' && payload && typeof payload.status === 'number' && payload.status >= 400 ? payload.status : res.status;
      if (status >= 200 && status < 300) return res;
      const detail = typeof payload === 'object' && payload ? (payload.message ?? '') : String(payload ?? '').slice(0, 300);
      // The token is in the URL of GETs: never in messages.
      throw new DeliveryError(`Omnize ${method} ${path.split('?')[0]} answered ${status}: ${detail}`, isRetryableStatus(status), parseRetryAfter(res.headers['retry-after']), status);
    }

    const webhook: WebhookReceiver = {
      // A trigger about an attendance we do not know (any more): see unknownTriggers.
      unmatched: config.unknownTriggers === 'reject' ? 'reject' : 'ignore',
      verify(_raw, _headers, query) {
        const secret: unknown = query?.['secret'];
        if (secret === undefined || secret === '') return { ok: false, reason: 'the trigger URL has no ?secret=' };
        // `?secret=a&secret=b` parses to an array: not ours.
        if (typeof secret !== 'string') return { ok: false, reason: 'the trigger URL has more than one ?secret=' };
        return safeEqual(secret, config.webhookSecret) ? { ok: true } : { ok: false, reason: 'the ?secret= does not match' };
      },
      parse(body): HelpdeskEvent[] {
        if (!checkTrigger.Check(body)) {
          const first = checkTrigger.Errors(body).First();
          throw new BridgeError('BRIDGE_ERR_INVALID_EVENT', `${first?.path || '/'}: ${first?.message ?? 'not an Omnize trigger'}`);
        }
        const hash = body.interaction_hash;
        const echoed = body.extra?.[EXTRA_KEY];
        // The URL is account-wide: the account's other interactions (its web widget…) trigger it
        // too. Without our id in `extra` it is none of ours, whatever its state: nothing stored,
        // and an answer Omnize cannot take for a failure unless configured otherwise.
        if (typeof echoed !== 'string' || echoed === '') {
          const why = `interaction ${hash} was not started by this bridge (no extra.${EXTRA_KEY})`;
          if (config.unknownTriggers === 'reject') throw new BridgeError('BRIDGE_ERR_UNKNOWN_ATTENDANCE', why);
          return [{ kind: 'ignored', reason: why }];
        }
        // An interaction we did not create, or whose extra names another attendance: the core
        // answers 404 and stores nothing.
        const attendance = { key: hash, id: echoed };
        if (body.message) {
          const agent = body.agent ? { ...(body.agent.id != null ? { id: String(body.agent.id) } : {}), ...(body.agent.name ? { name: body.agent.name } : {}) } : undefined;
          return [{ kind: 'agent.message', eventId: `msg:${body.message.hash}`, attendance, message: { id: body.message.hash, content: agentContent(body.message), ...(agent ? { agent } : {}) } }];
        }
        switch (body.state) {
          case 'queued': {
            if (!config.messages.queued) return [{ kind: 'ignored', reason: 'queued (no messages.queued configured)' }];
            const position = body.position !== undefined && /^\d{1,9}$/.test(String(body.position)) ? String(Number(body.position)) : undefined;
            // "number ? in line" helps nobody; a template without {position} is still worth saying.
            if (position === undefined && /\{position\}/.test(config.messages.queued)) return [{ kind: 'ignored', reason: 'queued without a position' }];
            // Once per position: 3, 2, 1 are three notices; a redelivered 3 is not.
            return [{ kind: 'notice', eventId: `${hash}:queued:${position ?? ''}`, attendance, text: config.messages.queued.replace(/\{position\}/g, position ?? '') }];
          }
          case 'unavailable':
            // interactions.md "In case of unavailable agents": no agent can take it. The lifecycle
            // hands the customer back (attendance.waitingForAgent.handBackAfter) with its own
            // noAgents message; messages.unavailable, if set, is told meanwhile. The payload carries
            // no id: a redelivery cannot be told from a repeat, so it counts once per interaction.
            return [{ kind: 'no-agent', eventId: `${hash}:unavailable`, attendance, ...(config.messages.unavailable ? { text: config.messages.unavailable } : {}) }];
          case 'accepted': {
            // The documented payload names no agent; take one if Omnize sends it.
            const agent = body.agent ? { ...(body.agent.id != null ? { id: String(body.agent.id) } : {}), ...(body.agent.name ? { name: body.agent.name } : {}) } : undefined;
            const events: HelpdeskEvent[] = [{ kind: 'agent.assigned', eventId: `${hash}:accepted`, attendance, ...(agent ? { agent } : {}) }];
            if (config.messages.accepted) events.push({ kind: 'notice', eventId: `${hash}:accepted:notice`, attendance, text: config.messages.accepted.replace(/\{agent\}/g, body.agent?.name ?? 'an agent') });
            return events;
          }
          case 'typing':
          case 'cleared':
            // No id in the payload and repeats are meaningful: each one is new.
            return [{ kind: 'agent.typing', eventId: `${hash}:${body.state}:${randomUUID()}`, attendance, state: body.state === 'typing' ? 'typing' : 'paused' }];
          case 'finished':
            return [{ kind: 'attendance.ended', eventId: `${hash}:finished`, attendance, reason: 'finished in Omnize' }];
          default:
            return [{ kind: 'ignored', reason: `state ${body.state ?? '(none)'}` }];
        }
      },
    };

    return {
      type: 'omnize',
      capabilities: { contents: CONTENTS, typing: true },
      webhook,

      async check() {
        // agent.md "Get Online Agents" lives under the same base URL as the interactions (the
        // departments list is on another host path, /api/external), takes the token in the query and
        // refuses a department that is not active: one call checks token, URL and department.
        try {
          const res = await call('GET', `/agents/online?department_id=${config.departmentId}`);
          const count = (res.body as { count?: unknown } | undefined)?.count;
          const online = typeof count === 'number' ? `; ${count} agent${count === 1 ? '' : 's'} online now` : '';
          return { ok: true, detail: `Omnize accepted the token and department ${config.departmentId}${online}` };
        } catch (err) {
          return { ok: false, detail: (err as Error).message };
        }
      },

      async open(attendance, customer, transcript) {
        const history = deps.transcriptUrl?.(attendance.id);
        if (!history) deps.log.warn({ attendance: attendance.id }, 'server.publicUrl is not set: Omnize gets no external_history; the bot transcript goes as a first message');
        const res = await call('POST', '/interactions', {
          media_type: config.mediaType,
          department_id: config.departmentId,
          customer: omnizeCustomer(customer, config.cpfExtra),
          extra: { [EXTRA_KEY]: attendance.id, bot: attendance.bot },
          ...(history ? { external_history: history } : {}),
        });
        const hash = (res.body as { data?: { interaction_hash?: unknown } } | undefined)?.data?.interaction_hash;
        if (typeof hash !== 'string' || !hash) throw new DeliveryError('Omnize created no interaction_hash', false);
        if (!history && transcript.length > 0) {
          // Best effort: the interaction exists, and failing open now would start a second one on retry.
          try {
            await call('POST', `/interactions/${encodeURIComponent(hash)}/messages`, { content: transcriptMessage(transcript), type: 'text' });
          } catch (err) {
            deps.log.warn({ attendance: attendance.id, err: (err as Error).message }, 'Omnize: the bot transcript could not be posted');
          }
        }
        return { key: hash };
      },

      async deliver(ref, _attendance, message) {
        const c = message.content;
        const path = `/interactions/${encodeURIComponent(ref.key)}/messages`;
        if (c.type === 'media') {
          // Omnize takes a URL (no upload API); Blip's links expire in about 30 minutes.
          await call('POST', path, { content: c.caption || c.name || c.text, type: omnizeType(c.mimeType), url: c.url });
        } else {
          // `content` is required and Omnize refuses an empty one (422): never lose the message for it.
          const text = c.text.trim() === '' ? '(empty message)' : c.text;
          // No documented limit: split only where configured. A retry after a part failed sends
          // the parts before it again (Omnize takes no idempotency key).
          for (const part of config.maxTextLength ? splitText(text, config.maxTextLength) : [text]) await call('POST', path, { content: part, type: 'text' });
        }
        return {};
      },

      async messageStatus(ref, _attendance, update: AgentMessageStatus) {
        // Omnize documents no message status for the agent: only a failure is told, as a chat line
        // the agent reads at once (sent as the customer's side, the only voice the API gives us).
        if (update.status !== 'failed' || !config.notes) return;
        await call('POST', `/interactions/${encodeURIComponent(ref.key)}/messages`, { content: failedNote(update), type: 'text' });
      },

      async signal(ref, _attendance, state) {
        await call('PUT', `/interactions/${encodeURIComponent(ref.key)}/${state === 'typing' ? 'typing' : 'cleared'}`);
      },

      async close(ref, _attendance, reason) {
        if (reason === 'agent') return; // Omnize finished it
        const interaction = `/interactions/${encodeURIComponent(ref.key)}`;
        // interactions.md "Update interaction" `note: any string`: the reason, before the finish
        // (a retry writes the same note again: harmless).
        if (config.notes) await call('PUT', interaction, { note: closeNote(reason) });
        await call('PUT', `${interaction}/finish`);
      },
    };
  },
};
