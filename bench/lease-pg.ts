// issue 15: renewLeases / claimExpiredJobs with N active jobs of one instance on PostgreSQL (PG_URL, a throwaway
// cluster: scripts/postgres-peer-start.sh); prints wall ms, the WAL bytes each call wrote, and the claim's plan.
import pg from 'pg';
import { openPostgresStore } from '../src/store/postgres.js';
const url = process.env.PG_URL!;
const N = Number(process.argv[2] ?? 100000);
const st = await openPostgresStore({ url });
const c = new pg.Client({ connectionString: url }); await c.connect();
const data = { henbId: 'x', software: { uri: 'file:///x', version: '2.0.0', digest: 'a'.repeat(64) }, pad: 'p'.repeat(600) };
let t = performance.now();
for (let i = 0; i < N; i += 1000) {
  await st.transaction(async (tx) => { for (let j = i; j < i + 1000 && j < N; j++) await tx.createJob({ jobId: `job-${j}`, henbId: `henb-${j}`, kind: 'software-update', state: 'created', data, owner: 'local', leaseUntil: Date.now() - 1 }); });
}
console.log('insert', N, (performance.now() - t).toFixed(0), 'ms');
await c.query('ANALYZE jobs');
const lsn = async (): Promise<string> => (await c.query('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0].l;
const walSince = async (l: string): Promise<number> => Number((await c.query('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::bigint AS d', [l])).rows[0].d);
for (const [name, f] of [['renewLeases', () => st.renewLeases('local', 60000, Date.now())], ['claimExpiredJobs(own)', () => st.claimExpiredJobs('local', 60000, Date.now())],
  ['claimExpiredJobs(other)', () => st.claimExpiredJobs('other', 60000, Date.now())]] as const) {
  for (let k = 0; k < 3; k++) {
    const l = await lsn(); t = performance.now();
    const r = await (f as () => Promise<unknown>)();
    console.log(name, Array.isArray(r) ? `${r.length} taken` : `-> ${String(r)}`, 'wall', (performance.now() - t).toFixed(1), 'ms WAL', await walSince(l), 'bytes');
  }
}
await c.end(); await st.close();
