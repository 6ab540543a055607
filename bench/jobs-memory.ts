/**
 * Memory of submitted jobs (issue 15: "memory that does not grow with the fleet"): what the OAM holds for jobs
 * that an NMS has submitted but that have not ended, measured as the live heap (after a full GC) per submitted job
 * at two sizes in one run.
 *
 * Setup, all in this process: the OAM server as `serve` runs it (built-in plugin, SQLite store), an inventory of
 * as many H(e)NBs as the largest size (so that the inventory's own memory is the same at every size), and a PVE endpoint over RESTCONF/HTTPS (loopback) that accepts integrity requests and never answers
 * them (every job stays in its PVE step: the step where jobs waited longest at 10,000 devices). The NMS (a NETCONF
 * client in this process) sends software-update RPCs naming N of the H(e)NBs (BENCH_JOBS_BATCH per RPC); once every
 * job is started, the heap is measured after a full GC, against the heap measured the same way before the server
 * started. Then the server closes and the next size runs.
 *
 * Prints per size: live heap growth, per submitted job, the jobs active in the runner (admitted) and the PVE
 * requests received; then the ratio of the per-job bytes at the largest size to those at the smallest: 1.0 means
 * memory grows with every submitted job; with a bound on admitted jobs it falls as the size grows (the total
 * stays flat). BENCH_JOBS_SIZES (default 1000,5000), BENCH_JOBS_BATCH (default 5000), BENCH_JOBS_MAX_ACTIVE (the
 * OAM's jobs.max-active; default the plugin's; 1000000 drives every job at once, as before the bound),
 * BENCH_JOBS_SNAPSHOT=DIR writes a heap snapshot at each size's measurement (v8.writeHeapSnapshot).
 *
 * Run: node --expose-gc --import tsx bench/jobs-memory.ts
 */
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { connectNetconf } from '../src/netconf/client/index.js';
import { childText, childrenNamed, el, leaf } from '../src/netconf/xml/index.js';
import { defaultServeConfig } from '../src/config/load.js';
import { startOamServer } from '../src/cli/oam-server.js';
import { ADMIN_PASSWORD_ENV } from '../src/cli/users.js';
import { createLogger } from '../src/log/logger.js';
import { loadOrCreatePveTls } from '../src/pve/tls.js';

const HSV_NS = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const sizes = (process.env.BENCH_JOBS_SIZES ?? '1000,5000').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
const batch = Number(process.env.BENCH_JOBS_BATCH ?? 5000);
const snapshotDir = process.env.BENCH_JOBS_SNAPSHOT;
/** jobs.max-active of the OAM (default: the plugin's default); 1000000 = no bound in practice (as before issue 15's admission) */
const maxActive = process.env.BENCH_JOBS_MAX_ACTIVE !== undefined && process.env.BENCH_JOBS_MAX_ACTIVE !== '' ? Number(process.env.BENCH_JOBS_MAX_ACTIVE) : undefined;

/** heap in use after full GCs (a few: finalizers and weak callbacks free more on the next) */
async function liveHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

interface Figures { size: number; started: number; growth: number; perJob: number; pveRequests: number; rss: number }

async function run(size: number, inventory: number, dir: string, tls: { ca: string; cert: string; key: string; caPath: string }): Promise<Figures> {
  // the PVE: accepts integrity requests, answers none (until the end of the size's run)
  const held: ServerResponse[] = [];
  let pveRequests = 0;
  const pve = createServer({ cert: tls.cert, key: tls.key }, (req: IncomingMessage, res: ServerResponse) => {
    pveRequests++;
    req.resume();
    held.push(res);
  });
  pve.keepAliveTimeout = 0;
  await new Promise<void>((r) => pve.listen(0, '127.0.0.1', r));
  const pvePort = (pve.address() as { port: number }).port;
  const runDir = mkdtempSync(join(dir, `size-${size}-`));
  const jwksFile = join(runDir, 'pve-jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [] }));
  const image = join(runDir, 'image.bin');
  writeFileSync(image, 'bench image\n');
  const config = defaultServeConfig();
  config.logLevel = 'error';
  config.builtin = {
    henbs: Array.from({ length: inventory }, (_, i) => ({
      'henb-id': `henb-${i + 1}`, address: '127.0.0.1', port: 1, username: 'u', password: { env: 'BENCH_JOBS_DEVICE_PW' },
      'ssh-host-key': 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
    })),
    pve: { endpoint: `https://127.0.0.1:${pvePort}`, transport: 'restconf', ca: tls.caPath, jwks: jwksFile, timeout: 3600 },
    policies: { 'self-check': true, 'on-mismatch': ['alarm'], 'step-timeout': 3600 },
    software: { 'file-root': runDir },
    ...(maxActive !== undefined ? { jobs: { 'max-active': maxActive } } : {}),
  };
  const env = { ...process.env, [ADMIN_PASSWORD_ENV]: 'bench-admin-pw', BENCH_JOBS_DEVICE_PW: 'device-pw' };
  const log = createLogger({ level: 'error', write: (l) => process.stderr.write(l) });
  const server = await startOamServer({ listen: { host: '127.0.0.1', port: 0 }, dataDir: join(runDir, 'oam'), config, env, log });
  let started = 0;
  try {
    const client = await connectNetconf({
      host: server.address.host, port: server.address.port, username: 'admin', password: 'bench-admin-pw',
      hostKeySha256: server.fingerprint, rpcTimeoutMs: 600_000,
    });
    // the server's own start (YANG, inventory, keys) is not the jobs' memory
    const before = await liveHeap();
    try {
      const ids = Array.from({ length: size }, (_, i) => `henb-${i + 1}`);
      const step = batch > 0 ? batch : size;
      // each reply is counted and dropped in its own call (the NMS's copy is not the OAM's memory)
      const send = async (part: string[]): Promise<number> => {
        const reply = await client.rpc(el(HSV_NS, 'software-update',
          part.map((id) => leaf(HSV_NS, 'henb-id', id)),
          el(HSV_NS, 'software', leaf(HSV_NS, 'uri', pathToFileURL(image).href), leaf(HSV_NS, 'version', '2.0.0'))));
        return childrenNamed(reply, HSV_NS, 'job').filter((j) => childText(j, HSV_NS, 'status')?.trim() === 'started').length;
      };
      for (let i = 0; i < size; i += step) started += await send(ids.slice(i, i + step));
      // let the started jobs reach their PVE step (the requests that the client's agent sends are on the wire)
      await new Promise((r) => setTimeout(r, 2000));
      const after = await liveHeap();
      const rss = process.memoryUsage().rss;
      if (snapshotDir !== undefined) console.log(`  heap snapshot ${writeHeapSnapshot(join(snapshotDir, `jobs-${size}.heapsnapshot`))}`);
      return { size, started, growth: after - before, perJob: (after - before) / size, pveRequests, rss };
    } finally {
      for (const res of held.splice(0)) res.destroy();
      await client.close().catch(() => undefined);
    }
  } finally {
    for (const res of held.splice(0)) res.destroy();
    await server.close();
    pve.closeAllConnections();
    await new Promise((r) => pve.close(r));
    rmSync(runDir, { recursive: true, force: true });
  }
}

const KiB = (n: number): string => (n / 1024).toFixed(1);
const MiB = (n: number): string => (n / 1048576).toFixed(1);

const dir = mkdtempSync(join(tmpdir(), 'hsv-bench-jobs-'));
try {
  const tls = await loadOrCreatePveTls(join(dir, 'pve'));
  console.log(`jobs in flight: sizes ${sizes.join(', ')}; ${batch > 0 ? `${batch} henb-ids per software-update RPC` : 'one RPC'}; jobs.max-active ${maxActive ?? 'default'}; the PVE never answers (every job waits in its PVE step)`);
  const figs: Figures[] = [];
  for (const size of sizes) {
    const f = await run(size, Math.max(...sizes), dir, tls);
    figs.push(f);
    console.log(`${size} submitted (${f.started} started): live heap +${MiB(f.growth)} MiB = ${KiB(f.perJob)} KiB per submitted job; PVE requests received ${f.pveRequests}; RSS ${MiB(f.rss)} MiB`);
  }
  if (figs.length >= 2) {
    const a = figs[0]!;
    const b = figs.at(-1)!;
    console.log(`\nper submitted job: ${KiB(a.perJob)} KiB at ${a.size}, ${KiB(b.perJob)} KiB at ${b.size}: ratio ${(b.perJob / a.perJob).toFixed(2)} ` +
      `(1.00: memory grows with every submitted job; ${(a.size / b.size).toFixed(2)}: flat); live heap growth ratio ${(b.growth / a.growth).toFixed(2)} for ${(b.size / a.size).toFixed(1)}x the jobs`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
