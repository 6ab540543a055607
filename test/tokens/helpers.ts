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
