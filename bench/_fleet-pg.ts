/**
 * PostgreSQL for bench/fleet.ts (BENCH_FLEET_STORE=postgres; not run by bench/run.ts: the name starts with _).
 *
 * One throwaway cluster per benchmark (scripts/postgres-peer-start.sh, with pg_stat_statements preloaded), one
 * fresh database per fleet run, and what each run cost PostgreSQL, read as the cluster's superuser:
 * - statements and their rows, WAL bytes and buffer traffic per statement from pg_stat_statements (reset
 *   when the NMS sends the first software-update, read when the last result arrived);
 * - transactions (commits) and tuples from pg_stat_database (backends flush these counters at most once a
 *   second and within 10 s when idle: both snapshots wait for that);
 * - WAL written by the whole cluster (pg_current_wal_lsn before/after) and the growth of the database.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export interface PgCluster {
  dir: string;
  /** postgres://USER@127.0.0.1:PORT/ (no password, no database) */
  baseUrl: URL;
  password: string;
  /** a fresh database owned by the test role; its URL without password */
  createDatabase(name: string): Promise<string>;
  /** snapshot for one database (call at the start of the measured window) */
  begin(db: string): Promise<PgWindow>;
  stop(): void;
}

export interface PgWindow {
  /** the load since begin() */
  end(): Promise<PgLoad>;
}

export interface PgLoad {
  /** statements other than BEGIN/COMMIT/ROLLBACK */
  statements: number;
  /** explicit transactions (COMMIT statements) */
  commits: number;
  /** pg_stat_database xact_commit (explicit and single-statement transactions) */
  xactCommit: number;
  rows: number;
  tupInserted: number;
  tupUpdated: number;
  tupDeleted: number;
  /** WAL bytes of the measured statements (pg_stat_statements wal_bytes) */
  stmtWalBytes: number;
  /** WAL written by the cluster in the window (pg_current_wal_lsn difference) */
  walBytes: number;
  /** growth of the database (pg_database_size) */
  dbGrowthBytes: number;
  /** the statements run most often: calls, rows, wal bytes, mean ms, the text (first 100 chars) */
  top: Array<{ calls: number; rows: number; walBytes: number; meanMs: number; query: string }>;
  /** time spent waiting for the transaction lock (pg_advisory_xact_lock: one holder at a time, all instances), ms */
  lockWaitMs: number;
  /** time of the COMMITs (the WAL flush with synchronous_commit on), ms */
  commitMs: number;
  /** pg_stat_statements was not available (only the pg_stat_database and WAL figures are real) */
  noStatements: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function script(root: string, name: string, args: string[], env: NodeJS.ProcessEnv): string {
  return execFileSync('bash', [join(root, 'scripts', name), ...args], { env, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function startPgCluster(root: string, dir: string): Promise<PgCluster> {
  const env = {
    ...process.env, PEERS_DIR: dir,
    // pg_stat_statements counts every statement and its WAL; more connections than the tests' 50 (instances x
    // pool-size + this); durability back on (the test clusters run without it): commits and WAL as in production
    PG_CONF_EXTRA: [
      "shared_preload_libraries = 'pg_stat_statements'", 'pg_stat_statements.track_utility = on', 'max_connections = 120',
      'fsync = on', 'synchronous_commit = on', 'full_page_writes = on',
    ].join('\n'),
  };
  try {
    script(root, 'postgres-peer-stop.sh', [], env);
  } catch { /* nothing left over */ }
  let out: string;
  try {
    out = script(root, 'postgres-peer-start.sh', [], env);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`scripts/postgres-peer-start.sh failed (PostgreSQL installed? scripts/install-peers.sh): ${err.stderr ?? err.message}`);
  }
  const lines = out.trim().split('\n');
  const u = new URL(lines[lines.length - 1] ?? '');
  const password = decodeURIComponent(u.password);
  u.password = '';
  u.pathname = '/';
  const adminUrl = readFileSync(join(dir, 'admin-url'), 'utf8').trim();
  const admin = async <T>(db: string, f: (c: pg.Client) => Promise<T>): Promise<T> => {
    const au = new URL(adminUrl);
    au.pathname = `/${db}`;
    const c = new pg.Client({ connectionString: au.href });
    await c.connect();
    try {
      return await f(c);
    } finally {
      await c.end();
    }
  };
  const role = decodeURIComponent(u.username);
  return {
    dir, baseUrl: u, password,
    async createDatabase(name) {
      await admin('postgres', (c) => c.query(`CREATE DATABASE "${name}" OWNER "${role}"`));
      await admin(name, (c) => c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')).catch(() => undefined);
      const url = new URL(u.href);
      url.pathname = `/${name}`;
      return url.href;
    },
    async begin(db) {
      const c = new pg.Client({ connectionString: ((): string => { const au = new URL(adminUrl); au.pathname = `/${db}`; return au.href; })() });
      await c.connect();
      const dbStats = async (): Promise<Record<string, number>> => {
        await c.query('SELECT pg_stat_clear_snapshot()');
        const r = await c.query<Record<string, string>>(
          'SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, pg_database_size(datname) AS size FROM pg_stat_database WHERE datname = $1', [db]);
        return Object.fromEntries(Object.entries(r.rows[0] ?? {}).map(([k, v]) => [k, Number(v)]));
      };
      const lsn = async (): Promise<string> => (await c.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
      // counters of the OAM's start (migrations, inventory) still pending in its backends: flushed within 10 s
      await sleep(11_000);
      const before = await dbStats();
      const lsn0 = await lsn();
      let noStatements = false;
      await c.query('SELECT pg_stat_statements_reset()').catch(() => { noStatements = true; });
      return {
        async end(): Promise<PgLoad> {
          try {
            const lsn1 = await lsn();
            let top: PgLoad['top'] = [];
            let statements = 0;
            let commits = 0;
            let rows = 0;
            let stmtWalBytes = 0;
            let lockWaitMs = 0;
            let commitMs = 0;
            if (!noStatements) {
              const r = await c.query<{ query: string; calls: string; rows: string; wal_bytes: string; mean_exec_time: number; total_exec_time: number }>(
                `SELECT query, calls, rows, wal_bytes, mean_exec_time, total_exec_time FROM pg_stat_statements
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) ORDER BY calls DESC`, [db]);
              for (const s of r.rows) {
                const q = s.query.trim().replace(/\s+/g, ' ');
                if (/^(BEGIN|START TRANSACTION)\b/i.test(q)) continue;
                if (/^COMMIT\b/i.test(q)) { commits += Number(s.calls); commitMs += s.total_exec_time; continue; }
                if (/pg_advisory_xact_lock/i.test(q)) lockWaitMs += s.total_exec_time;
                if (/^(ROLLBACK|SELECT pg_stat_clear_snapshot|SELECT pg_current_wal_lsn)/i.test(q)) continue;
                statements += Number(s.calls);
                rows += Number(s.rows);
                stmtWalBytes += Number(s.wal_bytes);
                if (top.length < 12) top.push({ calls: Number(s.calls), rows: Number(s.rows), walBytes: Number(s.wal_bytes), meanMs: s.mean_exec_time, query: q.slice(0, 100) });
              }
            }
            const walBytes = Number((await c.query<{ d: string }>('SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn) AS d', [lsn1, lsn0])).rows[0]!.d);
            await sleep(11_000);
            const after = await dbStats();
            top = top.sort((a, b) => b.calls - a.calls);
            return {
              statements, commits, rows, stmtWalBytes, walBytes, top, noStatements, lockWaitMs, commitMs,
              xactCommit: (after.xact_commit ?? 0) - (before.xact_commit ?? 0),
              tupInserted: (after.tup_inserted ?? 0) - (before.tup_inserted ?? 0),
              tupUpdated: (after.tup_updated ?? 0) - (before.tup_updated ?? 0),
              tupDeleted: (after.tup_deleted ?? 0) - (before.tup_deleted ?? 0),
              dbGrowthBytes: (after.size ?? 0) - (before.size ?? 0),
            };
          } finally {
            await c.end();
          }
        },
      };
    },
    stop() {
      try {
        script(root, 'postgres-peer-stop.sh', [], env);
      } catch (e) {
        console.error(`postgres-peer-stop.sh: ${(e as { stderr?: string }).stderr ?? String(e)}`);
      }
    },
  };
}
