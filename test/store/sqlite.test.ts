// The SQLite store: the shared Store contract (./contract.ts), then what only SQLite has (the file in dataDir,
// WAL, PRAGMA user_version). Its durability rule is in ./durability.test.ts.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION, SQLITE_FILE_NAME, openDatabase, openSqliteStore, openStore } from '../../src/store/index.js';
import type { SqliteStore } from '../../src/store/index.js';
import { storeContract } from './contract.js';
import { groupCommitContract } from './group-commit-contract.js';
import { openCountingSqliteStore } from '../helpers/counting-sqlite.js';
import type { StatementCounts } from '../helpers/counting-sqlite.js';

const code = (c: string): unknown => expect.objectContaining({ code: c });

let contractDir = '';
storeContract('SQLite', {
  kind: 'sqlite',
  fresh: async () => { contractDir = mkdtempSync(join(tmpdir(), 'hsv-store-')); },
  open: () => openSqliteStore({ dataDir: contractDir }),
  cleanup: async () => rmSync(contractDir, { recursive: true, force: true }),
  refuseNotificationXml: async (xml) => {
    const db = openDatabase(join(contractDir, SQLITE_FILE_NAME), { timeout: 5000 });
    try {
      db.exec(`CREATE TRIGGER test_refuse BEFORE INSERT ON notifications WHEN NEW.xml = '${xml}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
    } finally {
      db.close();
    }
  },
});

// the whole contract again with group commit on: every promise of Store.transaction holds for grouped transactions
let groupedDir = '';
storeContract('SQLite, group commit', {
  kind: 'sqlite',
  fresh: async () => { groupedDir = mkdtempSync(join(tmpdir(), 'hsv-store-')); },
  open: () => openSqliteStore({ dataDir: groupedDir, groupCommit: true }),
  cleanup: async () => rmSync(groupedDir, { recursive: true, force: true }),
  refuseNotificationXml: (xml) => sqlOn(groupedDir, `CREATE TRIGGER test_refuse BEFORE INSERT ON notifications WHEN NEW.xml = '${xml}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`),
});

groupCommitContract('SQLite', {
  fresh: async () => { groupedDir = mkdtempSync(join(tmpdir(), 'hsv-store-')); },
  open: (options) => openSqliteStore({ dataDir: groupedDir, ...options }),
  cleanup: async () => rmSync(groupedDir, { recursive: true, force: true }),
  // a deferred foreign key: the INSERT passes, the COMMIT fails (SQLITE_CONSTRAINT_FOREIGNKEY)
  failCommitOf: (henbId) => sqlOn(groupedDir, `CREATE TABLE test_parent (id INTEGER PRIMARY KEY);
    CREATE TABLE test_child (pid INTEGER REFERENCES test_parent (id) DEFERRABLE INITIALLY DEFERRED);
    CREATE TRIGGER test_fail_commit AFTER INSERT ON henbs WHEN NEW.henb_id = '${henbId}' BEGIN INSERT INTO test_child (pid) VALUES (1); END`),
});

/** runs `sql` on the store database in `dir` through a connection of its own */
async function sqlOn(dir: string, sql: string): Promise<void> {
  const db = openDatabase(join(dir, SQLITE_FILE_NAME), { timeout: 5000 });
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

describe('SQLite only: group commit and the sync barrier', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsv-store-'));
    store = await openSqliteStore({ dataDir: dir, groupCommit: true });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a group of durable transactions needs one sync barrier, and each resolves after it', async () => {
    const before = store.barriers;
    let syncingAtResolve: boolean[] = [];
    await Promise.all([1, 2, 3, 4].map((i) => store.transaction((tx) => tx.putHenb({
      henbId: `henb-${i}`, rim: 'a'.repeat(64), softwareVersion: '1.0', state: 'updating', lastResultToken: null,
    })).then(() => { syncingAtResolve = [...syncingAtResolve, store.syncing]; })));
    expect(store.barriers).toBe(before + 1);
    expect(syncingAtResolve).toEqual([false, false, false, false]);
    expect(store.commitStats).toMatchObject({ commits: 1, transactions: 4 });
  });
});

describe('SQLite only: where the savepoint journal is kept (issue 15)', () => {
  let dir: string;
  let store: SqliteStore;
  /** temp_store at each BEGIN the store runs (SQLite reads it there): 2 MEMORY, 1 FILE */
  let begins: unknown[];
  const MEMORY = 2;
  const FILE = 1;
  const henb = (id: string): Parameters<SqliteStore['putHenb']>[0] => ({ henbId: id, rim: 'a'.repeat(64), softwareVersion: '1.0', state: 'trusted', lastResultToken: null });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsv-store-'));
    store = await openSqliteStore({ dataDir: dir, groupCommit: true });
    begins = [];
    const db = store.database;
    const exec = db.exec.bind(db);
    db.exec = (sql: string) => {
      if (sql.startsWith('BEGIN')) begins.push(db.pragma('temp_store', { simple: true }));
      return exec(sql);
    };
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a group of transactions, and a plain write that joins one, keep it in memory', async () => {
    await Promise.all([
      store.transaction((tx) => tx.putHenb(henb('h1'))),
      store.transaction((tx) => tx.putHenb(henb('h2'))),
      store.putHenb(henb('h3')),
    ]);
    expect(begins).toEqual([MEMORY]);
    expect(store.commitStats).toMatchObject({ commits: 1, transactions: 3 });
  });

  it('each bulk operation keeps it in a file, in a transaction of its own: in a group it would be held in memory', async () => {
    await store.createJob({ jobId: 'j1', henbId: 'h1', kind: 'software-update', state: 'created', data: {}, owner: 'oam-a', leaseUntil: Date.now() + 60_000 });
    const bulk: Array<[string, () => Promise<unknown>]> = [
      ['claimJobs', () => store.claimJobs('oam-a', 60_000)],
      ['claimExpiredJobs', () => store.claimExpiredJobs('oam-b', 60_000)],
      ['pruneJobs', () => store.pruneJobs(0)],
      ['pruneNotifications', () => store.pruneNotifications(10, 0)],
      ['purgeExpired', () => store.purgeExpired(0)],
      ['releaseJobs', () => store.releaseJobs('oam-a')],
    ];
    for (const [name, op] of bulk) {
      begins = [];
      // a transaction called in the same turn, then a write that would join its group
      await Promise.all([store.transaction((tx) => tx.putHenb(henb(`h-${name}`))), op(), store.putHenb(henb(`h2-${name}`))]);
      expect({ name, begins: [...begins].sort() }).toEqual({ name, begins: [FILE, MEMORY] });
    }
    expect((await store.getJob('j1'))?.owner).toBeNull();
  });
});

describe('SQLite only', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsv-store-'));
    store = await openSqliteStore({ dataDir: dir });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the database in dataDir with WAL and the current schema version', async () => {
    expect(statSync(join(dir, SQLITE_FILE_NAME)).isFile()).toBe(true);
    expect(store.database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(store.kind).toBe('sqlite');
  });
  it('openStore opens SQLite by default', async () => {
    const s = await openStore({ path: ':memory:' });
    expect(s.kind).toBe('sqlite');
    await s.close();
  });
  it('refuses a database from a newer version, unknown drivers, and postgres without a url', async () => {
    const f = join(dir, 'newer.sqlite');
    const db = openDatabase(f);
    db.pragma('user_version = 99');
    db.close();
    await expect(openSqliteStore({ path: f })).rejects.toThrow(code('ERR_STORE_OPEN'));
    await expect(openStore({ dataDir: dir, driver: 'postgres' })).rejects.toThrow(code('ERR_STORE_OPEN'));
    await expect(openStore({ dataDir: dir, driver: 'mysql' as never })).rejects.toThrow(code('ERR_STORE_OPEN'));
    await expect(openSqliteStore({})).rejects.toThrow(code('ERR_STORE_OPEN'));
  });
  it('migration 5: the reference logs of a version-4 database (table rollouts) move to reference_logs, keyed by H(e)NB', async () => {
    const f = join(dir, 'v4.sqlite');
    const db = openDatabase(f);
    for (const m of MIGRATIONS.filter((x) => x.version <= 4)) db.exec(m.sql);
    db.pragma('user_version = 4');
    db.prepare("INSERT INTO rollouts (rollout_id, data, created_at, updated_at) VALUES ('reference-log/h1', ?, 5, 6)").run(JSON.stringify([{ component: 'kernel', digest: 'ab' }]));
    db.close();
    const s = await openSqliteStore({ path: f });
    try {
      expect(s.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(await s.listReferenceLogs()).toEqual([{ henbId: 'h1', log: [{ component: 'kernel', digest: 'ab' }], createdAt: 5, updatedAt: 6 }]);
      expect(s.database.prepare("SELECT name FROM sqlite_master WHERE name = 'rollouts'").get()).toBeUndefined();
    } finally {
      await s.close();
    }
  });
  it('migration 2 (one active job per H(e)NB): a version-1 database keeps its jobs; one with two active jobs of an H(e)NB is refused as it is', async () => {
    const f = join(dir, 'v1.sqlite');
    const db = openDatabase(f);
    db.exec(MIGRATIONS[0]!.sql);
    db.pragma('user_version = 1');
    const insert = db.prepare(`INSERT INTO jobs (job_id, henb_id, kind, state, data, version, terminal, created_at, updated_at)
                               VALUES (?, 'h1', 'software-update', 's', '{}', 1, ?, 1, 1)`);
    insert.run('j1', 0);
    insert.run('j2', 0);
    db.close();
    await expect(openSqliteStore({ path: f })).rejects.toThrow(code('ERR_STORE_OPEN'));
    const again = openDatabase(f);
    expect(again.pragma('user_version', { simple: true })).toBe(1);
    again.prepare("UPDATE jobs SET terminal = 1 WHERE job_id = 'j1'").run();
    again.close();
    const s = await openSqliteStore({ path: f });
    try {
      expect(s.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect((await s.listActiveJobs()).map((j) => j.jobId)).toEqual(['j2']);
      await expect(s.createJob({ jobId: 'j3', henbId: 'h1', kind: 'software-update', state: 's', data: {} })).rejects.toThrow(code('ERR_STORE_HENB_BUSY'));
    } finally {
      await s.close();
    }
  });
  it('refuses calls after close (in-memory database)', async () => {
    const s = await openSqliteStore({ path: ':memory:' });
    await s.close();
    await expect(s.getHenb('x')).rejects.toThrow(code('ERR_STORE_CLOSED'));
    await expect(s.transaction(() => 1)).rejects.toThrow(code('ERR_STORE_CLOSED'));
  });
});

describe('SQLite only: the statements an operation runs (issue 15)', () => {
  let dir: string;
  let store: SqliteStore;
  let counts: StatementCounts;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsv-store-'));
    ({ store, counts } = openCountingSqliteStore(dir));
    await store.putHenb({ henbId: 'h1', rim: 'a'.repeat(64), softwareVersion: '1.0', state: 'trusted', lastResultToken: null });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a job transition: its checks, one UPDATE that returns the row, the event, the audit record; what it returns is what a read gives', async () => {
    const created = await store.createJob({ jobId: 'j1', henbId: 'h1', kind: 'software-update', state: 'created', data: { n: 1 }, reason: 'r' });
    expect(await store.getJob('j1')).toEqual(created);
    counts.reset();
    const moved = await store.saveJobTransition('j1', 'pve-requested', { expectPrevVersion: 1, data: { n: 2, big: 'x'.repeat(3000) }, deadline: 5, reason: 'start', at: 7 });
    // BEGIN, the checks, UPDATE ... RETURNING, the event, the chain head, the audit record, COMMIT (was 12: the job read
    // twice more, its state read for the audit record, its next event seq, a savepoint around the move)
    expect(counts.total()).toBe(7);
    expect(counts.matching(/^SELECT \* FROM jobs/)).toBe(0);
    // an active job's UPDATE does not name terminal (the four indexes on it would be rewritten); the final one does
    expect(counts.matching(/^UPDATE jobs SET .*terminal = /)).toBe(0);
    expect(await store.getJob('j1')).toEqual(moved);
    expect(moved).toMatchObject({ version: 2, state: 'pve-requested', deadline: 5, updatedAt: 7, terminal: false, data: { n: 2 } });
    // options left out keep the job's values: data, deadline, attempts, update-sent
    const kept = await store.saveJobTransition('j1', 'fetching', { expectPrevVersion: 2, updateSent: true, attempts: 3 });
    expect(kept).toMatchObject({ data: moved.data, deadline: 5, attempts: 3, updateSent: true });
    const again = await store.saveJobTransition('j1', 'update-sending', { expectPrevVersion: 3, deadline: null });
    expect(again).toMatchObject({ data: moved.data, deadline: null, attempts: 3, updateSent: true });
    expect(await store.getJob('j1')).toEqual(again);
    counts.reset();
    const final = await store.saveJobTransition('j1', 'verified', { expectPrevVersion: 4, terminal: true });
    expect(counts.matching(/^UPDATE jobs SET .*terminal = 1/)).toBe(1);
    expect(await store.getJob('j1')).toEqual(final);
    expect(final.terminal).toBe(true);
    expect(await store.listActiveJobs()).toEqual([]);
    // the final move took the job out of the one-active-job indexes: the H(e)NB takes a new job
    await store.createJob({ jobId: 'j2', henbId: 'h1', kind: 'software-update', state: 'created', data: {} });
    expect((await store.listJobEvents('j1')).map((e) => [e.seq, e.fromState, e.toState])).toEqual([
      [1, null, 'created'], [2, 'created', 'pve-requested'], [3, 'pve-requested', 'fetching'], [4, 'fetching', 'update-sending'], [5, 'update-sending', 'verified'],
    ]);
    const audit = (await store.listAudit()).filter((r) => r.object === 'job/j1').map((r) => JSON.parse(r.details) as Record<string, unknown>);
    expect(audit.map((d) => [d.from, d.to, d.version, d.updateSent, d.terminal])).toEqual([
      [undefined, undefined, undefined, undefined, undefined], ['created', 'pve-requested', 2, undefined, undefined],
      ['pve-requested', 'fetching', 3, true, undefined], ['fetching', 'update-sending', 4, undefined, undefined], ['update-sending', 'verified', 5, undefined, true],
    ]);
  });

  it('a transaction reads the audit chain head once, however many records it appends', async () => {
    const job = await store.createJob({ jobId: 'j1', henbId: 'h1', kind: 'software-update', state: 'created', data: {} });
    counts.reset();
    const log = await store.transaction(async (tx) => {
      await tx.saveJobTransition('j1', 'verified', { expectPrevVersion: job.version, terminal: true });
      await tx.putHenb({ henbId: 'h1', rim: 'b'.repeat(64), softwareVersion: '2.0', state: 'trusted', lastResultToken: null });
      return tx.putReferenceLog('h1', [{ component: 'kernel', digest: 'c'.repeat(64) }]);
    });
    expect(counts.matching(/FROM audit_log ORDER BY seq DESC/)).toBe(1);
    expect(counts.matching(/^INSERT INTO audit_log/)).toBe(3);
    // the reference log as stored, without a read back
    expect(counts.matching(/FROM reference_logs/)).toBe(0);
    expect(await store.getReferenceLog('h1')).toEqual(log);
  });

  it('a transaction reads an H(e)NB once: putHenb takes the record it replaces from the read or write before it, not a SELECT', async () => {
    const rec = (state: 'trusted' | 'updating' | 'quarantined', rim: string): Parameters<SqliteStore['putHenb']>[0] =>
      ({ henbId: 'h1', rim, softwareVersion: '1.0', state, lastResultToken: null });
    counts.reset();
    await store.transaction(async (tx) => {
      const cur = await tx.getHenb('h1');
      // what a read gives is the caller's own copy
      if (cur !== undefined) cur.state = 'quarantined';
      await tx.putHenb(rec('updating', 'a'.repeat(64)));
      await tx.putHenb(rec('trusted', 'b'.repeat(64)));
      expect(await tx.getHenb('h1')).toMatchObject({ state: 'trusted', rim: 'b'.repeat(64) });
      // a savepoint rolled back takes what its writes left with it: the next write reads the record again
      await expect(tx.transaction(async (inner) => {
        await inner.putHenb(rec('quarantined', 'c'.repeat(64)));
        throw new Error('rolled back');
      })).rejects.toThrow('rolled back');
      await tx.putHenb(rec('updating', 'b'.repeat(64)));
    });
    // the caller's read, and one after the savepoint's rollback (was 6: putHenb read the record before each of its writes)
    expect(counts.matching(/^SELECT \* FROM henbs/)).toBe(2);
    const actions = (await store.listAudit()).slice(-3).map((r) => [r.action, JSON.parse(r.details) as unknown]);
    expect(actions).toEqual([
      ['henb-state-changed', { state: ['trusted', 'updating'] }],
      ['rim-changed', { rim: ['a'.repeat(64), 'b'.repeat(64)], state: ['updating', 'trusted'] }],
      ['henb-state-changed', { state: ['trusted', 'updating'] }],
    ]);
    // outside a transaction every read is a read (another connection may have written)
    counts.reset();
    await store.getHenb('h1');
    await store.getHenb('h1');
    expect(counts.matching(/^SELECT \* FROM henbs/)).toBe(2);
  });

  it('a nonce used up and a jti remembered: one statement each; the reasons of a refusal are told apart', async () => {
    await store.putNonce({ nonce: 'n1', purpose: 'p', expiresAt: 10_000 });
    await store.putNonce({ nonce: 'n2', purpose: 'p', expiresAt: 1_000 });
    counts.reset();
    expect(await store.consumeNonce('n1', 5_000)).toMatchObject({ ok: true, record: { nonce: 'n1', consumedAt: 5_000, expiresAt: 10_000 } });
    expect(await store.rememberJti('t1', 10_000, 5_000)).toBe(true);
    expect(counts.total()).toBe(2);
    expect(await store.consumeNonce('n1', 5_000)).toEqual({ ok: false, reason: 'consumed' });
    expect(await store.consumeNonce('n2', 5_000)).toEqual({ ok: false, reason: 'expired' });
    expect(await store.consumeNonce('n3', 5_000)).toEqual({ ok: false, reason: 'unknown' });
    expect(await store.rememberJti('t1', 20_000, 6_000)).toBe(false);
    // an expired jti is remembered again, with its new expiry
    expect(await store.rememberJti('t1', 20_000, 10_000)).toBe(true);
    expect(await store.rememberJti('t1', 30_000, 15_000)).toBe(false);
  });
});
