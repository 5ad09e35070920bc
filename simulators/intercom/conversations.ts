/**
 * The Intercom simulator's conversations (spec 2.14 Conversations): create, get, update, reply,
 * manage, tags, and the conversation parts each action writes, as the agents' side uses them too.
 */
import {
  ERR,
  adminAuthor,
  adminBodyHtml,
  contactAuthor,
  contactBodyHtml,
  contentTypeOf,
  conversationShell,
  part as buildPart,
  plainText,
  unix,
  userMessage,
} from './fixtures.js';
import { type ConversationRecord } from './state.js';
import type { Contact, ConversationPart, PartAttachment, SimAdmin } from './types.js';
import * as V from './validate.js';
import { type Answer, err, ok } from './routes.js';
import type { IntercomSimulator as Sim } from './index.js';

export function createConversation(sim: Sim, body: unknown): Answer {
  const b = V.createConversation(body);
  if (!b.ok) return err(400, b.error);
  const c = sim.ws.contacts.get(b.value.from.id);
  if (!c) return err(404, ERR.userNotFound()); // spec createConversation 404 "Contact Not Found"
  const at = b.value.createdAt !== undefined ? b.value.createdAt * 1000 : sim.now();
  const shell = conversationShell({
    id: sim.conversationIds.next(),
    messageId: sim.messageIds.next(),
    contact: c,
    body: contactBodyHtml(b.value.body),
    subject: b.value.subject ?? '',
    attachments: b.value.attachmentUrls.map(urlAttachment),
    now: at,
  });
  const rec: ConversationRecord = { shell, parts: [] };
  sim.ws.conversations.set(shell.id, rec);
  c.last_replied_at = unix(at);
  // research §B.3: "It fires conversation.user.created"; the first message is in item.source.
  sim.emit(rec, 'conversation.user.created', []);
  return ok(userMessage({ id: shell.source.id, createdAt: shell.created_at, body: b.value.body, conversationId: shell.id }));
}

export function getConversation(sim: Sim, id: string, query: URLSearchParams): Answer {
  const rec = sim.ws.conversations.get(id);
  if (!rec) return err(404, ERR.notFound());
  const view = sim.ws.view(rec);
  if (query.get('display_as') === 'plaintext') {
    view.source.body = plainText(view.source.body) ?? '';
    for (const p of view.conversation_parts.conversation_parts) p.body = plainText(p.body);
  }
  return ok(view);
}

export function updateConversation(sim: Sim, id: string, body: unknown): Answer {
  const rec = sim.ws.conversations.get(id);
  if (!rec) return err(404, ERR.notFound());
  const u = V.updateConversation(body);
  if (!u.ok) return err(400, u.error);
  if (u.value.read !== undefined) rec.shell.read = u.value.read;
  if (u.value.title !== undefined) rec.shell.title = u.value.title;
  if (u.value.customAttributes) rec.shell.custom_attributes = { ...rec.shell.custom_attributes, ...u.value.customAttributes };
  rec.shell.updated_at = unix(sim.now());
  return ok(sim.ws.view(rec));
}

/**
 * `conversation_id` may be "last": "reply to the last part of the conversation" — for a contact,
 * the contact's most recently updated conversation; for an admin, the workspace's (UNVERIFIED).
 */
export function replyToConversation(sim: Sim, id: string, body: unknown): Answer {
  const r = V.reply(body);
  if (!r.ok) return err(400, r.error);
  const reply = r.value;
  if (reply.type === 'user') {
    const by = reply.by;
    const c =
      'intercom_user_id' in by
        ? sim.ws.contacts.get(by.intercom_user_id)
        : 'user_id' in by
          ? sim.ws.contactByExternalId(by.user_id)
          : sim.ws.contactByEmail(by.email);
    if (!c) return err(404, ERR.userNotFound()); // UNVERIFIED body
    const rec = id === 'last' ? lastConversation(sim, c.id) : sim.ws.conversations.get(id);
    if (!rec) return err(404, ERR.notFound());
    // A contact can only write in conversations they are part of. UNVERIFIED error.
    if (!rec.shell.contacts.contacts.some((x) => x.id === c.id)) return err(404, ERR.userNotFound());
    const attachments = [...reply.attachmentUrls.map(urlAttachment), ...reply.attachmentFiles.map((f) => sim.hostedAttachment(f.name, f.contentType, f.data))];
    const part = contactPart(sim, rec, c, reply, attachments);
    sim.emit(rec, 'conversation.user.replied', [part]);
    return ok(sim.ws.view(rec));
  }
  const admin = sim.admins.find((a) => a.id === reply.adminId);
  if (!admin) return err(404, ERR.adminNotFound());
  const rec = id === 'last' ? lastConversation(sim) : sim.ws.conversations.get(id);
  if (!rec) return err(404, ERR.notFound());
  const attachments = [...reply.attachmentUrls.map(urlAttachment), ...reply.attachmentFiles.map((f) => sim.hostedAttachment(f.name, f.contentType, f.data))];
  const appCode = sim.options.appPackageCode ?? null;
  const html = reply.body === undefined ? null : adminBodyHtml(reply.body);
  const part = adminComment(sim, rec, admin, reply.messageType, html, attachments, reply.replyOptions, appCode);
  sim.emit(rec, reply.messageType === 'note' ? 'conversation.admin.noted' : 'conversation.admin.replied', [part]);
  return ok(sim.ws.view(rec));
}

export function manageConversation(sim: Sim, id: string, body: unknown): Answer {
  const m = V.manage(body);
  if (!m.ok) return err(400, m.error);
  const rec = sim.ws.conversations.get(id);
  if (!rec) return err(404, ERR.notFound());
  const admin = sim.admins.find((a) => a.id === m.value.adminId);
  if (!admin) return err(404, ERR.adminNotFound());
  const appCode = sim.options.appPackageCode ?? null;
  const v = m.value;
  switch (v.messageType) {
    case 'close':
      sim.emit(rec, 'conversation.admin.closed', [closePart(sim, rec, admin, v.body === undefined ? undefined : adminBodyHtml(v.body), appCode)]);
      break;
    case 'snoozed':
      sim.emit(rec, 'conversation.admin.snoozed', [snoozePart(sim, rec, admin, v.snoozedUntil, appCode)]);
      break;
    case 'open': {
      const wasSnoozed = rec.shell.state === 'snoozed';
      sim.emit(rec, wasSnoozed ? 'conversation.admin.unsnoozed' : 'conversation.admin.opened', [openPart(sim, rec, admin, appCode)]);
      break;
    }
    case 'assignment':
      if (!assigneeExists(sim, v.assigneeType, v.assigneeId)) return err(404, ERR.assigneeNotFound());
      sim.emit(rec, 'conversation.admin.assigned', [
        assignPart(sim, rec, admin, v.assigneeType, v.assigneeId, v.body === undefined ? undefined : adminBodyHtml(v.body), appCode),
      ]);
      break;
  }
  return ok(sim.ws.view(rec));
}

/** spec `attachTagToConversation`: answers the tag; 404 "Conversation not found"; unknown tag → 404 tag_not_found (UNVERIFIED here). */
export function attachTag(sim: Sim, id: string, body: unknown): Answer {
  const rec = sim.ws.conversations.get(id);
  if (!rec) return err(404, ERR.conversationNotFound());
  const t = V.tagAttach(body);
  if (!t.ok) return err(400, t.error);
  const tag = sim.ws.tags.get(t.value.tagId);
  if (!tag) return err(404, ERR.tagNotFound());
  if (!sim.admins.some((a) => a.id === t.value.adminId)) return err(404, ERR.adminNotFound());
  let applied = rec.shell.tags.tags.find((x) => x.id === tag.id);
  if (!applied) {
    applied = { type: 'tag', id: tag.id, name: tag.name, applied_at: unix(sim.now()), applied_by: { type: 'admin', id: t.value.adminId } };
    rec.shell.tags.tags.push(applied);
    rec.shell.updated_at = unix(sim.now());
  }
  return ok(structuredClone(applied));
}

export function detachTag(sim: Sim, id: string, tagId: string, body: unknown): Answer {
  const rec = sim.ws.conversations.get(id);
  if (!rec) return err(404, ERR.conversationNotFound());
  const t = V.tagDetach(body);
  if (!t.ok) return err(400, t.error);
  const i = rec.shell.tags.tags.findIndex((x) => x.id === tagId);
  if (i < 0) return err(404, ERR.tagNotFound());
  const [removed] = rec.shell.tags.tags.splice(i, 1);
  rec.shell.updated_at = unix(sim.now());
  return ok(removed);
}

export function lastConversation(sim: Sim, contactIdValue?: string): ConversationRecord | undefined {
  let best: ConversationRecord | undefined;
  for (const rec of sim.ws.conversations.values()) {
    if (contactIdValue !== undefined && !rec.shell.contacts.contacts.some((x) => x.id === contactIdValue)) continue;
    if (!best || rec.shell.updated_at >= best.shell.updated_at) best = rec;
  }
  return best;
}

export function nextPart(sim: Sim, rec: ConversationRecord, args: Omit<Parameters<typeof buildPart>[0], 'id' | 'now' | 'state'>): ConversationPart {
  const p = buildPart({ ...args, id: sim.partIds.next(), state: rec.shell.state, now: sim.now() });
  rec.parts.push(p);
  rec.shell.updated_at = p.created_at;
  return p;
}

/**
 * A contact's reply. spec "User reply": on a closed conversation the part is `open` (it reopens)
 * and `waiting_since` is set. A reply to a snoozed conversation also reopens it with a `comment`
 * part (UNVERIFIED).
 */
export function contactPart(
  sim: Sim,
  rec: ConversationRecord,
  c: Contact,
  reply: Extract<V.Reply, { type: 'user' }>,
  attachments: PartAttachment[],
): ConversationPart {
  const s = rec.shell;
  const wasClosed = s.state === 'closed';
  s.state = 'open';
  s.open = true;
  s.snoozed_until = null;
  s.read = false;
  const quick = reply.messageType === 'quick_reply';
  const p = nextPart(sim, rec, {
    partType: wasClosed ? 'open' : quick ? 'quick_reply' : 'comment',
    body: reply.body === undefined ? null : contactBodyHtml(reply.body),
    author: contactAuthor(c),
    attachments,
    // conversation_part_metadata.quick_reply_uuid: "the quick reply option that was clicked by the end user".
    ...(quick && reply.replyOptions?.[0] ? { metadata: { quick_reply_uuid: reply.replyOptions[0].uuid } } : {}),
    appPackageCode: sim.options.appPackageCode ?? null,
  });
  s.waiting_since ??= p.created_at;
  c.last_replied_at = p.created_at;
  return p;
}

/** An admin comment / note / quick reply. A comment answers the customer: `waiting_since` becomes null ("Set to null if last reply is from an Admin"). */
export function adminComment(
  sim: Sim,
  rec: ConversationRecord,
  admin: SimAdmin,
  kind: 'comment' | 'note' | 'quick_reply',
  html: string | null,
  attachments: PartAttachment[],
  replyOptions: Array<{ text: string; uuid: string }> | undefined,
  appPackageCode: string | null,
): ConversationPart {
  const p = nextPart(sim, rec, {
    partType: kind,
    body: html,
    author: adminAuthor(admin),
    attachments,
    ...(replyOptions ? { metadata: { quick_reply_options: replyOptions.map((o) => ({ ...o, translations: null })) } } : {}),
    appPackageCode,
  });
  if (kind !== 'note') rec.shell.waiting_since = null;
  return p;
}

export function closePart(sim: Sim, rec: ConversationRecord, admin: SimAdmin, html: string | undefined, appPackageCode: string | null): ConversationPart {
  const s = rec.shell;
  s.state = 'closed';
  s.open = false;
  s.snoozed_until = null;
  s.waiting_since = null;
  // spec manageConversation "Close a conversation": part_type close with the body, state closed.
  return nextPart(sim, rec, { partType: 'close', body: html ?? null, author: adminAuthor(admin), appPackageCode });
}

/** spec "Snooze a conversation": state snoozed, `open` stays true, `snoozed_until` set, part body null. */
export function snoozePart(sim: Sim, rec: ConversationRecord, admin: SimAdmin, until: number, appPackageCode: string | null): ConversationPart {
  const s = rec.shell;
  s.state = 'snoozed';
  s.open = true;
  s.snoozed_until = until;
  return nextPart(sim, rec, { partType: 'snoozed', body: null, author: adminAuthor(admin), appPackageCode });
}

/** spec "Open a conversation": part_type open, body null. */
export function openPart(sim: Sim, rec: ConversationRecord, admin: SimAdmin, appPackageCode: string | null): ConversationPart {
  const s = rec.shell;
  s.state = 'open';
  s.open = true;
  s.snoozed_until = null;
  return nextPart(sim, rec, { partType: 'open', body: null, author: adminAuthor(admin), appPackageCode });
}

/**
 * spec "Assign a conversation": on a closed conversation the part is `assign_and_reopen` with
 * `assigned_to {type: admin, id}` and the conversation reopens; otherwise `assignment`
 * (`part_type` list, research §B.3). "Set 0 … to no admin or team"; the `assigned_to` of an
 * unassignment is UNVERIFIED (we send `{type: "nobody_admin", id: null}`).
 */
export function assignPart(
  sim: Sim,
  rec: ConversationRecord,
  admin: SimAdmin,
  type: 'admin' | 'team',
  assigneeId: string,
  html: string | undefined,
  appPackageCode: string | null,
): ConversationPart {
  const s = rec.shell;
  const reopen = s.state === 'closed';
  if (reopen) {
    s.state = 'open';
    s.open = true;
  }
  const id = assigneeId === '0' ? null : Number(assigneeId);
  if (type === 'admin') s.admin_assignee_id = id;
  else s.team_assignee_id = id;
  return nextPart(sim, rec, {
    partType: reopen ? 'assign_and_reopen' : 'assignment',
    body: html ?? null,
    author: adminAuthor(admin),
    assignedTo: assigneeId === '0' ? { type: 'nobody_admin', id: null } : { type, id: assigneeId },
    appPackageCode,
  });
}

export function assigneeExists(sim: Sim, type: 'admin' | 'team', id: string): boolean {
  if (id === '0') return true;
  return type === 'admin' ? sim.admins.some((a) => a.id === id) : sim.teams.some((t) => t.id === id);
}

/**
 * `attachment_urls` become attachments pointing at the given URL. Whether Intercom copies the file
 * to its CDN, and the size/dimensions it records, is UNVERIFIED: we keep the URL and leave those out.
 */
function urlAttachment(url: string): PartAttachment {
  const name = decodeURIComponent(new URL(url).pathname.split('/').pop() || 'attachment');
  return { type: 'upload', name, url, content_type: contentTypeOf(name) };
}
