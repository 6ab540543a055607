/**
 * software-update with a sha256 and a local image (northbound.ts): the image's digest is kept until the file changes
 * (src/file-cache.ts), so an image replaced by a rename onto its name, with the same size and modification time, is
 * hashed again (issue 15: it was kept by size and mtime, and the old digest was compared), and requests at once share
 * one hash.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, realpath, rename, rm, utimes, writeFile } from 'node:fs/promises';
import type * as Fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// how often an image is opened to be hashed (createReadStream, spied on)
const opened = vi.hoisted(() => ({ n: 0 }));
vi.mock('node:fs', async (importOriginal) =>
  (await import('../helpers/counted-reads.js')).countReadStreams(await importOriginal<typeof Fs>(), opened));

// (vi.mock is hoisted: northbound.ts hashes with the spied createReadStream)
import { el, leaf } from '../../src/netconf/xml/index.js';
import type { NetconfError } from '../../src/netconf/rpc-error.js';
import { HSV_NS, OamService } from '../../src/oam-plugin/northbound.js';
import type { PveClient } from '../../src/oam/ports.js';
import { FakeDevices, FakeFetcher, FakeTokens, MemoryStore } from '../oam/fakes.js';

/** a PVE that answers nothing before the step ends (the jobs stay in their PVE step: the RPC's check is tested) */
const pve: PveClient = {
  integrityRequest: (_req, signal) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })),
};
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
/** one fixed second as access and modification time: a replacement that size and mtime cannot tell apart */
const pinTimes = (f: string): Promise<void> => utimes(f, 1_700_000_000, 1_700_000_000);

let dir: string;
let svc: OamService | undefined;
beforeEach(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'hsv-sha256-file-')));
  opened.n = 0;
  let seq = 0;
  svc = new OamService({
    store: new MemoryStore(), pve, devices: new FakeDevices(), fetcher: new FakeFetcher(), tokens: new FakeTokens(),
    newNonce: () => (++seq).toString(16).padStart(64, '0'), inventory: () => ['a', 'b', 'c', 'd', 'e'], jwks: () => ({ keys: [] }),
    fileRoot: dir, confineSoftware: { allowHttpUrl: () => false },
  });
});
afterEach(async () => {
  await svc?.close();
  svc = undefined;
  await rm(dir, { recursive: true, force: true });
});

const update = (henbId: string, uri: string, sha256: string): Promise<unknown> => svc!.softwareUpdate(el(HSV_NS, 'software-update', leaf(HSV_NS, 'henb-id', henbId),
  el(HSV_NS, 'software', leaf(HSV_NS, 'uri', uri), leaf(HSV_NS, 'sha256', sha256))));

describe('software-update with a sha256 of a local image', () => {
  it('hashes the image once, and again when it is replaced by a rename (same size and mtime)', async () => {
    const image = join(dir, 'fw.bin');
    await writeFile(image, 'firmware 2.0.0 A');
    await pinTimes(image);
    const uri = pathToFileURL(image).href;
    await update('a', uri, sha('firmware 2.0.0 A'));
    await update('b', uri, sha('firmware 2.0.0 A'));
    expect(opened.n).toBe(1);

    const tmp = join(dir, 'fw.tmp');
    await writeFile(tmp, 'firmware 2.0.0 B');
    await pinTimes(tmp);
    await rename(tmp, image);
    const refused = await update('c', uri, sha('firmware 2.0.0 A')).then(() => undefined, (e: unknown) => e as NetconfError);
    expect(refused?.errors[0]).toMatchObject({ tag: 'invalid-value', appTag: 'software-unavailable', message: expect.stringContaining(sha('firmware 2.0.0 B')) });
    await update('c', uri, sha('firmware 2.0.0 B'));
    expect(opened.n).toBe(2);
  });

  it('requests at once share one hash', async () => {
    const image = join(dir, 'fw.bin');
    await writeFile(image, 'firmware 2.0.0');
    const uri = pathToFileURL(image).href;
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => update(id, uri, sha('firmware 2.0.0'))));
    expect(opened.n).toBe(1);
  });
});
