/** Small helpers of the ticket route: comment bodies between HTML and text, and the rate limits' sliding window. */

export function stripHtml(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/p>\s*<p[^>]*>/gi, '\n\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A sliding window of timestamps. */
export class Window {
  private readonly hits: number[] = [];
  constructor(private readonly ms: number) {}
  private prune(now: number): void {
    while (this.hits.length > 0 && this.hits[0]! <= now - this.ms) this.hits.shift();
  }
  count(now = Date.now()): number {
    this.prune(now);
    return this.hits.length;
  }
  add(now = Date.now()): void {
    this.hits.push(now);
  }
  /** Whole seconds until one slot frees up. */
  retryAfter(now = Date.now()): number {
    this.prune(now);
    const oldest = this.hits[0];
    return oldest === undefined ? 0 : Math.max(1, Math.ceil((oldest + this.ms - now) / 1000));
  }
}
