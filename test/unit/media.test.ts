/** Attachments are fetched only from allowed hosts, within size and time limits, never via redirects. */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchMedia, hostAllowed } from '../../src/core/media.js';
import { DeliveryError } from '../../src/delivery/errors.js';

describe('fetchMedia', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok.png') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(Buffer.alloc(2048, 1));
      } else if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/pdf' }); // no content-length: streamed
        for (let i = 0; i < 10; i++) res.write(Buffer.alloc(1024, 2));
        res.end();
      } else if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' });
        res.end();
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 2000);
      } else {
        res.writeHead(403);
        res.end('expired');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const policy = { allowedHosts: ['127.0.0.1'], maxBytes: 4096, timeoutMs: 500 };
  const fails = async (p: Promise<unknown>) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  };

  it('downloads from an allowed host', async () => {
    const m = await fetchMedia(`${base}/ok.png`, policy);
    expect(m.bytes.length).toBe(2048);
    expect(m.contentType).toBe('image/png');
  });

  it('refuses other hosts, schemes and redirects, without retrying', async () => {
    expect((await fails(fetchMedia(`${base.replace('127.0.0.1', 'localhost')}/ok.png`, policy))).retryable).toBe(false);
    expect((await fails(fetchMedia('file:///etc/passwd', policy))).retryable).toBe(false);
    const redirect = await fails(fetchMedia(`${base}/redirect`, policy));
    expect(redirect.message).toMatch(/302/);
    expect(redirect.retryable).toBe(false);
  });

  it('stops at the size limit even without content-length, and at the deadline', async () => {
    expect((await fails(fetchMedia(`${base}/big`, policy))).message).toMatch(/limit/);
    expect((await fails(fetchMedia(`${base}/slow`, policy))).retryable).toBe(true);
    expect((await fails(fetchMedia(`${base}/expired`, policy))).retryable).toBe(false);
  });

  it('matches exact hosts and dotted suffixes', () => {
    const allowed = ['blipmediastore.blob.core.windows.net', '.msging.net'];
    expect(hostAllowed(new URL('https://blipmediastore.blob.core.windows.net/x'), allowed)).toBe(true);
    expect(hostAllowed(new URL('https://acme.http.msging.net/x'), allowed)).toBe(true);
    expect(hostAllowed(new URL('https://msging.net/x'), allowed)).toBe(true);
    expect(hostAllowed(new URL('https://evilmsging.net/x'), allowed)).toBe(false);
    expect(hostAllowed(new URL('https://blipmediastore.blob.core.windows.net.evil.io/x'), allowed)).toBe(false);
  });
});
