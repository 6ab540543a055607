/**
 * The PVE's record of TPM clocks (src/pve/tpm-clocks.ts) for a fleet of TPM devices: each device's first genuine
 * quote records its clock. Two ways of persisting it, in one run, on a temporary directory:
 *   rewrite   the whole clocks.json rewritten for each quote, one write after the other (the record before
 *             5 December 2026, kept here as the baseline)
 *   journal   openTpmClocks: a line appended per quote (appends grouped), folded into clocks.json when long
 * For each fleet size, the quotes come one after the other (an appraisal awaits its record) and all at once (many
 * appraisals in flight); CPU and wall time per quote are printed with the ratio journal / rewrite.
 *
 * Run: node --import tsx bench/tpm-clocks.ts [--sizes 1000,3000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openTpmClocks } from '../src/pve/tpm-clocks.js';
import type { TpmClock, TpmClockRecord } from '../src/pve/tpm-clocks.js';
import { silentLogger } from '../src/log/logger.js';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1000,3000' } } });
const sizes = values.sizes.split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 100_000)) throw new Error(`--sizes: whole numbers from 1 to 100000, got ${values.sizes}`);

/** records a quote's clock; `close` (after the clock stopped) closes the record's files */
type Recorder = ((henbId: string, clock: TpmClock) => Promise<void>) & { close?: () => Promise<void> };
const AK = 'ab'.repeat(34);

/** the baseline: the record as it was, the whole file rewritten per quote, in turn */
function rewriting(dir: string): Recorder {
  const file = join(dir, 'clocks.json');
  const entries = new Map<string, TpmClockRecord>();
  let queue: Promise<unknown> = Promise.resolve();
  return (henbId, clock) => {
    const run = queue.then(async () => {
      entries.set(henbId, { akName: AK, ...clock, seenAt: Date.now() });
      await mkdir(dir, { recursive: true });
      await writeFile(`${file}.tmp`, JSON.stringify({ format: 'henb-sw-verify-pve-tpm-clocks/1', devices: Object.fromEntries(entries) }, null, 2) + '\n');
      await rename(`${file}.tmp`, file);
    });
    queue = run.catch(() => undefined);
    return run;
  };
}

async function journalling(dir: string): Promise<Recorder> {
  const c = await openTpmClocks({ dataDir: dir, log: silentLogger });
  return Object.assign((henbId: string, clock: TpmClock) => c.record(henbId, AK, clock), { close: () => c.close() });
}

async function measure(n: number, make: (dir: string) => Recorder | Promise<Recorder>, together: boolean): Promise<{ cpuUs: number; wallUs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'hsv-bench-clocks-'));
  try {
    const record = await make(dir);
    const clock = (i: number): TpmClock => ({ resetCount: 1, restartCount: 0, clock: 1000 + i });
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    if (together) await Promise.all(Array.from({ length: n }, (_, i) => record(`henb-${i}`, clock(i))));
    else for (let i = 0; i < n; i++) await record(`henb-${i}`, clock(i));
    const wall = performance.now() - t0;
    const u = process.cpuUsage(cpu);
    await record.close?.();
    return { cpuUs: (u.user + u.system) / n, wallUs: (wall * 1000) / n };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log('TPM clock records of a fleet\'s first quotes: per quote, CPU and wall (us); ratio journal / rewrite (same run)');
console.log('| devices | quotes | rewrite CPU / wall | journal CPU / wall | ratio CPU | ratio wall |');
console.log('|---|---|---|---|---|---|');
for (const n of sizes) {
  for (const together of [false, true]) {
    const before = await measure(n, rewriting, together);
    const after = await measure(n, journalling, together);
    console.log(`| ${n} | ${together ? 'all at once' : 'one after the other'} | ${before.cpuUs.toFixed(0)} / ${before.wallUs.toFixed(0)} | ${after.cpuUs.toFixed(0)} / ${after.wallUs.toFixed(0)} | ${(after.cpuUs / before.cpuUs).toFixed(3)} | ${(after.wallUs / before.wallUs).toFixed(3)} |`);
  }
}
