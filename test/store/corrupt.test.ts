/**
 * Store integrity at open (issue 11, item 8): a corrupted SQLite file is refused with ERR_STORE_OPEN naming the
 * file, before anything is served, instead of failing the first job with SQLITE_CORRUPT.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, StoreError } from '../../src/store/index.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** a store with enough rows to span many pages, closed (WAL checkpointed into the main file) */
async function filledStore(): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), 'hsv-corrupt-'));
  const store = await openSqliteStore({ dataDir: dir });
  const db = store.database;
  db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, text TEXT)');
  const insert = db.prepare('INSERT INTO filler (text) VALUES (?)');
  for (let i = 0; i < 2000; i++) insert.run(`row ${i} ${'x'.repeat(100)}`);
  await store.close();
  return join(dir, 'henb-sw-verify.sqlite');
}

function overwrite(file: string, offset: number, length: number, byte: number): void {
  const fd = openSync(file, 'r+');
  try { writeSync(fd, Buffer.alloc(length, byte), 0, length, offset); } finally { closeSync(fd); }
}

describe('SQLite store: PRAGMA quick_check at open', () => {
  it('opens an intact store again', async () => {
    const file = await filledStore();
    const store = await openSqliteStore({ path: file });
    await store.close();
  });

  it('refuses a store whose b-tree pages are damaged, naming the file (ERR_STORE_OPEN)', async () => {
    const file = await filledStore();
    const size = statSync(file).size;
    expect(size).toBeGreaterThan(40 * 4096);
    // damage interior pages (not the 100-byte header): the file still opens as a database
    overwrite(file, 20 * 4096, 8 * 4096, 0xa5);
    const err = await openSqliteStore({ path: file }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('ERR_STORE_OPEN');
    expect((err as StoreError).message).toContain(file);
    expect((err as StoreError).message).toMatch(/corrupted|not a database/);
  });

  it('refuses a file that is not a database at all (ERR_STORE_OPEN)', async () => {
    const file = await filledStore();
    overwrite(file, 0, 100, 0x41);
    const err = await openSqliteStore({ path: file }).then(() => undefined, (e: unknown) => e);
    expect((err as StoreError).code).toBe('ERR_STORE_OPEN');
    expect((err as StoreError).message).toContain(file);
  });
});
