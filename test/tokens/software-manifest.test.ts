/** Vendor-signed software manifests (issue 10 item 4, policy require-signed-software): what verifies and what not. */
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, signResult, signSoftwareManifest, verifySoftwareManifest } from '../../src/tokens/index.js';
import { claims as earClaims } from './helpers.js';

const NOW = 1_800_000_000;
const D = '5a'.repeat(32);
const code = (c: string): unknown => expect.objectContaining({ code: c });
const m = { iss: 'urn:vendor:acme', digest: D, version: '2.0.0', component: 'rootfs' };
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('software manifest', () => {
  it.each(['ES256', 'EdDSA'] as const)('signed by a vendor key (%s): verifies, claims back', async (alg) => {
    const vendor = await generateSigningKey(alg);
    const jws = await signSoftwareManifest(m, vendor, { now: () => NOW });
    expect(JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString())).toEqual({ alg, kid: vendor.kid, typ: 'swm+jwt' });
    expect(await verifySoftwareManifest(`${jws}\n`, { keys: [vendor.publicJwk], now: () => NOW + 86_400 * 365 })).toEqual({ ...m, iat: NOW });
  });

  it('refused: another key, unsigned, a result token, bad claims, expired, another issuer', async () => {
    const vendor = await generateSigningKey();
    const other = await generateSigningKey();
    const opts = { keys: [vendor.publicJwk], now: () => NOW };
    await expect(verifySoftwareManifest(await signSoftwareManifest(m, other, { now: () => NOW }), opts)).rejects.toEqual(code('ERR_TOKEN_KEY_UNKNOWN'));
    await expect(verifySoftwareManifest(`${b64({ alg: 'none', typ: 'swm+jwt' })}.${b64({ ...m, iat: NOW })}.x`, opts)).rejects.toEqual(code('ERR_TOKEN_ALG_NOT_ALLOWED'));
    await expect(verifySoftwareManifest(await signResult(earClaims(), vendor, { now: () => NOW }), opts)).rejects.toEqual(code('ERR_TOKEN_TYP'));
    const badDigest = await new SignJWT({ ...m, digest: 'XY', iat: NOW }).setProtectedHeader({ alg: 'EdDSA', kid: 'k', typ: 'swm+jwt' })
      .sign((await generateSigningKey('EdDSA')).privateKey);
    await expect(verifySoftwareManifest(badDigest, opts)).rejects.toEqual(code('ERR_TOKEN_KEY_UNKNOWN'));
    const ed = await generateSigningKey('EdDSA');
    const signedBad = await new SignJWT({ ...m, digest: 'XY', iat: NOW }).setProtectedHeader({ alg: 'EdDSA', kid: ed.kid, typ: 'swm+jwt' }).sign(ed.privateKey);
    await expect(verifySoftwareManifest(signedBad, { keys: [ed.publicJwk], now: () => NOW })).rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
    await expect(verifySoftwareManifest(await signSoftwareManifest({ ...m, exp: NOW - 100 }, vendor, { now: () => NOW - 200 }), opts)).rejects.toEqual(code('ERR_TOKEN_EXPIRED'));
    await expect(verifySoftwareManifest(await signSoftwareManifest(m, vendor, { now: () => NOW }), { ...opts, issuer: 'urn:vendor:other' })).rejects.toEqual(code('ERR_TOKEN_ISSUER'));
    await expect(signSoftwareManifest({ ...m, version: '' }, vendor)).rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
  });
});
