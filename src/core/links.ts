/**
 * Signed, expiring links to what a helpdesk fetches from us later (Omnize's `external_history`
 * GETs the bot transcript). The key is derived from server.adminToken, so rotating that token
 * also invalidates every link handed out; the signature covers the attendance id and the expiry.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export class Links {
  private readonly key: Buffer;

  constructor(
    private readonly publicUrl: string | undefined,
    adminToken: string,
    private readonly ttlMs = 24 * 3_600_000,
  ) {
    this.key = createHmac('sha256', adminToken).update('blip-helpdesk-bridge transcript links').digest();
  }

  private sign(attendanceId: string, expires: number): string {
    return createHmac('sha256', this.key).update(`${attendanceId}.${expires}`).digest('base64url');
  }

  /** The transcript's URL, or undefined when server.publicUrl is not set (nobody could reach it). */
  transcriptUrl(attendanceId: string, now = Date.now()): string | undefined {
    if (!this.publicUrl) return undefined;
    const expires = Math.floor((now + this.ttlMs) / 1000);
    return `${this.publicUrl.replace(/\/+$/, '')}/transcripts/${encodeURIComponent(attendanceId)}?expires=${expires}&sig=${this.sign(attendanceId, expires)}`;
  }

  verify(attendanceId: string, expires: string | undefined, sig: string | undefined, now = Date.now()): 'ok' | 'expired' | 'bad' {
    if (!expires || !sig || !/^\d{1,12}$/.test(expires)) return 'bad';
    const expected = Buffer.from(this.sign(attendanceId, Number(expires)));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad';
    return Number(expires) * 1000 < now ? 'expired' : 'ok';
  }
}
