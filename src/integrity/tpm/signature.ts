/**
 * TPMT_SIGNATURE (TPM 2.0 Library Part 2, 11.3.4), big-endian:
 *   sigAlg UINT16; RSASSA / RSAPSS: hash UINT16, sig TPM2B_PUBLIC_KEY_RSA;
 *                  ECDSA:          hash UINT16, signatureR TPM2B_ECC_PARAMETER, signatureS TPM2B_ECC_PARAMETER.
 * Other schemes (ECDAA, SM2, ECSCHNORR, HMAC, NULL) are refused: fail closed.
 */
import { MalformedTpm, Reader, guard } from './bytes.js';
import type { ParseResult } from './bytes.js';
import { HASHES, LIMITS, TPM_ALG, algName } from './constants.js';

export type TpmSignature =
  | { sigAlg: 'rsassa' | 'rsapss'; hashAlg: number; sig: Buffer }
  | { sigAlg: 'ecdsa'; hashAlg: number; r: Buffer; s: Buffer };

export function parseSignature(octets: Uint8Array): ParseResult<TpmSignature> {
  return guard('TPMT_SIGNATURE', () => {
    const r = new Reader(Buffer.from(octets.buffer, octets.byteOffset, octets.byteLength), 'TPMT_SIGNATURE');
    const alg = r.u16('sigAlg');
    if (alg !== TPM_ALG.RSASSA && alg !== TPM_ALG.RSAPSS && alg !== TPM_ALG.ECDSA) {
      throw new MalformedTpm(`TPMT_SIGNATURE: signature scheme ${algName(alg)} is not accepted (rsassa, rsapss, ecdsa)`);
    }
    const hashAlg = r.u16('hash');
    if (!HASHES[hashAlg]) throw new MalformedTpm(`TPMT_SIGNATURE: hash ${algName(hashAlg)} is not accepted (sha256, sha384, sha512)`);
    if (alg === TPM_ALG.ECDSA) {
      const sr = r.tpm2b('signatureR', LIMITS.eccPoint);
      const ss = r.tpm2b('signatureS', LIMITS.eccPoint);
      r.end();
      return { sigAlg: 'ecdsa', hashAlg, r: sr, s: ss };
    }
    const sig = r.tpm2b('sig', LIMITS.rsaKey);
    r.end();
    return { sigAlg: alg === TPM_ALG.RSASSA ? 'rsassa' : 'rsapss', hashAlg, sig };
  });
}
