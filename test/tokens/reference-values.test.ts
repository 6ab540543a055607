/**
 * Reference values signed by the OAM (issue 10 item 4): what verifies, and every refusal with its code.
 */
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  generateSigningKey, memoryReplayCache, signReferenceValues, signResult, verifyReferenceValues,
} from '../../src/tokens/index.js';
import type { ReferenceValuesClaimsInput, SigningKey, VerifyReferenceValuesOptions } from '../../src/tokens/index.js';
import { toLowS } from '../../src/tokens/low-s.js';
import { RV_DIGEST, RV_NOW, RV_OAM, RV_PVE, claims as earClaims, expectAcceptedOnce, withCode } from './helpers.js';

const [NOW, OAM, PVE, D, code] = [RV_NOW, RV_OAM, RV_PVE, RV_DIGEST, withCode];

function input(over: Partial<ReferenceValuesClaimsInput> = {}): ReferenceValuesClaimsInput {
  return {
    iss: OAM, aud: PVE, sub: 'henb-1', 'job-id': 'job-1',
    'reference-values': [{ component: 'rootfs', digest: D, version: '2.0.0' }, { component: 'kernel', digest: 'cd'.repeat(32) }],
    ...over,
  };
}

function opts(key: SigningKey, over: Partial<VerifyReferenceValuesOptions> = {}): VerifyReferenceValuesOptions {
  return {
    keys: [key.publicJwk], issuer: OAM, audience: PVE, maxAgeSec: 300,
    replayCache: memoryReplayCache({ now: () => NOW }), now: () => NOW, ...over,
  };
}

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('reference values: sign and verify', () => {
  it.each(['ES256', 'EdDSA'] as const)('a statement signed with the OAM key (%s) verifies and gives back its values', async (alg) => {
    const key = await generateSigningKey(alg);
    const jws = await signReferenceValues(input(), key, { now: () => NOW - 5 });
    const header = JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    expect(header).toEqual({ alg, kid: key.kid, typ: 'rv+jwt' });
    const c = await verifyReferenceValues(jws, opts(key));
    expect(c).toMatchObject({ iss: OAM, aud: PVE, sub: 'henb-1', 'job-id': 'job-1', iat: NOW - 5, exp: NOW - 5 + 300 });
    expect(c['reference-values']).toEqual([{ component: 'rootfs', digest: D, version: '2.0.0' }, { component: 'kernel', digest: 'cd'.repeat(32) }]);
    expect(c.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses to sign values that are not reference values (nothing is signed)', async () => {
    const key = await generateSigningKey();
    await expect(signReferenceValues(input({ 'reference-values': [] }), key)).rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
    await expect(signReferenceValues(input({ 'reference-values': [{ component: 'rootfs', digest: 'XY' }] }), key)).rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
    await expect(signReferenceValues(input({ 'reference-values': [{ component: 'rootfs', digest: D }, { component: 'rootfs', digest: D }] }), key))
      .rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
    await expect(signReferenceValues(input({ sub: '' }), key)).rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
  });
});

describe('reference values: refusals', () => {
  it('unsigned (alg none) is refused before any key is touched', async () => {
    const key = await generateSigningKey();
    const payload = { ...input(), iat: NOW, exp: NOW + 300, jti: 'j-1' };
    const unsigned = `${b64({ alg: 'none', typ: 'rv+jwt' })}.${b64(payload)}.`;
    await expect(verifyReferenceValues(unsigned, opts(key))).rejects.toEqual(code('ERR_TOKEN_MALFORMED'));
    const noneWithSig = `${b64({ alg: 'none', typ: 'rv+jwt' })}.${b64(payload)}.AAAA`;
    await expect(verifyReferenceValues(noneWithSig, opts(key))).rejects.toEqual(code('ERR_TOKEN_ALG_NOT_ALLOWED'));
    const hmac = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'rv+jwt' }).sign(Buffer.alloc(32, 1));
    await expect(verifyReferenceValues(hmac, opts(key))).rejects.toEqual(code('ERR_TOKEN_ALG_NOT_ALLOWED'));
    await expect(verifyReferenceValues('not a jws', opts(key))).rejects.toEqual(code('ERR_TOKEN_MALFORMED'));
  });

  it('signed with another key: unknown kid, or the OAM kid forged over another key, say the same as a bad signature', async () => {
    const oam = await generateSigningKey();
    const other = await generateSigningKey();
    const byOther = await signReferenceValues(input(), other, { now: () => NOW });
    await expect(verifyReferenceValues(byOther, opts(oam))).rejects.toEqual(code('ERR_TOKEN_KEY_UNKNOWN'));
    const forgedKid = await new SignJWT({ ...input(), iat: NOW, exp: NOW + 300, jti: 'j-2' })
      .setProtectedHeader({ alg: 'ES256', kid: oam.kid, typ: 'rv+jwt' }).sign(other.privateKey);
    const e = await verifyReferenceValues(forgedKid, opts(oam)).catch((x: unknown) => x);
    expect(e).toEqual(code('ERR_TOKEN_SIGNATURE'));
    expect((e as Error).message).toBe('token signature verification failed');
  });

  it('a tampered payload does not verify', async () => {
    const key = await generateSigningKey();
    const jws = await signReferenceValues(input(), key, { now: () => NOW });
    const [h, , s] = jws.split('.');
    const tampered = `${h!}.${b64({ ...input({ 'reference-values': [{ component: 'rootfs', digest: 'ee'.repeat(32) }] }), iat: NOW, exp: NOW + 300, jti: 'x' })}.${s!}`;
    await expect(verifyReferenceValues(tampered, opts(key))).rejects.toEqual(code('ERR_TOKEN_SIGNATURE'));
  });

  it('a result token (eat+jwt) signed by the same key is not reference values', async () => {
    const key = await generateSigningKey();
    const ear = await signResult(earClaims({ iss: OAM, aud: PVE }), key, { now: () => NOW });
    await expect(verifyReferenceValues(ear, opts(key))).rejects.toEqual(code('ERR_TOKEN_TYP'));
  });

  it('stale: older than the max age, or expired', async () => {
    const key = await generateSigningKey();
    const old = await signReferenceValues(input(), key, { now: () => NOW - 3600, ttlSec: 86_400 });
    await expect(verifyReferenceValues(old, opts(key))).rejects.toEqual(code('ERR_TOKEN_TOO_OLD'));
    const expired = await signReferenceValues(input(), key, { now: () => NOW - 200, ttlSec: 60 });
    await expect(verifyReferenceValues(expired, opts(key))).rejects.toEqual(code('ERR_TOKEN_EXPIRED'));
  });

  it('replayed: the same statement is accepted once', async () => {
    const key = await generateSigningKey();
    await expectAcceptedOnce(verifyReferenceValues, await signReferenceValues(input(), key, { now: () => NOW }), opts(key));
  });

  it('another issuer or audience is refused', async () => {
    const key = await generateSigningKey();
    await expect(verifyReferenceValues(await signReferenceValues(input({ iss: 'urn:x' }), key, { now: () => NOW }), opts(key)))
      .rejects.toEqual(code('ERR_TOKEN_ISSUER'));
    await expect(verifyReferenceValues(await signReferenceValues(input({ aud: 'urn:other-pve' }), key, { now: () => NOW }), opts(key)))
      .rejects.toEqual(code('ERR_TOKEN_AUDIENCE'));
  });

  it('signed claims of the wrong shape are refused after the signature', async () => {
    const key = await generateSigningKey();
    const bad = toLowS(await new SignJWT({ ...input(), 'reference-values': [{ component: 'rootfs', digest: D.toUpperCase() }], iat: NOW, exp: NOW + 300, jti: 'j-3' })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'rv+jwt' }).sign(key.privateKey), 'ES256');
    await expect(verifyReferenceValues(bad, opts(key))).rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
  });

  it('a replay cache is required', async () => {
    const key = await generateSigningKey();
    const jws = await signReferenceValues(input(), key, { now: () => NOW });
    await expect(verifyReferenceValues(jws, { ...opts(key), replayCache: undefined as never })).rejects.toEqual(code('ERR_TOKEN_REPLAY'));
  });
});
