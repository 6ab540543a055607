/**
 * Approved software (src/pve/approved.ts), read per integrity request: each image is hashed once and again only when
 * it changes (src/file-cache.ts), an image replaced by a rename onto its name is hashed again even with the same size
 * and modification time (issue 15: the digest was kept by size and mtime), and requests at once share one hash.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import type * as Fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// how often an image is opened to be hashed (createReadStream, spied on)
const opened = vi.hoisted(() => ({ n: 0 }));
vi.mock('node:fs', async (importOriginal) =>
  (await import('../helpers/counted-reads.js')).countReadStreams(await importOriginal<typeof Fs>(), opened));

// (vi.mock is hoisted: approved.ts hashes with the spied createReadStream)
import { approvedSoftware } from '../../src/pve/approved.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-approved-'));
  opened.n = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
/** one fixed second as access and modification time: a replacement that size and mtime cannot tell apart */
const pinTimes = (f: string): Promise<void> => utimes(f, 1_700_000_000, 1_700_000_000);

describe('approved software', () => {
  it('hashes an image once for many requests, and again when it is replaced by a rename (same size and mtime)', async () => {
    const images = join(dir, 'images');
    await mkdir(images);
    const image = join(images, 'fw.bin');
    await writeFile(image, 'firmware 2.0.0 A');
    await pinTimes(image);
    const approved = approvedSoftware([images]);
    for (let i = 0; i < 3; i++) expect(await approved.digests()).toEqual([sha('firmware 2.0.0 A')]);
    expect(opened.n).toBe(1);

    // the operator replaces the image: a temporary file of the same size and times, renamed onto it
    const tmp = join(dir, 'fw.tmp');
    await writeFile(tmp, 'firmware 2.0.0 B');
    await pinTimes(tmp);
    await rename(tmp, image);
    expect(await approved.digests()).toEqual([sha('firmware 2.0.0 B')]);
    expect(opened.n).toBe(2);
  });

  it('requests at once share one hash of a changed image', async () => {
    const image = join(dir, 'fw.bin');
    await writeFile(image, 'firmware 2.0.0');
    const approved = approvedSoftware([image]);
    const all = await Promise.all(Array.from({ length: 8 }, () => approved.digests()));
    expect(all).toEqual(Array(8).fill([sha('firmware 2.0.0')]));
    expect(opened.n).toBe(1);
  });

  it('an image removed no longer counts and is reported as before (ENOENT), a missing path too', async () => {
    const image = join(dir, 'fw.bin');
    await writeFile(image, 'firmware 2.0.0');
    const errors: Array<{ path: string; code: unknown }> = [];
    const approved = approvedSoftware([image, join(dir, 'missing.bin')], (path, err) => errors.push({ path, code: (err as { code?: unknown }).code }));
    expect(await approved.digests()).toEqual([sha('firmware 2.0.0')]);
    await unlink(image);
    expect(await approved.digests()).toEqual([]);
    expect(errors.map((e) => e.code)).toEqual(['ENOENT', 'ENOENT', 'ENOENT']);
    await writeFile(image, 'firmware 2.0.1');
    expect(await approved.digests()).toEqual([sha('firmware 2.0.1')]);
  });
});
