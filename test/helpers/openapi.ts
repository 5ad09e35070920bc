/**
 * Validates requests and responses against a vendor's own OpenAPI 3.0 description
 * (../shared/specs), so a simulator cannot drift from what the vendor documents and an adapter
 * cannot send what the vendor would reject (DESIGN §8). Tests that use it skip, with a message,
 * where ../shared is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

const SHARED = resolve(fileURLToPath(new URL('../../../shared/specs', import.meta.url)));

export function specPath(relative: string): string {
  return resolve(SHARED, relative);
}

export function specAvailable(relative: string): boolean {
  return existsSync(specPath(relative));
}

interface Operation {
  method: string;
  template: string;
  regex: RegExp;
  op: Record<string, any>;
}

export interface Problem {
  where: string;
  errors: string[];
}

export class OpenApi {
  private readonly ajv: Ajv;
  private readonly ops: Operation[] = [];
  private readonly cache = new Map<string, ValidateFunction>();
  private readonly doc: Record<string, any>;

  constructor(relative: string) {
    this.doc = parse(readFileSync(specPath(relative), 'utf8')) as Record<string, any>;
    // strict off: vendor specs use keywords (example, x-*, discriminator details) ajv does not know.
    this.ajv = new Ajv({ strict: false, allErrors: true, discriminator: false, validateFormats: true });
    // ajv-formats is CommonJS: under NodeNext its function is the default export's `default`.
    addFormats.default(this.ajv);
    this.ajv.addSchema(this.doc, 'spec');
    for (const [template, item] of Object.entries<Record<string, any>>(this.doc['paths'] ?? {})) {
      const regex = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\\{[^}]+\\\}|\{[^}]+\}/g, '[^/]+')}$`);
      for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
        if (item[method]) this.ops.push({ method, template, regex, op: item[method] });
      }
    }
    // Literal segments win over templated ones (e.g. /users/me before /users/{id}).
    this.ops.sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  }

  /** The operation for a concrete path (without the server's base path). */
  operation(method: string, path: string): Operation | undefined {
    const p = path.split('?')[0]!;
    return this.ops.find((o) => o.method === method.toLowerCase() && o.regex.test(p));
  }

  private validator(pointer: string): ValidateFunction {
    const cached = this.cache.get(pointer);
    if (cached) return cached;
    const v = this.ajv.compile({ $ref: `spec#${pointer}` });
    this.cache.set(pointer, v);
    return v;
  }

  private check(pointer: string, value: unknown, where: string): Problem | undefined {
    const v = this.validator(pointer);
    if (v(value)) return undefined;
    return { where, errors: (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${e.params ? JSON.stringify(e.params) : ''}`.trim()) };
  }

  private static esc(s: string): string {
    return s.replace(/~/g, '~0').replace(/\//g, '~1');
  }

  /** Validates a JSON request body; undefined when fine. Unknown operations are problems. */
  request(method: string, path: string, body: unknown): Problem | undefined {
    const o = this.operation(method, path);
    if (!o) return { where: `${method} ${path}`, errors: ['no such operation in the description'] };
    const content = o.op['requestBody']?.content;
    if (!content) return undefined;
    const media = content['application/json'] ? 'application/json' : Object.keys(content)[0];
    if (!media || !content[media]?.schema) return undefined;
    return this.check(`/paths/${OpenApi.esc(o.template)}/${o.method}/requestBody/content/${OpenApi.esc(media)}/schema`, body, `${method} ${o.template} request`);
  }

  /** Validates a JSON response body against the documented status (or `default`). */
  response(method: string, path: string, status: number, body: unknown): Problem | undefined {
    const o = this.operation(method, path);
    if (!o) return { where: `${method} ${path}`, errors: ['no such operation in the description'] };
    const responses = o.op['responses'] ?? {};
    const key = responses[String(status)] ? String(status) : responses[`${String(status)[0]}XX`] ? `${String(status)[0]}XX` : responses['default'] ? 'default' : undefined;
    if (!key) return { where: `${method} ${o.template} ${status}`, errors: [`status ${status} is not documented (documented: ${Object.keys(responses).join(', ')})`] };
    let res = responses[key];
    let pointer = `/paths/${OpenApi.esc(o.template)}/${o.method}/responses/${OpenApi.esc(key)}`;
    if (res.$ref) {
      pointer = (res.$ref as string).slice(1);
      res = pointer.split('/').slice(1).reduce((acc: any, k) => acc?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], this.doc);
    }
    const content = res?.content;
    if (!content) return undefined;
    const media = content['application/json'] ? 'application/json' : Object.keys(content)[0];
    if (!media || !content[media]?.schema) return undefined;
    return this.check(`${pointer}/content/${OpenApi.esc(media)}/schema`, body, `${method} ${o.template} ${status} response`);
  }

  /** Validates against a named component schema (e.g. a webhook payload). */
  component(name: string, value: unknown): Problem | undefined {
    return this.check(`/components/schemas/${OpenApi.esc(name)}`, value, `component ${name}`);
  }
}
