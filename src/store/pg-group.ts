/**
 * Group commit for PostgreSQL. A transaction of ours is a few short statements, and BEGIN and
 * COMMIT were a third of all the round trips a message costs, with a commit that waits for the
 * WAL to reach disk (bench/: 5.4 transactions and 33 statements per customer message and its
 * reply). Transactions asked for while GROUPS groups are already committing wait, and are run one
 * after the other inside one database transaction, then committed together; none resolves before
 * that commit, so persist-before-ack holds for each.
 *
 * Unlike SQLite's group (engines.ts) there are no savepoints: on PostgreSQL each would cost two
 * more round trips per transaction, eating what grouping saves. Instead, if any member fails (its
 * callback throws, a statement fails, a deadlock with another group is broken), the whole group is
 * rolled back and every member runs again alone, in its own transaction, as it would have without
 * grouping: the failing one fails by itself and the others commit. So a callback may run twice;
 * ours only touch the store (and a rolled-back run leaves nothing behind).
 * Under light load a group is one transaction alone, so latency is unchanged.
 */
import { AsyncResource } from 'node:async_hooks';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { Queries, Store } from './store.js';

interface Pending {
  fn: (q: Queries) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Transactions committed together at most; bounds how long one group holds its connection. */
const MAX_GROUP = 16;

export class PostgresGroupStore extends Store {
  private queue: Pending[] = [];
  private running = 0;

  constructor(
    kysely: Kysely<Database>,
    /** Groups committing at once; the rest of the pool stays free for statements outside transactions. */
    private readonly groups: number,
  ) {
    super(kysely, 'postgres');
  }

  override transaction<T>(fn: (q: Queries) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // Run in the caller's async context, whichever caller's turn runs the group: what it reads
      // from its context (the trace an enqueue records) must be its own.
      this.queue.push({ fn: AsyncResource.bind(fn), resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.groups && this.queue.length > 0) {
      const group = this.queue.splice(0, MAX_GROUP);
      this.running++;
      void this.commit(group).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async commit(group: Pending[]): Promise<void> {
    if (group.length > 1) {
      let values: unknown[] | undefined;
      try {
        values = await super.transaction(async (q) => {
          const out: unknown[] = [];
          for (const p of group) out.push(await p.fn(q));
          return out;
        });
      } catch {
        values = undefined;
      }
      if (values) {
        group.forEach((p, i) => p.resolve(values[i]));
        return;
      }
    }
    // Alone, or again alone after the group failed.
    for (const p of group) await super.transaction(p.fn).then(p.resolve, p.reject);
  }
}
