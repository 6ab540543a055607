import { uuidV7 } from '../uuid-v7.js';
import { claimsProblem } from './claims.js';
import { signCompact } from './jws.js';
import { toLowS } from './low-s.js';
import { TokenError } from './errors.js';
import { EAR_PROFILE, TOKEN_TYP } from './types.js';
import type { EarClaims, ResultClaimsInput, SignOptions, SigningKey } from './types.js';

const DEFAULT_TTL_SEC = 3600;

/**
 * Signs an EAR result as a JWS compact token (a JWT): header { alg: key.alg, kid: key.kid, typ: 'eat+jwt' }.
 * Fills iat (now), exp (iat + ttlSec), jti (a UUID version 7: unique, 74 random bits, ordered by time, so the
 * verifiers' jti indexes grow at one end) and eat_profile (EAR_PROFILE) when absent.
 * Claims that do not have the EarClaims shape are refused with ERR_TOKEN_CLAIMS (nothing is signed).
 */
export async function signResult(claims: ResultClaimsInput, key: SigningKey, options: SignOptions = {}): Promise<string> {
  const now = Math.floor(options.now?.() ?? Date.now() / 1000);
  const iat = claims.iat ?? now;
  const full: EarClaims = {
    eat_profile: claims.eat_profile ?? EAR_PROFILE,
    iss: claims.iss,
    aud: claims.aud,
    sub: claims.sub,
    iat,
    exp: claims.exp ?? iat + (options.ttlSec ?? DEFAULT_TTL_SEC),
    jti: claims.jti ?? uuidV7(),
    ...(claims.eat_nonce === undefined ? {} : { eat_nonce: claims.eat_nonce }),
    ear_verifier_id: claims.ear_verifier_id,
    ear_status: claims.ear_status,
    submods: claims.submods,
  };
  const problem = claimsProblem(full as unknown as Record<string, unknown>);
  if (problem !== null) throw new TokenError('ERR_TOKEN_CLAIMS', `cannot sign: ${problem}`);
  if (full.exp <= full.iat) throw new TokenError('ERR_TOKEN_CLAIMS', 'cannot sign: exp must be after iat');
  const token = signCompact({ alg: key.alg, kid: key.kid, typ: TOKEN_TYP }, full as unknown as Record<string, unknown>, key.privateKey);
  return toLowS(token, key.alg); // one valid byte string per token (see low-s.ts)
}
