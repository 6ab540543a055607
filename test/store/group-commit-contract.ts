/**
 * Group commit of transactions (Store.transaction with the `groupCommit` option, src/store/base.ts) as one suite
 * that both drivers run: test/store/sqlite.test.ts against SQLite, test/interop/postgres-store.test.ts against a
 * real PostgreSQL. COMMITs are counted with the store's commitStats; nothing here depends on time.
 */
import { describe, expect, it } from 'vitest';
import type { CommitStats } from '../../src/store/base.js';
import type { HenbInput, Store, StoreTx } from '../../src/store/index.js';
import { useStores } from './use-stores.js';
import type { FreshDatabase } from './use-stores.js';

export interface GroupCommitHarness extends FreshDatabase {
  /** a Store on the current database (another connection each call) */
  open(options: { groupCommit: boolean }): Promise<Store>;
  /**
   * makes the database refuse the COMMIT (a deferred check, not the INSERT itself) of every transaction that
   * inserted the H(e)NB `henbId`
   */
  failCommitOf(henbId: string): Promise<void>;
}

const code = (c: string): unknown => expect.objectContaining({ code: c });
const henb = (henbId: string): HenbInput => ({ henbId, rim: 'a'.repeat(64), softwareVersion: '1.0', state: 'trusted', lastResultToken: null });
const statsOf = (s: Store): CommitStats => ({ ...(s as unknown as { commitStats: CommitStats }).commitStats });
const ids = async (s: Store): Promise<string[]> => (await s.listHenbs()).map((h) => h.henbId);

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** a few turns of the event loop (bounded; no time involved) */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

export function groupCommitContract(name: string, h: GroupCommitHarness): void {
  describe(`group commit: ${name}`, () => {
    let store: Store;
    const open = useStores(h, (groupCommit: boolean = true) => h.open({ groupCommit }), (s) => (store = s));

    it('transactions asked for together share one COMMIT; each resolves with its own value', async () => {
      const before = statsOf(store);
      const out = await Promise.all([1, 2, 3, 4, 5].map((i) => store.transaction(async (tx) => {
        await tx.putHenb(henb(`henb-${i}`));
        return i * 10;
      })));
      expect(out).toEqual([10, 20, 30, 40, 50]);
      expect(statsOf(store)).toEqual({ commits: before.commits + 1, transactions: before.transactions + 5 });
      expect(await ids(store)).toEqual(['henb-1', 'henb-2', 'henb-3', 'henb-4', 'henb-5']);
    });

    it('plain writes that would commit on their own share the group (the audited ones with every driver)', async () => {
      const before = statsOf(store);
      await store.putNonce({ nonce: 'n1', purpose: 'p', expiresAt: Date.now() + 60_000 });
      const outcomes = await Promise.allSettled([
        store.putHenb(henb('henb-1')),
        store.transaction((tx) => tx.putHenb(henb('henb-2'))),
        store.putNonce({ nonce: 'n1', purpose: 'p', expiresAt: Date.now() + 60_000 }), // a duplicate: fails alone
        store.saveJobTransition('missing', 's', { expectPrevVersion: 1 }), // fails alone
        store.putHenb(henb('henb-3')),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
      expect((outcomes[2] as PromiseRejectedResult).reason).toEqual(code('ERR_STORE_DUPLICATE'));
      expect((outcomes[3] as PromiseRejectedResult).reason).toEqual(code('ERR_STORE_NOT_FOUND'));
      const after = statsOf(store);
      expect(after.commits - before.commits).toBeLessThanOrEqual(2); // the putNonce before, and one group
      expect(after.transactions - before.transactions).toBeGreaterThanOrEqual(3);
      expect(await ids(store)).toEqual(['henb-1', 'henb-2', 'henb-3']);
      expect((await store.listAudit()).map((a) => a.object)).toEqual(['henb/henb-1', 'henb/henb-2', 'henb/henb-3']);
    });

    it('without the option, each transaction has its own COMMIT', async () => {
      const single = await open(false);
      const before = statsOf(single);
      await Promise.all([1, 2, 3].map((i) => single.transaction((tx) => tx.putHenb(henb(`henb-${i}`)))));
      expect(statsOf(single)).toEqual({ commits: before.commits + 3, transactions: before.transactions + 3 });
    });

    it('transactions asked for while a group is open form the next group, in call order', async () => {
      const gate = deferred();
      const before = statsOf(store);
      const first = store.transaction(async (tx) => {
        await tx.putHenb(henb('henb-0'));
        await gate.promise;
      });
      await turns();
      const next = [1, 2, 3].map((i) => store.transaction((tx) => tx.putHenb(henb(`henb-${i}`))));
      await turns();
      gate.resolve();
      await Promise.all([first, ...next]);
      expect(statsOf(store).commits).toBe(before.commits + 2);
      expect(await ids(store)).toEqual(['henb-0', 'henb-1', 'henb-2', 'henb-3']);
    });

    it('run in call order, each seeing what the earlier ones of its group wrote', async () => {
      const out = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => store.transaction(async (tx) => {
        const seen = (await tx.getReferenceLog<number[]>('order'))?.log ?? [];
        await tx.putReferenceLog('order', [...seen, i]);
        return seen.length;
      })));
      expect(out).toEqual([0, 1, 2, 3, 4, 5]);
      expect((await store.getReferenceLog<number[]>('order'))?.log).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it('one throwing transaction is rolled back alone and rejects alone', async () => {
      const before = statsOf(store);
      const boom = new Error('boom');
      const outcomes = await Promise.allSettled([
        store.transaction((tx) => tx.putHenb(henb('henb-1'))),
        store.transaction(async (tx) => {
          await tx.putHenb(henb('henb-2'));
          await tx.putReferenceLog('henb-2', { x: 1 });
          throw boom;
        }),
        store.transaction(async (tx) => {
          expect(await tx.getHenb('henb-2')).toBeUndefined(); // rolled back before this one ran
          return (await tx.getHenb('henb-1'))?.henbId;
        }),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toBe(boom);
      expect((outcomes[2] as PromiseFulfilledResult<unknown>).value).toBe('henb-1');
      expect(statsOf(store)).toEqual({ commits: before.commits + 1, transactions: before.transactions + 2 });
      expect(await ids(store)).toEqual(['henb-1']);
      expect(await store.getReferenceLog('henb-2')).toBeUndefined();
    });

    it('a store error in one transaction (stale version) leaves the others of its group usable', async () => {
      await store.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'k', state: 's', data: {} });
      const outcomes = await Promise.allSettled([
        store.transaction((tx) => tx.saveJobTransition('job-1', 'a', { expectPrevVersion: 1 })),
        store.transaction((tx) => tx.saveJobTransition('job-1', 'b', { expectPrevVersion: 1 })),
        store.transaction((tx) => tx.saveJobTransition('job-1', 'c', { expectPrevVersion: 2 })),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toEqual(code('ERR_STORE_CONFLICT'));
      expect(await store.getJob('job-1')).toMatchObject({ state: 'c', version: 3 });
      expect((await store.listJobEvents('job-1')).map((e) => e.toState)).toEqual(['s', 'a', 'c']);
    });

    it('a failed COMMIT rejects every transaction of the group and stores none of them; the store goes on', async () => {
      await store.putHenb(henb('henb-0'));
      await h.failCommitOf('henb-bad');
      const own = new Error('own');
      const outcomes = await Promise.allSettled([
        store.transaction((tx) => tx.putHenb(henb('henb-1'))),
        store.transaction(async (tx) => {
          await tx.putHenb(henb('henb-2'));
          throw own;
        }),
        store.transaction((tx) => tx.putHenb(henb('henb-bad'))),
        store.transaction((tx) => tx.putReferenceLog('henb-0', { y: 2 })),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toBe(own);
      const commitError = (outcomes[0] as PromiseRejectedResult).reason;
      expect(commitError).not.toBe(own);
      expect((outcomes[2] as PromiseRejectedResult).reason).toBe(commitError);
      expect((outcomes[3] as PromiseRejectedResult).reason).toBe(commitError);
      expect(await ids(store)).toEqual(['henb-0']);
      expect(await store.getReferenceLog('henb-0')).toBeUndefined();
      await store.transaction((tx) => tx.putHenb(henb('henb-9')));
      expect(await ids(store)).toEqual(['henb-0', 'henb-9']);
    });

    it('resolves only after the shared COMMIT: then another connection reads it; not before', async () => {
      const other = await open(false);
      const gate = deferred();
      let firstDone = false;
      const first = store.transaction((tx) => tx.putHenb(henb('henb-1'))).then(async (v) => {
        firstDone = true;
        // at the moment it resolves, another connection (another OAM instance) reads it committed
        expect(await other.getHenb('henb-1')).toBeDefined();
        return v;
      });
      const last = store.transaction(async (tx) => {
        await tx.putHenb(henb('henb-2'));
        await gate.promise;
      });
      await turns();
      expect(firstDone).toBe(false); // its own work is done, but the group's COMMIT is not
      expect(await other.getHenb('henb-1')).toBeUndefined();
      gate.resolve();
      await Promise.all([first, last]);
      expect(firstDone).toBe(true);
    });

    it('a handle used after its own transaction ended is refused while its group goes on', async () => {
      const gate = deferred();
      let leaked: StoreTx | undefined;
      const first = store.transaction((tx) => { leaked = tx; });
      const second = store.transaction(async (tx) => {
        await expect((leaked as StoreTx).putHenb(henb('henb-x'))).rejects.toThrow(code('ERR_STORE_CLOSED'));
        await tx.putHenb(henb('henb-2'));
        await gate.promise;
      });
      await turns();
      gate.resolve();
      await Promise.all([first, second]);
      expect(await ids(store)).toEqual(['henb-2']);
    });

    it('nested transactions and plain calls inside a grouped transaction join it; plain calls outside wait for the group', async () => {
      const gate = deferred();
      const order: string[] = [];
      const group = Promise.all([
        store.transaction(async (tx) => {
          await tx.putHenb(henb('henb-1'));
          await expect(tx.transaction(async (inner) => {
            await inner.putHenb(henb('henb-x'));
            throw new Error('inner');
          })).rejects.toThrow('inner');
          expect(await store.getHenb('henb-1')).toBeDefined(); // a plain call from inside joins
        }),
        store.transaction(async (tx) => {
          await tx.putHenb(henb('henb-2'));
          await gate.promise;
          order.push('commit');
        }),
      ]);
      await turns();
      const read = store.getHenb('henb-2').then((x) => { order.push('read'); return x; });
      await turns();
      expect(order).toEqual([]);
      gate.resolve();
      await group;
      expect(await read).toBeDefined();
      expect(order).toEqual(['commit', 'read']);
      expect(await ids(store)).toEqual(['henb-1', 'henb-2']);
    });

    it('close waits for the group under way and for the transactions queued when it was called', async () => {
      const pending = [1, 2, 3].map((i) => store.transaction((tx) => tx.putHenb(henb(`henb-${i}`))));
      await store.close();
      await Promise.all(pending);
      await expect(store.transaction(() => 1)).rejects.toThrow(code('ERR_STORE_CLOSED'));
      const again = await open();
      expect(await ids(again)).toEqual(['henb-1', 'henb-2', 'henb-3']);
    });
  });
}
