/** Errors of the conformance kit (codes in docs/errors.md). */
import { HsvError } from '../errors.js';

/**
 * ERR_CONFORMANCE_UNREACHABLE: no NETCONF session could be opened at all (TCP, SSH, host key or credentials);
 * nothing was tested (exit code 3). ERR_CONFORMANCE_SETUP: the kit could not prepare itself (its HTTPS
 * server, certificate or test image; exit code 3). ERR_CONFORMANCE_OPTIONS: unusable options (exit code 2).
 */
export type ConformanceErrorCode = 'ERR_CONFORMANCE_UNREACHABLE' | 'ERR_CONFORMANCE_SETUP' | 'ERR_CONFORMANCE_OPTIONS';

export class ConformanceError extends HsvError<ConformanceErrorCode> {}
