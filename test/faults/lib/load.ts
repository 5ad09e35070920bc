/**
 * Conversation load: customers that keep writing (each waits for the acknowledgement before its
 * next message, so its acknowledged order is its lane order) and, for each attendance once the tool
 * has it, an agent that keeps replying the same way. Faults are injected while this runs.
 */
import type { World } from './world.js';
import { sleep } from './world.js';

export interface LoadOptions {
  /** Unique per scenario: it prefixes every text, and texts are the receivers' keys. */
  tag: string;
  customers: number;
  /** Messages per customer. */
  messages: number;
  /** Agent replies per attendance. */
  replies: number;
  /** Pause between one sender's messages (ms), to spread the load over time. */
  pauseMs?: number;
}

export interface Load {
  originators: string[];
  /** Inputs acknowledged so far, both directions. */
  acked(): number;
  total: number;
  /** Resolves when every message and reply was acknowledged. */
  done: Promise<void>;
}

export function originatorsFor(tag: string, n: number): string[] {
  const digits = [...tag].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 10_000, 7);
  return Array.from({ length: n }, (_, i) => `55${String(digits).padStart(4, '0')}${String(i).padStart(5, '0')}@wa.gw.msging.net`);
}

export function startLoad(world: World, opts: LoadOptions): Load {
  const originators = originatorsFor(opts.tag, opts.customers);
  for (const o of originators) world.blip.addCustomer({ originator: o });
  const pause = () => (opts.pauseMs ? sleep(Math.random() * opts.pauseMs * 2) : Promise.resolve());
  const customer = async (o: string, i: number) => {
    for (let j = 0; j < opts.messages; j++) {
      await world.say(o, `${opts.tag} c${i} m${j}`);
      await pause();
    }
  };
  const agent = async (o: string, i: number) => {
    if (opts.replies === 0) return;
    const attendanceId = await world.attendanceOf(o, 60_000);
    for (let j = 0; j < opts.replies; j++) {
      await world.reply(attendanceId, `${opts.tag} a${i} r${j}`);
      await pause();
    }
  };
  const done = Promise.all(originators.flatMap((o, i) => [customer(o, i), agent(o, i)])).then(() => undefined);
  // Callers await `done` later; a failure before then must not surface as an unhandled rejection.
  done.catch(() => undefined);
  return {
    originators,
    acked: () => world.ledger.customerInputs + world.ledger.agentInputs,
    total: opts.customers * (opts.messages + opts.replies),
    done,
  };
}
