/**
 * Profiling helper (not run by bench/run.ts: leading underscore): starts our server as
 * `bench/netconf.ts --serve` in a child process and drives it over SSH (or TLS) with get-config, lockstep and/or
 * 32 outstanding, or with sequential session setups. Profile the server with
 * NODE_EXTRA="--cpu-prof --cpu-prof-dir=DIR" (passed to the child), the client with
 * `node --cpu-prof --import tsx bench/_netconf-drive.ts`. Prints the rates and the server's CPU per rpc (setup).
 * Env: MODE=lockstep|pipelined|both|setups|resumed (default both), MS=duration per mode (default 4000),
 * TRANSPORT=ssh|tls (default ssh; tls makes a throw-away PKI), SERVE=another server script printing READY
 * (e.g. bench/_ssh-floor.ts, bench/_tls-floor.ts), CHILD_OUT=a file for the server's other output (V8 traces).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { TlsSessionCache, connectNetconf, connectNetconfTls } from '../src/netconf/client/index.js';
import type { NetconfClient } from '../src/netconf/client/index.js';
import { createTestPki } from '../test/helpers/tls-pki.js';

const mode = process.env.MODE ?? 'both';
const ms = Number(process.env.MS ?? 4000);
const tls = process.env.TRANSPORT === 'tls';
const pki = tls ? createTestPki() : undefined;
const client = pki?.issue('bench-client', { san: 'DNS:bench' });
const nodeArgs = (process.env.NODE_EXTRA ?? '').split(' ').filter(Boolean);
const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', process.env.SERVE ?? 'bench/netconf.ts', '--serve'], {
  stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...(pki ? { BENCH_TLS_DIR: pki.dir } : {}) },
});
const rl = createInterface({ input: child.stdout! });
const line = await new Promise<string>((r) => rl.on('line', (l) => { if (l.startsWith('READY')) r(l); }));
const [, port, fp, , tlsPort] = line.split(' ');
console.log(`server pid ${child.pid}`);
const cpuWaiters: Array<(us: number) => void> = [];
// the child's other output (e.g. NODE_EXTRA=--trace-deopt) goes to CHILD_OUT when set
const childOut = process.env.CHILD_OUT ? createWriteStream(process.env.CHILD_OUT) : undefined;
rl.on('line', (l) => {
  if (l.startsWith('CPU ')) cpuWaiters.shift()?.(Number(l.slice(4)));
  else childOut?.write(`${l}\n`);
});
const serverCpu = (): Promise<number> => new Promise((r) => { cpuWaiters.push(r); child.stdin!.write('CPU\n'); });
const sessions = new TlsSessionCache({ max: 1 });
const connect = (resume = false): Promise<NetconfClient> => (pki && client
  // a floor prints its TLS port as the first one
  ? connectNetconfTls({ host: '127.0.0.1', port: Number(tlsPort && tlsPort !== '0' ? tlsPort : port), cert: client.cert, key: client.key, ca: pki.ca.cert, maxInFlight: 32, ...(resume ? { sessions } : {}) })
  : connectNetconf({ host: '127.0.0.1', port: Number(port), username: 'bench', password: 'bench-pw', hostKeySha256: fp!, maxInFlight: 32 }));
const RPC = '<get-config><source><running/></source></get-config>';
const c = await connect();
for (let i = 0; i < 200; i++) await c.rpc(RPC);
for (const m of mode === 'both' ? ['lockstep', 'pipelined'] : [mode]) {
  let n = 0;
  const cpu0 = await serverCpu();
  const t0 = performance.now();
  if (m === 'setups' || m === 'resumed') {
    while (performance.now() < t0 + ms) { const s = await connect(m === 'resumed'); await s.close(); n++; }
  } else {
    const lanes = m === 'lockstep' ? 1 : 32;
    await Promise.all(Array.from({ length: lanes }, async () => {
      while (performance.now() < t0 + ms) { await c.rpc(RPC); n++; }
    }));
  }
  const rate = (n / (performance.now() - t0)) * 1000;
  console.log(`${m}: ${rate.toFixed(0)} /s, server CPU ${((await serverCpu() - cpu0) / n).toFixed(1)} us per ${m.endsWith('s') || m === 'resumed' ? 'setup' : 'rpc'}`);
}
await c.close();
child.stdin!.end();
await new Promise((r) => child.once('exit', r));
pki?.cleanup();
