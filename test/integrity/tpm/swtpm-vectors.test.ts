/**
 * Quotes made by swtpm + tpm2-tools (fixtures/README.md says how), verified by our TypeScript verifier: the
 * parsers read what a real TPM writes, for an ECC and an RSA attestation key.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EV, TPM_ALG, encodeEventLog, parseAkPublic, parseQuoteAttest, parseSignature, verifyQuote } from '../../../src/integrity/tpm/index.js';

const fx = (name: string): Buffer => readFileSync(join(import.meta.dirname, 'fixtures', name));
const log = encodeEventLog([TPM_ALG.SHA256], [{ pcr: 16, type: EV.IPL, digests: new Map([[TPM_ALG.SHA256, Buffer.alloc(32, 0xaa)]]), data: Buffer.from('rootfs') }]);
const refs = { rootfs: ['aa'.repeat(32)] };

describe.each([
  ['ecc', '0011223344556677', 'ecdsa'],
  ['rsa', '8899aabbccddeeff', 'rsassa'],
] as const)('a %s quote made by tpm2_quote', (kind, nonceHex, sigAlg) => {
  const evidence = { attest: fx(`swtpm-${kind}.attest`), signature: fx(`swtpm-${kind}.sig`), log };
  const ak = fx(`swtpm-${kind}.akpub`);
  const nonce = Buffer.from(nonceHex, 'hex');

  it('parses: the AK, the signature, the TPMS_ATTEST with its clock and selection', () => {
    const pub = parseAkPublic(ak);
    expect(pub.ok && pub.value.type).toBe(kind);
    const sig = parseSignature(evidence.signature);
    expect(sig.ok && sig.value.sigAlg).toBe(sigAlg);
    const q = parseQuoteAttest(evidence.attest);
    expect(q.ok).toBe(true);
    if (!q.ok) return;
    expect(q.value.extraData.toString('hex')).toBe(nonceHex);
    expect(q.value.clockInfo.resetCount).toBe(1);
    expect(q.value.pcrSelect).toEqual([{ hashAlg: TPM_ALG.SHA256, pcrs: [0, 16] }]);
    expect(q.value.pcrDigest).toHaveLength(32);
  });

  it('verifies affirming, with the replayed PCR 16 and the clock', () => {
    const r = verifyQuote({ evidence, nonce, ak, referenceValues: refs });
    expect(r.reason).toBeUndefined();
    expect(r.status).toBe('affirming');
    expect(r.signatureValid).toBe(true);
    expect(r.logReplays).toBe(true);
    expect(r.pcrs.map((p) => [p.pcr, p.value.slice(0, 8)])).toEqual([[0, '00000000'], [16, '9ef814b4']]);
    expect(r.clockInfo?.resetCount).toBe(1);
    expect(r.components).toEqual([{ component: 'rootfs', status: 'match', expected: 'aa'.repeat(32), reported: 'aa'.repeat(32) }]);
  });

  it('refuses another nonce, a flipped attest octet, a log with another digest', () => {
    expect(verifyQuote({ evidence, nonce: Buffer.from('00', 'hex'), ak, referenceValues: refs }).failedCheck).toBe('nonce');
    const attest = Buffer.from(evidence.attest);
    attest[attest.length - 1]! ^= 1;
    expect(verifyQuote({ evidence: { ...evidence, attest }, nonce, ak, referenceValues: refs }).failedCheck).toBe('signature');
    const other = encodeEventLog([TPM_ALG.SHA256], [{ pcr: 16, type: EV.IPL, digests: new Map([[TPM_ALG.SHA256, Buffer.alloc(32, 0xab)]]), data: Buffer.from('rootfs') }]);
    expect(verifyQuote({ evidence: { ...evidence, log: other }, nonce, ak, referenceValues: { rootfs: ['ab'.repeat(32)] } }).failedCheck).toBe('pcr-digest');
  });
});

it('the ECC quote does not verify with the RSA AK (another key)', () => {
  const r = verifyQuote({ evidence: { attest: fx('swtpm-ecc.attest'), signature: fx('swtpm-ecc.sig'), log }, nonce: Buffer.from('0011223344556677', 'hex'), ak: fx('swtpm-rsa.akpub'), referenceValues: refs });
  expect(r).toMatchObject({ status: 'contraindicated', failedCheck: 'signature', signatureValid: false });
});
