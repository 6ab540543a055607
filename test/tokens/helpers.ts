import { expect } from 'vitest';
import type { ResultClaimsInput } from '../../src/tokens/index.js';

export const ISS = 'urn:example:pve';
export const AUD = 'urn:example:oam';

export function claims(over: Partial<ResultClaimsInput> = {}): ResultClaimsInput {
  return {
    iss: ISS,
    aud: AUD,
    sub: 'henb-1',
    ear_status: 'affirming',
    ear_verifier_id: { developer: 'henb-sw-verify', build: 'test' },
    eat_nonce: 'a'.repeat(64),
    submods: {
      'software-update': {
        ear_status: 'affirming',
        'job-id': 'job-1',
        phase: 'post-update',
        'software-rim': '1'.repeat(64),
        'expected-rim': '2'.repeat(64),
        'reported-tim': '2'.repeat(64),
        components: [{ component: 'kernel', status: 'match', expected: '3'.repeat(64), reported: '3'.repeat(64) }],
      },
    },
    ...over,
  };
}

/** a statement (single or list) is accepted once: verified, then refused as a replay (its jti) */
export async function expectAcceptedOnce<O>(verify: (jws: string, o: O) => Promise<unknown>, jws: string, o: O): Promise<void> {
  await verify(jws, o);
  await expect(verify(jws, o)).rejects.toEqual(expect.objectContaining({ code: 'ERR_TOKEN_REPLAY' }));
}

/** the reference-value statements' tests (single and list): a fixed time, the issuer and audience, a digest */
export const RV_NOW = 1_800_000_000;
export const RV_OAM = 'urn:henb-sw-verify:oam';
export const RV_PVE = 'urn:henb-sw-verify:pve';
export const RV_DIGEST = 'ab'.repeat(32);
/** an error with this code */
export const withCode = (c: string): unknown => expect.objectContaining({ code: c });
