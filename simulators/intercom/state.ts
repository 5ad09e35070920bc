/**
 * The workspace: contacts, conversations with their parts, tags and hosted files, plus contact
 * search as research §B.2 describes it (filters, nesting, pagination, a lagging index).
 */
import { randomUUID } from 'node:crypto';
import type { Contact, Conversation, ConversationPart } from './types.js';
import type { Filter } from './validate.js';

export interface ConversationRecord {
  shell: Omit<Conversation, 'conversation_parts'>;
  parts: ConversationPart[];
}

export interface HostedFile {
  id: string;
  name: string;
  contentType: string;
  data: Buffer;
}

/** "The maximum number of conversation parts that can be returned via the API is 500 … the 500 most recent" (retrieveConversation). */
export const MAX_PARTS = 500;

export class Workspace {
  readonly contacts = new Map<string, Contact>();
  /** When each contact became visible to search (ms). */
  readonly indexedAt = new Map<string, number>();
  readonly conversations = new Map<string, ConversationRecord>();
  readonly tags = new Map<string, { id: string; name: string }>();
  readonly files = new Map<string, HostedFile>();

  clear(): void {
    this.contacts.clear();
    this.indexedAt.clear();
    this.conversations.clear();
    this.files.clear();
  }

  contactByExternalId(externalId: string): Contact | undefined {
    for (const c of this.contacts.values()) if (c.external_id === externalId) return c;
    return undefined;
  }

  contactByEmail(email: string): Contact | undefined {
    const e = email.toLowerCase();
    for (const c of this.contacts.values()) if (c.email !== '' && c.email.toLowerCase() === e) return c;
    return undefined;
  }

  /** The wire conversation; `parts` picks which parts go in `conversation_parts` (default: the last 500). */
  view(rec: ConversationRecord, parts: ConversationPart[] = rec.parts.slice(-MAX_PARTS)): Conversation {
    const copy = structuredClone(parts);
    return { ...structuredClone(rec.shell), conversation_parts: { type: 'conversation_part.list', conversation_parts: copy, total_count: copy.length } };
  }

  host(name: string, contentType: string, data: Buffer): HostedFile {
    const f: HostedFile = { id: randomUUID(), name, contentType, data };
    this.files.set(f.id, f);
    return f;
  }

  /** Contacts matching `query`, in creation order, among those the (lagging) index already holds. */
  search(query: Filter, nowMs: number, lagMs: number): Contact[] {
    return [...this.contacts.values()].filter((c) => (this.indexedAt.get(c.id) ?? 0) + lagMs <= nowMs && matches(c, query));
  }
}

function fieldValue(c: Contact, field: string): unknown {
  if (field.startsWith('custom_attributes.')) return c.custom_attributes[field.slice('custom_attributes.'.length)];
  if (field === 'email_domain') return c.email.includes('@') ? c.email.split('@')[1] : null;
  let v: unknown = c;
  for (const key of field.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

/** Equality as a search sees it: emails case-insensitively (UNVERIFIED for other string fields), numbers from numeric strings. */
function same(field: string, actual: unknown, expected: unknown): boolean {
  if (actual === undefined || actual === null) return expected === null;
  if (typeof actual === 'number') return actual === Number(expected);
  if (typeof actual === 'boolean') return actual === expected || String(actual) === expected;
  if (typeof actual === 'string' && typeof expected === 'string') {
    return field === 'email' || field === 'email_domain' ? actual.toLowerCase() === expected.toLowerCase() : actual === expected;
  }
  return false;
}

function matches(c: Contact, f: Filter): boolean {
  if (f.operator === 'AND' || f.operator === 'OR') {
    const items = f.value as Filter[];
    return f.operator === 'AND' ? items.every((x) => matches(c, x)) : items.some((x) => matches(c, x));
  }
  const { field, operator, value } = f as { field: string; operator: string; value: unknown };
  const actual = fieldValue(c, field);
  const text = typeof actual === 'string' ? actual.toLowerCase() : undefined;
  const needle = typeof value === 'string' ? value.toLowerCase() : undefined;
  switch (operator) {
    case '=':
      return same(field, actual, value);
    case '!=':
      return !same(field, actual, value);
    case 'IN':
      return (value as unknown[]).some((v) => same(field, actual, v));
    case 'NIN':
      return !(value as unknown[]).some((v) => same(field, actual, v));
    case '~':
      return text !== undefined && needle !== undefined && text.includes(needle);
    case '!~':
      return text === undefined || needle === undefined || !text.includes(needle);
    case '^':
      return text !== undefined && needle !== undefined && text.startsWith(needle);
    case '$':
      return text !== undefined && needle !== undefined && text.endsWith(needle);
    case '>':
    case '<':
    case '>=':
    case '<=': {
      // Dates compare by calendar day in the workspace's timezone (SearchContacts description); we compare the raw numbers. UNVERIFIED nuance.
      if (typeof actual !== 'number') return false;
      const n = Number(value);
      return operator === '>' ? actual > n : operator === '<' ? actual < n : operator === '>=' ? actual >= n : actual <= n;
    }
    default:
      return false;
  }
}
