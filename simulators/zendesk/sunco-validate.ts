/**
 * The checks Sunshine Conversations documents for request bodies (schemas `userCreateBody`,
 * `conversationCreateBody`, `messagePost`, `content`, `activityPost`, `passControlBody`, …, and the
 * limits in `info.description`). Each returns an error title (→ 400 `bad_request`) or undefined.
 * Error titles are ours: the spec shows only generic ones ("Bad request"). UNVERIFIED wording.
 */
import { isObject } from './http.js';
import type { Metadata } from './sunco-shapes.js';

/** spec `metadata`: "Flat object … Strings, numbers and booleans … limited to 4KB in size." */
export function invalidMetadata(v: unknown, where = 'metadata'): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return `${where} must be an object`;
  for (const [k, x] of Object.entries(v)) {
    if (x !== null && typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') {
      return `${where}.${k}: only strings, numbers and booleans are supported`;
    }
  }
  if (Buffer.byteLength(JSON.stringify(v)) > 4096) return `${where} exceeds 4KB`;
  return undefined;
}

export function asMetadata(v: unknown): Metadata | undefined {
  return isObject(v) ? ({ ...v } as Metadata) : undefined;
}

function str(v: unknown, where: string, min: number, max: number, nullable = false): string | undefined {
  if (v === undefined || (nullable && v === null)) return undefined;
  if (typeof v !== 'string') return `${where} must be a string`;
  if (v.length < min) return `${where} must be at least ${min} characters`;
  if (v.length > max) return `${where} must be at most ${max} characters`;
  return undefined;
}

function isUri(v: string): boolean {
  try {
    new URL(v);
    return /^[a-z][a-z0-9+.-]*:/i.test(v);
  } catch {
    return false;
  }
}

/** spec `userCreateBody` (+ `profile`). */
export function invalidUserCreate(b: Record<string, unknown>): string | undefined {
  const p = b['profile'];
  if (p !== undefined && !isObject(p)) return 'profile must be an object';
  const profile = (p ?? {}) as Record<string, unknown>;
  return (
    str(b['externalId'], 'externalId', 1, 1024) ??
    str(b['brandId'], 'brandId', 1, 24, true) ??
    (b['signedUpAt'] !== undefined && (typeof b['signedUpAt'] !== 'string' || Number.isNaN(Date.parse(b['signedUpAt'])))
      ? 'signedUpAt must be an ISO 8601 date'
      : undefined) ??
    (b['toBeRetained'] !== undefined && typeof b['toBeRetained'] !== 'boolean' ? 'toBeRetained must be a boolean' : undefined) ??
    str(profile['givenName'], 'profile.givenName', 1, 128, true) ??
    str(profile['surname'], 'profile.surname', 1, 128, true) ??
    str(profile['email'], 'profile.email', 1, 128, true) ??
    (typeof profile['email'] === 'string' && !/^[^@\s]+@[^@\s]+$/.test(profile['email']) ? 'profile.email must be an email address' : undefined) ??
    str(profile['avatarUrl'], 'profile.avatarUrl', 1, 2048, true) ??
    str(profile['locale'], 'profile.locale', 1, 64, true) ??
    invalidMetadata(b['metadata'])
  );
}

/** spec `content` (discriminator `type`) with the required fields of each message type. */
export function invalidContent(c: unknown): string | undefined {
  if (!isObject(c)) return 'content is required';
  const t = c['type'];
  switch (t) {
    case 'text': {
      const hasBody = c['text'] !== undefined || c['htmlText'] !== undefined || c['markdownText'] !== undefined || Array.isArray(c['actions']);
      if (!hasBody) return 'content.text is required unless actions, htmlText or markdownText is provided';
      if (c['htmlText'] !== undefined && c['markdownText'] !== undefined) return 'content.htmlText cannot be used with content.markdownText';
      return (
        str(c['text'], 'content.text', 0, 4096) ??
        str(c['htmlText'], 'content.htmlText', 0, 4096) ??
        str(c['markdownText'], 'content.markdownText', 0, 4096) ??
        (c['actions'] !== undefined && !Array.isArray(c['actions']) ? 'content.actions must be an array' : undefined)
      );
    }
    case 'image':
    case 'file':
      if (typeof c['mediaUrl'] !== 'string' || !isUri(c['mediaUrl'])) return `content.mediaUrl is required for ${t} messages and must be a URI`;
      return str(c['altText'], 'content.altText', 0, 128) ?? str(c['text'], 'content.text', 0, 4096);
    case 'location': {
      const co = c['coordinates'];
      if (!isObject(co) || typeof co['lat'] !== 'number' || typeof co['long'] !== 'number')
        return 'content.coordinates {lat, long} is required for location messages';
      if (c['location'] !== undefined && !isObject(c['location'])) return 'content.location must be an object';
      return undefined;
    }
    case 'carousel':
    case 'list': {
      const items = c['items'];
      if (!Array.isArray(items) || items.length < 1 || items.length > 10) return `content.items must have 1 to 10 items for ${t} messages`;
      return undefined;
    }
    case 'form':
    case 'formResponse': {
      const fields = c['fields'];
      if (!Array.isArray(fields) || fields.length < 1 || fields.length > 20) return `content.fields must have 1 to 20 fields for ${t} messages`;
      return undefined;
    }
    case 'template':
      return isObject(c['template']) ? undefined : 'content.template is required for template messages';
    default:
      return `content.type ${JSON.stringify(t)} is not supported`;
  }
}

/**
 * spec `author`: type user|business; `subtypes` at most one of AI|activity|agent|bot, where
 * "agent" and "bot" are "available in responses only"; userId/userExternalId "Only supported when
 * type is user".
 */
export function invalidAuthor(a: unknown, where = 'author'): string | undefined {
  if (!isObject(a)) return `${where} is required`;
  if (a['type'] !== 'user' && a['type'] !== 'business') return `${where}.type must be user or business`;
  const sub = a['subtypes'];
  if (sub !== undefined) {
    if (!Array.isArray(sub) || sub.length !== 1) return `${where}.subtypes must hold exactly one item`;
    if (sub[0] !== 'AI' && sub[0] !== 'activity') return `${where}.subtypes: ${JSON.stringify(sub[0])} is not accepted in requests`;
  }
  const hasUser = a['userId'] !== undefined || a['userExternalId'] !== undefined;
  if (a['type'] === 'business' && hasUser) return `${where}.userId and ${where}.userExternalId are only supported when ${where}.type is user`;
  if (a['type'] === 'user') {
    if (!hasUser) return `${where}.userId or ${where}.userExternalId is required when ${where}.type is user`;
    if (a['userId'] !== undefined && a['userExternalId'] !== undefined) return `${where}: provide userId or userExternalId, not both`;
    if (a['userId'] !== undefined && typeof a['userId'] !== 'string') return `${where}.userId must be a string`;
    if (a['userExternalId'] !== undefined && typeof a['userExternalId'] !== 'string') return `${where}.userExternalId must be a string`;
  }
  if (a['displayName'] !== undefined && typeof a['displayName'] !== 'string') return `${where}.displayName must be a string`;
  if (a['avatarUrl'] !== undefined && (typeof a['avatarUrl'] !== 'string' || !isUri(a['avatarUrl']))) return `${where}.avatarUrl must be a URI`;
  return undefined;
}

export const ACTIVITY_TYPES = ['conversation:read', 'typing:start', 'typing:stop'] as const;
