/**
 * Enrolment of a TPM device's endorsement key (issue 10): with manufacturer CAs configured (StartPveOptions.ekCa),
 * a trust-root tpm device must come with its EK certificate, which must chain to one of them and, when its EK
 * public (TPM2B_PUBLIC) is given too, be that key's certificate. Checked when the device is enrolled (PVE start,
 * setDevice); a refusal names the device and the reason (ERR_PVE_DEVICE_KEY), nothing is enrolled.
 *
 * That the AK lives in the TPM of that EK is proved by TPM2_ActivateCredential over a credential the PVE makes
 * (src/integrity/tpm makeCredential), which the PVE sends to the device at first contact (ak-binding.ts).
 */
import { PveServiceError } from './errors.js';
import { parsePublic, verifyEkCertificate } from '../integrity/tpm/index.js';
import type { PveDeviceEntry } from './types.js';

export function checkEk(d: PveDeviceEntry, ekCa: string[]): void {
  const refuse = (why: string): never => {
    throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: ${why}`);
  };
  if (d.ekCertificate === undefined) refuse('an EK certificate is required (the PVE trusts TPM manufacturer CAs: ek-ca)');
  let ekPublic;
  if (d.ekPublic !== undefined) {
    const p = parsePublic(Buffer.from(d.ekPublic, 'base64'));
    if (!p.ok) refuse(`ekPublic is not a TPM public key: ${p.reason}`);
    else ekPublic = p.value;
  }
  const r = verifyEkCertificate({
    certificate: Buffer.from(d.ekCertificate!, 'base64'), trusted: ekCa, intermediates: d.ekIntermediates ?? [],
    ...(ekPublic !== undefined ? { ekPublic } : {}),
  });
  if (!r.ok) refuse(`EK certificate refused: ${r.reason}`);
}
