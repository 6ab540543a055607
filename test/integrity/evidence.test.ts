import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { evidenceMessage, verifyEvidence } from '../../src/integrity/evidence.js';
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
