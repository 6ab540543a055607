/** The reference PVE's own error class (its codes are listed in docs/errors.md). */
import { HsvError } from '../errors.js';

export type PveServiceErrorCode = 'ERR_PVE_CLOSED' | 'ERR_PVE_DEVICE_KEY' | 'ERR_PVE_DEVICE_TIMEOUT' | 'ERR_PVE_LISTEN' | 'ERR_PVE_PROVIDED_FILE' | 'ERR_PVE_TPM_CLOCK_FILE' | 'ERR_PVE_NONCE_FILE';

export class PveServiceError extends HsvError<PveServiceErrorCode> {}
