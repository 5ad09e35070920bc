/**
 * What an agent does in the agent interface on the ticket route: comments (public or internal) and
 * status changes, each firing the account's webhook as Zendesk would.
 */
import { randomBytes } from 'node:crypto';
import type { TicketStatus, ZdUser, ZdAttachment, ZdComment, ZdTicket, Support } from './support.js';

export function agentOf(sim: Support, agentId?: number): ZdUser {
  const a = agentId !== undefined ? sim.users.get(agentId) : sim.agents[0];
  if (!a || a.role === 'end-user') throw new Error(`ZendeskSimulator: no agent ${agentId ?? ''}`);
  return a;
}

/** An agent comments from the agent interface (via `web`): a public reply or, with `public: false`, an internal note. */
export function agentComment(
  sim: Support,
  ticketId: number,
  text: string,
  opts: {
    public?: boolean;
    agentId?: number;
    html?: string;
    status?: TicketStatus;
    attachments?: Array<{ fileName: string; contentType: string; data: Buffer | string }>;
  } = {},
): ZdComment {
  const t = sim.ticket(ticketId);
  if (t.status === 'closed') throw new Error(`ZendeskSimulator.agentComment: ticket ${ticketId} is closed`);
  const agent = agentOf(sim, opts.agentId);
  const tokens: string[] = [];
  for (const f of opts.attachments ?? []) {
    const key = randomBytes(12).toString('base64url');
    const a: ZdAttachment = {
      id: sim.recordIds.take(),
      file_name: f.fileName,
      content_type: f.contentType,
      size: Buffer.byteLength(f.data),
      content_url: `${sim.deps.baseUrl()}/attachments/token/${key}/?name=${encodeURIComponent(f.fileName)}`,
      bytes: Buffer.from(f.data),
    };
    sim.files.set(key, a);
    const token = randomBytes(12).toString('hex');
    sim.uploads.set(token, { token, attachments: [a], expiresAt: Date.now() + sim.uploadTtl, used: false });
    tokens.push(token);
  }
  const c = sim.buildComment(
    { ...(opts.html !== undefined ? { html_body: opts.html } : { body: text }), public: opts.public ?? true, uploads: tokens },
    agent,
    'web',
  );
  if ('error' in c) throw new Error(`ZendeskSimulator.agentComment: ${JSON.stringify(c.error.json)}`);
  // The agent interface submits a new ticket as Open at least ("Submit as …"; UNVERIFIED default).
  const status = opts.status ?? (t.status === 'new' ? 'open' : undefined);
  const res = sim.applyUpdate(
    t,
    { ...(status ? { status } : {}), ...(status === 'solved' && t.assignee_id === null ? { assignee_id: agent.id } : {}) },
    c.ok.comment,
    agent,
    'web',
  );
  if ('error' in res) throw new Error(`ZendeskSimulator.agentComment: ${JSON.stringify(res.error.json)}`);
  c.ok.commit();
  return c.ok.comment;
}

/**
 * An agent sets the status in the agent interface. Solving an unassigned ticket assigns the agent
 * (UNVERIFIED). `closed` is normally set by an automation after solve; triggers do not run for it
 * (UNVERIFIED), so no trigger webhook follows.
 */
export function setStatus(sim: Support, ticketId: number, status: TicketStatus, opts: { agentId?: number } = {}): ZdTicket {
  const t = sim.ticket(ticketId);
  if (t.status === 'closed') throw new Error(`ZendeskSimulator.setStatus: ticket ${ticketId} is closed`);
  const agent = agentOf(sim, opts.agentId);
  const res = sim.applyUpdate(t, { status, ...(status === 'solved' && t.assignee_id === null ? { assignee_id: agent.id } : {}) }, undefined, agent, 'web');
  if ('error' in res) throw new Error(`ZendeskSimulator.setStatus: ${JSON.stringify(res.error.json)}`);
  return t;
}
