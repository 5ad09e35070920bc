/** Users, tickets, comments and attachments as the Support API returns them (research §A.2.2–§A.2.4). */
import type { ZdUser, ZdAttachment, ZdComment, ZdTicket, Support } from './support.js';

export function userJson(sim: Support, u: ZdUser): Record<string, unknown> {
  return {
    id: u.id,
    url: `${sim.deps.baseUrl()}/api/v2/users/${u.id}.json`,
    name: u.name,
    email: u.email ?? null,
    created_at: u.created_at,
    updated_at: u.updated_at,
    phone: u.phone ?? null,
    role: u.role,
    external_id: u.external_id ?? null,
    active: true,
    verified: false,
    locale: 'en-US',
    tags: [],
    user_fields: {},
  };
}

export function ticketJson(sim: Support, t: ZdTicket): Record<string, unknown> {
  return {
    url: `${sim.deps.baseUrl()}/api/v2/tickets/${t.id}.json`,
    id: t.id,
    external_id: t.external_id,
    via: t.via,
    created_at: t.created_at,
    updated_at: t.updated_at,
    type: t.type,
    subject: t.subject,
    raw_subject: t.subject,
    description: t.description,
    priority: t.priority,
    status: t.status,
    requester_id: t.requester_id,
    submitter_id: t.submitter_id,
    assignee_id: t.assignee_id,
    organization_id: null,
    group_id: t.group_id,
    collaborator_ids: [],
    follower_ids: [],
    email_cc_ids: [],
    has_incidents: false,
    is_public: t.comments[0]?.public ?? true,
    due_at: null,
    tags: [...t.tags],
    custom_fields: t.custom_fields.map((f) => ({ ...f })),
    fields: t.custom_fields.map((f) => ({ ...f })),
    satisfaction_rating: null,
    ticket_form_id: null,
    brand_id: null,
    allow_channelback: false,
    allow_attachments: true,
    from_messaging_channel: false,
  };
}

export function commentJson(sim: Support, c: ZdComment): Record<string, unknown> {
  return {
    id: c.id,
    type: c.type,
    author_id: c.author_id,
    body: c.body,
    html_body: c.html_body,
    plain_body: c.plain_body,
    public: c.public,
    attachments: c.attachments.map((a) => attachmentJson(sim, a)),
    audit_id: c.audit_id,
    via: c.via,
    created_at: c.created_at,
    metadata: { system: {}, custom: {} },
  };
}

export function attachmentJson(sim: Support, a: ZdAttachment): Record<string, unknown> {
  // research §A.2.4: attachment fields `id, file_name, content_url, content_type, size, …` (3p list).
  return {
    url: `${sim.deps.baseUrl()}/api/v2/attachments/${a.id}.json`,
    id: a.id,
    file_name: a.file_name,
    content_url: a.content_url,
    mapped_content_url: a.content_url,
    content_type: a.content_type,
    size: a.size,
    width: null,
    height: null,
    inline: false,
    deleted: false,
    thumbnails: [],
  };
}
