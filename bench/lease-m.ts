// issue 15: renewLeases / claimExpiredJobs with N active jobs of one instance on SQLite (`node --import tsx
// bench/lease-m.ts [N]`, default 100,000): wall and CPU ms per call, rows renewed. docs/performance.md, "Lease renewal".
import { openSqliteStore } from '../src/store/sqlite.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const dir = mkdtempSync(join(tmpdir(), 'lease-'));
const st = await openSqliteStore({ dataDir: dir });
const N = Number(process.argv[2] ?? 100000);
const data = { henbId: 'x', software: { uri: 'file:///x', version: '2.0.0', digest: 'a'.repeat(64) }, pad: 'p'.repeat(600) };
let t = performance.now();
const B = 1000;
for (let i = 0; i < N; i += B) {
  await st.transaction(async (tx) => { for (let j = i; j < i + B && j < N; j++) await tx.createJob({ jobId: `job-${j}`, henbId: `henb-${j}`, kind: 'software-update', state: 'created', data, owner: 'local', leaseUntil: Date.now() - 1 }); });
}
console.log('insert', N, (performance.now() - t).toFixed(0), 'ms');
for (let k = 0; k < 3; k++) {
  t = performance.now(); const c0 = process.cpuUsage();
  const n = await st.renewLeases('local', 60000, Date.now());
  const c = process.cpuUsage(c0);
  console.log('renewLeases rows', n, 'wall', (performance.now() - t).toFixed(0), 'ms cpu', ((c.user + c.system) / 1000).toFixed(0), 'ms');
}
for (let k = 0; k < 3; k++) {
  t = performance.now(); const c0 = process.cpuUsage();
  const r = await st.claimExpiredJobs('local', 60000, Date.now());
  const c = process.cpuUsage(c0);
  console.log('claimExpiredJobs', r.length, 'wall', (performance.now() - t).toFixed(0), 'ms cpu', ((c.user + c.system) / 1000).toFixed(0), 'ms');
}
for (let k = 0; k < 2; k++) {
  t = performance.now(); const c0 = process.cpuUsage();
  const r = await st.claimExpiredJobs('other', 60000, Date.now());
  const c = process.cpuUsage(c0);
  console.log('claimExpiredJobs(other instance, local alive)', r.length, 'wall', (performance.now() - t).toFixed(0), 'ms cpu', ((c.user + c.system) / 1000).toFixed(0), 'ms');
}
await st.close();
