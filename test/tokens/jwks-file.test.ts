/**
 * JwksFile: a JWKS file another party rewrites (the PVE's jwks.json, replaced by a rename when it rotates its key).
 * The keys follow the file without a restart; a change that cannot be used keeps the last good set and is reported
 * once per change. The file is looked at no more than once per recheckMs (a clock of the test's own here), and at
 * once when a fresh set is asked for (the unknown-kid re-check).
 */
import { mkdir, mkdtemp, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JWKS_RECHECK_MS, JwksFile, freshKeys, generateSigningKey, verifyWithCurrentKeys } from '../../src/tokens/index.js';
import type { JwksFileProblem, SigningKey } from '../../src/tokens/index.js';

let k1: SigningKey;
let k2: SigningKey;
let dir: string;
let file: string;
let problems: JwksFileProblem[];
/** the files' clock (ms): a change of the file is looked at once a check is due, i.e. JWKS_RECHECK_MS later */
let clock: number;

beforeAll(async () => {
  k1 = await generateSigningKey('ES256', 'pve');
  k2 = await generateSigningKey('EdDSA', 'pve');
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-jwks-file-'));
  file = join(dir, 'jwks.json');
  problems = [];
  clock = 0;
});
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

/** a check of the file is due at the next call */
const later = (): void => { clock += JWKS_RECHECK_MS; };
/** as the PVE writes it (src/cli/pve-service.ts): a temporary file renamed onto the path; then a check is due */
async function publish(text: string, o: { due?: boolean } = {}): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
  if (o.due !== false) later();
}
const jwksOf = (...keys: SigningKey[]): string => JSON.stringify({ keys: keys.map((k) => k.publicJwk) });
const kids = async (f: JwksFile): Promise<string[]> => (await f.current()).keys.map((k) => k.kid);
const open = (recheckMs?: number): JwksFile => new JwksFile(file, { onProblem: (p) => problems.push(p), now: () => clock, ...(recheckMs === undefined ? {} : { recheckMs }) });

describe('JwksFile', () => {
  it('a rotation by rename is used from the next call on; an unchanged file is not read again', async () => {
    await publish(jwksOf(k1));
    const f = open();
    const first = await f.current();
    expect(first.keys.map((k) => k.kid)).toEqual([k1.kid]);
    // unchanged: the same set (no new parse), also for calls at once
    const same = await Promise.all([f.current(), f.current(), f.current()]);
    for (const s of same) expect(s).toBe(first);
    await publish(jwksOf(k2));
    expect(await kids(f)).toEqual([k2.kid]);
    await publish(jwksOf(k2, k1));
    expect(await kids(f)).toEqual([k2.kid, k1.kid]);
    expect(problems).toEqual([]);
  });

  it('a file that is not a JWKS keeps the last good set, reported once per change with the file and the error', async () => {
    await publish(jwksOf(k1));
    const f = open();
    const good = await f.current();
    await publish('{"keys": [');
    for (let i = 0; i < 3; i++) {
      expect(await f.current()).toBe(good);
      later();
    }
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file, reason: 'invalid', error: { code: 'ERR_TOKEN_JWKS', message: expect.stringContaining(file) }, kept: good });
    await publish(JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k', d: 'secret' }] }));
    expect(await f.current()).toBe(good);
    expect(problems.map((p) => p.reason)).toEqual(['invalid', 'invalid']);
    expect(problems[1]!.error).toMatchObject({ code: 'ERR_TOKEN_JWKS', message: expect.stringContaining('private key material') });
    // good again, then broken again: reported again
    await publish(jwksOf(k2));
    expect(await kids(f)).toEqual([k2.kid]);
    await publish('not json');
    expect(await kids(f)).toEqual([k2.kid]);
    expect(problems).toHaveLength(3);
  });

  it('a file that lists no key keeps the last good set', async () => {
    await publish(jwksOf(k1));
    const f = open();
    await f.current();
    await publish('{"keys": []}');
    expect(await kids(f)).toEqual([k1.kid]);
    expect(problems.map((p) => p.reason)).toEqual(['empty']);
  });

  it('a removed file keeps the last good set (reported once until it is back); the file back is read again', async () => {
    await publish(jwksOf(k1));
    const f = open();
    await f.current();
    await unlink(file);
    later();
    expect(await kids(f)).toEqual([k1.kid]);
    later();
    expect(await kids(f)).toEqual([k1.kid]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file, reason: 'missing', error: { code: 'ENOENT' } });
    await publish(jwksOf(k2));
    expect(await kids(f)).toEqual([k2.kid]);
    await unlink(file);
    later();
    expect(await kids(f)).toEqual([k2.kid]);
    expect(problems).toHaveLength(2);
  });

  it('a path that cannot be read (a directory in its place) keeps the last good set, reported once for it', async () => {
    await publish(jwksOf(k1));
    const f = open();
    await f.current();
    await unlink(file);
    await mkdir(file);
    for (let i = 0; i < 3; i++) {
      later();
      expect(await kids(f)).toEqual([k1.kid]);
    }
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file, reason: 'unreadable', error: { code: 'EISDIR' } });
    await rmdir(file);
    await publish(jwksOf(k2));
    expect(await kids(f)).toEqual([k2.kid]);
  });

  it('without a good set there is nothing to keep: ERR_TOKEN_JWKS naming the file', async () => {
    await expect(open().current()).rejects.toMatchObject({ code: 'ERR_TOKEN_JWKS', message: expect.stringContaining(file) });
    await publish('{"keys": []}');
    await expect(open().current()).rejects.toMatchObject({ code: 'ERR_TOKEN_JWKS' });
    expect(problems).toEqual([]);
  });

  it('looks at the file at most once per recheckMs: a change within it is seen when the next check is due', async () => {
    await publish(jwksOf(k1));
    const f = open();
    const first = await f.current();
    await publish(jwksOf(k2), { due: false });
    clock += JWKS_RECHECK_MS - 1;
    // not looked at: the set of the last check (the file now lists k2 only)
    expect(await f.current()).toBe(first);
    clock += 1;
    expect(await kids(f)).toEqual([k2.kid]);
    // a broken file within the window is neither seen nor reported until the check is due
    await publish('not json', { due: false });
    expect(await kids(f)).toEqual([k2.kid]);
    expect(problems).toEqual([]);
    later();
    expect(await kids(f)).toEqual([k2.kid]);
    expect(problems.map((p) => p.reason)).toEqual(['invalid']);
  });

  it('a fresh set is looked for at once, whenever the last check was; recheckMs 0 looks at every call', async () => {
    await publish(jwksOf(k1));
    const f = open();
    await f.current();
    await publish(jwksOf(k2), { due: false });
    expect(await kids(f)).toEqual([k1.kid]);
    expect((await f.current({ fresh: true })).keys.map((k) => k.kid)).toEqual([k2.kid]);
    // the fresh check is the last check: the calls after it answer its set
    expect(await kids(f)).toEqual([k2.kid]);
    const every = open(0);
    expect(await kids(every)).toEqual([k2.kid]);
    await publish(jwksOf(k1), { due: false });
    expect(await kids(every)).toEqual([k1.kid]);
    expect(() => new JwksFile(file, { recheckMs: -1 })).toThrow(/recheckMs/);
  });

  it('a key added within the window verifies at once through the unknown-kid re-check (freshKeys)', async () => {
    await publish(jwksOf(k1));
    const f = open();
    const first = await f.current();
    await publish(jwksOf(k1, k2), { due: false });
    const seen: string[][] = [];
    const verify = async (keys: { keys: { kid: string }[] }): Promise<string> => {
      seen.push(keys.keys.map((k) => k.kid));
      if (!keys.keys.some((k) => k.kid === k2.kid)) throw Object.assign(new Error('unknown kid'), { code: 'ERR_TOKEN_KEY_UNKNOWN' });
      return 'verified';
    };
    expect(await verifyWithCurrentKeys(first, freshKeys(f), verify)).toBe('verified');
    expect(seen).toEqual([[k1.kid], [k1.kid, k2.kid]]);
  });

  it('a check that finds no good set is not kept: the next call looks again, within the window too', async () => {
    const f = open();
    await expect(f.current()).rejects.toMatchObject({ code: 'ERR_TOKEN_JWKS' });
    await publish(jwksOf(k1), { due: false });
    expect(await kids(f)).toEqual([k1.kid]);
  });
});
