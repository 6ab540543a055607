/**
 * Framing errors (RFC 6242 section 4.2: "If the peer receives a malformed chunk header or message
 * framing, it MUST terminate the session" in effect — a framing error is not recoverable, the byte
 * stream has lost synchronisation). Callers switch on `code`.
 */
import { HsvError } from '../../errors.js';

export type FramingErrorCode =
  | 'ERR_FRAMING_BAD_CHUNK_HEADER'
  | 'ERR_FRAMING_CHUNK_TOO_BIG'
  | 'ERR_FRAMING_MESSAGE_TOO_BIG'
  | 'ERR_FRAMING_EMPTY_MESSAGE'
  | 'ERR_FRAMING_TRUNCATED'
  | 'ERR_FRAMING_DELIMITER_IN_MESSAGE';

export class FramingError extends HsvError<FramingErrorCode> {
  constructor(code: FramingErrorCode, message: string) {
    super(code, message);
  }
}
