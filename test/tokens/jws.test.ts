/**
 * src/tokens/jws.ts signs and verifies compact JWS with node:crypto (issue 15: jose went through WebCrypto, a
 * thread-pool job per signature). The tokens must be those jose makes and accepts, and a key that does not fit the
 * algorithm is refused before any signature is made or tried.
 */
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { CompactSign, SignJWT, compactVerify } from 'jose';
import { signCompact, verifyCompact } from '../../src/tokens/jws.js';

const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const ed = generateKeyPairSync('ed25519');
const claims = { iss: 'urn:x', sub: 'henb-1', iat: 1_700_000_000, nested: { a: [1, 'two'] }, text: 'é ü ✓' };

describe('compact JWS with node:crypto', () => {
  it('ES256: jose verifies what we sign, and we verify what jose signs', async () => {
    const ours = signCompact({ alg: 'ES256', kid: 'k1', typ: 'eat+jwt' }, claims, p256.privateKey);
    const { payload, protectedHeader } = await compactVerify(ours, p256.publicKey, { algorithms: ['ES256'] });
    expect(JSON.parse(Buffer.from(payload).toString('utf8'))).toEqual(claims);
    expect(protectedHeader).toEqual({ alg: 'ES256', kid: 'k1', typ: 'eat+jwt' });
    const theirs = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'eat+jwt' }).sign(p256.privateKey);
    expect(Buffer.from(verifyCompact(theirs, p256.publicKey, 'ES256')!).toString('utf8')).toBe(JSON.stringify(claims));
    // the same signing input as jose's: only the (randomised) ECDSA signature differs
    expect(ours.slice(0, ours.lastIndexOf('.'))).toBe(theirs.slice(0, theirs.lastIndexOf('.')));
  });

  it('EdDSA: byte for byte the token jose makes (Ed25519 is deterministic)', async () => {
    const ours = signCompact({ alg: 'EdDSA', kid: 'k2', typ: 'rv+jwt' }, claims, ed.privateKey);
    const theirs = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: 'k2', typ: 'rv+jwt' }).sign(ed.privateKey);
    expect(ours).toBe(theirs);
    expect(verifyCompact(ours, ed.publicKey, 'EdDSA')).toBeDefined();
  });

  it('refuses a tampered payload, header or signature, and a signature of the wrong length', () => {
    const t = signCompact({ alg: 'ES256', typ: 'eat+jwt' }, claims, p256.privateKey);
    const [h, p, s] = t.split('.') as [string, string, string];
    const other = Buffer.from(JSON.stringify({ ...claims, sub: 'henb-2' })).toString('base64url');
    expect(verifyCompact(`${h}.${other}.${s}`, p256.publicKey, 'ES256')).toBeUndefined();
    const otherHead = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'other' })).toString('base64url');
    expect(verifyCompact(`${otherHead}.${p}.${s}`, p256.publicKey, 'ES256')).toBeUndefined();
    const sig = Buffer.from(s, 'base64url');
    sig[10] = sig[10]! ^ 1;
    expect(verifyCompact(`${h}.${p}.${sig.toString('base64url')}`, p256.publicKey, 'ES256')).toBeUndefined();
    expect(verifyCompact(`${h}.${p}.${Buffer.from(s, 'base64url').subarray(0, 63).toString('base64url')}`, p256.publicKey, 'ES256')).toBeUndefined();
    expect(verifyCompact(`${h}.${p}`, p256.publicKey, 'ES256')).toBeUndefined();
    expect(verifyCompact(`${h}.${p}.${s}.x`, p256.publicKey, 'ES256')).toBeUndefined();
    expect(verifyCompact(t, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, 'ES256')).toBeUndefined();
  });

  it('a key that does not fit the algorithm: never used, whichever way round', async () => {
    expect(() => signCompact({ alg: 'ES256' }, claims, ed.privateKey)).toThrow(TypeError);
    expect(() => signCompact({ alg: 'ES256' }, claims, p384.privateKey)).toThrow(TypeError);
    expect(() => signCompact({ alg: 'EdDSA' }, claims, p256.privateKey)).toThrow(TypeError);
    expect(() => signCompact({ alg: 'ES256' }, claims, p256.publicKey)).toThrow(TypeError);
    // an ES384 signature made with a P-384 key does not pass as ES256 under that key
    const es384 = await new CompactSign(Buffer.from('{}')).setProtectedHeader({ alg: 'ES384' }).sign(p384.privateKey);
    expect(verifyCompact(es384, p384.publicKey, 'ES256')).toBeUndefined();
    const edTok = signCompact({ alg: 'EdDSA' }, claims, ed.privateKey);
    expect(verifyCompact(edTok, ed.publicKey, 'ES256')).toBeUndefined();
    expect(verifyCompact(edTok, p256.publicKey, 'EdDSA')).toBeUndefined();
    expect(verifyCompact(edTok, ed.privateKey, 'EdDSA')).toBeUndefined();
  });
});
