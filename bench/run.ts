/**
 * `npm run bench`: runs every benchmark in bench/ one after another (never in parallel: the machine
 * has 2 shared cores) and prints their output. Each benchmark measures its own baseline in the same run
 * and prints ratios, so figures stay comparable on a noisy machine.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n### bench/${f}`);
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, f)], { stdio: 'inherit', timeout: 300_000 });
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${f} failed (status ${r.status ?? r.signal})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
