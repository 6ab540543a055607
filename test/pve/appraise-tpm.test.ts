/**
 * The PVE's appraisal of `tpm2-quote` evidence (src/pve/appraise-tpm.ts): the Appraisal shape of the
 * software-key path, the TIM the quote vouches for, the reboot seen in the TPM clock, and every refusal.
 */
import { describe, expect, it } from 'vitest';
import { extend, replayLog, ZERO_DIGEST } from '../../src/integrity/index.js';
import { parsePublic } from '../../src/integrity/tpm/index.js';
import type { TpmPublic } from '../../src/integrity/tpm/index.js';
import { appraiseTpmCompletion, appraiseTpmEvidence, completionQualifyingData } from '../../src/pve/index.js';
import type { CompletionInput } from '../../src/pve/index.js';
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

describe('appraiseTpmCompletion (phase post-update, tpm2-quote)', () => {
  const akPub = (a: typeof ak): TpmPublic => {
    const p = parsePublic(a.public);
    if (!p.ok) throw new Error(p.reason);
    return p.value;
  };
  const updated = [ipl('bootloader', 'bl'), ipl('kernel', 'k'), ipl('rootfs', 'r1'), ipl('config', 'c'), ipl('rootfs', 'r2')];
  const log = updated.map((e) => ({ component: e.data.toString(), digest: e.digests.get(0x000b)!.toString('hex') }));
  const ctx = { henbId: 'healthy-tpm-1', jobId: 'job-1', nonce };
  /** a completion and its quote, as the device makes them: extraData = SHA-256 of the completion statement */
  const completion = (over: Partial<CompletionInput> = {}, quoteFor: { henbId?: string; jobId?: string } = {}, events = updated): CompletionInput => {
    const base = { status: 'completed', selfCheck: 'passed', softwareVersion: '2.0.0', tim: replayLog(null, log), log, ...over };
    const q = softQuote(ak, completionQualifyingData({ ...ctx, ...quoteFor, status: base.status, selfCheck: base.selfCheck, softwareVersion: base.softwareVersion, tim: base.tim, log: base.log }), events);
    return {
      ...base,
      evidence: { format: 'tpm2-quote', nonce: nonce.toString('base64'), signatureAlgorithm: 'ES256', keyId: akPub(ak).name.toString('hex'), signature: q.signature.toString('base64'), quote: q.attest.toString('base64'), eventLog: q.log.toString('base64') },
    };
  };

  it('affirms the quote of this completion: hardware 2, the PCR the TIM', () => {
    const a = appraiseTpmCompletion(completion(), ctx, akPub(ak));
    expect(a).toMatchObject({ status: 'affirming', signatureValid: true, logReplays: true, hardware: 2, tim: replayLog(null, log) });
    expect(a.pcrs).toEqual([{ bank: 'sha256', pcr: 9, value: replayLog(null, log) }]);
  });

  it('a genuine quote carried over to another completion (other TIM, job, device or nonce) is refused: not over this completion', () => {
    const genuine = completion();
    const otherTim = { ...genuine, tim: 'f'.repeat(64) };
    for (const [c, x] of [
      [otherTim, ctx],
      [genuine, { ...ctx, jobId: 'job-2' }],
      [genuine, { ...ctx, henbId: 'healthy-tpm-2' }],
      [{ ...genuine, status: 'self-check-failed' }, ctx],
    ] as const) {
      const a = appraiseTpmCompletion(c, x, akPub(ak));
      expect(a.status).toBe('contraindicated');
      expect(a.reason).toMatch(/^evidence-invalid: the quote is not over this completion/);
      expect(a.signatureValid).toBe(true);
    }
    const otherNonce = appraiseTpmCompletion(genuine, { ...ctx, nonce: Buffer.alloc(16, 9) }, akPub(ak));
    expect(otherNonce.reason).toBe('evidence-invalid: the evidence echoes another nonce than the request\'s');
  });

  it('a quote by another AK, or naming another AK, is refused; hardware 97', () => {
    const other = makeAk('ecc');
    const a = appraiseTpmCompletion(completion(), ctx, akPub(other));
    expect(a).toMatchObject({ status: 'contraindicated', hardware: 97 });
    expect(a.reason).toMatch(/another attestation key/);
    const c = completion();
    const b = appraiseTpmCompletion({ ...c, evidence: { ...c.evidence, keyId: undefined as unknown as string } }, ctx, akPub(other));
    expect(b).toMatchObject({ status: 'contraindicated', failedCheck: 'signature', hardware: 97 });
  });

  it('a PCR extended with a measurement the log does not show: the log does not replay to the quoted PCRs', () => {
    // the TPM's PCR 9 has one more (unlogged) extend than the event log the device sends
    const c = completion({}, {}, [...updated, ipl('implant', 'x')]);
    const honestLog = softQuote(ak, nonce, updated).log.toString('base64');
    const a = appraiseTpmCompletion({ ...c, evidence: { ...c.evidence, eventLog: honestLog } }, ctx, akPub(ak));
    expect(a).toMatchObject({ status: 'contraindicated', failedCheck: 'pcr-digest' });
    expect(a.reason).toBe('evidence-invalid: the event log does not replay to the quoted PCR digest');
  });

  it('an event log whose measurements are not the completion\'s measurement-log is refused', () => {
    // the device signs (quotes) a statement naming `log`, but its TPM measured another rootfs
    const c = completion({}, {}, [...updated.slice(0, 4), ipl('rootfs', 'evil')]);
    const a = appraiseTpmCompletion(c, ctx, akPub(ak));
    expect(a.status).toBe('contraindicated');
    expect(a.reason).toBe('evidence-invalid: the TPM event log does not match the completion\'s measurement-log');
  });

  it('a completion without quote or event log is refused', () => {
    const c = completion();
    const { eventLog: _drop, ...noLog } = c.evidence;
    expect(appraiseTpmCompletion({ ...c, evidence: noLog }, ctx, akPub(ak)).reason).toMatch(/needs the quote/);
  });
});
