// The device-side TPM 2.0 attester (swtpm + tpm2-tools): the trust root behind `--trust-root tpm`.
export { AK_HANDLE, DEFAULT_PCR, EK_HANDLE, createTpmAttester, tpmToolsAvailable } from './attester.js';
export type { TpmAttester, TpmAttesterOptions, TpmQuote } from './attester.js';
export { TpmAttesterError } from './errors.js';
export type { TpmAttesterErrorCode } from './errors.js';
export { SWTPM, Swtpm } from './swtpm.js';
