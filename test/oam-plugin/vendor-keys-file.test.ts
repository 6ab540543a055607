/**
 * Config software.vendor-keys (policy require-signed-software) followed while the OAM runs, by the same rule as
 * pve.jwks (./jwks-files.ts, src/tokens JwksFile): a vendor key added to the file verifies manifests from the next
 * one on without a restart; a broken file keeps the last good set, warned once per change and counted in
 * hsv_jwks_file_errors_total{file="software.vendor-keys", reason}; an unknown kid looks at the keys once more; a
 * manifest whose key the file really lacks is refused with the same error as before. The file is looked at once per
 * JWKS_RECHECK_MS at most (performance.now is faked here; publish() lets that time pass), and at once for a manifest
 * signed by a key the last look did not find.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { metrics } from '../../src/metrics/index.js';
import { createSoftwareManifestCheck, manifestCheckFromConfig } from '../../src/oam-plugin/index.js';
import type { SoftwareManifestCheck } from '../../src/oam/index.js';
import { JWKS_RECHECK_MS, generateSigningKey, signSoftwareManifest } from '../../src/tokens/index.js';
import type { Jwks, JwksSource, SigningKey } from '../../src/tokens/index.js';

let dir: string;
let v1: SigningKey;
let v2: SigningKey;
const image = Buffer.from('firmware 7.0.0 '.repeat(100));
const sha256 = createHash('sha256').update(image).digest('hex');
const signal = new AbortController().signal;
const UNTRUSTED = { code: 'ERR_SOFTWARE_MANIFEST_UNTRUSTED', message: 'the software manifest is not signed by a configured vendor key' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-vendor-keys-'));
  await mkdir(join(dir, 'sw'));
  v1 = await generateSigningKey('ES256', 'vendor');
  v2 = await generateSigningKey('ES256', 'vendor');
  await writeFile(join(dir, 'sw', 'fw.bin'), image);
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

beforeEach(() => { vi.useFakeTimers({ toFake: ['performance'] }); });
afterEach(() => { vi.useRealTimers(); });

/** the file replaced by a rename; then (unless due is false) the time passes after which the file is looked at again */
async function publish(file: string, text: string, o: { due?: boolean } = {}): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
  if (o.due !== false) vi.advanceTimersByTime(JWKS_RECHECK_MS);
}
const jwksOf = (...keys: SigningKey[]): Jwks => ({ keys: keys.map((k) => k.publicJwk) });
/** the image's manifest signed with `key`; the request to check it */
async function signedBy(key: SigningKey): Promise<{ uri: string; sha256: string; component: string; version: string }> {
  await writeFile(join(dir, 'sw', 'fw.bin.jws'), await signSoftwareManifest({ iss: 'urn:vendor:acme', digest: sha256, version: '7.0.0', component: 'rootfs' }, key));
  return { uri: pathToFileURL(join(dir, 'sw', 'fw.bin')).href, sha256, component: 'rootfs', version: '7.0.0' };
}
function recordingLog(): { log: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }) };
}
async function counted(reason: string): Promise<number> {
  return (await metrics.jwksFileErrors.get()).values.find((v) => v.labels.file === 'software.vendor-keys' && v.labels.reason === reason)?.value ?? 0;
}
async function checkFor(file: string, log: ReturnType<typeof createLogger>): Promise<SoftwareManifestCheck> {
  const check = await manifestCheckFromConfig({ policies: { 'require-signed-software': true }, software: { 'vendor-keys': file } }, { fileRoot: join(dir, 'sw') }, dir, log);
  return check!;
}

describe('software.vendor-keys followed while the OAM runs', () => {
  it('a vendor key added to the file verifies the next manifest without a restart; before, the same refusal as ever', async () => {
    const file = join(dir, 'rotate.json');
    await publish(file, JSON.stringify(jwksOf(v1)));
    const check = await checkFor(file, recordingLog().log);
    await expect(check.check(await signedBy(v1), signal)).resolves.toBeUndefined();
    await expect(check.check(await signedBy(v2), signal)).rejects.toMatchObject(UNTRUSTED);
    // at once, before the next look is due: the unknown kid looks again
    await publish(file, JSON.stringify(jwksOf(v1, v2)), { due: false });
    await expect(check.check(await signedBy(v2), signal)).resolves.toBeUndefined();
    // and a key removed from it is refused from the next manifest on
    await publish(file, JSON.stringify(jwksOf(v2)));
    await expect(check.check(await signedBy(v1), signal)).rejects.toMatchObject(UNTRUSTED);
  });

  it('a broken file keeps the last good set: warned once with the file and the error, counted; a good file is used again', async () => {
    const file = join(dir, 'broken.json');
    await publish(file, JSON.stringify(jwksOf(v1)));
    const { log, lines } = recordingLog();
    const check = await checkFor(file, log);
    const invalid = await counted('invalid');
    const missing = await counted('missing');
    await publish(file, '{"keys": [{"kty": "EC"');
    for (let i = 0; i < 3; i++) await expect(check.check(await signedBy(v1), signal)).resolves.toBeUndefined();
    await unlink(file);
    vi.advanceTimersByTime(JWKS_RECHECK_MS);
    for (let i = 0; i < 2; i++) await expect(check.check(await signedBy(v1), signal)).resolves.toBeUndefined();
    const warned = lines.filter((l) => l.level === 'warn' && String(l.msg).includes('vendor'));
    expect(warned).toMatchObject([
      { file, reason: 'invalid', keptKids: [v1.kid], err: { code: 'ERR_TOKEN_JWKS' } },
      { file, reason: 'missing', keptKids: [v1.kid], err: { code: 'ENOENT' } },
    ]);
    expect(warned[0]!.msg).toMatch(/software\.vendor-keys.*last good key set/);
    expect(await counted('invalid')).toBe(invalid + 1);
    expect(await counted('missing')).toBe(missing + 1);
    await publish(file, JSON.stringify(jwksOf(v2)));
    await expect(check.check(await signedBy(v2), signal)).resolves.toBeUndefined();
    await expect(check.check(await signedBy(v1), signal)).rejects.toMatchObject(UNTRUSTED);
  });

  it('a file that cannot be used at start is a configuration error, as before', async () => {
    const { log } = recordingLog();
    await expect(checkFor(join(dir, 'absent.json'), log)).rejects.toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('software.vendor-keys') });
    const empty = join(dir, 'empty.json');
    await publish(empty, '{"keys": []}');
    await expect(checkFor(empty, log)).rejects.toMatchObject({ code: 'ERR_OAM_CONFIG', cause: { code: 'ERR_TOKEN_JWKS' } });
  });

  it('an unknown kid looks at the keys once more (a key added between the stat and the verification)', async () => {
    const sets = [jwksOf(v1), jwksOf(v1, v2)];
    let asked = 0;
    const rotating: JwksSource = { current: async () => sets[Math.min(asked++, 1)]! };
    const check = createSoftwareManifestCheck({ fileRoot: join(dir, 'sw') }, rotating);
    await expect(check.check(await signedBy(v2), signal)).resolves.toBeUndefined();
    expect(asked).toBe(2);
  });

  it('a key the keys really lack: looked at once more, then the same refusal (and a known kid is not looked at twice)', async () => {
    const set = jwksOf(v1);
    let asked = 0;
    const fixed: JwksSource = { current: async () => { asked++; return set; } };
    const check = createSoftwareManifestCheck({ fileRoot: join(dir, 'sw') }, fixed);
    await expect(check.check(await signedBy(v2), signal)).rejects.toMatchObject(UNTRUSTED);
    expect(asked).toBe(2);
    asked = 0;
    await expect(check.check(await signedBy(v1), signal)).resolves.toBeUndefined();
    expect(asked).toBe(1);
  });
});
