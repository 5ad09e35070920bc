/**
 * A real PostgreSQL for tests (DESIGN §8): a fresh database per suite, dropped afterwards.
 *
 * By default the local cluster (Debian's postgresql-common) is used and started if it is down,
 * since CI machines boot with it stopped. Tests connect over TCP as the role `bridge_test`, made
 * here through the superuser (local peer auth, so as root or postgres) the first time; once it
 * exists, any OS user can run the tests. TEST_POSTGRES_URL instead names a server and a role
 * allowed to CREATE DATABASE (e.g. a CI service container); nothing is started then.
 *
 * Where PostgreSQL is not installed at all, `postgres()` says so and callers skip; anything else
 * that goes wrong (cannot start, cannot log in) fails loudly rather than skip quietly.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export type PostgresStatus = { ok: true; adminUrl: string } | { ok: false; reason: string };

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

const ROLE = 'bridge_test';
// A throwaway role on a test machine's loopback-only cluster; it may only create databases.
const PASSWORD = 'bridge_test';

let located: Promise<PostgresStatus> | undefined;

/** Where tests get PostgreSQL from, starting the local cluster if needed (once per process). */
export function postgres(): Promise<PostgresStatus> {
  located ??= locate();
  return located;
}

/** A new empty database; the caller drops it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const status = await postgres();
  if (!status.ok) throw new Error(`PostgreSQL is not available: ${status.reason}`);
  const name = `bridge_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(status.adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(status.adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    // FORCE: a test that failed midway may still hold connections.
    drop: () => adminQuery(status.adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function locate(): Promise<PostgresStatus> {
  const given = process.env['TEST_POSTGRES_URL'];
  if (given) return { ok: true, adminUrl: given };

  let listing: string;
  try {
    listing = execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return { ok: false, reason: 'PostgreSQL is not installed (no pg_lsclusters on PATH); install postgresql-15, or set TEST_POSTGRES_URL to a server' };
    }
    throw err;
  }
  const clusters = listing
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4)
    .map(([version, name, port, state, owner]) => ({ version: version!, name: name!, port: Number(port), state: state!, owner: owner ?? 'postgres' }));
  const cluster = clusters.find((c) => c.version === '15' && c.name === 'main') ?? clusters[0];
  if (!cluster) return { ok: false, reason: 'PostgreSQL is installed but has no cluster (pg_lsclusters lists none); create one with pg_createcluster' };

  if (!cluster.state.startsWith('online')) startCluster(cluster.version, cluster.name);
  const adminUrl = `postgres://${ROLE}:${PASSWORD}@127.0.0.1:${cluster.port}/postgres`;
  if (!(await canLogIn(adminUrl))) {
    ensureRole(cluster.port, cluster.owner);
    if (!(await canLogIn(adminUrl))) throw new Error(`cannot log in to PostgreSQL as ${ROLE} over TCP on port ${cluster.port} even after creating the role`);
  }
  return { ok: true, adminUrl };
}

function startCluster(version: string, name: string): void {
  try {
    execFileSync('pg_ctlcluster', [version, name, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // Another test process may have started it meanwhile: only the cluster's state matters.
    const now = execFileSync('pg_lsclusters', ['--no-header', version, name], { encoding: 'utf8' });
    if (!/\bonline\b/.test(now)) {
      const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
      throw new Error(`PostgreSQL ${version}/${name} is down and could not be started (pg_ctlcluster needs root or the cluster owner): ${detail}`);
    }
  }
}

/** The role, through the superuser, which local peer auth lets in only as its own OS user. */
function ensureRole(port: number, owner: string): void {
  const statement = `DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '${ROLE}') THEN
      ALTER ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${PASSWORD}';
    ELSE
      CREATE ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${PASSWORD}';
    END IF;
  END $$;`;
  const psql = ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-p', String(port), '-d', 'postgres', '-c', statement];
  const asRoot = process.getuid?.() === 0;
  const [cmd, ...args] = asRoot ? ['runuser', '-u', owner, '--', ...psql] : psql;
  try {
    execFileSync(cmd!, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    // Two test processes creating it at once: one loses the race, the role is there all the same.
    if (/already exists|tuple concurrently updated/.test(stderr)) return;
    throw new Error(
      `cannot create the PostgreSQL role ${ROLE} (run the tests once as root or ${owner}, or set TEST_POSTGRES_URL): ${stderr.trim() || (err as Error).message}`,
    );
  }
}

async function canLogIn(url: string): Promise<boolean> {
  // Just started, the server may still refuse connections for a moment.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code;
      // 28P01 wrong password, 28000 no such role: the role needs making, not more waiting.
      if (code === '28P01' || code === '28000' || Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await client.end().catch(() => {});
    }
  }
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
