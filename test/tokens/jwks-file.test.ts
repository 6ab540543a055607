/**
 * JwksFile: a JWKS file another party rewrites (the PVE's jwks.json, replaced by a rename when it rotates its key).
 * The keys follow the file without a restart; a change that cannot be used keeps the last good set and is reported
 * once per change.
 */
import { mkdir, mkdtemp, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JwksFile, generateSigningKey } from '../../src/tokens/index.js';
import type { JwksFileProblem, SigningKey } from '../../src/tokens/index.js';

let k1: SigningKey;
let k2: SigningKey;
let dir: string;
let file: string;
let problems: JwksFileProblem[];

beforeAll(async () => {
  k1 = await generateSigningKey('ES256', 'pve');
  k2 = await generateSigningKey('EdDSA', 'pve');
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-jwks-file-'));
  file = join(dir, 'jwks.json');
  problems = [];
});
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

/** as the PVE writes it (src/cli/pve-service.ts): a temporary file renamed onto the path */
async function publish(text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}
const jwksOf = (...keys: SigningKey[]): string => JSON.stringify({ keys: keys.map((k) => k.publicJwk) });
const kids = async (f: JwksFile): Promise<string[]> => (await f.current()).keys.map((k) => k.kid);
const open = (): JwksFile => new JwksFile(file, { onProblem: (p) => problems.push(p) });

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
    for (let i = 0; i < 3; i++) expect(await f.current()).toBe(good);
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
    expect(await kids(f)).toEqual([k1.kid]);
    expect(await kids(f)).toEqual([k1.kid]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file, reason: 'missing', error: { code: 'ENOENT' } });
    await publish(jwksOf(k2));
    expect(await kids(f)).toEqual([k2.kid]);
    await unlink(file);
    expect(await kids(f)).toEqual([k2.kid]);
    expect(problems).toHaveLength(2);
  });

  it('a path that cannot be read (a directory in its place) keeps the last good set, reported once for it', async () => {
    await publish(jwksOf(k1));
    const f = open();
    await f.current();
    await unlink(file);
    await mkdir(file);
    for (let i = 0; i < 3; i++) expect(await kids(f)).toEqual([k1.kid]);
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
});
