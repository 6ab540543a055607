/**
 * Ad-hoc (issue 15, branch storecut): the SQLite store's CPU per verified update, in isolation, two trees A/B in
 * one process. For each tree (the baseline given by --base DIR, a checkout holding src/ and bench/; and this one):
 *  1. record: the tree's runner (bench/_count-jobs.ts: fakes for the devices, the PVE, the fetcher and tokens,
 *     relay evidence) drives ONE software update on the tree's SQLite store through a recording proxy: every store
 *     call it makes, in its transactions, in order (and the plugin's per-result read, metrics.ts observeResult,
 *     when the tree's metrics module calls the store: Tree.metricsReads);
 *  2. replay: on a fresh store of that tree (group commit on, as the OAM runs it), N copies of that update (job,
 *     H(e)NB and nonce ids made unique per copy; job data and logs shared), C at a time, each copy's store calls in
 *     order, awaited as the runner awaits them; process.cpuUsage around the replay, statements counted.
 * Each round has a fresh store per tree and replays the N updates in chunks of 200, the trees alternating A B B A
 * ... (the shared machine's load moves within seconds). Prints per update: CPU (ms), statements, COMMITs, and B/A
 * per round.
 *   node --import tsx bench/_store-cpu.ts --base /tmp/storecut-base [N=3000] [ROUNDS=4] [C=8]
 * STORE_CPU_ONLY=B: rounds of this tree alone (for a profile: node --cpu-prof --import tsx ...); with
 * STORE_CPU_TIME=1 also the CPU inside each statement by SQL text. STORE_CPU_TRACE=1 prints this tree's trace.
 * STORE_CPU_SMALL_DATA=1: this tree's job data replaced by a small object (what the job's JSON costs).
 * STORE_CPU_NO_TOKENS=1: this tree's job data without pve.token, result.token and completion.pveToken.
 * STORE_CPU_PAD=k: in both trees, the job data's strings of 200 characters or more (tokens) repeated k times (k=2:
 * about the job sizes of bench/fleet.ts); BENCH_PVE_LOG=1 (bench/_count-jobs.ts): the PVE's verdicts carry the log.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hookStatements } from './_count-jobs.js';

const argv = process.argv.slice(2);
const baseAt = argv.indexOf('--base');
if (baseAt < 0) throw new Error('usage: bench/_store-cpu.ts --base DIR [N] [ROUNDS] [C]');
const baseDir = resolve(argv[baseAt + 1]!);
const rest = argv.filter((_, i) => i !== baseAt && i !== baseAt + 1);
const N = Number(rest[0] ?? 3000);
const ROUNDS = Number(rest[1] ?? 4);
const C = Number(rest[2] ?? 8);
const thisDir = resolve(new URL('..', import.meta.url).pathname);

// statements counted (better-sqlite3 is one module for both trees: node_modules is shared)
let statements = 0;
/** STORE_CPU_TIME=1: the process's CPU time inside each statement by SQL text (a breakdown; adds its own overhead) */
const timing = process.env.STORE_CPU_TIME === '1';
const times = new Map<string, { n: number; ns: bigint }>();
function timed<T>(sql: string, f: () => T): T {
  if (!timing) return f();
  const c0 = process.cpuUsage();
  try {
    return f();
  } finally {
    const c = process.cpuUsage(c0);
    const k = sql.replace(/\s+/g, ' ').trim().slice(0, 110);
    const e = times.get(k) ?? { n: 0, ns: 0n };
    e.n++;
    e.ns += BigInt(c.user + c.system) * 1000n;
    times.set(k, e);
  }
}
let commits = 0;
hookStatements((m, sql, _args, call) => {
  statements++;
  if (m !== 'exec') return timed(sql, call);
  if (sql === 'COMMIT') commits++;
  return timed(sql.replace(/_\d+$/, '_n'), call);
});

type Fn = (...a: unknown[]) => Promise<unknown>;
interface AnyStore { transaction<T>(fn: (tx: Record<string, Fn>) => Promise<T>): Promise<T>; close(): Promise<void>; [k: string]: unknown }
/** one top-level store call of the trace: a transaction's calls, or one plain call */
type Item = { tx: Array<[string, unknown[]]> } | { call: [string, unknown[]] };

interface Tree {
  name: string;
  open(dir: string): Promise<AnyStore>;
  countJobs(store: unknown, n: number): Promise<{ runner: { idle(): Promise<void>; close(): Promise<void> }; results: Array<{ state: string; jobId: string }>; startAll(): Promise<void> }>;
  /** the plugin's store reads per final job (metrics.ts observeResult) */
  metricsReads: boolean;
}

async function loadTree(name: string, dir: string): Promise<Tree> {
  const storeMod = await import(join(dir, 'src/store/index.ts')) as { openSqliteStore(o: { dataDir: string; groupCommit: boolean }): Promise<AnyStore> };
  const cj = await import(join(dir, 'bench/_count-jobs.ts')) as { countJobs: Tree['countJobs'] };
  const metricsSrc = readFileSync(join(dir, 'src/oam-plugin/metrics.ts'), 'utf8');
  return {
    name, open: (d) => storeMod.openSqliteStore({ dataDir: d, groupCommit: true }), countJobs: cj.countJobs,
    // since branch smallcuts the read is only for a job resumed here (the runner's saved states otherwise): none in the trace
    metricsReads: /observeResult[\s\S]*store\.listJobEvents/.test(metricsSrc) && !/saved \?\? await store\.listJobEvents/.test(metricsSrc),
  };
}

const A = await loadTree('A (base)', baseDir);
const B = await loadTree('B (this)', thisDir);

/** the store calls of one verified update (h0's job), recorded */
async function record(tree: Tree): Promise<{ items: Item[]; jobId: string; nonces: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'store-cpu-rec-'));
  const store = await tree.open(dir);
  const items: Item[] = [];
  let on = false;
  const wrap = (target: Record<string, unknown>, log: (name: string, args: unknown[]) => void): Record<string, unknown> =>
    new Proxy(target, {
      get(t, prop, recv) {
        const v = Reflect.get(t, prop, recv) as unknown;
        if (typeof prop !== 'string' || typeof v !== 'function') return v;
        if (prop === 'transaction') {
          return (fn: (tx: unknown) => unknown) => {
            if (!on) return (v as Fn).call(t, fn);
            const calls: Array<[string, unknown[]]> = [];
            const item: Item = { tx: calls };
            items.push(item);
            return (v as Fn).call(t, (tx: Record<string, unknown>) => fn(wrap(tx, (n, a) => calls.push([n, a]))));
          };
        }
        return (...args: unknown[]) => {
          if (on) log(prop, structuredClone(args));
          return (v as Fn).apply(t, args);
        };
      },
    });
  const proxy = wrap(store as unknown as Record<string, unknown>, (n, a) => items.push({ call: [n, a] }));
  const { runner, results, startAll } = await tree.countJobs(proxy, 1);
  on = true;
  await startAll();
  const t0 = Date.now();
  while (results.length < 1 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 5));
  await runner.idle();
  on = false;
  await runner.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  if (results[0]?.state !== 'verified') throw new Error(`${tree.name}: the recorded update did not verify (${results[0]?.state})`);
  const jobId = results[0].jobId;
  if (tree.metricsReads) items.push({ call: ['listJobEvents', [jobId]] });
  const nonces = new Set<string>();
  const all = items.flatMap((i) => ('tx' in i ? i.tx : [i.call]));
  for (const [n, a] of all) {
    if (n === 'putNonce') nonces.add((a[0] as { nonce: string }).nonce);
    if (n === 'consumeNonce') nonces.add(a[0] as string);
  }
  if (process.env.STORE_CPU_SMALL_DATA === '1' && tree === B) {
    // what the job's JSON costs: every job data replaced by a small object (the upper bound of a split of its columns)
    for (const [n, a] of all) {
      if (n === 'saveJobTransition' && (a[2] as { data?: unknown }).data !== undefined) (a[2] as { data: unknown }).data = { s: n };
      if (n === 'createJob') (a[0] as { data: unknown }).data = { s: n };
    }
  }
  const pad = Number(process.env.STORE_CPU_PAD ?? 1);
  if (pad > 1) {
    // the sizes of bench/fleet.ts's jobs (~5.6 KB per transition, against ~3 KB with the fakes' short tokens and
    // logs): every string of 200 characters or more in a job's data (tokens) repeated `pad` times, in both trees
    const grow = (v: unknown): unknown => {
      if (typeof v === 'string') return v.length >= 200 ? v.repeat(pad) : v;
      if (v === null || typeof v !== 'object') return v;
      if (Array.isArray(v)) return v.map(grow);
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, grow(x)]));
    };
    for (const [n, a] of all) {
      if (n === 'saveJobTransition' && (a[2] as { data?: unknown }).data !== undefined) (a[2] as { data: unknown }).data = grow((a[2] as { data: unknown }).data);
      if (n === 'createJob') (a[0] as { data: unknown }).data = grow((a[0] as { data: unknown }).data);
    }
  }
  if (process.env.STORE_CPU_NO_TOKENS === '1' && tree === B) {
    // a flow that keeps the tokens the results table holds already (pve.token: putResult kind pve; result.token: kind
    // final) and the post-update verdict (completion.pveToken) out of the job's data: what its JSON would cost then
    const strip = (d: Record<string, unknown>): Record<string, unknown> => {
      const out = { ...d };
      for (const [k, t] of [['pve', 'token'], ['result', 'token'], ['completion', 'pveToken']] as const) {
        const v = out[k] as Record<string, unknown> | undefined;
        if (v !== undefined && t in v) out[k] = Object.fromEntries(Object.entries(v).filter(([x]) => x !== t));
      }
      return out;
    };
    for (const [n, a] of all) {
      if (n === 'saveJobTransition' && (a[2] as { data?: unknown }).data !== undefined) (a[2] as { data: Record<string, unknown> }).data = strip((a[2] as { data: Record<string, unknown> }).data);
      if (n === 'createJob') (a[0] as { data: Record<string, unknown> }).data = strip((a[0] as { data: Record<string, unknown> }).data);
    }
  }
  let jobBytes = 0;
  for (const [n, a] of all) {
    if (n === 'saveJobTransition' && (a[2] as { data?: unknown }).data !== undefined) jobBytes += JSON.stringify((a[2] as { data: unknown }).data).length;
    if (n === 'createJob') jobBytes += JSON.stringify((a[0] as { data: unknown }).data).length;
  }
  console.log(`${tree.name}: the job's data written per update: ${jobBytes} characters of JSON`);
  return { items, jobId, nonces: [...nonces] };
}

/** the trace for copy i: ids replaced (job, H(e)NB h0 -> h<i>, nonces), data and logs shared with the recording */
function copyFor(items: Item[], subst: Map<string, string>): Item[] {
  const map = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') return subst.get(v) ?? v;
    if (key === 'data' || key === 'log' || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => map(x));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, map(x, k)]));
  };
  const args = (a: unknown[], name: string): unknown[] => a.map((x, i) => name === 'putReferenceLog' && i === 1 ? x : map(x));
  return items.map((it) => ('tx' in it ? { tx: it.tx.map(([n, a]) => [n, args(a, n)] as [string, unknown[]]) } : { call: [it.call[0], args(it.call[1], it.call[0])] as [string, unknown[]] }));
}

async function replayOne(store: AnyStore, items: Item[]): Promise<void> {
  for (const it of items) {
    if ('tx' in it) {
      await store.transaction(async (tx) => {
        for (const [n, a] of it.tx) await tx[n]!(...a);
      });
    } else {
      await (store[it.call[0]] as Fn)(...it.call[1]);
    }
  }
}

interface Side { tree: Tree; store: AnyStore; copies: Item[][]; cpuUs: number; stmts: number; commits: number }

/** a fresh store of `tree` with the H(e)NBs h0 ... h<N-1>, and the N copies of its trace */
async function prepare(tree: Tree, rec: Awaited<ReturnType<typeof record>>): Promise<Side & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'store-cpu-'));
  const store = await tree.open(dir);
  const copies: Item[][] = [];
  for (let i = 0; i < N; i++) {
    const subst = new Map<string, string>([[rec.jobId, `job-${i}`], ['h0', `h${i}`]]);
    for (const n of rec.nonces) subst.set(n, i.toString(16).padStart(8, '0') + n.slice(8));
    copies.push(copyFor(rec.items, subst));
    await (store.putHenb as Fn)({ henbId: `h${i}`, rim: 'a'.repeat(64), softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
  }
  return { tree, store, copies, cpuUs: 0, stmts: 0, commits: 0, dir };
}

/** updates [from, to) of one side, C at a time: its CPU and statements added to the side's */
async function chunk(side: Side, from: number, to: number): Promise<void> {
  const s0 = statements;
  const c0 = commits;
  const cpu0 = process.cpuUsage();
  for (let i = from; i < to; i += C) {
    await Promise.all(side.copies.slice(i, Math.min(i + C, to)).map((items) => replayOne(side.store, items)));
  }
  const cpu = process.cpuUsage(cpu0);
  side.cpuUs += cpu.user + cpu.system;
  side.stmts += statements - s0;
  side.commits += commits - c0;
}

/**
 * One round: a fresh store per side, the N updates in chunks of CHUNK, the sides alternating A B B A ... so that the
 * machine's load, which moves within seconds on this shared machine, falls on both alike.
 */
const CHUNK = 200;
async function round(sides: Array<[Tree, Awaited<ReturnType<typeof record>>]>): Promise<Array<{ cpuMs: number; stmts: number; commits: number }>> {
  const prepared = [];
  for (const [tree, rec] of sides) prepared.push(await prepare(tree, rec));
  for (let from = 0, k = 0; from < N; from += CHUNK, k++) {
    const order = k % 2 === 0 ? prepared : [...prepared].reverse();
    for (const side of order) await chunk(side, from, Math.min(from + CHUNK, N));
  }
  const out = prepared.map((p) => ({ cpuMs: p.cpuUs / 1000 / N, stmts: p.stmts / N, commits: p.commits / N }));
  for (const p of prepared) {
    await p.store.close();
    rmSync(p.dir, { recursive: true, force: true });
  }
  return out;
}

const recA = await record(A);
const recB = await record(B);
const calls = (r: typeof recA): string => {
  const c = new Map<string, number>();
  for (const it of r.items) for (const [n] of 'tx' in it ? it.tx : [it.call]) c.set(n, (c.get(n) ?? 0) + 1);
  return [...c].map(([n, k]) => `${n} ${k}`).join(', ');
};
console.log(`A: ${recA.items.length} top-level store calls per update: ${calls(recA)}`);
console.log(`B: ${recB.items.length} top-level store calls per update: ${calls(recB)}`);
if (process.env.STORE_CPU_TRACE === '1') {
  for (const it of recB.items) console.log('tx' in it ? `tx: ${it.tx.map(([n]) => n).join(', ')}` : `plain: ${it.call[0]}`);
}
console.log(`N=${N} updates per round, ${C} at a time, ${ROUNDS} rounds, A and B alternating in chunks of ${CHUNK}`);
if (process.env.STORE_CPU_ONLY === 'B') {
  // profiling this tree's store alone (node --cpu-prof): rounds of B only
  for (let r = 0; r < ROUNDS; r++) {
    times.clear();
    console.log(`B only: ${JSON.stringify((await round([[B, recB]]))[0])}`);
  }
  const all = [...times].sort((a, b) => Number(b[1].ns - a[1].ns));
  console.log(`in statements: ${(Number(all.reduce((t, [, e]) => t + e.ns, 0n)) / 1e6 / N).toFixed(3)} ms per update (the last round)`);
  for (const [k, e] of all) console.log(`${(Number(e.ns) / 1e3 / N).toFixed(1).padStart(7)} us ${(e.n / N).toFixed(2).padStart(6)}x  ${k}`);
  process.exit(0);
}
// warm-up (JIT, prepared statements), not counted
await round([[A, recA], [B, recB]]);
const ratios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const [a, b] = (await round([[A, recA], [B, recB]])) as [{ cpuMs: number; stmts: number; commits: number }, { cpuMs: number; stmts: number; commits: number }];
  ratios.push(b.cpuMs / a.cpuMs);
  console.log(`round ${r + 1}: A ${a.cpuMs.toFixed(3)} ms, ${a.stmts.toFixed(1)} stmts, ${a.commits.toFixed(2)} COMMITs | B ${b.cpuMs.toFixed(3)} ms, ${b.stmts.toFixed(1)} stmts, ${b.commits.toFixed(2)} COMMITs | B/A ${(b.cpuMs / a.cpuMs).toFixed(3)}`);
}
console.log(`B/A CPU per update: ${ratios.map((x) => x.toFixed(3)).join(', ')}`);
process.exit(0);
