/**
 * src/file-cache.ts (issue 15): a file read per request is read again only when its identity (dev, ino, size, mtime,
 * ctime) changed; a replaced file is read at the next call, a removed one throws the stat's error, a failed read is
 * not kept, concurrent callers share one read.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import type * as FsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { until } from './helpers/until.js';

// the stats started and answered so far (node:fs/promises stat, spied on): a test waits for its callers' stat before a
// read ends
const stats = vi.hoisted(() => ({ started: 0, done: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof FsPromises>();
  return {
    ...fs,
    stat: (async (...a: Parameters<typeof fs.stat>) => {
      stats.started++;
      try {
        return await fs.stat(...a);
      } finally {
        stats.done++;
      }
    }) as typeof fs.stat,
  };
});

// (vi.mock is hoisted: the cache stats with the spied stat)
import { FileCache, SyncFileCache } from '../src/file-cache.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-file-cache-'));
  file = join(dir, 'f.txt');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** a cache of the file's text that counts its reads */
function counted(): { cache: FileCache<string>; reads: () => number } {
  let n = 0;
  const cache = new FileCache<string>(async (f) => {
    n++;
    return readFile(f, 'utf8');
  });
  return { cache, reads: () => n };
}

/** sets the access and modification times of `f` to one fixed second: a rewrite an mtime check cannot see */
async function pinTimes(f: string): Promise<void> {
  await utimes(f, 1_700_000_000, 1_700_000_000);
}

/** a promise settled from outside */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

describe('FileCache', () => {
  it('reads a file once for many calls', async () => {
    await writeFile(file, 'one');
    const { cache, reads } = counted();
    for (let i = 0; i < 5; i++) expect(await cache.get(file)).toBe('one');
    expect(reads()).toBe(1);
  });

  it('reads again a file rewritten in place with the same size and modification time (its ctime changed)', async () => {
    await writeFile(file, 'one');
    await pinTimes(file);
    const before = await stat(file);
    const { cache, reads } = counted();
    expect(await cache.get(file)).toBe('one');
    await writeFile(file, 'two');
    await pinTimes(file);
    expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
    expect(await cache.get(file)).toBe('two');
    expect(reads()).toBe(2);
  });

  it('reads again a file replaced by a rename onto its path (same size and times: a new inode)', async () => {
    await writeFile(file, 'one');
    await pinTimes(file);
    const { cache, reads } = counted();
    expect(await cache.get(file)).toBe('one');
    const tmp = join(dir, 'f.tmp');
    await writeFile(tmp, 'two');
    await pinTimes(tmp);
    await rename(tmp, file);
    expect(await cache.get(file)).toBe('two');
    expect(await cache.get(file)).toBe('two');
    expect(reads()).toBe(2);
  });

  it('a removed file throws the error a read of it throws (ENOENT); back again, it is read', async () => {
    await writeFile(file, 'one');
    const { cache, reads } = counted();
    expect(await cache.get(file)).toBe('one');
    await unlink(file);
    await expect(cache.get(file)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(cache.size).toBe(0); // nothing held for it
    await writeFile(file, 'two');
    expect(await cache.get(file)).toBe('two');
    expect(reads()).toBe(2);
  });

  it('concurrent callers share one read, in flight or finished', async () => {
    await writeFile(file, 'one');
    const gate = deferred();
    let reads = 0;
    const cache = new FileCache<string>(async (f) => {
      reads++;
      await gate.promise;
      return readFile(f, 'utf8');
    });
    stats.started = stats.done = 0;
    const all = Promise.all(Array.from({ length: 10 }, () => cache.get(file)));
    // one stat for the ten callers at once; once it is answered, every caller has seen the file while the read is
    // under way
    await until(() => stats.done === 1, 'the callers\' stat');
    expect(stats.started).toBe(1);
    expect(reads).toBe(1);
    gate.resolve();
    expect(await all).toEqual(Array(10).fill('one'));
    expect(await cache.get(file)).toBe('one');
    expect(reads).toBe(1);
  });

  it('a failed read is not kept: its waiting callers get its error, the next call reads again', async () => {
    await writeFile(file, 'one');
    let reads = 0;
    let fail = true;
    let gate = deferred();
    const cache = new FileCache<string>(async (f) => {
      reads++;
      await gate.promise;
      if (fail) throw Object.assign(new Error('bad content'), { code: 'BAD' });
      return readFile(f, 'utf8');
    });
    stats.done = 0;
    const two = Promise.allSettled([cache.get(file), cache.get(file)]);
    await until(() => stats.done === 1, 'the callers\' stat (shared)');
    gate.resolve();
    const both = await two;
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(reads).toBe(1); // shared
    gate = deferred();
    gate.resolve();
    await expect(cache.get(file)).rejects.toMatchObject({ code: 'BAD' });
    expect(reads).toBe(2); // the unchanged file is read again: the failure was not kept
    fail = false;
    expect(await cache.get(file)).toBe('one');
    expect(await cache.get(file)).toBe('one');
    expect(reads).toBe(3);
  });

  it('a read that throws before its first await fails that call only', async () => {
    await writeFile(file, 'one');
    let fail = true;
    const cache = new FileCache<string>((f) => {
      if (fail) throw new Error('at once');
      return readFile(f, 'utf8');
    });
    await expect(cache.get(file)).rejects.toThrow('at once');
    fail = false;
    expect(await cache.get(file)).toBe('one');
  });

  it('a file changed while it is read is read again at the next call', async () => {
    await writeFile(file, 'one');
    const gate = deferred();
    let reads = 0;
    const cache = new FileCache<string>(async (f) => {
      reads++;
      if (reads === 1) await gate.promise;
      return readFile(f, 'utf8');
    });
    stats.done = 0;
    const first = cache.get(file);
    await until(() => reads === 1, 'the read');
    await writeFile(file, 'two!'); // after the stat, before the read
    gate.resolve();
    expect(await first).toBe('two!');
    expect(await cache.get(file)).toBe('two!');
    expect(reads).toBe(2); // held under the identity seen before the change: read again
  });

  it('the read sees the stat the identity was taken from (a caller can refuse what is not a regular file)', async () => {
    const cache = new FileCache<string>(async (f, st) => {
      if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'NOT_FILE' });
      return readFile(f, 'utf8');
    });
    await expect(cache.get(dir)).rejects.toMatchObject({ code: 'NOT_FILE' });
  });

  it('a check sees the cache\'s own stat first: one stat per get; when it throws, nothing is read or handed out, and what is held stays', async () => {
    await writeFile(file, 'held');
    const { cache, reads } = counted();
    const seen: bigint[] = [];
    const before = stats.done;
    expect(await cache.get(file, (st) => { seen.push(st.size); })).toBe('held');
    expect(stats.done - before).toBe(1);
    expect(seen).toEqual([4n]);
    const refuse = (): never => { throw Object.assign(new Error('too big'), { code: 'TOO_BIG' }); };
    await expect(cache.get(file, refuse)).rejects.toMatchObject({ code: 'TOO_BIG' });
    expect(cache.size).toBe(1);
    expect(await cache.get(file)).toBe('held');
    expect(reads()).toBe(1);
    // a file not held yet: the check refuses it before any read
    const other = join(dir, 'other.txt');
    await writeFile(other, 'never read');
    await expect(cache.get(other, refuse)).rejects.toMatchObject({ code: 'TOO_BIG' });
    expect(reads()).toBe(1);
    expect(cache.size).toBe(1);
  });

  it('callers at once share one stat; a call after it was answered stats again and sees a change', async () => {
    await writeFile(file, 'one');
    const { cache, reads } = counted();
    stats.started = 0;
    expect(await Promise.all(Array.from({ length: 8 }, () => cache.get(file)))).toEqual(Array(8).fill('one'));
    expect(stats.started).toBe(1);
    await writeFile(file, 'two!');
    expect(await cache.get(file)).toBe('two!'); // the shared stat is not kept: a new one, a new identity
    expect(stats.started).toBe(2);
    expect(reads()).toBe(2);
  });

  it('a shared stat that fails fails all its callers with its error; nothing is kept: the next call stats again', async () => {
    const { cache, reads } = counted();
    stats.started = 0;
    const all = await Promise.allSettled(Array.from({ length: 4 }, () => cache.get(file)));
    expect(all.map((r) => r.status === 'rejected' && (r.reason as { code?: unknown }).code)).toEqual(Array(4).fill('ENOENT'));
    expect(stats.started).toBe(1);
    await writeFile(file, 'here now');
    expect(await cache.get(file)).toBe('here now');
    expect(stats.started).toBe(2);
    expect(reads()).toBe(1);
    expect(cache.size).toBe(1);
  });

  it('a check runs for each caller of a shared stat: one refused, the others served', async () => {
    await writeFile(file, 'one');
    const { cache, reads } = counted();
    stats.started = 0;
    const refuse = (): never => { throw Object.assign(new Error('too big'), { code: 'TOO_BIG' }); };
    const [a, b] = await Promise.allSettled([cache.get(file, refuse), cache.get(file)]);
    expect(stats.started).toBe(1);
    expect(a).toMatchObject({ status: 'rejected', reason: { code: 'TOO_BIG' } });
    expect(b).toEqual({ status: 'fulfilled', value: 'one' });
    expect(reads()).toBe(1);
  });

  it('holds at most max paths, dropping the one held longest', async () => {
    const files = ['a', 'b', 'c'].map((n) => join(dir, n));
    for (const f of files) await writeFile(f, f);
    let reads = 0;
    const cache = new FileCache<string>(async (f) => { reads++; return readFile(f, 'utf8'); }, { max: 2 });
    for (const f of files) await cache.get(f);
    expect(cache.size).toBe(2);
    await cache.get(files[2]!);
    await cache.get(files[1]!);
    expect(reads).toBe(3);
    await cache.get(files[0]!); // dropped: read again
    expect(reads).toBe(4);
    expect(cache.size).toBe(2);
  });
});

describe('SyncFileCache', () => {
  function countedSync(): { cache: SyncFileCache<string>; reads: () => number } {
    let n = 0;
    const cache = new SyncFileCache<string>((f) => {
      n++;
      return readFileSync(f, 'utf8');
    });
    return { cache, reads: () => n };
  }

  it('reads a file once while unchanged; again when rewritten in place (same size and mtime) or replaced by a rename', async () => {
    const { cache, reads } = countedSync();
    await writeFile(file, 'one');
    await pinTimes(file);
    expect([cache.get(file), cache.get(file), cache.get(file)]).toEqual(['one', 'one', 'one']);
    expect(reads()).toBe(1);
    await writeFile(file, 'two');
    await pinTimes(file);
    expect(cache.get(file)).toBe('two');
    await writeFile(join(dir, 'g'), 'six');
    await pinTimes(join(dir, 'g'));
    await rename(join(dir, 'g'), file);
    expect(cache.get(file)).toBe('six');
    expect(reads()).toBe(3);
  });

  it('a removed file throws the stat\'s ENOENT and is dropped; a failed read is not kept', async () => {
    let fail = true;
    const cache = new SyncFileCache<string>((f) => {
      if (fail) throw new Error('read failed');
      return readFileSync(f, 'utf8');
    });
    await writeFile(file, 'one');
    expect(() => cache.get(file)).toThrow('read failed');
    expect(cache.size).toBe(0);
    fail = false;
    expect(cache.get(file)).toBe('one');
    await unlink(file);
    expect(() => cache.get(file)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(cache.size).toBe(0);
  });

  it('keeps only a regular file\'s content (a FIFO is read at every get); retain drops the paths not named', async () => {
    const { cache, reads } = countedSync();
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    let fifoReads = 0;
    const fifos = new SyncFileCache<string>(() => String(++fifoReads));
    expect([fifos.get(fifo), fifos.get(fifo)]).toEqual(['1', '2']);
    expect(fifos.size).toBe(0);
    await writeFile(file, 'one');
    await writeFile(join(dir, 'g'), 'two');
    cache.get(file);
    cache.get(join(dir, 'g'));
    cache.retain(new Set([file]));
    expect(cache.size).toBe(1);
    cache.get(file);
    cache.get(join(dir, 'g'));
    expect(reads()).toBe(3);
  });
});
