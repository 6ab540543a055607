/**
 * Profiling helper (not run by bench/run.ts: leading underscore): starts our server as
 * `bench/netconf.ts --serve` in a child process and drives it over SSH with get-config, lockstep and/or
 * 32 outstanding. Profile the server with NODE_EXTRA="--cpu-prof --cpu-prof-dir=DIR" (passed to the
 * child), the client with `node --cpu-prof --import tsx bench/_netconf-drive.ts`.
 * Env: MODE=lockstep|pipelined|both (default both), MS=duration per mode (default 4000),
 * SERVE=another server script printing READY (e.g. bench/_ssh-floor.ts).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { connectNetconf } from '../src/netconf/client/index.js';

const mode = process.env.MODE ?? 'both';
const ms = Number(process.env.MS ?? 4000);
const nodeArgs = (process.env.NODE_EXTRA ?? '').split(' ').filter(Boolean);
const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', process.env.SERVE ?? 'bench/netconf.ts', '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
const rl = createInterface({ input: child.stdout! });
const line = await new Promise<string>((r) => rl.on('line', (l) => { if (l.startsWith('READY')) r(l); }));
const [, port, fp] = line.split(' ');
const c = await connectNetconf({ host: '127.0.0.1', port: Number(port), username: 'bench', password: 'bench-pw', hostKeySha256: fp!, maxInFlight: 32 });
const RPC = '<get-config><source><running/></source></get-config>';
for (let i = 0; i < 200; i++) await c.rpc(RPC);
for (const m of mode === 'both' ? ['lockstep', 'pipelined'] : [mode]) {
  const lanes = m === 'lockstep' ? 1 : 32;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (performance.now() < t0 + ms) { await c.rpc(RPC); n++; }
  }));
  console.log(`${m}: ${((n / (performance.now() - t0)) * 1000).toFixed(0)} rpc/s`);
}
await c.close();
child.stdin!.end();
await new Promise((r) => child.once('exit', r));
