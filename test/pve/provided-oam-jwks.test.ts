/**
 * The OAM's JWKS file (provided.ts, tokens JwksFile): read once and again only when it changes (issue 15: it
 * was read per statement), and a file an operator replaces (renamed onto the path, or rewritten in place) is used
 * from the next statement on. A change that cannot be used keeps the last good set, warned once per change (it
 * refused every statement, with a warning each); an unknown kid looks at the file once more. The file is looked at
 * once per JWKS_RECHECK_MS at most: performance.now is faked here, and later() lets that time pass.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import type * as FsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// how often the JWKS file is read (readFile of that path, spied on); afterStat: run once after the next stat of it
const reads = vi.hoisted(() => ({ jwks: 0, afterStat: undefined as (() => Promise<void>) | undefined }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof FsPromises>();
  return {
    ...fs,
    readFile: ((...a: Parameters<typeof fs.readFile>) => {
      if (String(a[0]).endsWith('oam-jwks.json')) reads.jwks++;
      return fs.readFile(...a);
    }) as typeof fs.readFile,
    stat: (async (...a: Parameters<typeof fs.stat>) => {
      const st = await fs.stat(...a);
      const after = String(a[0]).endsWith('oam-jwks.json') ? reads.afterStat : undefined;
      reads.afterStat = undefined;
      await after?.();
      return st;
    }) as typeof fs.stat,
  };
});

// (vi.mock is hoisted: the modules below read the file with the spied readFile)
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { openProvidedReferenceValues } from '../../src/pve/provided.js';
import type { ProvidedReferenceValues } from '../../src/pve/provided.js';
import { JWKS_RECHECK_MS, generateSigningKey, signReferenceValues } from '../../src/tokens/index.js';
import type { SigningKey } from '../../src/tokens/index.js';

const OAM = 'urn:henb-sw-verify:oam';
const PVE = 'urn:henb-sw-verify:pve';

let dir: string;
let keyA: SigningKey;
let keyB: SigningKey;
const jwksFile = (): string => join(dir, 'oam-jwks.json');
const jwksOf = (...ks: SigningKey[]): string => JSON.stringify({ keys: ks.map((k) => k.publicJwk) });
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
  reads.afterStat = undefined;
  vi.useFakeTimers({ toFake: ['performance'] });
});
afterEach(() => { vi.useRealTimers(); });
/** a look at the file is due at the next statement */
const later = (): void => { vi.advanceTimersByTime(JWKS_RECHECK_MS); };
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
    later();
    await expect(provided.accept(await statement(keyA))).rejects.toMatchObject({ entry: { 'error-app-tag': 'reference-values-untrusted' } });
    await expect(provided.accept(await statement(keyB))).resolves.toMatchObject({ sub: 'henb-1' });
    expect(reads.jwks).toBe(2);

    // rewritten in place (same inode, same size: an ES256 JWKS of another key)
    await new Promise((r) => setTimeout(r, 20)); // past the file system's timestamp tick
    await writeFile(jwksFile(), jwksOf(keyA));
    later();
    await expect(provided.accept(await statement(keyB))).rejects.toMatchObject({ entry: { 'error-app-tag': 'reference-values-untrusted' } });
    await expect(provided.accept(await statement(keyA))).resolves.toMatchObject({ sub: 'henb-1' });
    expect(reads.jwks).toBe(3);
    await provided.close();
  });

  it('a file broken after a good read keeps the last good set: statements verify, one warning per change; a good file is used again', async () => {
    await writeFile(jwksFile(), jwksOf(keyA));
    const { log, warned } = recordingLog();
    const provided = await openProvided(log);
    await provided.accept(await statement(keyA));
    await publish('{"keys": [{"kty": "EC"');
    for (let i = 0; i < 3; i++) await expect(provided.accept(await statement(keyA))).resolves.toMatchObject({ sub: 'henb-1' });
    await rm(jwksFile());
    later();
    for (let i = 0; i < 2; i++) await expect(provided.accept(await statement(keyA))).resolves.toMatchObject({ sub: 'henb-1' });
    expect(warned()).toMatchObject([
      { file: jwksFile(), reason: 'invalid', keptKids: [keyA.kid], err: { code: 'ERR_TOKEN_JWKS' } },
      { file: jwksFile(), reason: 'missing', keptKids: [keyA.kid], err: { code: 'ENOENT' } },
    ]);
    expect(warned()[0]!.msg).toMatch(/last good key set/);
    expect(reads.jwks).toBe(2); // the bad file read once, not per statement
    await publish(jwksOf(keyB));
    await expect(provided.accept(await statement(keyB))).resolves.toMatchObject({ sub: 'henb-1' });
    await expect(provided.accept(await statement(keyA))).rejects.toMatchObject({ entry: { 'error-app-tag': 'reference-values-untrusted' } });
    await provided.close();
  });

  it('without a good file since start statements are refused (untrusted), warned once per problem, until a good file is read', async () => {
    const { log, warned } = recordingLog();
    const provided = await openProvided(log);
    for (let i = 0; i < 2; i++) await expect(provided.accept(await statement(keyA))).rejects.toMatchObject({ entry: { 'error-app-tag': 'reference-values-untrusted' } });
    await publish('garbage');
    for (let i = 0; i < 2; i++) await expect(provided.accept(await statement(keyA))).rejects.toMatchObject({ entry: { 'error-app-tag': 'reference-values-untrusted' } });
    expect(warned()).toMatchObject([{ file: jwksFile(), err: { code: 'ERR_TOKEN_JWKS' } }, { file: jwksFile(), err: { code: 'ERR_TOKEN_JWKS' } }]);
    expect(reads.jwks).toBe(1);
    await publish(jwksOf(keyA));
    await expect(provided.accept(await statement(keyA))).resolves.toMatchObject({ sub: 'henb-1' });
    await provided.close();
  });

  it('an unknown kid looks at the file once more: a rotation landing between the stat and the verification is used', async () => {
    await writeFile(jwksFile(), jwksOf(keyA));
    const provided = await openProvided(silentLogger);
    await provided.accept(await statement(keyA));
    const byB = await statement(keyB);
    // the OAM rotates just after the PVE's stat for this statement: that stat still sees keyA's file
    reads.afterStat = () => publish(jwksOf(keyA, keyB));
    later();
    await expect(provided.accept(byB)).resolves.toMatchObject({ sub: 'henb-1' });
    expect(reads.afterStat).toBeUndefined();
    // a key the file really lacks: looked at once more, then refused as before
    const stranger = await generateSigningKey('ES256', 'oam');
    await expect(provided.accept(await statement(stranger))).rejects.toMatchObject({
      entry: { 'error-tag': 'access-denied', 'error-app-tag': 'reference-values-untrusted', 'error-message': 'the reference values are not signed by the configured OAM key' },
    });
    await provided.close();
  });
});

async function publish(text: string): Promise<void> {
  await writeFile(join(dir, 'new.json'), text);
  await rename(join(dir, 'new.json'), jwksFile());
  later();
}
function openProvided(log: ReturnType<typeof createLogger>): Promise<ProvidedReferenceValues> {
  return openProvidedReferenceValues({ dataDir: dir, audience: PVE, oamJwks: jwksFile(), knownHenb: () => true, log });
}
function recordingLog(): { log: ReturnType<typeof createLogger>; warned: () => Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { log, warned: () => lines.filter((l) => l.level === 'warn' && String(l.msg).includes('OAM JWKS file')) };
}
