/**
 * A/B helper (not run by bench/run.ts: leading underscore): several NETCONF-over-TLS servers, each a child process
 * printing READY and answering CPU on stdin (bench/netconf.ts --serve, bench/_tls-floor.ts, or another tree's
 * bench/netconf.ts), measured by the same client in rotating windows of MS ms, ROUNDS times: rate and the server's
 * CPU per rpc (or per session setup), min and median over the rounds. Servers run side by side, so a busy machine
 * slows them alike: compare the CPU per operation of the same run, not runs of different times.
 * Args: name=script[@ENV=V,ENV=V] ... (ENV RPC=noop: the bench server's trivial RPC). Env: MODE=lockstep,pipelined,
 * setups,resumed (comma-separated; default lockstep), ROUNDS (5), MS (1000). Per server: SSHWARM=N get-configs over SSH
 * before the first TLS window, SSHEACH=N before each window (a server serving both transports, as in bench/netconf.ts);
 * BENCH_SERVE=tls: bench/netconf.ts --serve without its SSH listener.
 * Example: node --import tsx bench/_netconf-ab.ts main=../main/bench/netconf.ts ours=bench/netconf.ts floor=bench/_tls-floor.ts
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { TlsSessionCache, connectNetconf, connectNetconfTls } from '../src/netconf/client/index.js';
import type { NetconfClient } from '../src/netconf/client/index.js';
import { createTestPki } from '../test/helpers/tls-pki.js';

const MODES = (process.env.MODE ?? 'lockstep').split(',');
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const MS = Number(process.env.MS ?? 1000);
const pki = createTestPki();
const client = pki.issue('bench-client', { san: 'DNS:bench' });
const RPC = '<get-config><source><running/></source></get-config>';
interface Srv { rpc: string; name: string; port: number; sshPort: number; fp: string; sshWarm: number; sshEach: number; cpu: () => Promise<number>; stop: () => void; res: Record<string, Array<{ rate: number; cpu: number; n: number }>> }
async function start(spec: string): Promise<Srv> {
  const [name, rest] = spec.split('=', 2) as [string, string];
  const [script, envs] = rest.split('@');
  const env: Record<string, string> = { BENCH_TLS_DIR: pki.dir };
  for (const kv of (envs ?? '').split(',').filter(Boolean)) { const [k, v] = kv.split('='); env[k!] = v!; }
  const args = script!.endsWith('netconf.ts') ? [script!, '--serve'] : [script!];
  const child = spawn(process.execPath, [...(process.env.NODE_EXTRA ?? '').split(' ').filter(Boolean), '--import', 'tsx', ...args], { cwd: process.env.CWD ?? process.cwd(), stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const rl = createInterface({ input: child.stdout! });
  const line = await new Promise<string>((r) => rl.on('line', (l) => { if (l.startsWith('READY')) r(l); }));
  const f = line.split(' ');
  const port = Number(f[4] && f[4] !== '0' ? f[4] : f[1]);
  const sshPort = f[4] && f[4] !== '0' ? Number(f[1]) : 0;
  const waiters: Array<(n: number) => void> = [];
  rl.on('line', (l) => { if (l.startsWith('CPU ')) waiters.shift()?.(Number(l.slice(4))); });
  return { rpc: env.RPC === 'noop' ? '<noop xmlns="urn:bench"/>' : RPC, name, port, sshPort, fp: f[2]!, sshWarm: Number(env.SSHWARM ?? 0), sshEach: Number(env.SSHEACH ?? 0), res: {}, stop: () => child.stdin!.end(), cpu: () => new Promise((r) => { waiters.push(r); child.stdin!.write('CPU\n'); }) };
}
const servers: Srv[] = [];
for (const a of process.argv.slice(2)) servers.push(await start(a));
const caches = new Map<Srv, TlsSessionCache>();
const connect = (s: Srv, resume: boolean): Promise<NetconfClient> => {
  if (resume && !caches.has(s)) caches.set(s, new TlsSessionCache({ max: 1 }));
  return connectNetconfTls({ host: '127.0.0.1', port: s.port, cert: client.cert, key: client.key, ca: pki.ca.cert, maxInFlight: 32, ...(resume ? { sessions: caches.get(s)! } : {}) });
};
/** n get-configs over SSH to a server that also listens on SSH (half lockstep, half 32 outstanding) */
async function sshTraffic(s: Srv, n: number): Promise<void> {
  if (n === 0 || s.sshPort === 0) return;
  const c = await connectNetconf({ host: '127.0.0.1', port: s.sshPort, username: 'bench', password: 'bench-pw', hostKeySha256: s.fp, maxInFlight: 32 });
  for (let i = 0; i < n / 2; i++) await c.rpc(s.rpc);
  let left = n / 2;
  await Promise.all(Array.from({ length: 32 }, async () => { while (left-- > 0) await c.rpc(s.rpc); }));
  await c.close();
}
const open = new Map<Srv, NetconfClient>();
for (const s of servers) await sshTraffic(s, s.sshWarm);
for (const s of servers) { const c = await connect(s, false); for (let i = 0; i < 2000; i++) await c.rpc(s.rpc); open.set(s, c); }
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of MODES) {
    for (let i = 0; i < servers.length; i++) {
      const s = servers[(i + r) % servers.length]!;
      await sshTraffic(s, s.sshEach);
      let n = 0;
      const c0 = await s.cpu();
      const t0 = performance.now();
      if (mode === 'setups' || mode === 'resumed') {
        while (performance.now() < t0 + MS) { const x = await connect(s, mode === 'resumed'); await x.close(); n++; }
      } else {
        const c = open.get(s)!;
        const lanes = mode === 'lockstep' ? 1 : 32;
        await Promise.all(Array.from({ length: lanes }, async () => { while (performance.now() < t0 + MS) { await c.rpc(s.rpc); n++; } }));
      }
      const rate = (n / (performance.now() - t0)) * 1000;
      const cpu = (await s.cpu() - c0) / n;
      (s.res[mode] ??= []).push({ rate, cpu, n });
    }
  }
}
const med = (a: number[]): number => { const b = [...a].sort((x, y) => x - y); return b[Math.floor(b.length / 2)]!; };
for (const mode of MODES) for (const s of servers) {
  const xs = s.res[mode]!;
  console.log(`${mode.padEnd(9)} ${s.name.padEnd(10)} rate best ${Math.max(...xs.map((x) => x.rate)).toFixed(0).padStart(6)} med ${med(xs.map((x) => x.rate)).toFixed(0).padStart(6)}   server CPU us/op min ${Math.min(...xs.map((x) => x.cpu)).toFixed(1).padStart(6)} med ${med(xs.map((x) => x.cpu)).toFixed(1).padStart(6)}   ops ${xs.reduce((t, x) => t + x.n, 0)}`);
}
for (const c of open.values()) await c.close();
for (const s of servers) s.stop();
pki.cleanup();
