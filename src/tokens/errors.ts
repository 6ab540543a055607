import { HsvError } from '../errors.js';

/** Codes: see the list at the top of ./types.ts. */
export type TokenErrorCode =
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_ALG_NOT_ALLOWED'
  | 'ERR_TOKEN_TYP'
  | 'ERR_TOKEN_KEY_UNKNOWN'
  | 'ERR_TOKEN_SIGNATURE'
  | 'ERR_TOKEN_CLAIMS'
  | 'ERR_TOKEN_ISSUER'
  | 'ERR_TOKEN_AUDIENCE'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_TOKEN_TOO_OLD'
  | 'ERR_TOKEN_NONCE'
  | 'ERR_TOKEN_REPLAY'
  | 'ERR_TOKEN_REPLAY_CACHE_FULL'
  | 'ERR_TOKEN_KEY_STORE'
  | 'ERR_TOKEN_JWKS';

export class TokenError extends HsvError<TokenErrorCode> {
  constructor(code: TokenErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
