/**
 * Public types of the Omnize / Zenvia Chat simulator. Wire shapes follow ../shared/specs/omnize/
 * (cited where each is built, in fixtures.ts); recorded state is the simulator's own.
 */

/** `media_type` of Start interaction (interactions.md "Start interaction": TEXT, SMS, WHATSAPP; null → TEXT). */
export type MediaType = 'TEXT' | 'SMS' | 'WHATSAPP';

/** `type` of Send message and of the agent-message trigger (interactions.md "Send message": text, image, video, audio, file; null → text). */
export type MessageType = 'text' | 'image' | 'video' | 'audio' | 'file';

/** An agent as the triggers show one (interactions.md "Agent new message": `agent: {id, name}`). */
export interface SimAgent {
  id: number;
  name: string;
  /** departments.md "Get Departments" `agents[].photo`. */
  photo?: string;
  /** Counted by `GET /agents/online` (agent.md). Default true. */
  online?: boolean;
}

/** A department of the account (departments.md "Get Departments"). */
export interface SimDepartment {
  id: number;
  name: string;
  /** `state`: 1 - Active, 0 - Inactive. Only active departments take interactions (interactions.md `department_id`). Default true. */
  active?: boolean;
  /** Agents of this department; default: the simulator's agents. */
  agents?: SimAgent[];
}

/** The customer block of Start interaction (interactions.md). Every field optional. */
export interface OmnizeCustomer {
  name?: string;
  email?: string;
  phone?: string;
  cpf?: string;
}

/** The `/interactions` API routes (the `failNext` keys). Paths are relative to `basePath`. */
export type ApiRoute =
  | 'POST /interactions'
  | 'PUT /interactions/{hash}'
  | 'POST /interactions/{hash}/messages'
  | 'PUT /interactions/{hash}/typing'
  | 'PUT /interactions/{hash}/cleared'
  | 'PUT /interactions/{hash}/finish'
  | 'GET /agents/online'
  /** Relative to `externalBasePath` (departments.md: `https://zchat.zenvia.io/api/external/departments`). */
  | 'GET /departments';

export type FailRoute = ApiRoute | '*';

export interface InjectedFailure {
  status: number;
  count: number;
  /** Sent as `Retry-After` when given (Omnize documents none). */
  retryAfter?: string | number;
}

/** The trigger kinds (interactions.md "Triggers"); `message` is "Agent new message". */
export type TriggerEvent = 'queued' | 'accepted' | 'unavailable' | 'finished' | 'typing' | 'cleared' | 'message';

/** interactions.md "Triggers": the state payloads. `position` only on `queued`. */
export interface StateTriggerPayload {
  interaction_hash: string;
  state: 'queued' | 'accepted' | 'unavailable' | 'finished' | 'typing' | 'cleared';
  position?: number;
  extra: Record<string, unknown>;
}

/** interactions.md "Triggers" → "Agent new message". */
export interface MessageTriggerPayload {
  interaction_hash: string;
  message: { hash: string; content: string; type: MessageType; url: string | null };
  agent: { id: number; name: string };
  extra: Record<string, unknown>;
}

export type TriggerPayload = StateTriggerPayload | MessageTriggerPayload;

/** One POST to the webhook URL (first attempts, retries and redeliveries). */
export interface Delivery {
  /** Position in `deliveries` (what `redeliver` takes). */
  index: number;
  triggerId: number;
  event: TriggerEvent;
  interactionHash: string;
  /** 1 for the first attempt, counting up on retries and redeliveries. */
  attempt: number;
  /** True when sent by `redeliver` (a duplicate). */
  redelivery: boolean;
  url: string;
  /** ms since epoch, when the attempt started. */
  at: number;
  /** Request headers sent (lower-case). No signature: Omnize documents none. */
  headers: Record<string, string>;
  /** The exact bytes sent. */
  body: string;
  payload: TriggerPayload;
  /** The bridge's answer; 0 when there was none (network error or timeout). */
  status: number;
  response: string;
  error?: string;
  durationMs: number;
}

/** One trigger the account produced (sent or not). */
export interface TriggerRecord {
  id: number;
  event: TriggerEvent;
  interactionHash: string;
  payload: TriggerPayload;
  at: number;
  /** `unsent`: no webhook URL configured when it happened. */
  state: 'unsent' | 'pending' | 'delivered' | 'failed';
  attempts: Delivery[];
}

/** Webhook delivery policy. Omnize documents none: the defaults (one attempt, no retry) are UNVERIFIED. */
export interface WebhookRetryPolicy {
  /** Attempts in all, the first included. Default 1 (no retry). */
  maxAttempts?: number;
  /** Wait before retry n (the last value repeats). Default [1000]. */
  delaysMs?: number[];
  /** No answer within this is a failed attempt. Default 5000. */
  timeoutMs?: number;
}

/** A message of an interaction, either way. */
export interface SimMessage {
  /** Ours for customer messages (the API answers no message id); the trigger's `message.hash` for agent messages. */
  hash: string;
  direction: 'customer' | 'agent';
  content: string;
  type: MessageType;
  url: string | null;
  at: number;
  agent?: { id: number; name: string };
}

/** What the simulator got when it fetched `external_history` (interactions.md "External History"). */
export interface HistoryFetch {
  url: string;
  at: number;
  /** 0 when there was no answer. */
  status: number;
  contentType: string | undefined;
  /** Raw response text. */
  body: string;
  error?: string;
  /** The parsed JSON, when it parsed. */
  json?: unknown;
  /** True when the answer was 2xx JSON of the documented shape. */
  valid: boolean;
  /** Why it is not valid (paths + reasons); empty when valid. */
  problems: string[];
  /** Keys the doc does not name (tolerated, reported). */
  unknownKeys: string[];
  /** The messages, when valid. */
  messages?: Array<{ time: string; direction: 'CLIENT' | 'AGENT'; content: string }>;
}

export type InteractionState = 'created' | 'queued' | 'accepted' | 'unavailable' | 'finished';

/** One interaction as the simulator keeps it. */
export interface SimInteraction {
  hash: string;
  createdAt: number;
  department: { id: number; name: string };
  mediaType: MediaType;
  /** As sent; undefined when the request had none. */
  customer?: OmnizeCustomer;
  /** As sent (default `{}`); echoed in every trigger. */
  extra: Record<string, unknown>;
  externalHistory?: string;
  state: InteractionState;
  /** Last queue position sent. */
  position?: number;
  /** The agent who accepted. */
  agent?: { id: number; name: string };
  messages: SimMessage[];
  customerTyping: boolean;
  agentTyping: boolean;
  finished?: { by: 'agent' | 'api'; at: number };
  /** From `PUT /interactions/{hash}`. */
  mood?: 'POSITIVE' | 'NEGATIVE';
  tagIds?: string[];
  customerKey?: string;
  note?: string;
  history: HistoryFetch[];
}

/** Every API request (not `/_sim/`), with its answer. */
export interface RecordedRequest {
  at: number;
  method: string;
  path: string;
  query: string;
  route: ApiRoute | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, the raw text when it did not parse, or '' when empty. */
  body: unknown;
  status: number;
  response: unknown;
}

/** What an agent action resolves to. */
export interface ActionResult {
  interaction: SimInteraction;
  trigger: TriggerRecord;
  /** The first attempt, once the bridge answered it (absent when no webhook URL). */
  delivery?: Delivery;
}

export interface OmnizeSimulatorOptions {
  /** API tokens of the account ("Generate Token", interactions.md). At least one. */
  tokens: string[];
  /** Where triggers go (Menu > Settings > Integrations > Webhooks). Any URL, query string kept. */
  webhookUrl?: string | undefined;
  /** Default `/core/api/v1` (interactions.md). `''` serves at the root (older installs: `https://core.omnize.com.br/api/v1` → set `/api/v1`). */
  basePath?: string;
  /** Default `/api/external` (departments.md: `https://zchat.zenvia.io/api/external/departments`). */
  externalBasePath?: string;
  /** Default: one active department `{id: 9999, name: 'Atendimento'}`. */
  departments?: SimDepartment[];
  /** Default: `{id: 111, name: 'Atendente'}` (interactions.md "Agent new message"). The first is the default agent of `accept`. */
  agents?: SimAgent[];
  /** HTTP status (and body `status`) for a missing or wrong token. Default 422. UNVERIFIED. */
  tokenErrorStatus?: 401 | 422;
  /** When to GET `external_history`: on create (default), on accept, or only via `fetchHistory`. UNVERIFIED. */
  fetchHistoryOn?: 'create' | 'accept' | 'manual';
  /** Timeout of the history GET. Default 5000. */
  historyTimeoutMs?: number;
  /** Send `queued` (position = place in the department's queue) right after each create. Default false. UNVERIFIED. */
  autoQueue?: boolean;
  /** Send `finished` also when the interaction is finished through `PUT …/finish`. Default false. UNVERIFIED. */
  finishedTriggerOnApiFinish?: boolean;
  /**
   * `message.url` of an agent *text* message trigger. The doc's only example carries a URL string on
   * a `text` message; what Omnize sends when there is no file is UNVERIFIED. Default null.
   */
  textMessageUrl?: null | '';
  webhookRetry?: WebhookRetryPolicy;
  /** A clock in ms. */
  now?: () => number;
  /** Log one line per request and delivery to stderr. */
  log?: boolean;
}
