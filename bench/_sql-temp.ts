/**
 * Ad-hoc (issue 15, branch sqltemp): PRAGMA temp_store FILE (SQLite's default here) against MEMORY for the OAM's
 * SQLite store, in one run, alternating A B B A.
 *   node --import tsx bench/_sql-temp.ts [N] [--prune K] [--memory-only]
 * 1. syscalls per verified update: bench/_store-count.ts (N jobs, group commit on) under `strace -f -c`, the counts
 *    of a run with 0 jobs subtracted, divided by N; the temporary files (/var/tmp/etilqs_*) show as unlink.
 * 2. CPU per verified update: bench/_store-count.ts with STORE_COUNT_CPU=1 (no strace), A B B A, twice.
 * 2b. the same cost in isolation: one transaction with a savepoint in which P rows on P pages that existed before
 *    it change (P = 20: the sub-journal holds 20 page images of 4 KiB + 4 bytes, past SQLite's 64 KiB spill bound),
 *    CPU per transaction, A B B A on one connection.
 * 3. memory bound (--prune K): a store holding K terminal jobs (3 KB of data, 7 events and 2 results of 1.4 KB each,
 *    about what a verified update leaves) pruned at once by Store.pruneJobs, in a fresh process per setting: the
 *    growth of the peak RSS (getrusage maxrss) over the prune, the temporary files it made and their largest size;
 *    and the same for Store.releaseJobs of K active jobs of one owner (3 KB of data each: what an orderly shutdown
 *    with K queued jobs does).
 * STORE_COUNT_TEMP_STORE selects the setting (see bench/_store-count.ts); the tree's own default is what runs when
 * neither is given. Since fa43190 the store sets temp_store itself at each BEGIN (docs/performance.md), so in a tree
 * with it parts 1-2 compare the same thing, and part 3 shows that the bulk operations keep their journal bounded
 * whatever the connection was set to.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSqliteStore } from '../src/store/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);

if (args[0] === '--op-child') {
  // one prune or release in this process: argv file, setting, op
  const [, file, setting, op] = args as [string, string, string, string];
  const store = await openSqliteStore({ path: file, groupCommit: true, checkpointer: false });
  store.database.pragma(`temp_store = ${setting}`);
  const before = process.resourceUsage().maxRSS;
  const t0 = process.cpuUsage();
  const n = op === 'prune' ? await store.pruneJobs(Date.now() + 1) : await store.releaseJobs('oam-a');
  const cpu = process.cpuUsage(t0);
  const after = process.resourceUsage().maxRSS;
  await store.close();
  console.log(JSON.stringify({ n, maxRssGrowthKiB: after - before, cpuMs: (cpu.user + cpu.system) / 1000 }));
  process.exit(0);
}

const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 200);
const pruneAt = args.indexOf('--prune');
const K = pruneAt >= 0 ? Number(args[pruneAt + 1]) : 0;
const dir = mkdtempSync(join(tmpdir(), 'sql-temp-'));
const settings = ['FILE', 'MEMORY', 'MEMORY', 'FILE'] as const;
const storeCount = join(root, 'bench', '_store-count.ts');

function run(cmd: string, argv: string[], env: Record<string, string>): string {
  const r = spawnSync(cmd, argv, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${r.status} ${r.stderr}`);
  return r.stdout;
}

/** syscall -> calls, from strace -c output */
function straceCounts(file: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 5 && /^\d/.test(f[0]!) && /^[a-z_0-9]+$/.test(f[f.length - 1]!)) m.set(f[f.length - 1]!, Number(f[3]));
  }
  return m;
}

function syscalls(setting: string, n: number): Map<string, number> {
  const out = join(dir, `strace-${setting}-${n}`);
  run('strace', ['-f', '-qq', '-c', '-o', out, process.execPath, '--import', 'tsx', storeCount, String(n)],
    { STORE_COUNT_CPU: '1', STORE_COUNT_TEMP_STORE: setting });
  return straceCounts(out);
}

console.log(`load: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
if (!args.includes('--memory-only')) await timeAndCalls();
async function timeAndCalls(): Promise<void> {
console.log(`\n1. syscalls per verified update (strace -f -c, bench/_store-count.ts ${N} minus 0 jobs):`);
const shown = ['total', 'openat', 'unlink', 'access', 'newfstatat', 'pwrite64', 'close'];
for (const s of settings) {
  const a = syscalls(s, N);
  const b = syscalls(s, 0);
  const per = (k: string): string => (((k === 'total' ? sum(a) - sum(b) : (a.get(k) ?? 0) - (b.get(k) ?? 0))) / N).toFixed(2);
  console.log(`  ${s.padEnd(6)} ${shown.map((k) => `${k} ${per(k)}`).join(', ')}`);
}
function sum(m: Map<string, number>): number {
  return [...m.values()].reduce((x, y) => x + y, 0);
}

console.log(`\n2. CPU per verified update (bench/_store-count.ts ${N}, STORE_COUNT_CPU=1):`);
const cpu = new Map<string, number[]>();
for (const s of [...settings, ...settings]) {
  const line = run(process.execPath, ['--import', 'tsx', storeCount, String(N)], { STORE_COUNT_CPU: '1', STORE_COUNT_TEMP_STORE: s }).trim();
  const ms = Number(/CPU ([\d.]+) ms/.exec(line)?.[1]);
  cpu.set(s, [...(cpu.get(s) ?? []), ms]);
  console.log(`  ${s.padEnd(6)} ${line}`);
}
for (const [s, v] of cpu) console.log(`  ${s.padEnd(6)} median ${[...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]!.toFixed(3)} ms (${v.map((x) => x.toFixed(2)).join(' ')})`);

console.log('\n2b. CPU per transaction: BEGIN IMMEDIATE, SAVEPOINT, 20 rows on 20 old pages updated, RELEASE, COMMIT:');
{
  const store = await openSqliteStore({ path: join(dir, 'sp.sqlite'), checkpointer: false });
  const db = store.database;
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT');
  const ins = db.prepare('INSERT INTO t (id, v) VALUES (?, ?)');
  db.transaction(() => { for (let i = 0; i < 1000; i++) ins.run(i, 'x'.repeat(3000)); })();
  const upd = db.prepare('UPDATE t SET v = ? WHERE id = ?');
  const M = 2000;
  const per = new Map<string, number[]>();
  for (const s of [...settings, ...settings]) {
    db.pragma(`temp_store = ${s}`);
    const t0 = process.cpuUsage();
    for (let i = 0; i < M; i++) {
      db.exec('BEGIN IMMEDIATE');
      db.exec('SAVEPOINT sp');
      for (let r = 0; r < 20; r++) upd.run(`${i}`.padEnd(3000, 'y'), (i * 20 + r) % 1000);
      db.exec('RELEASE sp');
      db.exec('COMMIT');
    }
    const c = process.cpuUsage(t0);
    per.set(s, [...(per.get(s) ?? []), (c.user + c.system) / M]);
  }
  for (const [s, v] of per) console.log(`  ${s.padEnd(6)} ${v.map((x) => x.toFixed(1)).join(' ')} us (user+system) per transaction`);
  await store.close();
}
}

if (K > 0) {
  console.log(`\n3. memory: pruneJobs of ${K} terminal jobs, releaseJobs of ${K} active jobs, at once (fresh process each):`);
  const seed = join(dir, 'seed.sqlite');
  const store = await openSqliteStore({ path: seed, checkpointer: false });
  const db = store.database;
  const data = JSON.stringify({ pad: 'x'.repeat(3000) });
  const token = 'y'.repeat(1400);
  const old = Date.now() - 86_400_000;
  db.transaction(() => {
    const job = db.prepare(`INSERT INTO jobs (job_id, henb_id, kind, state, data, version, terminal, created_at, updated_at)
      VALUES (?, ?, 'software-update', 'verified', ?, 8, 1, ?, ?)`);
    const ev = db.prepare('INSERT INTO job_events (job_id, seq, from_state, to_state, at, reason) VALUES (?, ?, ?, ?, ?, ?)');
    const res = db.prepare('INSERT INTO results (job_id, kind, henb_id, ear_status, token, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    const active = db.prepare(`INSERT INTO jobs (job_id, henb_id, kind, state, data, version, terminal, owner, lease_until, created_at, updated_at)
      VALUES (?, ?, 'software-update', 'queued', ?, 1, 0, 'oam-a', ?, ?, ?)`);
    for (let i = 0; i < K; i++) active.run(`active-${i}`, `a${i}`, data, old, old, old);
    for (let i = 0; i < K; i++) {
      const id = `job-${i.toString().padStart(8, '0')}`;
      job.run(id, `h${i}`, data, old, old);
      for (let e = 1; e <= 7; e++) ev.run(id, e, `s${e - 1}`, `s${e}`, old, 'step');
      res.run(id, 'pre', `h${i}`, 'affirming', token, old);
      res.run(id, 'post', `h${i}`, 'affirming', token, old);
    }
  })();
  await store.close();
  for (const [op, s] of [...settings.map((x) => ['prune', x] as const), ...settings.map((x) => ['release', x] as const)]) {
    const file = join(dir, `${op}-${s}.sqlite`);
    copyFileSync(seed, file);
    const trace = join(dir, `${op}-${s}.trace`);
    const out = run('strace', ['-f', '-qq', '-y', '-e', 'trace=openat,unlink,pwrite64', '-o', trace,
      process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--op-child', file, s, op], {}).trim();
    const lines = readFileSync(trace, 'utf8').split('\n');
    const temps = lines.filter((l) => /unlink\("\/var\/tmp\/etilqs_/.test(l)).length;
    let maxEnd = 0;
    for (const l of lines) {
      const m = /pwrite64\(\d+<\/var\/tmp\/etilqs_\w+[^>]*>.*, (\d+), (\d+)\) = \d+$/.exec(l);
      if (m) maxEnd = Math.max(maxEnd, Number(m[1]) + Number(m[2]));
    }
    console.log(`  ${op.padEnd(7)} ${s.padEnd(6)} ${out}; temporary files ${temps}, largest ${(maxEnd / 1048576).toFixed(1)} MiB`);
  }
}
rmSync(dir, { recursive: true, force: true });
