/**
 * Helpers of bench/fleet.ts (not run by bench/run.ts: the name starts with _).
 *
 * - the child processes: the simulated fleet + reference PVE (`serveFleet`), the OAM server (`serveOam`, which
 *   samples its own memory) and a bare NETCONF server for the session-setup baseline (`serveBare`); each prints
 *   one `READY <json>` line, answers `CPU` / `MEM` / `PEAK` / `FDS` lines on stdin with `CPU <us>` /
 *   `MEM <json>` / `PEAK <json>` / `FDS <n>` (and `HEAP [path]` with `HEAP <json>`: the live heap after full GCs,
 *   and a heap snapshot written to path when given), and exits when stdin ends;
 * - the parent's side: spawning a child and talking to it (`spawnChild`, with its open-files limit raised when
 *   asked), and a memory sampler.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { startFleet } from '../src/simulator/simulator.js';
import { startPve } from '../src/pve/service.js';
import { createNetconfServer, registerStandardOperations } from '../src/netconf/server/index.js';
import { startOamServer } from '../src/cli/oam-server.js';
import type { ServeConfig } from '../src/config/load.js';
import { createLogger } from '../src/log/logger.js';
import { metrics } from '../src/metrics/index.js';
import { backstopChild } from './_bounded.js';
import { benchLauncherArgs } from './_launcher.js';

/** the bench PVE's NETCONF user's password (BENCH_PVE_TRANSPORT=netconf) */
export const PVE_NETCONF_PASSWORD = 'bench-pve-netconf-pw';

/** A simulated device as a fleet child reports it: what the OAM's inventory and the PVE need. */
export interface FleetDevice {
  henbId: string;
  host: string;
  port: number;
  username: string;
  password: string;
  hostKeySha256: string;
  devicePublicKey: string;
  keyId: string;
}

/** What a fleet child hands to the parent (the PVE's part only from the child that runs the PVE). */
export interface FleetReady {
  devices: FleetDevice[];
  pve?: { url: string; caPath: string; issuer: string; jwks: unknown; netconf?: { host: string; port: number; hostKeySha256: string } };
  softwareUri?: string;
  startMs: number;
  /** the fleet child's RSS after the start (bytes) */
  rss: number;
}

/**
 * One fleet child's share: its devices are numbered from firstIndex and listen on `hosts` (one address with free
 * ports, or loopback addresses with ports from basePort, FleetOptions.hosts). A large fleet runs in several
 * children (one process has too few file descriptors); the one with `pve` also runs the reference PVE for the
 * whole fleet (its own devices and those in otherDevicesFile, JSON FleetDevice[]). keysDir: the devices' keys and
 * credentials, kept across runs (made once: key generation and file writes are most of a large fleet's start).
 */
export interface FleetLayout {
  hosts: string[];
  basePort: number;
  firstIndex: number;
  keysDir: string;
  pve: boolean;
  otherDevicesFile?: string;
  /** the OAM instances' JWKS (written once they started): the PVE accepts the reference values they provide */
  oamJwksFile: string;
}

export interface BareReady {
  port: number;
  fingerprint: string;
  username: string;
  password: string;
}

export interface MemSample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export interface OamReady {
  host: string;
  port: number;
  fingerprint: string;
  /** startOamServer, ms */
  startMs: number;
  /** memory before the OAM started (after a gc when --expose-gc) */
  baseline: MemSample;
}

export interface PeakReport {
  peak: MemSample;
  samples: number;
  /** most open file descriptors seen (sampled every second) */
  fdsPeak: number;
  /** the OAM: SQLite COMMITs run since it started (-1 when not counted) */
  commits: number;
  /** the OAM: operations sent to the PVE, by operation, and the requests or statements they carried (hsv_pve_operations_total) */
  pveOps?: Record<string, { operations: number; entries: number }>;
}

/** fleet children: software-update RPCs their devices accepted (each started an install), since they started */
export interface UpdateCounts {
  /** accepted in all */
  total: number;
  /** devices that accepted exactly one / more than one */
  once: number;
  twice: number;
  /** most accepted by one device */
  max: number;
}

/** open file descriptors of a process (Linux /proc; -1 elsewhere) */
export function countFds(pid: string): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

/** stdin protocol shared by the children; `stop` runs when the parent closes stdin (or sends SIGTERM) */
function serveControl(stop: () => Promise<void>, sampler?: MemorySampler, sessionsOpened?: () => number, commits?: () => number, updates?: () => UpdateCounts,
  pveOps?: () => Promise<PeakReport['pveOps']>): void {
  let stopping = false;
  const end = (): void => {
    if (stopping) return;
    stopping = true;
    stop().then(() => process.exit(0), (e: unknown) => {
      console.error(e);
      process.exit(1);
    });
  };
  process.on('SIGTERM', end);
  process.stdin.on('end', end);
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l === 'CPU') {
      const u = process.cpuUsage();
      console.log(`CPU ${u.user + u.system}`);
    } else if (l === 'MEM') {
      const m = process.memoryUsage();
      console.log(`MEM ${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external })}`);
    } else if (l === 'PEAK' && sampler) {
      sampler.sample();
      sampler.sampleFds();
      const report: PeakReport = { peak: sampler.peak, samples: sampler.samples, fdsPeak: sampler.fdsPeak, commits: commits?.() ?? -1 };
      void (pveOps?.() ?? Promise.resolve(undefined)).then((ops) => console.log(`PEAK ${JSON.stringify(ops !== undefined ? { ...report, pveOps: ops } : report)}`));
    } else if (l === 'HEAP' || l.startsWith('HEAP ')) {
      const path = l.slice(5).trim();
      console.log(`HEAP ${JSON.stringify(liveHeap(path === '' ? undefined : path))}`);
    } else if (l === 'FDS') {
      console.log(`FDS ${countFds('self')}`);
    } else if (l === 'SESSIONS' && sessionsOpened) {
      console.log(`SESSIONS ${sessionsOpened()}`);
    } else if (l === 'UPDATES' && updates) {
      console.log(`UPDATES ${JSON.stringify(updates())}`);
    }
  });
}

/** What `HEAP` answers: the live heap (bytes in use after full GCs) and the snapshot written, if asked. */
export interface HeapReport {
  live: number;
  snapshot?: string;
}

/**
 * The live heap of this process: heap in use after full GCs (needs --expose-gc; without it, the heap in use as
 * it is), and a heap snapshot at `snapshotPath` when given (v8.writeHeapSnapshot: seconds for a large heap, the
 * process stands still meanwhile).
 */
function liveHeap(snapshotPath?: string): HeapReport {
  const gc = (globalThis as { gc?: () => void }).gc;
  // two: what a finalizer or weak callback frees shows at the next
  gc?.();
  gc?.();
  const live = getHeapStatistics().used_heap_size;
  return snapshotPath !== undefined ? { live, snapshot: writeHeapSnapshot(snapshotPath) } : { live };
}

/** Child: `count` healthy femtocells (and, with layout.pve, the reference PVE for the whole fleet), in this process. */
export async function serveFleet(count: number, installMs: number, maxConcurrent: number, layout: FleetLayout): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hsv-bench-fleet-'));
  const t0 = performance.now();
  mkdirSync(layout.keysDir, { recursive: true });
  // replay: false: no event log (SQLite) per device; the OAM's driver subscribes live, which is all it needs here
  const fleet = await startFleet({
    profiles: { healthy: count }, installMs, replay: false, dataDir: layout.keysDir, hosts: layout.hosts, basePort: layout.basePort,
    firstIndex: layout.firstIndex,
  });
  const devices: FleetDevice[] = fleet.devices.map((d) => ({
    henbId: d.henbId, host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256,
    devicePublicKey: d.devicePublicKey, keyId: d.keyId,
  }));
  let pve: Awaited<ReturnType<typeof startPve>> | undefined;
  let ready: FleetReady = { devices, startMs: 0, rss: 0 };
  if (layout.pve) {
    const others = layout.otherDevicesFile !== undefined ? JSON.parse(readFileSync(layout.otherDevicesFile, 'utf8')) as FleetDevice[] : [];
    pve = await startPve({
      listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: [...devices, ...others], referenceValues: fleet.referenceValues, maxConcurrent,
      deviceTimeoutMs: 60_000, oamJwks: layout.oamJwksFile,
      // BENCH_PVE_TRANSPORT=netconf: the OAM reaches the PVE over its NETCONF endpoint (user oam, PVE_NETCONF_PASSWORD)
      ...(process.env.BENCH_PVE_TRANSPORT === 'netconf' ? { netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', password: PVE_NETCONF_PASSWORD }] } } : {}),
    });
    const image = Buffer.concat([Buffer.from('henb-sw-verify bench image v2\n'), createHash('sha256').update('bench').digest()]);
    const imageFile = join(dir, 'henb-firmware-2.0.0.bin');
    writeFileSync(imageFile, image);
    pve.addReferenceValue('rootfs', createHash('sha256').update(image).digest('hex'));
    ready = {
      ...ready, softwareUri: pathToFileURL(imageFile).href,
      pve: { url: pve.url, caPath: pve.caPath, issuer: pve.issuer, jwks: pve.jwks, ...(pve.netconf !== undefined ? { netconf: pve.netconf } : {}) },
    };
  }
  ready.startMs = performance.now() - t0;
  ready.rss = process.memoryUsage().rss;
  console.log(`READY ${JSON.stringify(ready)}`);
  // NETCONF sessions the child's devices accepted since they started (RFC 6022 in-sessions), from the OAM and the PVE
  const sessionsOpened = (): number => fleet.devices.reduce((n, d) => n + fleet.sessionsOpened(d.henbId), 0);
  // software-update RPCs each device accepted (an install started): a job run twice, by one instance or by two,
  // shows as a device that installed twice (as test/interop/postgres-shared-fleet.test.ts counts them)
  const accepted = new Map<string, number>();
  for (const d of fleet.devices) {
    const cell = fleet.cell(d.henbId);
    if (!cell) continue;
    const original = cell.startUpdate.bind(cell);
    cell.startUpdate = (req) => {
      const r = original(req); // throws when the device refuses it (busy, duplicate job-id): not an install
      accepted.set(d.henbId, (accepted.get(d.henbId) ?? 0) + 1);
      return r;
    };
  }
  const updates = (): UpdateCounts => {
    const c: UpdateCounts = { total: 0, once: 0, twice: 0, max: 0 };
    for (const n of accepted.values()) {
      c.total += n;
      if (n === 1) c.once++;
      else c.twice++;
      c.max = Math.max(c.max, n);
    }
    return c;
  };
  serveControl(async () => {
    await pve?.close();
    await fleet.close();
    rmSync(dir, { recursive: true, force: true });
  }, undefined, sessionsOpened, undefined, updates);
}

/**
 * Child: the OAM server (built-in plugin, SQLite store) as `serve` runs it, with the config in `configFile`
 * (JSON: {config: ServeConfig, dataDir}); secrets come from the environment. Its memory is sampled every 25 ms
 * from before the start.
 */
export async function serveOam(configFile: string): Promise<void> {
  const { config, dataDir } = JSON.parse(readFileSync(configFile, 'utf8')) as { config: ServeConfig; dataDir: string };
  const commits = countSqliteCommits();
  const log = createLogger({ level: 'warn', write: (l) => process.stderr.write(l) });
  (globalThis as { gc?: () => void }).gc?.();
  const baseline = now();
  const sampler = new MemorySampler();
  sampler.start();
  const t0 = performance.now();
  const server = await startOamServer({ listen: { host: '127.0.0.1', port: 0 }, dataDir, config, env: process.env, log });
  const ready: OamReady = { host: server.address.host, port: server.address.port, fingerprint: server.fingerprint, startMs: performance.now() - t0, baseline };
  console.log(`READY ${JSON.stringify(ready)}`);
  serveControl(async () => {
    sampler.stop();
    await server.close();
  }, sampler, undefined, commits, undefined, pveOperations);
}

/** the OAM's counts of operations sent to the PVE (src/metrics: hsv_pve_operations_total, hsv_pve_operation_entries_total) */
async function pveOperations(): Promise<PeakReport['pveOps']> {
  const out: NonNullable<PeakReport['pveOps']> = {};
  const [ops, entries] = await Promise.all([metrics.pveOperations.get(), metrics.pveOperationEntries.get()]);
  for (const v of ops.values) (out[String(v.labels.operation)] ??= { operations: 0, entries: 0 }).operations += v.value;
  for (const v of entries.values) (out[String(v.labels.operation)] ??= { operations: 0, entries: 0 }).entries += v.value;
  return out;
}

/**
 * Counts the COMMITs the SQLite store runs in this process (each `exec('COMMIT')` of better-sqlite3: a transaction,
 * a group of them, or an operation's own; statements autocommitted without BEGIN are not counted). ~0.1 us each.
 */
function countSqliteCommits(): () => number {
  const Database = createRequire(import.meta.url)('better-sqlite3') as { prototype: { exec(sql: string): unknown } };
  const exec = Database.prototype.exec;
  let n = 0;
  Database.prototype.exec = function (this: unknown, sql: string) {
    if (sql === 'COMMIT') n++;
    return exec.call(this, sql);
  };
  return () => n;
}

/** Child: a bare NETCONF server (standard operations, no event log), password auth. */
export async function serveBare(ietfYangDir: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hsv-bench-bare-'));
  const server = createNetconfServer({
    auth: { users: [{ username: 'bench', password: 'bench-pw' }] },
    dataDir: dir,
    operations: [(reg) => registerStandardOperations(reg, { ietfYangDir, eventLog: false })],
    // the clients are the benchmark's own concurrent lanes: the SSH hardening caps (10 unauthenticated
    // connections, 10 sessions per user) would refuse them
    limits: { maxSessions: 1000, maxUnauthenticated: 1000, maxSessionsPerUser: 1000 },
  });
  const { port } = await server.listen('127.0.0.1', 0);
  const ready: BareReady = { port, fingerprint: server.hostKeyFingerprints[0] as string, username: 'bench', password: 'bench-pw' };
  console.log(`READY ${JSON.stringify(ready)}`);
  serveControl(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

/** A child process of this benchmark, driven by lines on its stdin/stdout. */
export interface Child<T> {
  ready: T;
  pid: number;
  /** the child's CPU time so far (user + system), microseconds */
  cpu(): Promise<number>;
  mem(): Promise<MemSample>;
  /** peak memory and open files since the child started (children with a sampler: the OAM) */
  peak(): Promise<PeakReport>;
  /** open file descriptors */
  fds(): Promise<number>;
  /** the live heap after full GCs, and a heap snapshot at snapshotPath when given */
  heap(snapshotPath?: string): Promise<HeapReport>;
  /** fleet children only: NETCONF sessions their devices accepted so far (others never answer) */
  sessions(): Promise<number>;
  /** fleet children only: software-update RPCs their devices accepted so far */
  updates(): Promise<UpdateCounts>;
  /** the child's open-files limit (soft), from /proc/PID/limits; -1 when unknown */
  fdLimit: number;
  stop(): Promise<void>;
  /** SIGKILL (the benchmark's own time limit) */
  kill(): void;
}

/** every child still running, for the benchmark's time limit */
export const liveChildren = new Set<ChildProcess>();

/** the soft open-files limit of a process (Linux /proc); -1 when unknown */
export function fdLimitOf(pid: number | 'self'): number {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const n = Number(line?.trim().split(/\s+/)[3]);
    return Number.isFinite(n) ? n : -1;
  } catch {
    return -1;
  }
}

/**
 * Spawns `node [the launcher's options] [BENCH_CHILD_NODE_ARGS] [nodeArgs] --import tsx script args` (the launcher's:
 * bin/henb-sw-verify.js' first line, as every process of the product starts; none with BENCH_LAUNCHER_ARGS=0). With
 * `fdLimit` above this process's limit, through `sh -c 'ulimit -n N'` (root, or a hard limit high enough, may raise
 * it; otherwise the child keeps the highest limit it may set, which `Child.fdLimit` reports).
 */
export async function spawnChild<T>(script: string, args: string[], readyTimeoutMs: number, opts: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv; fdLimit?: number } = {}): Promise<Child<T>> {
  // BENCH_CHILD_NODE_ARGS: extra node options for the children (e.g. --cpu-prof --cpu-prof-dir=DIR to profile them)
  const extra = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const argv = [...benchLauncherArgs(), ...extra, ...(opts.nodeArgs ?? []), '--import', 'tsx', script, ...args];
  const raise = opts.fdLimit !== undefined && opts.fdLimit > fdLimitOf('self');
  const proc: ChildProcess = raise
    // exec keeps the pid: the child is node itself; a refused raise falls back to the hard limit
    ? spawn('/bin/sh', ['-c', 'ulimit -n "$0" 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null; exec "$@"', String(opts.fdLimit), process.execPath, ...argv], {
      stdio: ['pipe', 'pipe', 'inherit'], env: opts.env ?? process.env,
    })
    : spawn(process.execPath, argv, { stdio: ['pipe', 'pipe', 'inherit'], env: opts.env ?? process.env });
  liveChildren.add(proc);
  backstopChild(proc.pid, true);
  const lines = createInterface({ input: proc.stdout! });
  const waiting: Array<{ prefix: string; resolve: (s: string) => void }> = [];
  let onReady: ((s: string) => void) | undefined;
  lines.on('line', (l) => {
    if (l.startsWith('READY ') && onReady) return onReady(l.slice(6));
    const i = waiting.findIndex((w) => l.startsWith(w.prefix));
    if (i >= 0) {
      const w = waiting.splice(i, 1)[0]!;
      w.resolve(l.slice(w.prefix.length));
    }
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => {
    liveChildren.delete(proc);
    backstopChild(proc.pid, false);
    r(code);
  }));
  const readyText = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`child ${args.join(' ')} not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
    onReady = (s) => {
      clearTimeout(t);
      resolve(s);
    };
    void exited.then((code) => {
      clearTimeout(t);
      reject(new Error(`child ${args.join(' ')} exited (${code}) before it was ready`));
    });
  }).catch((e: unknown) => {
    proc.kill('SIGTERM');
    throw e;
  });
  const ask = (cmd: string): Promise<string> => new Promise((resolve) => {
    waiting.push({ prefix: `${cmd} `, resolve });
    proc.stdin!.write(`${cmd}\n`);
  });
  return {
    ready: JSON.parse(readyText) as T,
    pid: proc.pid!,
    cpu: async () => Number(await ask('CPU')),
    mem: async () => JSON.parse(await ask('MEM')) as MemSample,
    peak: async () => JSON.parse(await ask('PEAK')) as PeakReport,
    fds: async () => Number(await ask('FDS')),
    heap: async (snapshotPath?: string) => {
      // the answer's prefix is `HEAP ` whatever was asked
      const text = await new Promise<string>((resolve) => {
        waiting.push({ prefix: 'HEAP ', resolve });
        proc.stdin!.write(`HEAP${snapshotPath !== undefined ? ` ${snapshotPath}` : ''}\n`);
      });
      return JSON.parse(text) as HeapReport;
    },
    sessions: async () => Number(await ask('SESSIONS')),
    updates: async () => JSON.parse(await ask('UPDATES')) as UpdateCounts,
    fdLimit: fdLimitOf(proc.pid!),
    kill: () => proc.kill('SIGKILL'),
    async stop() {
      proc.stdin!.end();
      const t = setTimeout(() => proc.kill('SIGTERM'), 20_000);
      // a child already stopping ignores SIGTERM (serveControl), one whose main thread is blocked never sees it; a
      // large fleet or OAM may take a while to close (and a --cpu-prof child writes its profile then): 120 s
      const k = setTimeout(() => {
        console.log(`child ${args[0] ?? ''} (pid ${proc.pid}) did not stop within 120 s: killed`);
        proc.kill('SIGKILL');
      }, 120_000);
      await exited;
      clearTimeout(t);
      clearTimeout(k);
    },
  };
}

/**
 * The peaks of the OAM's memory, cheaply enough not to show in its CPU per update (issue 15: process.memoryUsage()
 * every 25 ms, ~20-300 us each, was 1.4% of the OAM's main thread in a 1,000-device profile):
 * - the heap figures (heapUsed, heapTotal, external) every `everyMs` from v8.getHeapStatistics(), ~2.5 us: the same
 *   numbers process.memoryUsage() reports, without its RSS read;
 * - the peak RSS is the kernel's own high-water mark (VmHWM in /proc/self/status, read at each peak report): the
 *   exact peak over the process's life, not a sampled one; where /proc is missing, process.memoryUsage.rss() every
 *   `rssEveryMs`.
 */
export class MemorySampler {
  peak: MemSample = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0 };
  samples = 0;
  fdsPeak = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private rssTimer: ReturnType<typeof setInterval> | undefined;
  private fdTimer: ReturnType<typeof setInterval> | undefined;

  start(everyMs = 25, rssEveryMs = 250): void {
    this.sample();
    this.sampleFds();
    this.timer = setInterval(() => this.sampleHeap(), everyMs);
    if (rssHighWaterMark() === undefined) this.rssTimer = setInterval(() => this.sampleRss(process.memoryUsage.rss()), rssEveryMs);
    // reading /proc/self/fd costs ~0.3 us per open file: once a second
    this.fdTimer = setInterval(() => this.sampleFds(), 1000);
  }

  sampleFds(): void {
    this.fdsPeak = Math.max(this.fdsPeak, countFds('self'));
  }

  /** every figure now, and the RSS high-water mark */
  sample(): void {
    this.sampleHeap();
    this.sampleRss(Math.max(process.memoryUsage.rss(), rssHighWaterMark() ?? 0));
  }

  private sampleHeap(): void {
    const h = getHeapStatistics();
    this.samples++;
    this.peak.heapUsed = Math.max(this.peak.heapUsed, h.used_heap_size);
    this.peak.heapTotal = Math.max(this.peak.heapTotal, h.total_heap_size);
    this.peak.external = Math.max(this.peak.external, h.external_memory);
  }

  private sampleRss(rss: number): void {
    this.peak.rss = Math.max(this.peak.rss, rss);
  }

  stop(): MemSample {
    if (this.timer) clearInterval(this.timer);
    if (this.rssTimer) clearInterval(this.rssTimer);
    if (this.fdTimer) clearInterval(this.fdTimer);
    this.sample();
    return this.peak;
  }
}

/** the process's peak RSS so far, bytes (Linux: VmHWM); undefined without /proc */
function rssHighWaterMark(): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

export function now(): MemSample {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
}

export const MiB = (n: number): string => (n / 1024 / 1024).toFixed(1);
