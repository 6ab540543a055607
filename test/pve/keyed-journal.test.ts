/**
 * The keyed journal (src/pve/keyed-journal.ts) changed only through `set`, which marks the key: a write appends the
 * entries set since the last one and nothing else, without a scan of the record (issue 15: the scan was O(n) per
 * write), with one mkdir and one open of the journal for the record's life rather than one per write.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import type * as FsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// counts of the calls the record makes to the file system (the module's own functions, spied on)
const fsCalls = vi.hoisted(() => ({ mkdir: 0, open: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof FsPromises>();
  return {
    ...fs,
    mkdir: (...a: Parameters<typeof fs.mkdir>) => {
      fsCalls.mkdir++;
      return fs.mkdir(...a);
    },
    open: (...a: Parameters<typeof fs.open>) => {
      fsCalls.open++;
      return fs.open(...a);
    },
  };
});

// (vi.mock is hoisted: the record imports the spied functions)
import { KeyedJournal, readJournal } from '../../src/pve/keyed-journal.js';
import type { JournalSpec } from '../../src/pve/keyed-journal.js';

type Spec = JournalSpec<{ v: number }>;

const SPEC: Spec = {
  snapshot: 'r.json', journal: 'r.journal', format: 'test-record/1', field: 'keys', entryName: 'entry', recordName: 'record',
  entryOf: (_k, v) => (typeof v === 'object' && v !== null && typeof (v as { v?: unknown }).v === 'number' ? { v: (v as { v: number }).v } : undefined),
  damaged: (m) => new Error(m),
};

let dir: string;
beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'hsv-keyed-journal-')), 'rec');
  fsCalls.mkdir = 0;
  fsCalls.open = 0;
});
afterEach(async () => {
  await rm(join(dir, '..'), { recursive: true, force: true });
});

const lines = async (): Promise<unknown[]> => (await readFile(join(dir, 'r.journal'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);

describe('KeyedJournal: set marks, write appends the marked', () => {
  it('every entry set since the last write is written once with its last value: a new key, a key set twice, an existing key', async () => {
    const r = await KeyedJournal.open(dir, SPEC, 1000);
    for (let i = 0; i < 5; i++) r.set(`k${i}`, { v: i });
    await r.write();
    expect(await lines()).toHaveLength(5);
    r.set('k1', { v: 10 });
    r.set('k1', { v: 11 }); // twice between writes: the last, once
    r.set('k3', { v: 30 });
    r.set('new', { v: 99 });
    await r.write();
    expect((await lines()).slice(5)).toEqual([{ henb: 'k1', entry: { v: 11 } }, { henb: 'k3', entry: { v: 30 } }, { henb: 'new', entry: { v: 99 } }]);
    await r.write(); // nothing set: nothing appended
    expect(await lines()).toHaveLength(8);
    expect(r.get('k1')).toEqual({ v: 11 });
    expect(r.size).toBe(6);
    await r.close();
    // read back after a reopen: the same record
    const expected = { k0: { v: 0 }, k1: { v: 11 }, k2: { v: 2 }, k3: { v: 30 }, k4: { v: 4 }, new: { v: 99 } };
    expect((await readJournal(dir, SPEC)).entries).toEqual(expected);
    const again = await KeyedJournal.open(dir, SPEC, 1000);
    expect(Object.fromEntries(again)).toEqual(expected);
    await again.close();
  });

  it('an entry set while a write runs is written by the next one; a key set again is written again', async () => {
    const r = await KeyedJournal.open(dir, SPEC, 1000);
    r.set('a', { v: 1 });
    const first = r.write();
    r.set('a', { v: 2 });
    r.set('b', { v: 1 });
    await first;
    await r.write();
    expect(await lines()).toEqual([{ henb: 'a', entry: { v: 1 } }, { henb: 'a', entry: { v: 2 } }, { henb: 'b', entry: { v: 1 } }]);
    await r.close();
  });

  it('no entry changes behind its back: entries are frozen, and no mutable map is handed out', async () => {
    const r = await KeyedJournal.open(dir, SPEC, 1000);
    r.set('a', { v: 1 });
    expect(() => {
      (r.get('a') as { v: number }).v = 2;
    }).toThrow(TypeError);
    expect('entries' in r).toBe(false);
    await r.write();
    await r.close();
    const reopened = await KeyedJournal.open(dir, SPEC, 1000);
    expect(() => {
      (reopened.get('a') as { v: number }).v = 2; // read back from disk: frozen too
    }).toThrow(TypeError);
  });

  it('a failed append leaves its keys to the next write', async () => {
    const r = await KeyedJournal.open(dir, SPEC, 1000);
    r.set('a', { v: 1 });
    await r.write();
    await r.close();
    await rm(join(dir, 'r.journal'));
    await mkdir(join(dir, 'r.journal')); // a directory where the journal was: the open fails (EISDIR)
    r.set('b', { v: 2 });
    await expect(r.write()).rejects.toMatchObject({ code: 'EISDIR' });
    await rm(join(dir, 'r.journal'), { recursive: true });
    await r.write();
    expect(await lines()).toEqual([{ henb: 'b', entry: { v: 2 } }]);
    await r.close();
  });

  it('per record, one mkdir and one open of the journal, not one per write; a directory gone is made again', async () => {
    const r = await KeyedJournal.open(dir, SPEC, 100_000);
    const before = { ...fsCalls };
    for (let i = 0; i < 50; i++) {
      r.set(`k${i}`, { v: i });
      await r.write();
    }
    expect(fsCalls.mkdir - before.mkdir).toBe(1);
    expect(fsCalls.open - before.open).toBe(1);
    expect(await lines()).toHaveLength(50);
    // closed (as at the PVE's close), the directory removed: the next write makes it again
    await r.close();
    await rm(dir, { recursive: true });
    r.set('k0', { v: 100 });
    await r.write();
    expect(await lines()).toEqual([{ henb: 'k0', entry: { v: 100 } }]);
    await r.close();
  });

  it('a compaction empties the open journal in place: the appends after it go to the emptied file, and a reopen reads them', async () => {
    const r = await KeyedJournal.open(dir, SPEC, 4);
    for (let i = 0; i < 10; i++) {
      r.set(`k${i % 3}`, { v: i });
      await r.write();
    }
    // compactions at 4 and 8 lines (max(4, keys)): 2 lines since
    expect(await lines()).toEqual([{ henb: 'k2', entry: { v: 8 } }, { henb: 'k0', entry: { v: 9 } }]);
    await r.close();
    expect((await readJournal(dir, SPEC)).entries).toEqual({ k0: { v: 9 }, k1: { v: 7 }, k2: { v: 8 } });
  });
});
