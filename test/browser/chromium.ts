/**
 * Debian's chromium driven by playwright-core (never a downloaded browser): headless, sandbox off
 * (containers), no network of its own (no updates, sync or QUIC), a fresh profile per launch.
 * Without /usr/bin/chromium the browser tests are skipped with a message, except under CI=true
 * where they fail: `.ci/run` installs chromium with apt-get first.
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env['CI'] === 'true' || process.env['CI'] === '1';

/** `describe` or `describe.skip`, saying why; in CI a missing browser is an error. */
export function browserAvailable(): boolean {
  if (HAVE_CHROMIUM) return true;
  if (IN_CI) throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (apt-get install -y chromium) before the browser tests`);
  process.stderr.write(`browser tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium); CI=true makes this an error\n`);
  return false;
}

export interface Chromium {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launch(viewport = { width: 1280, height: 860 }): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), 'bridge-chromium-'));
  // A persistent context is how Playwright takes a profile directory (--user-data-dir).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
