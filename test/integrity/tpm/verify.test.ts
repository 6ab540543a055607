/**
 * The quote appraisal, check by check (src/integrity/tpm/verify.ts): each row breaks one thing and names the
 * check that must refuse it; the valid quotes (ECC, RSASSA, RSAPSS, two banks) affirm.
 */
import { describe, expect, it } from 'vitest';
import { EV, TPM_ALG, encodeEventLog, parseAkPublic, verifyQuote } from '../../../src/integrity/tpm/index.js';
import type { TpmCheck } from '../../../src/integrity/tpm/index.js';
import { AK_ATTRIBUTES, encodeAttest, ipl, makeAk, sha256, signAttest, softQuote } from '../../helpers/tpm-structures.js';
import type { SoftAk, SoftQuote } from '../../helpers/tpm-structures.js';

const nonce = Buffer.from('5f2b6c0e9d8a7b6c5d4e3f2a1b0c9d8e', 'hex');
const boot = [ipl('bootloader', 'bl-1.0'), ipl('kernel', 'linux-6.1'), ipl('rootfs', 'rootfs-2.3'), ipl('config', 'cfg-7')];
const refs = {
  bootloader: [sha256('bl-1.0').toString('hex')],
  kernel: [sha256('linux-6.1').toString('hex')],
  rootfs: [sha256('rootfs-2.0').toString('hex'), sha256('rootfs-2.3').toString('hex')],
  config: [sha256('cfg-7').toString('hex')],
};
const ecc = makeAk('ecc');
const rsa = makeAk('rsa');

describe('verifyQuote: valid quotes affirm', () => {
  it.each([
    ['ECC P-256 / ECDSA', ecc],
    ['RSA 2048 / RSASSA', rsa],
    ['RSA 2048 / RSAPSS', makeAk('rsa', { scheme: 'rsapss' })],
    ['ECC P-384 / ECDSA', makeAk('ecc', { curve: 'P-384' })],
    ['ECC with a NULL scheme (any)', makeAk('ecc', { scheme: 'null' })],
  ])('%s', (_name, ak) => {
    const q = softQuote(ak, nonce, boot, { fields: { resetCount: 3, restartCount: 1 } });
    const r = verifyQuote({ evidence: q, nonce, ak: ak.public, referenceValues: refs });
    expect(r.reason).toBeUndefined();
    expect(r).toMatchObject({ status: 'affirming', signatureValid: true, logReplays: true });
    expect(r.clockInfo).toMatchObject({ resetCount: 3, restartCount: 1, safe: true });
    expect(r.measurements.map((m) => m.component)).toEqual(['bootloader', 'kernel', 'rootfs', 'config']);
    expect(r.components.every((c) => c.status === 'match')).toBe(true);
    expect(r.pcrs).toHaveLength(1);
  });

  it('a log with SHA-256 and SHA-384 digests, quoted in both banks', () => {
    const both = [TPM_ALG.SHA256, TPM_ALG.SHA384];
    const events = [ipl('bootloader', 'bl-1.0', 9, both), ipl('kernel', 'linux-6.1', 9, both), ipl('rootfs', 'rootfs-2.3', 9, both), ipl('config', 'cfg-7', 9, both)];
    const q = softQuote(ecc, nonce, events, { algs: both, banks: both });
    const r = verifyQuote({ evidence: q, nonce, ak: ecc.public, referenceValues: refs });
    expect(r.status).toBe('affirming');
    expect(r.pcrs.map((p) => p.bank)).toEqual(['sha256', 'sha384']);
  });

  it('PCRs quoted without events hold their reset values; events in several PCRs replay separately', () => {
    const events = [ipl('bootloader', 'bl-1.0', 8), ipl('kernel', 'linux-6.1', 9), ipl('rootfs', 'rootfs-2.3', 9), ipl('config', 'cfg-7', 14)];
    const q = softQuote(ecc, nonce, events, { pcrs: [0, 8, 9, 14, 17] });
    const r = verifyQuote({ evidence: q, nonce, ak: ecc.public, referenceValues: refs });
    expect(r.status).toBe('affirming');
    expect(r.pcrs.find((p) => p.pcr === 0)?.value).toBe('00'.repeat(32));
    expect(r.pcrs.find((p) => p.pcr === 17)?.value).toBe('ff'.repeat(32));
  });

  it('reports a reboot when resetCount or restartCount moved since the previous quote', () => {
    const q = softQuote(ecc, nonce, boot, { fields: { resetCount: 4, restartCount: 0 } });
    expect(verifyQuote({ evidence: q, nonce, ak: ecc.public, referenceValues: refs, previousClock: { resetCount: 3, restartCount: 0 } }).rebooted).toBe(true);
    expect(verifyQuote({ evidence: q, nonce, ak: ecc.public, referenceValues: refs, previousClock: { resetCount: 4, restartCount: 0 } }).rebooted).toBe(false);
  });

  it('refuses a clock that went backwards without a reset or restart, and counters that went back (check clock)', () => {
    const at = (clock: bigint, resetCount: number, restartCount: number) => softQuote(ecc, nonce, boot, { fields: { clock, resetCount, restartCount } });
    const v = (q: SoftQuote, prev: { resetCount: number; restartCount: number; clock?: number }) => verifyQuote({ evidence: q, nonce, ak: ecc.public, referenceValues: refs, previousClock: prev });
    expect(v(at(900n, 4, 1), { resetCount: 4, restartCount: 1, clock: 1000 })).toMatchObject({ status: 'contraindicated', failedCheck: 'clock', signatureValid: true,
      reason: 'the TPM clock went backwards (900 ms, previously 1000 ms) without a reset or restart: a restored (rolled back) TPM state or a replayed quote' });
    expect(v(at(5000n, 3, 0), { resetCount: 4, restartCount: 0 })).toMatchObject({ failedCheck: 'clock', reason: expect.stringContaining('resetCount went back from 4 to 3') });
    expect(v(at(5000n, 4, 0), { resetCount: 4, restartCount: 2 })).toMatchObject({ failedCheck: 'clock', reason: expect.stringContaining('restartCount went back from 2 to 0 without a reset') });
    // allowed: the same clock, a later one, a Reset (clock back to its saved value, restartCount from 0 again), a Restart
    expect(v(at(1000n, 4, 1), { resetCount: 4, restartCount: 1, clock: 1000 })).toMatchObject({ status: 'affirming', rebooted: false });
    expect(v(at(10n, 5, 0), { resetCount: 4, restartCount: 3, clock: 1000 })).toMatchObject({ status: 'affirming', rebooted: true });
    expect(v(at(10n, 4, 2), { resetCount: 4, restartCount: 1, clock: 1000 })).toMatchObject({ status: 'affirming', rebooted: true });
    // the nonce is checked first: a quote over another nonce is refused as such, whatever its clock
    expect(verifyQuote({ evidence: at(1n, 0, 0), nonce: Buffer.alloc(16, 1), ak: ecc.public, referenceValues: refs, previousClock: { resetCount: 9, restartCount: 0 } }).failedCheck).toBe('nonce');
  });
});

/** Re-signs a changed attest, so that only the changed field can be what refuses it. */
function resigned(ak: SoftAk, change: Parameters<typeof encodeAttest>[0] extends infer F ? Partial<F> : never, events = boot): SoftQuote {
  const good = softQuote(ak, nonce, events);
  const pcrDigest = good.attest.subarray(good.attest.length - 32);
  const attest = encodeAttest({ extraData: nonce, selection: [[TPM_ALG.SHA256, [9]]], pcrDigest, ...change });
  return { attest, signature: signAttest(ak, attest), log: good.log };
}

describe('verifyQuote: every broken part is refused by its check', () => {
  const good = softQuote(ecc, nonce, boot);
  const cases: Array<[string, () => { q: SoftQuote; ak?: Buffer; nonce?: Buffer; refs?: Record<string, string[]> }, TpmCheck, RegExp]> = [
    ['an AK that is not restricted', () => ({ q: good, ak: makeAk('ecc', { attributes: AK_ATTRIBUTES & ~0x10000 }).public }), 'ak', /restricted/],
    ['an AK that is a storage key (decrypt)', () => ({ q: good, ak: makeAk('ecc', { attributes: AK_ATTRIBUTES | 0x20000 }).public }), 'ak', /storage key/],
    ['garbage as the AK', () => ({ q: good, ak: Buffer.from('not a key') }), 'ak', /./],
    ['another key signed it', () => ({ q: { ...good, signature: signAttest(makeAk('ecc'), good.attest) } }), 'signature', /did not verify/],
    ['the signature of another attest', () => ({ q: { ...good, signature: softQuote(ecc, nonce, boot.slice(0, 2)).signature } }), 'signature', /did not verify/],
    ['an RSA signature for an ECC key', () => ({ q: { ...good, signature: signAttest(rsa, good.attest) } }), 'signature', /RSA|rsassa/i],
    ['an RSAPSS signature for an RSASSA key', () => {
      const q = softQuote(rsa, nonce, boot);
      return { q: { ...q, signature: signAttest(rsa, q.attest, { scheme: 'rsapss' }) }, ak: rsa.public };
    }, 'signature', /scheme/],
    ['a SHA-1 signature', () => ({ q: { ...good, signature: Buffer.concat([Buffer.from([0, 0x18, 0, 0x04]), good.signature.subarray(4)]) } }), 'signature', /sha1/],
    ['a wrong magic (not TPM generated), re-signed', () => ({ q: resigned(ecc, { magic: 0xff544346 }) }), 'attest', /TPM_GENERATED_VALUE/],
    ['a certify attestation instead of a quote, re-signed', () => ({ q: resigned(ecc, { type: 0x8017 }) }), 'attest', /TPM_ST_ATTEST_QUOTE/],
    ['another nonce', () => ({ q: good, nonce: Buffer.alloc(16, 1) }), 'nonce', /nonce/],
    ['an empty nonce against an empty extraData', () => ({ q: resigned(ecc, { extraData: Buffer.alloc(0) }), nonce: Buffer.alloc(0) }), 'nonce', /nonce/],
    ['a truncated event log', () => ({ q: { ...good, log: good.log.subarray(0, good.log.length - 3) } }), 'log', /truncated|octets, 3 left/],
    ['a SHA-1 (TPM 1.2 format) log', () => ({ q: { ...good, log: Buffer.concat([Buffer.alloc(4), Buffer.from([2, 0, 0, 0]), good.log.subarray(8)]) } }), 'log', /Spec ID/],
    ['a log without SHA-256 digests', () => {
      const q = softQuote(ecc, nonce, boot.map((e) => ipl(e.data.toString(), 'x', 9, [TPM_ALG.SHA384])), { algs: [TPM_ALG.SHA384], banks: [TPM_ALG.SHA384] });
      return { q };
    }, 'pcr-selection', /sha256/],
    ['a log event in a PCR the quote does not cover', () => ({ q: { ...good, log: encodeEventLog([TPM_ALG.SHA256], [...boot, ipl('extra', 'x', 10)]) } }), 'pcr-selection', /PCR 10/],
    ['a quote over no PCR', () => ({ q: resigned(ecc, { selection: [] }) }), 'pcr-selection', /no PCR/],
    ['a quote of the SHA-1 bank', () => ({ q: resigned(ecc, { selection: [[TPM_ALG.SHA1, [9]], [TPM_ALG.SHA256, [9]]] }) }), 'pcr-selection', /sha1/],
    ['a log with one event removed', () => ({ q: { ...good, log: encodeEventLog([TPM_ALG.SHA256], boot.slice(0, 3)) } }), 'pcr-digest', /replay/],
    ['a log with two events swapped', () => ({ q: { ...good, log: encodeEventLog([TPM_ALG.SHA256], [boot[1]!, boot[0]!, boot[2]!, boot[3]!]) } }), 'pcr-digest', /replay/],
    ['a log whose rootfs digest was replaced by a reference value', () => ({ q: { ...good, log: encodeEventLog([TPM_ALG.SHA256], [boot[0]!, boot[1]!, ipl('rootfs', 'rootfs-2.0'), boot[3]!]) } }), 'pcr-digest', /replay/],
    ['a PCR digest of the wrong length, re-signed', () => ({ q: resigned(ecc, { pcrDigest: Buffer.alloc(20) }) }), 'pcr-digest', /replay/],
    ['a measured component that is no reference value', () => ({ q: softQuote(ecc, nonce, [boot[0]!, boot[1]!, ipl('rootfs', 'rootfs-evil'), boot[3]!]) }), 'reference-values', /component rootfs is not a reference value/],
    ['a component the reference set does not know', () => ({ q: softQuote(ecc, nonce, [...boot, ipl('backdoor', 'x')]) }), 'reference-values', /component backdoor/],
    ['a reference component that was not measured', () => ({ q: softQuote(ecc, nonce, boot.slice(0, 3)) }), 'reference-values', /config was not measured/],
  ];
  it.each(cases)('%s', (_name, make, check, reason) => {
    const c = make();
    const r = verifyQuote({ evidence: c.q, nonce: c.nonce ?? nonce, ak: c.ak ?? ecc.public, referenceValues: c.refs ?? refs });
    expect(r.status).toBe('contraindicated');
    expect(r.failedCheck).toBe(check);
    expect(r.reason).toMatch(reason);
  });

  it('a bad signature says the same thing whatever was wrong (no oracle)', () => {
    const other = verifyQuote({ evidence: { ...good, signature: signAttest(makeAk('ecc'), good.attest) }, nonce, ak: ecc.public, referenceValues: refs });
    const flipped = Buffer.from(good.signature);
    flipped[10]! ^= 1;
    const broken = verifyQuote({ evidence: { ...good, signature: flipped }, nonce, ak: ecc.public, referenceValues: refs });
    expect(other.reason).toBe(broken.reason);
  });

  it('accepts an already parsed AK, and the TPM2B_ATTEST form (size first)', () => {
    const ak = parseAkPublic(ecc.public);
    if (!ak.ok) throw new Error(ak.reason);
    const size = Buffer.alloc(2);
    size.writeUInt16BE(good.attest.length);
    const r = verifyQuote({ evidence: { ...good, attest: Buffer.concat([size, good.attest]) }, nonce, ak: ak.value, referenceValues: refs });
    expect(r.status).toBe('affirming');
  });

  it('an event that is not a printable name is named by its type and PCR', () => {
    const sep = { pcr: 9, type: EV.SEPARATOR, digests: new Map([[TPM_ALG.SHA256, sha256(Buffer.alloc(4))]]), data: Buffer.alloc(4) };
    const r = verifyQuote({ evidence: softQuote(ecc, nonce, [...boot, sep]), nonce, ak: ecc.public, referenceValues: refs });
    expect(r.firstMismatch).toBe('EV_SEPARATOR@pcr9');
    const ok = verifyQuote({ evidence: softQuote(ecc, nonce, [...boot, sep]), nonce, ak: ecc.public, referenceValues: { ...refs, 'EV_SEPARATOR@pcr9': [sha256(Buffer.alloc(4)).toString('hex')] } });
    expect(ok.status).toBe('affirming');
  });
});
