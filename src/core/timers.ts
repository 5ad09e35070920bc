/**
 * Fires due timers (src/core/lifecycle.ts). Each one is taken and applied in one transaction (the
 * row's delete and its effects commit together), so a timer fires once whatever the number of
 * replicas, and a process killed mid-way leaves it armed for the next look. Polling is the
 * schedule: a timer is late by at most one poll interval.
 */
import type { Core } from './context.js';
import { fireTimer } from './lifecycle.js';

export class TimerRunner {
  private running = false;
  private loop: Promise<void> | undefined;
  private sleeper: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  constructor(
    private readonly core: Core,
    private readonly pollMs: number,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.sleeper) {
      clearTimeout(this.sleeper.timer);
      this.sleeper.resolve();
    }
    await this.loop;
  }

  /** Fires every timer due at the clock's now; returns how many fired. */
  async runDue(limit = 200): Promise<number> {
    const { store, clock } = this.core;
    let fired = 0;
    for (const t of await store.dueTimers(clock.now(), limit)) {
      const done = await store.transaction(async (q) => {
        const now = clock.now();
        const taken = await q.takeTimer(t.attendance_id, t.kind, now);
        if (!taken) return false; // re-armed, cancelled or fired elsewhere meanwhile
        await fireTimer(this.core, q, taken, now);
        return true;
      });
      if (done) fired++;
    }
    if (fired) this.core.hooks.wake();
    return fired;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.runDue();
      } catch (err) {
        this.core.log.error({ err }, 'timers: cannot fire due timers; trying again at the next poll');
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        this.sleeper = { timer: setTimeout(resolve, this.pollMs), resolve };
      });
      this.sleeper = undefined;
    }
  }
}
