import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  loadJwksFile, loadOrCreateSigningKey, memoryReplayCache, publishJwks, readJwks, rotateSigningKey, signResult,
  verifyResult, verifyTokenCli,
} from '../../src/tokens/index.js';
import { AUD, ISS, claims } from './helpers.js';

const code = (c: string): unknown => expect.objectContaining({ code: c });
let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'hsv-keys-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loadOrCreateSigningKey', () => {
  it('creates a PKCS#8 key with mode 0600 and loads the same key again', async () => {
    const k1 = await loadOrCreateSigningKey(dir, 'oam');
    const pemFile = join(dir, 'oam.key.pem');
    expect(readFileSync(pemFile, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(statSync(pemFile).mode & 0o777).toBe(0o600);
    expect(k1.alg).toBe('ES256');
    const k2 = await loadOrCreateSigningKey(dir, 'oam', { alg: 'EdDSA' });
    expect(k2.kid).toBe(k1.kid);
    expect(k2.alg).toBe('ES256');
  });
  it('creates Ed25519 keys on request and keeps names apart', async () => {
    const a = await loadOrCreateSigningKey(dir, 'pve', { alg: 'EdDSA' });
    const b = await loadOrCreateSigningKey(dir, 'oam');
    expect(a.alg).toBe('EdDSA');
    expect(a.kid).not.toBe(b.kid);
    expect((await readJwks(dir)).keys.map((k) => k.kid).sort()).toEqual([a.kid, b.kid].sort());
  });
  it('concurrent first loads agree on one key', async () => {
    const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateSigningKey(dir, 'oam')));
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
  });
  it('repairs missing metadata from the PEM and tightens a loose file mode', async () => {
    const k = await loadOrCreateSigningKey(dir, 'oam');
    unlinkSync(join(dir, 'oam.keys.json'));
    const { chmodSync } = await import('node:fs');
    chmodSync(join(dir, 'oam.key.pem'), 0o644);
    const again = await loadOrCreateSigningKey(dir, 'oam');
    expect(again.kid).toBe(k.kid);
    expect((await readJwks(dir)).keys.map((j) => j.kid)).toEqual([k.kid]);
    expect(statSync(join(dir, 'oam.key.pem')).mode & 0o777).toBe(0o600);
  });
  it('refuses a corrupt key, corrupt metadata and bad names with ERR_TOKEN_KEY_STORE', async () => {
    writeFileSync(join(dir, 'bad.key.pem'), 'not a key', { mode: 0o600 });
    await expect(loadOrCreateSigningKey(dir, 'bad')).rejects.toThrow(code('ERR_TOKEN_KEY_STORE'));
    await loadOrCreateSigningKey(dir, 'oam');
    writeFileSync(join(dir, 'oam.keys.json'), '{');
    await expect(loadOrCreateSigningKey(dir, 'oam')).rejects.toThrow(code('ERR_TOKEN_KEY_STORE'));
    for (const n of ['', '../x', '.hidden', 'a/b']) await expect(loadOrCreateSigningKey(dir, n)).rejects.toThrow(code('ERR_TOKEN_KEY_STORE'));
  });
});

describe('rotateSigningKey and the JWKS', () => {
  it('rotates to a new key and keeps the old public key, so old tokens still verify', async () => {
    const old = await loadOrCreateSigningKey(dir, 'oam');
    const oldToken = await signResult(claims({ iss: ISS }), old);
    const fresh = await rotateSigningKey(dir, 'oam');
    expect(fresh.kid).not.toBe(old.kid);
    expect((await loadOrCreateSigningKey(dir, 'oam')).kid).toBe(fresh.kid);
    const jwks = await publishJwks(dir);
    expect(jwks.keys.map((k) => k.kid)).toEqual([fresh.kid, old.kid]);
    expect(await loadJwksFile(join(dir, 'jwks.json'))).toEqual(jwks);
    const newToken = await signResult(claims(), fresh);
    for (const t of [oldToken, newToken]) {
      const r = await verifyResult(t, { jwks, issuer: ISS, audience: AUD, maxAgeSec: 60, replayCache: memoryReplayCache() });
      expect(r.claims.sub).toBe('henb-1');
    }
    expect(JSON.stringify(jwks)).not.toMatch(/"d"/);
  });
  it('keeps at most maxRetired old keys', async () => {
    const first = await loadOrCreateSigningKey(dir, 'oam');
    await rotateSigningKey(dir, 'oam', { maxRetired: 2 });
    await rotateSigningKey(dir, 'oam', { maxRetired: 2 });
    const cur = await rotateSigningKey(dir, 'oam', { maxRetired: 2 });
    const kids = (await readJwks(dir)).keys.map((k) => k.kid);
    expect(kids).toHaveLength(3);
    expect(kids[0]).toBe(cur.kid);
    expect(kids).not.toContain(first.kid);
  });
  it('readJwks of a missing directory is empty; loadJwksFile refuses private keys and junk', async () => {
    expect(await readJwks(join(dir, 'nope'))).toEqual({ keys: [] });
    const k = await loadOrCreateSigningKey(dir, 'oam');
    const f = join(dir, 'x.json');
    writeFileSync(f, JSON.stringify({ keys: [{ ...k.publicJwk, d: 'AAAA' }] }));
    await expect(loadJwksFile(f)).rejects.toThrow(code('ERR_TOKEN_JWKS'));
    writeFileSync(f, '[]');
    await expect(loadJwksFile(f)).rejects.toThrow(code('ERR_TOKEN_JWKS'));
    writeFileSync(f, JSON.stringify({ keys: [{ kty: 'RSA', n: 'x', e: 'AQAB', kid: 'r' }] }));
    await expect(loadJwksFile(f)).rejects.toThrow(code('ERR_TOKEN_JWKS'));
    await expect(loadJwksFile(join(dir, 'missing.json'))).rejects.toThrow(code('ERR_TOKEN_JWKS'));
  });
});

describe('verifyTokenCli', () => {
  it('verifies with a JWKS file and returns the claims; checks iss/aud only when asked', async () => {
    const k = await loadOrCreateSigningKey(dir, 'oam');
    await publishJwks(dir);
    const token = await signResult(claims(), k);
    const r = await verifyTokenCli(`${token}\n`, join(dir, 'jwks.json'));
    expect(r.claims.submods['software-update']?.['job-id']).toBe('job-1');
    await expect(verifyTokenCli(token, join(dir, 'jwks.json'), { audience: 'urn:nope' })).rejects.toThrow(code('ERR_TOKEN_AUDIENCE'));
    await expect(verifyTokenCli(token, join(dir, 'jwks.json'), { now: () => Date.now() / 1000 + 7200 })).rejects.toThrow(code('ERR_TOKEN_EXPIRED'));
    const tampered = token.slice(0, -3) + (token.endsWith('AAA') ? 'BBB' : 'AAA');
    await expect(verifyTokenCli(tampered, join(dir, 'jwks.json'))).rejects.toThrow(code('ERR_TOKEN_SIGNATURE'));
  });
});
