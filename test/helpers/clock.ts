/**
 * An injected clock for the lifecycle's tests: it runs with real time (retries and leases still
 * come due) plus an offset that a test moves forward, so a 10-minute timer is reached by
 * `advance('10m')`, never by sleeping.
 */
import type { Clock } from '../../src/core/context.js';
import { durationMs } from '../../src/core/policy.js';

export class TestClock implements Clock {
  private offset = 0;

  constructor(start?: number) {
    // Never behind real time: an attempt's deadline (inside its lease, set by this clock) is
    // checked against real time when a request leaves.
    if (start !== undefined && start < Date.now()) throw new Error('TestClock: start in the future (a date after today)');
    if (start !== undefined) this.offset = start - Date.now();
  }

  now(): number {
    return Date.now() + this.offset;
  }

  advance(by: string | number): void {
    this.offset += typeof by === 'number' ? by : durationMs(by);
  }
}
