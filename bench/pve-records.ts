/**
 * The PVE's per-H(e)NB records at fleet size, A/B in one run (issue 15): this checkout's code against a base checkout
 * (`--base DIR`, e.g. `git worktree add --detach /tmp/base <commit>`), each on a temporary directory, interleaved.
 *   write      KeyedJournal (keyed-journal.ts) holding N keys (a snapshot of N entries, opened): one key changed
 *              and written, W times one after the other (what tpm-clocks.ts and provided.ts do per quote or group)
 *   statement  provided.ts's accept() of a provide-reference-values statement for one of N known H(e)NBs, whose
 *              record holds all N, with the OAM's keys in a JWKS file: verify, record, save, per statement
 *   nonce      NonceMemory (nonce-memory.ts): one nonce claimed and persisted, W times
 * Printed: CPU (user + system, process.cpuUsage) and wall per operation, and the ratio this / base. The base's
 * KeyedJournal is changed through its `entries` map (the API before `set`), this one through `set`.
 *
 * Run: node --import tsx bench/pve-records.ts --base DIR [--sizes 1000,10000] [--ops 2000] [--rounds 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { silentLogger } from '../src/log/logger.js';
import { generateSigningKey, signReferenceValues } from '../src/tokens/index.js';
import type * as KeyedJournalModule from '../src/pve/keyed-journal.js';
import type * as NonceMemoryModule from '../src/pve/nonce-memory.js';
import type * as ProvidedModule from '../src/pve/provided.js';

const { values } = parseArgs({ options: {
  base: { type: 'string' }, sizes: { type: 'string', default: '1000,10000' }, ops: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' },
} });
if (values.base === undefined) throw new Error('--base DIR: a checkout of the code to compare with');
const sizes = values.sizes.split(',').map(Number);
const ops = Number(values.ops);
const rounds = Number(values.rounds);

interface Impl {
  name: string;
  journal: typeof KeyedJournalModule;
  provided: typeof ProvidedModule;
  nonces: typeof NonceMemoryModule;
}
const load = async (name: string, root: string): Promise<Impl> => ({
  name,
  journal: await import(join(root, 'src/pve/keyed-journal.ts')) as Impl['journal'],
  provided: await import(join(root, 'src/pve/provided.ts')) as Impl['provided'],
  nonces: await import(join(root, 'src/pve/nonce-memory.ts')) as Impl['nonces'],
});
const impls = [await load('base', resolve(values.base)), await load('this', resolve(import.meta.dirname, '..'))];

const SPEC = {
  snapshot: 'r.json', journal: 'r.journal', format: 'bench-record/1', field: 'keys', entryName: 'entry', recordName: 'record',
  entryOf: (_k: string, v: unknown) => v as { akName: string; clock: number; seenAt: number },
  damaged: (m: string) => new Error(m),
};
const entryOf = (i: number): { akName: string; clock: number; seenAt: number } => ({ akName: 'ab'.repeat(34), clock: 1000 + i, seenAt: Date.now() });

async function snapshotOf(dir: string, n: number, file: string, format: string, field: string, entry: (i: number) => unknown): Promise<void> {
  await mkdir(dir, { recursive: true });
  const map: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) map[`henb-${i}`] = entry(i);
  await writeFile(join(dir, file), JSON.stringify({ format, [field]: map }) + '\n');
}

interface Cost { cpuUs: number; wallUs: number }
async function timed(count: number, body: () => Promise<void>): Promise<Cost> {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await body();
  const wall = performance.now() - t0;
  const u = process.cpuUsage(cpu);
  return { cpuUs: (u.user + u.system) / count, wallUs: (wall * 1000) / count };
}

async function writes(impl: Impl, n: number, dir: string): Promise<Cost> {
  await snapshotOf(dir, n, SPEC.snapshot, SPEC.format, SPEC.field, entryOf);
  const r = await impl.journal.KeyedJournal.open(dir, SPEC, 1 << 30);
  const set = (k: string, e: ReturnType<typeof entryOf>): void => {
    const old = r as unknown as { entries?: Map<string, unknown> };
    if (old.entries !== undefined) old.entries.set(k, e);
    else r.set(k, e);
  };
  const cost = await timed(ops, async () => {
    for (let i = 0; i < ops; i++) {
      set(`henb-${(i * 7919) % n}`, entryOf(n + i));
      await r.write();
    }
  });
  await (r as unknown as { close?: () => Promise<void> }).close?.();
  return cost;
}

const OAM = 'urn:henb-sw-verify:oam';
const PVE = 'urn:henb-sw-verify:pve';
const key = await generateSigningKey('ES256', 'oam');
async function statements(impl: Impl, n: number, dir: string, jws: string[]): Promise<Cost> {
  const rv = join(dir, 'reference-values');
  await snapshotOf(rv, n, 'provided.json', 'henb-sw-verify-provided-reference-values/1', 'henbs',
    (i) => ({ iat: 1, jti: `old-${i}`, jobId: `old-${i}`, values: [{ component: 'rootfs', digest: 'cd'.repeat(32) }], acceptedAt: 1 }));
  await writeFile(join(dir, 'oam-jwks.json'), JSON.stringify({ keys: [key.publicJwk] }));
  const p = await impl.provided.openProvidedReferenceValues({ dataDir: dir, audience: PVE, oamJwks: join(dir, 'oam-jwks.json'), knownHenb: () => true, log: silentLogger });
  const cost = await timed(jws.length, async () => {
    for (const j of jws) await p.accept(j);
  });
  await (p as unknown as { close?: () => Promise<void> }).close?.();
  return cost;
}

async function nonces(impl: Impl, dir: string): Promise<Cost> {
  const m = await impl.nonces.openNonceMemory({ dataDir: dir, log: silentLogger, windowMs: 3_600_000, max: 1_000_000 });
  const cost = await timed(ops, async () => {
    for (let i = 0; i < ops; i++) {
      m.claim(`henb-${i}`, `nonce-${i}`);
      await m.persisted();
    }
  });
  await (m as unknown as { close?: () => Promise<void> }).close?.();
  return cost;
}

async function inDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'hsv-bench-records-'));
  try {
    return await f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const best = (a: Cost | undefined, b: Cost): Cost => (a === undefined || b.cpuUs < a.cpuUs ? b : a);
console.log(`PVE records, per operation: CPU / wall (us), best of ${rounds} interleaved rounds; ratio this / base (same run)`);
console.log('| operation | keys | base CPU / wall | this CPU / wall | ratio CPU | ratio wall |');
console.log('|---|---|---|---|---|---|');
const row = (what: string, n: number | string, r: Record<string, Cost>): void => {
  const [b, t] = [r.base!, r.this!];
  console.log(`| ${what} | ${n} | ${b.cpuUs.toFixed(1)} / ${b.wallUs.toFixed(1)} | ${t.cpuUs.toFixed(1)} / ${t.wallUs.toFixed(1)} | ${(t.cpuUs / b.cpuUs).toFixed(3)} | ${(t.wallUs / b.wallUs).toFixed(3)} |`);
};
for (const n of sizes) {
  const w: Record<string, Cost> = {};
  const s: Record<string, Cost> = {};
  const count = Math.min(ops, n);
  for (let round = 0; round < rounds; round++) {
    // statements for distinct H(e)NBs, signed before the clock starts (signing is the OAM's cost)
    const jws = await Promise.all(Array.from({ length: count }, (_, i) => signReferenceValues(
      { iss: OAM, aud: PVE, sub: `henb-${(i * 7919) % n}`, 'job-id': `job-${round}-${i}`, 'reference-values': [{ component: 'rootfs', digest: 'ef'.repeat(32) }] }, key)));
    for (const impl of round % 2 === 0 ? impls : [...impls].reverse()) {
      w[impl.name] = best(w[impl.name], await inDir((d) => writes(impl, n, d)));
      s[impl.name] = best(s[impl.name], await inDir((d) => statements(impl, n, d, jws)));
    }
  }
  row(`write (1 key of ${ops} changed, one after the other)`, n, w);
  row(`statement (${count}, one after the other)`, n, s);
}
const c: Record<string, Cost> = {};
for (let round = 0; round < rounds; round++) {
  for (const impl of round % 2 === 0 ? impls : [...impls].reverse()) c[impl.name] = best(c[impl.name], await inDir((d) => nonces(impl, d)));
}
row(`nonce claimed and persisted (${ops})`, '-', c);
