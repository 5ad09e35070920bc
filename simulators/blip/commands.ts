/**
 * The commands a human-attendance sub-bot needs (research §4.1 threads, §4.2 contacts, §2.3
 * tunnels), answered the way Blip answers: HTTP 200 with a command whose `status` says
 * success or failure (research §1.2).
 *
 * Scope follows research §2.2/§4.1/§4.2: a uri without owner (`/contacts/x`) reads the caller's
 * own data, keyed by tunnel identity; `lime://{router}@msging.net/…` reads the router's data, keyed
 * by the customer's originator ("service bots … are granted permission to query resources of the
 * master bot, such as contacts and threads", [DOC] templates/master.md). The exact lime:// form is
 * UNVERIFIED (research §4.1 (b)); it is what research recommends, so the simulator accepts it.
 */
import { MIME, identityOf } from '../../src/lime/envelope.js';
import {
  POSTMASTER,
  REASON,
  botIdentity,
  commandFailure,
  commandSuccess,
  type Reason,
  type ThreadMessage,
} from './fixtures.js';
import type { RouterState } from './router.js';

export interface CommandInput {
  id: string;
  method: string;
  uri: string;
  to?: string;
}

export interface Caller {
  identifier: string;
  router: string;
}

/** [DOC] extensions/chat-history.md: "By default, BLiP will return the last 20 thread messages"; "$take … maximum value allowed is 100". */
const THREAD_DEFAULT_TAKE = 20;
const THREAD_MAX_TAKE = 100;

interface ParsedUri {
  owner?: string;
  segments: string[];
  query: URLSearchParams;
}

/** `lime://owner/path?query` or `/path?query`; identities in the path may be URL-encoded (research §3.1). */
function parseUri(uri: string): ParsedUri | undefined {
  let rest = uri;
  let owner: string | undefined;
  if (rest.startsWith('lime://')) {
    rest = rest.slice('lime://'.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) return undefined;
    owner = rest.slice(0, slash);
    rest = rest.slice(slash);
  }
  if (!rest.startsWith('/')) return undefined;
  const q = rest.indexOf('?');
  const path = q === -1 ? rest : rest.slice(0, q);
  try {
    return {
      ...(owner !== undefined ? { owner: decodeURIComponent(owner).toLowerCase() } : {}),
      segments: path.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s)),
      query: new URLSearchParams(q === -1 ? '' : rest.slice(q + 1)),
    };
  } catch {
    return undefined; // malformed %-escape
  }
}

type Scope = 'self' | 'router';

export function executeCommand(state: RouterState, caller: Caller, cmd: CommandInput): Record<string, unknown> {
  const me = botIdentity(caller.identifier);
  const fail = (postmaster: string, reason: Reason) => commandFailure(cmd, me, postmaster, reason);
  const ok = (postmaster: string, type: string, resource: unknown) => commandSuccess(cmd, me, postmaster, type, resource);

  const to = cmd.to === undefined ? undefined : identityOf(cmd.to).toLowerCase();
  const parsed = parseUri(cmd.uri);
  if (!parsed) return fail(to ?? POSTMASTER.msging, REASON.invalidArgument); // UNVERIFIED code for an unparseable uri
  const [resource, id, ...extra] = parsed.segments;

  // Which postmaster serves each resource (research §1.2, §4.1, §4.2, §2.3). [DOC] chat-history.md
  // says `to` is "not required" for threads; the contacts and tunnel docs always give it.
  const route: Record<string, { postmaster: string; toOptional: boolean }> = {
    contacts: { postmaster: POSTMASTER.crm, toOptional: false },
    threads: { postmaster: POSTMASTER.msging, toOptional: true },
    tunnels: { postmaster: POSTMASTER.tunnel, toOptional: false },
  };
  const r = resource === undefined ? undefined : route[resource];
  if (!r || id === undefined || extra.length > 0) return fail(to ?? POSTMASTER.msging, REASON.resourceNotSupported);
  if (to === undefined ? !r.toOptional : to !== r.postmaster) {
    // UNVERIFIED: how Blip answers a resource sent to the wrong postmaster; we fail loudly so a
    // client that forgets `to` is caught here rather than in production.
    return fail(to ?? POSTMASTER.msging, REASON.resourceNotSupported);
  }
  if (cmd.method.toLowerCase() !== 'get') return fail(r.postmaster, REASON.methodNotSupported);

  let scope: Scope;
  if (parsed.owner === undefined || parsed.owner === me) scope = 'self';
  else if (parsed.owner === botIdentity(caller.router)) scope = 'router';
  else return fail(r.postmaster, REASON.authorizationError); // another bot's data: UNVERIFIED code

  switch (resource) {
    case 'contacts': {
      const contact =
        scope === 'router'
          ? state.customer(caller.router, id)?.contact
          : state.botStore(caller.identifier).contacts.get(id.toLowerCase());
      return contact ? ok(r.postmaster, MIME.contact, contact) : fail(r.postmaster, REASON.resourceNotFound);
    }
    case 'threads': {
      const thread =
        scope === 'router'
          ? state.customer(caller.router, id)?.thread
          : state.botStore(caller.identifier).threads.get(id.toLowerCase());
      // UNVERIFIED: whether an identity with no messages gives an empty collection or "not found".
      if (!thread || thread.length === 0) return fail(r.postmaster, REASON.resourceNotFound);
      const take = intParam(parsed.query, '$take', THREAD_DEFAULT_TAKE);
      const skip = intParam(parsed.query, '$skip', 0);
      if (take === undefined || take < 1 || skip === undefined || skip < 0) return fail(r.postmaster, REASON.invalidArgument);
      // UNVERIFIED: whether Blip clamps $take above 100 or fails; we clamp. `messageId`,
      // `storageDate` and `direction` paging are not simulated; `refreshExpiredMedia` is a no-op
      // because simulated media never expire.
      const items: ThreadMessage[] = [...thread].reverse().slice(skip, skip + Math.min(take, THREAD_MAX_TAKE));
      return ok(r.postmaster, MIME.collection, { total: items.length, itemType: MIME.threadMessage, items });
    }
    case 'tunnels': {
      // `GET /tunnels/{tunnelId}` ([DOC] extensions/tunnel.md): accept the bare id or the identity.
      const t = state.findTunnel(id.includes('@') ? id : `${id}@tunnel.msging.net`);
      // Only the destination bot may resolve a tunnel (UNVERIFIED; other callers get "not found").
      if (!t || scope !== 'self' || t.bot !== caller.identifier) return fail(r.postmaster, REASON.resourceNotFound);
      return ok(r.postmaster, MIME.tunnel, { owner: t.owner, originator: t.originator, destination: t.destination });
    }
    default:
      return fail(r.postmaster, REASON.resourceNotSupported);
  }
}

function intParam(q: URLSearchParams, name: string, dflt: number): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  return /^\d+$/.test(v) ? Number(v) : undefined;
}
