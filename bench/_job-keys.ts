/**
 * Ad-hoc (issue 15, branch jobsplit): where the bytes of a job's data are. One verified software update (relay
 * evidence, bench/_count-jobs.ts) on a real SQLite store; every createJob / saveJobTransition's data recorded: per
 * top-level key, its JSON size at each write and whether it changed since the job's previous write.
 *   node --import tsx bench/_job-keys.ts      (BENCH_PVE_LOG=1: the PVE's verdicts carry the log, bench/_count-jobs.ts)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../src/store/index.js';
import { countJobs } from './_count-jobs.js';

const dir = mkdtempSync(join(tmpdir(), 'job-keys-'));
const store = await openSqliteStore({ dataDir: dir, groupCommit: true });
const writes: Array<{ state: string; data: Record<string, unknown> }> = [];
const wrapTx = <S extends object>(s: S): S => new Proxy(s, {
  get(t, p, r) {
    const v = Reflect.get(t, p, r) as unknown;
    if (typeof v !== 'function') return v;
    if (p === 'createJob') return (job: { state: string; data: Record<string, unknown> }) => { writes.push({ state: job.state, data: structuredClone(job.data) }); return (v as (j: unknown) => unknown).call(t, job); };
    if (p === 'saveJobTransition') return (id: string, st: string, o: { data?: Record<string, unknown> }) => { if (o.data !== undefined) writes.push({ state: st, data: structuredClone(o.data) }); return (v as (...a: unknown[]) => unknown).call(t, id, st, o); };
    if (p === 'transaction') return (fn: (tx: unknown) => unknown) => (v as (f: unknown) => unknown).call(t, (tx: object) => fn(wrapTx(tx)));
    return (v as (...a: unknown[]) => unknown).bind(t);
  },
});
const { runner, results, startAll } = await countJobs(wrapTx(store), 1);
await startAll();
while (results.length < 1) await new Promise((r) => setTimeout(r, 5));
await runner.idle();
await runner.close();
await store.close();
rmSync(dir, { recursive: true, force: true });

const keys = [...new Set(writes.flatMap((w) => Object.keys(w.data)))];
const size = (v: unknown): number => (v === undefined ? 0 : Buffer.byteLength(JSON.stringify(v)));
console.log(`${results[0]?.state}: ${writes.length} writes of the job's data; total ${writes.reduce((s, w) => s + size(w.data), 0)} B`);
console.log(`states: ${writes.map((w) => w.state).join(' > ')}`);
console.log('key'.padEnd(20) + ' sizes at each write (* = changed since the previous write)   total B   changed B');
let all = 0;
let changedAll = 0;
const rows: Array<[string, number, number, string]> = [];
for (const k of keys) {
  let prev: string | undefined;
  let total = 0;
  let changed = 0;
  const cells: string[] = [];
  for (const w of writes) {
    const j = w.data[k] === undefined ? undefined : JSON.stringify(w.data[k]);
    const n = j === undefined ? 0 : Buffer.byteLength(j);
    const ch = j !== prev;
    total += n;
    if (ch) changed += n;
    cells.push(`${n}${ch ? '*' : ''}`);
    prev = j;
  }
  all += total;
  changedAll += changed;
  rows.push([k, total, changed, cells.join(' ')]);
}
rows.sort((a, b) => b[1] - a[1]);
for (const [k, total, changed, cells] of rows) console.log(`${k.padEnd(20)} ${cells.padEnd(60)} ${String(total).padStart(7)} ${String(changed).padStart(9)}`);
console.log(`all keys: ${all} B written, ${changedAll} B of it changed`);
