/**
 * The message log's writes that more than one path makes: a text the bridge itself says to the
 * customer (greeting, reminder, farewell…), queued in order on the to-blip lane.
 */
import { randomUUID } from 'node:crypto';
import type { AttendanceRow } from '../store/schema.js';
import type { Queries } from '../store/store.js';
import type { Content } from './content.js';
import { enqueue } from './deliveries/kind.js';
import { blipMessage } from './deliveries/blip-message.js';

export async function systemText(q: Queries, att: Pick<AttendanceRow, 'id' | 'bot_id'>, text: string, now: number): Promise<void> {
  const messageId = randomUUID();
  await q.insertMessage({ id: messageId, attendance_id: att.id, direction: 'system', source_id: null, content: { type: 'text', text } satisfies Content, status: 'queued', created_at: now });
  await enqueue(q, att, blipMessage, { messageId }, now);
}
