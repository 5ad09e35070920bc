/**
 * The sandbox's playground in a real browser (Debian's chromium): a whole hand-off, played from the
 * one page, for the custom tool and for a vendor (ServiceNow) — the customer writes, the agent sees
 * it with the bot transcript, replies, sends a file; the customer sends a picture and a location;
 * the agent ends it and the phone shows the farewell and the Redirect back to the bot.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createSandbox, type Sandbox } from '../../src/sandbox.js';
import { browserAvailable, launch, type Chromium } from './chromium.js';

describe.runIf(browserAvailable()).each(['webhook', 'servicenow'])('playground with %s (chromium)', (helpdesk) => {
  let sandbox: Sandbox;
  let b: Chromium;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `bridge-playground-${helpdesk}-`));
    sandbox = await createSandbox({ port: 0, helpdesk, storeUrl: `sqlite:${join(dir, 'sandbox.db')}`, logLevel: 'silent' });
    b = await launch();
  });
  afterAll(async () => {
    await b?.close();
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('plays a whole hand-off from one page', { timeout: 60_000 }, async () => {
    const { page } = b;
    await page.goto(`${sandbox.bridgeUrl}/playground`);
    const phone = page.getByRole('list', { name: 'Phone conversation' });
    const desk = page.getByRole('list', { name: 'Desk conversation' });
    // The bot conversation before the hand-off is on the phone.
    await phone.getByText('How can I help?').waitFor();

    await page.getByLabel("Customer's message").fill('Hello, I need help');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await desk.getByText('Hello, I need help').waitFor({ timeout: 15_000 });
    await page.getByText(/Bot transcript \(\d+ lines\)/).waitFor();
    await page.locator('.transcript-lines').getByText(/One moment, I am calling an agent/).waitFor({ state: 'attached' });

    await page.getByLabel("Agent's reply").fill('Hi Maria, how can I help?');
    await page.getByRole('button', { name: 'Reply', exact: true }).click();
    await phone.getByText('Hi Maria, how can I help?').waitFor({ timeout: 15_000 });

    await page.getByRole('button', { name: 'Send a picture' }).click();
    await page.getByRole('button', { name: 'Send a location' }).click();
    await desk.getByText(/Paulista/).waitFor({ timeout: 15_000 });

    await page.getByRole('button', { name: 'Send a file' }).click();
    await phone.locator('img[alt]').last().waitFor({ timeout: 15_000 });

    await page.getByRole('button', { name: 'End / solve' }).click();
    await phone.getByText('Thanks for talking to us! Back to the bot now.').waitFor({ timeout: 15_000 });
    await phone.locator('[data-redirect]').waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Talk to a person again' }).waitFor();
  });
});
