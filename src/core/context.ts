/**
 * What every part of the core works with: the store, the bots, the clock, and the hooks that tell
 * the rest of the process what happened. Passed explicitly (no module state) so tests can build one
 * with an injected clock.
 */
import type { Logger } from 'pino';
import type { CloseReason } from '../helpdesks/adapter.js';
import { BridgeError } from '../http/errors.js';
import type { Store } from '../store/store.js';
import type { BotRuntime } from './runtime.js';

/** Time as the lifecycle sees it: tests inject one and move it; production reads the system clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface CoreHooks {
  /** New work was enqueued (deliveries or timers): look now rather than at the next poll. */
  wake(): void;
  /** An attendance began closing (bridge_attendances_closed_total). */
  closing(bot: string, reason: CloseReason): void;
}

export class Core {
  hooks: CoreHooks = { wake: () => undefined, closing: () => undefined };

  constructor(
    readonly store: Store,
    readonly bots: ReadonlyMap<string, BotRuntime>,
    readonly log: Logger,
    readonly clock: Clock,
    /** Seals sensitive contents at rest (src/core/sensitive.ts). */
    readonly sealKey: Buffer,
  ) {}

  bot(id: string): BotRuntime {
    const b = this.bots.get(id);
    if (!b) throw new BridgeError('BRIDGE_ERR_UNKNOWN_BOT', `no bot "${id}"`);
    return b;
  }
}
