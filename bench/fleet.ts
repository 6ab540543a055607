/**
 * Fleet throughput: verified software updates per second through the whole flow (NMS -> OAM software-update
 * RPC over NETCONF/SSH naming every device -> per device: PVE integrity-request over RESTCONF/HTTPS (the PVE
 * collects signed evidence from the device over NETCONF/SSH), token check, software digest, software-update
 * to the device over NETCONF/SSH, completion notification, TIM check, signed result -> software-update-result
 * notification to the NMS), for 100 and 1,000 simulated healthy femtocells.
 *
 * Baseline, measured in the same run: bare NETCONF session setups per second (SSH + password auth + hello +
 * close-session), our client against our server, 50 concurrent, server in a child process. It is measured
 * before and after the fleet runs and the better round is kept (noise only ever slows a round down). The
 * ratio updates/s / setups/s says how many session setups' worth of work one verified update costs (each
 * update needs two device sessions: the PVE's evidence session and the OAM driver's session, plus the rest).
 *
 * Processes: the simulated fleet and the reference PVE run in a child process; the OAM server (with its
 * SQLite store) and the NMS client (one session) run in this process, so the sampled memory
 * (process.memoryUsage() every 25 ms) is the OAM's own plus one NETCONF client session.
 *
 * Knobs (env): BENCH_FLEET_SIZES (default 100,1000), BENCH_FLEET_BATCH (henb-ids per software-update RPC,
 * default 0 = all in one RPC), BENCH_INSTALL_MS (simulated install, default 20), BENCH_PVE_MAX (PVE
 * evidence collections at once, default 64), BENCH_SETUP_CONCURRENCY (default 50), BENCH_ROUND_MS (baseline
 * round, default 2000), BENCH_FLEET_LIMIT_S (per fleet run, default 120).
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
import { createLogger } from '../src/log/logger.js';
import { defaultServeConfig } from '../src/config/load.js';
import { startOamServer } from '../src/cli/oam-server.js';
import { ADMIN_PASSWORD_ENV } from '../src/cli/users.js';
import { MemorySampler, MiB, now, serveBare, serveFleet, spawnChild } from './_fleet-lib.js';
import type { BareReady, Child, FleetReady, MemSample } from './_fleet-lib.js';

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
  const gc = (globalThis as { gc?: () => void }).gc;
  const fleet: Child<FleetReady> = await spawnChild<FleetReady>(self, ['--child-fleet', String(size), String(o.installMs), String(o.pveMax)], 120_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'hsv-bench-oam-'));
  let client: NetconfClient | undefined;
  let server: Awaited<ReturnType<typeof startOamServer>> | undefined;
  const sampler = new MemorySampler();
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
    const adminPassword = 'bench-admin-pw';
    const env = { ...process.env, [ADMIN_PASSWORD_ENV]: adminPassword, HSV_BENCH_DEVICE_PASSWORD: devices[0]!.password };
    const log = createLogger({ level: 'warn', write: (l) => process.stderr.write(l) });

    gc?.();
    const baseline = now();
    sampler.start();
    const ts = performance.now();
    server = await startOamServer({ listen: { host: '127.0.0.1', port: 0 }, dataDir: join(dataDir, 'oam'), config, env, log });
    const oamStartMs = performance.now() - ts;

    client = await connectNetconf({
      host: server.address.host, port: server.address.port, username: 'admin', password: adminPassword,
      hostKeySha256: server.fingerprint, rpcTimeoutMs: o.limitMs + 60_000,
    });
    await client.rpc(el(NETCONF_NOTIFICATION_NS, 'create-subscription', leaf(NETCONF_NOTIFICATION_NS, 'stream', 'henb-sw-verify')));
    const results = new Map<string, { status: string; reason?: string }>();
    /** jobId -> step -> ms after t0 (step 10: the result) */
    const stepAt = new Map<string, Map<number, number>>();
    const mark = (jobId: string, step: number): void => {
      let m = stepAt.get(jobId);
      if (!m) stepAt.set(jobId, (m = new Map()));
      if (!m.has(step)) m.set(step, performance.now() - t0);
    };
    let t0 = performance.now();
    let expected = new Set<string>();
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
        if (!ev || !jobId) continue;
        mark(jobId, 10);
        const reason = childText(ev, HSV_NS, 'reason')?.trim();
        results.set(jobId, { status: childText(ev, HSV_NS, 'status')?.trim() ?? '?', ...(reason ? { reason } : {}) });
        if (allIn && [...expected].every((j) => results.has(j))) allIn();
      }
    })().catch(() => undefined);

    const ids = devices.map((d) => d.henbId);
    const batch = o.batch > 0 ? o.batch : ids.length;
    const cpuOam0 = process.cpuUsage();
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
    expected = new Set(started);
    let timedOut = false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timedOut = true;
        resolve();
      }, o.limitMs);
      allIn = () => {
        clearTimeout(t);
        resolve();
      };
      if (started.every((j) => results.has(j))) allIn();
    });
    const totalMs = performance.now() - t0;
    const cpuOam = process.cpuUsage(cpuOam0);
    const childCpuMs = ((await fleet.cpu()) - cpuChild0) / 1000;
    const peak = sampler.stop();

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
      size, verified, other, firstReasons, childStartMs: fleet.ready.startMs, oamStartMs, replyMs, totalMs,
      updatesPerSec: (verified / totalMs) * 1000, baseline, peak, samples: sampler.samples,
      oamCpuMs: (cpuOam.user + cpuOam.system) / 1000, childCpuMs, timedOut,
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
    sampler.stop();
    await client?.close().catch(() => undefined);
    await server?.close();
    await fleet.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const sizes = (process.env.BENCH_FLEET_SIZES ?? '100,1000').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
  const lanes = envNum('BENCH_SETUP_CONCURRENCY', 50);
  const roundMs = envNum('BENCH_ROUND_MS', 2000);
  const o = {
    installMs: envNum('BENCH_INSTALL_MS', 20),
    pveMax: envNum('BENCH_PVE_MAX', 64),
    batch: envNum('BENCH_FLEET_BATCH', 0),
    limitMs: envNum('BENCH_FLEET_LIMIT_S', 120) * 1000,
  };
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') console.log('(run with --expose-gc for a settled memory baseline)');
  const tStart = performance.now();
  console.log(`fleet: healthy devices ${sizes.join(', ')}; install ${o.installMs} ms; ${o.batch > 0 ? `${o.batch} henb-ids per software-update RPC` : 'one software-update RPC naming every device'}; PVE maxConcurrent ${o.pveMax}`);
  console.log('processes: simulated fleet + reference PVE in a child process; OAM server + NMS client (1 session) in this one (memory below is this process)');

  const setups: number[] = [await measureSetups(lanes, roundMs)];
  const runs: FleetFigures[] = [];
  for (const size of sizes) runs.push(await fleetRun(size, o));
  setups.push(await measureSetups(lanes, roundMs));
  const best = Math.max(...setups);

  console.log(`baseline: bare NETCONF session setups (SSH + auth + hello + close, ${lanes} concurrent, server in a child): ${setups.map((s) => s.toFixed(1)).join(' / ')} /s -> best ${best.toFixed(1)} /s`);
  let ok = true;
  for (const r of runs) {
    const otherText = [...r.other].map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(`\nfleet of ${r.size}: ${r.verified}/${r.size} verified${otherText ? ` (others: ${otherText})` : ''}${r.timedOut ? ` -- stopped waiting after ${(o.limitMs / 1000).toFixed(0)} s` : ''}`);
    for (const reason of r.firstReasons) console.log(`  e.g. ${reason}`);
    console.log(`  start: fleet + PVE ${(r.childStartMs / 1000).toFixed(1)} s (child), OAM server ${r.oamStartMs.toFixed(0)} ms`);
    console.log(`  every job started (software-update rpc-reply) after ${r.replyMs.toFixed(0)} ms; last result after ${(r.totalMs / 1000).toFixed(2)} s`);
    console.log(`  throughput ${r.updatesPerSec.toFixed(1)} verified updates/s   ratio to session setups/s: ${(r.updatesPerSec / best).toFixed(3)}   (${(best / r.updatesPerSec).toFixed(1)} setups' time per update)`);
    const q = (xs: number[], f: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(f * xs.length))] ?? NaN;
    console.log(`  results arrived (s after the RPC): 10% ${(q(r.arrivals, 0.1) / 1000).toFixed(2)}, 50% ${(q(r.arrivals, 0.5) / 1000).toFixed(2)}, 90% ${(q(r.arrivals, 0.9) / 1000).toFixed(2)}, 100% ${(q(r.arrivals, 1) / 1000).toFixed(2)}`);
    console.log(`  per-job phases, median / max ms: ${r.phases.map((p) => `${p.name} ${q(p.ms, 0.5).toFixed(0)} / ${q(p.ms, 1).toFixed(0)}`).join('; ')}`);
    console.log(`  CPU during the run: OAM process ${r.oamCpuMs.toFixed(0)} ms (${(r.oamCpuMs / Math.max(1, r.verified)).toFixed(1)} ms per update), fleet+PVE child ${r.childCpuMs.toFixed(0)} ms (${(r.childCpuMs / Math.max(1, r.verified)).toFixed(1)} ms per update), wall ${r.totalMs.toFixed(0)} ms`);
    console.log(`  OAM memory (${r.samples} samples): peak RSS ${MiB(r.peak.rss)} MiB (before start ${MiB(r.baseline.rss)}, +${MiB(r.peak.rss - r.baseline.rss)}), peak heapUsed ${MiB(r.peak.heapUsed)} MiB (before ${MiB(r.baseline.heapUsed)}, +${MiB(r.peak.heapUsed - r.baseline.heapUsed)}), peak heapTotal ${MiB(r.peak.heapTotal)} MiB, peak external ${MiB(r.peak.external)} MiB; +${((r.peak.rss - r.baseline.rss) / 1024 / r.size).toFixed(0)} KiB RSS per device`);
    if (r.verified !== r.size) ok = false;
  }
  console.log(`\ntotal bench time ${((performance.now() - tStart) / 1000).toFixed(0)} s`);
  if (!ok) {
    console.log('not every device ended verified: the throughput figures above are not comparable');
    process.exitCode = 1;
  }
}

// entry (last, so that every const above is initialised): a child mode, or the benchmark itself
if (process.argv[2] === '--child-fleet') {
  await serveFleet(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
} else if (process.argv[2] === '--child-bare') {
  await serveBare(join(root, 'yang', 'ietf'));
} else {
  await main();
}
