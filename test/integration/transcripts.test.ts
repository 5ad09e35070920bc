/** GET /transcripts/{attendance}: the bot transcript for helpdesks that fetch it (Omnize external_history). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Links } from '../../src/core/links.js';
import { ADMIN_TOKEN, IDENTIFIER, startHarness, until, type Harness } from '../helpers/harness.js';

describe('transcript links', () => {
  let h: Harness;
  let id: string;
  let links: Links;
  beforeAll(async () => {
    h = await startHarness();
    links = new Links(h.url, ADMIN_TOKEN);
    h.blip.addCustomer({
      originator: '5511000000077@wa.gw.msging.net',
      history: [
        { direction: 'received', type: 'text/plain', content: 'Oi', date: '2026-01-02T03:04:05.000Z' },
        { direction: 'sent', type: 'text/plain', content: 'Olá! Como posso ajudar?', date: '2026-01-02T03:04:06.000Z' },
      ],
    });
    await h.blip.customerSays('5511000000077@wa.gw.msging.net', IDENTIFIER, { type: 'text/plain', content: 'quero um atendente' });
    id = (await until(() => h.tool.eventsOfType('attendance.opened')[0])).data.attendance.id;
  });
  afterAll(async () => h.stop());

  it('answers the transcript in Omnize\'s documented shape for a signed link', async () => {
    const res = await h.get(new URL(links.transcriptUrl(id)!).pathname + new URL(links.transcriptUrl(id)!).search);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      messages: [
        { time: '2026-01-02 03:04:05', direction: 'CLIENT', content: 'Oi' },
        { time: '2026-01-02 03:04:06', direction: 'AGENT', content: 'Olá! Como posso ajudar?' },
      ],
    });
  });

  it('refuses tampered, expired and foreign links', async () => {
    const u = new URL(links.transcriptUrl(id)!);
    const sig = u.searchParams.get('sig')!;
    u.searchParams.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    expect((await h.get(u.pathname + u.search)).status).toBe(401);
    const old = new URL(links.transcriptUrl(id, Date.now() - 48 * 3_600_000)!);
    const expired = await h.get(old.pathname + old.search);
    expect(expired.status).toBe(401);
    expect(expired.body.error.detail).toMatch(/expired/);
    const other = new URL(new Links(h.url, 'another-admin-token-xxxx').transcriptUrl(id)!);
    expect((await h.get(other.pathname + other.search)).status).toBe(401);
    // A valid signature for an attendance that does not exist.
    const ghost = new URL(links.transcriptUrl('ghost')!);
    expect((await h.get(ghost.pathname + ghost.search)).status).toBe(404);
    expect((await h.get(`/transcripts/${id}`)).status).toBe(401);
  });
});
