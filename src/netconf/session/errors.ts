/** Session-layer errors (RFC 6241 sections 8.1 and 4; RFC 6242 section 3). Callers switch on `code`. */
import { HsvError } from '../../errors.js';

export type SessionErrorCode =
  | 'ERR_SESSION_HELLO_TIMEOUT'
  | 'ERR_SESSION_BAD_HELLO'
  | 'ERR_SESSION_NO_COMMON_BASE'
  | 'ERR_SESSION_SECOND_HELLO'
  | 'ERR_SESSION_CLOSED'
  | 'ERR_SESSION_RPC_TIMEOUT'
  | 'ERR_SESSION_IDLE_TIMEOUT'
  | 'ERR_SESSION_MALFORMED_MESSAGE'
  | 'ERR_SESSION_OUTPUT_OVERFLOW'
  | 'ERR_SESSION_KILLED';

export class SessionError extends HsvError<SessionErrorCode> {
  constructor(code: SessionErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
