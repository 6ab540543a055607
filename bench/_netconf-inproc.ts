/**
 * Microbenchmark (not run by bench/run.ts: leading underscore): the server's per-rpc cost without SSH.
 * One session over the in-memory duplex pair; the "client" writes pre-framed get-config rpcs in batches
 * and counts replies. Prints server-side microseconds per rpc (the whole process is the server here,
 * plus a trivial reader).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { duplexPair } from '../src/netconf/session/memory-transport.js';
import { createNetconfServer, registerStandardOperations } from '../src/netconf/server/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = mkdtempSync(join(tmpdir(), 'hsv-inproc-'));
const server = createNetconfServer({
  auth: { users: [{ username: 'bench', password: 'x' }] }, dataDir,
  operations: [(reg) => registerStandardOperations(reg, { ietfYangDir: join(root, 'yang', 'ietf'), eventLog: false })],
});
const [a, b] = duplexPair();
server.acceptStream(a, { username: 'bench' });
const END = Buffer.from('\n##\n');
let replies = 0;
let waiter: (() => void) | undefined;
let want = 0;
let helloSeen = false;
b.on('data', (d: Buffer) => {
  if (!helloSeen) { helloSeen = true; return; }
  for (let i = d.indexOf(END); i >= 0; i = d.indexOf(END, i + 1)) replies++;
  if (replies >= want && waiter) { const w = waiter; waiter = undefined; w(); }
});
b.write('<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>]]>]]>');
await new Promise((r) => setTimeout(r, 50));
const frame = (id: number): Buffer => {
  const body = Buffer.from(`<rpc message-id="${id}" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get-config><source><running/></source></get-config></rpc>`);
  return Buffer.concat([Buffer.from(`\n#${body.length}\n`), body, END]);
};
let id = 1;
async function run(batch: number, ms: number): Promise<number> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let n = 0;
  while (performance.now() - t0 < ms) {
    const frames: Buffer[] = [];
    for (let i = 0; i < batch; i++) frames.push(frame(id++));
    want = replies + batch;
    const done = new Promise<void>((r) => { waiter = r; });
    b.write(Buffer.concat(frames));
    await done;
    n += batch;
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}
for (const batch of [1, 32]) {
  await run(batch, 500);
  const r: number[] = [];
  for (let i = 0; i < 3; i++) r.push(await run(batch, 1000));
  console.log(`batch ${batch}: ${Math.min(...r).toFixed(2)} us per rpc (process CPU, best of 3)`);
}
b.destroy();
await server.close();
rmSync(dataDir, { recursive: true, force: true });
