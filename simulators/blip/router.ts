/**
 * The router side of Blip as a sub-bot sees it (research §2): customers with their contact and
 * thread kept by the router, the active service of each customer (`master-state`, research §2.4),
 * one tunnel per (router, originator, destination bot), and what each sub-bot itself stores about
 * its tunnel identities (its own roster and threads — research §4.1/§4.2: a sub-bot's own
 * `/threads/{tunnel}` only holds what passed through that service).
 */
import { identityOf } from '../../src/lime/envelope.js';
import { botIdentity, tunnelIdFor, type Contact, type ThreadMessage, type Tunnel } from './fixtures.js';

/** The router's main (default) service: where new customers start and where a Redirect without address goes. */
export const MAIN_SERVICE = 'main';

export interface CustomerRecord {
  router: string;
  originator: string;
  contact: Contact;
  /** Newest last. */
  thread: ThreadMessage[];
  /** `main`, a service name or a bot identity, exactly as the last Redirect named it. */
  activeService: string;
}

export interface TunnelRecord extends Tunnel {
  id: string;
  router: string;
  bot: string;
}

/** Data owned by one sub-bot, keyed by tunnel identity. */
interface BotStore {
  contacts: Map<string, Contact>;
  threads: Map<string, ThreadMessage[]>;
}

const key = (router: string, originator: string) => `${router}\n${originator.toLowerCase()}`;

export class RouterState {
  private readonly customers = new Map<string, CustomerRecord>();
  private readonly tunnels = new Map<string, TunnelRecord>();
  private readonly bots = new Map<string, BotStore>();

  customer(router: string, originator: string): CustomerRecord | undefined {
    return this.customers.get(key(router, originator));
  }

  putCustomer(record: CustomerRecord): void {
    this.customers.set(key(record.router, record.originator), record);
  }

  allCustomers(): CustomerRecord[] {
    return [...this.customers.values()];
  }

  /** The router creates the tunnel the first time it forwards the customer to that bot. */
  tunnel(router: string, originator: string, bot: string): TunnelRecord {
    const id = tunnelIdFor(router, originator, bot);
    let t = this.tunnels.get(id);
    if (!t) {
      t = { id, router, bot, owner: botIdentity(router), originator, destination: botIdentity(bot) };
      this.tunnels.set(id, t);
    }
    return t;
  }

  /** Accepts a node (`id@tunnel.msging.net/instance`) or an identity; case-insensitive like LIME identities. */
  findTunnel(address: string): TunnelRecord | undefined {
    return this.tunnels.get(identityOf(address).toLowerCase());
  }

  tunnelsOf(router: string, originator: string): TunnelRecord[] {
    const o = originator.toLowerCase();
    return [...this.tunnels.values()].filter((t) => t.router === router && t.originator.toLowerCase() === o);
  }

  botStore(bot: string): BotStore {
    let s = this.bots.get(bot);
    if (!s) {
      s = { contacts: new Map(), threads: new Map() };
      this.bots.set(bot, s);
    }
    return s;
  }

  /** Bot-side view of a message crossing the tunnel; Blip adds the sender to the bot's roster. */
  recordInBot(bot: string, tunnel: string, item: ThreadMessage): void {
    const store = this.botStore(bot);
    const id = identityOf(tunnel).toLowerCase();
    const thread = store.threads.get(id) ?? [];
    thread.push(item);
    store.threads.set(id, thread);
    // UNVERIFIED: what a sub-bot's own contact for a tunnel identity holds; research §4.2 only says
    // each service has its own contact. We keep the identity and last message date, nothing copied
    // from the router, so a bridge that needs the real profile must ask the router.
    store.contacts.set(id, { identity: id, lastMessageDate: item.date });
  }

  /** Notifications move the status of the message they name, in every thread that holds it. */
  updateStatus(messageId: string, status: string): void {
    for (const c of this.customers.values()) for (const m of c.thread) if (m.id === messageId) m.status = status;
    for (const s of this.bots.values())
      for (const t of s.threads.values()) for (const m of t) if (m.id === messageId) m.status = status;
  }

  clear(): void {
    this.customers.clear();
    this.tunnels.clear();
    this.bots.clear();
  }
}
