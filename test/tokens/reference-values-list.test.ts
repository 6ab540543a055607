/**
 * The list statement of reference values (issue 15: one signature for the H(e)NBs of one list operation): what
 * verifies, how each entry comes back, and every refusal with its code, among them what an attacker holding a valid
 * list statement (or a valid single statement) could try.
 */
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  generateSigningKey, memoryReplayCache, signReferenceValues, signReferenceValuesList, verifyReferenceValues, verifyReferenceValuesList,
} from '../../src/tokens/index.js';
import type { ReferenceValuesListInput, SigningKey, VerifyReferenceValuesOptions } from '../../src/tokens/index.js';
import { toLowS } from '../../src/tokens/low-s.js';
import { RV_DIGEST, RV_NOW, RV_OAM, RV_PVE, expectAcceptedOnce, withCode } from './helpers.js';

const [NOW, OAM, PVE, D, code] = [RV_NOW, RV_OAM, RV_PVE, RV_DIGEST, withCode];
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const part = (jws: string, i: number): Record<string, unknown> => JSON.parse(Buffer.from(jws.split('.')[i]!, 'base64url').toString()) as Record<string, unknown>;

function entry(sub: string, digest = D): ReferenceValuesListInput['entries'][number] {
  return { sub, 'job-id': `job-${sub}`, 'reference-values': [{ component: 'rootfs', digest, version: '2.0.0' }] };
}

function input(over: Partial<ReferenceValuesListInput> = {}): ReferenceValuesListInput {
  return { iss: OAM, aud: PVE, entries: [entry('henb-1'), entry('henb-2', 'cd'.repeat(32)), entry('henb-3')], ...over };
}

function opts(key: SigningKey, over: Partial<VerifyReferenceValuesOptions> = {}): VerifyReferenceValuesOptions {
  return { keys: [key.publicJwk], issuer: OAM, audience: PVE, maxAgeSec: 300, replayCache: memoryReplayCache({ now: () => NOW }), now: () => NOW, ...over };
}

/** a list statement signed by `key` over any claims (the OAM's signer refuses to make such) */
async function signedRaw(key: SigningKey, claims: Record<string, unknown>, typ = 'rv-list+jwt'): Promise<string> {
  return toLowS(await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: key.kid, typ }).sign(key.privateKey), 'ES256');
}

describe('reference values list statement: sign and verify', () => {
  it.each(['ES256', 'EdDSA'] as const)('one signature (%s) over every entry; each entry comes back as the single statement it stands for', async (alg) => {
    const key = await generateSigningKey(alg);
    const jws = await signReferenceValuesList(input(), key, { now: () => NOW - 5 });
    expect(part(jws, 0)).toEqual({ alg, kid: key.kid, typ: 'rv-list+jwt' });
    const claims = part(jws, 1);
    expect(Object.keys(claims).sort()).toEqual(['aud', 'entries', 'exp', 'iat', 'iss', 'jti']);
    const v = await verifyReferenceValuesList(jws, opts(key));
    expect(v.claims).toEqual({ iss: OAM, aud: PVE, iat: NOW - 5, exp: NOW - 5 + 300, jti: claims.jti });
    expect(v.entries).toHaveLength(3);
    expect(v.entries[1]).toEqual({
      index: 1,
      claims: { iss: OAM, aud: PVE, iat: NOW - 5, exp: NOW - 5 + 300, jti: claims.jti, sub: 'henb-2', 'job-id': 'job-henb-2', 'reference-values': [{ component: 'rootfs', digest: 'cd'.repeat(32), version: '2.0.0' }] },
    });
  });

  it('refuses to sign a list that is not one: no entry, too many, an H(e)NB twice, a bad entry', async () => {
    const key = await generateSigningKey();
    await expect(signReferenceValuesList(input({ entries: [] }), key)).rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
    await expect(signReferenceValuesList(input({ entries: Array.from({ length: 65 }, (_, i) => entry(`h${i}`)) }), key)).rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
    await expect(signReferenceValuesList(input({ entries: [entry('henb-1'), entry('henb-1', 'cd'.repeat(32))] }), key)).rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
    await expect(signReferenceValuesList(input({ entries: [entry('henb-1'), entry('henb-2', 'XY')] }), key)).rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
  });
});

describe('reference values list statement: refusals', () => {
  it('one tampered entry breaks the one signature: the whole list is refused', async () => {
    const key = await generateSigningKey();
    const jws = await signReferenceValuesList(input(), key, { now: () => NOW });
    const [h, p, s] = jws.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as { entries: Array<Record<string, unknown>> };
    claims.entries[2] = entry('henb-3', 'ee'.repeat(32));
    await expect(verifyReferenceValuesList(`${h!}.${b64(claims)}.${s!}`, opts(key))).rejects.toEqual(code('ERR_TOKEN_SIGNATURE'));
    // an entry dropped, or one added, the same
    const fewer = { ...claims, entries: claims.entries.slice(0, 1) };
    await expect(verifyReferenceValuesList(`${h!}.${b64(fewer)}.${s!}`, opts(key))).rejects.toEqual(code('ERR_TOKEN_SIGNATURE'));
  });

  it('replayed: the list is accepted once, as a whole (its jti)', async () => {
    const key = await generateSigningKey();
    await expectAcceptedOnce(verifyReferenceValuesList, await signReferenceValuesList(input(), key, { now: () => NOW }), opts(key));
  });

  it('type confusion: a list is not a single statement, and a single statement is not a list', async () => {
    const key = await generateSigningKey();
    const list = await signReferenceValuesList(input({ entries: [entry('henb-1')] }), key, { now: () => NOW });
    await expect(verifyReferenceValues(list, opts(key))).rejects.toEqual(code('ERR_TOKEN_TYP'));
    const single = await signReferenceValues({ iss: OAM, aud: PVE, ...entry('henb-1') }, key, { now: () => NOW });
    await expect(verifyReferenceValuesList(single, opts(key))).rejects.toEqual(code('ERR_TOKEN_TYP'));
    // a list's claims under the single typ are not a single statement either (no sub)
    const relabelled = await signedRaw(key, { ...input(), iat: NOW, exp: NOW + 300, jti: 'j-1' }, 'rv+jwt');
    await expect(verifyReferenceValues(relabelled, opts(key))).rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
  });

  it('stale, expired, another issuer or audience, another key: the whole list, with the single statement\'s codes', async () => {
    const key = await generateSigningKey();
    const other = await generateSigningKey();
    await expect(verifyReferenceValuesList(await signReferenceValuesList(input(), key, { now: () => NOW - 3600, ttlSec: 86_400 }), opts(key)))
      .rejects.toEqual(code('ERR_TOKEN_TOO_OLD'));
    await expect(verifyReferenceValuesList(await signReferenceValuesList(input(), key, { now: () => NOW - 200, ttlSec: 60 }), opts(key)))
      .rejects.toEqual(code('ERR_TOKEN_EXPIRED'));
    await expect(verifyReferenceValuesList(await signReferenceValuesList(input({ iss: 'urn:x' }), key, { now: () => NOW }), opts(key))).rejects.toEqual(code('ERR_TOKEN_ISSUER'));
    await expect(verifyReferenceValuesList(await signReferenceValuesList(input({ aud: 'urn:other-pve' }), key, { now: () => NOW }), opts(key))).rejects.toEqual(code('ERR_TOKEN_AUDIENCE'));
    await expect(verifyReferenceValuesList(await signReferenceValuesList(input(), other, { now: () => NOW }), opts(key))).rejects.toEqual(code('ERR_TOKEN_KEY_UNKNOWN'));
  });

  it('a signed entry of the wrong shape comes back as its problem; the others as statements', async () => {
    const key = await generateSigningKey();
    const bad = await signedRaw(key, {
      iss: OAM, aud: PVE, iat: NOW, exp: NOW + 300, jti: 'j-2',
      entries: [entry('henb-1'), { sub: 'henb-2', 'job-id': 'j', 'reference-values': [{ component: 'rootfs', digest: D.toUpperCase() }] }],
    });
    const v = await verifyReferenceValuesList(bad, opts(key));
    expect(v.entries[0]).toMatchObject({ index: 0, claims: { sub: 'henb-1' } });
    expect(v.entries[1]).toEqual({ index: 1, problem: 'reference value rootfs: digest must be 64 lowercase hex digits' });
  });

  it('a signed list that is not one (no entries, an H(e)NB twice, an entry not an object) is refused as a whole', async () => {
    const key = await generateSigningKey();
    const env = { iss: OAM, aud: PVE, iat: NOW, exp: NOW + 300 };
    for (const [jti, entries] of [['a', []], ['b', [entry('henb-1'), entry('henb-1', 'cd'.repeat(32))]], ['c', [entry('henb-1'), 'x']], ['d', undefined]] as const) {
      await expect(verifyReferenceValuesList(await signedRaw(key, { ...env, jti, entries }), opts(key))).rejects.toEqual(code('ERR_TOKEN_CLAIMS'));
    }
  });
});
