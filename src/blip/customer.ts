/**
 * Who the customer is and what they said to the bot before the hand-off, read from Blip when an
 * attendance opens (research/blip.md §2.3, §4.1, §4.2). Blip answers command failures with HTTP
 * 200 and `status: failure` (e.g. no contact yet): then we go on without that part; transport
 * failures throw, so the open delivery is retried.
 */
import type { Logger } from 'pino';
import type { BotConfig } from '../config/schema.js';
import type { Customer, TranscriptEntry } from '../helpdesks/adapter.js';
import { limeToContent } from '../core/convert.js';
import { SENSITIVE_PLACEHOLDER } from '../core/sensitive.js';
import { MIME, domainOf } from '../lime/envelope.js';
import type { BlipClient } from './client.js';

/** What we know from the envelope alone (metadata `#tunnel.*`). */
export function customerFromEnvelope(address: string, metadata: Record<string, unknown> | undefined): Customer {
  const str = (k: string) => {
    const v = metadata?.[k];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const originator = str('#tunnel.originator');
  const router = str('#tunnel.owner');
  const customer: Customer = { id: originator ?? address, address, extras: {} };
  if (originator) {
    customer.originator = originator;
    customer.channel = domainOf(originator);
  }
  if (router) customer.router = router;
  return customer;
}

interface ContactResource {
  name?: unknown;
  email?: unknown;
  phoneNumber?: unknown;
  cellPhoneNumber?: unknown;
  extras?: unknown;
}

interface ThreadItem {
  id?: unknown;
  direction?: unknown;
  type?: unknown;
  content?: unknown;
  date?: unknown;
}

/** lime://{router}/… when we read the router's resources (needs the originator and the router). */
function routerScoped(customer: Customer, path: string): string | undefined {
  if (!customer.router || !customer.originator) return undefined;
  return `lime://${customer.router}${path}`;
}

export async function enrichCustomer(blip: BlipClient, cfg: BotConfig['blip'], customer: Customer, log: Logger): Promise<Customer> {
  const target = cfg.contactSource === 'router' && customer.originator ? encodeURIComponent(customer.originator) : encodeURIComponent(customer.address);
  const uri = (cfg.contactSource === 'router' && routerScoped(customer, `/contacts/${target}`)) || `/contacts/${encodeURIComponent(customer.address)}`;
  const res = await blip.command({ to: 'postmaster@crm.msging.net', method: 'get', uri });
  if (res.status !== 'success' || typeof res.resource !== 'object' || res.resource === null) {
    log.info({ uri, reason: res.reason }, 'no Blip contact for the customer; going on without it');
    return customer;
  }
  const c = res.resource as ContactResource;
  const out: Customer = { ...customer, extras: { ...customer.extras } };
  if (typeof c.name === 'string' && c.name) out.name = c.name;
  if (typeof c.email === 'string' && c.email) out.email = c.email;
  const phone = typeof c.phoneNumber === 'string' && c.phoneNumber ? c.phoneNumber : typeof c.cellPhoneNumber === 'string' && c.cellPhoneNumber ? c.cellPhoneNumber : undefined;
  if (phone) out.phone = phone;
  if (c.extras && typeof c.extras === 'object') {
    for (const [k, v] of Object.entries(c.extras as Record<string, unknown>)) if (typeof v === 'string') out.extras[k] = v;
  }
  return out;
}

/**
 * The last `take` messages of the conversation before the hand-off, oldest first. The thread also
 * holds the attendance's own messages (they reach the agent as messages): those are left out by id
 * (`exclude`) and, for ones still in flight to us, by date (`before`, when the attendance opened).
 * We ask Blip for a margin more than `take` so that leaving them out still leaves `take`.
 */
export async function readTranscript(
  blip: BlipClient,
  cfg: BotConfig['blip'],
  customer: Customer,
  take: number,
  exclude: ReadonlySet<string>,
  before: number,
  log: Logger,
): Promise<TranscriptEntry[]> {
  if (take <= 0) return [];
  const query = `?$take=${Math.min(100, take + 20)}&refreshExpiredMedia=true`;
  const uri =
    (cfg.historySource === 'router' && customer.originator && routerScoped(customer, `/threads/${encodeURIComponent(customer.originator)}${query}`)) ||
    `/threads/${encodeURIComponent(customer.address)}${query}`;
  const res = await blip.command({ to: 'postmaster@msging.net', method: 'get', uri });
  if (res.status !== 'success') {
    log.info({ uri, reason: res.reason }, 'no Blip thread for the customer; the transcript is empty');
    return [];
  }
  const resource = res.resource as { items?: unknown } | undefined;
  const items = Array.isArray(resource?.items) ? (resource.items as ThreadItem[]) : [];
  const entries: Array<TranscriptEntry & { t: number }> = [];
  for (const item of items) {
    if (typeof item.type !== 'string') continue;
    if (typeof item.id === 'string' && exclude.has(item.id)) continue;
    if (item.type === MIME.chatstate || item.type === MIME.redirect) continue;
    // What the customer sent as sensitive in the bot conversation stays out of the transcript.
    const converted = item.type === MIME.sensitive ? ({ kind: 'content', content: SENSITIVE_PLACEHOLDER } as const) : limeToContent(item.type, item.content);
    if (converted.kind !== 'content') continue;
    const at = typeof item.date === 'string' && !Number.isNaN(Date.parse(item.date)) ? item.date : new Date(0).toISOString();
    if (Date.parse(at) >= before) continue;
    // In the thread, "received" is what the bot received: the customer speaking.
    entries.push({ direction: item.direction === 'received' ? 'customer' : 'bot', at: new Date(at).toISOString(), content: converted.content, t: Date.parse(at) });
  }
  // Blip returns newest first; the agent reads oldest first. Stable for equal dates.
  return entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.t - b.e.t || b.i - a.i)
    .slice(-take)
    .map(({ e }) => ({ direction: e.direction, at: e.at, content: e.content }));
}
