/**
 * V8's helper threads (the collector's) on a small machine: node's default pool of four against the pool node sizes
 * from the cores (`--v8-pool-size=0`: one fewer than the cores the process may use, at least one), the option the
 * launcher's first line gives (issue 15, bin/henb-sw-verify.js). Each round runs a child that allocates as the OAM
 * does at 10,000 devices (a live set of 500 jobs of young objects, replaced continuously, and short-lived garbage
 * beside it) for a fixed time, with 0, 1 or 2 busy processes beside it (the fleet and the PVE of bench/fleet.ts keep
 * the other core busy). Both children start with `--max-semi-space-size=32`, as the launcher's.
 *   node --import tsx bench/_gc-helpers.ts [--ms 6000] [--rounds 2] [--hogs 0,1,2]
 * Rounds alternate default, sized and sized, default. Prints jobs/s and the main thread's CPU per job of each, then
 * sized/default per load (same run; > 1: the sized pool does more).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { benchArgs } from './_args.js';

const args = benchArgs();
const MS = Number(args.opt('--ms') ?? 6000);
const ROUNDS = Number(args.opt('--rounds') ?? 2);
const HOGS = (args.opt('--hogs') ?? '0,1,2').split(',').map(Number);

/** the child's work: jobs/s and the main thread's CPU (Linux schedstat) per job, as one line of JSON */
const WORK = `
const fs = require('node:fs');
const mainMs = () => Number(fs.readFileSync('/proc/self/task/' + process.pid + '/schedstat', 'utf8').split(' ')[0]) / 1e6;
const live = new Array(500).fill(null);
const job = (i) => { const o = { id: i, parts: [] }; for (let k = 0; k < 60; k++) o.parts.push({ k, s: 'x'.repeat(20) + k, a: [k, k + 1], b: Buffer.allocUnsafe(64) }); return o; };
(async () => {
  const t0 = performance.now(), c0 = mainMs(), end = t0 + ${MS};
  let n = 0;
  while (performance.now() < end) {
    for (let j = 0; j < 200; j++) { live[n % 500] = job(n++); const garbage = []; for (let q = 0; q < 50; q++) garbage.push({ q, t: String(q) }); }
    await new Promise((r) => setImmediate(r));
  }
  const wall = performance.now() - t0;
  console.log(JSON.stringify({ perSec: n / wall * 1000, mainUs: (mainMs() - c0) / n * 1000 }));
})();
`;
/** a busy process for `ms` */
const HOG = `const end = Date.now() + ${MS + 500}; let x = 0; while (Date.now() < end) for (let i = 0; i < 1e5; i++) x += i;`;

async function runOnce(pool: 'default' | 'sized', hogs: number): Promise<{ perSec: number; mainUs: number }> {
  const busy: ChildProcess[] = Array.from({ length: hogs }, () => spawn(process.execPath, ['-e', HOG], { stdio: 'ignore' }));
  try {
    await new Promise((r) => setTimeout(r, 200));
    const opts = ['--max-semi-space-size=32', ...(pool === 'sized' ? ['--v8-pool-size=0'] : [])];
    const child = spawn(process.execPath, [...opts, '-e', WORK], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    if (code !== 0) throw new Error(`the work child exited with ${code}`);
    return JSON.parse(out) as { perSec: number; mainUs: number };
  } finally {
    for (const h of busy) h.kill();
  }
}

console.log(`V8 helper threads: node's default (4) against --v8-pool-size=0 (${Math.max(1, availableParallelism() - 1)} on this machine's ${availableParallelism()} cores); ${MS} ms per round, ${ROUNDS} pairs per load`);
for (const hogs of HOGS) {
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order: Array<'default' | 'sized'> = r % 2 === 0 ? ['default', 'sized'] : ['sized', 'default'];
    const got: Record<string, { perSec: number; mainUs: number }> = {};
    for (const pool of order) {
      got[pool] = await runOnce(pool, hogs);
      console.log(`  ${hogs} busy beside it, ${pool.padEnd(7)}: ${got[pool]!.perSec.toFixed(0)} jobs/s, main thread ${got[pool]!.mainUs.toFixed(1)} us CPU per job`);
    }
    ratios.push(got.sized!.perSec / got.default!.perSec);
  }
  console.log(`${hogs} busy beside it: sized/default jobs/s ${ratios.map((x) => x.toFixed(2)).join(', ')}`);
}
