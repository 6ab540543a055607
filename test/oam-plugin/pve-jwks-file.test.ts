/**
 * Config pve.jwks as the OAM plugin uses it (./ports.ts pveJwksFile): read at start (a file that cannot be used fails
 * the start), then followed (looked at once per JWKS_RECHECK_MS at most: performance.now is faked here, and a change
 * is looked at once that much time passed); a change that cannot be used keeps the last good set, is logged once per
 * change (file and error) and counted in hsv_jwks_file_errors_total{file="pve.jwks", reason}.
 */
import { mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { metrics } from '../../src/metrics/index.js';
import { pveJwksFile } from '../../src/oam-plugin/ports.js';
import { JWKS_RECHECK_MS, generateSigningKey } from '../../src/tokens/index.js';
import type { SigningKey } from '../../src/tokens/index.js';

let dir: string;
let k1: SigningKey;
let k2: SigningKey;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-pve-jwks-'));
  k1 = await generateSigningKey('ES256', 'pve');
  k2 = await generateSigningKey('ES256', 'pve');
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });
beforeEach(() => { vi.useFakeTimers({ toFake: ['performance'] }); });
afterEach(() => { vi.useRealTimers(); });

/** a check of the file is due at the next verification */
const later = (): void => { vi.advanceTimersByTime(JWKS_RECHECK_MS); };
async function publish(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
  later();
}
const jwksOf = (...keys: SigningKey[]): string => JSON.stringify({ keys: keys.map((k) => k.publicJwk) });

function recordingLog(): { log: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }) };
}
async function counted(reason: string): Promise<number> {
  return (await metrics.jwksFileErrors.get()).values.find((v) => v.labels.file === 'pve.jwks' && v.labels.reason === reason)?.value ?? 0;
}

describe('pve.jwks (pveJwksFile)', () => {
  it('follows a rotation; a broken file keeps the last good set, logged once with the file and the error, and counted', async () => {
    const file = join(dir, 'broken.json');
    await publish(file, jwksOf(k1));
    const { log, lines } = recordingLog();
    const jwks = await pveJwksFile(file, log);
    expect((await jwks.current()).keys.map((k) => k.kid)).toEqual([k1.kid]);
    await publish(file, jwksOf(k2));
    expect((await jwks.current()).keys.map((k) => k.kid)).toEqual([k2.kid]);
    const before = await counted('invalid');
    await publish(file, '{"keys": [{"kty": "EC"');
    for (let i = 0; i < 3; i++) {
      expect((await jwks.current()).keys.map((k) => k.kid)).toEqual([k2.kid]);
      later();
    }
    const warned = lines.filter((l) => l.level === 'warn');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ file, reason: 'invalid', keptKids: [k2.kid], err: { code: 'ERR_TOKEN_JWKS', message: expect.stringContaining('is not JSON') } });
    expect(warned[0]!.msg).toMatch(/last good key set/);
    expect(await counted('invalid')).toBe(before + 1);
  });

  it('a removed file keeps the last good set: warned once, counted as missing', async () => {
    const file = join(dir, 'removed.json');
    await publish(file, jwksOf(k1));
    const { log, lines } = recordingLog();
    const jwks = await pveJwksFile(file, log);
    const before = await counted('missing');
    await unlink(file);
    later();
    expect((await jwks.current()).keys.map((k) => k.kid)).toEqual([k1.kid]);
    later();
    expect((await jwks.current()).keys.map((k) => k.kid)).toEqual([k1.kid]);
    expect(lines.filter((l) => l.level === 'warn')).toMatchObject([{ file, reason: 'missing', err: { code: 'ENOENT' } }]);
    expect(await counted('missing')).toBe(before + 1);
  });

  it('a file that cannot be used at start fails the start, as before', async () => {
    const { log } = recordingLog();
    await expect(pveJwksFile(join(dir, 'absent.json'), log)).rejects.toMatchObject({ code: 'ERR_TOKEN_JWKS', message: expect.stringContaining('absent.json') });
    const file = join(dir, 'garbage.json');
    await publish(file, 'garbage');
    await expect(pveJwksFile(file, log)).rejects.toMatchObject({ code: 'ERR_TOKEN_JWKS' });
  });
});
