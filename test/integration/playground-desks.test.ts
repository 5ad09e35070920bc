/**
 * The playground's Zendesk desks without a browser: the sandbox as `npm start -- --helpdesk <type>`
 * builds it (createSandbox on free ports), driven through the playground's HTTP routes — the
 * customer writes, the conversation reaches the agent's desk with the bot transcript, the agent
 * replies and sends a file (both reach the Blip simulator; on tickets the comment's text only), ends, and the customer is redirected
 * back to the bot.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../../src/sandbox.js';
import type { DeskConversation } from '../../src/playground/desk.js';
import { until } from '../helpers/harness.js';

interface State {
  helpdesk: string;
  customer: { thread: Array<{ direction: string; type: string; content: unknown }>; redirects: unknown[] };
  desk: { conversations: DeskConversation[] };
}

describe.each(['zendesk-messaging', 'zendesk-tickets'])('the playground with %s', (helpdesk) => {
  let sandbox: Sandbox;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `bridge-playground-${helpdesk}-`));
    sandbox = await createSandbox({ port: 0, helpdesk, storeUrl: `sqlite:${join(dir, 'sandbox.db')}`, logLevel: 'silent' });
  });
  afterAll(async () => {
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
    const res = await request(`${sandbox.bridgeUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.statusCode, body: await res.body.json() };
  }
  async function state(): Promise<State> {
    const res = await request(`${sandbox.bridgeUrl}/playground/api/state`);
    expect(res.statusCode).toBe(200);
    return (await res.body.json()) as State;
  }
  const onPhone = async (text: string) => JSON.stringify((await state()).customer.thread).includes(text);

  it('plays a whole hand-off through the desk', { timeout: 120_000 }, async () => {
    expect((await state()).helpdesk).toBe(helpdesk);
    expect((await post('/playground/api/customer/says', { kind: 'text', text: 'Hello, I need help' })).status).toBe(202);

    const conv = await until(
      async () => (await state()).desk.conversations.find((c) => c.messages.some((m) => m.from === 'customer' && m.text.includes('Hello, I need help'))),
      20_000,
      `the conversation on the ${helpdesk} desk`,
    );
    expect(conv.closed).toBe(false);
    expect(conv.transcript.join('\n')).toContain('One moment, I am calling an agent.');

    expect(await post(`/playground/api/desk/${conv.key}`, { action: 'reply', text: 'Hi Maria, how can I help?' })).toEqual({ status: 202, body: { ok: true } });
    await until(() => onPhone('Hi Maria, how can I help?'), 30_000, 'the agent reply on the phone');

    const typing = await post(`/playground/api/desk/${conv.key}`, { action: 'typing', on: true });
    if (helpdesk === 'zendesk-tickets') {
      expect(typing.status).toBe(400);
      expect(JSON.stringify(typing.body)).toMatch(/no typing indicator/);
    } else expect(typing.status).toBe(202);

    expect((await post(`/playground/api/desk/${conv.key}`, { action: 'file' })).status).toBe(202);
    if (helpdesk === 'zendesk-messaging') {
      // A file, not its name as text: a media link the customer can open.
      await until(
        async () =>
          (await state()).customer.thread.some(
            (m) => m.direction === 'sent' && m.type === 'application/vnd.lime.media-link+json' && JSON.stringify(m.content).includes('sunset.png'),
          ),
        30_000,
        'the agent file on the phone',
      );
    } else {
      // The file is on the ticket's comment; Zendesk's event webhooks carry no attachments
      // (docs/helpdesks/zendesk.md), so the phone gets the comment's text only.
      await until(
        async () =>
          (await state()).desk.conversations.find((c) => c.key === conv.key)?.messages.some((m) => m.from === 'agent' && m.media?.name === 'sunset.png'),
        30_000,
        'the file on the ticket',
      );
      await until(() => onPhone('sunset.png'), 30_000, "the file's comment on the phone");
    }

    expect((await post(`/playground/api/desk/${conv.key}`, { action: 'end' })).status).toBe(202);
    await until(async () => (await state()).customer.redirects.length > 0, 30_000, 'the Redirect back to the bot');
    expect(await onPhone('Thanks for talking to us! Back to the bot now.')).toBe(true);
    expect((await state()).desk.conversations.find((c) => c.key === conv.key)?.closed).toBe(true);
  });
});
