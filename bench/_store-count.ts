/**
 * Ad-hoc (issue 15, branch stmts): what the OAM runner does in a SQLite store per verified update, counted by
 * statement (load-independent). N H(e)NBs, one software-update job each (relay evidence, fakes for the device, the PVE,
 * the fetcher and the tokens, a real SQLite store in a temporary directory, group commit on); better-sqlite3's
 * statements counted by SQL text from the first start to the last result.
 *   node --import tsx bench/_store-count.ts [N]
 * With STORE_COUNT_CPU=1 nothing is counted: the process's CPU time (process.cpuUsage) from the first start to the
 * last result, per job (the fakes' work included; compare two trees with the same script, interleaved).
 * STORE_COUNT_WAL=1: also the bytes the commits wrote to the WAL per update (checkpoints off).
 * STORE_COUNT_TEMP_STORE=FILE|MEMORY sets PRAGMA temp_store on the store's connection after it opened (an A/B of the
 * store's own setting within one tree; see bench/_sql-temp.ts). Since fa43190 the store sets it again at each BEGIN
 * (MEMORY for its transactions, FILE for the bulk operations), so this selects nothing any more for a tree that has it.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../src/store/index.js';
import { countJobs, hookStatements } from './_count-jobs.js';

const N = Number(process.argv[2] ?? 20);
const counts = new Map<string, { n: number; bytes: number }>();
let counting = false;
const norm = (sql: string): string => sql.replace(/\s+/g, ' ').trim().slice(0, 120);
function bump(key: string, bytes: number): void {
  if (!counting) return;
  const c = counts.get(key) ?? { n: 0, bytes: 0 };
  c.n++;
  c.bytes += bytes;
  counts.set(key, c);
}
const cpuOnly = process.env.STORE_COUNT_CPU === '1';
if (!cpuOnly) {
  hookStatements((m, sql, args, call) => {
    if (m === 'exec') bump(`exec ${norm(sql)}`, 0);
    else bump(`${m} ${norm(sql)}`, /^(INSERT|UPDATE|DELETE)/i.test(sql.trim()) ? args.reduce<number>((s, a) => s + (typeof a === 'string' ? Buffer.byteLength(a) : 0), 0) : 0);
    return call();
  });
}

const dir = mkdtempSync(join(tmpdir(), 'store-count-'));
// STORE_COUNT_WAL=1: no checkpoints (no checkpointer thread, wal_autocheckpoint off): the WAL's growth over the
// updates is the bytes the store's commits wrote (pages, 4 KiB each, plus 24 bytes of frame header)
const walOnly = process.env.STORE_COUNT_WAL === '1';
const store = await openSqliteStore({ dataDir: dir, groupCommit: true, ...(walOnly ? { checkpointer: false } : {}) });
if (walOnly) store.database.pragma('wal_autocheckpoint = 0');
const walSize = (): number => statSync(join(dir, 'henb-sw-verify.sqlite-wal')).size;
const tempStore = process.env.STORE_COUNT_TEMP_STORE;
if (tempStore === 'FILE' || tempStore === 'MEMORY') store.database.pragma(`temp_store = ${tempStore}`);
const { runner, results, startAll } = await countJobs(store, N);
counting = true;
const wal0 = walOnly ? walSize() : 0;
const cpu0 = process.cpuUsage();
await startAll();
const t0 = Date.now();
while (results.length < N && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 10));
await runner.idle();
counting = false;
const cpu = process.cpuUsage(cpu0);
const walBytes = walOnly ? walSize() - wal0 : 0;
const verified = results.filter((j) => j.state === 'verified').length;
await runner.close();
await store.close();
rmSync(dir, { recursive: true, force: true });

if (walOnly) console.log(`WAL written: ${(walBytes / N / 1024).toFixed(1)} KiB per update (${(walBytes / 4120 / N).toFixed(1)} pages)`);
if (cpuOnly) {
  console.log(`${verified}/${N} verified; CPU ${((cpu.user + cpu.system) / 1000 / N).toFixed(3)} ms per job`);
  process.exit(0);
}
const rows = [...counts].sort((a, b) => b[1].n - a[1].n);
let total = 0;
let bytes = 0;
for (const [k, c] of rows) {
  total += c.n;
  bytes += c.bytes;
  console.log(`${(c.n / N).toFixed(2).padStart(7)} ${(c.bytes / N).toFixed(0).padStart(7)} B  ${k}`);
}
const kinds = new Map<string, number>();
for (const [k, c] of rows) {
  const verb = k.split(' ')[0]!;
  const w = (k.split(' ')[1] ?? '').toUpperCase();
  kinds.set(`${verb} ${w}`, (kinds.get(`${verb} ${w}`) ?? 0) + c.n);
}
console.log(`\n${verified}/${N} verified; per update: ${(total / N).toFixed(2)} statements, ${(bytes / N).toFixed(0)} bytes of string parameters written`);
console.log([...kinds].map(([k, n]) => `${k} ${(n / N).toFixed(2)}`).join('; '));
