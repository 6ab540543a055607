/**
 * The OAM's JWKS file (provided.ts, tokens jwksFileReader): read once and again only when it changes (issue 15: it
 * was read per statement), and a file an operator replaces (renamed onto the path, or rewritten in place) is used
 * from the next statement on.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import type * as FsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// how often the JWKS file is read (readFile of that path, spied on)
const reads = vi.hoisted(() => ({ jwks: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof FsPromises>();
  return {
    ...fs,
    readFile: ((...a: Parameters<typeof fs.readFile>) => {
      if (String(a[0]).endsWith('oam-jwks.json')) reads.jwks++;
      return fs.readFile(...a);
    }) as typeof fs.readFile,
  };
});

// (vi.mock is hoisted: the modules below read the file with the spied readFile)
import { silentLogger } from '../../src/log/logger.js';
import { openProvidedReferenceValues } from '../../src/pve/provided.js';
import { generateSigningKey, jwksFileReader, signReferenceValues } from '../../src/tokens/index.js';
import type { SigningKey } from '../../src/tokens/index.js';

const OAM = 'urn:henb-sw-verify:oam';
const PVE = 'urn:henb-sw-verify:pve';

let dir: string;
let keyA: SigningKey;
let keyB: SigningKey;
const jwksFile = (): string => join(dir, 'oam-jwks.json');
const jwksOf = (k: SigningKey): string => JSON.stringify({ keys: [k.publicJwk] });
let n = 0;
const statement = (k: SigningKey): Promise<string> =>
  signReferenceValues({ iss: OAM, aud: PVE, sub: 'henb-1', 'job-id': `job-${++n}`, 'reference-values': [{ component: 'rootfs', digest: 'ab'.repeat(32) }] }, k, { now: () => Date.now() / 1000 + n });

beforeAll(async () => {
  keyA = await generateSigningKey('ES256', 'oam');
  keyB = await generateSigningKey('ES256', 'oam');
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-oam-jwks-'));
  reads.jwks = 0;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the OAM JWKS file', () => {
  it('is read once for many statements, and a replaced file (renamed onto it, or rewritten in place) is used for the next statement', async () => {
    await writeFile(jwksFile(), jwksOf(keyA));
    const provided = await openProvidedReferenceValues({ dataDir: dir, audience: PVE, oamJwks: jwksFile(), knownHenb: () => true, log: silentLogger });
    for (let i = 0; i < 5; i++) await provided.accept(await statement(keyA));
    expect(reads.jwks).toBe(1);

    // an operator replaces it (temporary file, then rename): the old key is refused, the new one accepted
    await writeFile(join(dir, 'new.json'), jwksOf(keyB));
    await rename(join(dir, 'new.json'), jwksFile());
    await expect(provided.accept(await statement(keyA))).rejects.toMatchObject({ entry: { 'error-app-tag': 'reference-values-untrusted' } });
    await expect(provided.accept(await statement(keyB))).resolves.toMatchObject({ sub: 'henb-1' });
    expect(reads.jwks).toBe(2);

    // rewritten in place (same inode, same size: an ES256 JWKS of another key)
    await new Promise((r) => setTimeout(r, 20)); // past the file system's timestamp tick
    await writeFile(jwksFile(), jwksOf(keyA));
    await expect(provided.accept(await statement(keyB))).rejects.toMatchObject({ entry: { 'error-app-tag': 'reference-values-untrusted' } });
    await expect(provided.accept(await statement(keyA))).resolves.toMatchObject({ sub: 'henb-1' });
    expect(reads.jwks).toBe(3);
    await provided.close();
  });

  it('a file gone or unreadable refuses statements (untrusted) until it is back; a failed read is not kept', async () => {
    const read = jwksFileReader(jwksFile());
    await expect(read()).rejects.toMatchObject({ code: 'ERR_TOKEN_JWKS' });
    await writeFile(jwksFile(), '{"keys": not json');
    await expect(read()).rejects.toMatchObject({ code: 'ERR_TOKEN_JWKS' });
    await expect(read()).rejects.toMatchObject({ code: 'ERR_TOKEN_JWKS' });
    expect(reads.jwks).toBe(2); // each call with a bad file reads it again (nothing kept)
    await writeFile(jwksFile(), jwksOf(keyA));
    expect((await read()).keys).toEqual([keyA.publicJwk]);
    expect(await read()).toBe(await read()); // unchanged: the same keys, not read again
    expect(reads.jwks).toBe(3);
    expect(Object.isFrozen((await read()).keys)).toBe(true);
  });

  it('statements at once share one read of the file (src/file-cache.ts)', async () => {
    await writeFile(jwksFile(), jwksOf(keyA));
    const read = jwksFileReader(jwksFile());
    const all = await Promise.all(Array.from({ length: 10 }, () => read()));
    expect(all.every((j) => j === all[0])).toBe(true);
    expect(all[0]!.keys).toEqual([keyA.publicJwk]);
    expect(reads.jwks).toBe(1);
  });
});
