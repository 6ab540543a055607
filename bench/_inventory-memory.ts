/**
 * The OAM's live heap per H(e)NB of its inventory, before any RPC (issue 15, branch invmem): the OAM server started
 * the way bench/fleet.ts's OAM child starts it (serveOam in _fleet-lib.ts: startOamServer, built-in plugin, SQLite
 * store, the plugin configuration read from a JSON file with every H(e)NB in `henbs`, seeded into running at the
 * first start, the device driver built), with no device and no PVE (no pve section: a constant, not per H(e)NB).
 *
 * Each measurement is a child process of its own (a fresh heap): it imports the tree's modules, runs full GCs, reads
 * the heap in use, starts the OAM, runs full GCs again and reads it again. The fixed cost (an OAM with no H(e)NB, the
 * same child with N = 0) is subtracted, and the rest divided by N: bytes of live heap per H(e)NB. With --base DIR
 * (another checkout: the code before a change, e.g. a detached worktree of main with node_modules linked), each N
 * is measured for both trees, base first, and the ratio printed.
 *
 * With --snapshot DIR (and one N, say 10000): the child also writes a heap snapshot before and after the start, to
 * compare with bench/_heap-diff.ts (what the start added, by constructor, with its most common retainer). With
 * --by-type the child prints the growth by V8 node type and constructor name, per H(e)NB, from those two snapshots
 * (slow above 10,000).
 *
 * Three paths (branch invmem2), each measured as above, per H(e)NB over the same path's fixed cost:
 * - `seeded`: the first start, the file's henbs seeded into running (what is described above);
 * - `restart`: the OAM started again on a data directory whose running.xml holds the N entries (seeded by an earlier
 *   child process that started the OAM once and closed it; the configuration file still lists the henbs, as an
 *   operator's would): running is parsed from the file;
 * - `edit`: the first start, then one edit-config over SSH (the admin user) that adds one inventory entry; the client
 *   closed before the heap is read (the inventory read from running, the driver handed every entry again).
 * --paths seeded,restart,edit chooses (default all three).
 *
 * Run: node --expose-gc --import tsx bench/_inventory-memory.ts [--base DIR] [--paths P,...] [N ...]   (default N: 1000 10000 100000)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import type * as OamServer from '../src/cli/oam-server.js';
import type * as ConfigLoad from '../src/config/load.js';
import type * as Log from '../src/log/logger.js';
import type * as Client from '../src/netconf/client/index.js';
import type * as Xml from '../src/netconf/xml/index.js';
import type * as OamPlugin from '../src/oam-plugin/index.js';
import { benchArgs } from './_args.js';

const self = fileURLToPath(import.meta.url);
const thisTree = fileURLToPath(new URL('..', import.meta.url));
const args = benchArgs();

type Path = 'seeded' | 'restart' | 'edit';
const PATHS: readonly Path[] = ['seeded', 'restart', 'edit'];

interface ChildReport {
  /** heap in use after full GCs, before and after the OAM's start, bytes */
  before: number;
  after: number;
  startMs: number;
  /** with --by-type: growth by "type:name", bytes and counts */
  byType?: Array<{ key: string; bytes: number; count: number }>;
}

/** full GCs (what a finalizer or weak callback frees shows at the next), then the heap in use */
function live(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 3; i++) gc();
  return getHeapStatistics().used_heap_size;
}

/** the plugin configuration bench/fleet.ts writes (its `henbs` as the fleet reports its devices), as a JSON file */
function writeConfig(file: string, n: number, dataDir: string): void {
  const henbs = Array.from({ length: n }, (_, i) => ({
    'henb-id': `healthy-${i + 1}`, address: `127.0.${1 + (i >> 14)}.${1 + (i & 127)}`, port: 20_000 + (i % 40_000), username: 'admin',
    password: { env: 'HSV_BENCH_DEVICE_PASSWORD' },
    'ssh-host-key': `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`,
  }));
  const builtin = {
    henbs,
    policies: { 'self-check': true, 'on-mismatch': ['alarm'], 'step-timeout': 600 },
  };
  writeFileSync(file, JSON.stringify({ builtin, dataDir }));
}

/** the child: one OAM of `n` H(e)NBs from `tree` on `dir` (config.json written there), measured along `path` */
async function child(tree: string, n: number, dir: string, path: Path | 'prep', snapshotDir: string | undefined, byType: boolean): Promise<void> {
  const mod = async <T>(p: string): Promise<T> => (await import(pathToFileURL(join(tree, p)).href)) as T;
  const { startOamServer } = await mod<typeof OamServer>('src/cli/oam-server.ts');
  const { defaultServeConfig } = await mod<typeof ConfigLoad>('src/config/load.ts');
  const { silentLogger } = await mod<typeof Log>('src/log/logger.ts');
  // what the plugin imports lazily, imported now: module code is not per H(e)NB
  await mod('src/device/index.ts');
  await mod('src/store/index.ts');
  const { connectNetconf } = await mod<typeof Client>('src/netconf/client/index.ts');
  const x = await mod<typeof Xml>('src/netconf/xml/index.ts');
  const { HSV_NS } = await mod<typeof OamPlugin>('src/oam-plugin/index.ts');
  const configFile = join(dir, 'config.json');
  const start = async (): Promise<Awaited<ReturnType<typeof startOamServer>>> => {
    // as serveOam: the configuration parsed from its file, handed over, not kept here
    const { builtin, dataDir } = JSON.parse(readFileSync(configFile, 'utf8')) as { builtin: Record<string, unknown>; dataDir: string };
    const config = defaultServeConfig();
    config.logLevel = 'warn';
    config.limits.pluginActivationMs = 3_600_000;
    config.builtin = builtin;
    return startOamServer({
      listen: { host: '127.0.0.1', port: 0 }, dataDir, config, log: silentLogger,
      env: { ...process.env, HENB_SW_VERIFY_ADMIN_PASSWORD: 'bench-admin-pw', HSV_BENCH_DEVICE_PASSWORD: 'bench-device-pw' },
    });
  };
  if (path === 'prep') {
    // the first start seeds running.xml; the restart child starts on it
    await (await start()).close();
    return;
  }
  const before = live();
  const snapA = snapshotDir !== undefined ? writeHeapSnapshot(join(snapshotDir, `before-${path}-${n}.heapsnapshot`)) : undefined;
  const t0 = performance.now();
  const server = await start();
  const startMs = performance.now() - t0;
  if (path === 'edit') {
    const nc = await connectNetconf({ host: '127.0.0.1', port: server.address.port, username: 'admin', password: 'bench-admin-pw', hostKeySha256: server.fingerprint, rpcTimeoutMs: 3_600_000 });
    const NC = x.NETCONF_BASE_NS;
    await nc.rpc(x.el(NC, 'edit-config', x.el(NC, 'target', x.el(NC, 'running')), x.el(NC, 'config', x.el(HSV_NS, 'inventory',
      x.el(HSV_NS, 'henb', x.leaf(HSV_NS, 'henb-id', 'added-1'), x.leaf(HSV_NS, 'address', '127.1.0.1'), x.leaf(HSV_NS, 'port', '20000'),
        x.leaf(HSV_NS, 'ssh-host-key', `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`), x.leaf(HSV_NS, 'username', 'admin'),
        x.leaf(HSV_NS, 'credentials', 'env:HSV_BENCH_DEVICE_PASSWORD'))))));
    await nc.close();
    // the server's side of the session ends after the client's close
    await new Promise((r) => setTimeout(r, 500));
  }
  const after = live();
  const report: ChildReport = { before, after, startMs };
  if (snapshotDir !== undefined) {
    const snapB = writeHeapSnapshot(join(snapshotDir, `after-${path}-${n}.heapsnapshot`));
    if (byType) report.byType = growthByType(snapA!, snapB);
  }
  console.log(`REPORT ${JSON.stringify(report)}`);
  await server.close();
}

/** self sizes by "type:name" in snapshot b minus those in a (the largest growths) */
function growthByType(a: string, b: string): Array<{ key: string; bytes: number; count: number }> {
  const sum = (path: string): Map<string, { bytes: number; count: number }> => {
    const s = JSON.parse(readFileSync(path, 'utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
    const f = s.snapshot.meta.node_fields;
    const nf = f.length;
    const [tI, nI, sI] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
    const types = s.snapshot.meta.node_types[0];
    const m = new Map<string, { bytes: number; count: number }>();
    for (let k = 0; k < s.nodes.length; k += nf) {
      const type = types[s.nodes[k + tI]!]!;
      // strings by type only (their text is the name); objects and the rest by constructor
      const key = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' ? type : `${type}:${s.strings[s.nodes[k + nI]!]}`;
      const e = m.get(key) ?? { bytes: 0, count: 0 };
      e.bytes += s.nodes[k + sI]!;
      e.count++;
      m.set(key, e);
    }
    return m;
  };
  const ma = sum(a);
  const mb = sum(b);
  return [...mb].map(([key, v]) => ({ key, bytes: v.bytes - (ma.get(key)?.bytes ?? 0), count: v.count - (ma.get(key)?.count ?? 0) }))
    .sort((x, y) => y.bytes - x.bytes).slice(0, 25);
}

/** one child process (a fresh heap): a measurement along `path`, or the restart's preparation */
function runChild(tree: string, n: number, dir: string, path: Path | 'prep'): Promise<ChildReport | undefined> {
  const extra = [...(args.opt('--snapshot') !== undefined ? ['--snapshot', args.opt('--snapshot')!] : []), ...(args.has('--by-type') ? ['--by-type'] : [])];
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', self, '--child', tree, String(n), dir, path, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('error', reject);
    p.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('REPORT '));
      if (code !== 0 || (line === undefined && path !== 'prep')) reject(new Error(`child ${tree} N=${n} ${path} exited ${code}: ${out}`));
      else resolve(line === undefined ? undefined : JSON.parse(line.slice(7)) as ChildReport);
    });
  });
}

/** one measurement along `path` in a fresh child process, on a data directory of its own (prepared for a restart) */
async function measure(tree: string, n: number, path: Path): Promise<ChildReport> {
  const dir = mkdtempSync(join(tmpdir(), 'hsv-invmem-'));
  try {
    writeConfig(join(dir, 'config.json'), n, join(dir, 'data'));
    if (path === 'restart') await runChild(tree, n, dir, 'prep');
    return (await runChild(tree, n, dir, path))!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MiB = (b: number): string => (b / 1024 / 1024).toFixed(1);

async function main(): Promise<void> {
  const base = args.opt('--base');
  const sizes = args.argv.filter((a, i) => /^\d+$/.test(a) && !['--base', '--snapshot', '--paths'].includes(args.argv[i - 1] ?? '')).map(Number);
  const paths = (args.opt('--paths')?.split(',') ?? PATHS) as Path[];
  for (const p of paths) if (!PATHS.includes(p)) throw new Error(`--paths: ${p} is none of ${PATHS.join(', ')}`);
  const trees: Array<[string, string]> = [...(base !== undefined ? [['base', base] as [string, string]] : []), ['this', thisTree]];
  console.log(`load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}; node ${process.version}; trees: ${trees.map(([l, t]) => `${l} = ${t}`).join(', ')}`);
  for (const path of paths) {
    const fixed = new Map<string, number>();
    for (const [label, tree] of trees) {
      const r = await measure(tree, 0, path);
      fixed.set(label, r.after - r.before);
      console.log(`${path}: ${label}: an OAM with no H(e)NB: +${MiB(r.after - r.before)} MiB of live heap (the fixed cost, subtracted below)`);
    }
    for (const n of sizes.length > 0 ? sizes : [1000, 10_000, 100_000]) {
      const per: Record<string, number> = {};
      for (const [label, tree] of trees) {
        const r = await measure(tree, n, path);
        const grown = r.after - r.before - fixed.get(label)!;
        per[label] = grown / n;
        console.log(`${path}: ${label}: N = ${n}: live heap ${MiB(r.before)} -> ${MiB(r.after)} MiB, +${MiB(grown)} MiB over the fixed cost: ${per[label]!.toFixed(0)} bytes per H(e)NB (start ${(r.startMs / 1000).toFixed(1)} s)`);
        for (const t of r.byType ?? []) console.log(`    ${t.key.padEnd(48)} ${(t.bytes / n).toFixed(0).padStart(6)} B/H(e)NB  ${(t.count / n).toFixed(2).padStart(6)} per H(e)NB`);
      }
      if (per.base !== undefined) console.log(`${path}: N = ${n}: this / base = ${(per.this! / per.base).toFixed(2)} (${per.base.toFixed(0)} -> ${per.this!.toFixed(0)} bytes per H(e)NB)`);
    }
  }
}

if (args.has('--child')) {
  const at = args.argv.indexOf('--child');
  await child(args.argv[at + 1]!, Number(args.argv[at + 2]), args.argv[at + 3]!, args.argv[at + 4] as Path | 'prep', args.opt('--snapshot'), args.has('--by-type'));
  process.exit(0);
} else await main();
