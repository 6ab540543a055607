/**
 * inventoryFromRunning's time over running's frozen inventory of N entries (issue 15, branch invmem2): A = another
 * checkout (--base DIR: before the change, with its cache of the entries read from frozen elements, warm after the
 * first call), B = this tree (one pass over each entry's children, no cache). One process, rounds A B B A; per call
 * the wall time, its median per tree, and B / A. The entries as bench/_inventory-memory.ts writes them (henb-id,
 * address, port, ssh-host-key, username), seeded as the plugin seeds them (inventoryXml, frozenTree).
 *
 * Run: node --import tsx bench/_inventory-read.ts --base DIR [--rounds R] [N]   (default N 100000, R 5)
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Inventory from '../src/oam-plugin/inventory.js';
import type * as Xml from '../src/netconf/xml/index.js';
import { benchArgs } from './_args.js';

const args = benchArgs();
const base = args.opt('--base');
if (base === undefined) throw new Error('--base DIR: a checkout of the code to compare with');
const rounds = Number(args.opt('--rounds') ?? 5);
const n = Number(args.argv.find((a, i) => /^\d+$/.test(a) && !['--base', '--rounds'].includes(args.argv[i - 1] ?? '')) ?? 100_000);
const thisTree = fileURLToPath(new URL('..', import.meta.url));

interface Tree { read(): number }

async function load(tree: string, henbs: Inventory.ConfigHenb[]): Promise<Tree> {
  const mod = async <T>(p: string): Promise<T> => (await import(pathToFileURL(join(tree, p)).href)) as T;
  const inv = await mod<typeof Inventory>('src/oam-plugin/inventory.ts');
  const x = await mod<typeof Xml>('src/netconf/xml/index.ts');
  const running = x.frozenTree(x.el(x.NETCONF_BASE_NS, 'data', inv.inventoryXml(henbs)));
  return { read: () => inv.inventoryFromRunning(running).length };
}

const henbs = Array.from({ length: n }, (_, i) => ({
  'henb-id': `healthy-${i + 1}`, address: `127.0.${1 + (i >> 14)}.${1 + (i & 127)}`, port: 20_000 + (i % 40_000), username: 'admin',
  'ssh-host-key': `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`,
})) as Inventory.ConfigHenb[];
const trees = { A: await load(base, henbs), B: await load(thisTree, henbs) };
const times: Record<'A' | 'B', number[]> = { A: [], B: [] };
// the first call of each fills A's cache (and compiles both): not counted
for (const t of Object.values(trees)) t.read();
for (let r = 0; r < rounds; r++) {
  for (const k of ['A', 'B', 'B', 'A'] as const) {
    const t0 = performance.now();
    const got = trees[k].read();
    times[k].push(performance.now() - t0);
    if (got !== n) throw new Error(`${k} read ${got} entries, not ${n}`);
  }
}
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
console.log(`inventoryFromRunning over ${n} frozen entries, ${rounds} rounds A B B A; A = ${base}, B = ${thisTree}`);
console.log(`A: median ${median(times.A).toFixed(1)} ms (${times.A.map((t) => t.toFixed(0)).join(' ')})`);
console.log(`B: median ${median(times.B).toFixed(1)} ms (${times.B.map((t) => t.toFixed(0)).join(' ')})`);
console.log(`B / A = ${(median(times.B) / median(times.A)).toFixed(2)}`);
