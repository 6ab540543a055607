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
import { readFileSync, readdirSync } from 'node:fs';
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
  /** what the database holds of the run's software-update jobs (call after the last result) */
  jobs(db: string): Promise<JobCheck>;
  stop(): void;
}

/**
 * No job run twice, as the database records it: one software-update job per H(e)NB, and in each job's audit
 * records (job-created, job-transition: the owner of every step) one step that sent the update and one owner.
 */
export interface JobCheck {
  jobs: number;
  henbs: number;
  /** most software-update jobs of one H(e)NB */
  maxJobsPerHenb: number;
  terminal: number;
  /** jobs whose audit records show the software-update sent once / more than once / never */
  sentOnce: number;
  sentTwice: number;
  sentNever: number;
  /** jobs whose steps were taken by more than one instance (a lease taken over) */
  ownersTwo: number;
  /** steps per job (audit records), mean */
  stepsPerJob: number;
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
  /** every statement pg_stat_statements kept for the database, BEGIN/COMMIT/ROLLBACK included, most calls first (full text) */
  all: Array<{ calls: number; rows: number; walBytes: number; meanMs: number; query: string }>;
  /** the lease renewals (since schema migration 8 the instance's heartbeat, INSERT INTO instances ...: one row per instance every lease/3,
   * and at claimJobs; before, UPDATE jobs SET lease_until ...: every active job of an instance), however rarely run */
  renewals: { calls: number; rows: number; walBytes: number };
  /** time spent waiting for the transaction lock (pg_advisory_xact_lock: one holder at a time, all instances), ms */
  lockWaitMs: number;
  /** time of the COMMITs (the WAL flush with synchronous_commit on), ms */
  commitMs: number;
  /** pg_stat_statements was not available (only the pg_stat_database and WAL figures are real) */
  noStatements: boolean;
  /** CPU time of the whole cluster in the window (postmaster and every process under it, ended ones included), ms; -1 without /proc */
  cpuMs: number;
}

/**
 * CPU time of the cluster so far, ms (Linux /proc; -1 elsewhere): the postmaster's own and its ended children's
 * (utime, stime, cutime, cstime: a backend that exits is added to its parent's c-times when reaped), plus every
 * live child's (backends, WAL writer, checkpointer, ...). The cluster serves only the benchmark's databases.
 */
export function clusterCpuMs(dataDir: string): number {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const hz = 100; // USER_HZ: 100 on Linux whatever the kernel's HZ
    const stat = (p: string): string[] => {
      const t = readFileSync(`/proc/${p}/stat`, 'utf8');
      return t.slice(t.lastIndexOf(')') + 2).split(' '); // [0] state, [1] ppid, ..., [11..14] utime stime cutime cstime
    };
    const cpu = (f: string[]): number => Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    let ticks = cpu(stat(String(pid)));
    for (const p of readdirSync('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      try {
        const f = stat(p);
        if (Number(f[1]) === pid) ticks += cpu(f);
      } catch { /* ended meanwhile */ }
    }
    return (ticks * 1000) / hz;
  } catch {
    return -1;
  }
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
      const cpu0 = clusterCpuMs(join(dir, 'data'));
      return {
        async end(): Promise<PgLoad> {
          try {
            const lsn1 = await lsn();
            const cpu1 = clusterCpuMs(join(dir, 'data'));
            let top: PgLoad['top'] = [];
            const all: PgLoad['all'] = [];
            let statements = 0;
            let commits = 0;
            let rows = 0;
            let stmtWalBytes = 0;
            let lockWaitMs = 0;
            let commitMs = 0;
            const renewals = { calls: 0, rows: 0, walBytes: 0 };
            if (!noStatements) {
              const r = await c.query<{ query: string; calls: string; rows: string; wal_bytes: string; mean_exec_time: number; total_exec_time: number }>(
                `SELECT query, calls, rows, wal_bytes, mean_exec_time, total_exec_time FROM pg_stat_statements
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) ORDER BY calls DESC`, [db]);
              for (const s of r.rows) {
                const q = s.query.trim().replace(/\s+/g, ' ');
                all.push({ calls: Number(s.calls), rows: Number(s.rows), walBytes: Number(s.wal_bytes), meanMs: s.mean_exec_time, query: q });
                if (/^(BEGIN|START TRANSACTION)\b/i.test(q)) continue;
                if (/^COMMIT\b/i.test(q)) { commits += Number(s.calls); commitMs += s.total_exec_time; continue; }
                if (/pg_advisory_xact_lock/i.test(q)) lockWaitMs += s.total_exec_time;
                if (/^(ROLLBACK|SELECT pg_stat_clear_snapshot|SELECT pg_current_wal_lsn)/i.test(q)) continue;
                if (/^(UPDATE jobs SET lease_until|INSERT INTO instances)\b/i.test(q)) {
                  renewals.calls += Number(s.calls);
                  renewals.rows += Number(s.rows);
                  renewals.walBytes += Number(s.wal_bytes);
                }
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
              statements, commits, rows, stmtWalBytes, walBytes, top, all, renewals, noStatements, lockWaitMs, commitMs,
              cpuMs: cpu0 < 0 || cpu1 < 0 ? -1 : cpu1 - cpu0,
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
    async jobs(db) {
      return admin(db, async (c) => {
        const j = (await c.query<Record<string, string>>(
          `SELECT count(*) AS jobs, count(DISTINCT henb_id) AS henbs, count(*) FILTER (WHERE terminal) AS terminal,
                  coalesce((SELECT max(n) FROM (SELECT count(*) AS n FROM jobs WHERE kind = 'software-update' GROUP BY henb_id) x), 0) AS max_per_henb
           FROM jobs WHERE kind = 'software-update'`)).rows[0]!;
        const a = (await c.query<Record<string, string>>(
          `SELECT count(*) FILTER (WHERE sent = 1) AS once, count(*) FILTER (WHERE sent > 1) AS twice, count(*) FILTER (WHERE sent = 0) AS never,
                  count(*) FILTER (WHERE owners > 1) AS owners_two, coalesce(avg(steps), 0) AS steps
           FROM (SELECT a.object, count(*) FILTER (WHERE (a.details::json->>'updateSent') = 'true') AS sent,
                        count(DISTINCT a.details::json->>'owner') AS owners, count(*) AS steps
                 FROM audit_log a JOIN jobs ON a.object = 'job/' || jobs.job_id
                 WHERE jobs.kind = 'software-update' GROUP BY a.object) per_job`)).rows[0]!;
        return {
          jobs: Number(j.jobs), henbs: Number(j.henbs), maxJobsPerHenb: Number(j.max_per_henb), terminal: Number(j.terminal),
          sentOnce: Number(a.once), sentTwice: Number(a.twice), sentNever: Number(a.never), ownersTwo: Number(a.owners_two), stepsPerJob: Number(a.steps),
        };
      });
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
