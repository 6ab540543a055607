/**
 * Durability rule of the SQLite store: commits run with synchronous = NORMAL, and a sync barrier (fdatasync of the
 * WAL, on the thread pool) follows exactly the commits that an outside effect follows (an update marked sent, an
 * H(e)NB changed; not the terminal mark of a job whose outbox was delivered), so those survive a power loss together with everything committed before them. The
 * operation resolves only once its barrier is done; commits made while a barrier runs share the next one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/store/index.js';
import type { SqliteStore } from '../../src/store/sqlite.js';

let dir: string | undefined;
let store: SqliteStore | undefined;
afterEach(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  store = undefined;
  dir = undefined;
});

async function open(): Promise<{ store: SqliteStore; barriers: () => number }> {
  dir = mkdtempSync(join(tmpdir(), 'hsv-durable-'));
  store = await openSqliteStore({ dataDir: dir });
  const db = store.database;
  expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
  const s = store;
  return { store: s, barriers: () => s.barriers };
}

const RIM = 'a'.repeat(64);

describe('SQLite store durability', () => {
  it('ordinary job transitions commit without a barrier, and so does the terminal mark alone (outbox delivered)', async () => {
    const { store: s, barriers } = await open();
    const j = await s.createJob({ jobId: 'j1', henbId: 'h1', kind: 'software-update', state: 'created', data: {} });
    const r = await s.saveJobTransition('j1', 'pve-requested', { expectPrevVersion: j.version, data: {} });
    expect(barriers()).toBe(0);
    // the H(e)NB is free for the next job as soon as this resolves: the next job's commits follow in the WAL
    await s.saveJobTransition('j1', 'failed', { expectPrevVersion: r.version, data: {}, terminal: true });
    expect(barriers()).toBe(0);
  });

  it('marking the update sent, finishing a job and changing an H(e)NB each end with one barrier', async () => {
    const { store: s, barriers } = await open();
    const j = await s.createJob({ jobId: 'j1', henbId: 'h1', kind: 'software-update', state: 'created', data: {} });
    const sent = await s.saveJobTransition('j1', 'update-sending', { expectPrevVersion: j.version, data: {}, updateSent: true });
    expect(barriers()).toBe(1);
    // already sent: no new barrier for a later ordinary transition that repeats the flag
    const waiting = await s.saveJobTransition('j1', 'awaiting-completion', { expectPrevVersion: sent.version, data: {}, updateSent: true });
    expect(barriers()).toBe(1);
    await s.transaction(async (tx) => {
      await tx.saveJobTransition('j1', 'verified', { expectPrevVersion: waiting.version, data: {}, terminal: true });
      await tx.putHenb({ henbId: 'h1', rim: RIM, softwareVersion: '2.0.0', state: 'trusted', lastResultToken: null });
    });
    expect(barriers()).toBe(2); // one barrier for the whole transaction
    await s.putHenb({ henbId: 'h2', rim: null, softwareVersion: null, state: 'unknown', lastResultToken: null });
    expect(barriers()).toBe(3);
    expect(s.database.pragma('synchronous', { simple: true })).toBe(1); // still NORMAL
  });

  it('an operation that needs a barrier resolves only once its barrier is done', async () => {
    const { store: s, barriers } = await open();
    const j = await s.createJob({ jobId: 'j1', henbId: 'h1', kind: 'software-update', state: 'created', data: {} });
    const sending = s.saveJobTransition('j1', 'update-sending', { expectPrevVersion: j.version, data: {}, updateSent: true });
    expect(barriers()).toBe(1);
    expect(s.syncing).toBe(true); // committed, the barrier runs: the caller has not been answered yet
    await sending;
    expect(s.syncing).toBe(false);
    await s.transaction(async (tx) => {
      await tx.putHenb({ henbId: 'h1', rim: RIM, softwareVersion: '2.0.0', state: 'trusted', lastResultToken: null });
    });
    expect(barriers()).toBe(2);
    expect(s.syncing).toBe(false);
  });

  it('commits made while a barrier runs share the next one (group commit), and each waits for it', async () => {
    const { store: s, barriers } = await open();
    const ids = Array.from({ length: 20 }, (_, i) => `h${i}`);
    // every putHenb commits at once; the first starts a barrier, the 19 others wait for the one after it
    await Promise.all(ids.map((id) => s.putHenb({ henbId: id, rim: RIM, softwareVersion: '2.0.0', state: 'trusted', lastResultToken: null })));
    expect(barriers()).toBe(2);
    expect(s.syncing).toBe(false);
    for (const id of ids) expect((await s.getHenb(id))?.state).toBe('trusted');
  });

  it('the next transaction begins while the previous one waits for its barrier', async () => {
    const { store: s } = await open();
    const order: string[] = [];
    const first = s.transaction(async (tx) => {
      await tx.putHenb({ henbId: 'h1', rim: RIM, softwareVersion: '2.0.0', state: 'trusted', lastResultToken: null });
    }).then(() => order.push('first answered'));
    const second = s.transaction(async (tx) => {
      order.push('second began');
      await tx.createJob({ jobId: 'j1', henbId: 'h2', kind: 'software-update', state: 'created', data: {} });
    });
    await Promise.all([first, second]);
    expect(order).toEqual(['second began', 'first answered']);
  });

  it('an in-memory store needs no barrier', async () => {
    const mem = await openSqliteStore({ path: ':memory:' });
    try {
      await mem.putHenb({ henbId: 'h1', rim: RIM, softwareVersion: '2.0.0', state: 'trusted', lastResultToken: null });
      expect(mem.barriers).toBe(0);
    } finally {
      await mem.close();
    }
  });

  it('a transaction that fails leaves no barrier pending for the next commit', async () => {
    const { store: s, barriers } = await open();
    await expect(s.transaction(async (tx) => {
      await tx.putHenb({ henbId: 'h1', rim: RIM, softwareVersion: '2.0.0', state: 'trusted', lastResultToken: null });
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(await s.getHenb('h1')).toBeUndefined();
    await s.createJob({ jobId: 'j2', henbId: 'h1', kind: 'software-update', state: 'created', data: {} });
    expect(barriers()).toBe(0);
  });
});
