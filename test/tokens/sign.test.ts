import { createHash } from 'node:crypto';
import { decodeProtectedHeader, decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { EAR_PROFILE, generateSigningKey, signResult } from '../../src/tokens/index.js';
import { claims } from './helpers.js';

describe('signResult', () => {
  it.each(['ES256', 'EdDSA'] as const)('signs %s with kid = RFC 7638 thumbprint and typ eat+jwt', async (alg) => {
    const key = await generateSigningKey(alg);
    const token = await signResult(claims(), key, { now: () => 1_700_000_000.7 });
    const header = decodeProtectedHeader(token);
    expect(header).toEqual({ alg, kid: key.kid, typ: 'eat+jwt' });
    // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace
    const j = key.publicJwk;
    const canonical = j.kty === 'EC'
      ? JSON.stringify({ crv: j.crv, kty: j.kty, x: j.x, y: j.y })
      : JSON.stringify({ crv: j.crv, kty: j.kty, x: j.x });
    expect(key.kid).toBe(createHash('sha256').update(canonical).digest('base64url'));
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({ eat_profile: EAR_PROFILE, iss: 'urn:example:pve', sub: 'henb-1', iat: 1_700_000_000, exp: 1_700_003_600 });
    // a UUID version 7 (RFC 9562): unique, and ordered by time for the verifiers' jti indexes
    expect(payload.jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((payload.submods as Record<string, { 'job-id': string }>)['software-update']?.['job-id']).toBe('job-1');
  });
  it('uses the given iat/exp/jti and ttl', async () => {
    const key = await generateSigningKey();
    const p1 = decodeJwt(await signResult(claims({ jti: 'j-1', iat: 100, exp: 200 }), key));
    expect([p1.jti, p1.iat, p1.exp]).toEqual(['j-1', 100, 200]);
    const p2 = decodeJwt(await signResult(claims(), key, { ttlSec: 60, now: () => 1000 }));
    expect(p2.exp).toBe(1060);
  });
  it('gives every token its own jti', async () => {
    const key = await generateSigningKey();
    const a = decodeJwt(await signResult(claims(), key));
    const b = decodeJwt(await signResult(claims(), key));
    expect(a.jti).not.toBe(b.jti);
  });
  it('refuses claims without the EAR shape (ERR_TOKEN_CLAIMS), signing nothing', async () => {
    const key = await generateSigningKey();
    const bad = [
      claims({ ear_status: 'great' as never }),
      claims({ sub: '' }),
      claims({ aud: [] }),
      claims({ submods: { x: { ear_status: 'affirming', 'job-id': 'j', phase: 'during' as never } } }),
      claims({ submods: { x: { ear_status: 'affirming', 'job-id': '', phase: 'pre-update' } } }),
      claims({ iat: 100, exp: 100 }),
      claims({ ear_verifier_id: {} as never }),
    ];
    for (const c of bad) await expect(signResult(c, key)).rejects.toThrow(expect.objectContaining({ code: 'ERR_TOKEN_CLAIMS' }));
  });
});
