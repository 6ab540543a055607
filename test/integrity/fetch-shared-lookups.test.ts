/**
 * fetchAndDigest of a file: with fileRoot and fileDigests, the jobs of a rollout that ask for the same image at once
 * share one realpath and one stat (issue 15: 96% of those look-ups found one in flight in the fleet benchmark). The
 * confinement and the size check still hold for each caller, and a look-up made after the shared one was answered
 * sees a change of the file.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// realpath and stat of node:fs/promises, counted by path
const calls = vi.hoisted(() => ({ realpath: [] as string[], stat: [] as string[] }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof FsPromises>();
  return {
    ...fs,
    realpath: ((p: string, ...rest: []) => { calls.realpath.push(String(p)); return fs.realpath(p, ...rest); }) as typeof fs.realpath,
    stat: ((p: string, ...rest: []) => { calls.stat.push(String(p)); return fs.stat(p, ...rest); }) as typeof fs.stat,
  };
});

// (vi.mock is hoisted: fetch.ts and file-cache.ts see the counted functions)
import { createFileDigests, fetchAndDigest } from '../../src/integrity/index.js';

const code = (c: string): unknown => expect.objectContaining({ code: c });
const sha256Hex = (s: string): string => createHash('sha256').update(s).digest('hex');

let dir: string;
let jail: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hsv-shared-lookups-'));
  jail = join(dir, 'jail');
  mkdirSync(jail);
  writeFileSync(join(dir, 'outside.bin'), 'not for the devices');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fetchAndDigest file: callers at once share the look-ups', () => {
  it('twenty jobs at once: one realpath, one stat, one read, the right digest for each', async () => {
    writeFileSync(join(jail, 'image.bin'), 'version-1');
    const uri = pathToFileURL(join(jail, 'image.bin')).href;
    const digests = createFileDigests();
    calls.realpath.length = 0;
    calls.stat.length = 0;
    const all = await Promise.all(Array.from({ length: 20 }, () => fetchAndDigest(uri, { fileRoot: jail, fileDigests: digests })));
    expect(all).toEqual(Array(20).fill({ digest: sha256Hex('version-1'), size: 9, uri }));
    expect(calls.realpath).toEqual([join(jail, 'image.bin')]);
    expect(calls.stat).toEqual([join(jail, 'image.bin')]);
    // once answered, nothing is kept: the next job looks again and sees the new image
    writeFileSync(join(jail, 'image.bin'), 'version-2!');
    expect((await fetchAndDigest(uri, { fileRoot: jail, fileDigests: digests })).digest).toBe(sha256Hex('version-2!'));
    expect(calls.realpath).toHaveLength(2);
    expect(calls.stat).toHaveLength(2);
  });

  it('each caller keeps its own checks: its own root and its own size limit, on the shared answer', async () => {
    writeFileSync(join(jail, 'big.bin'), 'x'.repeat(2000));
    const uri = pathToFileURL(join(jail, 'big.bin')).href;
    const digests = createFileDigests();
    calls.realpath.length = 0;
    const [small, other, fine] = await Promise.allSettled([
      fetchAndDigest(uri, { fileRoot: jail, fileDigests: digests, maxBytes: 1000 }),
      fetchAndDigest(uri, { fileRoot: mkdtempSync(join(dir, 'other-')), fileDigests: digests }),
      fetchAndDigest(uri, { fileRoot: jail, fileDigests: digests }),
    ]);
    expect(small).toMatchObject({ status: 'rejected', reason: code('ERR_SOFTWARE_TOO_BIG') });
    expect(other).toMatchObject({ status: 'rejected', reason: code('ERR_SOFTWARE_NOT_FOUND') });
    expect(fine).toMatchObject({ status: 'fulfilled', value: { size: 2000 } });
    expect(calls.realpath.filter((p) => p === join(jail, 'big.bin'))).toHaveLength(1);
  });

  it('a link out of the root is refused for every caller of the shared look-up; a missing file is not found for all', async () => {
    symlinkSync(join(dir, 'outside.bin'), join(jail, 'escape.bin'));
    const escape = pathToFileURL(join(jail, 'escape.bin')).href;
    const digests = createFileDigests();
    const refused = await Promise.allSettled(Array.from({ length: 5 }, () => fetchAndDigest(escape, { fileRoot: jail, fileDigests: digests })));
    for (const r of refused) expect(r).toMatchObject({ status: 'rejected', reason: code('ERR_SOFTWARE_NOT_FOUND') });
    unlinkSync(join(jail, 'escape.bin'));
    const gone = pathToFileURL(join(jail, 'gone.bin')).href;
    const missing = await Promise.allSettled(Array.from({ length: 5 }, () => fetchAndDigest(gone, { fileRoot: jail, fileDigests: digests })));
    for (const r of missing) expect(r).toMatchObject({ status: 'rejected', reason: code('ERR_SOFTWARE_NOT_FOUND') });
    expect(digests.size).toBe(0);
  });
});
