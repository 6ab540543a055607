/**
 * Microbenchmark (not run by bench/run.ts): our ClientSession against our server over the in-memory
 * duplex pair (no SSH): process CPU per get-config, client and server together, lockstep and 32 lanes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { duplexPair } from '../src/netconf/session/memory-transport.js';
import { ClientSession } from '../src/netconf/session/client-session.js';
import { createNetconfServer, registerStandardOperations } from '../src/netconf/server/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = mkdtempSync(join(tmpdir(), 'hsv-inproc-'));
const server = createNetconfServer({
  auth: { users: [{ username: 'bench', password: 'x' }] }, dataDir,
  operations: [(reg) => registerStandardOperations(reg, { ietfYangDir: join(root, 'yang', 'ietf'), eventLog: false })],
});
const [a, b] = duplexPair();
server.acceptStream(a, { username: 'bench' });
const c = await ClientSession.open(b, { maxInFlight: 32 });
const RPC = '<get-config><source><running/></source></get-config>';
for (let i = 0; i < 2000; i++) await c.rpc(RPC);
for (const lanes of [1, 32]) {
  const r: number[] = [];
  for (let k = 0; k < 3; k++) {
    let n = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await Promise.all(Array.from({ length: lanes }, async () => {
      while (performance.now() - t0 < 1000) { await c.rpc(RPC); n++; }
    }));
    const u = process.cpuUsage(c0);
    r.push((u.user + u.system) / n);
  }
  console.log(`${lanes} lane(s): ${Math.min(...r).toFixed(2)} us per rpc, client + server (process CPU, best of 3)`);
}
await c.close();
await server.close();
rmSync(dataDir, { recursive: true, force: true });
