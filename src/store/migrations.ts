/**
 * Ordered migrations. Kysely's Migrator runs them in order, each pending batch in one transaction
 * (SQLite and PostgreSQL both have transactional DDL), and records them in kysely_migration.
 * Never edit a released step: add a new one.
 */
import { PostgresAdapter, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

const steps: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('attendances')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('bot_id', 'text', (c) => c.notNull())
        .addColumn('customer_address', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('customer', 'text', (c) => c.notNull())
        .addColumn('helpdesk_key', 'text')
        .addColumn('helpdesk_ref', 'text')
        .addColumn('agent', 'text')
        .addColumn('opened_at', 'bigint', (c) => c.notNull())
        .addColumn('closed_at', 'bigint')
        .addColumn('close_reason', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      // At most one attendance per customer that is not closed: the guard against opening twice.
      await sql`CREATE UNIQUE INDEX attendances_active ON attendances (bot_id, customer_address) WHERE state <> 'closed'`.execute(db);
      await db.schema.createIndex('attendances_helpdesk_key').on('attendances').columns(['bot_id', 'helpdesk_key']).execute();
      await db.schema.createIndex('attendances_state').on('attendances').columns(['state', 'opened_at']).execute();

      await db.schema
        .createTable('messages')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('attendance_id', 'text', (c) => c.notNull().references('attendances.id'))
        .addColumn('direction', 'text', (c) => c.notNull())
        .addColumn('source_id', 'text')
        .addColumn('content', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('vendor_id', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('messages_attendance').on('messages').columns(['attendance_id', 'created_at']).execute();
      await db.schema.createIndex('messages_source').on('messages').columns(['source_id']).execute();

      await db.schema
        .createTable('dedupe')
        .addColumn('bot_id', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('dedupe_pk', ['bot_id', 'scope', 'key'])
        .execute();

      await db.schema
        .createTable('deliveries')
        .addColumn('id', isPostgres(db) ? 'bigserial' : 'integer', (c) => (isPostgres(db) ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('attendance_id', 'text', (c) => c.notNull().references('attendances.id'))
        .addColumn('bot_id', 'text', (c) => c.notNull())
        .addColumn('lane', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_until', 'bigint')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      // Lane heads: the oldest pending delivery of (attendance, lane).
      await db.schema.createIndex('deliveries_lane').on('deliveries').columns(['attendance_id', 'lane', 'state', 'id']).execute();
      await db.schema.createIndex('deliveries_due').on('deliveries').columns(['state', 'next_at']).execute();
    },
  },
};

steps['0002_attendance_transcript'] = {
  // The bot transcript as handed to the helpdesk, kept so vendors that fetch it later (Omnize's
  // external_history) can read it from us.
  async up(db: Kysely<any>) {
    await db.schema.alterTable('attendances').addColumn('transcript', 'text').execute();
  },
};

steps['0003_pending_deliveries'] = {
  // Claims scan the pending deliveries only; done and dead ones pile up until retention. A partial
  // index holds just the pending rows. PostgreSQL: every delivery is updated twice (claimed, then
  // done), so the table churns like a queue. Room on each page (fillfactor) lets the claim's update
  // of unindexed columns stay on its page (a HOT update, no new index entries), and vacuuming early
  // keeps the pending part of the indexes free of dead versions that every claim would step over
  // (bench/: a claim took 170 ms on average before).
  async up(db: Kysely<any>) {
    await db.schema.createIndex('deliveries_pending').on('deliveries').columns(['next_at', 'id']).where(sql.ref('state'), '=', 'pending').execute();
    if (isPostgres(db)) {
      await sql`ALTER TABLE deliveries SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_vacuum_cost_delay = 0)`.execute(db);
    }
  },
};

steps['0004_timers'] = {
  // The attendance lifecycle (issue 10): its clocks as stored work, and the facts they are armed from.
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('timers')
      .addColumn('attendance_id', 'text', (c) => c.notNull().references('attendances.id'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('bot_id', 'text', (c) => c.notNull())
      .addColumn('due_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('timers_pk', ['attendance_id', 'kind'])
      .execute();
    await db.schema.createIndex('timers_due').on('timers').columns(['due_at']).execute();
    for (const column of ['last_customer_at', 'last_agent_at', 'first_agent_at']) {
      await db.schema.alterTable('attendances').addColumn(column, 'bigint').execute();
    }
  },
};

steps['0005_delivery_trace'] = {
  // The W3C traceparent of the work that enqueued a delivery, so its attempts continue that trace
  // (src/telemetry/deliveries.ts); null when traces are off. Nullable without a default: adding it
  // rewrites no row on either engine.
  async up(db: Kysely<any>) {
    await db.schema.alterTable('deliveries').addColumn('trace', 'text').execute();
  },
};

/** Every step's name, in the order they run. */
export const MIGRATIONS: readonly string[] = Object.keys(steps).sort();

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return steps;
  },
};
