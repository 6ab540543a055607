/**
 * Ad-hoc (issue 15): what the OAM runner costs PostgreSQL per verified update, counted (load-independent except the
 * CPU figures). The set-up of bench/_store-count.ts (bench/_count-jobs.ts: N H(e)NBs, one software-update job each, relay evidence, the
 * fakes of test/oam/fakes.ts for the devices, the PVE, the fetcher and the tokens, group commit on as the plugin's
 * default), on the PostgreSQL store, in a throwaway cluster of bench/_fleet-pg.ts (scripts/postgres-peer-start.sh
 * with fsync, synchronous_commit and full_page_writes on, and pg_stat_statements). Only the runner: not the
 * northbound (the RPC's reads), nor the notification log the plugin appends to (RFC 5277 replay), nor the lease
 * ticks of a plugin (`claimExpiredJobs`, renewals), nor the PVE's own records.
 *
 * From the first start to the last result, per verified update:
 * - at the driver (pg.Client.prototype.query): round trips (query calls), statements by kind (a multi-statement
 *   simple query counts each statement), explicit transactions (BEGIN) and COMMITs, bytes of string parameters sent;
 * - at the sockets of the store's connections: bytes sent to and received from PostgreSQL (socket.bytesWritten /
 *   bytesRead; a connection opened in the window counts its start-up and authentication);
 * - at the server (bench/_fleet-pg.ts PgCluster.begin/end): pg_stat_statements (calls, rows and WAL bytes by
 *   statement), pg_stat_database (commits in all, tuples), WAL written by the cluster (pg_current_wal_lsn), the
 *   database's growth, the CPU time of the whole cluster (/proc); and this process's CPU (runner and fakes).
 *
 *   node --import tsx bench/_pg-count.ts [N]       (default 500)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openPostgresStore } from '../src/store/index.js';
import { countJobs } from './_count-jobs.js';
import { startPgCluster } from './_fleet-pg.js';

const N = Number(process.argv[2] ?? 500);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// --- the driver's side: every query call is one round trip
const norm = (sql: string): string => sql.replace(/\s+/g, ' ').trim();
const kindOf = (stmt: string): string => {
  const s = norm(stmt);
  const m = /^(WITH\b.*?\)\s*)?(SELECT|INSERT INTO \w+|UPDATE \w+|DELETE FROM \w+|BEGIN|COMMIT|ROLLBACK TO SAVEPOINT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)/i.exec(s);
  if (s.startsWith('WITH upd AS') || s.startsWith('WITH old AS')) return 'saveJobTransition (UPDATE jobs + INSERT job_events)';
  if (s.startsWith('WITH j AS')) return 'createJob (INSERT jobs + job_events)';
  if (/^SELECT pg_advisory_xact_lock/.test(s)) return 'SELECT pg_advisory_xact_lock';
  if (/^SELECT .* FROM (\w+)/.test(s)) return `SELECT ${/FROM (\w+)/.exec(s)![1]} (${s.slice(7, 40)}...)`;
  return m?.[2] ?? s.slice(0, 40);
};
const stmts = new Map<string, number>();
let counting = false;
let roundTrips = 0;
let begins = 0;
let commits = 0;
let paramBytes = 0;
const sockets = new Map<Socket, { written: number; read: number }>();
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const stream = (this as unknown as { connection?: { stream?: Socket } }).connection?.stream;
  if (stream !== undefined && !sockets.has(stream)) {
    // a connection first seen in the window counts from its start (its start-up and authentication)
    sockets.set(stream, counting ? { written: 0, read: 0 } : { written: stream.bytesWritten, read: stream.bytesRead });
  }
  if (counting) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text ?? '';
    roundTrips++;
    for (const part of text.split(/;\s*(?=[A-Z])/)) {
      const k = kindOf(part);
      stmts.set(k, (stmts.get(k) ?? 0) + 1);
      if (k === 'BEGIN') begins++;
      if (k === 'COMMIT') commits++;
    }
    const params = Array.isArray(args[1]) ? args[1] as unknown[] : [];
    for (const p of params) if (typeof p === 'string') paramBytes += Buffer.byteLength(p);
  }
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;
/** bytes sent and received on the store's connections since the window began */
function wire(): { sent: number; received: number } {
  let sent = 0;
  let received = 0;
  for (const [s, base] of sockets) {
    sent += s.bytesWritten - base.written;
    received += s.bytesRead - base.read;
  }
  return { sent, received };
}

const clusterDir = mkdtempSync(join(tmpdir(), 'hsv-pg-count-'));
const cluster = await startPgCluster(root, clusterDir);
try {
  const dbName = 'hsv_count';
  const url = new URL(await cluster.createDatabase(dbName));
  url.password = encodeURIComponent(cluster.password);
  const store = await openPostgresStore({ url: url.href, groupCommit: true });
  const { runner, results, startAll } = await countJobs(store, N);
  const window = await cluster.begin(dbName); // waits 11 s for the set-up's counters to be flushed, then resets
  for (const [s, b] of sockets) { b.written = s.bytesWritten; b.read = s.bytesRead; }
  counting = true;
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  await startAll();
  while (results.length < N && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 10));
  await runner.idle();
  counting = false;
  const wallMs = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const onWire = wire();
  const load = await window.end(); // reads pg_stat_statements, the WAL position, the cluster's CPU; waits 11 s for pg_stat_database
  const verified = results.filter((j) => j.state === 'verified').length;
  await runner.close();
  await store.close();

  const v = Math.max(1, verified);
  const per = (n: number, d = 2): string => (n / v).toFixed(d);
  const KiB = (n: number): string => (n / 1024 / v).toFixed(2);
  console.log(`${verified}/${N} verified in ${(wallMs / 1000).toFixed(1)} s; uptime load: ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('\nper verified update, at the driver:');
  const statements = [...stmts].reduce((a, [, n]) => a + n, 0);
  console.log(`  round trips ${per(roundTrips)}; statements ${per(statements)} (BEGIN ${per(begins)}, COMMIT ${per(commits)}); string parameters sent ${per(paramBytes, 0)} B`);
  console.log(`  bytes on the wire (store's sockets): to PostgreSQL ${KiB(onWire.sent)} KiB, from PostgreSQL ${KiB(onWire.received)} KiB`);
  for (const [k, n] of [...stmts].sort((a, b) => b[1] - a[1])) console.log(`  ${per(n).padStart(6)}  ${k}`);
  console.log('\nper verified update, at the server:');
  const utility = /^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)/i;
  console.log(`  statements (pg_stat_statements, without BEGIN/COMMIT/ROLLBACK) ${per(load.statements)}, of which SAVEPOINT/RELEASE ${per(load.all.filter((s) => /^(SAVEPOINT|RELEASE)/i.test(s.query)).reduce((a, s) => a + s.calls, 0))}`);
  console.log(`  explicit transactions (COMMIT) ${per(load.commits)}; commits in all (pg_stat_database xact_commit) ${per(load.xactCommit)}`);
  console.log(`  rows returned or changed ${per(load.rows)}; tuples inserted/updated/deleted ${per(load.tupInserted)}/${per(load.tupUpdated)}/${per(load.tupDeleted)}`);
  console.log(`  WAL written by the cluster ${KiB(load.walBytes)} KiB (the statements' own ${KiB(load.stmtWalBytes)} KiB); database growth ${KiB(load.dbGrowthBytes)} KiB`);
  console.log(`  CPU: PostgreSQL cluster ${load.cpuMs < 0 ? '-' : per(load.cpuMs)} ms; this process (runner and fakes) ${per((cpu.user + cpu.system) / 1000)} ms`);
  console.log(`  time: the transaction lock ${per(load.lockWaitMs)} ms, COMMIT (WAL flush) ${per(load.commitMs)} ms`);
  // the server's execution of the statements (sum of calls x mean time): neither BEGIN, COMMIT, ROLLBACK nor the lock's wait
  const execMs = (f: (q: string) => boolean): number => load.all.filter((s) => f(s.query)).reduce((a, s) => a + s.calls * s.meanMs, 0);
  const executed = (q: string): boolean => !/^(BEGIN|START TRANSACTION|COMMIT|ROLLBACK\b(?! TO))/i.test(q) && !/pg_advisory_xact_lock/i.test(q);
  console.log(`  server execution of the statements (pg_stat_statements calls x mean, without BEGIN/COMMIT/ROLLBACK and the lock's wait) ${per(execMs(executed), 3)} ms,`
    + ` of which the job moves ${per(execMs((q) => /^WITH (upd|old) AS/i.test(q)), 3)} ms and \`SELECT state, update_sent FROM jobs\` ${per(execMs((q) => /^SELECT state, update_sent FROM jobs/i.test(q)), 3)} ms`);
  console.log('\n  calls  rows/call  WAL B/call  mean ms  statement (pg_stat_statements)');
  for (const s of load.all) {
    if (s.calls / v < 0.05 && !utility.test(s.query)) continue;
    console.log(`  ${per(s.calls).padStart(6)}  ${(s.rows / Math.max(1, s.calls)).toFixed(1).padStart(8)}  ${(s.walBytes / Math.max(1, s.calls)).toFixed(0).padStart(10)}  ${s.meanMs.toFixed(3).padStart(7)}  ${s.query.slice(0, 110)}`);
  }
} finally {
  cluster.stop();
  rmSync(clusterDir, { recursive: true, force: true });
}
