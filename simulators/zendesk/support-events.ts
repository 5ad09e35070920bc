/**
 * What a ticket update sends to the bridge's webhook (research §A.2.5): the two triggers' JSON bodies
 * (support-template.ts), or the event-subscription payloads, signed and retried by support-webhooks.ts.
 */
import { randomUUID } from 'node:crypto';
import { TRIGGER_TEMPLATES, renderTemplate, type TemplateContext, type TriggerName } from './support-template.js';
import type { TicketStatus, ZdUser, ZdComment, ZdTicket, Via, Support } from './support.js';

/** What an update makes Zendesk send: the matching triggers' bodies, or the subscribed events. */
export function fire(sim: Support, t: ZdTicket, u: { comment?: ZdComment; previousStatus: TicketStatus | undefined; actor: ZdUser; via: Via }): void {
  if (sim.webhookMode === 'events') {
    fireEvents(sim, t, u);
    return;
  }
  if (u.via === 'api' && sim.ignoreApiUpdates) return; // current_via_id is_not 5
  if (sim.requireTag !== undefined && !t.tags.includes(sim.requireTag)) return; // current_tags includes …
  const fired: TriggerName[] = [];
  if (u.comment) fired.push('comment');
  if (t.status === 'solved' && u.previousStatus !== 'solved') fired.push('solved');
  for (const name of fired) {
    const body = renderTemplate(TRIGGER_TEMPLATES[name], templateContext(sim, t, u.actor));
    sim.dispatcher.invoke(body, `trigger:${name}`, t.id);
  }
}

export function templateContext(sim: Support, t: ZdTicket, actor: ZdUser): TemplateContext {
  const latest = t.comments[t.comments.length - 1];
  const requester = sim.users.get(t.requester_id);
  const author = latest ? sim.users.get(latest.author_id) : undefined;
  return {
    ticket: {
      id: String(t.id),
      external_id: t.external_id ?? '',
      requester: { id: String(t.requester_id), name: requester?.name ?? '', external_id: requester?.external_id ?? '' },
      latest_comment: {
        id: latest ? String(latest.id) : '',
        value: latest?.plain_body ?? '',
        is_public: latest ? String(latest.public) : '',
        author: { id: author ? String(author.id) : '', name: author?.name ?? '' },
        attachments: (latest?.attachments ?? []).map((a) => ({ filename: a.file_name, url: a.content_url })),
      },
    },
    current_user: { id: String(actor.id), name: actor.name, role: actor.role, external_id: actor.external_id ?? '' },
  };
}

/**
 * Event-subscribed webhook payloads (research §A.2.5, developer.zendesk.com/api-reference/webhooks/
 * event-types/ticket-events): `{type, account_id, id, time, zendesk_event_version, subject,
 * detail: {…ticket, ids as strings}, event: {…}}`; statuses in upper case (3p Dust samples).
 */
export function fireEvents(sim: Support, t: ZdTicket, u: { comment?: ZdComment; previousStatus: TicketStatus | undefined; actor: ZdUser; via: Via }): void {
  const detail = {
    actor_id: String(u.actor.id),
    assignee_id: t.assignee_id === null ? null : String(t.assignee_id),
    brand_id: null,
    created_at: t.created_at,
    custom_status: null,
    description: t.description,
    external_id: t.external_id,
    form_id: null,
    group_id: t.group_id === null ? null : String(t.group_id),
    id: String(t.id),
    is_public: t.comments[0]?.public ?? true,
    organization_id: null,
    priority: t.priority === null ? null : t.priority.toUpperCase(),
    requester_id: String(t.requester_id),
    status: t.status.toUpperCase(),
    subject: t.subject,
    submitter_id: String(t.submitter_id),
    tags: [...t.tags],
    type: t.type === null ? null : t.type.toUpperCase(),
    updated_at: t.updated_at,
    // research §A.2.5 samples: `via.channel` "web_service" for API updates.
    via: { channel: u.via === 'api' ? 'web_service' : 'web' },
  };
  const send = (type: string, event: Record<string, unknown>) => {
    const body = JSON.stringify({
      type,
      account_id: sim.accountId,
      id: randomUUID(),
      time: new Date().toISOString(),
      zendesk_event_version: '2022-11-06',
      subject: `zen:ticket:${t.id}`,
      detail,
      event: { ...event, meta: { sequence: { id: String(sim.sequence), position: 1 } } },
    });
    sim.sequence += 1;
    sim.dispatcher.invoke(body, type, t.id);
  };
  if (u.comment) {
    const author = sim.users.get(u.comment.author_id);
    send('zen:event-type:ticket.comment_added', {
      comment: {
        id: String(u.comment.id),
        body: u.comment.plain_body,
        is_public: u.comment.public,
        author: { id: String(u.comment.author_id), is_staff: author !== undefined && author.role !== 'end-user', name: author?.name ?? '' },
      },
    });
  }
  if (u.previousStatus !== undefined && u.previousStatus !== t.status) {
    send('zen:event-type:ticket.status_changed', { current: t.status.toUpperCase(), previous: u.previousStatus.toUpperCase() });
  }
}
