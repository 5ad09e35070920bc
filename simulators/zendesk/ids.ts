/**
 * Identifier shapes. SunCo ids are 24 hex characters (research §A.1.1: cursors are "24-char record
 * id"s; every spec example looks like `5f74a0d52b5315fc007e798a`), built here like a MongoDB
 * ObjectId (4-byte seconds, 5 process-random bytes, 3-byte counter) so they sort by creation, which
 * the cursor pagination relies on. Zendesk Support ids are integers (research §A.2.3; ticket ids are
 * small and sequential per account, other records have large ids).
 */
import { randomBytes } from 'node:crypto';

const PROCESS_RANDOM = randomBytes(5).toString('hex');
let counter = randomBytes(3).readUIntBE(0, 3);

export function objectId(now = Date.now()): string {
  counter = (counter + 1) % 0x1000000;
  const seconds = Math.floor(now / 1000)
    .toString(16)
    .padStart(8, '0')
    .slice(-8);
  return `${seconds}${PROCESS_RANDOM}${counter.toString(16).padStart(6, '0')}`;
}

/** A secret in the style of the spec's webhook secret example (`8564b3e6a8b20a4bdb68b05ce9bc5936`). */
export function hexSecret(bytes = 16): string {
  return randomBytes(bytes).toString('hex');
}

/** Sequential integers; `base` lets record kinds look like Zendesk's (tickets small, users large). */
export class Sequence {
  constructor(private next: number) {}
  take(): number {
    return this.next++;
  }
}

/** `YYYY-MM-DDThh:mm:ss.SSSZ`, the format every SunCo timestamp uses (spec: message.received, conversation.createdAt). */
export function isoMillis(now = Date.now()): string {
  return new Date(now).toISOString();
}

/** `2021-03-25T05:09:27Z`: Zendesk Support timestamps and the webhook signature timestamp (research §A.2.5). */
export function isoSeconds(now = Date.now()): string {
  return new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
