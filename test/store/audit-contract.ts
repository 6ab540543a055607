/**
 * The audit log (src/store/audit.ts) as one suite that every driver runs: test/store/audit.test.ts against SQLite,
 * test/interop/postgres-store.test.ts against a real PostgreSQL. Every tamper case is made with SQL on the
 * database, as someone with write access to it would, and `verifyAuditChain` must name the first bad record
 * and what is wrong with it.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { auditHash, verifyAuditChain } from '../../src/store/index.js';
import type { AuditRecord, Store } from '../../src/store/index.js';
import { auditHeadChecker, generateSigningKey, signAuditHead } from '../../src/tokens/index.js';
import type { SigningKey } from '../../src/tokens/index.js';
import { useStores } from './use-stores.js';
import type { FreshDatabase } from './use-stores.js';

export interface AuditHarness extends FreshDatabase {
  kind: Store['kind'];
  /** a Store on the current database; every call is another connection (another OAM instance) */
  open(): Promise<Store>;
  /** runs SQL on the current database outside any store (as an attacker with database access would) */
  exec(sql: string): Promise<void>;
}

export function auditContract(name: string, h: AuditHarness): void {
  describe(`audit log: ${name}`, () => {
    let store: Store;
    let key: SigningKey;
    const open = useStores(h, () => h.open(), (s) => (store = s));
    beforeEach(async () => {
      key ??= await generateSigningKey('ES256', 'oam');
    });

    async function append(n: number, s: Store = store): Promise<AuditRecord[]> {
      const out: AuditRecord[] = [];
      for (let i = 0; i < n; i++) {
        out.push(await s.appendAudit({ actor: `netconf:admin@${i + 1}`, action: 'config-edit', object: 'running', details: { i, changed: [{ module: 'henb-sw-verify', node: 'inventory' }] } }));
      }
      return out;
    }
    async function seal(s: Store = store, k: SigningKey = key): Promise<void> {
      const head = (await s.lastAudit())!;
      await s.putAuditHead({ seq: head.seq, hash: head.hash, kid: k.kid, jws: await signAuditHead(head, k), signedAt: Date.now() });
    }
    async function verify(s: Store = store, k: SigningKey = key): Promise<Awaited<ReturnType<typeof verifyAuditChain>>> {
      return verifyAuditChain(await s.listAudit({ limit: 100_000 }), await s.listAuditHeads(), auditHeadChecker({ keys: [k.publicJwk] }));
    }

    it('appends a chain: seq 1, 2, ...; each record holds the previous hash and its own', async () => {
      const recs = await append(3);
      expect(recs.map((r) => r.seq)).toEqual([1, 2, 3]);
      expect(recs[0]!.prevHash).toBe('0'.repeat(64));
      expect(recs[1]!.prevHash).toBe(recs[0]!.hash);
      for (const r of recs) expect(auditHash(r)).toBe(r.hash);
      expect(await store.listAudit()).toEqual(recs);
      expect(await store.listAudit({ afterSeq: 1, limit: 1 })).toEqual([recs[1]]);
      expect(await store.lastAudit()).toEqual(recs[2]);
    });

    it('refuses a bad record (ERR_STORE_INVALID) and writes nothing', async () => {
      await expect(store.appendAudit({ actor: '', action: 'x', object: 'y' })).rejects.toMatchObject({ code: 'ERR_STORE_INVALID' });
      await expect(store.appendAudit({ actor: 'a', action: 'x', object: 'y', details: { n: 1n } })).rejects.toMatchObject({ code: 'ERR_STORE_INVALID' });
      await expect(store.putAuditHead({ seq: 0, hash: 'x', kid: 'k', jws: 'a.b.c', signedAt: 1 })).rejects.toMatchObject({ code: 'ERR_STORE_INVALID' });
      expect(await store.listAudit()).toEqual([]);
    });

    it('an intact chain with a signed head verifies; records after the head are an unsigned tail', async () => {
      expect((await verify()).ok).toBe(true); // empty
      await append(4);
      await seal();
      await append(2);
      const v = await verify();
      expect(v).toMatchObject({ ok: true, records: 6, lastSeq: 6, signedSeq: 4, signedKid: key.kid, unsignedTail: 2, heads: 1, problem: null });
    });

    it('records without any signed head do not verify (unsigned)', async () => {
      await append(2);
      expect((await verify()).problem).toMatchObject({ kind: 'unsigned', seq: 1 });
    });

    it('records its own changes in the same transaction: job creation and transitions, RIM, quarantine, reference log', async () => {
      await store.putHenb({ henbId: 'henb-1', rim: 'a'.repeat(64), softwareVersion: '1.0', state: 'trusted', lastResultToken: null });
      await store.putHenb({ henbId: 'henb-1', rim: 'a'.repeat(64), softwareVersion: '1.0', state: 'trusted', lastResultToken: 'tok' }); // nothing audit-worthy
      const job = await store.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'created', data: {}, reason: 'by admin' });
      await store.transaction(async (tx) => {
        await tx.saveJobTransition('job-1', 'verified', { expectPrevVersion: job.version, terminal: true, reason: 'tim matches' });
        await tx.putHenb({ henbId: 'henb-1', rim: 'b'.repeat(64), softwareVersion: '2.0', state: 'trusted', lastResultToken: null });
        await tx.putReferenceLog('henb-1', [{ component: 'kernel', digest: 'c'.repeat(64) }]);
      });
      await store.putHenb({ henbId: 'henb-1', rim: 'b'.repeat(64), softwareVersion: '2.0', state: 'quarantined', lastResultToken: null });
      // a transaction that rolls back leaves no record
      await expect(store.transaction(async (tx) => {
        await tx.putHenb({ henbId: 'henb-1', rim: 'd'.repeat(64), softwareVersion: '3.0', state: 'trusted', lastResultToken: null });
        throw new Error('rolled back');
      })).rejects.toThrow('rolled back');
      // a refused transition leaves no record either
      await expect(store.saveJobTransition('job-1', 'x', { expectPrevVersion: 1 })).rejects.toMatchObject({ code: 'ERR_STORE_CONFLICT' });
      await store.deleteHenb('henb-1');
      const recs = await store.listAudit();
      expect(recs.map((r) => [r.action, r.object])).toEqual([
        ['henb-added', 'henb/henb-1'], ['job-created', 'job/job-1'], ['job-transition', 'job/job-1'], ['rim-changed', 'henb/henb-1'],
        ['reference-log-changed', 'henb/henb-1'], ['henb-quarantined', 'henb/henb-1'], ['henb-deleted', 'henb/henb-1'],
      ]);
      expect(recs.every((r) => r.actor === 'system')).toBe(true);
      expect(JSON.parse(recs[2]!.details)).toMatchObject({ from: 'created', to: 'verified', reason: 'tim matches', terminal: true });
      expect(JSON.parse(recs[3]!.details)).toEqual({ rim: ['a'.repeat(64), 'b'.repeat(64)], softwareVersion: ['1.0', '2.0'] });
      expect(JSON.parse(recs[5]!.details)).toEqual({ state: ['trusted', 'quarantined'] });
      await seal();
      expect((await verify()).ok).toBe(true);
    });

    it('several instances appending at once extend one chain without gaps', async () => {
      const others = [await open(), await open()];
      await Promise.all([store, ...others].map((s, k) => Promise.all(Array.from({ length: 15 }, (_, i) =>
        s.appendAudit({ actor: `system:${k}`, action: 'test', object: `o-${i}` })))));
      const recs = await store.listAudit();
      expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
      await seal(others[1]);
      expect((await verify()).ok).toBe(true);
    });

    it('appends within a transaction follow what rolls back to a savepoint, and what another instance appended before', async () => {
      // the chain head is read once per transaction and then followed (drivers keep it): a savepoint rolled back
      // takes its records with it, and the next transaction reads the head again
      const other = await open();
      const entry = (object: string): Parameters<Store['appendAudit']>[0] => ({ actor: 'system', action: 'test', object });
      await store.transaction(async (tx) => {
        await tx.appendAudit(entry('a'));
        await expect(tx.transaction(async (inner) => {
          await inner.appendAudit(entry('undone'));
          throw new Error('rolled back');
        })).rejects.toThrow('rolled back');
        await tx.appendAudit(entry('b'));
      });
      await other.appendAudit(entry('by another instance'));
      await store.transaction(async (tx) => {
        await tx.putHenb({ henbId: 'henb-1', rim: null, softwareVersion: null, state: 'unknown', lastResultToken: null });
        await tx.appendAudit(entry('c'));
      });
      const recs = await store.listAudit();
      expect(recs.map((r) => [r.seq, r.object])).toEqual([[1, 'a'], [2, 'b'], [3, 'by another instance'], [4, 'henb/henb-1'], [5, 'c']]);
      for (let i = 1; i < recs.length; i++) expect(recs[i]!.prevHash).toBe(recs[i - 1]!.hash);
      await seal();
      expect((await verify()).ok).toBe(true);
    });

    it('an audited operation whose record is refused after its write leaves neither, in a transaction that goes on and commits the rest', async () => {
      // a reason of 70,000 characters: the job's move or creation is written, then its record is refused (details over 64 KiB)
      const huge = 'r'.repeat(70_000);
      const henb = (state: 'trusted' | 'updating' | 'unknown', rim: string): Parameters<Store['putHenb']>[0] =>
        ({ henbId: 'henb-1', rim, softwareVersion: '1.0', state, lastResultToken: null });
      await store.putHenb(henb('trusted', 'a'.repeat(64)));
      const job = await store.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'created', data: { n: 1 } });
      const before = (await store.listAudit()).map((r) => r.action);
      const refused = { code: 'ERR_STORE_INVALID' };
      await store.transaction(async (tx) => {
        // the transaction's first statement
        await expect(tx.saveJobTransition('job-1', 'fetching', { expectPrevVersion: job.version, data: { n: 2 }, reason: huge })).rejects.toMatchObject(refused);
        await tx.putHenb(henb('updating', 'a'.repeat(64)));
        // after other work of the transaction
        await expect(tx.saveJobTransition('job-1', 'fetching', { expectPrevVersion: job.version, updateSent: true, reason: huge })).rejects.toMatchObject(refused);
        await expect(tx.createJob({ jobId: 'job-2', henbId: 'henb-2', kind: 'software-update', state: 'created', data: {}, reason: huge })).rejects.toMatchObject(refused);
        await expect(tx.putHenb({ ...henb('trusted', 'b'.repeat(64)), softwareVersion: 'v'.repeat(70_000) })).rejects.toMatchObject(refused);
        await tx.putNonce({ nonce: 'n-1', purpose: 'update', expiresAt: Date.now() + 60_000 });
        // the first statement of a nested transaction, then that one goes on too
        await tx.transaction(async (inner) => {
          await expect(inner.saveJobTransition('job-1', 'fetching', { expectPrevVersion: job.version, reason: huge })).rejects.toMatchObject(refused);
          await inner.putReferenceLog('henb-1', [{ component: 'kernel', digest: 'c'.repeat(64) }]);
        });
        await tx.putHenb(henb('updating', 'b'.repeat(64)));
      });
      // a plain call: a transaction of its own
      await expect(store.saveJobTransition('job-1', 'fetching', { expectPrevVersion: job.version, reason: huge })).rejects.toMatchObject(refused);
      expect(await store.getJob('job-1')).toEqual(job);
      expect(await store.getJob('job-2')).toBeUndefined();
      expect(await store.listJobEvents('job-1')).toHaveLength(1);
      expect(await store.getHenb('henb-1')).toMatchObject({ state: 'updating', rim: 'b'.repeat(64) });
      expect(await store.consumeNonce('n-1')).toMatchObject({ ok: true });
      expect(await store.getReferenceLog('henb-1')).toBeDefined();
      expect((await store.listAudit()).map((r) => r.action)).toEqual([...before, 'henb-state-changed', 'reference-log-changed', 'rim-changed']);
      // the job moves from where it was
      expect(await store.saveJobTransition('job-1', 'fetching', { expectPrevVersion: job.version, reason: 'r' })).toMatchObject({ version: job.version + 1 });
      await seal();
      expect((await verify()).ok).toBe(true);
    });

    it('job moves record exactly the state and update-sent flag they replaced: the same records, byte for byte, on every driver', async () => {
      // a fixed sequence of operations at fixed times: creation, moves with and without data, update-sent set and set
      // again, the job taken by another instance, the moves refused (wrong version, no such job, a record refused after
      // the write, the old owner's, a final job's), a move in a transaction; the records' text and hashes are golden
      // (the same before and after the PostgreSQL store's move returned the state it replaced instead of reading it)
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        const T = Date.UTC(2026, 11, 6, 12);
        vi.setSystemTime(T);
        await store.putHenb({ henbId: 'henb-1', rim: 'a'.repeat(64), softwareVersion: '1.0', state: 'trusted', lastResultToken: null });
        vi.setSystemTime(T + 1);
        await store.createJob({ jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'created', data: { n: 1 }, reason: 'by admin', owner: 'oam-a', leaseUntil: T + 60_000 });
        await store.saveJobTransition('job-1', 'fetching', { expectPrevVersion: 1, data: { n: 2 }, reason: 'fetch', at: T + 2 });
        await store.saveJobTransition('job-1', 'sending', { expectPrevVersion: 2, updateSent: true, deadline: T + 9_000, attempts: 1, at: T + 3 });
        const refused = (c: string, message: string): unknown => expect.objectContaining({ code: c, message });
        await expect(store.saveJobTransition('job-1', 'x', { expectPrevVersion: 2, at: T + 4 })).rejects.toEqual(refused('ERR_STORE_CONFLICT', 'job job-1 is at version 3, not 2'));
        await expect(store.saveJobTransition('job-9', 'x', { expectPrevVersion: 1, at: T + 4 })).rejects.toEqual(refused('ERR_STORE_NOT_FOUND', 'job job-9 does not exist'));
        await expect(store.saveJobTransition('job-1', 'x', { expectPrevVersion: 3, reason: 'r'.repeat(70_000), at: T + 4 }))
          .rejects.toEqual(refused('ERR_STORE_INVALID', 'audit record: details must be at most 65536 characters of JSON'));
        vi.setSystemTime(T + 5);
        await store.transaction(async (tx) => {
          await tx.putHenb({ henbId: 'henb-1', rim: 'a'.repeat(64), softwareVersion: '1.0', state: 'updating', lastResultToken: null });
          await tx.saveJobTransition('job-1', 'installing', { expectPrevVersion: 3, updateSent: true, reason: 'again', at: T + 5 });
        });
        const other = await open();
        expect(await other.takeJob('job-1', 'oam-b', 30_000, T + 6)).toMatchObject({ owner: 'oam-b', version: 5 });
        await expect(store.saveJobTransition('job-1', 'x', { expectPrevVersion: 4, at: T + 7 })).rejects.toEqual(refused('ERR_STORE_CONFLICT', 'job job-1 is at version 5, not 4'));
        await other.saveJobTransition('job-1', 'verified', { expectPrevVersion: 5, terminal: true, deadline: null, reason: 'tim matches', detail: { ok: true }, at: T + 8 });
        await expect(other.saveJobTransition('job-1', 'x', { expectPrevVersion: 6, at: T + 9 })).rejects.toEqual(refused('ERR_STORE_CONFLICT', 'job job-1 is already final'));
        // each record's prevHash is the one before's hash (the first's is the genesis, zeros)
        const hashes = [
          '0000000000000000000000000000000000000000000000000000000000000000', '4a7754be2fc5d1e8ae16878e3559c8f631e84bff69977322f42be1e8dd533e1e',
          '90c454fb9a98400ee2db92c6f2ea4b6cb11fa5d798824a2552c6ed1cd0434818', '30c41e2b8f4ec07c1664815b451712f0619ac744d0cb78dff8f7ae762a4a017b',
          'd9b3013981a8b24f807f26d1c6f2482dd5fcf0e56123f81606f7024d0a199b75', '019c7472b717fa6695dee7331104124fe1d455f49bfab08cb5d5878a4a34ec00',
          '91c91190f81d3ccdca8637f2b4271347f7d6c4f9e148a5e13fbe4dc8447e5944', '6c65a8b860070515cf7d00eea2283b40d581b38a8a8b28cbab36008968e86959',
        ];
        const audit = (seq: number, at: number, action: string, object: string, details: string): unknown[] =>
          [seq, T + at, 'system', action, object, details, hashes[seq - 1], hashes[seq]];
        expect((await store.listAudit()).map((r) => [r.seq, r.at, r.actor, r.action, r.object, r.details, r.prevHash, r.hash])).toEqual([
          audit(1, 0, 'henb-added', 'henb/henb-1', '{"rim":[null,"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],"state":[null,"trusted"],"softwareVersion":[null,"1.0"]}'),
          audit(2, 1, 'job-created', 'job/job-1', '{"henbId":"henb-1","kind":"software-update","state":"created","reason":"by admin","owner":"oam-a"}'),
          audit(3, 2, 'job-transition', 'job/job-1', '{"henbId":"henb-1","kind":"software-update","from":"created","to":"fetching","version":2,"reason":"fetch","owner":"oam-a"}'),
          audit(4, 3, 'job-transition', 'job/job-1', '{"henbId":"henb-1","kind":"software-update","from":"fetching","to":"sending","version":3,"updateSent":true,"owner":"oam-a"}'),
          audit(5, 5, 'henb-state-changed', 'henb/henb-1', '{"state":["trusted","updating"]}'),
          audit(6, 5, 'job-transition', 'job/job-1', '{"henbId":"henb-1","kind":"software-update","from":"sending","to":"installing","version":4,"reason":"again","owner":"oam-a"}'),
          audit(7, 8, 'job-transition', 'job/job-1', '{"henbId":"henb-1","kind":"software-update","from":"installing","to":"verified","version":6,"reason":"tim matches","terminal":true,"owner":"oam-b"}'),
        ]);
        expect(await store.getJob('job-1')).toEqual({
          jobId: 'job-1', henbId: 'henb-1', kind: 'software-update', state: 'verified', data: { n: 2 }, version: 6, deadline: null,
          attempts: 1, updateSent: true, terminal: true, owner: 'oam-b', leaseUntil: T + 30_006, createdAt: T + 1, updatedAt: T + 8,
        });
        const event = (seq: number, fromState: string | null, toState: string, at: number, reason: string | null, detail: unknown = null): unknown =>
          ({ jobId: 'job-1', seq, fromState, toState, at: T + at, reason, detail });
        expect(await store.listJobEvents('job-1')).toEqual([
          event(1, null, 'created', 1, 'by admin'), event(2, 'created', 'fetching', 2, 'fetch'), event(3, 'fetching', 'sending', 3, null),
          event(4, 'sending', 'installing', 5, 'again'), event(5, 'installing', 'verified', 8, 'tim matches', { ok: true }),
        ]);
      } finally {
        vi.useRealTimers();
      }
    });

    describe('tampering', () => {
      beforeEach(async () => {
        await append(6);
        await seal();
      });

      it('a modified field: the record is named as modified', async () => {
        await h.exec("UPDATE audit_log SET details = '{\"i\":99}' WHERE seq = 3");
        expect((await verify()).problem).toMatchObject({ kind: 'modified', seq: 3 });
        expect((await verify()).ok).toBe(false);
      });

      it('a modified record whose hash was recomputed: named by the next record, which chains to the old hash', async () => {
        const r3 = (await store.listAudit({ afterSeq: 2, limit: 1 }))[0]!;
        const forged = { ...r3, actor: 'system' };
        await h.exec(`UPDATE audit_log SET actor = 'system', hash = '${auditHash(forged)}' WHERE seq = 3`);
        expect((await verify()).problem).toMatchObject({ kind: 'modified', seq: 3 });
      });

      it('a deleted record: the gap is named', async () => {
        await h.exec('DELETE FROM audit_log WHERE seq = 4');
        expect((await verify()).problem).toMatchObject({ kind: 'deleted', seq: 4 });
      });

      it('the first record deleted', async () => {
        await h.exec('DELETE FROM audit_log WHERE seq = 1');
        expect((await verify()).problem).toMatchObject({ kind: 'deleted', seq: 1 });
      });

      it('two records swapped: named as reordered', async () => {
        await h.exec('UPDATE audit_log SET seq = 1000 WHERE seq = 3');
        await h.exec('UPDATE audit_log SET seq = 3 WHERE seq = 4');
        await h.exec('UPDATE audit_log SET seq = 4 WHERE seq = 1000');
        expect((await verify()).problem).toMatchObject({ kind: 'reordered', seq: 3 });
      });

      it('truncated after the signed head: the first missing record is named', async () => {
        await h.exec('DELETE FROM audit_log WHERE seq >= 5');
        expect((await verify()).problem).toMatchObject({ kind: 'truncated', seq: 5 });
      });

      it('the whole chain rewritten consistently: the signed head no longer matches', async () => {
        const recs = await store.listAudit();
        let prev = '0'.repeat(64);
        for (const r of recs) {
          const fixed = { ...r, details: r.seq === 2 ? '{"i":"rewritten"}' : r.details, prevHash: prev };
          const hash = auditHash(fixed);
          await h.exec(`UPDATE audit_log SET details = '${fixed.details}', prev_hash = '${prev}', hash = '${hash}' WHERE seq = ${r.seq}`);
          prev = hash;
        }
        expect((await verify()).problem).toMatchObject({ kind: 'modified', seq: 6 });
      });

      it('a head signed with another key, or altered, does not verify', async () => {
        const other = await generateSigningKey('ES256', 'intruder');
        const head = (await store.lastAudit())!;
        await store.putAuditHead({ seq: head.seq, hash: head.hash, kid: key.kid, jws: await signAuditHead(head, other), signedAt: Date.now() });
        expect((await verify()).problem).toMatchObject({ kind: 'head-signature', seq: 6 });
        await h.exec('DELETE FROM audit_heads');
        await seal();
        await h.exec(`UPDATE audit_heads SET seq = 5`);
        expect((await verify()).problem).toMatchObject({ kind: 'head-signature' });
      });

      it('every signed head deleted: unsigned', async () => {
        await h.exec('DELETE FROM audit_heads');
        expect((await verify()).problem).toMatchObject({ kind: 'unsigned' });
      });
    });
  });
}
