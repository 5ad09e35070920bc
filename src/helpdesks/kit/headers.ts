/**
 * Reading a webhook's headers as Node gives them (lower-case names; a repeated header as an array):
 * the first value, or undefined. One helper instead of a copy per adapter.
 */
export type Headers = Record<string, string | string[] | undefined>;

export function header(headers: Headers, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
