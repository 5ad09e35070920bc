/**
 * An attempt's deadline and its lease (src/delivery/attempt.ts): the lease covers the longest call
 * an attempt may make, and nothing leaves once the attempt's deadline has passed.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { LEASE_MARGIN_MS, attemptTiming, withDeadline } from '../../src/delivery/attempt.js';
import { DeliveryError } from '../../src/delivery/errors.js';
import { HttpClient } from '../../src/delivery/http.js';
import { ADMIN_TOKEN, ACCESS_KEY, INBOUND_TOKEN, TOOL_SECRET } from '../helpers/harness.js';

function raw(delivery: Record<string, unknown> = {}, helpdesk: Record<string, unknown> = {}) {
  return {
    server: { adminToken: ADMIN_TOKEN },
    delivery,
    bots: [
      {
        id: 'acme',
        blip: { identifier: 'acmehuman', accessKey: ACCESS_KEY, inboundToken: INBOUND_TOKEN },
        helpdesk: { type: 'webhook', url: 'https://tool.example.com/bridge', secret: TOOL_SECRET, ...helpdesk },
      },
    ],
  };
}

describe('attempt timing', () => {
  it('the lease covers the longest call: a helpdesk timeout longer than delivery.timeoutMs counts', () => {
    const config = parseConfig(raw({ timeoutMs: 1_000 }, { timeoutMs: 40_000 }), 'test');
    // media.timeoutMs defaults to 30 s; the helpdesk's 40 s is the longest call.
    expect(attemptTiming(config)).toEqual({ longestCallMs: 40_000, attemptMs: 42_000, leaseMs: 42_000 + LEASE_MARGIN_MS });
  });

  it('defaults: media downloads (30 s) are the longest call', () => {
    const config = parseConfig(raw(), 'test');
    expect(attemptTiming(config)).toEqual({ longestCallMs: 30_000, attemptMs: 50_000, leaseMs: 55_000 });
  });

  it('delivery.attemptTimeoutMs sets the attempt, but never below the longest call', () => {
    expect(attemptTiming(parseConfig(raw({ attemptTimeoutMs: 31_000 }), 'test')).leaseMs).toBe(31_000 + LEASE_MARGIN_MS);
    expect(() => parseConfig(raw({ attemptTimeoutMs: 20_000 }, { timeoutMs: 25_000 }), 'test')).toThrow(
      /delivery\.attemptTimeoutMs: 20000 is shorter than the longest call an attempt may make \(30000 ms/,
    );
  });
});

describe('calls inside an attempt', () => {
  let server: Server | undefined;
  const http = new HttpClient(5_000);
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; hits: () => number }> {
    let hits = 0;
    server = createServer((req, res) => {
      hits++;
      handler!(req, res);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const a = server.address() as { port: number };
    return { url: `http://127.0.0.1:${a.port}/x`, hits: () => hits };
  }

  it('nothing is sent once the deadline has passed (a replica resuming after its lease)', async () => {
    const peer = await listen((_req, res) => res.end('ok'));
    const err = await withDeadline(Date.now() - 1, () => http.request({ url: peer.url, body: { a: 1 } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).message).toMatch(/not sent: the attempt's deadline passed/);
    expect((err as DeliveryError).retryable).toBe(true);
    expect(peer.hits()).toBe(0);
    // Outside an attempt, and inside one with time left, calls go as usual.
    expect((await http.request({ url: peer.url })).status).toBe(200);
    expect((await withDeadline(Date.now() + 5_000, () => http.request({ url: peer.url }))).status).toBe(200);
    expect(peer.hits()).toBe(2);
  });

  it('a call gets at most what is left of the attempt, not its own longer timeout', async () => {
    const peer = await listen(() => {
      /* never answers */
    });
    const t0 = Date.now();
    const err = await withDeadline(Date.now() + 300, () => http.request({ url: peer.url, timeoutMs: 10_000 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(Date.now() - t0).toBeLessThan(5_000);
    server?.closeAllConnections();
  });
});
