/**
 * The Store contract (src/store/types.ts) as one suite that every driver runs: test/store/sqlite.test.ts runs it
 * against SQLite (unit project, no server needed), test/interop/postgres-store.test.ts against a real PostgreSQL.
 * Only driver-independent behaviour is here; a driver's own cases (SQLite's WAL and sync barriers, PostgreSQL's
 * several instances) stay in its test file.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it, vi } from 'vitest';
import type { HenbInput, JobRecord, NewJob, Store, StoreTx } from '../../src/store/index.js';
import { generateSigningKey, signResult, storeReplayCache, verifyResult } from '../../src/tokens/index.js';
import { useStores } from './use-stores.js';
import type { FreshDatabase } from './use-stores.js';

export interface StoreHarness extends FreshDatabase {
  kind: Store['kind'];
  /** a Store on the current database; every call is another connection (another OAM instance) */
  open(): Promise<Store>;
  /** makes the database itself refuse (a trigger raising an error) every notification INSERT whose xml is `xml` */
  refuseNotificationXml(xml: string): Promise<void>;
}

const code = (c: string): unknown => expect.objectContaining({ code: c });
const RIM0 = 'a'.repeat(64);
const RIM1 = 'b'.repeat(64);
const henb = (over: Partial<HenbInput> = {}): HenbInput => ({
  henbId: 'henb-1', rim: RIM0, softwareVersion: '1.0', state: 'trusted', lastResultToken: null, ...over,
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export function storeContract(name: string, h: StoreHarness): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    const open = useStores(h, () => h.open(), (s) => (store = s));

    describe('opening', () => {
      it(`is a ${h.kind} store`, () => {
        expect(store.kind).toBe(h.kind);
      });
      it('refuses calls after close', async () => {
        const s = await open();
        await s.close();
        await expect(s.getHenb('x')).rejects.toThrow(code('ERR_STORE_CLOSED'));
        await expect(s.transaction(() => 1)).rejects.toThrow(code('ERR_STORE_CLOSED'));
        await s.close(); // twice is fine
      });
    });

    describe('H(e)NBs', () => {
      it('puts, gets, lists by state and deletes', async () => {
        await store.putHenb(henb({ rim: RIM0.toUpperCase() }));
        await store.putHenb(henb({ henbId: 'henb-2', state: 'quarantined', rim: null }));
        expect(await store.getHenb('henb-1')).toMatchObject({ henbId: 'henb-1', rim: RIM0, state: 'trusted', softwareVersion: '1.0' });
        expect((await store.listHenbs()).map((x) => x.henbId)).toEqual(['henb-1', 'henb-2']);
        expect((await store.listHenbs({ state: 'quarantined' })).map((x) => x.henbId)).toEqual(['henb-2']);
        await store.putHenb(henb({ rim: RIM1, softwareVersion: '2.0' }));
        expect(await store.getHenb('henb-1')).toMatchObject({ rim: RIM1, softwareVersion: '2.0' });
        expect(await store.deleteHenb('henb-2')).toBe(true);
        expect(await store.deleteHenb('henb-2')).toBe(false);
        expect(await store.getHenb('henb-2')).toBeUndefined();
      });
      it('returns the record as stored, times as numbers', async () => {
        const before = Date.now();
        const put = await store.putHenb(henb({ lastResultToken: 'tok' }));
        const got = await store.getHenb('henb-1');
        expect(got).toEqual(put);
        expect(typeof got?.updatedAt).toBe('number');
        expect(got?.updatedAt).toBeGreaterThanOrEqual(before);
      });
      it('sorts ids by code point', async () => {
        for (const id of ['henb-b', 'henb-B', 'henb-a', 'henb-10', 'henb-9']) await store.putHenb(henb({ henbId: id }));
        expect((await store.listHenbs()).map((x) => x.henbId)).toEqual(['henb-10', 'henb-9', 'henb-B', 'henb-a', 'henb-b']);
      });
      it('refuses bad records with ERR_STORE_INVALID and writes nothing', async () => {
        await expect(store.putHenb(henb({ rim: 'xyz' }))).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.putHenb(henb({ rim: 'g'.repeat(64) }))).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.putHenb(henb({ state: 'fine' as never }))).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.putHenb(henb({ henbId: '' }))).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.putHenb(henb({ softwareVersion: 7 as never }))).rejects.toThrow(code('ERR_STORE_INVALID'));
        expect(await store.listHenbs()).toEqual([]);
      });
    });

    describe('jobs', () => {
      const newJob = { jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'integrity-requested', data: { step: 2 } };

      it('creates a job at version 1 with a creation event; duplicates are refused', async () => {
        const j = await store.createJob({ ...newJob, deadline: 5000, reason: 'requested' });
        expect(j).toMatchObject({ jobId: 'job-1', version: 1, state: 'integrity-requested', data: { step: 2 }, deadline: 5000, attempts: 0, updateSent: false, terminal: false });
        expect(j.createdAt).toBe(j.updatedAt);
        expect(await store.getJob('job-1')).toEqual(j);
        expect(await store.listJobEvents('job-1')).toEqual([{ jobId: 'job-1', seq: 1, fromState: null, toState: 'integrity-requested', at: j.createdAt, reason: 'requested', detail: null }]);
        await expect(store.createJob({ ...newJob, state: 'other' })).rejects.toThrow(code('ERR_STORE_DUPLICATE'));
        expect(await store.getJob('job-1')).toEqual(j);
        expect(await store.listJobEvents('job-1')).toHaveLength(1);
      });

      it('a write that gives the data returns it as a copy of what was written, parsed only when read (issue 15)', async () => {
        const data = { step: 6, nested: { list: [1, 'two'] }, gone: undefined as unknown, when: new Date(5000) };
        const parse = vi.spyOn(JSON, 'parse');
        let created: JobRecord<typeof data>;
        let moved: JobRecord<typeof data>;
        try {
          created = await store.createJob({ ...newJob, data });
          moved = await store.saveJobTransition('job-1', 'update-sent', { expectPrevVersion: 1, data, reason: 'sent' });
          // the database's copy of the data is neither returned nor parsed again
          expect(parse).not.toHaveBeenCalled();
        } finally {
          parse.mockRestore();
        }
        const stored = JSON.parse(JSON.stringify(data)) as unknown;
        // as stored (JSON: undefined gone, the Date a string), a copy: not the object given, nor changed with it
        expect(moved.data).toStrictEqual(stored);
        expect(created.data).toStrictEqual(stored);
        expect(moved.data).not.toBe(data);
        data.nested.list.push(3);
        expect(moved.data.nested.list).toEqual([1, 'two']);
        expect(moved.data).toBe(moved.data);
        expect(await store.getJob('job-1')).toEqual(moved);
        expect({ ...moved }).toEqual(await store.getJob('job-1'));
        expect(JSON.parse(JSON.stringify(moved))).toEqual(JSON.parse(JSON.stringify(await store.getJob('job-1'))));
        // assignable, as any record's
        const other = { step: 7, nested: { list: [] }, gone: undefined, when: new Date(0) };
        moved.data = other;
        expect(moved.data).toBe(other);
        // a move without data returns the stored one
        expect((await store.saveJobTransition<typeof data>('job-1', 'x', { expectPrevVersion: 2 })).data).toStrictEqual(stored);
      });

      it('saves transitions with optimistic concurrency and appends history', async () => {
        await store.createJob(newJob);
        const j2 = await store.saveJobTransition('job-1', 'update-sent', { expectPrevVersion: 1, data: { step: 6 }, updateSent: true, deadline: 9000, attempts: 1, reason: 'sent', detail: { uri: 'x' }, at: 4242 });
        expect(j2).toMatchObject({ version: 2, state: 'update-sent', data: { step: 6 }, updateSent: true, deadline: 9000, attempts: 1, updatedAt: 4242 });
        // a stale writer loses and changes nothing
        await expect(store.saveJobTransition('job-1', 'failed', { expectPrevVersion: 1 })).rejects.toThrow(code('ERR_STORE_CONFLICT'));
        expect(await store.getJob('job-1')).toEqual(j2);
        // updateSent never goes back; data, attempts and deadline are kept unless given
        const j3 = await store.saveJobTransition('job-1', 'completed', { expectPrevVersion: 2, updateSent: false, deadline: null });
        expect(j3).toMatchObject({ version: 3, updateSent: true, data: { step: 6 }, deadline: null, attempts: 1 });
        const j4 = await store.saveJobTransition('job-1', 'completed', { expectPrevVersion: 3 });
        expect(j4).toMatchObject({ version: 4, deadline: null, attempts: 1, data: { step: 6 } });
        const events = await store.listJobEvents('job-1');
        expect(events.map((e) => [e.seq, e.fromState, e.toState])).toEqual([
          [1, null, 'integrity-requested'], [2, 'integrity-requested', 'update-sent'], [3, 'update-sent', 'completed'], [4, 'completed', 'completed'],
        ]);
        expect(events[1]).toEqual({ jobId: 'job-1', seq: 2, fromState: 'integrity-requested', toState: 'update-sent', at: 4242, reason: 'sent', detail: { uri: 'x' } });
        await expect(store.saveJobTransition('nope', 'x', { expectPrevVersion: 1 })).rejects.toThrow(code('ERR_STORE_NOT_FOUND'));
      });

      it('refuses bad transitions with ERR_STORE_INVALID and writes nothing', async () => {
        await store.createJob(newJob);
        await expect(store.saveJobTransition('job-1', '', { expectPrevVersion: 1 })).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.saveJobTransition('job-1', 'x', { expectPrevVersion: 1.5 })).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.saveJobTransition('job-1', 'x', { expectPrevVersion: 1, attempts: -1 })).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.saveJobTransition('job-1', 'x', { expectPrevVersion: 1, deadline: Number.NaN })).rejects.toThrow(code('ERR_STORE_INVALID'));
        expect(await store.getJob('job-1')).toMatchObject({ version: 1, state: 'integrity-requested' });
      });

      it('lets exactly one of concurrent writers win (same store and a second store)', async () => {
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

      it('job retention: pruneJobs deletes final jobs older than the cutoff, with their events and results (issue 14 item 5)', async () => {
        await store.putHenb(henb({ lastResultToken: 'kept-token' }));
        await store.createJob({ ...newJob, jobId: 'old-final' });
        await store.saveJobTransition('old-final', 'verified', { expectPrevVersion: 1, terminal: true, at: 1_000 });
        await store.putResult({ jobId: 'old-final', kind: 'final', henbId: 'henb-1', earStatus: 'affirming', token: 'old', createdAt: 1_000 });
        await store.createJob({ ...newJob, jobId: 'young-final' });
        await store.saveJobTransition('young-final', 'verified', { expectPrevVersion: 1, terminal: true, at: 9_000 });
        await store.putResult({ jobId: 'young-final', kind: 'final', henbId: 'henb-1', earStatus: 'affirming', token: 'young', createdAt: 9_000 });
        // an active job is kept however old it is
        await store.createJob({ ...newJob, jobId: 'old-active' });
        await store.saveJobTransition('old-active', 'waiting', { expectPrevVersion: 1, at: 1_000 });
        expect(await store.pruneJobs(5_000)).toBe(1);
        expect(await store.getJob('old-final')).toBeUndefined();
        expect(await store.listJobEvents('old-final')).toEqual([]);
        expect(await store.getResults('old-final')).toEqual([]);
        expect((await store.listJobs()).map((j) => j.jobId).sort()).toEqual(['old-active', 'young-final']);
        expect((await store.getResults('young-final')).map((r) => r.token)).toEqual(['young']);
        expect((await store.getHenb('henb-1'))?.lastResultToken).toBe('kept-token');
        expect(await store.pruneJobs(5_000)).toBe(0);
        expect(await store.pruneJobs(10_000)).toBe(1);
        expect((await store.listJobs()).map((j) => j.jobId)).toEqual(['old-active']);
      });

      it('final jobs leave listActiveJobs and cannot move again', async () => {
        await store.createJob(newJob);
        await store.saveJobTransition('job-1', 'verified', { expectPrevVersion: 1, terminal: true });
        await store.createJob({ ...newJob, jobId: 'job-2' });
        expect((await store.listActiveJobs()).map((j) => j.jobId)).toEqual(['job-2']);
        await expect(store.saveJobTransition('job-1', 'again', { expectPrevVersion: 2 })).rejects.toThrow(code('ERR_STORE_CONFLICT'));
        expect(await store.getJob('job-1')).toMatchObject({ version: 2, terminal: true, state: 'verified' });
        expect((await store.listJobs({ henbId: 'henb-1' })).map((j) => j.jobId).sort()).toEqual(['job-1', 'job-2']);
        expect(await store.listJobs({ henbId: 'henb-other' })).toEqual([]);
        expect(await store.listJobs({ limit: 1 })).toHaveLength(1);
        await expect(store.listJobs({ limit: 0 })).rejects.toThrow(code('ERR_STORE_INVALID'));
      });

      it('keeps one active software-update or integrity-check per H(e)NB altogether (EXCLUSIVE_JOB_KINDS), on any instance', async () => {
        const other = await open(); // another OAM instance on the same database
        await store.createJob({ ...newJob, jobId: 'upd-1', kind: 'software-update' });
        for (const s of [store, other]) {
          await expect(s.createJob({ ...newJob, jobId: 'chk-1', kind: 'integrity-check' })).rejects.toThrow(code('ERR_STORE_HENB_BUSY'));
        }
        await expect(other.createJob({ ...newJob, jobId: 'chk-1', kind: 'integrity-check' })).rejects.toThrow(/henb-1.*upd-1/);
        await store.createJob({ ...newJob, jobId: 'chk-2', kind: 'integrity-check', henbId: 'henb-2' });
        await expect(other.createJob({ ...newJob, jobId: 'upd-2', kind: 'software-update', henbId: 'henb-2' })).rejects.toThrow(code('ERR_STORE_HENB_BUSY'));
        await store.createJob({ ...newJob, jobId: 'misc-1', kind: 'integrity-request' }); // other kinds: one of their own each
        await store.saveJobTransition('upd-1', 'verified', { expectPrevVersion: 1, terminal: true });
        expect(await other.createJob({ ...newJob, jobId: 'chk-1', kind: 'integrity-check' })).toMatchObject({ jobId: 'chk-1', terminal: false });
        expect((await store.listActiveJobs()).map((j) => [j.jobId, j.kind]).sort()).toEqual([
          ['chk-1', 'integrity-check'], ['chk-2', 'integrity-check'], ['misc-1', 'integrity-request'],
        ]);
      });

      it('keeps one active job per H(e)NB and kind: another is ERR_STORE_HENB_BUSY until the first is final', async () => {
        await store.createJob(newJob);
        const other = await open(); // another OAM instance on the same database
        for (const s of [store, other]) {
          await expect(s.createJob({ ...newJob, jobId: 'job-2' })).rejects.toThrow(code('ERR_STORE_HENB_BUSY'));
        }
        await expect(store.createJob({ ...newJob, jobId: 'job-2' })).rejects.toThrow(/henb-1.*job-1/);
        await expect(store.createJob({ ...newJob, state: 'other' })).rejects.toThrow(code('ERR_STORE_DUPLICATE')); // a taken id stays DUPLICATE
        expect(await store.getJob('job-2')).toBeUndefined();
        expect(await store.listJobEvents('job-2')).toEqual([]);
        // other H(e)NBs and other kinds are not held back
        await store.createJob({ ...newJob, jobId: 'job-3', henbId: 'henb-2' });
        await store.createJob({ ...newJob, jobId: 'job-4', kind: 'integrity-request' });
        // refused inside a transaction: the transaction stays usable; a throw rolls back what it wrote
        await store.transaction(async (tx) => {
          await expect(tx.createJob({ ...newJob, jobId: 'job-2' })).rejects.toThrow(code('ERR_STORE_HENB_BUSY'));
          await tx.putNonce({ nonce: 'n-kept', purpose: 'p', expiresAt: Date.now() + 60_000 });
        });
        await expect(store.transaction(async (tx) => {
          await tx.putNonce({ nonce: 'n-gone', purpose: 'p', expiresAt: Date.now() + 60_000 });
          await tx.createJob({ ...newJob, jobId: 'job-2' });
        })).rejects.toThrow(code('ERR_STORE_HENB_BUSY'));
        expect(await store.consumeNonce('n-gone')).toEqual({ ok: false, reason: 'unknown' });
        expect(await store.consumeNonce('n-kept')).toMatchObject({ ok: true });
        // once the first is final, a new job for the H(e)NB is allowed (from either instance), and then only one
        await store.saveJobTransition('job-1', 'verified', { expectPrevVersion: 1, terminal: true });
        expect(await other.createJob({ ...newJob, jobId: 'job-2' })).toMatchObject({ jobId: 'job-2', version: 1, terminal: false });
        await expect(store.createJob({ ...newJob, jobId: 'job-5' })).rejects.toThrow(code('ERR_STORE_HENB_BUSY'));
        expect((await store.listActiveJobs()).map((j) => j.jobId).sort()).toEqual(['job-2', 'job-3', 'job-4']);
        expect((await store.listJobs({ henbId: 'henb-1' })).map((j) => j.jobId).sort()).toEqual(['job-1', 'job-2', 'job-4']);
      });

      it('refuses a state blob that is not JSON', async () => {
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        await expect(store.createJob({ ...newJob, data: cyclic })).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.createJob({ ...newJob, data: undefined })).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.createJob({ ...newJob, jobId: '' })).rejects.toThrow(code('ERR_STORE_INVALID'));
        expect(await store.getJob('job-1')).toBeUndefined();
      });

      it('keeps the JSON blob exactly (key order, unicode, nesting)', async () => {
        const data = { z: 1, a: [1, 'two', { 'ü': '✓ \u0001' }], m: null, big: 2 ** 52, f: 0.1 };
        await store.createJob({ ...newJob, data });
        const got = await store.getJob<typeof data>('job-1');
        expect(JSON.stringify(got?.data)).toBe(JSON.stringify(data));
      });
    });

    describe('job leases', () => {
      const T = 1_800_000_000_000;
      const job = (jobId: string, henbId: string, over: { owner?: string | null; leaseUntil?: number | null } = {}): NewJob<object> =>
        ({ jobId, henbId, kind: 'software-update', state: 's', data: {}, ...over });
      const view = (jobs: JobRecord[]): Array<[string, string | null, number | null, number]> =>
        jobs.map((j): [string, string | null, number | null, number] => [j.jobId, j.owner, j.leaseUntil, j.version]).sort((x, y) => x[0].localeCompare(y[0]));

      it('createJob keeps an owner and lease; without them a job has none', async () => {
        expect(await store.createJob(job('j1', 'h1', { owner: 'A', leaseUntil: T + 1000 }))).toMatchObject({ owner: 'A', leaseUntil: T + 1000 });
        expect(await store.createJob(job('j2', 'h2'))).toMatchObject({ owner: null, leaseUntil: null });
        expect(await store.getJob('j1')).toMatchObject({ owner: 'A', leaseUntil: T + 1000 });
        await expect(store.createJob(job('j3', 'h3', { leaseUntil: T }))).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.createJob(job('j3', 'h3', { owner: '' }))).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.createJob(job('j3', 'h3', { owner: 'A', leaseUntil: Number.NaN }))).rejects.toThrow(code('ERR_STORE_INVALID'));
        expect(await store.getJob('j3')).toBeUndefined();
      });

      it('claimJobs takes unowned, own and expired jobs, never a live lease of another; taking from another moves the version', async () => {
        await store.createJob(job('j-a', 'h1', { owner: 'A', leaseUntil: T + 1000 })); // A's, live until T+1000
        await store.createJob(job('j-b', 'h2', { owner: 'B', leaseUntil: T - 1 })); // B's, expired
        await store.createJob(job('j-n', 'h3')); // nobody's
        await store.createJob(job('j-c', 'h4', { owner: 'C', leaseUntil: T + 1000 })); // C's own
        await store.createJob(job('j-f', 'h5'));
        await store.saveJobTransition('j-f', 'done', { expectPrevVersion: 1, terminal: true }); // final: never claimed
        expect(view(await store.claimJobs('C', 500, T))).toEqual([['j-b', 'C', T + 500, 2], ['j-c', 'C', T + 500, 1], ['j-n', 'C', T + 500, 1]]);
        expect(await store.getJob('j-a')).toMatchObject({ owner: 'A', leaseUntil: T + 1000, version: 1 });
        expect(await store.getJob('j-f')).toMatchObject({ owner: null, leaseUntil: null, version: 2 });
        // B lost j-b: its next transition (at the version it knew) fails
        await expect(store.saveJobTransition('j-b', 'x', { expectPrevVersion: 1 })).rejects.toThrow(code('ERR_STORE_CONFLICT'));
        // claiming again renews C's own jobs and keeps their versions
        expect(view(await store.claimJobs('C', 500, T + 100))).toEqual([['j-b', 'C', T + 600, 2], ['j-c', 'C', T + 600, 1], ['j-n', 'C', T + 600, 1]]);
        // A's lease ends at T+1000: then C takes that job too
        expect((await store.claimJobs('C', 500, T + 999)).map((j) => j.jobId)).not.toContain('j-a');
        expect(view(await store.claimJobs('C', 500, T + 1000))).toContainEqual(['j-a', 'C', T + 1500, 2]);
        // a transition keeps the owner and lease
        expect(await store.saveJobTransition('j-a', 'moved', { expectPrevVersion: 2 })).toMatchObject({ owner: 'C', leaseUntil: T + 1500, version: 3 });
      });

      it('claimExpiredJobs takes (and returns) only jobs the owner does not hold: unowned and expired; its own are left as they are', async () => {
        await store.createJob(job('j-a', 'h1', { owner: 'A', leaseUntil: T + 1000 })); // A's, live
        await store.createJob(job('j-b', 'h2', { owner: 'B', leaseUntil: T - 1 })); // B's, expired
        await store.createJob(job('j-n', 'h3')); // nobody's
        await store.createJob(job('j-c', 'h4', { owner: 'C', leaseUntil: T + 10 })); // C's own
        await store.createJob(job('j-f', 'h5'));
        await store.saveJobTransition('j-f', 'done', { expectPrevVersion: 1, terminal: true }); // final: never claimed
        expect(view(await store.claimExpiredJobs('C', 500, T))).toEqual([['j-b', 'C', T + 500, 2], ['j-n', 'C', T + 500, 1]]);
        expect(await store.getJob('j-c')).toMatchObject({ owner: 'C', leaseUntil: T + 10, version: 1 }); // not renewed, not read
        expect(await store.getJob('j-a')).toMatchObject({ owner: 'A', leaseUntil: T + 1000, version: 1 });
        expect(await store.getJob('j-f')).toMatchObject({ owner: null, version: 2 });
        // nothing left to take; A's lease ends at T+1000, then C takes that one only
        expect(await store.claimExpiredJobs('C', 500, T + 100)).toEqual([]);
        expect(view(await store.claimExpiredJobs('C', 500, T + 1000))).toEqual([['j-a', 'C', T + 1500, 2]]);
        await expect(store.claimExpiredJobs('', 1000, T)).rejects.toThrow(code('ERR_STORE_INVALID'));
      });

      it('renewLeases holds only the owner\'s active jobs, without writing their rows; releaseJobs frees them for anyone', async () => {
        await store.createJob(job('j1', 'h1', { owner: 'A', leaseUntil: T + 100 }));
        await store.createJob(job('j2', 'h2', { owner: 'B', leaseUntil: T + 100 }));
        await store.createJob(job('j3', 'h3', { owner: 'A', leaseUntil: T + 100 }));
        await store.saveJobTransition('j3', 'done', { expectPrevVersion: 1, terminal: true });
        expect(await store.renewLeases('A', 1000, T)).toBe(1);
        // the job rows are as they were (issue 15: a renewal no longer rewrites every active job of the instance)
        expect(view([(await store.getJob('j1'))!, (await store.getJob('j2'))!, (await store.getJob('j3'))!]))
          .toEqual([['j1', 'A', T + 100, 1], ['j2', 'B', T + 100, 1], ['j3', 'A', T + 100, 2]]);
        expect(view(await store.claimJobs('B', 1000, T + 500))).toEqual([['j2', 'B', T + 1500, 1]]); // A's renewed lease holds
        expect(await store.claimExpiredJobs('C', 1000, T + 999)).toEqual([]); // for anyone, until T+1000
        expect(await store.renewLeases('nobody', 1000, T)).toBe(1);
        expect(await store.releaseJobs('A')).toBe(1);
        expect(await store.getJob('j1')).toMatchObject({ owner: null, leaseUntil: null, version: 1 });
        expect(view(await store.claimJobs('B', 1000, T + 500))).toEqual([['j1', 'B', T + 1500, 1], ['j2', 'B', T + 1500, 1]]); // released: version kept
      });

      it('an instance that stops renewing loses its jobs once its heartbeat and their leases passed; a claim then moves their versions', async () => {
        for (let i = 0; i < 5; i++) await store.createJob(job(`a${i}`, `ha${i}`, { owner: 'A', leaseUntil: T + 100 }));
        await store.createJob(job('b0', 'hb0', { owner: 'B', leaseUntil: T + 100 }));
        // A renews (O(1)) for as long as it lives: nobody takes its jobs, their rows stay as they were
        for (let t = T; t < T + 3000; t += 300) {
          expect(await store.renewLeases('A', 1000, t)).toBe(1);
          expect(await store.claimExpiredJobs('B', 1000, t + 1)).toEqual([]);
        }
        expect((await store.listActiveJobs()).filter((j) => j.owner === 'A').map((j) => [j.leaseUntil, j.version])).toEqual(Array(5).fill([T + 100, 1]));
        // A's last heartbeat: T+2700+1000; B (renewing too) takes A's jobs from then, each version + 1, only once
        await store.renewLeases('B', 1000, T + 3000);
        expect(await store.claimExpiredJobs('B', 1000, T + 3699)).toEqual([]);
        expect(view(await store.claimExpiredJobs('B', 1000, T + 3700))).toEqual([0, 1, 2, 3, 4].map((i) => [`a${i}`, 'B', T + 4700, 2]));
        expect(await store.claimExpiredJobs('B', 1000, T + 3700)).toEqual([]);
        await expect(store.saveJobTransition('a0', 'x', { expectPrevVersion: 1 })).rejects.toThrow(code('ERR_STORE_CONFLICT'));
        // B's own jobs were never read nor written by its claims: b0 still has the lease it was created with
        expect(await store.getJob('b0')).toMatchObject({ owner: 'B', leaseUntil: T + 100, version: 1 });
        // an owner without a lease (leaseUntil null) counts as expired even while its heartbeat lives
        await store.createJob(job('c0', 'hc0', { owner: 'C' }));
        await store.renewLeases('C', 1000, T + 3700);
        expect(view(await store.claimExpiredJobs('B', 1000, T + 3701))).toEqual([['c0', 'B', T + 4701, 2]]);
      });

      it('releaseJobs ends the heartbeat too: a job the instance takes afterwards is held only by its own lease', async () => {
        await store.renewLeases('A', 10_000, T);
        await store.createJob(job('j1', 'h1'));
        expect(await store.takeJob('j1', 'A', 100, T)).toMatchObject({ owner: 'A', leaseUntil: T + 100 });
        expect(await store.claimExpiredJobs('B', 100, T + 5000)).toEqual([]); // A's heartbeat holds it
        expect(await store.releaseJobs('A')).toBe(1);
        expect(await store.takeJob('j1', 'A', 100, T + 5000)).toMatchObject({ owner: 'A', version: 1 });
        expect(view(await store.claimExpiredJobs('B', 100, T + 5100))).toEqual([['j1', 'B', T + 5200, 2]]);
      });

      it('takeJob takes one job whatever its lease; from another owner the version moves, so that owner\'s next move fails', async () => {
        await store.createJob(job('j-a', 'h1', { owner: 'A', leaseUntil: T + 1000 })); // A's, live
        await store.createJob(job('j-a2', 'h2', { owner: 'A', leaseUntil: T + 1000 })); // A's too, not asked for
        await store.createJob(job('j-n', 'h3')); // nobody's
        await store.createJob(job('j-c', 'h4', { owner: 'C', leaseUntil: T + 100 })); // C's own
        await store.createJob(job('j-f', 'h5', { owner: 'A', leaseUntil: T + 1000 }));
        await store.saveJobTransition('j-f', 'done', { expectPrevVersion: 1, terminal: true }); // final: never taken

        expect(await store.takeJob('j-a', 'C', 500, T)).toMatchObject({ jobId: 'j-a', state: 's', owner: 'C', leaseUntil: T + 500, version: 2 });
        expect(await store.getJob('j-a')).toMatchObject({ owner: 'C', leaseUntil: T + 500, version: 2 });
        expect(await store.getJob('j-a2')).toMatchObject({ owner: 'A', leaseUntil: T + 1000, version: 1 }); // only the job named
        expect(await store.listJobEvents('j-a')).toHaveLength(1); // a take is no transition
        // A lost j-a: its next transition (at the version it knew) fails and writes nothing
        await expect(store.saveJobTransition('j-a', 'x', { expectPrevVersion: 1 })).rejects.toThrow(code('ERR_STORE_CONFLICT'));
        expect(await store.getJob('j-a')).toMatchObject({ state: 's', owner: 'C', version: 2 });
        // an unowned job and the caller's own keep their versions (nobody else drives them); its own lease is renewed
        expect(await store.takeJob('j-n', 'C', 500, T)).toMatchObject({ owner: 'C', leaseUntil: T + 500, version: 1 });
        expect(await store.takeJob('j-c', 'C', 500, T + 10)).toMatchObject({ owner: 'C', leaseUntil: T + 510, version: 1 });
        // a final job or an unknown one: undefined, nothing written
        expect(await store.takeJob('j-f', 'C', 500, T)).toBeUndefined();
        expect(await store.getJob('j-f')).toMatchObject({ owner: 'A', leaseUntil: T + 1000, version: 2, terminal: true });
        expect(await store.takeJob('nope', 'C', 500, T)).toBeUndefined();
        expect(await store.getJob('nope')).toBeUndefined();
        // the taker moves the job on; a transition keeps the owner and lease
        expect(await store.saveJobTransition('j-a', 'moved', { expectPrevVersion: 2 })).toMatchObject({ owner: 'C', leaseUntil: T + 500, version: 3 });
        // inside a transaction that rolls back, a take is undone too
        await expect(store.transaction(async (tx) => {
          expect(await tx.takeJob('j-a', 'D', 500, T)).toMatchObject({ owner: 'D', version: 4 });
          throw new Error('rolled back');
        })).rejects.toThrow('rolled back');
        expect(await store.getJob('j-a')).toMatchObject({ owner: 'C', leaseUntil: T + 500, version: 3 });
      });

      it('takeJob with expectVersion takes the job only at that version', async () => {
        await store.createJob(job('j1', 'h1', { owner: 'A', leaseUntil: T + 1000 }));
        expect(await store.takeJob('j1', 'B', 500, T, 2)).toBeUndefined();
        expect(await store.getJob('j1')).toMatchObject({ owner: 'A', leaseUntil: T + 1000, version: 1 });
        expect(await store.takeJob('j1', 'B', 500, T, 1)).toMatchObject({ owner: 'B', leaseUntil: T + 500, version: 2 });
        // another taker that checked the job at version 1: too late, B keeps it
        expect(await store.takeJob('j1', 'C', 500, T, 1)).toBeUndefined();
        expect(await store.getJob('j1')).toMatchObject({ owner: 'B', version: 2 });
        // B's own job at its version: lease renewed, version kept
        expect(await store.takeJob('j1', 'B', 500, T + 1, 2)).toMatchObject({ owner: 'B', leaseUntil: T + 501, version: 2 });
      });

      it('of instances taking one job at once, it ends with one of them and every other\'s next move fails', async () => {
        await store.createJob(job('j1', 'h1', { owner: 'Z', leaseUntil: T + 60_000 }));
        const other = await open();
        const takes = await Promise.all([
          store.takeJob('j1', 'A', 1000, T), other.takeJob('j1', 'B', 1000, T), store.transaction((tx) => tx.takeJob('j1', 'C', 1000, T)),
          other.takeJob('j1', 'D', 1000, T),
        ]);
        // each take applied in turn (from another owner each time): versions 2..5, the last one holds the job
        expect(takes.map((t) => t?.version).sort()).toEqual([2, 3, 4, 5]);
        const last = takes.find((t) => t?.version === 5)!;
        expect(await store.getJob('j1')).toMatchObject({ owner: last.owner, version: 5 });
        const moves = await Promise.allSettled(takes.map((t) => store.saveJobTransition('j1', `by-${t!.owner}`, { expectPrevVersion: t!.version })));
        expect(moves.map((m) => m.status)).toEqual(takes.map((t) => (t === last ? 'fulfilled' : 'rejected')));
        for (const m of moves) if (m.status === 'rejected') expect(m.reason).toMatchObject({ code: 'ERR_STORE_CONFLICT' });
        expect(await store.getJob('j1')).toMatchObject({ state: `by-${last.owner}`, owner: last.owner, version: 6 });

        // with the version each checked: exactly one takes it, the others get undefined
        await store.createJob(job('j2', 'h2', { owner: 'Z', leaseUntil: T + 60_000 }));
        const checked = await Promise.all([
          store.takeJob('j2', 'A', 1000, T, 1), other.takeJob('j2', 'B', 1000, T, 1), store.transaction((tx) => tx.takeJob('j2', 'C', 1000, T, 1)),
          other.takeJob('j2', 'D', 1000, T, 1),
        ]);
        const won = checked.filter((t) => t !== undefined);
        expect(won).toHaveLength(1);
        expect(await store.getJob('j2')).toMatchObject({ owner: won[0]!.owner, version: 2 });
      });

      it('refuses bad lease arguments with ERR_STORE_INVALID and changes nothing', async () => {
        await store.createJob(job('j1', 'h1'));
        await expect(store.takeJob('', 'A', 1000, T)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.takeJob('j1', '', 1000, T)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.takeJob('j1', 'A', 0, T)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.takeJob('j1', 'A', 1000, Number.NaN)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.takeJob('j1', 'A', 1000, T, 0)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.takeJob('j1', 'A', 1000, T, 1.5)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.claimJobs('', 1000, T)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.claimJobs('A', 0, T)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.claimJobs('A', Number.NaN, T)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.renewLeases('A', -1, T)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.renewLeases('A', 1000, Number.POSITIVE_INFINITY)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.releaseJobs('')).rejects.toThrow(code('ERR_STORE_INVALID'));
        expect(await store.getJob('j1')).toMatchObject({ owner: null, version: 1 });
      });

      it('of instances claiming at once, each job goes to exactly one', async () => {
        // jobs of an instance whose lease expired: each taken once (version 2), never twice (3)
        for (let i = 0; i < 10; i++) await store.createJob(job(`j${i}`, `h${i}`, { owner: 'Z', leaseUntil: T - 1 }));
        const other = await open();
        const claims = await Promise.all([
          store.claimJobs('A', 1000, T), other.claimJobs('B', 1000, T), store.transaction((tx) => tx.claimJobs('C', 1000, T)),
          other.claimJobs('D', 1000, T),
        ]);
        const ids = claims.flatMap((c) => c.map((j) => j.jobId));
        expect(ids.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `j${i}`).sort());
        for (const [k, owner] of ['A', 'B', 'C', 'D'].entries()) {
          for (const j of claims[k]!) expect(await store.getJob(j.jobId)).toMatchObject({ owner, version: 2 });
        }
      });
    });

    describe('transactions', () => {
      it('commits the new RIM, version, job state and result together', async () => {
        await store.putHenb(henb());
        await store.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'tim-received', data: {} });
        const out = await store.transaction(async (tx) => {
          await tx.putHenb(henb({ rim: RIM1, softwareVersion: '2.0', lastResultToken: 'tok' }));
          await tx.putResult({ jobId: 'job-1', kind: 'final', henbId: 'henb-1', earStatus: 'affirming', token: 'tok' });
          await tx.saveJobTransition('job-1', 'verified', { expectPrevVersion: 1, terminal: true });
          return 'done';
        });
        expect(out).toBe('done');
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
          await tx.putNonce({ nonce: 'n1', purpose: 'p', expiresAt: Date.now() + 60_000 });
          await new Promise((r) => setTimeout(r, 5));
          throw boom;
        })).rejects.toBe(boom);
        expect(await store.getHenb('henb-1')).toMatchObject({ rim: RIM0, softwareVersion: '1.0' });
        expect(await store.getResults('job-1')).toEqual([]);
        expect(await store.getJob('job-1')).toMatchObject({ version: 1, state: 'tim-received', terminal: false });
        expect(await store.listJobEvents('job-1')).toHaveLength(1);
        expect(await store.consumeNonce('n1')).toEqual({ ok: false, reason: 'unknown' });
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

      it('a refused duplicate inside a transaction leaves it usable', async () => {
        await store.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'k', state: 's', data: {} });
        await store.transaction(async (tx) => {
          await expect(tx.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'k', state: 's', data: {} })).rejects.toThrow(code('ERR_STORE_DUPLICATE'));
          await tx.putNonce({ nonce: 'n1', purpose: 'p', expiresAt: 10 });
          await expect(tx.putNonce({ nonce: 'n1', purpose: 'p', expiresAt: 10 })).rejects.toThrow(code('ERR_STORE_DUPLICATE'));
          await tx.putHenb(henb());
        });
        expect(await store.getHenb('henb-1')).toBeDefined();
      });

      it('nested transactions roll back to their savepoint only', async () => {
        await store.transaction(async (tx) => {
          await tx.putHenb(henb());
          await expect(tx.transaction(async (inner) => {
            await inner.putHenb(henb({ henbId: 'henb-2' }));
            throw new Error('inner');
          })).rejects.toThrow('inner');
          await tx.transaction((inner) => inner.putHenb(henb({ henbId: 'henb-3' })));
          await tx.transaction(async (inner) => {
            await inner.putHenb(henb({ henbId: 'henb-4' }));
            await expect(inner.transaction(async (deeper) => {
              await deeper.putHenb(henb({ henbId: 'henb-5' }));
              throw new Error('deeper');
            })).rejects.toThrow('deeper');
          });
        });
        expect((await store.listHenbs()).map((x) => x.henbId)).toEqual(['henb-1', 'henb-3', 'henb-4']);
      });

      it('a throw after a nested transaction rolls back everything', async () => {
        await expect(store.transaction(async (tx) => {
          await tx.transaction((inner) => inner.putHenb(henb()));
          throw new Error('outer');
        })).rejects.toThrow('outer');
        expect(await store.listHenbs()).toEqual([]);
      });

      it('plain calls wait for an open transaction; calls from inside it join it', async () => {
        const gate = deferred();
        const order: string[] = [];
        const tx = store.transaction(async (t) => {
          await t.putHenb(henb());
          expect((await store.getHenb('henb-1'))?.rim).toBe(RIM0); // joins, does not deadlock
          await store.transaction((inner) => inner.putHenb(henb({ henbId: 'henb-2' }))); // nested through the store
          await gate.promise;
          await t.putHenb(henb({ rim: RIM1 }));
          order.push('commit');
        });
        await new Promise((r) => setTimeout(r, 5));
        const read = store.getHenb('henb-1').then((x) => { order.push('read'); return x; });
        await new Promise((r) => setTimeout(r, 5));
        expect(order).toEqual([]);
        gate.resolve();
        await tx;
        expect((await read)?.rim).toBe(RIM1);
        expect(order).toEqual(['commit', 'read']);
        expect(await store.getHenb('henb-2')).toBeDefined();
      });

      it('tracks the transaction context only while a transaction runs (issue 15: no async hook on the rest of the process)', async () => {
        // the store's AsyncLocalStorage (StoreBase): Node 20 runs a hook on every promise of the process while it is on
        const als = (store as unknown as { als: AsyncLocalStorage<unknown> }).als;
        const gate = deferred();
        let later: Promise<unknown> | undefined;
        await store.transaction(async (t) => {
          await t.putHenb(henb());
          expect(als.getStore()).toMatchObject({ active: true });
          later = gate.promise.then(() => als.getStore()); // a continuation made inside, run after the end
        });
        gate.resolve();
        expect(await later).toBeUndefined();
        // the next transaction turns it on again: a plain call from inside joins, a nested one is a savepoint
        await store.transaction(async (t) => {
          expect((await store.getHenb('henb-1'))?.rim).toBe(RIM0);
          await store.transaction((inner) => inner.putHenb(henb({ henbId: 'henb-2' })));
          await t.putHenb(henb({ rim: RIM1 }));
        });
        expect((await store.getHenb('henb-1'))?.rim).toBe(RIM1);
        expect(await store.getHenb('henb-2')).toBeDefined();
        expect(als.getStore()).toBeUndefined();
      });

      it('serialises transactions and refuses a tx handle used after the end', async () => {
        let leaked: StoreTx | undefined;
        const results = await Promise.all([1, 2, 3].map((i) => store.transaction(async (tx) => {
          leaked = tx;
          const cur = (await tx.getReferenceLog<number>('counter'))?.log ?? 0;
          await new Promise((r) => setTimeout(r, 2));
          await tx.putReferenceLog('counter', cur + i);
          return cur + i;
        })));
        expect(results).toEqual([1, 3, 6]);
        await expect((leaked as StoreTx).getHenb('x')).rejects.toThrow(code('ERR_STORE_CLOSED'));
        await expect((leaked as StoreTx).transaction(() => 1)).rejects.toThrow(code('ERR_STORE_CLOSED'));
      });

      it('transaction handles share their operations: none is made per transaction (issue 15)', async () => {
        const handles: StoreTx[] = [];
        await store.transaction(async (tx) => {
          handles.push(tx);
          await tx.transaction((inner) => { handles.push(inner); });
        });
        await store.transaction((tx) => { handles.push(tx); });
        const [a, nested, b] = handles as [StoreTx, StoreTx, StoreTx];
        for (const op of ['getHenb', 'putHenb', 'saveJobTransition', 'listJobEvents', 'appendAudit', 'transaction'] as const) {
          expect(typeof a[op]).toBe('function');
          expect(b[op]).toBe(a[op]);
          expect(nested[op]).toBe(a[op]);
        }
        // each handle still answers for its own transaction only
        await expect(a.getHenb('x')).rejects.toThrow(code('ERR_STORE_CLOSED'));
        await expect(nested.transaction(() => 1)).rejects.toThrow(code('ERR_STORE_CLOSED'));
      });

      it('close waits for the open transaction to finish', async () => {
        const gate = deferred();
        const tx = store.transaction(async (t) => {
          await gate.promise;
          await t.putHenb(henb());
        });
        await new Promise((r) => setTimeout(r, 5));
        const closing = store.close();
        gate.resolve();
        await tx;
        await closing;
        const again = await open();
        expect(await again.getHenb('henb-1')).toBeDefined();
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

    describe('nonces, jtis, results, reference logs', () => {
      it('consumes a nonce once', async () => {
        expect(await store.putNonce({ nonce: 'n1', purpose: 'p', henbId: 'henb-1', expiresAt: 2000, createdAt: 1000 }))
          .toEqual({ nonce: 'n1', purpose: 'p', jobId: null, henbId: 'henb-1', createdAt: 1000, expiresAt: 2000, consumedAt: null });
        await store.putNonce({ nonce: 'n2', purpose: 'p', expiresAt: 2000 });
        await expect(store.putNonce({ nonce: 'n1', purpose: 'p', expiresAt: 3000 })).rejects.toThrow(code('ERR_STORE_DUPLICATE'));
        await expect(store.putNonce({ nonce: 'n3', purpose: 'p' } as never)).rejects.toThrow(code('ERR_STORE_INVALID'));
        expect(await store.consumeNonce('n1', 1500)).toEqual({ ok: true, record: { nonce: 'n1', purpose: 'p', jobId: null, henbId: 'henb-1', createdAt: 1000, expiresAt: 2000, consumedAt: 1500 } });
        expect(await store.consumeNonce('n1', 1500)).toEqual({ ok: false, reason: 'consumed' });
        expect(await store.consumeNonce('zz', 1500)).toEqual({ ok: false, reason: 'unknown' });
        expect(await store.consumeNonce('n2', 2000)).toEqual({ ok: false, reason: 'expired' });
        expect(await store.consumeNonce('n1', 9000)).toEqual({ ok: false, reason: 'consumed' }); // consumed wins over expired
      });
      it('consumes a nonce once even when asked concurrently', async () => {
        await store.putNonce({ nonce: 'n1', purpose: 'p', expiresAt: Date.now() + 60_000 });
        const other = await open();
        const got = await Promise.all([store.consumeNonce('n1'), other.consumeNonce('n1'), store.consumeNonce('n1'), other.consumeNonce('n1')]);
        expect(got.filter((g) => g.ok)).toHaveLength(1);
        expect(got.filter((g) => !g.ok)).toEqual([{ ok: false, reason: 'consumed' }, { ok: false, reason: 'consumed' }, { ok: false, reason: 'consumed' }]);
      });
      it('remembers a jti until it expires, and purges', async () => {
        expect(await store.rememberJti('j1', 2000, 1000)).toBe(true);
        expect(await store.rememberJti('j1', 2000, 1500)).toBe(false);
        expect(await store.rememberJti('j1', 4000, 2000)).toBe(true);
        expect(await store.rememberJti('j1', 4000, 3999)).toBe(false);
        await expect(store.rememberJti('', 4000, 1)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.rememberJti('j2', Number.NaN, 1)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await store.putNonce({ nonce: 'old', purpose: 'p', expiresAt: 10 });
        await store.putNonce({ nonce: 'young', purpose: 'p', expiresAt: 10_000 });
        expect(await store.purgeExpired(5000)).toBe(2);
        expect(await store.purgeExpired(5000)).toBe(0);
        expect(await store.consumeNonce('young', 6000)).toMatchObject({ ok: true });
      });
      it('keeps one result per job and kind, lists by henb', async () => {
        expect(await store.putResult({ jobId: 'j', kind: 'pve', henbId: 'h', earStatus: 'affirming', token: 'a', createdAt: 1 }))
          .toEqual({ jobId: 'j', kind: 'pve', henbId: 'h', earStatus: 'affirming', token: 'a', createdAt: 1 });
        await store.putResult({ jobId: 'j', kind: 'final', henbId: 'h', earStatus: 'contraindicated', token: 'b', createdAt: 2 });
        await store.putResult({ jobId: 'k', kind: 'final', henbId: 'g', earStatus: 'affirming', token: 'c', createdAt: 3 });
        await expect(store.putResult({ jobId: 'j', kind: 'final', henbId: 'h', earStatus: 'x', token: 'c' })).rejects.toThrow(code('ERR_STORE_DUPLICATE'));
        await expect(store.putResult({ jobId: 'j', kind: 'x', henbId: 'h', earStatus: 'x', token: '' })).rejects.toThrow(code('ERR_STORE_INVALID'));
        expect((await store.getResults('j')).map((r) => r.token)).toEqual(['a', 'b']);
        expect((await store.listResults({ henbId: 'h' })).map((r) => r.token)).toEqual(['b', 'a']);
        expect((await store.listResults({ limit: 1 })).map((r) => r.token)).toEqual(['c']);
        expect((await store.listResults()).map((r) => r.token)).toEqual(['c', 'b', 'a']);
      });
      it('refuses a createdAt that is not whole epoch milliseconds with ERR_STORE_INVALID (not DUPLICATE) and writes nothing', async () => {
        const result = { jobId: 'j', kind: 'pve', henbId: 'h', earStatus: 'affirming', token: 'a' };
        for (const createdAt of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e20, '5' as never]) {
          await expect(store.putResult({ ...result, createdAt }), String(createdAt)).rejects.toThrow(code('ERR_STORE_INVALID'));
          await expect(store.putNonce({ nonce: 'n1', purpose: 'p', expiresAt: 10, createdAt }), String(createdAt)).rejects.toThrow(code('ERR_STORE_INVALID'));
        }
        expect(await store.getResults('j')).toEqual([]);
        expect(await store.consumeNonce('n1', 1)).toEqual({ ok: false, reason: 'unknown' });
        // whole milliseconds (also 0 and before 1970) are kept as given; absent means now
        expect(await store.putResult({ ...result, createdAt: 0 })).toMatchObject({ createdAt: 0 });
        expect(await store.putResult({ ...result, kind: 'final', createdAt: -1 })).toMatchObject({ createdAt: -1 });
        expect(await store.putNonce({ nonce: 'n1', purpose: 'p', expiresAt: 10, createdAt: 7 })).toMatchObject({ createdAt: 7 });
        const before = Date.now();
        expect((await store.putNonce({ nonce: 'n2', purpose: 'p', expiresAt: 10 })).createdAt).toBeGreaterThanOrEqual(before);
        expect((await store.getResults('j')).map((r) => r.createdAt)).toEqual([-1, 0]);
      });
      it('refuses a time beyond the integer columns with ERR_STORE_INVALID (not DUPLICATE) and writes nothing', async () => {
        await expect(store.createJob({ jobId: 'job-1', henbId: 'h', kind: 'k', state: 's', data: {}, deadline: 1e20 })).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.putNonce({ nonce: 'n1', purpose: 'p', expiresAt: 1e20 })).rejects.toThrow(code('ERR_STORE_INVALID'));
        expect(await store.getJob('job-1')).toBeUndefined();
        expect(await store.consumeNonce('n1', 1)).toEqual({ ok: false, reason: 'unknown' });
      });
      it('stores reference logs as JSON, one per H(e)NB', async () => {
        const first = await store.putReferenceLog('r1', { henbs: ['a', 'b'], uri: 'https://x' });
        const second = await store.putReferenceLog('r1', { henbs: ['a'], uri: 'https://x' });
        expect(second.createdAt).toBe(first.createdAt);
        expect(await store.getReferenceLog('r1')).toEqual(second);
        expect(second).toMatchObject({ henbId: 'r1', log: { henbs: ['a'] } });
        expect((await store.listReferenceLogs()).map((r) => r.henbId)).toEqual(['r1']);
        expect(await store.getReferenceLog('nope')).toBeUndefined();
        await expect(store.putReferenceLog('r2', undefined)).rejects.toThrow(code('ERR_STORE_INVALID'));
      });
    });

    describe('the notification log (RFC 5277 replay, migration 6)', () => {
      const T = 1_800_000_000_000;
      it('appends with increasing ids and lists by time window, stream and id bounds, oldest first', async () => {
        expect(await store.lastNotificationId()).toBe(0);
        const a = await store.appendNotification('NETCONF', T + 1000, '<a/>');
        const b = await store.appendNotification('henb', T + 2000, '<b/>');
        const c = await store.appendNotification('henb', T + 3000, '<c xmlns="urn:x">&amp;</c>');
        expect(a).toBeLessThan(b);
        expect(b).toBeLessThan(c);
        expect(await store.lastNotificationId()).toBe(c);
        const xml = async (q: Parameters<Store['listNotifications']>[0]): Promise<string[]> => (await store.listNotifications(q)).map((n) => n.xml);
        expect(await xml({ since: T })).toEqual(['<a/>', '<b/>', '<c xmlns="urn:x">&amp;</c>']);
        expect(await xml({ since: T + 2000 })).toEqual(['<b/>', '<c xmlns="urn:x">&amp;</c>']);
        expect(await xml({ stream: 'henb', since: T, until: T + 2000 })).toEqual(['<b/>']);
        expect(await xml({ since: T, upToId: b })).toEqual(['<a/>', '<b/>']);
        expect(await xml({ since: T, afterId: a, limit: 1 })).toEqual(['<b/>']);
        expect((await store.listNotifications({ since: T + 3000 }))[0]).toEqual({ id: c, stream: 'henb', eventTime: T + 3000, xml: '<c xmlns="urn:x">&amp;</c>' });
      });
      it('is shared: another store on the database sees the notifications and continues the ids', async () => {
        const a = await store.appendNotification('henb', T, '<a/>');
        const other = await open();
        expect((await other.listNotifications({ since: 0 })).map((n) => n.id)).toEqual([a]);
        expect(await other.appendNotification('henb', T, '<b/>')).toBeGreaterThan(a);
        expect((await store.listNotifications({ since: 0 })).map((n) => n.xml)).toEqual(['<a/>', '<b/>']);
        expect(await other.notificationLogTimes()).toEqual(await store.notificationLogTimes());
      });
      it('retention: by count and by age; the newest eventTime removed becomes agedAt; ids are not reused', async () => {
        const before = await store.notificationLogTimes();
        expect(before.agedAt).toBeNull();
        expect(before.createdAt).toBeGreaterThan(T - 10 * 365 * 86_400_000);
        for (let i = 0; i < 10; i++) await store.appendNotification('henb', T + i * 1000, `<e${i}/>`);
        expect(await store.pruneNotifications(5, 0)).toBe(5);
        expect((await store.listNotifications({ since: 0 })).map((n) => n.xml)).toEqual(['<e5/>', '<e6/>', '<e7/>', '<e8/>', '<e9/>']);
        expect(await store.notificationLogTimes()).toEqual({ createdAt: before.createdAt, agedAt: T + 4000 });
        expect(await store.pruneNotifications(5, 0)).toBe(0);
        expect(await store.pruneNotifications(100, T + 7000)).toBe(2);
        expect((await store.notificationLogTimes()).agedAt).toBe(T + 6000);
        const last = await store.lastNotificationId();
        expect(await store.pruneNotifications(0, 0)).toBe(3);
        expect(await store.lastNotificationId()).toBe(0);
        expect(await store.appendNotification('henb', T, '<again/>')).toBeGreaterThan(last);
        // an older removal does not move agedAt back
        expect(await store.pruneNotifications(0, 0)).toBe(1);
        expect((await store.notificationLogTimes()).agedAt).toBe(T + 9000);
      });
      it('appendNotifications: several in one transaction, ids increasing in the given order, after and before single appends (issue 15)', async () => {
        const a = await store.appendNotification('henb', T, '<a/>');
        const ids = await store.appendNotifications([
          { stream: 'henb', eventTime: T + 3000, xml: '<b/>' },
          { stream: 'NETCONF', eventTime: T + 1000, xml: '<c/>' },
          { stream: 'henb', eventTime: T + 2000, xml: '<d/>' },
        ]);
        expect(ids).toHaveLength(3);
        expect(ids[0]).toBeGreaterThan(a);
        expect(ids[1]).toBeGreaterThan(ids[0]!);
        expect(ids[2]).toBeGreaterThan(ids[1]!);
        const e = await store.appendNotification('henb', T, '<e/>');
        expect(e).toBeGreaterThan(ids[2]!);
        expect(await store.appendNotifications([])).toEqual([]);
        expect(await store.lastNotificationId()).toBe(e);
        // replay order is id order, whatever the event times
        expect((await store.listNotifications({ since: 0 })).map((n) => [n.id, n.stream, n.xml])).toEqual([
          [a, 'henb', '<a/>'], [ids[0], 'henb', '<b/>'], [ids[1], 'NETCONF', '<c/>'], [ids[2], 'henb', '<d/>'], [e, 'henb', '<e/>'],
        ]);
      });
      it('appendNotifications: a bad event anywhere is ERR_STORE_INVALID and nothing of the list is written', async () => {
        const ok = { stream: 'henb', eventTime: T, xml: '<ok/>' };
        await expect(store.appendNotifications([ok, { ...ok, eventTime: 1.5 }])).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.appendNotifications([ok, ok, { ...ok, stream: '' }])).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.appendNotifications([{ ...ok, xml: undefined as unknown as string }, ok])).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.appendNotifications([ok, null as unknown as typeof ok])).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.appendNotifications('x' as unknown as [])).rejects.toThrow(code('ERR_STORE_INVALID'));
        expect(await store.lastNotificationId()).toBe(0);
      });
      it('appendNotifications: the database failing on the third of five rows stores none of them; what was committed before stays', async () => {
        const before = await store.appendNotifications([{ stream: 'henb', eventTime: T, xml: '<kept/>' }]);
        await h.refuseNotificationXml('<boom/>');
        const list = ['<1/>', '<2/>', '<boom/>', '<4/>', '<5/>'].map((xml, i) => ({ stream: 'henb', eventTime: T + i, xml }));
        await expect(store.appendNotifications(list)).rejects.toThrow();
        expect((await store.listNotifications({ since: 0 })).map((n) => [n.id, n.xml])).toEqual([[before[0], '<kept/>']]);
        expect(await store.lastNotificationId()).toBe(before[0]);
        // the store stays usable, and the next ids are still increasing
        const next = await store.appendNotifications([list[0]!, list[1]!]);
        expect(next[0]).toBeGreaterThan(before[0]!);
        expect((await store.listNotifications({ since: 0 })).map((n) => n.xml)).toEqual(['<kept/>', '<1/>', '<2/>']);
      });
      it('appendNotifications inside a transaction that rolls back stores nothing', async () => {
        await expect(store.transaction(async (tx) => {
          await tx.appendNotifications([{ stream: 'henb', eventTime: T, xml: '<a/>' }, { stream: 'henb', eventTime: T, xml: '<b/>' }]);
          throw new Error('rolled back');
        })).rejects.toThrow('rolled back');
        expect(await store.lastNotificationId()).toBe(0);
      });
      it('refuses bad input with ERR_STORE_INVALID and writes nothing', async () => {
        await expect(store.appendNotification('', T, '<a/>')).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.appendNotification('henb', 1.5, '<a/>')).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.appendNotification('henb', T, undefined as unknown as string)).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.listNotifications({ since: Number.NaN })).rejects.toThrow(code('ERR_STORE_INVALID'));
        await expect(store.pruneNotifications(-1, 0)).rejects.toThrow(code('ERR_STORE_INVALID'));
        expect(await store.lastNotificationId()).toBe(0);
      });
    });

    describe('jti replay cache (storeReplayCache)', () => {
      it('refuses a replayed token, also after a restart', async () => {
        const key = await generateSigningKey();
        const token = await signResult({
          iss: 'pve', aud: 'oam', sub: 'henb-1', ear_status: 'affirming', ear_verifier_id: { developer: 'd', build: 'b' },
          submods: { platform: { ear_status: 'affirming', 'job-id': 'job-1', phase: 'pre-update' } },
        }, key);
        const opts = (s: Store) => ({ keys: [key.publicJwk], issuer: 'pve', audience: 'oam', maxAgeSec: 120, replayCache: storeReplayCache(s) });
        await expect(verifyResult(token, opts(store))).resolves.toMatchObject({ claims: { sub: 'henb-1' } });
        await expect(verifyResult(token, opts(store))).rejects.toThrow(code('ERR_TOKEN_REPLAY'));
        await store.close();
        const again = await open();
        await expect(verifyResult(token, opts(again))).rejects.toThrow(code('ERR_TOKEN_REPLAY'));
      });
    });
  });
}
