/**
 * CPU per NETCONF session setup (not run by bench/run.ts): SSH handshake, password auth, hello, close-session, our
 * client against 100 simulated devices in this one process (client and server CPU together), 3 rounds after a
 * warm-up. Less noisy on a shared machine than a fleet run's CPU per update (issue 15; docs/performance.md).
 *   TAG=main node --import tsx bench/_ssh-setup-cpu.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFleet } from '../src/simulator/index.js';
import { connectNetconf } from '../src/netconf/client/connect.js';
const DEV = 100, ROUNDS = 3;
const dir = mkdtempSync(join(tmpdir(), 'hsv-ssh-setup-'));
const fleet = await startFleet({ profiles: { healthy: DEV }, replay: false, dataDir: dir });
const setup = async (d: typeof fleet.devices[number]): Promise<void> => {
  const c = await connectNetconf({ host: d.host, port: d.port, username: d.username, password: d.password, insecureAcceptAnyHostKey: true });
  await c.close();
};
for (const d of fleet.devices.slice(0, 5)) await setup(d); // warm-up
const c0 = process.cpuUsage(); const t0 = performance.now(); let n = 0;
for (let r = 0; r < ROUNDS; r++) for (const d of fleet.devices) { await setup(d); n++; }
const c = process.cpuUsage(c0);
console.log(`${process.env.TAG}: ${n} setups, CPU ${((c.user + c.system) / 1000 / n).toFixed(2)} ms per setup (client + server), wall ${((performance.now() - t0) / n).toFixed(2)} ms`);
await fleet.close(); rmSync(dir, { recursive: true, force: true });
process.exit(0);
