/**
 * The PVE's appraisal of `tpm2-quote` evidence (src/pve/appraise-tpm.ts): the Appraisal shape of the
 * software-key path, the TIM the quote vouches for, the reboot seen in the TPM clock, and every refusal.
 */
import { describe, expect, it } from 'vitest';
import { extend, ZERO_DIGEST } from '../../src/integrity/index.js';
import { appraiseTpmEvidence } from '../../src/pve/index.js';
import { ipl, makeAk, sha256, signAttest, softQuote } from '../helpers/tpm-structures.js';

const nonce = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const boot = [ipl('bootloader', 'bl'), ipl('kernel', 'k'), ipl('rootfs', 'r1'), ipl('config', 'c')];
const refs = { bootloader: [sha256('bl').toString('hex')], kernel: [sha256('k').toString('hex')], rootfs: [sha256('r1').toString('hex')], config: [sha256('c').toString('hex')] };
const ak = makeAk('ecc');

describe('appraiseTpmEvidence', () => {
  it('affirms a genuine quote; its TIM is the log replayed as one chain, equal to PCR 9', () => {
    const a = appraiseTpmEvidence(softQuote(ak, nonce, boot, { fields: { resetCount: 2 } }), nonce, ak.public, refs, { resetCount: 2, restartCount: 0 });
    const tim = boot.reduce((v, e) => extend(v, e.digests.get(0x000b)!.toString('hex')), ZERO_DIGEST);
    expect(a).toMatchObject({ evidenceFormat: 'tpm2-quote', status: 'affirming', signatureValid: true, logReplays: true, tim, rebooted: false });
    expect(a.pcrs).toEqual([{ bank: 'sha256', pcr: 9, value: tim }]);
    expect(a.components.map((c) => c.status)).toEqual(['match', 'match', 'match', 'match']);
    expect(a.reason).toBeUndefined();
  });

  it('a rebooted device that measured the same components is affirming, and says it rebooted', () => {
    const a = appraiseTpmEvidence(softQuote(ak, nonce, boot, { fields: { resetCount: 3 } }), nonce, ak.public, refs, { resetCount: 2, restartCount: 0 });
    expect(a).toMatchObject({ status: 'affirming', rebooted: true, clockInfo: { resetCount: 3 } });
  });

  it('a component that is no reference value is contraindicated and named; the TIM is still reported', () => {
    const a = appraiseTpmEvidence(softQuote(ak, nonce, [boot[0]!, boot[1]!, ipl('rootfs', 'evil'), boot[3]!]), nonce, ak.public, refs);
    expect(a).toMatchObject({ status: 'contraindicated', firstMismatch: 'rootfs', failedCheck: 'reference-values', reason: 'component rootfs is not a reference value' });
    expect(a.tim).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['another device\'s AK', () => ({ q: softQuote(ak, nonce, boot), key: makeAk('ecc').public, n: nonce }), 'signature'],
    ['a stale nonce', () => ({ q: softQuote(ak, Buffer.alloc(16), boot), key: ak.public, n: nonce }), 'nonce'],
    ['a log that lies about rootfs', () => {
      const q = softQuote(ak, nonce, [boot[0]!, boot[1]!, ipl('rootfs', 'evil'), boot[3]!]);
      return { q: { ...q, log: softQuote(ak, nonce, boot).log }, key: ak.public, n: nonce };
    }, 'pcr-digest'],
    ['a re-signed attest from a key that is not an AK', () => {
      const q = softQuote(ak, nonce, boot);
      const other = makeAk('ecc', { attributes: 0x00060072 & ~0x10000 });
      return { q: { ...q, signature: signAttest(other, q.attest) }, key: other.public, n: nonce };
    }, 'ak'],
  ])('%s is evidence-invalid, with no TIM', (_name, make, check) => {
    const c = make();
    const a = appraiseTpmEvidence(c.q, c.n, c.key, refs);
    expect(a.status).toBe('contraindicated');
    expect(a.failedCheck).toBe(check);
    expect(a.reason).toMatch(/^evidence-invalid: /);
    expect(a.tim).toBeUndefined();
    expect(a.components).toEqual([]);
  });
});
