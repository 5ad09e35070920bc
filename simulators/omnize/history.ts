/**
 * Fetching `external_history` like Omnize does (interactions.md "Start interaction":
 * `external_history | string | URL that can GET a JSON`; "External History": "Endpoint that **GET**
 * a JSON"). The request is a plain GET of the URL as given, no auth header (none is documented),
 * `Accept: application/json` (UNVERIFIED), no redirect following (UNVERIFIED). When Omnize fetches it
 * (at creation, when an agent opens the interaction, or each time) is UNVERIFIED; see
 * `fetchHistoryOn`. The answer is shape-checked against the doc (fixtures.ts `checkHistory`).
 */
import { Agent, request } from 'undici';
import { checkHistory } from './fixtures.js';
import type { HistoryFetch } from './types.js';

export class HistoryFetcher {
  private readonly agent = new Agent({ keepAliveTimeout: 1_000, connections: 8 });
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number,
  ) {}

  fetch(url: string): Promise<HistoryFetch> {
    const p = this.run(url);
    const t = p.catch(() => undefined);
    this.inFlight.add(t);
    void t.finally(() => this.inFlight.delete(t));
    return p;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await this.agent.close();
  }

  private async run(url: string): Promise<HistoryFetch> {
    const at = this.now();
    let status = 0;
    let body = '';
    let contentType: string | undefined;
    let error: string | undefined;
    try {
      const res = await request(url, {
        method: 'GET',
        headers: { accept: 'application/json' },
        dispatcher: this.agent,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.statusCode;
      const ct = res.headers['content-type'];
      contentType = Array.isArray(ct) ? ct[0] : ct;
      body = await res.body.text();
    } catch (e) {
      error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    const base = { url, at, status, contentType, body, ...(error !== undefined ? { error } : {}) };
    if (error !== undefined) return { ...base, valid: false, problems: [`no answer: ${error}`], unknownKeys: [] };
    if (status < 200 || status > 299) return { ...base, valid: false, problems: [`status ${status}`], unknownKeys: [] };
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return { ...base, valid: false, problems: ['body: not JSON'], unknownKeys: [] };
    }
    const checked = checkHistory(json);
    return { ...base, json, ...checked };
  }
}
