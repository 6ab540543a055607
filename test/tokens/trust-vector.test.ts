/**
 * The EAR trustworthiness vector in a submod (ear_trustworthiness_vector, AR4SI claims): signed and verified
 * as given when well formed; an unknown claim or a value outside -128..127 is ERR_TOKEN_CLAIMS before signing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeResultUnverified, loadOrCreateSigningKey, signResult } from '../../src/tokens/index.js';
import type { EarSubmod, SigningKey } from '../../src/tokens/index.js';
import { claims } from './helpers.js';

let dir: string;
let key: SigningKey;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-tv-'));
  key = await loadOrCreateSigningKey(dir, 'pve');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const withVector = (tv: unknown) => {
  const c = claims();
  const sub = { ...c.submods['software-update']!, 'evidence-format': 'tpm2-quote', ear_trustworthiness_vector: tv } as EarSubmod;
  return { ...c, submods: { 'software-update': sub } };
};

describe('ear_trustworthiness_vector', () => {
  it('a TPM-rooted result carries hardware 2 through signing', async () => {
    const token = await signResult(withVector({ hardware: 2 }), key);
    const sub = (decodeResultUnverified(token).claims.submods as Record<string, EarSubmod>)['software-update']!;
    expect(sub.ear_trustworthiness_vector).toEqual({ hardware: 2 });
    expect(sub['evidence-format']).toBe('tpm2-quote');
  });

  it.each([
    ['an unknown claim', { firmware: 2 }],
    ['a value above 127', { hardware: 200 }],
    ['a fraction', { hardware: 2.5 }],
    ['a string', { hardware: 'affirming' }],
    ['not an object', [2]],
  ])('%s is refused (ERR_TOKEN_CLAIMS)', async (_n, tv) => {
    await expect(signResult(withVector(tv), key)).rejects.toThrow(expect.objectContaining({ code: 'ERR_TOKEN_CLAIMS' }));
  });
});
