/**
 * ECDSA malleability (issue 11, item 9): every ES256 token we sign is low-S, and a token whose S was flipped to
 * n - S (still a mathematically valid signature, accepted by node:crypto and jose) is refused with the same
 * opaque error as any bad signature.
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, memoryReplayCache, signResult, verifyResult } from '../../src/tokens/index.js';
import { isHighS, signatureOf, toLowS } from '../../src/tokens/low-s.js';
import { AUD, ISS, claims } from './helpers.js';

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const NOW = 1_800_000_000;

/** the malleated twin of an ES256 token: S replaced by n - S */
function flipS(token: string): string {
  const dot = token.lastIndexOf('.');
  const sig = Buffer.from(token.slice(dot + 1), 'base64url');
  const s = BigInt(`0x${sig.subarray(32).toString('hex')}`);
  const flipped = Buffer.concat([sig.subarray(0, 32), Buffer.from((N - s).toString(16).padStart(64, '0'), 'hex')]);
  return `${token.slice(0, dot + 1)}${flipped.toString('base64url')}`;
}

describe('low-S ECDSA tokens', () => {
  it('signs ES256 tokens in low-S form only (40 tokens, about half would be high-S unnormalised)', async () => {
    const key = await generateSigningKey('ES256');
    for (let i = 0; i < 40; i++) {
      const token = await signResult(claims(), key, { now: () => NOW });
      expect(isHighS(signatureOf(token))).toBe(false);
    }
  });

  it('refuses the high-S twin of a valid token with ERR_TOKEN_SIGNATURE, although node:crypto accepts its signature', async () => {
    const key = await generateSigningKey('ES256');
    const token = await signResult(claims(), key, { now: () => NOW });
    const twin = flipS(token);
    expect(isHighS(signatureOf(twin))).toBe(true);
    // the twin is a valid ECDSA signature over the same input: only the low-S rule tells them apart
    const [h, p] = twin.split('.');
    const pub = createPublicKey({ key: key.publicJwk as never, format: 'jwk' });
    expect(cryptoVerify('sha256', Buffer.from(`${h}.${p}`), { key: pub, dsaEncoding: 'ieee-p1363' }, Buffer.from(signatureOf(twin)))).toBe(true);
    const opts = { jwks: { keys: [key.publicJwk] }, issuer: ISS, audience: AUD, maxAgeSec: 300, replayCache: memoryReplayCache({ now: () => NOW }), now: () => NOW };
    await expect(verifyResult(twin, opts)).rejects.toMatchObject({ code: 'ERR_TOKEN_SIGNATURE', message: 'token signature verification failed' });
    await expect(verifyResult(token, opts)).resolves.toBeTruthy();
  });

  it('toLowS leaves low-S and EdDSA tokens unchanged and is idempotent', async () => {
    const key = await generateSigningKey('ES256');
    const token = await signResult(claims(), key, { now: () => NOW });
    expect(toLowS(token, 'ES256')).toBe(token);
    expect(toLowS(flipS(token), 'ES256')).toBe(token);
    const ed = await generateSigningKey('EdDSA');
    const edToken = await signResult(claims(), ed, { now: () => NOW });
    expect(toLowS(edToken, 'EdDSA')).toBe(edToken);
  });
});
