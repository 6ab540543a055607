/**
 * Ad-hoc A/B (issue 15, branch als): the store's AsyncLocalStorage on only while a transaction group runs, against
 * on for the rest of the process's life (main before the branch). Node 20's AsyncLocalStorage, once enabled, runs an
 * async hook on every promise and async resource of the process. One process, rounds alternating:
 *   old  AsyncLocalStorage.prototype.disable is a no-op (the store's first transaction leaves it enabled, as before)
 *   new  disable() as it is (StoreBase turns it off at the end of every group)
 * Each round: a fresh SQLite store (group commit) in a temporary directory, N H(e)NBs and one software-update job
 * each through the runner with the fakes (bench/_count-jobs.ts), and, interleaved with the jobs' work, `--awaits K`
 * extra awaits per job standing for the rest of an OAM's async work (NETCONF, SSH, HTTP: 0 to count the runner's own).
 *   node --import tsx bench/_als.ts [--jobs N] [--rounds R] [--awaits K]
 * Prints process CPU (process.cpuUsage) per job of each round, and new/old per pair.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../src/store/index.js';
import { benchArgs } from './_args.js';
import { countJobs } from './_count-jobs.js';

const args = benchArgs();
const N = Number(args.opt('--jobs') ?? 300);
const ROUNDS = Number(args.opt('--rounds') ?? 6);
const AWAITS = Number(args.opt('--awaits') ?? 2000);

const realDisable = AsyncLocalStorage.prototype.disable;
function noDisable(this: AsyncLocalStorage<unknown>): void { /* old: stays enabled */ }

/** other async work of the process while the jobs run: K awaits per job, in slices between the jobs' turns */
async function background(perJob: number, jobs: number, done: () => boolean): Promise<void> {
  const slice = 50;
  let left = perJob * jobs;
  const step = async (i: number): Promise<number> => { await null; return i + 1; };
  while (left > 0 && !done()) {
    for (let i = 0; i < slice; i++) await step(i);
    left -= slice;
    await new Promise<void>((r) => setImmediate(r));
  }
  while (left > 0) { for (let i = 0; i < slice; i++) await step(i); left -= slice; }
}

async function round(mode: 'old' | 'new'): Promise<number> {
  AsyncLocalStorage.prototype.disable = mode === 'old' ? noDisable : realDisable;
  const dir = mkdtempSync(join(tmpdir(), 'als-ab-'));
  const store = await openSqliteStore({ dataDir: dir, groupCommit: true });
  const { runner, results, startAll } = await countJobs(store, N);
  // a round starts with no store's AsyncLocalStorage enabled (the set-up's transactions ran in this mode)
  const cpu0 = process.cpuUsage();
  const bg = background(AWAITS, N, () => results.length >= N);
  await startAll();
  const t0 = Date.now();
  while (results.length < N && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 5));
  await runner.idle();
  await bg;
  const cpu = process.cpuUsage(cpu0);
  const verified = results.filter((j) => j.state === 'verified').length;
  await runner.close();
  await store.close();
  AsyncLocalStorage.prototype.disable = realDisable;
  // leave nothing enabled for the next round (old mode's store kept its instance on)
  const leftOn = (store as unknown as { als: AsyncLocalStorage<unknown> }).als;
  leftOn.disable();
  rmSync(dir, { recursive: true, force: true });
  if (verified !== N) throw new Error(`${mode}: ${verified}/${N} verified`);
  return (cpu.user + cpu.system) / 1000 / N;
}

console.log(`jobs ${N} per round, ${ROUNDS} pairs, ${AWAITS} extra awaits per job; ms of process CPU per job`);
await round('new'); // warm-up
const ratios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const order: Array<'old' | 'new'> = r % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
  const got: Record<string, number> = {};
  for (const m of order) got[m] = await round(m);
  ratios.push(got.new! / got.old!);
  console.log(`pair ${r + 1}: old ${got.old!.toFixed(3)}  new ${got.new!.toFixed(3)}  new/old ${(got.new! / got.old!).toFixed(3)}`);
}
ratios.sort((a, b) => a - b);
console.log(`new/old: median ${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)}, range ${ratios[0]!.toFixed(3)}-${ratios.at(-1)!.toFixed(3)}`);
