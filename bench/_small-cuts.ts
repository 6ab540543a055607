/**
 * Ad-hoc (issue 15, branch smallcuts): two small per-update costs of the OAM's main thread, two trees A/B in one
 * process (A: the baseline given by --base DIR, a checkout holding src/; B: this tree), CPU by process.cpuUsage.
 *  - metrics: the plugin's observation of a final job (src/oam-plugin/metrics.ts observeResult) on N verified
 *    updates stored in this tree's SQLite store (group commit on, as the OAM runs it): A's observeResult(store, job)
 *    (A reads the job's events from the store), B's observeResult(store, job, saved) with the job's saved states as
 *    the runner keeps them (the pushes of the trail included in B's time). Each tree observes into its own registry.
 *  - tx: N transactions of one read (getHenb) each, C at a time (several per group commit), on each tree's own
 *    SQLite store (src/store/base.ts facade: the handle each transaction gets).
 *  - facade: the handle alone (StoreBase.facade(ctx) and one operation looked up on it), N times.
 *  - audit: the PostgreSQL store's records of putHenb and putReferenceLog (a five-entry log) checked before their
 *    write, this tree's functions both sides: A made the record again after the write (auditEntryFor, as before),
 *    B appends the one the check made (checkedAuditEntry). No database: only the records' own CPU.
 * Rounds alternate A B B A ... in chunks of 200 (the shared machine's load moves within seconds); a warm-up round
 * first. Prints per operation: CPU (us) of A and B and B/A per round, then the median B/A.
 *   node --import tsx bench/_small-cuts.ts --base /tmp/smallcuts-base [--part metrics|tx|facade|audit] [--n 5000] [--rounds 5] [--c 8]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type * as AuditApi from '../src/store/audit.js';
import { benchArgs } from './_args.js';

const { opt } = benchArgs();
const baseOpt = opt('--base');
if (baseOpt === undefined) throw new Error('usage: bench/_small-cuts.ts --base DIR [--part metrics|tx|facade] [--n N] [--rounds R] [--c C]');
const baseDir = resolve(baseOpt);
const thisDir = resolve(import.meta.dirname, '..');
const PART = opt('--part');
const N = Number(opt('--n') ?? 5000);
const ROUNDS = Number(opt('--rounds') ?? 5);
const C = Number(opt('--c') ?? 8);
const CHUNK = 200;

type Fn = (...a: unknown[]) => Promise<unknown>;
interface AnyStore { transaction<T>(fn: (tx: Record<string, Fn>) => Promise<T>): Promise<T>; close(): Promise<void>; [k: string]: unknown }
interface StateChange { toState: string; at: number }
interface Tree {
  name: string;
  openStore(dir: string): Promise<AnyStore>;
  observeResult(store: unknown, job: unknown, saved?: StateChange[]): Promise<void>;
}

async function loadTree(name: string, dir: string): Promise<Tree> {
  const storeMod = await import(join(dir, 'src/store/index.ts')) as { openSqliteStore(o: { dataDir: string; groupCommit: boolean }): Promise<AnyStore> };
  const metricsMod = await import(join(dir, 'src/oam-plugin/metrics.ts')) as { observeResult: Tree['observeResult'] };
  return { name, openStore: (d) => storeMod.openSqliteStore({ dataDir: d, groupCommit: true }), observeResult: metricsMod.observeResult };
}

const A = await loadTree('A (base)', baseDir);
const B = await loadTree('B (this)', thisDir);

function cpuUs(f: () => Promise<void>): Promise<number> {
  const c0 = process.cpuUsage();
  return f().then(() => { const c = process.cpuUsage(c0); return c.user + c.system; });
}

/** rounds of `run(side, from, to)` over the N items, the two sides alternating in chunks; returns per-item us per round */
async function rounds(label: string, run: (side: 0 | 1, from: number, to: number) => Promise<void>): Promise<void> {
  const ratios: number[] = [];
  for (let r = 0; r <= ROUNDS; r++) {
    const us = [0, 0];
    for (let from = 0, k = 0; from < N; from += CHUNK, k++) {
      const to = Math.min(from + CHUNK, N);
      for (const side of (k % 2 === 0 ? [0, 1] : [1, 0]) as Array<0 | 1>) us[side]! += await cpuUs(() => run(side, from, to));
    }
    const [a, b] = [us[0]! / N, us[1]! / N];
    if (r === 0) continue; // warm-up
    ratios.push(b / a);
    console.log(`${label} round ${r}: A ${a.toFixed(2)} us, B ${b.toFixed(2)} us, B-A ${(b - a).toFixed(2)} us, B/A ${(b / a).toFixed(3)}`);
  }
  const sorted = [...ratios].sort((x, y) => x - y);
  console.log(`${label}: B/A per round ${ratios.map((x) => x.toFixed(3)).join(', ')}; median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(3)}`);
}

/** the states of a verified software update, as the runner saves them (the last one: the outbox delivered) */
const STATES = ['pve-requested', 'fetching', 'update-sending', 'awaiting-completion', 'verified', 'verified'];

async function metricsPart(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'small-cuts-m-'));
  const store = await B.openStore(dir);
  const jobs: Array<{ job: { jobId: string; henbId: string; kind: string; state: string }; recs: Array<{ state: string; updatedAt: number }> }> = [];
  const t0 = Date.now();
  for (let i = 0; i < N; i++) {
    const job = { jobId: `job-${i}`, henbId: `h${i}`, kind: 'software-update', state: 'created' };
    const recs: Array<{ state: string; updatedAt: number }> = [];
    let rec = await (store.createJob as Fn)({ jobId: job.jobId, henbId: job.henbId, kind: job.kind, state: 'created', data: job, reason: 'software-update requested' }) as { version: number; state: string; updatedAt: number };
    recs.push(rec);
    for (const [k, s] of STATES.entries()) {
      rec = await (store.saveJobTransition as Fn)(job.jobId, s, { expectPrevVersion: rec.version, data: { ...job, state: s }, deadline: null, reason: s, at: t0 + i + 100 * (k + 1), ...(k === STATES.length - 1 ? { terminal: true } : {}) }) as typeof rec;
      recs.push(rec);
    }
    jobs.push({ job: { ...job, state: 'verified' }, recs });
  }
  console.log(`metrics: ${N} verified updates of ${STATES.length + 1} job events each`);
  await rounds('metrics (per final job)', async (side, from, to) => {
    for (let i = from; i < to; i++) {
      const { job, recs } = jobs[i]!;
      if (side === 0) { await A.observeResult(store, job); continue; }
      // the runner's trail: one push per saved state (before the result; the last save comes after it)
      const saved: StateChange[] = [];
      for (let k = 0; k < recs.length - 1; k++) saved.push({ toState: recs[k]!.state, at: recs[k]!.updatedAt });
      await B.observeResult(store, job, saved);
    }
  });
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

async function txPart(): Promise<void> {
  const dirs = [mkdtempSync(join(tmpdir(), 'small-cuts-a-')), mkdtempSync(join(tmpdir(), 'small-cuts-b-'))];
  const stores = [await A.openStore(dirs[0]!), await B.openStore(dirs[1]!)];
  for (const s of stores) await (s.putHenb as Fn)({ henbId: 'h1', rim: 'a'.repeat(64), softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
  const one = (s: AnyStore): Promise<unknown> => s.transaction(async (tx) => tx.getHenb!('h1'));
  await rounds(`tx (per transaction, ${C} at a time)`, async (side, from, to) => {
    const s = stores[side]!;
    for (let i = from; i < to; i += C) {
      const batch: Array<Promise<unknown>> = [];
      for (let j = i; j < Math.min(i + C, to); j++) batch.push(one(s));
      await Promise.all(batch);
    }
  });
  for (const s of stores) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

async function facadePart(): Promise<void> {
  const dirs = [mkdtempSync(join(tmpdir(), 'small-cuts-a-')), mkdtempSync(join(tmpdir(), 'small-cuts-b-'))];
  const stores = [await A.openStore(dirs[0]!), await B.openStore(dirs[1]!)];
  let sink = 0;
  await rounds('facade (per handle)', async (side, from, to) => {
    const s = stores[side] as unknown as { facade(ctx: unknown): Record<string, unknown> };
    const ctx = { active: true, depth: 0, member: 1 };
    for (let i = from; i < to; i++) {
      const tx = s.facade(ctx);
      if (typeof tx.getHenb === 'function') sink++;
    }
  });
  if (sink !== 2 * N * (ROUNDS + 1)) throw new Error('facade: an operation missing');
  for (const s of stores) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

async function auditPart(): Promise<void> {
  const audit = await import(join(thisDir, 'src/store/audit.ts')) as typeof AuditApi;
  const before = { henbId: 'h1', rim: 'a'.repeat(64), softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null, updatedAt: 1 };
  const input = { ...before, state: 'updating' };
  const log = ['bootloader', 'kernel', 'rootfs', 'config', 'rootfs'].map((component, i) => ({ component, digest: String(i).repeat(64) }));
  let sink = 0;
  await rounds('audit (putHenb + putReferenceLog records)', async (side, from, to) => {
    for (let i = from; i < to; i++) {
      for (const [name, args, result] of [['putHenb', [input], { ...input, updatedAt: 2 }], ['putReferenceLog', ['h1', log], undefined]] as const) {
        const checked = audit.auditCheckedBefore(name, args as unknown as unknown[], name === 'putHenb' ? before : undefined)!;
        const entry = side === 0 ? audit.auditEntryFor(name, args as unknown as unknown[], result, before) : audit.checkedAuditEntry(name, checked, result);
        if (entry !== undefined) sink++;
      }
    }
  });
  if (sink === 0) throw new Error('audit: no record');
}

if (PART === undefined || PART === 'metrics') await metricsPart();
if (PART === undefined || PART === 'tx') await txPart();
if (PART === undefined || PART === 'facade') await facadePart();
if (PART === undefined || PART === 'audit') await auditPart();
process.exit(0);
