/**
 * Zendesk's idempotency keys for ticket creation (developer.zendesk.com/api-reference/ticketing/
 * introduction/#idempotency): "The Ticketing API lets you specify an idempotency key that allows you
 * to retry a ticket creation request without the risk of creating duplicate records", sent as
 * `Idempotency-Key: {unique_key}`; the first answer carries `x-idempotency-lookup: miss`.
 *
 * The same page goes on (read there; the stored copy research could quote stops after "miss"): a
 * repeat with the same key and the same parameters gets the first answer again with
 * `x-idempotency-lookup: hit`; the same key with other parameters is refused with 400
 * `IdempotentRequestError`; keys are kept for two hours. The exact error description, that only a
 * successful creation is remembered, and that keys are per account are UNVERIFIED; the lifetime is
 * an option (`idempotencyTtlMs`).
 */
import { createHash } from 'node:crypto';
import { header, type SimRequest, type SimResponse } from './http.js';

interface Remembered {
  fingerprint: string;
  response: SimResponse;
  at: number;
}

export const DEFAULT_IDEMPOTENCY_TTL_MS = 2 * 60 * 60_000;

export class IdempotencyKeys {
  private readonly byKey = new Map<string, Remembered>();
  /** How many requests were answered from a remembered key (`hit`), for assertions. */
  hits = 0;

  constructor(private readonly ttlMs: number = DEFAULT_IDEMPOTENCY_TTL_MS) {}

  /**
   * Runs `create` unless `req` repeats a remembered key: then the first answer comes back (`hit`),
   * or a 400 when the parameters differ. Requests without the header are not remembered.
   */
  run(req: SimRequest, create: () => SimResponse): SimResponse {
    const key = header(req.headers, 'idempotency-key');
    if (key === undefined || key === '') return create();
    const now = Date.now();
    for (const [k, r] of this.byKey) if (now - r.at > this.ttlMs) this.byKey.delete(k);
    // The parameters are the request body (the JSON as sent) and the query string.
    const fingerprint = createHash('sha256').update(req.query.toString()).update('\n').update(req.body).digest('hex');
    const seen = this.byKey.get(key);
    if (seen) {
      if (seen.fingerprint !== fingerprint)
        return {
          status: 400,
          json: { error: 'IdempotentRequestError', description: "Request parameters don't match the request made with the same idempotency key" },
          headers: { 'x-idempotency-lookup': 'hit' },
        };
      this.hits += 1;
      return { ...seen.response, headers: { ...seen.response.headers, 'x-idempotency-lookup': 'hit' } };
    }
    const response = create();
    if (response.status >= 200 && response.status < 300) this.byKey.set(key, { fingerprint, response, at: now });
    return { ...response, headers: { ...response.headers, 'x-idempotency-lookup': 'miss' } };
  }

  clear(): void {
    this.byKey.clear();
    this.hits = 0;
  }
}
