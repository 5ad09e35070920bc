/** Every kind of delivery, dispatched from one map by (lane, kind). Adding a kind is one file and one line here. */
import type { DeliveryRow } from '../../store/schema.js';
import { agentStatus } from './agent-status.js';
import { blipChatstate } from './blip-chatstate.js';
import { blipMessage } from './blip-message.js';
import { blipNotification } from './blip-notification.js';
import { customerMessage } from './customer-message.js';
import { customerTyping } from './customer-typing.js';
import { helpdeskClose } from './helpdesk-close.js';
import type { AnyKind } from './kind.js';
import { open } from './open.js';
import { redirect } from './redirect.js';

const ALL = [open, customerMessage, customerTyping, helpdeskClose, agentStatus, blipMessage, blipChatstate, blipNotification, redirect] as unknown as AnyKind[];

const KINDS = new Map<string, AnyKind>(ALL.map((k) => [`${k.lane}/${k.kind}`, k]));

export function kindOf(d: Pick<DeliveryRow, 'lane' | 'kind'>): AnyKind | undefined {
  return KINDS.get(`${d.lane}/${d.kind}`);
}

export const DELIVERY_KINDS: readonly AnyKind[] = ALL;
