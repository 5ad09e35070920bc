/**
 * Secrets never reach the logs (DESIGN §7): rejected requests are logged by path, because some
 * vendors put a secret in the webhook URL's query string (Omnize's trigger URL).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp, type BridgeApp } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { BOT, rawConfig } from '../helpers/harness.js';

const lines: string[] = [];
let running: BridgeApp | undefined;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const raw = rawConfig('http://127.0.0.1:9', 'http://127.0.0.1:9', '/nonexistent', { storeUrl: 'sqlite::memory:' });
  running = await buildApp(parseConfig(raw, 'test'), { logger: pino({ level: 'info' }, sink), worker: false });
});
afterAll(async () => running?.close());

it('logs a rejected request by its path, without the query string that may carry a secret', async () => {
  const secret = 'query-secret-0123456789abcdef';
  const res = await running!.app.inject({ method: 'POST', url: `/helpdesk/${BOT}/webhook?secret=${secret}`, headers: { 'content-type': 'application/json' }, payload: '{}' });
  expect(res.statusCode).toBeGreaterThanOrEqual(400);
  expect(res.statusCode).toBeLessThan(500);
  const rejected = lines.filter((l) => l.includes('request rejected'));
  expect(rejected.length).toBeGreaterThan(0);
  expect(rejected.some((l) => l.includes(`"url":"/helpdesk/${BOT}/webhook"`))).toBe(true);
  expect(lines.join('')).not.toContain(secret);
});
