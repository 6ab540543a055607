/**
 * The node options of the launcher (bin/henb-sw-verify.js): its first line is `#!/usr/bin/env -S node OPTIONS`, so
 * every process of the product (`henb-sw-verify serve`, `pve`, `simulate`) runs with them. bench/fleet.ts starts each
 * of its child processes (the OAM servers, the simulated fleet with the PVE, the baseline's bare server) with the same
 * options, so the benchmark measures the processes as an operator runs them. They are read from that line, never
 * written out twice.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const LAUNCHER = fileURLToPath(new URL('../bin/henb-sw-verify.js', import.meta.url));

/** the options after `node` on the first line of `text` (a launcher's source); [] for a plain `#!/usr/bin/env node` */
export function shebangNodeArgs(text: string): string[] {
  const nl = text.indexOf('\n');
  const first = nl === -1 ? text : text.slice(0, nl);
  const m = /^#!\/usr\/bin\/env(?:\s+-S)?\s+node(?:\s+(.*))?$/.exec(first.trimEnd());
  if (m === null) throw new Error(`not a node launcher's first line: ${JSON.stringify(first.slice(0, 80))}`);
  return (m[1] ?? '').split(/\s+/).filter(Boolean);
}

/** the launcher's node options (bin/henb-sw-verify.js) */
export function launcherNodeArgs(file: string = LAUNCHER): string[] {
  return shebangNodeArgs(readFileSync(file, 'utf8'));
}

/** the node options every child of a benchmark gets first: the launcher's, or none with BENCH_LAUNCHER_ARGS=0 */
export function benchLauncherArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  return env.BENCH_LAUNCHER_ARGS === '0' ? [] : launcherNodeArgs();
}
