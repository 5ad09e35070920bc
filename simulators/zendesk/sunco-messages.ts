/**
 * Sunshine Conversations messages, activities and attachments (research §A.1.4–§A.1.6): what the
 * bridge posts as the customer, lists to find its earlier attempts, and uploads.
 */
import { isoMillis, objectId } from './ids.js';
import { isObject, mimeFromName, type SimRequest, type SimResponse } from './http.js';
import { conversationTruncatedJson, messageJson, type ScAuthor, type ScConversation, type ScMessage, type ScUser } from './sunco-shapes.js';
import { ACTIVITY_TYPES, asMetadata, invalidAuthor, invalidContent, invalidMetadata } from './sunco-validate.js';
import { errors, badRequest, escapeHtml, LIST_MESSAGES_PAGE, DEFAULT_BUSINESS_AVATAR, type SunCo } from './sunco.js';

export function postMessage(sim: SunCo, c: ScConversation, req: SimRequest): SimResponse {
  const parsed = sim.json(req);
  if ('error' in parsed) return parsed.error;
  const b = parsed.ok;
  const invalid = invalidAuthor(b['author']) ?? invalidContent(b['content']) ?? invalidMetadata(b['metadata']);
  if (invalid) return badRequest(invalid);
  // spec PostMessage 423: "Message limit of 30000 per conversation reached."
  if (c.messages.length >= sim.messageLimit) return errors(423, 'locked', `Message limit of ${sim.messageLimit} per conversation reached.`);
  const a = b['author'] as Record<string, unknown>;
  let user: ScUser | undefined;
  if (a['type'] === 'user') {
    user = typeof a['userId'] === 'string' ? sim.users.get(a['userId']) : sim.findByExternalId(a['userExternalId'] as string);
    // UNVERIFIED: PostMessage documents no 404, but an unknown author cannot post.
    if (!user) return errors(404, 'user_not_found', 'User not found');
  }
  const author: ScAuthor = {
    type: a['type'] as 'user' | 'business',
    ...(Array.isArray(a['subtypes']) ? { subtypes: a['subtypes'] as string[] } : {}),
    ...(user ? { userId: user.id } : {}),
    ...(typeof a['displayName'] === 'string' ? { displayName: a['displayName'] } : {}),
    // spec examples text-2 / listMessages: business messages come back with the app's avatar.
    ...(typeof a['avatarUrl'] === 'string' ? { avatarUrl: a['avatarUrl'] } : a['type'] === 'business' ? { avatarUrl: DEFAULT_BUSINESS_AVATAR } : {}),
  };
  const m: ScMessage = {
    id: objectId(),
    received: isoMillis(),
    author,
    content: normaliseContent(sim, b['content'] as Record<string, unknown>),
    // spec examples text-2, image-2: messages posted through the API have `source.type: "api:conversations"`.
    source: { type: 'api:conversations' },
    ...(isObject(b['metadata']) ? { metadata: asMetadata(b['metadata'])! } : {}),
  };
  sim.addMessage(c, m);
  // "A single request may produce multiple messages" only for template shorthand: one here.
  return { status: 201, json: { messages: [messageJson(m)] } };
}

/** What SunCo stores for what was posted: read-only fields filled, write-only ones converted. */
export function normaliseContent(sim: SunCo, input: Record<string, unknown>): Record<string, unknown> {
  const c = structuredClone(input);
  switch (c['type']) {
    case 'text': {
      // spec markdownText: "writeOnly … Will be converted to htmlText upon reception"; htmlText/markdownText "will be converted to text" when no text.
      const md = c['markdownText'];
      delete c['markdownText'];
      if (typeof md === 'string') {
        c['htmlText'] = `<p>${escapeHtml(md)}</p>`;
        if (c['text'] === undefined) c['text'] = md;
      }
      if (c['text'] === undefined && typeof c['htmlText'] === 'string') c['text'] = c['htmlText'].replace(/<[^>]*>/g, '');
      return c;
    }
    case 'image':
    case 'file': {
      const url = c['mediaUrl'] as string;
      const uploaded = [...sim.attachments.values()].find((x) => x.mediaUrl === url);
      // spec image/file mediaType and mediaSize are read-only: SunCo fills them. Without the file at
      // hand the simulator guesses the type from the name and omits the size (UNVERIFIED).
      c['mediaType'] = uploaded?.mediaType ?? mimeFromName(url) ?? (c['type'] === 'image' ? 'image/jpeg' : 'application/octet-stream');
      if (uploaded) c['mediaSize'] = uploaded.bytes.length;
      else delete c['mediaSize'];
      // spec altText: "The field will be saved by default with the file name as the value."
      if (c['altText'] === undefined) c['altText'] = uploaded?.name ?? decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '') ?? '';
      return c;
    }
    case 'location': {
      // spec example location-2: the read-only fallback text.
      const co = c['coordinates'] as { lat: number; long: number };
      c['text'] = `Location shared:\nhttps://maps.google.com/maps?q=${co.lat},${co.long}`;
      return c;
    }
    default:
      return c;
  }
}

/** ListMessages: backwards pagination, "the most recent (i.e. last) page of messages being returned by default". */
export function listMessages(sim: SunCo, c: ScConversation, req: SimRequest): SimResponse {
  const after = req.query.get('page[after]');
  const before = req.query.get('page[before]');
  if (after !== null && before !== null) return badRequest('Invalid page query parameters');
  const all = c.messages;
  let start: number;
  let end: number;
  if (after !== null) {
    start = all.findIndex((m) => m.id === after) + 1;
    if (start === 0) start = all.length;
    end = Math.min(all.length, start + LIST_MESSAGES_PAGE);
  } else {
    end =
      before === null
        ? all.length
        : Math.max(
            0,
            all.findIndex((m) => m.id === before),
          );
    start = Math.max(0, end - LIST_MESSAGES_PAGE);
  }
  const items = all.slice(start, end);
  const base = `${sim.deps.baseUrl()}${req.path}`;
  const meta: Record<string, unknown> = { hasMore: after !== null ? end < all.length : start > 0 };
  const links: Record<string, string> = {};
  if (start > 0 && items[0]) {
    meta['beforeCursor'] = items[0].id;
    links['prev'] = `${base}?page[before]=${items[0].id}`;
  }
  const last = items[items.length - 1];
  if (end < all.length && last) {
    meta['afterCursor'] = last.id;
    links['next'] = `${base}?page[after]=${last.id}`;
  }
  return { status: 200, json: { messages: items.map(messageJson), meta, links } };
}

export function postActivity(sim: SunCo, c: ScConversation, req: SimRequest): SimResponse {
  const parsed = sim.json(req);
  if ('error' in parsed) return parsed.error;
  const b = parsed.ok;
  const type = b['type'];
  if (!ACTIVITY_TYPES.includes(type as (typeof ACTIVITY_TYPES)[number])) return badRequest(`type must be one of ${ACTIVITY_TYPES.join(', ')}`);
  const invalid = invalidAuthor(b['author']);
  if (invalid) return badRequest(invalid);
  const a = b['author'] as Record<string, unknown>;
  // spec activityTypes: "If the author type is `user`, only `conversation:read` is supported."
  if (a['type'] === 'user' && type !== 'conversation:read') return badRequest('If the author type is user, only conversation:read is supported');
  const now = isoMillis();
  if (a['type'] === 'user') {
    const user = typeof a['userId'] === 'string' ? sim.users.get(a['userId']) : sim.findByExternalId(a['userExternalId'] as string);
    if (!user) return errors(404, 'user_not_found', 'User not found');
    sim.emit('conversation:read', c, {
      conversation: conversationTruncatedJson(c, sim.switchboardById),
      activity: {
        type,
        author: { type: 'user', userId: user.id, user: { id: user.id, ...(user.externalId ? { externalId: user.externalId } : {}), authenticated: false } },
        source: { type: 'api:conversations' },
      },
    });
  } else if (type === 'conversation:read') {
    // spec conversation.businessLastRead: "the moment the conversation was last marked as read with role business".
    c.businessLastRead = now;
  } else {
    // The trigger is described as "When a user starts or stops typing"; that business typing posted
    // through the API is echoed to the integration's webhook is UNVERIFIED.
    sim.emit('conversation:typing', c, {
      conversation: conversationTruncatedJson(c, sim.switchboardById),
      activity: {
        type,
        author: { type: 'business', ...(typeof a['displayName'] === 'string' ? { displayName: a['displayName'] } : {}) },
        source: { type: 'api:conversations' },
      },
    });
  }
  return { status: 200, json: {} };
}

export async function uploadAttachmentAsync(sim: SunCo, req: SimRequest): Promise<SimResponse> {
  // UploadAttachment: `access` is a required query parameter; "Currently the only available access level is public."
  const access = req.query.get('access');
  if (access === null) return badRequest('access is required');
  if (access !== 'public') return badRequest('Only public access is supported');
  const conversationId = req.query.get('conversationId') ?? undefined;
  if (conversationId !== undefined && !sim.conversations.has(conversationId)) return badRequest('Invalid conversationId');
  const ct = String(req.headers['content-type'] ?? '');
  if (!/^multipart\/form-data\b/i.test(ct)) return badRequest('Files are uploaded using the multipart/form-data content type');
  let file: unknown;
  try {
    const form = await new Request('http://sim.invalid/', { method: 'POST', headers: { 'content-type': ct }, body: new Uint8Array(req.body) }).formData();
    file = form.get('source');
  } catch {
    return badRequest('Invalid multipart body');
  }
  // attachmentUploadBody: `source` (binary) is required.
  if (!(file instanceof Blob)) return badRequest('source is required');
  const name = (file as File).name || 'file';
  const bytes = Buffer.from(await file.arrayBuffer());
  const id = objectId();
  const type = (file.type && file.type !== 'application/octet-stream' ? file.type : mimeFromName(name)) ?? 'application/octet-stream';
  // spec example uploadAttachment: `https://subdomain.zendesk.com/sc/attachments/v2/{id}/my_file.jpeg`.
  const mediaUrl = `${sim.deps.baseUrl()}/sc/attachments/v2/${id}/${encodeURIComponent(name)}`;
  sim.attachments.set(id, { id, name, mediaType: type, bytes, mediaUrl, ...(conversationId ? { conversationId } : {}) });
  return { status: 201, json: { attachment: { mediaUrl, mediaType: type } } };
}

export function uploadAttachment(sim: SunCo, req: SimRequest): Promise<SimResponse> {
  return uploadAttachmentAsync(sim, req);
}
