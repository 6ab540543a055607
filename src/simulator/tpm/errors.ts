import { HsvError } from '../../errors.js';

/**
 * Coded errors of the device-side TPM attester (switch on `code`):
 *   ERR_TPM_UNAVAILABLE  swtpm or tpm2-tools is not installed (scripts/install-peers.sh installs them)
 *   ERR_TPM_START        swtpm did not come up (or exited) on its loopback port
 *   ERR_TPM_COMMAND      a tpm2-tools command failed or timed out (its stderr is the cause)
 *   ERR_TPM_CLOSED       the attester was closed
 *   ERR_TPM_INPUT        a bad argument: component name, digest, nonce, PCR
 */
export type TpmAttesterErrorCode = 'ERR_TPM_UNAVAILABLE' | 'ERR_TPM_START' | 'ERR_TPM_COMMAND' | 'ERR_TPM_CLOSED' | 'ERR_TPM_INPUT';

export class TpmAttesterError extends HsvError<TpmAttesterErrorCode> {
  constructor(code: TpmAttesterErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
