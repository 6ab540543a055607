import { describe, expect, it } from 'vitest';
import { createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { evidenceMessage, jwkThumbprint, verifyEvidence } from '../../src/integrity/evidence.js';
import { sha256Hex } from '../../src/integrity/index.js';

describe('device evidence', () => {
  const nonce = randomBytes(32);
  const tim = sha256Hex('boot chain');

  it('binds nonce and TIM: nonce-value || 32 raw TIM octets', () => {
    const m = evidenceMessage(nonce, tim);
    expect(m.length).toBe(64);
    expect(m.subarray(32).toString('hex')).toBe(tim);
  });

  it('verifies ES256 (P1363) and Ed25519 signatures, and nothing else', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ed = generateKeyPairSync('ed25519');
    const esSig = sign('sha256', evidenceMessage(nonce, tim), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64');
    const edSig = sign(null, evidenceMessage(nonce, tim), ed.privateKey).toString('base64');
    expect(verifyEvidence({ nonce, tim, signature: esSig }, ec.publicKey)).toBe(true);
    expect(verifyEvidence({ nonce, tim, signature: esSig }, ec.publicKey.export({ type: 'spki', format: 'pem' }).toString())).toBe(true);
    expect(verifyEvidence({ nonce, tim, signature: edSig }, ed.publicKey)).toBe(true);
    // another nonce, another TIM, another key, garbage key: false, never a throw
    expect(verifyEvidence({ nonce: randomBytes(32), tim, signature: esSig }, ec.publicKey)).toBe(false);
    expect(verifyEvidence({ nonce, tim: sha256Hex('other'), signature: edSig }, ed.publicKey)).toBe(false);
    expect(verifyEvidence({ nonce, tim, signature: esSig }, ed.publicKey)).toBe(false);
    expect(verifyEvidence({ nonce, tim, signature: esSig }, 'not a key')).toBe(false);
  });
});

describe('jwkThumbprint (RFC 7638: the key-id of software-key evidence and of attestation-key)', () => {
  it('gives the RFC 7638 section 3.1 example thumbprint for its RSA key', () => {
    const n = '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs' +
      'tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91Cb' +
      'OpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    const key = createPublicKey({ key: { kty: 'RSA', n, e: 'AQAB' }, format: 'jwk' });
    expect(jwkThumbprint(key)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('takes only the required members, in order, for EC and OKP keys (the same key from PEM or JWK gives one id)', () => {
    for (const k of [generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, generateKeyPairSync('ed25519').publicKey]) {
      const pem = k.export({ type: 'spki', format: 'pem' }).toString();
      const jwk = { ...k.export({ format: 'jwk' }), kid: 'ignored', use: 'sig' };
      expect(jwkThumbprint(createPublicKey(pem))).toBe(jwkThumbprint(createPublicKey({ key: jwk, format: 'jwk' })));
      expect(jwkThumbprint(k)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
  });
});
