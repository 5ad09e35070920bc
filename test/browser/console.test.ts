/**
 * The web console in a real browser (Debian's chromium): log in with the admin token, see an
 * attendance arrive, open it, see a customer message arrive live, and replay a dead delivery —
 * then a replay the server refuses, with its reason on screen. Everything comes from the real
 * service and store between the Blip and tool simulators.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, IDENTIFIER, startHarness, until, type Harness } from '../helpers/harness.js';
import { browserAvailable, launch, type Chromium } from './chromium.js';

const C = '5511000000042@wa.gw.msging.net';

describe.runIf(browserAvailable())('web console (chromium)', () => {
  let h: Harness;
  let b: Chromium;
  beforeAll(async () => {
    h = await startHarness();
    h.blip.addCustomer({ originator: C, name: 'Joana Prado', history: [{ direction: 'sent', type: 'text/plain', content: 'Welcome to Acme! How can I help?' }] });
    b = await launch();
  });
  afterAll(async () => {
    await b?.close();
    await h?.stop();
  });

  it('keeps out a wrong token, and logs in with the right one without keeping it', async () => {
    const { page } = b;
    await page.goto(`${h.url}/console`);
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not the admin token');
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Attendances' }).waitFor();
    const cookies = await b.context.cookies();
    expect(cookies.find((c) => c.name === 'bridge_console')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie + location.href);
    expect(stored).not.toContain(ADMIN_TOKEN);
  });

  it('shows an attendance as it arrives and a customer message live in the conversation', async () => {
    const { page } = b;
    await h.blip.customerSays(C, IDENTIFIER, { type: 'text/plain', content: 'My order never arrived' });
    const row = page.getByRole('link', { name: 'Joana Prado' });
    await row.waitFor({ timeout: 10_000 });
    await row.click();
    await page.getByRole('heading', { name: /Joana Prado/ }).waitFor();
    const chat = page.getByRole('list', { name: 'Conversation' });
    await chat.getByText('My order never arrived').waitFor();
    // the bot transcript handed to the helpdesk
    await page.getByText('Welcome to Acme! How can I help?').waitFor();
    await chat.getByText(/Open in the helpdesk: done/).waitFor({ timeout: 10_000 });

    // A message sent after the page loaded appears without a reload, with its delivery status.
    await h.blip.customerSays(C, IDENTIFIER, { type: 'application/vnd.lime.location+json', content: { latitude: -23.5505, longitude: -46.6333, text: 'Av. Paulista' } });
    const bubble = chat.locator('li.bubble', { hasText: 'location' });
    await bubble.waitFor({ timeout: 10_000 });
    await bubble.getByText(/to-helpdesk message: done/).waitFor({ timeout: 10_000 });
  });

  it('replays a dead delivery, and shows why the server refuses a replay', async () => {
    const { page } = b;
    // The tool refuses the next call for good (a 4xx other than 408/409/429 is permanent): dead.
    h.tool.failNext(1, 422);
    await h.blip.customerSays(C, IDENTIFIER, { type: 'text/plain', content: 'Are you there?' });
    const dead = await until(async () => (await h.admin('GET', '/admin/deliveries?state=dead')).body.deliveries[0], 10_000, 'a dead delivery');

    await page.getByRole('link', { name: 'Deliveries' }).click();
    const row = page.locator(`tr[data-delivery-id="${dead.id}"]`);
    expect(dead.lastError).toMatch(/422/);
    await row.getByText(dead.lastError).waitFor({ timeout: 10_000 });
    await row.getByRole('button', { name: `Replay delivery ${dead.id}` }).click();
    await page.getByRole('status').getByText(`Delivery ${dead.id} is pending again`).waitFor();
    await h.tool.waitFor((t) => t.eventsOfType('customer.message').some((e) => e.data.message.content.text === 'Are you there?'));
    await until(async () => (await h.admin('GET', `/admin/attendances/${dead.attendanceId}`)).body.deliveries.find((d: { id: number }) => d.id === dead.id)?.state === 'done', 10_000, 'the replay delivered');

    // A second dead letter, replayed behind the page's back: the page's button is now stale and
    // the server refuses it with a coded 409 that the page shows.
    h.tool.failNext(1, 422);
    await h.blip.customerSays(C, IDENTIFIER, { type: 'text/plain', content: 'Hello?' });
    const second = await until(async () => (await h.admin('GET', '/admin/deliveries?state=dead')).body.deliveries[0], 10_000, 'another dead delivery');
    const stale = page.locator(`tr[data-delivery-id="${second.id}"]`);
    await stale.getByRole('button').waitFor({ timeout: 10_000 });
    await page.clock.install();
    await page.clock.pauseAt(Date.now() + 60_000);
    expect((await h.admin('POST', `/admin/deliveries/${second.id}/retry`)).status).toBe(202);
    await stale.getByRole('button', { name: `Replay delivery ${second.id}` }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(new RegExp(`Replay of delivery ${second.id} refused — BRIDGE_ERR_DELIVERY_NOT_DEAD`));
  });
});
