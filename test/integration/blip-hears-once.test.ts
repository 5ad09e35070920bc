/**
 * Blip hears once, and learns nothing private (issue 11): when the helpdesk cannot open the
 * attendance, each customer message gets exactly one `failed`, whose reason is a stable code and a
 * plain sentence — not the tool's URL, status or body — and the customer is handed back (failed).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IDENTIFIER, startHarness, until, type Harness } from '../helpers/harness.js';

const ANA = '5511966660001@wa.gw.msging.net';

describe('a failed open', () => {
  let h: Harness;
  afterEach(async () => h?.stop());

  it('one failed per customer message, a plain reason, then the customer goes back to the bot', async () => {
    h = await startHarness({ bot: { blip: { returnTo: 'principal' }, attendance: { messages: { failed: 'Sorry, no one can take this now.' } } } });
    // A permanent refusal with a body that names internals.
    h.tool.failNext(1, 403);
    h.blip.addCustomer({ originator: ANA });
    const ids: string[] = [];
    for (const text of ['one', 'two', 'three']) ids.push((await h.blip.customerSays(ANA, IDENTIFIER, { type: 'text/plain', content: text })).id);
    await until(() => h.blip.messagesTo(ANA).some((r) => r.body.type === 'application/vnd.lime.redirect+json'), 10_000, 'the Redirect');
    await new Promise((r) => setTimeout(r, 300)); // any second notification would be on its way by now
    const failed = h.blip.received.notifications.filter((r) => r.body?.event === 'failed');
    expect(failed.map((r) => r.body.id).sort()).toEqual([...ids].sort());
    for (const f of failed) {
      expect(f.body.reason).toEqual({ code: 102, description: 'The conversation could not be handed to the support team.' });
      expect(JSON.stringify(f.body)).not.toMatch(/127\.0\.0\.1|http|403/);
    }
    expect(h.blip.received.notifications.filter((r) => r.body?.event === 'consumed')).toEqual([]);
    const texts = h.blip.messagesTo(ANA).map((r) => (typeof r.body.content === 'string' ? r.body.content : r.body.content.context?.value?.closeReason));
    expect(texts).toEqual(['Sorry, no one can take this now.', 'failed']);
  });
});
