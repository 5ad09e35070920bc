/**
 * Reading the JSON columns of attendance and message rows, in one place until the store returns
 * typed models (issue 15).
 */
import { DeliveryError } from '../delivery/errors.js';
import type { Customer, HelpdeskRef } from '../helpdesks/adapter.js';
import type { AttendanceRow, MessageRow } from '../store/schema.js';
import type { Content } from './content.js';
import { shown } from './sensitive.js';

export function customerOf(att: Pick<AttendanceRow, 'customer'>): Customer {
  return JSON.parse(att.customer) as Customer;
}

export function refOf(att: Pick<AttendanceRow, 'helpdesk_ref'>): HelpdeskRef | undefined {
  return att.helpdesk_ref ? (JSON.parse(att.helpdesk_ref) as HelpdeskRef) : undefined;
}

/** The helpdesk's reference, which every delivery after the open needs. */
export function requireRef(att: Pick<AttendanceRow, 'id' | 'helpdesk_ref'>): HelpdeskRef {
  const ref = refOf(att);
  if (!ref) throw new DeliveryError(`attendance ${att.id} is not open in the helpdesk`, false);
  return ref;
}

/** A message's content as the outside may see it: a sealed sensitive one is its placeholder. */
export function contentOf(m: Pick<MessageRow, 'content'>): Content {
  return shown(JSON.parse(m.content)) as Content;
}

export function agentOf(att: Pick<AttendanceRow, 'agent'>): { id?: string; name?: string; email?: string; team?: string } | undefined {
  return att.agent ? (JSON.parse(att.agent) as { id?: string; name?: string }) : undefined;
}

/** Builder copies the tunnel metadata on its replies; we do the same (research/blip.md §2.3). */
export function tunnelMetadata(c: Customer): { metadata?: Record<string, string> } {
  const metadata: Record<string, string> = {};
  if (c.router) metadata['#tunnel.owner'] = c.router;
  if (c.originator) metadata['#tunnel.originator'] = c.originator;
  return Object.keys(metadata).length ? { metadata } : {};
}
