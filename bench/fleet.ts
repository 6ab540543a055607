/**
 * Fleet throughput: verified software updates per second through the whole flow (NMS -> OAM software-update
 * RPC over NETCONF/SSH naming every device -> per device: PVE integrity-request over RESTCONF/HTTPS (the PVE
 * collects signed evidence from the device over NETCONF/SSH), token check, software digest, software-update
 * to the device over NETCONF/SSH, completion notification, TIM check, signed result -> software-update-result
 * notification to the NMS), for fleets of simulated healthy femtocells up to 100,000 and more.
 *
 * Baseline, measured in the same run: bare NETCONF session setups per second (SSH + password auth + hello +
 * close-session), our client against our server, 50 concurrent, server in a child process. Baseline rounds and
 * fleet rounds are interleaved and the best round of each is kept (noise only ever slows a round down). The
 * ratio updates/s / setups/s says how many session setups' worth of work one verified update costs (each
 * update needs two device sessions with BENCH_PVE_EVIDENCE=collect: the PVE's evidence session and the OAM
 * driver's session, plus the rest; one with relay: the OAM relays the evidence it measured on its own session).
 *
 * Processes: the simulated fleet and the reference PVE run in one child process, the OAM server (built-in
 * plugin, as `serve` runs it) in another (or one per instance), fresh for every run; this process is the NMS
 * client (and the baseline's client). The OAM measures its own memory and open files, so the figures are the
 * OAM's alone, cheaply, so that the measurement does not count as CPU per update (MemorySampler in _fleet-lib.ts):
 * heapUsed, heapTotal and external every 25 ms (v8.getHeapStatistics(), ~2.5 us; process.memoryUsage(), as until
 * 4 December, cost ~20-300 us a sample with its RSS read), the peak RSS as the kernel keeps it (VmHWM of
 * /proc/self/status: the exact peak of the process's life, not a sample; without /proc, sampled every 250 ms), open
 * files every second.
 *
 * Large fleets: a process has a limited number of file descriptors (a simulated device needs one for its listener
 * and one per session to it) and one loopback address ~28,000 ephemeral ports. So the fleet runs in several
 * children of at most BENCH_FLEET_PER_CHILD devices (default: what the hard open-files limit allows, (hard -
 * 2048) / 2), each on a loopback address of its own (127.0.1.1, 127.0.1.2, ...: Linux routes 127.0.0.0/8 to lo)
 * at ports from BENCH_FLEET_BASE_PORT (default 12000, below the ephemeral range, so that the listeners never take
 * the ports outgoing connections need); the last child also runs the PVE for the whole fleet. One child with
 * more than BENCH_FLEET_PER_ADDRESS devices (default 20,000) spreads them over several addresses the same way.
 * Every child's open-files limit is raised to what its share needs (`ulimit -n` in the child's shell: root, or a
 * high enough hard limit, may; otherwise the child keeps its hard limit; both are printed), and so is each OAM's.
 * The devices' keys are made once per benchmark and shared by its runs (BENCH_FLEET_KEYS_DIR keeps them across
 * benchmarks: making 100,000 devices' keys and files takes minutes).
 *
 * Several OAM instances (BENCH_FLEET_INSTANCES=1,2 with BENCH_FLEET_STORE=postgres): the instances share one
 * PostgreSQL database (a throwaway cluster from scripts/postgres-peer-start.sh with durability on and
 * pg_stat_statements), the NMS sends each instance every n-th H(e)NB, and the run also reports what it cost
 * PostgreSQL per verified update (statements, transactions, rows, WAL bytes; bench/_fleet-pg.ts).
 *
 * Knobs (env): BENCH_FLEET_SIZES (default 100,1000), BENCH_FLEET_BATCH (henb-ids per software-update RPC,
 * default 5000, as an NMS would send waves; 0 = all in one RPC: its reply declares the namespace once, so 10,000 and
 * more H(e)NBs in one RPC parse, test/oam-plugin/software-update-reply.test.ts), BENCH_INSTALL_MS (simulated install, default 20), BENCH_PVE_MAX (PVE
 * evidence collections at once, default 64), BENCH_SETUP_CONCURRENCY (default 50), BENCH_ROUND_MS (baseline
 * round, default 2000), BENCH_FLEET_ROUNDS (default 2), BENCH_FLEET_LIMIT_S (how long a run waits for its
 * results, default 120; with the start allowances below it bounds the whole benchmark, which stops itself
 * after the total it prints at the start), BENCH_FLEET_STORE (sqlite | postgres), BENCH_FLEET_INSTANCES
 * (default 1; a list runs each), BENCH_PVE_EVIDENCE (collect, the default: the PVE collects step 3's evidence over its
 * own device session; relay: the OAM collects it on the job's session and relays it, config pve.evidence; collect,relay
 * runs both in every round, paired), BENCH_FLEET_PER_CHILD, BENCH_FLEET_PER_ADDRESS, BENCH_FLEET_BASE_PORT, BENCH_FLEET_KEYS_DIR,
 * BENCH_CHILD_NODE_ARGS (extra node options for the children, e.g. --cpu-prof --cpu-prof-dir=DIR), BENCH_OAM_NODE_ARGS
 * (extra node options for the OAM servers only, e.g. --max-old-space-size=640: a host's heap setting),
 * BENCH_LAUNCHER_ARGS (every child starts with the launcher's node options, bin/henb-sw-verify.js' first line, as the
 * product's processes do; 0 leaves them out, to compare with node's defaults), BENCH_FLEET_MAX_ACTIVE
 * (the OAM's jobs.max-active, jobs driven at once; default the plugin's, 500; the others wait in the store),
 * BENCH_PVE_TRANSPORT (restconf, the default, or netconf: the OAM reaches the PVE over its NETCONF endpoint, config
 * pve.transport), BENCH_PVE_MAX_BATCH (the OAM's pve.max-batch; default the plugin's, 32; 1: every request alone),
 * BENCH_FLEET_DEVICE_IDLE_S (the OAM's devices.idle-timeout, seconds a device session no job needs stays open; default
 * the plugin's, 5; 0 closes it when its job ends), BENCH_FLEET_GROUP_COMMIT (the OAM's store.group-commit: on, off, or off,on: each round runs both, one after the
 * other; unset: the plugin's default). With SQLite the OAM counts its COMMITs (reported per verified update).
 *
 * Bounds (bench/_bounded.ts): each baseline setup and close settles within 90 s or the benchmark fails naming the lane;
 * a child not stopped 120 s after it was asked is killed; the time limit is also kept by a worker thread, 30 s later,
 * for a blocked main thread (6 December: a deadlock inside node's crypto stalled the baseline round for good).
 *
 * Run: node --expose-gc --import tsx bench/fleet.ts   (or npm run bench -- fleet, which stops any benchmark
 * after 300 s: run 10,000 and more directly)
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectNetconf } from '../src/netconf/client/index.js';
import type { NetconfClient } from '../src/netconf/client/index.js';
import { NETCONF_NOTIFICATION_NS, child, childText, childrenNamed, el, leaf } from '../src/netconf/xml/index.js';
import type { XmlElement } from '../src/netconf/xml/index.js';
import { defaultServeConfig } from '../src/config/load.js';
import { ADMIN_PASSWORD_ENV } from '../src/cli/users.js';
import { MiB, PVE_NETCONF_PASSWORD, fdLimitOf, liveChildren, serveBare, serveFleet, serveOam, spawnChild } from './_fleet-lib.js';
import type { BareReady, Child, FleetLayout, FleetReady, HeapReport, MemSample, OamReady, UpdateCounts } from './_fleet-lib.js';
import { startPgCluster } from './_fleet-pg.js';
import { startBackstop, within } from './_bounded.js';
import { benchLauncherArgs } from './_launcher.js';
import type { JobCheck, PgCluster, PgLoad } from './_fleet-pg.js';

const self = fileURLToPath(import.meta.url);
const root = join(dirname(self), '..');
const HSV_NS = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';

/** the plugin's largest pve.timeout (plugin.json): a run limit above it still waits the PVE that long at most */
const PVE_TIMEOUT_MAX_S = 3600;

const envNum = (name: string, dflt: number): number => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? dflt : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got ${v}`);
  return n;
};

const envList = (name: string, dflt: string): number[] =>
  (process.env[name] ?? dflt).split(',').map((x) => Number(x.trim())).filter((n) => Number.isInteger(n) && n > 0);

/** how long a child may take to start, ms: the fleet makes (first run) or loads every device's keys */
const fleetStartMs = (size: number): number => 120_000 + 20 * size;
const oamStartMs = (size: number): number => 60_000 + 2 * size;
/** one run's bound: fleet start + OAM start + the wait for results + stopping; the benchmark's sum of these */
const runBoundMs = (size: number, instances: number, limitMs: number, pg: boolean): number =>
  fleetStartMs(size) + instances * oamStartMs(size) + limitMs + 60_000 + (pg ? 60_000 : 0);

interface FleetFigures {
  size: number;
  instances: number;
  /** step 3's evidence (BENCH_PVE_EVIDENCE): collected by the PVE, or relayed by the OAM */
  mode: EvidenceMode;
  /** the OAM's store.group-commit (BENCH_FLEET_GROUP_COMMIT); undefined: the plugin's default */
  groupCommit: boolean | undefined;
  /** SQLite COMMITs in the OAM instances, from their start to the end of the run (-1: not counted, e.g. PostgreSQL) */
  commits: number;
  /** operations the OAM instances sent to the PVE, by operation, with the requests or statements they carried */
  pveOps: Record<string, { operations: number; entries: number }>;
  /** NETCONF sessions the devices accepted during the run (OAM and PVE), per job started */
  sessionsPerUpdate: number;
  /** jobs started (the software-update replies' `started` entries) */
  started: number;
  verified: number;
  other: Map<string, number>;
  firstReasons: string[];
  /** fleet + PVE start in the child, ms (the slowest child) */
  childStartMs: number;
  fleetChildren: number;
  /** fleet child RSS after its start / after the run */
  childRss: { start: number; end: number };
  /** OAM server start, ms (the slowest instance) */
  oamStartMs: number;
  /** from sending the first software-update RPC to its (last) reply: every job started */
  replyMs: number;
  /** from sending the first RPC to the last software-update-result notification */
  totalMs: number;
  /** the whole run: children started, run, children stopped */
  wallMs: number;
  updatesPerSec: number;
  /** OAM memory: before its start and peak, summed over the instances; highest single instance */
  baseline: MemSample;
  peak: MemSample;
  peakOne: number;
  samples: number;
  oamCpuMs: number;
  childCpuMs: number;
  timedOut: boolean;
  /** OAM open file descriptors (summed over the instances): most seen, and after the run; the fleet child's after */
  fds: { oamPeak: number; oam: number; child: number };
  fdLimits: { oam: number; child: number };
  /** per phase: durations (ms) of every job, from its progress notifications */
  phases: Array<{ name: string; ms: number[] }>;
  /** arrival times of the results (ms after the first RPC), sorted */
  arrivals: number[];
  pg?: PgLoad;
  /** no job run twice: software-update RPCs the devices accepted (installs started), and (PostgreSQL) the jobs as stored */
  twice: { devices: UpdateCounts; store?: JobCheck };
  /** the OAM's live heap (after full GCs, summed over the instances) when results.size first reached each mark */
  heapMarks: HeapMark[];
  /** the OAM's live heap (after full GCs, summed over the instances) before the first RPC and after the last result */
  heapEnds: { before: number; after: number };
}

/** the OAM's live heap at a point of the run: `verified` results had arrived (any status) */
interface HeapMark {
  verified: number;
  live: number;
  snapshots: string[];
}

/**
 * BENCH_FLEET_HEAP_AT: fractions of the fleet (default 0.25,0.75; empty or 0: none) at which the OAM's live heap
 * is measured after full GCs (the OAM stands still meanwhile: a fraction of a second per 100 MiB), while jobs are in
 * flight at both marks (bounded by jobs.max-active), so that the difference is what stays per job DONE:
 * "heap growth per verified job after the warm-up". BENCH_FLEET_SNAPSHOT_DIR: also a heap snapshot at each mark.
 */
function heapFractions(): number[] {
  const v = process.env.BENCH_FLEET_HEAP_AT ?? '0.25,0.75';
  const xs = v.split(',').map((x) => x.trim()).filter((x) => x !== '').map(Number);
  for (const x of xs) if (!Number.isFinite(x) || x < 0 || x >= 1) throw new Error(`BENCH_FLEET_HEAP_AT must be fractions in [0, 1), got ${v}`);
  return xs.filter((x) => x > 0).sort((a, b) => a - b);
}

/** BENCH_OAM_NODE_ARGS: node options for the OAM servers alone, after every child's (the last of an option wins) */
function oamNodeArgs(): string[] {
  return (process.env.BENCH_OAM_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
}

/** measures the OAMs' live heap (and writes snapshots, BENCH_FLEET_SNAPSHOT_DIR) when `count` results reached a mark */
function heapMarker(size: number, oams: Array<Child<OamReady>>, runLabel: string): { onResult(count: number): void; done(): Promise<HeapMark[]> } {
  const marks = heapFractions().map((f) => Math.max(1, Math.round(f * size)));
  const dir = process.env.BENCH_FLEET_SNAPSHOT_DIR;
  const taken: Array<Promise<HeapMark>> = [];
  let next = 0;
  return {
    onResult(count) {
      while (next < marks.length && count >= marks[next]!) {
        next++;
        taken.push(Promise.all(oams.map((x, k): Promise<HeapReport> => x.heap(dir !== undefined && dir !== '' ? join(dir, `oam-${runLabel}-${k + 1}-at-${count}.heapsnapshot`) : undefined)))
          .then((rs) => ({ verified: count, live: rs.reduce((a, r) => a + r.live, 0), snapshots: rs.flatMap((r) => (r.snapshot !== undefined ? [r.snapshot] : [])) })));
      }
    },
    done: () => Promise.all(taken),
  };
}

/** phases of a job, between the progress notifications' steps (the first notification of a step counts) */
const PHASES: Array<{ name: string; from: number; to: number }> = [
  { name: 'start->PVE asked', from: 1, to: 2 },
  { name: 'PVE (evidence+appraisal)', from: 2, to: 4 },
  { name: 'digest+send', from: 4, to: 7 },
  { name: 'install+completion+check+result', from: 7, to: 10 },
];

/**
 * Each setup and each close within SETUP_BOUND_MS: beyond it the round fails, naming the lane (the client's own
 * timers end a connect within 20 s + 30 s for the hello, a close within ~10 s).
 */
const SETUP_BOUND_MS = 90_000;

async function setupRound(b: BareReady, lanes: number, ms: number): Promise<number> {
  const opts = { host: '127.0.0.1', port: b.port, username: b.username, password: b.password, hostKeySha256: b.fingerprint };
  let n = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
    while (performance.now() < end) {
      const c = await within(connectNetconf(opts), SETUP_BOUND_MS, () => `baseline lane ${lane}: session setup ${n + 1} of the round (connect)`);
      await within(c.close(), SETUP_BOUND_MS, () => `baseline lane ${lane}: close of session ${c.sessionId}`);
      n++;
    }
  }));
  return (n / (performance.now() - t0)) * 1000;
}

async function measureSetups(lanes: number, ms: number): Promise<number> {
  const bare = await spawnChild<BareReady>(self, ['--child-bare'], 30_000);
  try {
    await setupRound(bare.ready, lanes, Math.min(300, ms)); // warm-up (JIT, key parsing)
    return await setupRound(bare.ready, lanes, ms);
  } finally {
    await bare.stop();
  }
}

/** the hard open-files limit of this process (what a child may raise its own to without privileges) */
function hardFdLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const v = line?.trim().split(/\s+/)[4];
    return v === 'unlimited' ? 1 << 20 : Number(v);
  } catch {
    return 1024;
  }
}

/**
 * How `size` devices are spread (see the header): children of at most perChild devices (a child needs a file
 * descriptor per device for its listener and one per OAM session to it), the last of them runs the PVE; one child
 * listens on 127.0.0.1 with free ports, or on several addresses above perAddress; several children get an
 * address each (127.0.1.k) with ports from basePort.
 */
function layoutsFor(size: number, o: RunOptions, oamJwksFile: string): Array<{ count: number; layout: FleetLayout }> {
  const children = Math.ceil(size / o.perChild);
  if (children > 254) throw new Error(`BENCH_FLEET_PER_CHILD ${o.perChild}: ${size} devices would need ${children} children (at most 254)`);
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const checkPorts = (n: number): void => {
    const last = o.basePort + n - 1;
    if (low !== undefined && last >= low) throw new Error(`ports ${o.basePort}..${last} reach the ephemeral range (from ${low}): lower BENCH_FLEET_BASE_PORT, BENCH_FLEET_PER_ADDRESS or BENCH_FLEET_PER_CHILD`);
  };
  const base = { keysDir: o.keysDir, oamJwksFile };
  if (children === 1) {
    if (size <= o.perAddress) return [{ count: size, layout: { ...base, hosts: ['127.0.0.1'], basePort: 0, firstIndex: 1, pve: true } }];
    const n = Math.ceil(size / o.perAddress);
    if (n > 254) throw new Error(`BENCH_FLEET_PER_ADDRESS ${o.perAddress}: ${size} devices would need ${n} addresses (at most 254)`);
    checkPorts(Math.ceil(size / n));
    return [{ count: size, layout: { ...base, hosts: Array.from({ length: n }, (_, k) => `127.0.1.${k + 1}`), basePort: o.basePort, firstIndex: 1, pve: true } }];
  }
  const per = Math.ceil(size / children);
  checkPorts(per);
  return Array.from({ length: children }, (_, k) => {
    const first = k * per + 1;
    const count = Math.min(per, size - k * per);
    return { count, layout: { ...base, hosts: [`127.0.1.${k + 1}`], basePort: o.basePort, firstIndex: first, pve: k === children - 1 } };
  });
}

/** the keys of an OAM's keys/jwks.json somewhere under its data dir */
function jwksUnder(dir: string): unknown[] {
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name === 'jwks.json' && e.parentPath.endsWith('keys')) {
      return (JSON.parse(readFileSync(join(e.parentPath, e.name), 'utf8')) as { keys: unknown[] }).keys;
    }
  }
  throw new Error(`no keys/jwks.json under ${dir}`);
}

interface RunOptions {
  installMs: number;
  pveMax: number;
  /** the OAM's pve.max-batch (BENCH_PVE_MAX_BATCH); undefined: the plugin's default */
  pveMaxBatch: number | undefined;
  batch: number;
  limitMs: number;
  perAddress: number;
  perChild: number;
  basePort: number;
  keysDir: string;
  pg: PgCluster | undefined;
  /** jobs.max-active of each OAM (undefined: the plugin's default) */
  maxActive: number | undefined;
  /** devices.idle-timeout of each OAM, seconds (undefined: the plugin's default) */
  deviceIdleS: number | undefined;
}

let runNo = 0;

type EvidenceMode = 'collect' | 'relay';

/** BENCH_PVE_EVIDENCE: collect (default), relay, or both (collect,relay: each round runs both, in that order) */
function evidenceModes(): EvidenceMode[] {
  const v = process.env.BENCH_PVE_EVIDENCE;
  const modes = (v === undefined || v === '' ? 'collect' : v).split(',').map((x) => x.trim());
  for (const m of modes) if (m !== 'collect' && m !== 'relay') throw new Error(`BENCH_PVE_EVIDENCE must be collect, relay or collect,relay, got ${v}`);
  return [...new Set(modes)] as EvidenceMode[];
}

/** the OAM instances' operations to the PVE added up, by operation */
function sumPveOps(list: ReadonlyArray<Record<string, { operations: number; entries: number }> | undefined>): Record<string, { operations: number; entries: number }> {
  const out: Record<string, { operations: number; entries: number }> = {};
  for (const ops of list) {
    for (const [op, v] of Object.entries(ops ?? {})) {
      const o = (out[op] ??= { operations: 0, entries: 0 });
      o.operations += v.operations;
      o.entries += v.entries;
    }
  }
  return out;
}

/** BENCH_FLEET_GROUP_COMMIT: on, off, or both (off,on: each round runs both, in that order); unset: the plugin's default */
function groupCommitSettings(): Array<boolean | undefined> {
  const v = process.env.BENCH_FLEET_GROUP_COMMIT;
  if (v === undefined || v === '') return [undefined];
  const out = v.split(',').map((x) => x.trim()).map((x) => {
    if (x !== 'on' && x !== 'off') throw new Error(`BENCH_FLEET_GROUP_COMMIT must be on, off or a list of them, got ${v}`);
    return x === 'on';
  });
  return [...new Set(out)];
}

const groupCommitText = (gc: boolean | undefined): string => (gc === undefined ? '' : `, group commit ${gc ? 'on' : 'off'}`);

async function fleetRun(size: number, instances: number, o: RunOptions, mode: EvidenceMode = 'collect', groupCommit?: boolean): Promise<FleetFigures> {
  const tRun = performance.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'hsv-bench-oam-'));
  const oamJwksFile = join(dataDir, 'oam-jwks.json');
  const plan = layoutsFor(size, o, oamJwksFile);
  // a fleet child: a listener per device, and (while the OAM keeps them) a session per device from the OAM and
  // at times from the PVE; an OAM: a session per device at most. The children without the PVE start together,
  // then the one with the PVE (it needs every device).
  const spawnFleet = (p: { count: number; layout: FleetLayout }): Promise<Child<FleetReady>> => spawnChild<FleetReady>(self,
    ['--child-fleet', String(p.count), String(o.installMs), String(o.pveMax), JSON.stringify(p.layout)], fleetStartMs(size), { fdLimit: 3 * p.count + 4096 });
  const fleets: Array<Child<FleetReady>> = [];
  try {
    const others = await Promise.allSettled(plan.filter((p) => !p.layout.pve).map(spawnFleet));
    for (const r of others) if (r.status === 'fulfilled') fleets.push(r.value);
    const failed = others.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const withPve = plan.find((p) => p.layout.pve)!;
    if (fleets.length > 0) {
      withPve.layout.otherDevicesFile = join(dataDir, 'other-devices.json');
      writeFileSync(withPve.layout.otherDevicesFile, JSON.stringify(fleets.flatMap((f) => f.ready.devices)));
    }
    fleets.unshift(await spawnFleet(withPve));
  } catch (e) {
    for (const f of fleets) await f.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const fleet = fleets[0]!; // the one with the PVE
  const fleetCpu = async (): Promise<number> => (await Promise.all(fleets.map((f) => f.cpu()))).reduce((a, b) => a + b, 0);
  const clients: NetconfClient[] = [];
  const oams: Array<Child<OamReady>> = [];
  try {
    const { pve, softwareUri } = fleet.ready;
    if (!pve || softwareUri === undefined) throw new Error('the fleet child with the PVE did not report it');
    const devices = fleets.flatMap((f) => f.ready.devices);
    const jwksFile = join(dataDir, 'pve-jwks.json');
    writeFileSync(jwksFile, JSON.stringify(pve.jwks));
    let dbName: string | undefined;
    let storeUrl: string | undefined;
    if (o.pg) {
      dbName = `hsv_run${++runNo}`;
      storeUrl = await o.pg.createDatabase(dbName);
    }
    const adminPassword = 'bench-admin-pw';
    const env = {
      ...process.env, [ADMIN_PASSWORD_ENV]: adminPassword, HSV_BENCH_DEVICE_PASSWORD: devices[0]!.password, HSV_BENCH_PVE_PASSWORD: PVE_NETCONF_PASSWORD,
      ...(o.pg ? { HSV_BENCH_PG_PASSWORD: o.pg.password } : {}),
    };
    const gcConfig = groupCommit !== undefined ? { 'group-commit': groupCommit } : {};
    for (let k = 0; k < instances; k++) {
      const config = defaultServeConfig();
      // the plugin's activation loads the inventory: 10-20 s at 100,000 H(e)NBs here, above the host's default 10 s
      config.limits.pluginActivationMs = Math.min(3600, 60 + Math.ceil(size / 1000)) * 1000;
      config.logLevel = 'warn';
      config.builtin = {
        henbs: devices.map((d) => ({
          'henb-id': d.henbId, address: d.host, port: d.port, username: d.username,
          password: { env: 'HSV_BENCH_DEVICE_PASSWORD' },
          'ssh-host-key': d.hostKeySha256.startsWith('SHA256:') ? d.hostKeySha256 : `SHA256:${d.hostKeySha256}`,
        })),
        pve: {
          ...(pve.netconf !== undefined
            ? { endpoint: `ssh://${pve.netconf.host}:${pve.netconf.port}`, transport: 'netconf', 'ssh-host-key': pve.netconf.hostKeySha256, username: 'oam', password: { env: 'HSV_BENCH_PVE_PASSWORD' } }
            : { endpoint: pve.url, transport: 'restconf', ca: pve.caPath }),
          evidence: mode, jwks: jwksFile, issuer: pve.issuer, timeout: Math.min(PVE_TIMEOUT_MAX_S, Math.ceil(o.limitMs / 1000)),
          ...(o.pveMaxBatch !== undefined ? { 'max-batch': o.pveMaxBatch } : {}),
        },
        policies: { 'self-check': true, 'on-mismatch': ['alarm'], 'step-timeout': Math.ceil(o.limitMs / 1000) },
        // file: software URIs only from a directory the config names
        software: { 'file-root': dirname(fileURLToPath(softwareUri)) },
        ...(o.maxActive !== undefined ? { jobs: { 'max-active': o.maxActive } } : {}),
        ...(o.deviceIdleS !== undefined ? { devices: { 'idle-timeout': o.deviceIdleS } } : {}),
        ...(storeUrl !== undefined
          ? { store: { driver: 'postgres', url: storeUrl, password: { env: 'HSV_BENCH_PG_PASSWORD' }, 'instance-id': `oam-${k + 1}`, ...gcConfig } }
          : groupCommit !== undefined ? { store: gcConfig } : {}),
      };
      const configFile = join(dataDir, `oam-config-${k + 1}.json`);
      writeFileSync(configFile, JSON.stringify({ config, dataDir: join(dataDir, `oam-${k + 1}`) }));
      // each OAM in its own process: its memory and CPU are its own (and each run starts from a fresh heap)
      oams.push(await spawnChild<OamReady>(self, ['--child-oam', configFile], oamStartMs(size), { nodeArgs: ['--expose-gc', ...oamNodeArgs()], env, fdLimit: 2 * size + 4096 }));
    }
    // the PVE trusts the OAM instances' keys (it reads this file at each provide-reference-values)
    writeFileSync(oamJwksFile, JSON.stringify({ keys: oams.flatMap((_, k) => jwksUnder(join(dataDir, `oam-${k + 1}`))) }));

    for (const oam of oams) {
      const client = await connectNetconf({
        host: oam.ready.host, port: oam.ready.port, username: 'admin', password: adminPassword,
        hostKeySha256: oam.ready.fingerprint, rpcTimeoutMs: o.limitMs + 60_000,
      });
      clients.push(client);
      await client.rpc(el(NETCONF_NOTIFICATION_NS, 'create-subscription', leaf(NETCONF_NOTIFICATION_NS, 'stream', 'henb-sw-verify')));
    }
    const results = new Map<string, { status: string; reason?: string }>();
    /** jobId -> step -> ms after t0 (step 10: the result) */
    const stepAt = new Map<string, Map<number, number>>();
    let t0 = performance.now();
    const mark = (jobId: string, step: number): void => {
      let m = stepAt.get(jobId);
      if (!m) stepAt.set(jobId, (m = new Map()));
      if (!m.has(step)) m.set(step, performance.now() - t0);
    };
    const heap = heapMarker(size, oams, `${size}-${mode}-${Date.now()}`);
    const expected = new Set<string>();
    let missing = 0;
    let allIn: (() => void) | undefined;
    // with several instances an NMS subscribed to one gets the live notifications of that one only
    const pumps = clients.map((c) => (async () => {
      for await (const n of c.notifications()) {
        const prog = child(n, HSV_NS, 'software-update-progress');
        if (prog) {
          const jobId = childText(prog, HSV_NS, 'job-id')?.trim();
          if (jobId) mark(jobId, Number(childText(prog, HSV_NS, 'step')));
          continue;
        }
        const ev = child(n, HSV_NS, 'software-update-result');
        const jobId = ev ? childText(ev, HSV_NS, 'job-id')?.trim() : undefined;
        if (!ev || !jobId || results.has(jobId)) continue;
        mark(jobId, 10);
        const reason = childText(ev, HSV_NS, 'reason')?.trim();
        results.set(jobId, { status: childText(ev, HSV_NS, 'status')?.trim() ?? '?', ...(reason ? { reason } : {}) });
        heap.onResult(results.size);
        if (expected.has(jobId) && --missing === 0) allIn?.();
      }
    })().catch(() => undefined));

    const ids = devices.map((d) => d.henbId);
    const cpuOam0 = await Promise.all(oams.map((x) => x.cpu()));
    const cpuChild0 = await fleetCpu();
    const fleetSessions = async (): Promise<number> => (await Promise.all(fleets.map((f) => f.sessions()))).reduce((a, b) => a + b, 0);
    const sessions0 = await fleetSessions();
    // the OAM's live heap before the first RPC and after the last result (nothing in flight at either)
    const liveOf = async (): Promise<number> => (await Promise.all(oams.map((x) => x.heap()))).reduce((a, r) => a + r.live, 0);
    const heapBefore = await liveOf();
    const pgWindow = o.pg && dbName ? await o.pg.begin(dbName) : undefined;
    t0 = performance.now();
    const refused: string[] = [];
    const started: string[] = [];
    // instance k gets every n-th H(e)NB; the instances' RPCs run at once
    await Promise.all(clients.map(async (client, k) => {
      const mine = ids.filter((_, i) => i % instances === k);
      const batch = o.batch > 0 ? o.batch : mine.length;
      for (let i = 0; i < mine.length; i += batch) {
        const op = el(HSV_NS, 'software-update',
          mine.slice(i, i + batch).map((id) => leaf(HSV_NS, 'henb-id', id)),
          el(HSV_NS, 'software', leaf(HSV_NS, 'uri', softwareUri), leaf(HSV_NS, 'version', '2.0.0')),
          leaf(HSV_NS, 'self-check', 'true'));
        const reply: XmlElement = await client.rpc(op);
        for (const job of childrenNamed(reply, HSV_NS, 'job')) {
          const jobId = childText(job, HSV_NS, 'job-id')?.trim();
          if (childText(job, HSV_NS, 'status')?.trim() === 'started' && jobId) started.push(jobId);
          else refused.push(`${childText(job, HSV_NS, 'henb-id') ?? '?'}: ${childText(job, HSV_NS, 'reason') ?? 'refused'}`);
        }
      }
    }));
    const replyMs = performance.now() - t0;
    for (const j of started) expected.add(j);
    missing = started.filter((j) => !results.has(j)).length;
    let timedOut = false;
    if (missing > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          timedOut = true;
          resolve();
        }, Math.max(0, o.limitMs - replyMs));
        allIn = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    const totalMs = performance.now() - t0;
    const oamCpuMs = (await Promise.all(oams.map((x) => x.cpu()))).reduce((a, c, k) => a + c - cpuOam0[k]!, 0) / 1000;
    const childCpuMs = ((await fleetCpu()) - cpuChild0) / 1000;
    const sessionsPerUpdate = ((await fleetSessions()) - sessions0) / Math.max(1, started.length);
    const heapMarks = await heap.done();
    // device sessions left idle by the last jobs close after devices.idle-timeout (5 s): not what stays per job
    await new Promise((r) => setTimeout(r, 6000));
    const heapEnds = { before: heapBefore, after: await liveOf() };
    const peaks = await Promise.all(oams.map((x) => x.peak()));
    const fdsAfter = await Promise.all(oams.map((x) => x.fds()));
    const fds = { oamPeak: peaks.reduce((a, p) => a + p.fdsPeak, 0), oam: fdsAfter.reduce((a, b) => a + b, 0), child: (await Promise.all(fleets.map((f) => f.fds()))).reduce((a, b) => a + b, 0) };
    const childEnd = (await Promise.all(fleets.map((f) => f.mem()))).reduce((a, m) => a + m.rss, 0);
    const pgLoad = pgWindow ? await pgWindow.end() : undefined;
    const updates = (await Promise.all(fleets.map((f) => f.updates()))).reduce((a, u) => ({
      total: a.total + u.total, once: a.once + u.once, twice: a.twice + u.twice, max: Math.max(a.max, u.max),
    }), { total: 0, once: 0, twice: 0, max: 0 });
    const jobCheck = o.pg && dbName ? await o.pg.jobs(dbName) : undefined;
    const sum = (f: (m: MemSample) => number, xs: MemSample[]): number => xs.reduce((a, m) => a + f(m), 0);
    const sumMem = (xs: MemSample[]): MemSample => ({ rss: sum((m) => m.rss, xs), heapUsed: sum((m) => m.heapUsed, xs), heapTotal: sum((m) => m.heapTotal, xs), external: sum((m) => m.external, xs) });

    let verified = 0;
    const other = new Map<string, number>();
    const firstReasons: string[] = [...refused.slice(0, 3)];
    if (refused.length > 0) other.set('refused at start', refused.length);
    for (const j of started) {
      const r = results.get(j);
      if (r?.status === 'verified') verified++;
      else {
        const k = r?.status ?? 'no result';
        other.set(k, (other.get(k) ?? 0) + 1);
        if (firstReasons.length < 3) firstReasons.push(`${k}${r?.reason ? `: ${r.reason}` : ''}`);
      }
    }
    for (const c of clients.splice(0)) await c.close().catch(() => undefined);
    await Promise.all(pumps);
    return {
      size, instances, mode, groupCommit, commits: peaks.some((p) => p.commits < 0) ? -1 : peaks.reduce((a, p) => a + p.commits, 0), pveOps: sumPveOps(peaks.map((p) => p.pveOps)), sessionsPerUpdate, started: started.length, verified, other, firstReasons, childStartMs: Math.max(...fleets.map((f) => f.ready.startMs)), fleetChildren: fleets.length,
      childRss: { start: fleets.reduce((a, f) => a + f.ready.rss, 0), end: childEnd },
      oamStartMs: Math.max(...oams.map((x) => x.ready.startMs)), replyMs, totalMs, wallMs: 0,
      updatesPerSec: (verified / totalMs) * 1000, baseline: sumMem(oams.map((x) => x.ready.baseline)), peak: sumMem(peaks.map((p) => p.peak)),
      peakOne: Math.max(...peaks.map((p) => p.peak.rss)), samples: peaks.reduce((a, p) => a + p.samples, 0),
      oamCpuMs, childCpuMs, timedOut, fds, fdLimits: { oam: Math.min(...oams.map((x) => x.fdLimit)), child: Math.min(...fleets.map((f) => f.fdLimit)) },
      phases: PHASES.map((p) => ({
        name: p.name,
        ms: started.flatMap((j) => {
          const m = stepAt.get(j);
          const a = m?.get(p.from);
          const b = m?.get(p.to);
          return a !== undefined && b !== undefined ? [b - a] : [];
        }),
      })),
      arrivals: started.flatMap((j) => {
        const at = stepAt.get(j)?.get(10);
        return at !== undefined ? [at] : [];
      }).sort((a, b) => a - b),
      ...(pgLoad ? { pg: pgLoad } : {}),
      twice: { devices: updates, ...(jobCheck ? { store: jobCheck } : {}) },
      heapMarks, heapEnds,
    };
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const oam of oams) await oam.stop();
    for (const f of fleets) await f.stop();
    rmSync(dataDir, { recursive: true, force: true });
    // wallMs is set by the caller from this
    lastRunWallMs = performance.now() - tRun;
  }
}
let lastRunWallMs = 0;

const KiB = (n: number): string => (n / 1024).toFixed(1);

/** every started job installed once on its device, and (PostgreSQL) one job per H(e)NB, each sent once, by one owner */
function twiceOk(x: FleetFigures): boolean {
  const d = x.twice.devices;
  const st = x.twice.store;
  return d.twice === 0 && d.total === x.started
    && (st === undefined || (st.maxJobsPerHenb <= 1 && st.sentTwice === 0 && st.ownersTwo === 0 && st.jobs === x.started));
}
const thousands = (n: number): string => n.toLocaleString('en-US');

const q = (xs: number[], f: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(f * xs.length))] ?? NaN;

/**
 * prints one fleet size's figures (its best round against the best baseline `best`, and against each baseline round
 * of `setups` when there are several: the baseline is the noisier instrument), returns its table row
 */
function report(all: FleetFigures[], best: number, showInstances: boolean, limitMs: number, setups: readonly number[] = []): string {
  const inst = all[0]!.instances;
  const r = all.reduce((a, b) => (b.updatesPerSec > a.updatesPerSec ? b : a));
  const mem = all.reduce((a, b) => (b.peak.rss > a.peak.rss ? b : a));
  const otherText = [...r.other].map(([k, v]) => `${k} ${v}`).join(', ');
  const label = `${thousands(r.size)}${showInstances || inst > 1 ? `, ${inst} OAM instance${inst > 1 ? 's' : ''}` : ''}, evidence ${r.mode}${groupCommitText(r.groupCommit)}`;
  console.log(`\nfleet of ${label}: rounds ${all.map((x) => `${x.verified}/${x.size} verified in ${(x.totalMs / 1000).toFixed(2)} s = ${x.updatesPerSec.toFixed(1)}/s (run ${(x.wallMs / 1000).toFixed(0)} s)`).join('; ')}`);
  if (otherText) console.log(`  best round: others ${otherText}${r.timedOut ? `; stopped waiting after ${(limitMs / 1000).toFixed(0)} s` : ''}`);
  for (const reason of r.firstReasons) console.log(`  e.g. ${reason}`);
  console.log(`  THROUGHPUT ${r.updatesPerSec.toFixed(1)} verified updates/s; ratio to session setups/s: ${(r.updatesPerSec / best).toFixed(3)} (one verified update costs the time of ${(best / r.updatesPerSec).toFixed(1)} bare session setups)`);
  if (setups.length > 1) console.log(`  ratio against each baseline round, in order: ${setups.map((s) => `${(r.updatesPerSec / s).toFixed(3)} (${s.toFixed(1)}/s)`).join(', ')}`);
  console.log(`  step 3's evidence: ${r.mode === 'relay' ? 'relayed by the OAM (background-check model)' : 'collected by the PVE'}; device sessions per update ${r.sessionsPerUpdate.toFixed(2)} (accepted by the devices during the run, OAM and PVE, per job started)`);
  console.log(`  best round: start of fleet + PVE ${(r.childStartMs / 1000).toFixed(1)} s (${r.fleetChildren} child${r.fleetChildren > 1 ? 'ren' : ''}), OAM server ${r.oamStartMs.toFixed(0)} ms; every job started (rpc-reply) after ${r.replyMs.toFixed(0)} ms; last result after ${(r.totalMs / 1000).toFixed(2)} s; the whole run (start, run, stop) ${(r.wallMs / 1000).toFixed(0)} s`);
  console.log(`  results arrived (s after the RPC): 10% ${(q(r.arrivals, 0.1) / 1000).toFixed(2)}, 50% ${(q(r.arrivals, 0.5) / 1000).toFixed(2)}, 90% ${(q(r.arrivals, 0.9) / 1000).toFixed(2)}, 100% ${(q(r.arrivals, 1) / 1000).toFixed(2)}`);
  console.log(`  per-job phases, median / max ms: ${r.phases.map((p) => `${p.name} ${q(p.ms, 0.5).toFixed(0)} / ${q(p.ms, 1).toFixed(0)}`).join('; ')}`);
  const perUpd = (ms: number): string => (ms / Math.max(1, r.verified)).toFixed(1);
  if (r.commits >= 0) console.log(`  SQLite COMMITs in the OAM (its whole life): ${r.commits}, ${(r.commits / Math.max(1, r.verified)).toFixed(2)} per verified update`);
  const ops = Object.entries(r.pveOps).sort(([a], [b]) => a.localeCompare(b));
  if (ops.length > 0) {
    const all = ops.reduce((a, [, v]) => a + v.operations, 0);
    console.log(`  operations sent to the PVE (the OAM's whole life): ${(all / Math.max(1, r.verified)).toFixed(2)} per verified update; `
      + ops.map(([op, v]) => `${op} ${v.operations} (${(v.entries / Math.max(1, v.operations)).toFixed(1)} each)`).join(', '));
  }
  console.log(`  CPU: OAM ${r.oamCpuMs.toFixed(0)} ms (${perUpd(r.oamCpuMs)} ms per update), fleet+PVE child ${r.childCpuMs.toFixed(0)} ms (${perUpd(r.childCpuMs)} ms per update), wall ${r.totalMs.toFixed(0)} ms: on CPU ${((100 * r.oamCpuMs) / r.totalMs).toFixed(0)}% / ${((100 * r.childCpuMs) / r.totalMs).toFixed(0)}% of the wall time (fsync waits are not CPU)`);
  console.log(`  OAM memory (highest round, ${mem.samples} samples${inst > 1 ? `, summed over ${inst} instances; the largest one ${MiB(mem.peakOne)} MiB` : ''}): peak RSS ${MiB(mem.peak.rss)} MiB (${MiB(mem.baseline.rss)} before the OAM started: +${MiB(mem.peak.rss - mem.baseline.rss)}, ${KiB((mem.peak.rss - mem.baseline.rss) / mem.size)} KiB per device), peak heapUsed ${MiB(mem.peak.heapUsed)} MiB (+${MiB(mem.peak.heapUsed - mem.baseline.heapUsed)}), peak heapTotal ${MiB(mem.peak.heapTotal)} MiB, peak external ${MiB(mem.peak.external)} MiB`);
  const he = mem.heapEnds;
  console.log(`  OAM live heap (after full GCs) before the first RPC ${MiB(he.before)} MiB, after the last result ${MiB(he.after)} MiB: +${((he.after - he.before) / Math.max(1, mem.verified)).toFixed(0)} bytes per verified job (nothing in flight at either; the warm-up included)`);
  const hm = mem.heapMarks;
  if (hm.length > 0) {
    console.log(`  OAM live heap (after full GCs) at ${hm.map((m) => `${m.verified} results ${MiB(m.live)} MiB`).join(', ')}${hm.some((m) => m.snapshots.length > 0) ? `; snapshots ${hm.flatMap((m) => m.snapshots).join(', ')}` : ''}`);
  }
  if (hm.length >= 2) {
    const a = hm[0]!;
    const b = hm.at(-1)!;
    console.log(`  HEAP GROWTH per verified job after the warm-up: ${((b.live - a.live) / Math.max(1, b.verified - a.verified)).toFixed(0)} bytes (live heap ${MiB(a.live)} -> ${MiB(b.live)} MiB from ${a.verified} to ${b.verified} results; jobs in flight at both: bounded by jobs.max-active)`);
  }
  console.log(`  open file descriptors: OAM at most ${mem.fds.oamPeak} (sampled every second), ${mem.fds.oam} after the run; fleet+PVE children ${mem.fds.child} after the run; open-files limits: OAM ${mem.fdLimits.oam}, fleet children ${mem.fdLimits.child}`);
  console.log(`  fleet+PVE ${mem.fleetChildren > 1 ? `${mem.fleetChildren} children` : 'child'} RSS ${MiB(mem.childRss.start)} MiB after the start, ${MiB(mem.childRss.end)} MiB after the run (${KiB(mem.childRss.end / mem.size)} KiB per simulated device, PVE included)`);
  for (const x of all) {
    const d = x.twice.devices;
    const st = x.twice.store;
    const storeText = st === undefined ? '' : `; the store: ${st.jobs} software-update jobs for ${st.henbs} H(e)NBs (at most ${st.maxJobsPerHenb} per H(e)NB), ${st.terminal} ended; in their audit records ${st.sentOnce} jobs sent the update once, ${st.sentTwice} more than once, ${st.sentNever} never; ${st.ownersTwo} jobs had steps taken by two instances; ${st.stepsPerJob.toFixed(1)} steps per job`;
    console.log(`  ${twiceOk(x) ? 'NO JOB RUN TWICE' : 'A JOB RAN TWICE OR NOT AT ALL'} (round of ${x.verified}/${x.size}): the devices accepted ${d.total} software-update RPCs for ${x.started} jobs started, ${d.once} devices one each, ${d.twice} more than one (most ${d.max})${storeText}`);
  }
  if (r.pg) {
    const p = r.pg;
    const per = (n: number): string => (n / Math.max(1, r.verified)).toFixed(1);
    console.log(`  PostgreSQL per verified update (whole run, ${r.verified} updates${p.noStatements ? '; pg_stat_statements missing: statements not counted' : ''}): ${per(p.statements)} statements, ${per(p.commits)} explicit transactions (COMMIT), ${per(p.xactCommit)} commits in all (pg_stat_database), ${per(p.rows)} rows returned or changed, tuples inserted/updated/deleted ${per(p.tupInserted)}/${per(p.tupUpdated)}/${per(p.tupDeleted)}; WAL ${KiB(p.walBytes / Math.max(1, r.verified))} KiB (cluster; statements' own ${KiB(p.stmtWalBytes / Math.max(1, r.verified))} KiB), database growth ${KiB(p.dbGrowthBytes / Math.max(1, r.verified))} KiB`);
    if (p.cpuMs >= 0) console.log(`  PostgreSQL CPU (the whole cluster, from the first RPC to the end of the window): ${p.cpuMs.toFixed(0)} ms, ${perUpd(p.cpuMs)} ms per verified update`);
    console.log(`  PostgreSQL time per verified update: waiting for the transaction lock (one transaction at a time over all instances) ${(p.lockWaitMs / Math.max(1, r.verified)).toFixed(1)} ms, COMMIT (WAL flush) ${(p.commitMs / Math.max(1, r.verified)).toFixed(1)} ms`);
    const rn = p.renewals;
    console.log(`  PostgreSQL lease renewals (one heartbeat row per instance every lease/3; before migration 8 every active job of an instance): ${rn.calls} statements, ${rn.rows} rows (${per(rn.rows)} per verified update), ${KiB(rn.walBytes)} KiB of WAL (${rn.rows > 0 ? (rn.walBytes / rn.rows).toFixed(0) : '-'} bytes per row; ${KiB(rn.walBytes / Math.max(1, r.verified))} KiB per verified update)`);
    console.log(`  PostgreSQL statements run most (calls per update, rows, WAL bytes per call, mean ms):`);
    for (const t of p.top.slice(0, 10)) console.log(`    ${per(t.calls)}  rows ${(t.rows / Math.max(1, t.calls)).toFixed(1)}  wal ${(t.walBytes / Math.max(1, t.calls)).toFixed(0)} B  ${t.meanMs.toFixed(2)} ms  ${t.query}`);
  }
  return `| ${thousands(r.size)} | ${inst} | ${r.mode}${groupCommitText(r.groupCommit)} | ${r.sessionsPerUpdate.toFixed(2)} | ${r.verified}/${r.size}${otherText ? ` (${otherText})` : ''} | ${r.updatesPerSec.toFixed(1)}/s | ${(r.updatesPerSec / best).toFixed(3)} | ${MiB(mem.peak.rss)} MiB | ${mem.fds.oamPeak} (${mem.fds.oam} after) | ${KiB((mem.peak.rss - mem.baseline.rss) / mem.size)} KiB | ${perUpd(r.oamCpuMs)} / ${perUpd(r.childCpuMs)} ms | ${(r.wallMs / 1000).toFixed(0)} s |`;
}

async function main(): Promise<void> {
  const sizes = envList('BENCH_FLEET_SIZES', '100,1000');
  const instanceCounts = envList('BENCH_FLEET_INSTANCES', '1');
  const storeKind = process.env.BENCH_FLEET_STORE ?? 'sqlite';
  if (storeKind !== 'sqlite' && storeKind !== 'postgres') throw new Error(`BENCH_FLEET_STORE must be sqlite or postgres, got ${storeKind}`);
  if (storeKind === 'sqlite' && instanceCounts.some((n) => n > 1)) throw new Error('BENCH_FLEET_INSTANCES above 1 needs BENCH_FLEET_STORE=postgres (instances share a PostgreSQL database)');
  const lanes = envNum('BENCH_SETUP_CONCURRENCY', 50);
  const roundMs = envNum('BENCH_ROUND_MS', 2000);
  const rounds = Math.max(1, envNum('BENCH_FLEET_ROUNDS', 2));
  const modes = evidenceModes();
  const gcs = groupCommitSettings();
  const keysGiven = process.env.BENCH_FLEET_KEYS_DIR;
  const o: RunOptions = {
    installMs: envNum('BENCH_INSTALL_MS', 20),
    pveMax: envNum('BENCH_PVE_MAX', 64),
    pveMaxBatch: process.env.BENCH_PVE_MAX_BATCH !== undefined && process.env.BENCH_PVE_MAX_BATCH !== '' ? envNum('BENCH_PVE_MAX_BATCH', 32) : undefined,
    // an NMS sends waves (until the reply declared its namespace once, one RPC naming 10,000 H(e)NBs got a reply our
    // own client refused: a declaration per job, more than 10,000 in one message)
    batch: envNum('BENCH_FLEET_BATCH', 5000),
    limitMs: envNum('BENCH_FLEET_LIMIT_S', 120) * 1000,
    perAddress: Math.max(1, envNum('BENCH_FLEET_PER_ADDRESS', 20_000)),
    perChild: Math.max(1, envNum('BENCH_FLEET_PER_CHILD', Math.max(1000, Math.min(20_000, Math.floor((hardFdLimit() - 2048) / 2))))),
    basePort: envNum('BENCH_FLEET_BASE_PORT', 12_000),
    keysDir: keysGiven !== undefined && keysGiven !== '' ? keysGiven : mkdtempSync(join(tmpdir(), 'hsv-bench-fleet-keys-')),
    pg: undefined,
    maxActive: process.env.BENCH_FLEET_MAX_ACTIVE !== undefined && process.env.BENCH_FLEET_MAX_ACTIVE !== '' ? Math.max(1, envNum('BENCH_FLEET_MAX_ACTIVE', 500)) : undefined,
    deviceIdleS: process.env.BENCH_FLEET_DEVICE_IDLE_S !== undefined && process.env.BENCH_FLEET_DEVICE_IDLE_S !== '' ? Math.max(0, envNum('BENCH_FLEET_DEVICE_IDLE_S', 5)) : undefined,
  };
  const pg = storeKind === 'postgres';
  // the benchmark's own time limit: every run's bound, the baseline rounds, the cluster
  const boundMs = rounds * modes.length * gcs.length * sizes.reduce((a, n) => a + instanceCounts.reduce((b, k) => b + runBoundMs(n, k, o.limitMs, pg), 0), 0)
    + (rounds + 1) * (roundMs + 40_000) + (pg ? 120_000 : 0);
  const tStart = performance.now();
  let cluster: PgCluster | undefined;
  const cleanup = (): void => {
    for (const p of liveChildren) p.kill('SIGKILL');
    cluster?.stop();
    if (keysGiven === undefined || keysGiven === '') rmSync(o.keysDir, { recursive: true, force: true });
  };
  const watchdog = setTimeout(() => {
    console.log(`\nBENCHMARK TIME LIMIT: ${(boundMs / 1000).toFixed(0)} s passed; children killed, nothing more measured`);
    cleanup();
    process.exit(2);
  }, boundMs);
  // the same limit when the main thread is blocked (the timer above then never fires): 30 s later, from a worker
  startBackstop(boundMs + 30_000, `time limit ${(boundMs / 1000).toFixed(0)} s`);

  console.log(`fleet: healthy devices ${sizes.join(', ')}; install ${o.installMs} ms; ${o.batch > 0 ? `${o.batch} henb-ids per software-update RPC` : 'one software-update RPC naming every device (per instance)'}; PVE maxConcurrent ${o.pveMax}, reached over ${process.env.BENCH_PVE_TRANSPORT === 'netconf' ? 'NETCONF' : 'RESTCONF'}${o.pveMaxBatch !== undefined ? `, pve.max-batch ${o.pveMaxBatch}` : ''}; simulator replay off`);
  console.log(`OAM jobs.max-active ${o.maxActive ?? 'default (500)'}: jobs driven at once, the others wait in the store; devices.idle-timeout ${o.deviceIdleS ?? 'default (5)'} s`);
  console.log(`step 3's evidence (BENCH_PVE_EVIDENCE): ${modes.map((m) => (m === 'relay' ? 'relay (the OAM collects on the job\'s device session and relays: one session per update)' : 'collect (the PVE collects over its own session: two per update)')).join(', then ')}`);
  console.log(`store ${storeKind}${pg ? ' (throwaway cluster, fsync/synchronous_commit/full_page_writes on, pg_stat_statements)' : ''}; OAM instances ${instanceCounts.join(', ')}`);
  const launcherNote = process.env.BENCH_LAUNCHER_ARGS === '0' ? '; left out: BENCH_LAUNCHER_ARGS=0' : '';
  console.log(`node options of every child (bin/henb-sw-verify.js' first line, as the product's processes run${launcherNote}): ${benchLauncherArgs().join(' ') || '(none)'}`);
  if (oamNodeArgs().length > 0) console.log(`OAM node options (BENCH_OAM_NODE_ARGS, after those): ${oamNodeArgs().join(' ')}`);
  console.log('processes: simulated fleet + reference PVE in one child process, each OAM server in another (fresh each run; the memory figures are its own), the NMS client in this one');
  console.log(`fleet children of at most ${o.perChild} devices (above: one loopback address 127.0.1.k each, ports from ${o.basePort}); one child spreads over addresses above ${o.perAddress}; keys in ${o.keysDir}; open-files limit of this process ${fdLimitOf('self')} (hard ${hardFdLimit()})`);
  console.log(`${rounds} rounds, interleaved (setups, ${sizes.join(', ')}, setups, ...), best round of each kept: the machine is shared and noise only slows a round down`);
  console.log(`each run waits at most ${o.limitMs / 1000} s for its results; the benchmark stops itself after ${(boundMs / 1000).toFixed(0)} s at the latest`);

  const runs = new Map<string, FleetFigures[]>();
  const key = (size: number, inst: number, mode: EvidenceMode, gc: boolean | undefined): string => `${size}x${inst}x${mode}x${String(gc)}`;
  const setups: number[] = [];
  let ok = true;
  try {
    if (pg) o.pg = cluster = await startPgCluster(root, join(tmpdir(), `hsv-bench-fleet-pg-${process.pid}`));
    // interleaved rounds: baseline, every size (and instance count), baseline, ...
    setups.push(await measureSetups(lanes, roundMs));
    for (let r = 0; r < rounds; r++) {
      for (const size of sizes) {
        for (const inst of instanceCounts) {
          for (const [mode, gc] of modes.flatMap((m) => gcs.map((g) => [m, g] as const))) {
            const fig = await fleetRun(size, inst, o, mode, gc);
            fig.wallMs = lastRunWallMs;
            const list = runs.get(key(size, inst, mode, gc)) ?? [];
            list.push(fig);
            runs.set(key(size, inst, mode, gc), list);
            // this run's figures at once (against the baselines so far), in case a later run does not end in time
            console.log(`\n(run done: baseline so far ${Math.max(...setups).toFixed(1)} session setups/s)`);
            report([fig], Math.max(...setups), instanceCounts.length > 1, o.limitMs);
          }
        }
      }
      setups.push(await measureSetups(lanes, roundMs));
    }
  } finally {
    clearTimeout(watchdog);
    cleanup();
  }
  const best = Math.max(...setups);

  console.log(`\nbaseline: bare NETCONF session setups (SSH + auth + hello + close-session, our client -> our server in a child, ${lanes} concurrent): ${setups.map((s) => s.toFixed(1)).join(' / ')} /s -> best ${best.toFixed(1)} /s`);
  const table: string[] = [];
  for (const size of sizes) {
    for (const inst of instanceCounts) {
      for (const [mode, gc] of modes.flatMap((m) => gcs.map((g) => [m, g] as const))) {
        const all = runs.get(key(size, inst, mode, gc)) ?? [];
        if (all.length === 0) continue;
        for (const r of all) if (r.verified !== r.size || !twiceOk(r)) ok = false;
        table.push(report(all, best, instanceCounts.length > 1, o.limitMs, setups));
      }
    }
  }
  console.log('\n| fleet | OAM instances | evidence | device sessions per update | verified | throughput | ratio to bare session setups/s | OAM peak RSS | OAM open fds, peak (after) | OAM RSS per device | CPU per update, OAM / fleet+PVE | run (start, run, stop) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const row of table) console.log(row);
  console.log(`\ntotal bench time ${((performance.now() - tStart) / 1000).toFixed(0)} s`);
  if (!ok) {
    console.log('not every device ended verified in every round: the throughput figures above are not comparable');
    process.exitCode = 1;
  }
}

// entry (last, so that every const above is initialised): a child mode, or the benchmark itself
if (process.argv[2] === '--child-fleet') {
  await serveFleet(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]), JSON.parse(process.argv[6] ?? '{}') as FleetLayout);
} else if (process.argv[2] === '--child-oam') {
  await serveOam(process.argv[3] as string);
} else if (process.argv[2] === '--child-bare') {
  await serveBare(join(root, 'yang', 'ietf'));
} else {
  await main();
}
