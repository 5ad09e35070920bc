/**
 * The playground's desks for Intercom and Omnize, without a browser: the sandbox as `npm start --
 * --helpdesk <type>` builds it, played through the playground's HTTP routes — the customer writes,
 * the conversation reaches the desk (with the bot transcript), the agent replies, the customer's
 * picture reaches the desk, the agent sends a file,
 * the reply reaches the Blip simulator, the agent ends, and the customer is redirected to the bot.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../../src/sandbox.js';
import type { DeskConversation } from '../../src/playground/desk.js';
import { until } from '../helpers/harness.js';

const free = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/**
 * A port whose next two are free too: the sandbox puts its simulators on PORT+1 and PORT+2, and
 * its `server.publicUrl` (Omnize's `external_history`) is known only for a fixed PORT.
 */
async function threeFreePorts(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    if ((await free(port)) && (await free(port + 1)) && (await free(port + 2))) return port;
  }
  throw new Error('no three consecutive free ports');
}

interface State {
  customer: { thread: unknown[]; redirects: unknown[] };
  desk: { conversations: DeskConversation[] };
}

describe.each(['intercom', 'omnize'])('the playground plays %s', (helpdesk) => {
  let sandbox: Sandbox | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    sandbox = undefined;
    dir = undefined;
  });

  it('customer to desk, the agent replies, sends a file, ends; the customer goes back to the bot', { timeout: 120_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), `bridge-playground-${helpdesk}-`));
    sandbox = await createSandbox({ port: await threeFreePorts(), helpdesk, storeUrl: `sqlite:${join(dir, 'sandbox.db')}`, logLevel: 'silent' });
    const base = sandbox.bridgeUrl;
    const state = async (): Promise<State> => (await fetch(`${base}/playground/api/state`)).json() as Promise<State>;
    const post = async (path: string, body: unknown) => {
      const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };

    expect((await post('/playground/api/customer/says', { kind: 'text', text: 'Hello, I need help' })).status).toBe(202);
    const conversation = await until(
      async () => (await state()).desk.conversations.find((c) => c.messages.some((m) => m.from === 'customer' && m.text === 'Hello, I need help')),
      15_000,
      `the ${helpdesk} conversation`,
    );
    expect(conversation.customer).toBe('Maria Silva');
    expect(conversation.closed).toBe(false);
    // The bot transcript as the agent sees it (Intercom: the first message; Omnize: fetched from the bridge).
    await until(async () => (await state()).desk.conversations[0]?.transcript.some((l) => l.includes('One moment, I am calling an agent.')), 30_000, 'the transcript');

    const key = encodeURIComponent(conversation.key);
    expect(await post(`/playground/api/desk/${key}`, { action: 'reply', text: 'Hi Maria, how can I help?' })).toMatchObject({ status: 202 });
    await until(async () => JSON.stringify((await state()).customer.thread).includes('Hi Maria, how can I help?'), 30_000, 'the reply on the phone');

    // The customer's picture reaches the agent (Intercom re-uploads it from media.allowedHosts).
    expect((await post('/playground/api/customer/says', { kind: 'picture', caption: 'my bill' })).status).toBe(202);
    await until(async () => (await state()).desk.conversations[0]?.messages.some((m) => m.from === 'customer' && m.media), 30_000, 'the picture on the desk');

    expect(await post(`/playground/api/desk/${key}`, { action: 'file' })).toMatchObject({ status: 202 });
    await until(async () => JSON.stringify((await state()).customer.thread).includes('sunset.png'), 30_000, 'the file on the phone');

    const typing = await post(`/playground/api/desk/${key}`, { action: 'typing', on: true });
    if (helpdesk === 'intercom') expect(typing).toMatchObject({ status: 400, body: { error: { code: 'BRIDGE_ERR_INVALID_REQUEST', detail: expect.stringMatching(/no API or webhook for an admin typing/) } } });
    else expect(typing.status).toBe(202);

    expect(await post(`/playground/api/desk/${key}`, { action: 'end' })).toMatchObject({ status: 202 });
    await until(async () => (await state()).customer.redirects.length > 0, 30_000, 'the Redirect back to the bot');
    const after = await state();
    expect(JSON.stringify(after.customer.thread)).toContain('Thanks for talking to us! Back to the bot now.');
    expect(after.desk.conversations[0]).toMatchObject({ key: conversation.key, closed: true });
  });
});
