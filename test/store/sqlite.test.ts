import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, SQLITE_FILE_NAME, openDatabase, openSqliteStore, openStore } from '../../src/store/index.js';
import type { HenbInput, SqliteStore, Store } from '../../src/store/index.js';

const code = (c: string): unknown => expect.objectContaining({ code: c });
const RIM0 = 'a'.repeat(64);
const RIM1 = 'b'.repeat(64);
const henb = (over: Partial<HenbInput> = {}): HenbInput => ({
  henbId: 'henb-1', rim: RIM0, softwareVersion: '1.0', state: 'trusted', lastResultToken: null, ...over,
});

let dir: string;
let store: SqliteStore;
const opened: Store[] = [];
async function open(): Promise<SqliteStore> {
  const s = await openSqliteStore({ dataDir: dir });
  opened.push(s);
  return s;
}
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hsv-store-'));
  store = await open();
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('opening', () => {
  it('creates the database in dataDir with WAL and the current schema version', async () => {
    expect(statSync(join(dir, SQLITE_FILE_NAME)).isFile()).toBe(true);
    expect(store.database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(store.kind).toBe('sqlite');
  });
  it('refuses a database from a newer version, and unknown drivers', async () => {
    const f = join(dir, 'newer.sqlite');
    const db = openDatabase(f);
    db.pragma('user_version = 99');
    db.close();
    await expect(openSqliteStore({ path: f })).rejects.toThrow(code('ERR_STORE_OPEN'));
    await expect(openStore({ dataDir: dir, driver: 'postgres' })).rejects.toThrow(code('ERR_STORE_OPEN'));
    await expect(openSqliteStore({})).rejects.toThrow(code('ERR_STORE_OPEN'));
  });
  it('refuses calls after close', async () => {
    const s = await openSqliteStore({ path: ':memory:' });
    await s.close();
    await expect(s.getHenb('x')).rejects.toThrow(code('ERR_STORE_CLOSED'));
    await expect(s.transaction(() => 1)).rejects.toThrow(code('ERR_STORE_CLOSED'));
  });
});

describe('H(e)NBs', () => {
  it('puts, gets, lists by state and deletes', async () => {
    await store.putHenb(henb({ rim: RIM0.toUpperCase() }));
    await store.putHenb(henb({ henbId: 'henb-2', state: 'quarantined', rim: null }));
    expect(await store.getHenb('henb-1')).toMatchObject({ henbId: 'henb-1', rim: RIM0, state: 'trusted', softwareVersion: '1.0' });
    expect((await store.listHenbs()).map((h) => h.henbId)).toEqual(['henb-1', 'henb-2']);
    expect((await store.listHenbs({ state: 'quarantined' })).map((h) => h.henbId)).toEqual(['henb-2']);
    await store.putHenb(henb({ rim: RIM1, softwareVersion: '2.0' }));
    expect(await store.getHenb('henb-1')).toMatchObject({ rim: RIM1, softwareVersion: '2.0' });
    expect(await store.deleteHenb('henb-2')).toBe(true);
    expect(await store.getHenb('henb-2')).toBeUndefined();
  });
  it('refuses bad records with ERR_STORE_INVALID and writes nothing', async () => {
    await expect(store.putHenb(henb({ rim: 'xyz' }))).rejects.toThrow(code('ERR_STORE_INVALID'));
    await expect(store.putHenb(henb({ state: 'fine' as never }))).rejects.toThrow(code('ERR_STORE_INVALID'));
    await expect(store.putHenb(henb({ henbId: '' }))).rejects.toThrow(code('ERR_STORE_INVALID'));
    expect(await store.listHenbs()).toEqual([]);
  });
});

describe('jobs', () => {
  const newJob = { jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'integrity-requested', data: { step: 2 } };

  it('creates a job at version 1 with a creation event; duplicates are refused', async () => {
    const j = await store.createJob({ ...newJob, deadline: 5000, reason: 'requested' });
    expect(j).toMatchObject({ jobId: 'job-1', version: 1, state: 'integrity-requested', data: { step: 2 }, deadline: 5000, attempts: 0, updateSent: false, terminal: false });
    expect(await store.listJobEvents('job-1')).toMatchObject([{ seq: 1, fromState: null, toState: 'integrity-requested', reason: 'requested' }]);
    await expect(store.createJob(newJob)).rejects.toThrow(code('ERR_STORE_DUPLICATE'));
  });

  it('saves transitions with optimistic concurrency and appends history', async () => {
    await store.createJob(newJob);
    const j2 = await store.saveJobTransition('job-1', 'update-sent', { expectPrevVersion: 1, data: { step: 6 }, updateSent: true, deadline: 9000, attempts: 1, reason: 'sent', detail: { uri: 'x' } });
    expect(j2).toMatchObject({ version: 2, state: 'update-sent', data: { step: 6 }, updateSent: true, deadline: 9000, attempts: 1 });
    // a stale writer loses and changes nothing
    await expect(store.saveJobTransition('job-1', 'failed', { expectPrevVersion: 1 })).rejects.toThrow(code('ERR_STORE_CONFLICT'));
    expect(await store.getJob('job-1')).toMatchObject({ version: 2, state: 'update-sent' });
    // updateSent never goes back; data and deadline are kept unless given
    const j3 = await store.saveJobTransition('job-1', 'completed', { expectPrevVersion: 2, updateSent: false, deadline: null });
    expect(j3).toMatchObject({ version: 3, updateSent: true, data: { step: 6 }, deadline: null });
    expect((await store.listJobEvents('job-1')).map((e) => [e.seq, e.fromState, e.toState])).toEqual([
      [1, null, 'integrity-requested'], [2, 'integrity-requested', 'update-sent'], [3, 'update-sent', 'completed'],
    ]);
    expect((await store.listJobEvents('job-1'))[1]?.detail).toEqual({ uri: 'x' });
    await expect(store.saveJobTransition('nope', 'x', { expectPrevVersion: 1 })).rejects.toThrow(code('ERR_STORE_NOT_FOUND'));
  });

  it('lets exactly one of two concurrent writers win (same connection and a second connection)', async () => {
    await store.createJob(newJob);
    const other = await open();
    const attempts = await Promise.allSettled([
      store.saveJobTransition('job-1', 'a', { expectPrevVersion: 1 }),
      store.saveJobTransition('job-1', 'b', { expectPrevVersion: 1 }),
      other.saveJobTransition('job-1', 'c', { expectPrevVersion: 1 }),
      store.transaction((tx) => tx.saveJobTransition('job-1', 'd', { expectPrevVersion: 1 })),
    ]);
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
    for (const a of attempts) if (a.status === 'rejected') expect(a.reason).toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    expect((await other.getJob('job-1'))?.version).toBe(2);
    expect(await store.listJobEvents('job-1')).toHaveLength(2);
  });

  it('final jobs leave listActiveJobs and cannot move again', async () => {
    await store.createJob(newJob);
    await store.createJob({ ...newJob, jobId: 'job-2' });
    await store.saveJobTransition('job-1', 'verified', { expectPrevVersion: 1, terminal: true });
    expect((await store.listActiveJobs()).map((j) => j.jobId)).toEqual(['job-2']);
    await expect(store.saveJobTransition('job-1', 'again', { expectPrevVersion: 2 })).rejects.toThrow(code('ERR_STORE_CONFLICT'));
    expect((await store.listJobs({ henbId: 'henb-1' })).map((j) => j.jobId).sort()).toEqual(['job-1', 'job-2']);
  });

  it('refuses a state blob that is not JSON', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(store.createJob({ ...newJob, data: cyclic })).rejects.toThrow(code('ERR_STORE_INVALID'));
    await expect(store.createJob({ ...newJob, data: undefined })).rejects.toThrow(code('ERR_STORE_INVALID'));
    expect(await store.getJob('job-1')).toBeUndefined();
  });
});

describe('transactions', () => {
  it('commits the new RIM, version, job state and result together', async () => {
    await store.putHenb(henb());
    await store.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'tim-received', data: {} });
    await store.transaction(async (tx) => {
      await tx.putHenb(henb({ rim: RIM1, softwareVersion: '2.0', lastResultToken: 'tok' }));
      await tx.putResult({ jobId: 'job-1', kind: 'final', henbId: 'henb-1', earStatus: 'affirming', token: 'tok' });
      await tx.saveJobTransition('job-1', 'verified', { expectPrevVersion: 1, terminal: true });
    });
    expect(await store.getHenb('henb-1')).toMatchObject({ rim: RIM1, softwareVersion: '2.0', lastResultToken: 'tok' });
    expect(await store.getResults('job-1')).toHaveLength(1);
  });

  it('a throw inside a transaction changes nothing', async () => {
    await store.putHenb(henb());
    await store.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'tim-received', data: {} });
    const boom = new Error('boom');
    await expect(store.transaction(async (tx) => {
      await tx.putHenb(henb({ rim: RIM1, softwareVersion: '2.0' }));
      await tx.putResult({ jobId: 'job-1', kind: 'final', henbId: 'henb-1', earStatus: 'affirming', token: 'tok' });
      await tx.saveJobTransition('job-1', 'verified', { expectPrevVersion: 1, terminal: true });
      await new Promise((r) => setTimeout(r, 5));
      throw boom;
    })).rejects.toBe(boom);
    expect(await store.getHenb('henb-1')).toMatchObject({ rim: RIM0, softwareVersion: '1.0' });
    expect(await store.getResults('job-1')).toEqual([]);
    expect(await store.getJob('job-1')).toMatchObject({ version: 1, state: 'tim-received', terminal: false });
    expect(await store.listJobEvents('job-1')).toHaveLength(1);
  });

  it('a coded store error inside a transaction (stale version) rolls back the earlier writes', async () => {
    await store.putHenb(henb());
    await store.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'k', state: 's', data: {} });
    await expect(store.transaction(async (tx) => {
      await tx.putHenb(henb({ rim: RIM1 }));
      await tx.saveJobTransition('job-1', 'x', { expectPrevVersion: 7 });
    })).rejects.toThrow(code('ERR_STORE_CONFLICT'));
    expect((await store.getHenb('henb-1'))?.rim).toBe(RIM0);
  });

  it('nested transactions roll back to their savepoint only', async () => {
    await store.transaction(async (tx) => {
      await tx.putHenb(henb());
      await expect(tx.transaction(async (inner) => {
        await inner.putHenb(henb({ henbId: 'henb-2' }));
        throw new Error('inner');
      })).rejects.toThrow('inner');
      await tx.transaction((inner) => inner.putHenb(henb({ henbId: 'henb-3' })));
    });
    expect((await store.listHenbs()).map((h) => h.henbId)).toEqual(['henb-1', 'henb-3']);
  });

  it('plain calls wait for an open transaction; calls from inside it join it', async () => {
    const gate = deferred();
    const order: string[] = [];
    const tx = store.transaction(async (t) => {
      await t.putHenb(henb());
      expect((await store.getHenb('henb-1'))?.rim).toBe(RIM0); // joins, does not deadlock
      await gate.promise;
      await t.putHenb(henb({ rim: RIM1 }));
      order.push('commit');
    });
    await new Promise((r) => setTimeout(r, 5));
    const read = store.getHenb('henb-1').then((h) => { order.push('read'); return h; });
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual([]);
    gate.resolve();
    await tx;
    expect((await read)?.rim).toBe(RIM1);
    expect(order).toEqual(['commit', 'read']);
  });

  it('serialises transactions and refuses a tx handle used after the end', async () => {
    let leaked: Parameters<Parameters<Store['transaction']>[0]>[0] | undefined;
    const results = await Promise.all([1, 2, 3].map((i) => store.transaction(async (tx) => {
      leaked = tx;
      const cur = (await tx.getRollout<number>('counter'))?.data ?? 0;
      await new Promise((r) => setTimeout(r, 2));
      await tx.putRollout('counter', cur + i);
      return cur + i;
    })));
    expect(results).toEqual([1, 3, 6]);
    await expect((leaked as NonNullable<typeof leaked>).getHenb('x')).rejects.toThrow(code('ERR_STORE_CLOSED'));
  });
});

describe('restart', () => {
  it('a reopened store sees henbs, active jobs with updateSent, results and nonces', async () => {
    await store.putHenb(henb());
    await store.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'awaiting-completion', data: { uri: 'https://x' } });
    await store.saveJobTransition('job-1', 'awaiting-completion', { expectPrevVersion: 1, updateSent: true, deadline: 123 });
    await store.putResult({ jobId: 'job-1', kind: 'pve', henbId: 'henb-1', earStatus: 'affirming', token: 't1' });
    await store.putNonce({ nonce: 'n1', purpose: 'integrity-request', jobId: 'job-1', expiresAt: Date.now() + 60_000 });
    await store.close();
    const again = await open();
    expect(await again.getHenb('henb-1')).toMatchObject({ rim: RIM0 });
    const active = await again.listActiveJobs<{ uri: string }>();
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({ jobId: 'job-1', updateSent: true, version: 2, deadline: 123, data: { uri: 'https://x' } });
    expect((await again.getResults('job-1')).map((r) => r.token)).toEqual(['t1']);
    expect(await again.consumeNonce('n1')).toMatchObject({ ok: true });
  });
});

describe('nonces, jtis, results, rollouts', () => {
  it('consumes a nonce once', async () => {
    await store.putNonce({ nonce: 'n1', purpose: 'p', henbId: 'henb-1', expiresAt: 2000, createdAt: 1000 });
    await store.putNonce({ nonce: 'n2', purpose: 'p', expiresAt: 2000 });
    await expect(store.putNonce({ nonce: 'n1', purpose: 'p', expiresAt: 3000 })).rejects.toThrow(code('ERR_STORE_DUPLICATE'));
    expect(await store.consumeNonce('n1', 1500)).toEqual({ ok: true, record: { nonce: 'n1', purpose: 'p', jobId: null, henbId: 'henb-1', createdAt: 1000, expiresAt: 2000, consumedAt: 1500 } });
    expect(await store.consumeNonce('n1', 1500)).toEqual({ ok: false, reason: 'consumed' });
    expect(await store.consumeNonce('zz', 1500)).toEqual({ ok: false, reason: 'unknown' });
    expect(await store.consumeNonce('n2', 2000)).toEqual({ ok: false, reason: 'expired' });
  });
  it('remembers a jti until it expires, and purges', async () => {
    expect(await store.rememberJti('j1', 2000, 1000)).toBe(true);
    expect(await store.rememberJti('j1', 2000, 1500)).toBe(false);
    expect(await store.rememberJti('j1', 4000, 2000)).toBe(true);
    await store.putNonce({ nonce: 'old', purpose: 'p', expiresAt: 10 });
    expect(await store.purgeExpired(5000)).toBe(2);
  });
  it('keeps one result per job and kind, lists by henb', async () => {
    await store.putResult({ jobId: 'j', kind: 'pve', henbId: 'h', earStatus: 'affirming', token: 'a', createdAt: 1 });
    await store.putResult({ jobId: 'j', kind: 'final', henbId: 'h', earStatus: 'contraindicated', token: 'b', createdAt: 2 });
    await expect(store.putResult({ jobId: 'j', kind: 'final', henbId: 'h', earStatus: 'x', token: 'c' })).rejects.toThrow(code('ERR_STORE_DUPLICATE'));
    expect((await store.listResults({ henbId: 'h' })).map((r) => r.token)).toEqual(['b', 'a']);
    expect((await store.listResults({ limit: 1 })).map((r) => r.token)).toEqual(['b']);
  });
  it('stores rollouts as JSON blobs', async () => {
    await store.putRollout('r1', { henbs: ['a', 'b'], uri: 'https://x' });
    await store.putRollout('r1', { henbs: ['a'], uri: 'https://x' });
    expect(await store.getRollout('r1')).toMatchObject({ rolloutId: 'r1', data: { henbs: ['a'] } });
    expect((await store.listRollouts()).map((r) => r.rolloutId)).toEqual(['r1']);
    expect(await store.getRollout('nope')).toBeUndefined();
  });
});
