/**
 * Ad-hoc (issue 15, branch statcache): src/file-cache.ts against the rule it replaced in the PVE's approved software
 * and the OAM's local-image sha256 check (a Map keyed by path, its value kept while size and mtimeMs are unchanged;
 * copied below as the baseline), in one process, interleaved A B B A.
 *   node --import tsx bench/_file-cache.ts [CALLS]
 * 1. an unchanged file: CPU (process.cpuUsage) per call, CALLS sequential calls per round;
 * 2. a changed 8 MiB file asked for by 64 callers at once (a PVE appraising 64 requests, or 64 software-update RPCs):
 *    how many times it is hashed, and the CPU of the 64 calls.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCache } from '../src/file-cache.js';

const CALLS = Number(process.argv[2] ?? 20_000);
let hashes = 0;
async function sha256File(f: string): Promise<string> {
  hashes++;
  const h = createHash('sha256');
  for await (const chunk of createReadStream(f)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** the baseline: the rule approved.ts and northbound.ts had before (size and mtimeMs, no shared read) */
function oldRule(): (f: string) => Promise<string> {
  const cache = new Map<string, { key: string; digest: string }>();
  return async (f) => {
    const st = await stat(f);
    const key = `${st.size}:${st.mtimeMs}`;
    const hit = cache.get(f);
    if (hit?.key === key) return hit.digest;
    const digest = await sha256File(f);
    cache.set(f, { key, digest });
    return digest;
  };
}
function newRule(): (f: string) => Promise<string> {
  const cache = new FileCache<string>((f) => sha256File(f));
  return (f) => cache.get(f);
}
const rules = { old: oldRule, FileCache: newRule };
type Name = keyof typeof rules;

const cpuUs = (): number => { const u = process.cpuUsage(); return u.user + u.system; };

const dir = await mkdtemp(join(tmpdir(), 'bench-file-cache-'));
try {
  const small = join(dir, 'small.bin');
  await writeFile(small, Buffer.alloc(4096, 1));
  const big = join(dir, 'big.bin');
  await writeFile(big, Buffer.alloc(8 * 1024 * 1024, 2));

  const unchanged: Record<Name, number[]> = { old: [], FileCache: [] };
  const changed: Record<Name, { hashes: number[]; cpuMs: number[] }> = { old: { hashes: [], cpuMs: [] }, FileCache: { hashes: [], cpuMs: [] } };
  for (const name of ['old', 'FileCache', 'FileCache', 'old', 'old', 'FileCache'] as Name[]) {
    const get = rules[name]();
    await get(small);
    for (let i = 0; i < 1000; i++) await get(small); // warm
    const t0 = cpuUs();
    for (let i = 0; i < CALLS; i++) await get(small);
    unchanged[name].push((cpuUs() - t0) / CALLS);

    const getBig = rules[name]();
    await getBig(big);
    await writeFile(big, Buffer.alloc(8 * 1024 * 1024, unchanged[name].length + 2)); // a change: same size
    hashes = 0;
    const t1 = cpuUs();
    const all = await Promise.all(Array.from({ length: 64 }, () => getBig(big)));
    changed[name].cpuMs.push((cpuUs() - t1) / 1000);
    changed[name].hashes.push(hashes);
    if (new Set(all).size !== 1) throw new Error(`${name}: callers at once saw different digests`);
  }
  const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length;
  console.log(`unchanged file, ${CALLS} calls per round, 3 rounds each (A B B A A B):`);
  for (const n of Object.keys(rules) as Name[]) console.log(`  ${n.padEnd(9)} CPU per call ${mean(unchanged[n]).toFixed(2)} us (rounds ${unchanged[n].map((x) => x.toFixed(2)).join(', ')})`);
  console.log(`  ratio FileCache / old: ${(mean(unchanged.FileCache) / mean(unchanged.old)).toFixed(2)}`);
  console.log('a changed 8 MiB file, 64 callers at once:');
  for (const n of Object.keys(rules) as Name[]) console.log(`  ${n.padEnd(9)} hashed ${changed[n].hashes.join(', ')} times; CPU of the 64 calls ${changed[n].cpuMs.map((x) => x.toFixed(0)).join(', ')} ms`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
