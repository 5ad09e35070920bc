/**
 * The configuration file's schema (DESIGN §6). Descriptions are the reference documentation of
 * each key; defaults are applied by the loader. The helpdesk part is validated by the adapter's own
 * schema (helpdesks/registry.ts), so adding a vendor never touches this file.
 */
import { Type, type Static } from '@sinclair/typebox';

const Secret = (description: string) => Type.String({ minLength: 16, maxLength: 4096, description });

export const ServerConfig = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'Port to listen on; PORT overrides it.' }),
    host: Type.String({ default: '0.0.0.0', description: 'Interface to listen on.' }),
    publicUrl: Type.Optional(Type.String({ pattern: '^https?://', description: 'The URL Blip and helpdesks reach this service at (used in logs and setup hints).' })),
    adminToken: Secret('Bearer token for /admin/* (at least 16 characters).'),
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 1024 * 1024, description: 'Largest request body accepted.' }),
  },
  { additionalProperties: false },
);

export const StoreConfig = Type.Object(
  {
    url: Type.String({
      default: 'sqlite:./data/bridge.db',
      pattern: '^(sqlite:|postgres(ql)?://)',
      description:
        'sqlite:<path>, the embedded engine (one process; sqlite::memory: keeps nothing), or postgres://user:password@host:5432/database (postgresql:// too) for any number of replicas sharing one database. PostgreSQL URLs take libpq parameters such as ?sslmode=require, pool_size=<n> (default 10): connections per process, and the session bounds in milliseconds statement_timeout (default 60000), lock_timeout (5000) and idle_in_transaction_session_timeout (5000); see docs/operations.md.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const DeliveryConfig = Type.Object(
  {
    maxAttempts: Type.Integer({ minimum: 1, maximum: 1000, default: 12, description: 'Attempts before a delivery is dead.' }),
    baseDelayMs: Type.Integer({ minimum: 1, default: 500, description: 'First retry delay; doubles each attempt, with jitter.' }),
    maxDelayMs: Type.Integer({ minimum: 1, default: 300_000, description: 'Longest wait between attempts (Retry-After may ask for more, up to 1 hour).' }),
    timeoutMs: Type.Integer({ minimum: 100, default: 10_000, description: 'Deadline of one outbound HTTP call.' }),
    attemptTimeoutMs: Type.Optional(
      Type.Integer({
        minimum: 100,
        maximum: 3_600_000,
        description:
          "Deadline of one delivery attempt (all of its calls). Default: the longest single call (the largest of delivery.timeoutMs, media.timeoutMs and each bot's helpdesk.timeoutMs) plus 2 × delivery.timeoutMs; never less than that longest call. A claim's lease lasts this + 5 s: how long a dead or frozen replica's lanes wait before another replica takes them over, and nothing is sent for an attempt once its deadline has passed.",
      }),
    ),
    concurrency: Type.Integer({ minimum: 1, maximum: 1024, default: 64, description: 'Deliveries in flight at once (each lane still one at a time).' }),
    pollIntervalMs: Type.Integer({ minimum: 10, default: 500, description: 'How often the worker looks for due retries when idle.' }),
  },
  { additionalProperties: false, default: {} },
);

export const MediaConfig = Type.Object(
  {
    allowedHosts: Type.Array(Type.String({ minLength: 1, pattern: '^[A-Za-z0-9.-]+$' }), {
      default: ['blipmediastore.blob.core.windows.net', '.msging.net', '.blip.ai'],
      description: "Hosts customer attachments may be downloaded from to re-upload them to a helpdesk (a leading dot allows subdomains). Blip's media hosts by default; nothing else is fetched.",
    }),
    maxBytes: Type.Integer({ minimum: 1024, maximum: 100 * 1024 * 1024, default: 16 * 1024 * 1024, description: 'Largest attachment downloaded.' }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 300_000, default: 30_000, description: 'Deadline of one download.' }),
  },
  { additionalProperties: false, default: {} },
);

export const RetentionConfig = Type.Object(
  {
    days: Type.Integer({ minimum: 0, maximum: 3650, default: 30, description: 'Closed attendances (with their message log and deliveries) older than this are deleted; 0 keeps everything.' }),
    intervalMinutes: Type.Integer({ minimum: 1, maximum: 10_080, default: 60, description: 'How often the purge runs.' }),
  },
  { additionalProperties: false, default: {} },
);

export const TelemetryConfig = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description:
        'Traces (OpenTelemetry), exported over OTLP/HTTP. Off by default. The standard variables turn them on without this key (OTEL_TRACES_EXPORTER=otlp or console, or OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set) and off whatever it says (OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none). See docs/operations.md.',
    }),
    endpoint: Type.Optional(
      Type.String({
        pattern: '^https?://',
        description:
          'Where spans are sent: the OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces (the default is http://localhost:4318/v1/traces). OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT plus /v1/traces, win; headers (e.g. a vendor API key) come from OTEL_EXPORTER_OTLP_HEADERS only, so no secret sits in this file.',
      }),
    ),
    serviceName: Type.String({ minLength: 1, default: 'blip-helpdesk-bridge', description: "The resource's service.name; OTEL_SERVICE_NAME wins, OTEL_RESOURCE_ATTRIBUTES adds more." }),
    sampleRatio: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 1,
      description: 'Share of new traces recorded (1 = all). Parent-based: a request that arrives with a sampled traceparent is recorded whatever the ratio. OTEL_TRACES_SAMPLER (with OTEL_TRACES_SAMPLER_ARG) wins.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const BlipConfig = Type.Object(
  {
    identifier: Type.String({ minLength: 1, pattern: '^[^@\\s/]+$', description: "The human-attendance sub-bot's identifier (without @msging.net)." }),
    accessKey: Type.String({
      minLength: 1,
      pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$',
      errorMessage:
        "must be the access key as the Blip portal shows it, which is base64 (letters, digits, + and /, with at most two = at the end): not the 'Key …' header, and with no spaces or quotes",
      description: 'The access key shown in the portal (base64), used for Authorization: Key.',
    }),
    baseUrl: Type.String({ pattern: '^https?://', default: 'https://http.msging.net', description: 'The contract URL, e.g. https://acme.http.msging.net.' }),
    inboundToken: Secret('The token Blip must send on the messages and notifications URLs (a custom header in the portal).'),
    inboundHeader: Type.String({
      pattern: '^[A-Za-z0-9-]+$',
      default: 'authorization',
      description: "Header carrying inboundToken. 'authorization' expects 'Bearer <token>'; any other header carries the token alone.",
    }),
    acceptDirectAddresses: Type.Boolean({
      default: false,
      description:
        "Accept messages whose `from` is not a router tunnel address (`…@tunnel.msging.net`). Off: they are refused with 400 BRIDGE_ERR_NOT_ROUTED, since the Redirect that ends an attendance only works inside a router (docs/blip-setup.md, \"Direct addresses\"). On: they open attendances, and at the end the Redirect moves nobody, so the customer's next message opens a new attendance here.",
    }),
    returnTo: Type.Optional(Type.String({ minLength: 1, description: "Service name or bot identity for the Redirect at the end; absent = the router's main service." })),
    messagesPerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 10_000, default: 50, description: 'Pace of messages sent to Blip (Blip documents 50/s on paid plans, 3/s free).' }),
    historySource: Type.Union([Type.Literal('router'), Type.Literal('service')], {
      default: 'router',
      description: "Where the transcript comes from: 'router' reads lime://{router}/threads/{originator} (holds the bot part); 'service' reads this sub-bot's own thread.",
    }),
    redirectContext: Type.Union([Type.Literal('ticket'), Type.Literal('json'), Type.Literal('none')], {
      default: 'ticket',
      description:
        "What the Redirect at the end carries for the main bot: `ticket`, a Blip Desk ticket (application/vnd.iris.ticket+json, with our closeReason), so a main bot written for Blip Desk needs no change; `json`, the bridge's own summary (application/json); `none`, nothing. See docs/blip-setup.md.",
    }),
    contactSource: Type.Union([Type.Literal('router'), Type.Literal('service')], {
      default: 'router',
      description: "Where the contact comes from: 'router' reads lime://{router}/contacts/{originator}; 'service' reads /contacts/{tunnel address}.",
    }),
  },
  { additionalProperties: false },
);

/** `90s`, `5m`, `2h`, `3d`: a number and its unit, always (a bare number is ambiguous). */
const Duration = (description: string) => Type.String({ pattern: '^[0-9]{1,7}(s|m|h|d)$', description: `${description} A duration: a whole number and its unit, e.g. 90s, 5m, 2h, 3d.` });
const Text = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description }));

export const AttendanceConfig = Type.Object(
  {
    transcriptMessages: Type.Integer({ minimum: 0, maximum: 100, default: 30, description: 'How many recent messages of the bot conversation go to the agent (Blip caps $take at 100).' }),
    timeZone: Type.String({ minLength: 1, default: 'UTC', description: 'IANA time zone of `hours` and `holidays`, e.g. America/Sao_Paulo.' }),
    hours: Type.Optional(
      Type.Record(
        Type.String({ pattern: '^(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?$' }),
        Type.Array(Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$' }), { minItems: 1 }),
        {
          description:
            'Business hours: keys are days (mon…sun) or ranges of days (mon-fri, sat-sun); values are lists of "HH:MM-HH:MM" slots in `timeZone` (end after start; 24:00 ends at midnight). A day not listed is closed. Absent = always open.',
        },
      ),
    ),
    holidays: Type.Array(Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' }), { default: [], description: 'Dates (YYYY-MM-DD in `timeZone`) closed all day.' }),
    outsideHours: Type.Union([Type.Literal('handback'), Type.Literal('open')], {
      default: 'handback',
      description:
        'A hand-off outside `hours`: `handback` tells the customer `messages.outsideHours` and hands them back to the bot at once, opening nothing in the helpdesk (close reason outside-hours); `open` opens the attendance anyway and tells the customer `messages.outsideHours`.',
    }),
    inactivity: Type.Optional(
      Type.Object(
        {
          remindAfter: Type.Optional(Duration('Quiet time after which the customer gets `messages.reminder` once (optional; shorter than closeAfter).')),
          closeAfter: Duration('Quiet time after which the attendance closes with reason customer-inactive (and `messages.inactive`).'),
          keepWhileCustomerWaits: Type.Boolean({
            default: true,
            description:
              "true: only the customer's silence after an agent message counts, so an attendance is never closed while the customer's last message is unanswered. false: any silence counts (the last message of either side starts the clock).",
          }),
        },
        { additionalProperties: false, description: 'The customer went quiet: remind, then close. Counted from the last agent message. Absent = never.' },
      ),
    ),
    waitingForAgent: Type.Optional(
      Type.Object(
        {
          notifyAfter: Type.Optional(Duration('With no agent message yet since the hand-off, tell the customer `messages.waiting` after this, and again every this long.')),
          handBackAfter: Type.Optional(
            Duration(
              'With no agent message yet since the hand-off, give up after this: `messages.noAgents`, close with reason no-agent, hand back to the bot. Also makes a helpdesk that says no agent is available hand the customer back at once.',
            ),
          ),
        },
        { additionalProperties: false, description: 'No agent has written since the hand-off. Absent = wait as long as it takes (up to maxDuration).' },
      ),
    ),
    maxDuration: Type.Optional(Duration('Safety net: an attendance still going after this closes with reason expired.')),
    messages: Type.Object(
      {
        opened: Text('Sent to the customer when the helpdesk accepted the attendance.'),
        closed: Text('Farewell sent before the Redirect (every close reason without a message of its own).'),
        failed: Text('Sent to the customer when the helpdesk could not take the attendance (close reason failed).'),
        outsideHours: Text('Sent to a customer who asks for a person outside `hours`.'),
        reminder: Text('Sent once when the customer has been quiet for `inactivity.remindAfter`.'),
        inactive: Text('Farewell when the attendance closes for customer inactivity (default: `closed`).'),
        waiting: Text('Sent every `waitingForAgent.notifyAfter` while no agent has written.'),
        noAgents: Text('Farewell when no agent answered in time or the helpdesk says none is available (default: `closed`).'),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const BotConfig = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'Route segment and tenant key: /blip/{id}/messages.' }),
    blip: BlipConfig,
    helpdesk: Type.Object({ type: Type.String({ minLength: 1 }) }, { additionalProperties: true, description: 'The helpdesk adapter and its settings; see docs/helpdesks/.' }),
    attendance: AttendanceConfig,
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    server: ServerConfig,
    store: StoreConfig,
    delivery: DeliveryConfig,
    media: MediaConfig,
    retention: RetentionConfig,
    telemetry: TelemetryConfig,
    log: Type.Object({ level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info', description: 'Log level (JSON lines on stdout; secrets are redacted).' }) }, { additionalProperties: false, default: {} }),
    bots: Type.Array(BotConfig, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type BotConfig = Static<typeof BotConfig>;
export type DeliveryConfig = Static<typeof DeliveryConfig>;
export type TelemetryConfig = Static<typeof TelemetryConfig>;
