/**
 * Proves a server refuses a body over its limit without racing it. Sending the whole oversized body
 * races the server's early answer: Fastify answers 413 as soon as it reads a `content-length` over
 * the limit and closes the connection, and the kernel then resets the connection whose unread bytes
 * are still arriving, which can discard the answer before the client reads it (`write EPIPE` or
 * `ECONNRESET` instead of the 413 on a busy machine). So only the head is sent, declaring the
 * oversized length, and the answer is read before any body byte is written.
 */
import { request } from 'node:http';

export interface OverLimitAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

export function postOverLimit(url: string, declaredBytes: number, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<OverLimitAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(declaredBytes) } });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer to a ${declaredBytes}-byte POST ${url} within ${timeoutMs} ms (the server waits for the body?)`));
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        req.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // The head goes now; no body byte is ever written.
    req.flushHeaders();
  });
}
