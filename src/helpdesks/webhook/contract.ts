/**
 * The custom-tool contract (DESIGN §6, `type: webhook`): the events we POST to a team's own tool
 * and the events it POSTs back. This file is the single source of truth: the adapter validates
 * with it, the simulator validates with it, and `eventJsonSchema` publishes it (docs and
 * `GET /schemas/webhook/{event}.json`). Unknown fields are tolerated everywhere so the contract can
 * grow without breaking tools that validate strictly on their side with these same schemas.
 */
import { FormatRegistry, Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { ValueError } from '@sinclair/typebox/errors';
import {
  ChatState,
  ChoicesContent,
  Content,
  ContactContent,
  LocationContent,
  MediaContent,
  ReplyContent,
  TextContent,
  UnsupportedContent,
  contentSchemas,
} from '../../core/content.js';
import { CLOSE_REASONS } from '../adapter.js';

/** RFC 3339 (the ISO-8601 profile JSON uses); a pattern so any JSON Schema validator enforces it. */
const DATE_TIME = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';
const DATE_TIME_RE = new RegExp(DATE_TIME);

// TypeBox rejects strings with an unregistered `format`; we keep `format` for the published
// schemas (code generators use it) so it must be known here too.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (v) => DATE_TIME_RE.test(v) && !Number.isNaN(Date.parse(v)));
}

const DateTime = (description: string) => Type.String({ format: 'date-time', pattern: DATE_TIME, description });
// 512: ids are indexed, and 512 UTF-16 units fit PostgreSQL's B-tree row limit in any script.
const Id = (description: string) => Type.String({ minLength: 1, maxLength: 512, description });
const open = { additionalProperties: true } as const;

const State = (who: string) =>
  Type.Union(ChatState.anyOf, { description: `\`typing\` while ${who} is typing, \`paused\` when they stop.` });

const AttendanceId = Id('Our id of the attendance (from `attendance.opened`). Every later event about it carries it.');

function event<N extends string, D extends TSchema>(name: N, data: D, description: string) {
  return Type.Object(
    {
      type: Type.Literal(name, { description: 'The event name.' }),
      timestamp: DateTime('When the event happened (ISO-8601 / RFC 3339).'),
      data,
    },
    { $id: `webhook.${name}`, title: name, description, ...open },
  );
}

// ---------------------------------------------------------------------------------------------
// Outbound: the bridge POSTs these to `helpdesk.url`.

export const WebhookCustomer = Type.Object(
  {
    id: Id('Stable key for the customer: the router originator when Blip gave one, else the tunnel address. Use it as your external id.'),
    address: Id('The tunnel address Blip routes to the bridge (`{id}@tunnel.msging.net`).'),
    originator: Type.Optional(Id('The customer identity in the router (e.g. `5511…@wa.gw.msging.net`).')),
    router: Type.Optional(Id('The router bot identity.')),
    channel: Type.Optional(Id('The channel domain (e.g. `wa.gw.msging.net`).')),
    name: Type.Optional(Type.String({ maxLength: 1024 })),
    email: Type.Optional(Type.String({ maxLength: 320 })),
    phone: Type.Optional(Type.String({ maxLength: 64 })),
    extras: Type.Record(Type.String(), Type.String(), { description: 'Blip contact extras (string to string).' }),
  },
  { description: 'Who the customer is.', ...open },
);

export const WebhookTranscriptEntry = Type.Object(
  {
    direction: Type.Union([Type.Literal('customer'), Type.Literal('bot')], { description: 'Who said it.' }),
    at: DateTime('When it was said.'),
    content: Content,
  },
  open,
);

export const AttendanceOpened = event(
  'attendance.opened',
  Type.Object(
    {
      attendance: Type.Object(
        {
          id: Id('Our id of the attendance. Every later event carries it as `attendanceId`.'),
          bot: Id('The bridge bot (tenant) id.'),
          openedAt: DateTime('When the customer was handed over.'),
        },
        open,
      ),
      customer: WebhookCustomer,
      transcript: Type.Array(WebhookTranscriptEntry, {
        description: 'The conversation with the bot before the hand-off, oldest first.',
      }),
      context: Type.Optional(
        Type.Record(Type.String(), Type.Unknown(), { description: 'Hand-off context from the bot, when it gives one.' }),
      ),
    },
    open,
  ),
  'A customer was handed over: create the conversation/ticket. Sent once per attendance, before any message.',
);

export const CustomerMessage = event(
  'customer.message',
  Type.Object(
    {
      attendanceId: AttendanceId,
      message: Type.Object(
        {
          id: Id('Our message id: the same on every retry.'),
          at: DateTime('When the customer sent it.'),
          content: Content,
          sensitive: Type.Optional(
            Type.Literal(true, {
              description:
                'The customer sent it as sensitive (a password, a card number): show it to the agent, do not store it where you can avoid it. The bridge keeps only a placeholder once you have it.',
            }),
          ),
        },
        open,
      ),
    },
    open,
  ),
  'The customer sent a message.',
);

export const CustomerTyping = event(
  'customer.typing',
  Type.Object({ attendanceId: AttendanceId, state: State('the customer') }, open),
  'The customer started (`typing`) or stopped (`paused`) typing. Best effort.',
);

export const AttendanceClosed = event(
  'attendance.closed',
  Type.Object(
    {
      attendanceId: AttendanceId,
      reason: Type.Union(
        CLOSE_REASONS.map((r) => Type.Literal(r)),
        {
          description:
            'Why it ended: `agent` (your `attendance.end`), `customer` (the customer asked to end), `admin` (an operator), `customer-inactive` (the customer went quiet after an agent message), `no-agent` (no agent answered in time, or none was available), `outside-hours` (outside business hours), `expired` (the attendance reached its maximum duration), `failed` (the hand-off could not be completed).',
        },
      ),
      closedAt: DateTime('When the bridge closed it.'),
    },
    open,
  ),
  'The attendance is over and the customer went back to the bot. Further events about it are answered 409.',
);

/** The statuses a tool can get about an agent message; `failed` always, the others when asked for. */
export const AGENT_MESSAGE_STATUSES = ['delivered', 'read', 'failed'] as const;

export const AgentMessageStatus = event(
  'agent.message.status',
  Type.Object(
    {
      attendanceId: AttendanceId,
      messageId: Id('Your id of the agent message (the `message.id` of your `agent.message`).'),
      status: Type.Union(
        AGENT_MESSAGE_STATUSES.map((s) => Type.Literal(s)),
        {
          description:
            "`delivered`: the customer's device received it (Blip's `received`); `read`: the customer read it (Blip's `consumed`); `failed`: it did not reach the customer and will not (Blip refused it, or every retry failed). `failed` is always sent; `delivered` and `read` only when `helpdesk.messageStatus` lists them.",
        },
      ),
      code: Type.Optional(
        Type.String({ minLength: 1, maxLength: 128, description: 'For `failed`: a stable code for why (e.g. `BLIP_REFUSED`, `DELIVERY_DEAD`). Match on it, not on `reason`.' }),
      ),
      reason: Type.Optional(
        Type.String({ maxLength: 1024, description: 'For `failed`: a plain sentence for the agent. Never a URL, host or response body.' }),
      ),
    },
    open,
  ),
  "What became of an agent message on the customer's side. Show `failed` to the agent: the customer did not get that message.",
);

// ---------------------------------------------------------------------------------------------
// Inbound: the tool POSTs these to `/helpdesk/{bot}/webhook`.

// What an agent sends must reach the customer: no empty text (Blip would show an empty bubble or
// refuse it) and media only at a URL the customer's channel can fetch. Both have a plain-words
// explanation in `narrow` below.
const NON_BLANK = '\\S';
const HTTP_URL = '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+';
const NonBlank = (description: string) => Type.String({ maxLength: 65_536, pattern: NON_BLANK, description });

export const AgentTextContent = Type.Object(
  { ...TextContent.properties, text: NonBlank('The message text; not empty.') },
  { $id: 'AgentTextContent', additionalProperties: true },
);
export const AgentMediaContent = Type.Object(
  {
    ...MediaContent.properties,
    url: Type.String({ maxLength: 8192, pattern: HTTP_URL, description: "An http(s) URL the customer's channel downloads the file from." }),
  },
  { $id: 'AgentMediaContent', additionalProperties: true },
);
export const AgentChoicesContent = Type.Object(
  { ...ChoicesContent.properties, text: NonBlank('The prompt shown above the options; not empty.') },
  { $id: 'AgentChoicesContent', additionalProperties: true },
);

/** A content an agent sends: Content, with the text not empty and media at an http(s) URL. */
export const AgentContent = Type.Union(
  [AgentTextContent, AgentMediaContent, LocationContent, ContactContent, AgentChoicesContent, ReplyContent, UnsupportedContent],
  { $id: 'AgentContent' },
);

export const AgentMessage = event(
  'agent.message',
  Type.Object(
    {
      attendanceId: AttendanceId,
      message: Type.Object(
        {
          id: Id('Your message id: your idempotency key. Sending the same id twice delivers once.'),
          content: AgentContent,
          agent: Type.Optional(
            Type.Object(
              { id: Id('Your agent id.'), name: Type.String({ maxLength: 1024, description: 'Display name.' }) },
              { description: 'Who wrote it.', ...open },
            ),
          ),
        },
        open,
      ),
    },
    open,
  ),
  'An agent replied: the bridge sends it to the customer.',
);

export const AgentTyping = event(
  'agent.typing',
  Type.Object({ attendanceId: AttendanceId, state: State('the agent') }, open),
  'The agent started (`typing`) or stopped (`paused`) typing.',
);

export const AttendanceEnd = event(
  'attendance.end',
  Type.Object(
    {
      attendanceId: AttendanceId,
      reason: Type.Optional(Type.String({ maxLength: 1024, description: 'Free text, kept in the attendance log.' })),
    },
    open,
  ),
  'The agent ended the attendance: the bridge says goodbye and hands the customer back to the bot.',
);

export type WebhookCustomer = Static<typeof WebhookCustomer>;
export type WebhookTranscriptEntry = Static<typeof WebhookTranscriptEntry>;
export type AttendanceOpened = Static<typeof AttendanceOpened>;
export type CustomerMessage = Static<typeof CustomerMessage>;
export type CustomerTyping = Static<typeof CustomerTyping>;
export type AttendanceClosed = Static<typeof AttendanceClosed>;
export type AgentMessageStatus = Static<typeof AgentMessageStatus>;
export type AgentMessage = Static<typeof AgentMessage>;
export type AgentTyping = Static<typeof AgentTyping>;
export type AttendanceEnd = Static<typeof AttendanceEnd>;

export type OutboundEvent = AttendanceOpened | CustomerMessage | CustomerTyping | AttendanceClosed | AgentMessageStatus;
export type InboundEvent = AgentMessage | AgentTyping | AttendanceEnd;
export type WebhookEvent = OutboundEvent | InboundEvent;

export const OUTBOUND_EVENTS = ['attendance.opened', 'customer.message', 'customer.typing', 'attendance.closed', 'agent.message.status'] as const;
export const INBOUND_EVENTS = ['agent.message', 'agent.typing', 'attendance.end'] as const;
export const WEBHOOK_EVENTS = [...OUTBOUND_EVENTS, ...INBOUND_EVENTS] as const;

export type OutboundEventName = (typeof OUTBOUND_EVENTS)[number];
export type InboundEventName = (typeof INBOUND_EVENTS)[number];
export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number];

export const webhookEventSchemas = {
  'attendance.opened': AttendanceOpened,
  'customer.message': CustomerMessage,
  'customer.typing': CustomerTyping,
  'attendance.closed': AttendanceClosed,
  'agent.message.status': AgentMessageStatus,
  'agent.message': AgentMessage,
  'agent.typing': AgentTyping,
  'attendance.end': AttendanceEnd,
} as const satisfies Record<WebhookEventName, TSchema>;

export function isWebhookEventName(name: unknown): name is WebhookEventName {
  return typeof name === 'string' && (WEBHOOK_EVENTS as readonly string[]).includes(name);
}
export function isInboundEventName(name: unknown): name is InboundEventName {
  return typeof name === 'string' && (INBOUND_EVENTS as readonly string[]).includes(name);
}
export function isOutboundEventName(name: unknown): name is OutboundEventName {
  return typeof name === 'string' && (OUTBOUND_EVENTS as readonly string[]).includes(name);
}

// ---------------------------------------------------------------------------------------------
// Validation

type EventOf<N extends WebhookEventName> = Static<(typeof webhookEventSchemas)[N]>;
const compiled = new Map<WebhookEventName, TypeCheck<TSchema>>();

function checker(name: WebhookEventName): TypeCheck<TSchema> {
  let c = compiled.get(name);
  if (!c) {
    c = TypeCompiler.Compile(webhookEventSchemas[name]);
    compiled.set(name, c);
  }
  return c;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; path: string; message: string };

/**
 * Validates one event body against its schema. On failure, names the first problem precisely:
 * for a content, the variant its `type` selects rather than "expected union value".
 */
export function validateEvent<N extends WebhookEventName>(name: N, body: unknown): ValidationResult<EventOf<N>> {
  const c = checker(name);
  if (c.Check(body)) return { ok: true, value: body as EventOf<N> };
  const first = c.Errors(body).First();
  if (!first) return { ok: false, path: '/', message: 'invalid' };
  const e = narrow(first);
  return { ok: false, path: e.path === '' ? '/' : e.path, message: e.message };
}

/** Descends into the union variant chosen by a `type` tag so the error names the real field. */
function narrow(error: ValueError): { path: string; message: string } {
  const inner = narrowUnion(error);
  // A regex in the message helps nobody; say what we expect instead.
  const schema = inner.schema as { format?: unknown; pattern?: unknown };
  if (schema.format === 'date-time' && typeof inner.value === 'string') {
    return { path: inner.path, message: 'Expected an ISO-8601 date-time such as 2024-05-01T12:30:00Z' };
  }
  if (schema.pattern === NON_BLANK && typeof inner.value === 'string') {
    return { path: inner.path, message: 'Must not be empty or only spaces: the customer would get an empty message' };
  }
  if (schema.pattern === HTTP_URL && typeof inner.value === 'string') {
    return { path: inner.path, message: "Expected an http(s) URL the customer's channel can fetch, such as https://files.example.com/a.pdf" };
  }
  return inner;
}

function narrowUnion(error: ValueError): ValueError {
  const variants = (error.schema as { anyOf?: TSchema[] }).anyOf;
  const value = error.value as { type?: unknown } | null;
  if (!variants || error.errors.length === 0 || typeof value !== 'object' || value === null) return error;
  const tags = variants.map((v) => (v as { properties?: { type?: { const?: unknown } } }).properties?.type?.const);
  if (tags.every((t) => typeof t !== 'string')) return error;
  if (typeof value.type !== 'string') {
    return { ...error, path: `${error.path}/type`, message: `Expected a string \`type\`, one of: ${tags.join(', ')}` };
  }
  const index = tags.indexOf(value.type);
  if (index === -1) {
    return { ...error, path: `${error.path}/type`, message: `Unknown type '${value.type}'; expected one of: ${tags.join(', ')}` };
  }
  const inner = error.errors[index]?.First();
  return inner ? narrowUnion(inner) : error;
}

// ---------------------------------------------------------------------------------------------
// Publishing as standalone JSON Schema

const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';
const sharedDefs: Record<string, TSchema> = Object.fromEntries(
  [...contentSchemas, Content, AgentTextContent, AgentMediaContent, AgentChoicesContent, AgentContent].map((s) => [s.$id as string, s]),
);

/**
 * The event's schema as plain JSON Schema 2020-12: TypeBox's symbols dropped and every content
 * schema moved to `$defs` (an inline `$id` would change the base URI of the refs inside it).
 * `baseUrl` (the service's public URL) makes `$id` absolute; without it `$id` is omitted.
 */
export function eventJsonSchema(name: WebhookEventName, baseUrl?: string): Record<string, unknown> {
  const used = new Set<string>();
  const root = toJson(webhookEventSchemas[name], used, true) as Record<string, unknown>;
  const $defs: Record<string, unknown> = {};
  // Content refers to its variants, so resolve until no new names appear.
  for (let pending = [...used]; pending.length > 0; ) {
    const next: string[] = [];
    for (const id of pending) {
      if (id in $defs) continue;
      const inner = new Set<string>();
      const def = toJson(sharedDefs[id] as TSchema, inner, true) as Record<string, unknown>;
      delete def.$id;
      $defs[id] = { title: id, ...def };
      for (const i of inner) if (!(i in $defs)) next.push(i);
    }
    pending = next;
  }
  delete root.$id;
  return {
    $schema: JSON_SCHEMA_DIALECT,
    ...(baseUrl ? { $id: `${baseUrl.replace(/\/+$/, '')}/schemas/webhook/${name}.json` } : {}),
    ...root,
    ...(Object.keys($defs).length > 0 ? { $defs: sortKeys($defs) } : {}),
  };
}

function toJson(schema: unknown, used: Set<string>, isRoot: boolean): unknown {
  if (Array.isArray(schema)) return schema.map((s) => toJson(s, used, false));
  if (typeof schema !== 'object' || schema === null) return schema;
  const id = (schema as { $id?: unknown }).$id;
  if (!isRoot && typeof id === 'string' && id in sharedDefs) {
    used.add(id);
    return { $ref: `#/$defs/${id}` };
  }
  const out: Record<string, unknown> = {};
  // Object.keys skips TypeBox's symbol keys (Kind, OptionalKind), which is what we want.
  for (const key of Object.keys(schema)) out[key] = toJson((schema as Record<string, unknown>)[key], used, false);
  return out;
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}
