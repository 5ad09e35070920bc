/**
 * Paces messages to Blip per bot (DESIGN §3: Blip documents 50 messages/s on paid plans, 3/s on
 * free ones). A token bucket with a burst of one second's worth; `take()` waits for a token.
 */
export class Pacer {
  private tokens: number;
  private last = Date.now();
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly perSecond: number) {
    this.tokens = Math.max(1, perSecond);
  }

  take(): Promise<void> {
    // Chained so waiters are served in arrival order.
    const next = this.chain.then(() => this.acquire());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async acquire(): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(Math.max(1, this.perSecond), this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil(((1 - this.tokens) / this.perSecond) * 1000)));
    }
  }
}
