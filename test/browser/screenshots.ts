/**
 * `npm run docs:screenshots`: the pictures of docs/ (README shows them), taken with the browser
 * tests' chromium setup from a real sandbox played through the playground: nothing staged by hand.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSandbox } from '../../src/sandbox.js';
import { SANDBOX } from '../../src/sandbox.js';
import { launch } from './chromium.js';

const dir = mkdtempSync(join(tmpdir(), 'bridge-screenshots-'));
const sandbox = await createSandbox({ port: 0, helpdesk: process.env['SANDBOX_HELPDESK'] || 'webhook', storeUrl: `sqlite:${join(dir, 'sandbox.db')}`, logLevel: 'silent' });
const b = await launch({ width: 1280, height: 900 });
try {
  const { page } = b;
  await page.goto(`${sandbox.bridgeUrl}/playground`);
  const phone = page.getByRole('list', { name: 'Phone conversation' });
  const desk = page.getByRole('list', { name: 'Desk conversation' });
  await page.getByLabel("Customer's message").fill('Hello, my order #4521 has not arrived');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await desk.getByText('my order #4521').waitFor({ timeout: 15_000 });
  await page.getByLabel("Agent's reply").fill('Hi Maria! Let me check that for you.');
  await page.getByRole('button', { name: 'Reply', exact: true }).click();
  await phone.getByText('Let me check that').waitFor({ timeout: 15_000 });
  await page.getByRole('button', { name: 'Send a picture' }).click();
  await page.getByRole('button', { name: 'Send a location' }).click();
  await desk.getByText(/Paulista/).waitFor({ timeout: 15_000 });
  await page.getByRole('button', { name: 'Send a file' }).click();
  await phone.locator('img[alt]').last().waitFor({ timeout: 15_000 });
  await page.screenshot({ path: 'docs/playground.png' });

  await page.goto(`${sandbox.bridgeUrl}/console`);
  await page.getByLabel('Admin token').fill(SANDBOX.adminToken);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('link', { name: 'Maria Silva' }).first().waitFor();
  await page.screenshot({ path: 'docs/console-attendances.png' });
  await page.getByRole('link', { name: 'Maria Silva' }).first().click();
  await page.getByRole('list', { name: 'Conversation' }).getByText('Let me check that').waitFor();
  await page.screenshot({ path: 'docs/console-attendance.png', fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: 'docs/console-phone.png' });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByRole('link', { name: 'Bots' }).click();
  await page.getByText(/helpdesk \(/).waitFor({ timeout: 15_000 });
  await page.screenshot({ path: 'docs/console-bots.png', fullPage: true });
  process.stdout.write('docs/playground.png, docs/console-attendances.png, docs/console-attendance.png, docs/console-phone.png, docs/console-bots.png\n');
} finally {
  await b.close();
  await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
}
