import { HsvError } from '../errors.js';

/**
 * Coded errors of the integrity layer (switch on `code`):
 *   ERR_INTEGRITY_DIGEST          a digest is not 64 hex chars (SHA-256)
 *   ERR_INTEGRITY_LOG             a measurement log entry is malformed
 *   ERR_SOFTWARE_URI              the software URI is malformed
 *   ERR_SOFTWARE_SCHEME           the URI scheme is not allowed / supported
 *   ERR_SOFTWARE_NOT_FOUND        file missing, or HTTP 404/410
 *   ERR_SOFTWARE_TOO_BIG          more than maxBytes (checked on Content-Length/stat and while streaming)
 *   ERR_SOFTWARE_TIMEOUT          the fetch took longer than timeoutMs
 *   ERR_SOFTWARE_ABORTED          the caller's AbortSignal fired
 *   ERR_SOFTWARE_DIGEST_MISMATCH  the SHA-256 is not the expected one
 *   ERR_SOFTWARE_FETCH            any other fetch failure (I/O, TLS, HTTP status, too many redirects); cause attached
 */
export type IntegrityErrorCode =
  | 'ERR_INTEGRITY_DIGEST'
  | 'ERR_INTEGRITY_LOG'
  | 'ERR_SOFTWARE_URI'
  | 'ERR_SOFTWARE_SCHEME'
  | 'ERR_SOFTWARE_NOT_FOUND'
  | 'ERR_SOFTWARE_TOO_BIG'
  | 'ERR_SOFTWARE_TIMEOUT'
  | 'ERR_SOFTWARE_ABORTED'
  | 'ERR_SOFTWARE_DIGEST_MISMATCH'
  | 'ERR_SOFTWARE_FETCH';

export class IntegrityError extends HsvError<IntegrityErrorCode> {
  constructor(code: IntegrityErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
