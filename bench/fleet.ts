/**
 * Fleet throughput: verified software updates per second through the whole flow (NMS -> OAM software-update
 * RPC over NETCONF/SSH naming every device -> per device: PVE integrity-request over RESTCONF/HTTPS (the PVE
 * collects signed evidence from the device over NETCONF/SSH), token check, software digest, software-update
 * to the device over NETCONF/SSH, completion notification, TIM check, signed result -> software-update-result
 * notification to the NMS), for 100 and 1,000 simulated healthy femtocells.
 *
 * Baseline, measured in the same run: bare NETCONF session setups per second (SSH + password auth + hello +
 * close-session), our client against our server, 50 concurrent, server in a child process. Baseline rounds and
 * fleet rounds are interleaved and the best round of each is kept (noise only ever slows a round down). The
 * ratio updates/s / setups/s says how many session setups' worth of work one verified update costs (each
 * update needs two device sessions: the PVE's evidence session and the OAM driver's session, plus the rest).
 *
 * Processes: the simulated fleet and the reference PVE run in one child process, the OAM server (built-in
 * plugin, SQLite store, as `serve` runs it) in another, fresh for every round; this process is the NMS client
 * (and the baseline's client). The OAM samples its own memory (process.memoryUsage() every 25 ms), so the
 * figures are the OAM's alone.
 *
 * Knobs (env): BENCH_FLEET_SIZES (default 100,1000), BENCH_FLEET_BATCH (henb-ids per software-update RPC,
 * default 0 = all in one RPC), BENCH_INSTALL_MS (simulated install, default 20), BENCH_PVE_MAX (PVE
 * evidence collections at once, default 64), BENCH_SETUP_CONCURRENCY (default 50), BENCH_ROUND_MS (baseline
 * round, default 2000), BENCH_FLEET_ROUNDS (default 2), BENCH_FLEET_LIMIT_S (per fleet run, default 120),
 * BENCH_CHILD_NODE_ARGS (extra node options for the children, e.g. --cpu-prof --cpu-prof-dir=DIR).
 *
 * Run: node --expose-gc --import tsx bench/fleet.ts   (or npm run bench -- fleet)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectNetconf } from '../src/netconf/client/index.js';
import type { NetconfClient } from '../src/netconf/client/index.js';
import { NETCONF_NOTIFICATION_NS, child, childText, childrenNamed, el, leaf } from '../src/netconf/xml/index.js';
import type { XmlElement } from '../src/netconf/xml/index.js';
import { defaultServeConfig } from '../src/config/load.js';
import { ADMIN_PASSWORD_ENV } from '../src/cli/users.js';
import { MiB, serveBare, serveFleet, serveOam, spawnChild } from './_fleet-lib.js';
import type { BareReady, Child, FleetReady, MemSample, OamReady } from './_fleet-lib.js';

const self = fileURLToPath(import.meta.url);
const root = join(dirname(self), '..');
const HSV_NS = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';

const envNum = (name: string, dflt: number): number => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? dflt : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got ${v}`);
  return n;
};

interface FleetFigures {
  size: number;
  verified: number;
  other: Map<string, number>;
  firstReasons: string[];
  /** fleet + PVE start in the child, ms */
  childStartMs: number;
  /** OAM server start, ms */
  oamStartMs: number;
  /** from sending the first software-update RPC to its (last) reply: every job started */
  replyMs: number;
  /** from sending the first RPC to the last software-update-result notification */
  totalMs: number;
  updatesPerSec: number;
  baseline: MemSample;
  peak: MemSample;
  samples: number;
  oamCpuMs: number;
  childCpuMs: number;
  timedOut: boolean;
  /** open file descriptors after the run (before anything closed) */
  fds: { oam: number; child: number };
  /** per phase: durations (ms) of every job, from its progress notifications */
  phases: Array<{ name: string; ms: number[] }>;
  /** arrival times of the results (ms after the first RPC), sorted */
  arrivals: number[];
}

/** phases of a job, between the progress notifications' steps (the first notification of a step counts) */
const PHASES: Array<{ name: string; from: number; to: number }> = [
  { name: 'start->PVE asked', from: 1, to: 2 },
  { name: 'PVE (evidence+appraisal)', from: 2, to: 4 },
  { name: 'digest+send', from: 4, to: 7 },
  { name: 'install+completion+check+result', from: 7, to: 10 },
];

async function setupRound(b: BareReady, lanes: number, ms: number): Promise<number> {
  const opts = { host: '127.0.0.1', port: b.port, username: b.username, password: b.password, hostKeySha256: b.fingerprint };
  let n = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (performance.now() < end) {
      const c = await connectNetconf(opts);
      await c.close();
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

async function fleetRun(size: number, o: { installMs: number; pveMax: number; batch: number; limitMs: number }): Promise<FleetFigures> {
  const fleet: Child<FleetReady> = await spawnChild<FleetReady>(self, ['--child-fleet', String(size), String(o.installMs), String(o.pveMax)], 120_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'hsv-bench-oam-'));
  let client: NetconfClient | undefined;
  let oam: Child<OamReady> | undefined;
  try {
    const { devices, pve, softwareUri } = fleet.ready;
    const jwksFile = join(dataDir, 'pve-jwks.json');
    writeFileSync(jwksFile, JSON.stringify(pve.jwks));
    const config = defaultServeConfig();
    config.logLevel = 'warn';
    config.builtin = {
      henbs: devices.map((d) => ({
        'henb-id': d.henbId, address: d.host, port: d.port, username: d.username,
        password: { env: 'HSV_BENCH_DEVICE_PASSWORD' },
        'ssh-host-key': d.hostKeySha256.startsWith('SHA256:') ? d.hostKeySha256 : `SHA256:${d.hostKeySha256}`,
      })),
      pve: { endpoint: pve.url, transport: 'restconf', ca: pve.caPath, jwks: jwksFile, issuer: pve.issuer, timeout: Math.ceil(o.limitMs / 1000) },
      policies: { 'self-check': true, 'on-mismatch': ['alarm'], 'step-timeout': Math.ceil(o.limitMs / 1000) },
    };
    const configFile = join(dataDir, 'oam-config.json');
    writeFileSync(configFile, JSON.stringify({ config, dataDir: join(dataDir, 'oam') }));
    const adminPassword = 'bench-admin-pw';
    const env = { ...process.env, [ADMIN_PASSWORD_ENV]: adminPassword, HSV_BENCH_DEVICE_PASSWORD: devices[0]!.password };
    // the OAM in its own process: its memory and CPU are its own (and each round starts from a fresh heap)
    oam = await spawnChild<OamReady>(self, ['--child-oam', configFile], 60_000, { nodeArgs: ['--expose-gc'], env });

    client = await connectNetconf({
      host: oam.ready.host, port: oam.ready.port, username: 'admin', password: adminPassword,
      hostKeySha256: oam.ready.fingerprint, rpcTimeoutMs: o.limitMs + 60_000,
    });
    await client.rpc(el(NETCONF_NOTIFICATION_NS, 'create-subscription', leaf(NETCONF_NOTIFICATION_NS, 'stream', 'henb-sw-verify')));
    const results = new Map<string, { status: string; reason?: string }>();
    /** jobId -> step -> ms after t0 (step 10: the result) */
    const stepAt = new Map<string, Map<number, number>>();
    let t0 = performance.now();
    const mark = (jobId: string, step: number): void => {
      let m = stepAt.get(jobId);
      if (!m) stepAt.set(jobId, (m = new Map()));
      if (!m.has(step)) m.set(step, performance.now() - t0);
    };
    const expected = new Set<string>();
    let missing = 0;
    let allIn: (() => void) | undefined;
    const c = client;
    const pump = (async () => {
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
        if (expected.has(jobId) && --missing === 0) allIn?.();
      }
    })().catch(() => undefined);

    const ids = devices.map((d) => d.henbId);
    const batch = o.batch > 0 ? o.batch : ids.length;
    const cpuOam0 = await oam.cpu();
    const cpuChild0 = await fleet.cpu();
    t0 = performance.now();
    const refused: string[] = [];
    const started: string[] = [];
    for (let i = 0; i < ids.length; i += batch) {
      const op = el(HSV_NS, 'software-update',
        ids.slice(i, i + batch).map((id) => leaf(HSV_NS, 'henb-id', id)),
        el(HSV_NS, 'software', leaf(HSV_NS, 'uri', softwareUri), leaf(HSV_NS, 'version', '2.0.0')),
        leaf(HSV_NS, 'self-check', 'true'));
      const reply: XmlElement = await client.rpc(op);
      for (const job of childrenNamed(reply, HSV_NS, 'job')) {
        const jobId = childText(job, HSV_NS, 'job-id')?.trim();
        if (childText(job, HSV_NS, 'status')?.trim() === 'started' && jobId) started.push(jobId);
        else refused.push(`${childText(job, HSV_NS, 'henb-id') ?? '?'}: ${childText(job, HSV_NS, 'reason') ?? 'refused'}`);
      }
    }
    const replyMs = performance.now() - t0;
    for (const j of started) expected.add(j);
    missing = started.filter((j) => !results.has(j)).length;
    let timedOut = false;
    if (missing > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          timedOut = true;
          resolve();
        }, o.limitMs);
        allIn = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    const totalMs = performance.now() - t0;
    const oamCpuMs = ((await oam.cpu()) - cpuOam0) / 1000;
    const childCpuMs = ((await fleet.cpu()) - cpuChild0) / 1000;
    const { peak, samples } = await oam.peak();
    const fds = { oam: await oam.fds(), child: await fleet.fds() };

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
    await client.close().catch(() => undefined);
    await pump;
    client = undefined;
    return {
      size, verified, other, firstReasons, childStartMs: fleet.ready.startMs, oamStartMs: oam.ready.startMs, replyMs, totalMs,
      updatesPerSec: (verified / totalMs) * 1000, baseline: oam.ready.baseline, peak, samples,
      oamCpuMs, childCpuMs, timedOut, fds,
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
    };
  } finally {
    await client?.close().catch(() => undefined);
    await oam?.stop();
    await fleet.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const sizes = (process.env.BENCH_FLEET_SIZES ?? '100,1000').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
  const lanes = envNum('BENCH_SETUP_CONCURRENCY', 50);
  const roundMs = envNum('BENCH_ROUND_MS', 2000);
  const rounds = Math.max(1, envNum('BENCH_FLEET_ROUNDS', 2));
  const o = {
    installMs: envNum('BENCH_INSTALL_MS', 20),
    pveMax: envNum('BENCH_PVE_MAX', 64),
    batch: envNum('BENCH_FLEET_BATCH', 0),
    limitMs: envNum('BENCH_FLEET_LIMIT_S', 120) * 1000,
  };
  const tStart = performance.now();
  console.log(`fleet: healthy devices ${sizes.join(', ')}; install ${o.installMs} ms; ${o.batch > 0 ? `${o.batch} henb-ids per software-update RPC` : 'one software-update RPC naming every device'}; PVE maxConcurrent ${o.pveMax}; simulator replay off`);
  console.log('processes: simulated fleet + reference PVE in one child process, the OAM server (SQLite store) in another (fresh each round; the memory figures are its own), the NMS client in this one');
  console.log(`${rounds} rounds, interleaved (setups, ${sizes.join(', ')}, setups, ...), best round of each kept: the machine is shared and noise only slows a round down`);

  // interleaved rounds: baseline, every size, baseline, every size, ..., baseline
  const setups: number[] = [await measureSetups(lanes, roundMs)];
  const runs = new Map<number, FleetFigures[]>(sizes.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const size of sizes) runs.get(size)!.push(await fleetRun(size, o));
    setups.push(await measureSetups(lanes, roundMs));
  }
  const best = Math.max(...setups);

  console.log(`\nbaseline: bare NETCONF session setups (SSH + auth + hello + close-session, our client -> our server in a child, ${lanes} concurrent): ${setups.map((s) => s.toFixed(1)).join(' / ')} /s -> best ${best.toFixed(1)} /s`);
  let ok = true;
  const q = (xs: number[], f: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(f * xs.length))] ?? NaN;
  for (const size of sizes) {
    const all = runs.get(size)!;
    for (const r of all) if (r.verified !== r.size) ok = false;
    const r = all.reduce((a, b) => (b.updatesPerSec > a.updatesPerSec ? b : a));
    const mem = all.reduce((a, b) => (b.peak.rss > a.peak.rss ? b : a));
    const otherText = [...r.other].map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(`\nfleet of ${r.size}: rounds ${all.map((x) => `${x.verified}/${x.size} verified in ${(x.totalMs / 1000).toFixed(2)} s = ${x.updatesPerSec.toFixed(1)}/s`).join('; ')}`);
    if (otherText) console.log(`  best round: others ${otherText}${r.timedOut ? `; stopped waiting after ${(o.limitMs / 1000).toFixed(0)} s` : ''}`);
    for (const reason of r.firstReasons) console.log(`  e.g. ${reason}`);
    console.log(`  THROUGHPUT ${r.updatesPerSec.toFixed(1)} verified updates/s; ratio to session setups/s: ${(r.updatesPerSec / best).toFixed(3)} (one verified update costs the time of ${(best / r.updatesPerSec).toFixed(1)} bare session setups)`);
    console.log(`  best round: start of fleet + PVE ${(r.childStartMs / 1000).toFixed(1)} s (child), OAM server ${r.oamStartMs.toFixed(0)} ms; every job started (rpc-reply) after ${r.replyMs.toFixed(0)} ms; last result after ${(r.totalMs / 1000).toFixed(2)} s`);
    console.log(`  results arrived (s after the RPC): 10% ${(q(r.arrivals, 0.1) / 1000).toFixed(2)}, 50% ${(q(r.arrivals, 0.5) / 1000).toFixed(2)}, 90% ${(q(r.arrivals, 0.9) / 1000).toFixed(2)}, 100% ${(q(r.arrivals, 1) / 1000).toFixed(2)}`);
    console.log(`  per-job phases, median / max ms: ${r.phases.map((p) => `${p.name} ${q(p.ms, 0.5).toFixed(0)} / ${q(p.ms, 1).toFixed(0)}`).join('; ')}`);
    console.log(`  CPU: OAM process ${r.oamCpuMs.toFixed(0)} ms (${(r.oamCpuMs / Math.max(1, r.verified)).toFixed(1)} ms per update), fleet+PVE child ${r.childCpuMs.toFixed(0)} ms (${(r.childCpuMs / Math.max(1, r.verified)).toFixed(1)} ms per update), wall ${r.totalMs.toFixed(0)} ms: on CPU ${((100 * r.oamCpuMs) / r.totalMs).toFixed(0)}% / ${((100 * r.childCpuMs) / r.totalMs).toFixed(0)}% of the wall time (fsync waits are not CPU)`);
    console.log(`  OAM process memory (highest round, ${mem.samples} samples): peak RSS ${MiB(mem.peak.rss)} MiB (${MiB(mem.baseline.rss)} before the OAM started: +${MiB(mem.peak.rss - mem.baseline.rss)}), peak heapUsed ${MiB(mem.peak.heapUsed)} MiB (+${MiB(mem.peak.heapUsed - mem.baseline.heapUsed)}), peak heapTotal ${MiB(mem.peak.heapTotal)} MiB, peak external ${MiB(mem.peak.external)} MiB`);
    console.log(`  open file descriptors after the run: OAM process ${mem.fds.oam}, fleet+PVE child ${mem.fds.child} (the OAM keeps one SSH session per device open)`);
  }
  if (sizes.length >= 2) {
    // each round's OAM is a fresh process: the difference between two fleet sizes is the per-device cost
    const peakOf = (n: number): MemSample => runs.get(n)!.reduce((a, b) => (b.peak.rss > a.peak.rss ? b : a)).peak;
    const [small, large] = [Math.min(...sizes), Math.max(...sizes)];
    const d = (k: keyof MemSample): string => ((peakOf(large)[k] - peakOf(small)[k]) / 1024 / (large - small)).toFixed(0);
    console.log(`\nOAM memory per additional device (peak of ${large} minus peak of ${small}, over ${large - small} devices): RSS ${d('rss')} KiB, heapUsed ${d('heapUsed')} KiB, external ${d('external')} KiB`);
  }
  console.log(`\ntotal bench time ${((performance.now() - tStart) / 1000).toFixed(0)} s`);
  if (!ok) {
    console.log('not every device ended verified in every round: the throughput figures above are not comparable');
    process.exitCode = 1;
  }
}

// entry (last, so that every const above is initialised): a child mode, or the benchmark itself
if (process.argv[2] === '--child-fleet') {
  await serveFleet(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
} else if (process.argv[2] === '--child-oam') {
  await serveOam(process.argv[3] as string);
} else if (process.argv[2] === '--child-bare') {
  await serveBare(join(root, 'yang', 'ietf'));
} else {
  await main();
}
