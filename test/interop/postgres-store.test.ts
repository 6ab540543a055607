/**
 * Interop: the PostgreSQL store (src/store/postgres.ts) against a real PostgreSQL server, a throwaway cluster
 * that scripts/postgres-peer-start.sh makes on a loopback port for this file (stopped and removed in afterAll).
 * It runs the shared Store contract (test/store/contract.ts, also run against SQLite), then what only a shared
 * server has: several Store instances (OAM instances) on one database racing for the same rows, migrations
 * from instances starting at once, and open failures that must not leak the password.
 * A missing PostgreSQL fails this suite with the script's message (never a skip).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { PG_MIGRATIONS, PG_SCHEMA_VERSION, StoreError, openPostgresStore, openStore } from '../../src/store/index.js';
import type { PostgresStoreOptions, Store } from '../../src/store/index.js';
import { PG_SCHEMA_VERSION_TABLE } from '../../src/store/pg-migrations.js';
import { storeContract } from '../store/contract.js';
import { groupCommitContract } from '../store/group-commit-contract.js';
import { auditContract } from '../store/audit-contract.js';
import { refusedPort } from '../helpers/net.js';
import { endPostgresFile, startPostgresPeer } from '../helpers/peers.js';
import type { PostgresPeer } from '../helpers/peers.js';
import { until } from '../helpers/until.js';

const PEERS_DIR = '/tmp/hsv-interop-postgres-store';
const code = (c: string): unknown => expect.objectContaining({ code: c });

let cluster: PostgresPeer | undefined;
let baseUrl = '';
let admin: pg.Client | undefined;
let dbCount = 0;

/** the URL of database `db` for the test role */
function urlOf(db: string, over: { password?: string; port?: number } = {}): string {
  const u = new URL(baseUrl);
  u.pathname = `/${db}`;
  if (over.password !== undefined) u.password = over.password;
  if (over.port !== undefined) u.port = String(over.port);
  return u.href;
}

/** a new, empty database for the test role */
async function createDb(): Promise<string> {
  const name = `hsv_t${process.pid}_${++dbCount}`;
  await admin!.query(`CREATE DATABASE ${name}`);
  return name;
}

async function dropDb(name: string): Promise<void> {
  await admin!.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** runs SQL on database `db` over its own connection (as an operator or another program would) */
async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(db: string, text: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: urlOf(db) });
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  cluster = await startPostgresPeer(PEERS_DIR);
  baseUrl = cluster.url;
  expect(baseUrl).toMatch(/^postgres:\/\/hsv:[^@]+@127\.0\.0\.1:\d+\/hsv$/);
  admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
});

afterAll(() => endPostgresFile([() => admin?.end()], cluster));

let contractDb = '';
storeContract('PostgreSQL', {
  kind: 'postgres',
  fresh: async () => { contractDb = await createDb(); },
  open: () => openStore({ driver: 'postgres', url: urlOf(contractDb), poolSize: 4 }),
  cleanup: () => dropDb(contractDb),
  refuseNotificationXml: async (xml) => {
    await sql(contractDb, `CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.xml = '${xml}' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER test_refuse BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION test_refuse()`);
  },
});

// the whole contract again with group commit on: every promise of Store.transaction holds for grouped transactions
storeContract('PostgreSQL, group commit', {
  kind: 'postgres',
  fresh: async () => { contractDb = await createDb(); },
  open: () => openStore({ driver: 'postgres', url: urlOf(contractDb), poolSize: 4, groupCommit: true }),
  cleanup: () => dropDb(contractDb),
  refuseNotificationXml: async (xml) => {
    await sql(contractDb, `CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.xml = '${xml}' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER test_refuse BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION test_refuse()`);
  },
});

groupCommitContract('PostgreSQL', {
  fresh: async () => { contractDb = await createDb(); },
  open: (options) => openStore({ driver: 'postgres', url: urlOf(contractDb), poolSize: 4, ...options }),
  cleanup: () => dropDb(contractDb),
  // a deferred constraint trigger: the INSERT passes, the COMMIT fails
  failCommitOf: async (henbId) => {
    await sql(contractDb, `CREATE FUNCTION test_fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'commit refused by the test'; END $$;
      CREATE CONSTRAINT TRIGGER test_fail_commit AFTER INSERT ON henbs DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (NEW.henb_id = '${henbId}') EXECUTE FUNCTION test_fail_commit()`);
  },
});

let auditDb = '';
auditContract('PostgreSQL', {
  kind: 'postgres',
  fresh: async () => { auditDb = await createDb(); },
  open: () => openStore({ driver: 'postgres', url: urlOf(auditDb), poolSize: 4 }),
  exec: async (text) => { await sql(auditDb, text); },
  cleanup: () => dropDb(auditDb),
});

describe('PostgreSQL store: several instances on one database', () => {
  let db = '';
  const opened: Store[] = [];
  async function open(over: Partial<PostgresStoreOptions> = {}): Promise<Store> {
    const s = await openPostgresStore({ url: urlOf(db), poolSize: 4, ...over });
    opened.push(s);
    return s;
  }
  beforeEach(async () => { db = await createDb(); });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await dropDb(db);
  });

  it('concurrent saveJobTransition on the same job: exactly one instance wins each move', async () => {
    const [a, b] = [await open(), await open()];
    const jobs = Array.from({ length: 10 }, (_, i) => `job-${i}`);
    for (const jobId of jobs) await a.createJob({ jobId, henbId: `henb-${jobId}`, kind: 'software-update', state: 'created', data: {} });
    for (const version of [1, 2]) {
      const rounds = await Promise.all(jobs.map((jobId) => Promise.allSettled([
        a.saveJobTransition(jobId, `a${version}`, { expectPrevVersion: version, updateSent: true }),
        b.saveJobTransition(jobId, `b${version}`, { expectPrevVersion: version, updateSent: true }),
        a.saveJobTransition(jobId, `c${version}`, { expectPrevVersion: version }),
        b.transaction((tx) => tx.saveJobTransition(jobId, `d${version}`, { expectPrevVersion: version })),
      ])));
      for (const attempts of rounds) {
        expect(attempts.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
        for (const x of attempts) if (x.status === 'rejected') expect(x.reason).toMatchObject({ code: 'ERR_STORE_CONFLICT' });
      }
    }
    for (const jobId of jobs) {
      const job = await b.getJob(jobId);
      expect(job?.version).toBe(3);
      const events = await a.listJobEvents(jobId);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(events[2]?.fromState).toBe(events[1]?.toState);
      expect(events[2]?.toState).toBe(job?.state);
    }
  });

  it('a job\'s move is one statement: the job is not read before it, its record gets the state and flag from the move', async () => {
    const a = await open();
    await a.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'created', data: {} });
    const sent: string[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text ?? '';
      sent.push(text.replace(/SELECT pg_advisory_xact_lock\(\d+\)/, 'lock').replace(/\s+/g, ' ').trim().split(' ').slice(0, 4).join(' '));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    try {
      await a.saveJobTransition('job-1', 'fetching', { expectPrevVersion: 1, updateSent: true });
      await a.saveJobTransition('job-1', 'sending', { expectPrevVersion: 2, data: { n: 1 }, updateSent: true });
      // refused: the move matches nothing, then a read says why
      await expect(a.saveJobTransition('job-1', 'x', { expectPrevVersion: 2 })).rejects.toMatchObject({ code: 'ERR_STORE_CONFLICT', message: 'job job-1 is at version 3, not 2' });
      await expect(a.saveJobTransition('job-2', 'x', { expectPrevVersion: 1 })).rejects.toMatchObject({ code: 'ERR_STORE_NOT_FOUND', message: 'job job-2 does not exist' });
    } finally {
      pg.Client.prototype.query = query;
    }
    // the first words of each round trip
    const [move, head, append, why] = ['WITH old AS (', 'SELECT seq, hash FROM', 'INSERT INTO audit_log (seq,', 'SELECT version, terminal FROM'];
    expect(sent).toEqual([
      'BEGIN; lock', move, head, append, 'COMMIT',
      'BEGIN; lock', move, head, append, 'COMMIT',
      'BEGIN; lock', move, why, 'ROLLBACK',
      'BEGIN; lock', move, why, 'ROLLBACK',
    ]);
    expect((await a.listAudit()).slice(1).map((r) => JSON.parse(r.details) as unknown)).toEqual([
      { henbId: 'henb-1', kind: 'software-update', from: 'created', to: 'fetching', version: 2, updateSent: true },
      { henbId: 'henb-1', kind: 'software-update', from: 'fetching', to: 'sending', version: 3 },
    ]);
  });

  it('a job\'s record names the state its move replaced, also when a writer outside the store\'s lock changed the row after the move\'s statement began', async () => {
    // a writer that takes neither the transaction lock nor a new version (no store does that): its uncommitted UPDATE
    // holds the row; the move waits for it, then moves the row as that writer left it, and its record says so
    const name = `hsv-fold-${process.pid}`;
    const a = await open({ applicationName: name });
    await a.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'created', data: {} });
    const outside = new pg.Client({ connectionString: urlOf(db) });
    await outside.connect();
    let moved: Promise<unknown> | undefined;
    try {
      await outside.query("BEGIN; UPDATE jobs SET state = 'elsewhere', update_sent = true WHERE job_id = 'job-1'");
      moved = a.saveJobTransition('job-1', 'fetching', { expectPrevVersion: 1, updateSent: true });
      moved.catch(() => undefined);
      await until(async () => (await sql<{ n: number }>(db, `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE application_name = $1 AND wait_event_type = 'Lock' AND wait_event = 'transactionid'`, [name]))[0]!.n === 1, 'the move to wait for the row', 10_000);
      await outside.query('COMMIT');
      expect(await moved).toMatchObject({ state: 'fetching', version: 2, updateSent: true });
    } finally {
      await outside.end();
    }
    const rec = (await a.listAudit()).at(-1)!;
    // updateSent is not in it: the row it replaced had the flag already
    expect(JSON.parse(rec.details)).toEqual({ henbId: 'henb-1', kind: 'software-update', from: 'elsewhere', to: 'fetching', version: 2 });
  });

  it('consumeNonce from both instances: exactly one succeeds per nonce', async () => {
    const [a, b] = [await open(), await open()];
    const nonces = Array.from({ length: 20 }, (_, i) => `n-${i}`);
    for (const nonce of nonces) await a.putNonce({ nonce, purpose: 'integrity-request', expiresAt: Date.now() + 60_000 });
    const got = await Promise.all(nonces.map((n) => Promise.all([a.consumeNonce(n), b.consumeNonce(n), b.consumeNonce(n)])));
    for (const tries of got) {
      expect(tries.filter((t) => t.ok)).toHaveLength(1);
      expect(tries.filter((t) => !t.ok)).toEqual([{ ok: false, reason: 'consumed' }, { ok: false, reason: 'consumed' }]);
    }
  });

  it('rememberJti from both instances: exactly one sees the jti as new, also when renewing an expired one', async () => {
    const [a, b] = [await open(), await open()];
    const jtis = Array.from({ length: 20 }, (_, i) => `jti-${i}`);
    const first = await Promise.all(jtis.map((j) => Promise.all([a.rememberJti(j, 2000, 1000), b.rememberJti(j, 2000, 1000)])));
    for (const pair of first) expect(pair.filter(Boolean)).toHaveLength(1);
    // expired at 2500: one of the two renews it
    const renewed = await Promise.all(jtis.map((j) => Promise.all([a.rememberJti(j, 9000, 2500), b.rememberJti(j, 9000, 2500)])));
    for (const pair of renewed) expect(pair.filter(Boolean)).toHaveLength(1);
  });

  it('transactions of two instances are serialised: no lost update in a read-modify-write', async () => {
    const [a, b] = [await open(), await open()];
    await a.putReferenceLog('counter', 0);
    const add = (s: Store, i: number): Promise<void> => s.transaction(async (tx) => {
      const cur = (await tx.getReferenceLog<number>('counter'))?.log ?? 0;
      await new Promise((r) => setTimeout(r, 1));
      await tx.putReferenceLog('counter', cur + i);
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => add(i % 2 === 0 ? a : b, i + 1)));
    expect((await b.getReferenceLog<number>('counter'))?.log).toBe(55);
  });

  it('a transaction is one connection: its writes are invisible to another instance until COMMIT', async () => {
    const [a, b] = [await open(), await open()];
    const seen: unknown[] = [];
    await a.transaction(async (tx) => {
      await tx.putHenb({ henbId: 'henb-1', rim: null, softwareVersion: null, state: 'unknown', lastResultToken: null });
      seen.push(await tx.getHenb('henb-1'), await b.getHenb('henb-1'));
    });
    expect(seen[0]).toMatchObject({ henbId: 'henb-1' });
    expect(seen[1]).toBeUndefined();
    expect(await b.getHenb('henb-1')).toMatchObject({ henbId: 'henb-1' });
  });

  it('a database error swallowed inside fn still fails the transaction, and nothing is committed', async () => {
    const a = await open();
    await expect(a.transaction(async (tx) => {
      await tx.putHenb({ henbId: 'henb-1', rim: null, softwareVersion: null, state: 'unknown', lastResultToken: null });
      // a NUL in a string passes the store's validation, but PostgreSQL's text cannot hold it (22021): the server
      // refuses the statement and aborts the transaction
      await expect(tx.putResult({ jobId: 'j', kind: 'k', henbId: 'h', earStatus: 'e', token: 't\u0000' })).rejects.toThrow(code('ERR_STORE_INVALID'));
    })).rejects.toThrow(code('ERR_STORE_INVALID'));
    expect(await a.getHenb('henb-1')).toBeUndefined();
    // a nested transaction rolls back to its savepoint and leaves the outer one usable
    await a.transaction(async (tx) => {
      await expect(tx.transaction(async (inner) => {
        await inner.putResult({ jobId: 'j', kind: 'k', henbId: 'h', earStatus: 'e', token: 't\u0000' });
      })).rejects.toThrow(code('ERR_STORE_INVALID'));
      await tx.putHenb({ henbId: 'henb-2', rim: null, softwareVersion: null, state: 'unknown', lastResultToken: null });
    });
    expect(await a.getHenb('henb-2')).toBeDefined();
  });

  it('reads epoch-ms BIGINTs back as numbers, exactly', async () => {
    const a = await open();
    const max = Number.MAX_SAFE_INTEGER;
    const n = await a.putNonce({ nonce: 'n', purpose: 'p', expiresAt: max, createdAt: 1_795_000_000_123 });
    expect(await a.consumeNonce('n', 1_795_000_000_456)).toEqual({ ok: true, record: { ...n, consumedAt: 1_795_000_000_456 } });
    const job = await a.createJob({ jobId: 'j', henbId: 'h', kind: 'k', state: 's', data: {}, deadline: max - 1 });
    const got = await a.getJob('j');
    expect(got?.deadline).toBe(max - 1);
    expect(typeof got?.createdAt).toBe('number');
    expect(got).toEqual(job);
    expect(await a.purgeExpired(max)).toBe(1);
    const [row] = await sql<{ t: string }>(db, 'SELECT pg_typeof(created_at)::text AS t FROM jobs');
    expect(row?.t).toBe('bigint');
  });

  it('the database refuses a bad RIM itself (regex CHECK), whoever writes', async () => {
    await open();
    const insert = (rim: string): Promise<unknown> => sql(db, "INSERT INTO henbs (henb_id, rim, state, updated_at) VALUES ('h', $1, 'trusted', 1)", [rim]);
    await expect(insert('A'.repeat(64))).rejects.toMatchObject({ code: '23514' });
    await expect(insert('a'.repeat(63))).rejects.toMatchObject({ code: '23514' });
    await expect(insert(`${'a'.repeat(64)}\n`)).rejects.toMatchObject({ code: '23514' });
    await expect(insert('0123456789abcdef'.repeat(4))).resolves.toBeDefined();
  });

  it('instances racing createJob for one H(e)NB: exactly one wins, the losers leave nothing behind', async () => {
    const stores = [await open(), await open(), await open()];
    for (let round = 0; round < 5; round++) {
      const henbId = `henb-${round}`;
      const job = (id: string): { jobId: string; henbId: string; kind: string; state: string; data: object } =>
        ({ jobId: id, henbId, kind: 'software-update', state: 'created', data: {} });
      const attempts = await Promise.allSettled(stores.flatMap((s, i) => [
        s.createJob(job(`j${round}-${i}-plain`)),
        // as the runner does: the job's nonce and the job in one transaction
        s.transaction(async (tx) => {
          await tx.putNonce({ nonce: `n${round}-${i}`, purpose: 'pve-integrity', henbId, expiresAt: Date.now() + 60_000 });
          return tx.createJob(job(`j${round}-${i}-tx`));
        }),
      ]));
      const won = attempts.filter((a) => a.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const a of attempts) if (a.status === 'rejected') expect(a.reason).toMatchObject({ code: 'ERR_STORE_HENB_BUSY' });
      const winner = (won[0] as PromiseFulfilledResult<{ jobId: string }>).value.jobId;
      expect(await sql(db, 'SELECT job_id FROM jobs WHERE henb_id = $1', [henbId])).toEqual([{ job_id: winner }]);
      expect(await sql(db, 'SELECT count(*)::int AS n FROM job_events WHERE job_id LIKE $1', [`j${round}-%`])).toEqual([{ n: 1 }]);
      const nonces = (await sql<{ nonce: string }>(db, 'SELECT nonce FROM nonces WHERE henb_id = $1', [henbId])).map((r) => r.nonce);
      expect(nonces).toEqual(winner.endsWith('-tx') ? [`n${winner.slice(1, -3)}`] : []);
    }
    // the database itself refuses a second active job, whoever writes
    await expect(sql(db, `INSERT INTO jobs (job_id, henb_id, kind, state, data, version, created_at, updated_at)
                          VALUES ('x', 'henb-0', 'software-update', 's', '{}', 1, 1, 1)`)).rejects.toMatchObject({ code: '23505' });
  });

  // found by bench/fleet.ts with two instances (5 December 2026): a lease renewal (one UPDATE of all the instance's
  // jobs, row after row) ran beside a transaction that updated two of them in the other order; PostgreSQL ended one
  // with 'deadlock detected' (ERR_STORE_CONFLICT), and the runner took a failed transition for a lost lease and
  // stopped driving jobs that no other instance had taken. The lease writes now hold the transaction lock too.
  it('a lease renewal beside a transaction moving the same jobs in the other order: both succeed, no deadlock', async () => {
    const [a, b] = [await open({ groupCommit: true }), await open({ groupCommit: true })];
    const T = 1_800_000_000_000;
    // y first: the renewal's scan meets y before x
    for (const jobId of ['y', 'x']) {
      await a.createJob({ jobId, henbId: `h-${jobId}`, kind: 'software-update', state: 's', data: {}, owner: 'A', leaseUntil: T + 60_000 });
    }
    const waiting = async (): Promise<number> => (await sql<{ n: number }>(db,
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))[0]!.n;
    let renewal: Promise<number> | undefined;
    const moved = a.transaction(async (tx) => {
      await tx.saveJobTransition('x', 's2', { expectPrevVersion: 1 });
      // the other instance renews A's leases meanwhile (here: b renews them; in an instance, its own renewal
      // statement started before its next group): it waits, for the lock or for row x
      renewal = b.renewLeases('A', 60_000, T);
      await until(async () => (await waiting()) >= 1, 'the renewal waiting', 10_000);
      await tx.saveJobTransition('y', 's2', { expectPrevVersion: 1 });
    });
    const [t, r] = await Promise.allSettled([moved, (async () => { await until(() => renewal !== undefined, 'renewal started', 10_000); return renewal!; })()]);
    expect(t).toMatchObject({ status: 'fulfilled' });
    expect(r).toEqual({ status: 'fulfilled', value: 1 });
    expect((await a.listActiveJobs()).map((j) => [j.jobId, j.state, j.version, j.owner])).toEqual([['y', 's2', 2, 'A'], ['x', 's2', 2, 'A']]);
  });

  it('instances claiming the jobs of an instance whose lease expired: each job goes to exactly one, once', async () => {
    const stores = [await open(), await open(), await open(), await open()];
    const T = 1_800_000_000_000;
    for (let i = 0; i < 40; i++) {
      await stores[0]!.createJob({ jobId: `j${i}`, henbId: `h${i}`, kind: 'software-update', state: 's', data: {}, owner: 'gone', leaseUntil: T - 1 });
    }
    const claims = await Promise.all(stores.map((s, k) => s.claimJobs(`i${k}`, 60_000, T)));
    const ids = claims.flatMap((c) => c.map((j) => j.jobId));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(40);
    const rows = await sql<{ owner: string; version: number; n: number }>(db,
      'SELECT owner, version, count(*)::int AS n FROM jobs GROUP BY owner, version ORDER BY owner');
    expect(rows.every((r) => r.version === 2)).toBe(true);
    expect(rows.map((r) => [r.owner, r.n])).toEqual(claims.map((c, k) => [`i${k}`, c.length]).filter(([, n]) => n !== 0));
    // a second round takes nothing from the live leases
    const again = await Promise.all(stores.map((s, k) => s.claimJobs(`x${k}`, 60_000, T + 1)));
    expect(again.flat()).toEqual([]);
  });

  it('two instances taking the same job at once: it ends with exactly one of them, the other\'s next transition fails ERR_STORE_CONFLICT', async () => {
    const [a, b] = [await open(), await open()];
    const T = 1_800_000_000_000;
    const jobs = Array.from({ length: 20 }, (_, i) => `j${i}`);
    // driven by a live instance (its lease holds): takeJob takes it anyway, twice at once
    for (const jobId of jobs) {
      await a.createJob({ jobId, henbId: `h-${jobId}`, kind: 'software-update', state: 'awaiting-completion', data: {}, owner: 'owner', leaseUntil: T + 60_000 });
    }
    const takes = await Promise.all(jobs.map((jobId) => Promise.all([a.takeJob(jobId, 'A', 60_000, T), b.takeJob(jobId, 'B', 60_000, T)])));
    for (const [k, [ta, tb]] of takes.entries()) {
      // both applied, one after the other: versions 2 and 3; the later one holds the job
      expect([ta?.version, tb?.version].sort()).toEqual([2, 3]);
      const [winner, loser] = ta!.version === 3 ? [ta!, tb!] : [tb!, ta!];
      const row = await sql<{ owner: string; version: number }>(db, 'SELECT owner, version FROM jobs WHERE job_id = $1', [jobs[k]]);
      expect(row).toEqual([{ owner: winner.owner, version: 3 }]);
      // the loser's transition (made by its own instance) fails and writes nothing; the winner's goes through
      const loserStore = loser.owner === 'A' ? a : b;
      const winnerStore = winner.owner === 'A' ? a : b;
      await expect(loserStore.saveJobTransition(loser.jobId, 'verified', { expectPrevVersion: loser.version, terminal: true }))
        .rejects.toMatchObject({ code: 'ERR_STORE_CONFLICT' });
      expect(await winnerStore.saveJobTransition(winner.jobId, 'verified', { expectPrevVersion: winner.version, terminal: true }))
        .toMatchObject({ owner: winner.owner, version: 4, terminal: true });
    }
    expect(await sql(db, 'SELECT count(*)::int AS n FROM job_events')).toEqual([{ n: 2 * jobs.length }]); // creation + one move each

    // with the version each instance checked: exactly one takes the job, the other gets nothing
    for (const jobId of jobs) {
      await a.createJob({ jobId: `v-${jobId}`, henbId: `hv-${jobId}`, kind: 'software-update', state: 'awaiting-completion', data: {}, owner: 'owner', leaseUntil: T + 60_000 });
    }
    const checked = await Promise.all(jobs.map((jobId) => Promise.all([a.takeJob(`v-${jobId}`, 'A', 60_000, T, 1), b.takeJob(`v-${jobId}`, 'B', 60_000, T, 1)])));
    for (const [k, pair] of checked.entries()) {
      const won = pair.filter((t) => t !== undefined);
      expect(won).toHaveLength(1);
      expect(await sql(db, 'SELECT owner, version FROM jobs WHERE job_id = $1', [`v-${jobs[k]}`])).toEqual([{ owner: won[0]!.owner, version: 2 }]);
    }
  });

  it('a database at schema version 1 migrates to the one-active-job index and keeps its jobs', async () => {
    await sql(db, PG_SCHEMA_VERSION_TABLE);
    await sql(db, PG_MIGRATIONS[0]!.sql);
    await sql(db, "INSERT INTO schema_version (version, description, applied_at) VALUES (1, 'v1', 0)");
    await sql(db, `INSERT INTO jobs (job_id, henb_id, kind, state, data, version, terminal, created_at, updated_at)
                   VALUES ('j1', 'h1', 'software-update', 's', '{}', 1, true, 1, 1), ('j2', 'h1', 'software-update', 's', '{}', 1, false, 2, 2)`);
    const a = await open();
    expect((await sql(db, 'SELECT version FROM schema_version ORDER BY version')).map((r) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version));
    expect((await a.listActiveJobs()).map((j) => j.jobId)).toEqual(['j2']);
    await expect(a.createJob({ jobId: 'j3', henbId: 'h1', kind: 'software-update', state: 's', data: {} })).rejects.toThrow(code('ERR_STORE_HENB_BUSY'));
  });

  it('instances opening an empty database at once migrate it once', async () => {
    const stores = await Promise.all([open(), open(), open(), open()]);
    expect(await sql(db, 'SELECT version, description FROM schema_version ORDER BY version'))
      .toEqual(PG_MIGRATIONS.map((m) => ({ version: m.version, description: m.description })));
    expect(PG_MIGRATIONS.at(-1)?.version).toBe(PG_SCHEMA_VERSION);
    await stores[0]!.putHenb({ henbId: 'h', rim: null, softwareVersion: null, state: 'trusted', lastResultToken: null });
    for (const s of stores) expect(await s.getHenb('h')).toMatchObject({ henbId: 'h' });
    await open(); // and a later start finds nothing to do
    expect(await sql(db, 'SELECT count(*)::int AS n FROM schema_version')).toEqual([{ n: PG_MIGRATIONS.length }]);
  });

  it('refuses a database with a newer schema (ERR_STORE_OPEN) and leaves it as it was', async () => {
    const a = await open();
    await a.putHenb({ henbId: 'h', rim: null, softwareVersion: null, state: 'trusted', lastResultToken: null });
    await sql(db, "INSERT INTO schema_version (version, description, applied_at) VALUES ($1, 'from the future', 0)", [PG_SCHEMA_VERSION + 1]);
    const err = await open().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'ERR_STORE_OPEN', message: expect.stringContaining(`schema version ${PG_SCHEMA_VERSION + 1} is newer`) });
    expect((await sql(db, 'SELECT version FROM schema_version ORDER BY version')).map((r) => r.version))
      .toEqual([...PG_MIGRATIONS.map((m) => m.version), PG_SCHEMA_VERSION + 1]);
    expect(await a.getHenb('h')).toBeDefined();
  });

  it('open failures are ERR_STORE_OPEN naming user, host and database, never the password', async () => {
    const right = decodeURIComponent(new URL(baseUrl).password);
    const port = new URL(baseUrl).port;
    // a port where no server listens and none can start to (a port found free could be taken before the store dials it)
    const down = await refusedPort();
    const downPort = down.port;
    const failures: Array<[string, () => Promise<unknown>]> = [
      ['wrong password in the URL', () => openPostgresStore({ url: urlOf(db, { password: 'Wr0ng-pw-%40-9' }) })],
      ['wrong password option', () => openPostgresStore({ url: urlOf(db), password: 'Other-wr0ng-pw' })],
      ['no such database', () => openPostgresStore({ url: urlOf('no_such_db') })],
      ['server down', () => openPostgresStore({ url: urlOf(db, { port: downPort }) })],
      ['not a postgres URL', () => openPostgresStore({ url: `hsv:${right}@127.0.0.1` })],
      ['another scheme', () => openPostgresStore({ url: `mysql://hsv:${right}@127.0.0.1:${port}/x` })],
      ['not a URL at all', () => openPostgresStore({ url: `//hsv:${right}@` })],
      ['no url', () => openStore({ driver: 'postgres' })],
    ];
    const errors: unknown[] = [];
    try {
      for (const [what, attempt] of failures) {
        const err = await attempt().then(() => undefined, (e: unknown) => e);
        errors.push(err);
        expect(err, what).toBeInstanceOf(StoreError);
        expect(err, what).toMatchObject({ code: 'ERR_STORE_OPEN' });
        const text = `${(err as Error).message} ${String((err as Error).cause ?? '')} ${JSON.stringify(err)}`;
        for (const secret of [right, 'Wr0ng-pw-@-9', 'Wr0ng-pw-%40-9', 'Other-wr0ng-pw']) expect(text, what).not.toContain(secret);
      }
    } finally {
      await down.release();
    }
    const wrong = errors[0] as Error;
    expect(wrong.message).toContain(`hsv@127.0.0.1:${port}/${db}`);
    expect(wrong.message).toMatch(/password authentication failed/);
  });

  it('a connection lost inside a transaction fails that transaction, not the process; the store goes on', async () => {
    const name = `hsv-lost-${process.pid}`;
    const a = await open({ applicationName: name });
    const backends = async (): Promise<number[]> =>
      (await sql<{ pid: number }>(db, "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle in transaction%'", [name])).map((r) => r.pid);
    await expect(a.transaction(async (tx) => {
      await tx.putHenb({ henbId: 'henb-1', rim: null, softwareVersion: null, state: 'unknown', lastResultToken: null });
      const [pid] = await backends();
      expect(pid).toBeGreaterThan(0);
      await sql(db, 'SELECT pg_terminate_backend($1)', [pid]);
      await until(async () => (await backends()).length === 0, 'the terminated backend to go', 10_000);
      await tx.getHenb('henb-1');
    })).rejects.toThrow(/terminat|connection/i);
    expect(await a.getHenb('henb-1')).toBeUndefined();
    await a.transaction((tx) => tx.putHenb({ henbId: 'henb-2', rim: null, softwareVersion: null, state: 'unknown', lastResultToken: null }));
    expect(await a.getHenb('henb-2')).toBeDefined();
  });

  it('close() ends the pool: no connection of the store is left on the server', async () => {
    const name = `hsv-close-${process.pid}`;
    const a = await open({ applicationName: name });
    await Promise.all([a.getHenb('x'), a.getHenb('y'), a.transaction((tx) => tx.getHenb('z'))]);
    const count = async (): Promise<number> =>
      (await sql<{ n: number }>(db, 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name]))[0]!.n;
    expect(await count()).toBeGreaterThan(0);
    await a.close();
    await until(async () => (await count()) === 0, 'the closed store to leave pg_stat_activity', 10_000);
    await expect(a.getHenb('x')).rejects.toThrow(code('ERR_STORE_CLOSED'));
  });

  it('an audited operation takes a savepoint only when it is not the first statement of its transaction or savepoint and its record is not checked before its write; its RELEASE rides with the next one', async () => {
    const a = await open();
    const g = await open({ groupCommit: true });
    const henb = (henbId: string, state: 'trusted' | 'updating'): Parameters<Store['putHenb']>[0] =>
      ({ henbId, rim: null, softwareVersion: null, state, lastResultToken: null });
    await a.putHenb(henb('henb-1', 'trusted'));
    let v = (await a.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'created', data: {} })).version;
    // the statements that are no operation's own (the transaction's, the savepoints'), as the server gets them
    const sent: string[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : '';
      if (/^(BEGIN|COMMIT|ROLLBACK|RELEASE|SAVEPOINT)/.test(text)) sent.push(text.replace(/SELECT pg_advisory_xact_lock\(\d+\)/, 'lock'));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    try {
      v = (await a.saveJobTransition('job-1', 's1', { expectPrevVersion: v })).version; // a transaction of its own
      v = (await a.transaction(async (tx) => {
        const moved = await tx.saveJobTransition('job-1', 's2', { expectPrevVersion: v }); // its first statement
        // records known before the write (checked first): no savepoint
        await tx.putHenb(henb('henb-1', 'updating'));
        await tx.putReferenceLog('henb-1', [{ component: 'kernel', digest: 'c'.repeat(64) }]);
        // a record that holds what the write returns: a savepoint
        await tx.createJob({ jobId: 'job-2', henbId: 'henb-4', kind: 'software-update', state: 'created', data: {} });
        await tx.transaction((inner) => inner.putHenb(henb('henb-1', 'trusted')));
        return moved;
      })).version;
      // group commit: plain calls at once share a transaction, each in a savepoint of the group's, none of its own
      await Promise.all([g.putHenb(henb('henb-2', 'trusted')), g.putHenb(henb('henb-3', 'trusted'))]);
    } finally {
      pg.Client.prototype.query = query;
    }
    expect(sent).toEqual([
      'BEGIN; lock', 'COMMIT',
      'BEGIN; lock', 'SAVEPOINT hsv_op', 'RELEASE SAVEPOINT hsv_op; SAVEPOINT sp_1', 'RELEASE SAVEPOINT sp_1', 'COMMIT',
      'BEGIN; lock', 'SAVEPOINT sp_1', 'RELEASE SAVEPOINT sp_1', 'SAVEPOINT sp_1', 'RELEASE SAVEPOINT sp_1', 'COMMIT',
    ]);
    expect(await a.getJob('job-1')).toMatchObject({ state: 's2', version: v });
    expect((await a.listAudit()).map((r) => `${r.action} ${r.object}`).slice(-8)).toEqual([
      'job-transition job/job-1', 'job-transition job/job-1', 'henb-state-changed henb/henb-1', 'reference-log-changed henb/henb-1',
      'job-created job/job-2', 'henb-state-changed henb/henb-1', 'henb-added henb/henb-2', 'henb-added henb/henb-3',
    ]);
  });

  it('a record checked before its write is the one appended, not made again (issue 15): the reference log is serialised three times (checked, hashed, written), the H(e)NB record takes the write\'s time', async () => {
    const a = await open();
    const henb = (state: 'trusted' | 'updating'): Parameters<Store['putHenb']>[0] => ({ henbId: 'henb-1', rim: null, softwareVersion: null, state, lastResultToken: null });
    await a.putHenb(henb('trusted'));
    const entries = [{ component: 'kernel', digest: 'c'.repeat(64) }];
    let serialised = 0;
    const log = Object.assign([...entries], { toJSON: () => { serialised++; return entries; } });
    const written = await a.transaction(async (tx) => {
      await tx.getHenb('henb-1'); // the writes are not the transaction's first statement: their records are checked before them
      await tx.putReferenceLog('henb-1', log);
      return tx.putHenb(henb('updating'));
    });
    expect(serialised).toBe(3);
    const [logRecord, henbRecord] = (await a.listAudit()).slice(-2);
    expect(logRecord).toMatchObject({ action: 'reference-log-changed', object: 'henb/henb-1' });
    expect(JSON.parse(logRecord!.details as string)).toEqual({ entries: 1, sha256: createHash('sha256').update(JSON.stringify(entries)).digest('hex') });
    expect(henbRecord).toMatchObject({ action: 'henb-state-changed', object: 'henb/henb-1', at: written.updatedAt });
    expect(JSON.parse(henbRecord!.details as string)).toEqual({ state: ['trusted', 'updating'] });
  });
});
