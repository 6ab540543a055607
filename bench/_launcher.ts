/**
 * The node options of the launcher (bin/henb-sw-verify.js): its first line is `#!/usr/bin/env -S node OPTIONS`, so
 * `henb-sw-verify serve` runs with them. bench/fleet.ts starts its OAM servers with the same options, so the
 * benchmark measures the server as an operator runs it; they are read from that line, never written out twice.
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
