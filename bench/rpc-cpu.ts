/**
 * Server CPU per NETCONF rpc over TLS (issue 13): our server (bench/netconf.ts --serve, TLS only) against the TLS
 * floor (bench/_tls-floor.ts: bare node:tls, the same mutual X.509 settings, a fixed reply per framed message), in
 * the same run, lockstep get-config from the same client. bench/netconf.ts's lockstep *rates* only compare on an
 * idle machine (docs/performance.md); the figures here are meant to track the gap while the machine is busy:
 *
 * - CPU (default): each server's own process CPU (process.cpuUsage, user + system) per rpc over rotating windows
 *   (BENCH_ROUNDS of BENCH_ROUND_MS each server), min and median. Less sensitive to load than a rate, not immune:
 *   a busy machine still moves both servers' figures (caches, frequency), so read the ratio and the difference.
 * - instructions (BENCH_CALLGRIND=1, needs valgrind): each server runs under `valgrind --tool=callgrind` with
 *   instrumentation off until it is warm (BENCH_CG_WARM rpcs, default 15,000: V8 has finished optimising), then
 *   counts the instructions (Ir) of its main thread over BENCH_CG_RPCS rpcs (default 2,000). Independent of load
 *   (the same code path gives the same count within ~1%), and ~2 min per server here.
 *
 * Prints ours-tls/tls-floor and the difference per rpc for each figure.
 * Run: node --import tsx bench/rpc-cpu.ts   (BENCH_CALLGRIND=1 for instruction counts too)
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connectNetconfTls } from '../src/netconf/client/index.js';
import type { NetconfClient } from '../src/netconf/client/index.js';
import { createTestPki } from '../test/helpers/tls-pki.js';
import type { Issued, TestPki } from '../test/helpers/tls-pki.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 800);
const CG_WARM = Number(process.env.BENCH_CG_WARM ?? 15_000);
const CG_RPCS = Number(process.env.BENCH_CG_RPCS ?? 2_000);
const GET_CONFIG = '<get-config><source><running/></source></get-config>';

interface Target {
  name: string;
  args: string[];
}
const TARGETS: Target[] = [
  { name: 'ours-tls', args: [join(root, 'bench', 'netconf.ts'), '--serve'] },
  { name: 'tls-floor', args: [join(root, 'bench', '_tls-floor.ts')] },
];

interface Server {
  /** the TLS port */
  port: number;
  /** the process's CPU so far, microseconds (its own answer to "CPU" on stdin) */
  cpu: () => Promise<number>;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** start a server script that prints "READY <port> <fp> <op> <tls port>" (or its TLS port first) and answers CPU */
async function start(t: Target, pki: TestPki, wrap: string[] = []): Promise<Server> {
  const argv = [...wrap, process.execPath, '--import', 'tsx', ...t.args];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: root, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_TLS_DIR: pki.dir, BENCH_SERVE: 'tls' },
  });
  const rl = createInterface({ input: child.stdout! });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${t.name} did not start within 300 s`)), 300_000);
    rl.on('line', (l) => {
      if (!l.startsWith('READY ')) return;
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`${t.name} exited (${code})`)));
  });
  const f = line.split(' ');
  const port = Number(f[4] && f[4] !== '0' ? f[4] : f[1]);
  const waiters: Array<(us: number) => void> = [];
  rl.on('line', (l) => {
    if (l.startsWith('CPU ')) waiters.shift()?.(Number(l.slice(4)));
  });
  return {
    port, child,
    cpu: () => new Promise((resolve) => {
      waiters.push(resolve);
      child.stdin!.write('CPU\n');
    }),
    stop: () => new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.stdin!.end();
    }),
  };
}

function connect(s: Server, pki: TestPki, client: Issued, timeoutMs = 10_000): Promise<NetconfClient> {
  return connectNetconfTls({ host: '127.0.0.1', port: s.port, cert: client.cert, key: client.key, ca: pki.ca.cert, rpcTimeoutMs: timeoutMs, connectTimeoutMs: timeoutMs, helloTimeoutMs: timeoutMs });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** server CPU per lockstep rpc, rotating windows: min and median per target */
async function cpuFigures(pki: TestPki, client: Issued): Promise<Map<string, number[]>> {
  const servers = await Promise.all(TARGETS.map((t) => start(t, pki)));
  const clients: NetconfClient[] = [];
  for (const s of servers) {
    const c = await connect(s, pki, client);
    for (let i = 0; i < 3000; i++) await c.rpc(GET_CONFIG);
    clients.push(c);
  }
  const perRpc = new Map<string, number[]>(TARGETS.map((t) => [t.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < servers.length; k++) {
      const i = (k + r) % servers.length;
      const s = servers[i]!;
      const c = clients[i]!;
      let n = 0;
      const c0 = await s.cpu();
      const t0 = performance.now();
      while (performance.now() - t0 < ROUND_MS) {
        await c.rpc(GET_CONFIG);
        n++;
      }
      perRpc.get(TARGETS[i]!.name)!.push((await s.cpu() - c0) / n);
    }
  }
  for (const c of clients) await c.close();
  await Promise.all(servers.map((s) => s.stop()));
  return perRpc;
}

/** instructions of the server's main thread per lockstep rpc, counted by callgrind once the server is warm */
async function instructions(t: Target, pki: TestPki, client: Issued, dir: string): Promise<number> {
  const out = join(dir, `${t.name}.cg`);
  const s = await start(t, pki, ['valgrind', '--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes',
    '--smc-check=all-non-file', `--callgrind-out-file=${out}`]);
  const c = await connect(s, pki, client, 600_000);
  for (let i = 0; i < CG_WARM; i++) await c.rpc(GET_CONFIG);
  const pid = String(s.child.pid);
  execFileSync('callgrind_control', ['-i', 'on', pid], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) await c.rpc(GET_CONFIG);
  execFileSync('callgrind_control', ['-z', pid], { stdio: 'ignore' });
  for (let i = 0; i < CG_RPCS; i++) await c.rpc(GET_CONFIG);
  execFileSync('callgrind_control', ['-d', pid], { stdio: 'ignore' });
  execFileSync('callgrind_control', ['-i', 'off', pid], { stdio: 'ignore' });
  await c.close();
  await s.stop();
  // the dump of thread 1 (the main thread: the JS, the TLS records, node's streams) is `<out>.1-01`
  const text = readFileSync(`${out}.1-01`, 'utf8');
  const total = /^totals: (\d+)/m.exec(text) ?? /^summary: (\d+)/m.exec(text);
  if (!total) throw new Error(`no totals in ${out}.1-01`);
  return Number(total[1]) / CG_RPCS;
}

async function main(): Promise<void> {
  const pki = createTestPki();
  const client = pki.issue('bench-client', { san: 'DNS:bench' });
  try {
    console.log(`server CPU per lockstep get-config over TLS (process CPU, ${ROUNDS} rotating windows of ${ROUND_MS} ms each)`);
    const cpu = await cpuFigures(pki, client);
    for (const [name, xs] of cpu) {
      console.log(`${name.padEnd(10)} min ${Math.min(...xs).toFixed(1).padStart(6)} us   median ${median(xs).toFixed(1).padStart(6)} us`);
    }
    const ours = cpu.get('ours-tls')!;
    const floor = cpu.get('tls-floor')!;
    console.log(`ours-tls/tls-floor CPU per rpc: min ${(Math.min(...ours) / Math.min(...floor)).toFixed(2)}x, median ${(median(ours) / median(floor)).toFixed(2)}x; above the floor: min ${(Math.min(...ours) - Math.min(...floor)).toFixed(1)} us, median ${(median(ours) - median(floor)).toFixed(1)} us`);
    if (process.env.BENCH_CALLGRIND === '1') {
      const dir = pki.dir;
      const ir = new Map<string, number>();
      for (const t of TARGETS) ir.set(t.name, await instructions(t, pki, client, dir));
      for (const f of readdirSync(dir)) if (f.includes('.cg')) rmSync(join(dir, f));
      const o = ir.get('ours-tls')!;
      const fl = ir.get('tls-floor')!;
      console.log(`instructions per lockstep rpc (callgrind, main thread, after ${CG_WARM} warm-up rpcs, over ${CG_RPCS}): ours-tls ${o.toFixed(0)}, tls-floor ${fl.toFixed(0)}; ours-tls/tls-floor ${(o / fl).toFixed(2)}x, above the floor ${(o - fl).toFixed(0)}`);
    }
  } finally {
    pki.cleanup();
  }
}

await main();
