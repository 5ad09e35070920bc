/**
 * The browser pages' files (the console, the sandbox's playground), built from console/ into
 * dist/console by `npm run build`, read once at start and served with strict headers.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import { BridgeError } from './errors.js';

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/**
 * Scripts and styles from this origin only; pictures also from the media hosts customers' and
 * agents' attachments live on; the page cannot be framed (clickjacking of its buttons).
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The build output, found from this file whether it runs from src/ (tests) or dist/src/. */
export function consoleBuildDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  // From dist/src/http the walk stops at the repository (dist/ has no package.json).
  return join(dir, 'dist', 'console');
}

export class Assets {
  private readonly files = new Map<string, Asset>();
  private readonly missing: string | undefined;

  constructor(names: string[], dir = consoleBuildDir()) {
    for (const name of names) {
      const path = join(dir, name);
      if (!existsSync(path)) {
        this.missing = `the page is not built (${path} is missing): run npm run build`;
        return;
      }
      const body = readFileSync(path);
      const type = TYPES[name.split('.').pop() ?? ''] ?? 'application/octet-stream';
      this.files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
  }

  has(name: string): boolean {
    return this.missing !== undefined || this.files.has(name);
  }

  send(reply: FastifyReply, name: string, ifNoneMatch: string | undefined): FastifyReply {
    if (this.missing) throw new BridgeError('BRIDGE_ERR_NOT_READY', this.missing);
    const a = this.files.get(name);
    if (!a) throw new BridgeError('BRIDGE_ERR_NOT_FOUND', `no asset "${name}"`);
    void reply
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .header('cache-control', 'no-cache')
      .header('etag', a.etag);
    if (ifNoneMatch === a.etag) return reply.code(304).send();
    return reply.type(a.type).send(a.body);
  }
}
