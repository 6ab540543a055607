/**
 * The SQLite store's WAL checkpoints run in a worker thread with a connection of its own (src/store/sqlite-checkpointer.ts):
 * no COMMIT on the main thread runs one, the WAL stays bounded, close waits for the checkpoint under way, and a
 * thread that ends is reported while the store goes on with SQLite's own checkpoints.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SQLITE_FILE_NAME, openSqliteStore } from '../../src/store/index.js';
import type { SqliteStore } from '../../src/store/sqlite.js';
import type { SqliteStoreOptions } from '../../src/store/types.js';

let dir: string | undefined;
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function open(options: Partial<SqliteStoreOptions> = {}): Promise<SqliteStore> {
  dir ??= mkdtempSync(join(tmpdir(), 'hsv-ckpt-'));
  const s = await openSqliteStore({ dataDir: dir, ...options });
  stores.push(s);
  return s;
}

/** a gate the checkpointer thread waits at before each checkpoint while it reads 0 */
function gate(): { gate: Int32Array; open(): void } {
  const g = new Int32Array(new SharedArrayBuffer(4));
  return { gate: g, open: () => { Atomics.store(g, 0, 1); Atomics.notify(g, 0); } };
}

/** the WAL's frames and how many of them are in the database file (PRAGMA wal_checkpoint(NOOP): does no work) */
function wal(s: SqliteStore): { log: number; checkpointed: number } {
  return (s.database.pragma('wal_checkpoint(NOOP)') as Array<{ log: number; checkpointed: number }>)[0]!;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

const PAD = 'x'.repeat(20_000); // ~5 overflow pages per job row, and as many WAL frames per commit
let seq = 0;
async function writeJobs(s: SqliteStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = `j${++seq}`;
    await s.createJob({ jobId: id, henbId: `h-${id}`, kind: 'software-update', state: 'created', data: { pad: PAD } });
  }
}

describe('SQLite store: WAL checkpoints in a worker thread', () => {
  it('the store\'s connection never checkpoints itself: with the thread held, the WAL passes SQLite\'s 1,000 pages untouched', async () => {
    const g = gate();
    const s = await open({ checkpointer: { pages: 50, walMaxPages: 5000, gate: g.gate } });
    await writeJobs(s, 250);
    const w = wal(s);
    expect(w.log).toBeGreaterThan(1200);
    expect(w.checkpointed).toBe(0); // SQLite's own automatic checkpoint (1,000 pages) would have run in a COMMIT
    expect(s.checkpointer!.stats.requested).toBe(1); // asked once, nothing more while that one is under way
    g.open();
    await until(() => s.checkpointer!.stats.done === 1, 'the checkpoint');
    expect(s.checkpointer!.stats).toMatchObject({ done: 1, errors: 0, lastCheckpointed: s.checkpointer!.stats.lastLog });
    expect(wal(s).checkpointed).toBeGreaterThan(1200);
  });

  it('checkpoints happen in the thread and keep the WAL bounded under a write load (it restarts from its start)', async () => {
    const s = await open({ checkpointer: { pages: 50, walMaxPages: 1_000_000 } });
    let most = 0;
    let restarts = 0;
    let last = 0;
    for (let round = 0; round < 40; round++) {
      // one COMMIT a round, then the checkpoint it asked for runs with no COMMIT beside it: it copies everything,
      // and the next round's transaction restarts the WAL (one that a COMMIT overtakes copies only part of it)
      await s.transaction(async (tx) => {
        for (let i = 0; i < 4; i++) {
          const id = `j${++seq}`;
          await tx.createJob({ jobId: id, henbId: `h-${id}`, kind: 'software-update', state: 'created', data: { pad: PAD } });
        }
      });
      const { log } = wal(s);
      if (log < last) restarts++;
      last = log;
      most = Math.max(most, log);
      await until(() => !s.checkpointer!.busy, 'the checkpoint under way');
    }
    expect(s.checkpointer!.stats.done).toBeGreaterThanOrEqual(5);
    expect(restarts).toBeGreaterThanOrEqual(5);
    expect(most).toBeLessThan(150); // 50 pages and one round of commits; without checkpoints, 40 rounds of ~24 frames
    expect(s.database.pragma('wal_autocheckpoint', { simple: true })).toBe(1_000_000);
    expect(s.checkpointer!.stats.errors).toBe(0);
  });

  it('the bound: when the thread does not keep up, the store\'s connection checkpoints at walMaxPages', async () => {
    const g = gate();
    const s = await open({ checkpointer: { pages: 50, walMaxPages: 300, gate: g.gate } });
    let most = 0;
    for (let i = 0; i < 60; i++) {
      await writeJobs(s, 5);
      most = Math.max(most, wal(s).log);
    }
    expect(s.checkpointer!.stats.done).toBe(0);
    expect(most).toBeLessThan(300 + 40); // SQLite's own at 1,000 pages would let it reach ~1,000
    g.open();
  });

  it('close waits for the checkpoint under way; the database reopens with every row and no WAL left', async () => {
    const g = gate();
    const s = await open({ checkpointer: { pages: 50, gate: g.gate } });
    await writeJobs(s, 30);
    await until(() => s.checkpointer!.stats.gateWaits === 1, 'the thread at the gate');
    let closed = false;
    const closing = s.close().then(() => { closed = true; });
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    g.open();
    await closing;
    expect(s.checkpointer!.stats).toMatchObject({ requested: 1, done: 1, errors: 0 });
    expect(existsSync(join(dir!, `${SQLITE_FILE_NAME}-wal`))).toBe(false);
    const again = await open();
    expect((await again.listActiveJobs()).length).toBe(30);
  });

  it('a thread that ends (terminated) is reported; the store goes back to SQLite\'s own checkpoints, keeps its WAL file and its data', async () => {
    const g = gate();
    const errors: Error[] = [];
    const s = await open({ checkpointer: { pages: 50, gate: g.gate }, onCheckpointError: (e) => errors.push(e) });
    await writeJobs(s, 30);
    await until(() => s.checkpointer!.stats.gateWaits === 1, 'the thread at the gate');
    const walFile = join(dir!, `${SQLITE_FILE_NAME}-wal`);
    const inode = statSync(walFile).ino;
    await s.checkpointer!.worker!.terminate();
    await until(() => errors.length > 0, 'the report');
    expect(errors[0]).toMatchObject({ code: 'ERR_STORE_CHECKPOINT' });
    expect(errors[0]!.message).toContain('ended');
    expect(s.database.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    // the thread's connection went away without taking the WAL with it: the sync barrier's descriptor stays valid
    expect(statSync(walFile).ino).toBe(inode);
    await s.putHenb({ henbId: 'h1', rim: 'a'.repeat(64), softwareVersion: '2.0', state: 'trusted', lastResultToken: null });
    await writeJobs(s, 250); // ~1,500 frames more: SQLite's own checkpoint ran at 1,000, and the WAL restarted
    expect(wal(s).log).toBeLessThan(1000);
    expect(s.checkpointer!.stats.requested).toBe(1);
    await s.close();
    const again = await open(); // PRAGMA quick_check at open
    expect((await again.listActiveJobs()).length).toBe(280);
    expect((await again.getHenb('h1'))?.state).toBe('trusted');
  });

  it('a durable commit\'s sync barrier does not wait for a checkpoint under way', async () => {
    const g = gate();
    const s = await open({ checkpointer: { pages: 50, gate: g.gate } });
    await writeJobs(s, 30);
    await until(() => s.checkpointer!.stats.gateWaits === 1, 'the thread at the gate');
    const before = s.barriers;
    await s.putHenb({ henbId: 'h1', rim: 'a'.repeat(64), softwareVersion: '2.0', state: 'trusted', lastResultToken: null });
    expect(s.barriers).toBe(before + 1);
    g.open();
    await until(() => s.checkpointer!.stats.done === 1, 'the checkpoint');
  });

  it('in memory, or turned off: no thread, SQLite\'s own automatic checkpoint', async () => {
    const mem = await openSqliteStore({ path: ':memory:' });
    stores.push(mem);
    expect(mem.checkpointer).toBeUndefined();
    const off = await open({ checkpointer: false });
    expect(off.checkpointer).toBeUndefined();
    expect(off.database.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    const on = await open();
    expect(on.checkpointer).toBeDefined();
    expect(on.database.pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
    expect(on.checkpointer!.worker).toBeUndefined(); // started with the first checkpoint asked for
  });
});
