import { createPublicKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { verifyCompact } from './jws.js';
import { claimsProblem, isObject } from './claims.js';
import { TokenError } from './errors.js';
import { loadJwksFile, parsePublicJwk } from './keys.js';
import { memoryReplayCache } from './replay.js';
import { DEFAULT_ALGORITHMS, EAR_PROFILE, TOKEN_TYP } from './types.js';
import { isHighS, signatureOf } from './low-s.js';
import type { EarClaims, PublicJwk, ReplayCache, SigningAlg, VerifiedResult, VerifyCliOptions, VerifyOptions } from './types.js';

const SUPPORTED: readonly SigningAlg[] = ['ES256', 'EdDSA'];
const DEFAULT_TOLERANCE_SEC = 30;
const COMPACT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

interface Checks {
  keys: readonly PublicJwk[];
  algorithms: readonly SigningAlg[];
  issuer?: string | string[];
  audience?: string | string[];
  maxAgeSec?: number;
  expectedNonce?: string;
  replayCache?: ReplayCache;
  toleranceSec: number;
  now: number;
  /** the header typ the token must carry (default TOKEN_TYP, eat+jwt) */
  typ?: string;
  /** the claims' shape check (default: the EAR claims and eat_profile); null when the claims are fine */
  shape?: (claims: Record<string, unknown>) => string | null;
}

/**
 * Verifies a result token, failing closed, in this order: compact form -> alg allow-list (before any key is
 * touched) -> typ -> key by kid -> signature (ERR_TOKEN_SIGNATURE, one message, no oracle) -> claim shape and
 * eat_profile -> issuer -> audience -> exp / iat / nbf / max age -> nonce -> jti replay (last, so only tokens
 * that pass everything else use a cache slot; the jti is remembered until the token could no longer be accepted).
 */
export async function verifyResult(token: string, options: VerifyOptions): Promise<VerifiedResult> {
  if (options.replayCache === undefined || options.replayCache === null) {
    throw new TokenError('ERR_TOKEN_REPLAY', 'a jti replay cache is required to verify a result');
  }
  if (!(options.maxAgeSec > 0)) throw new TokenError('ERR_TOKEN_CLAIMS', 'maxAgeSec must be a positive number');
  return verifyCore(token, {
    keys: collectKeys(options.jwks?.keys, options.keys),
    algorithms: allowList(options.algorithms),
    issuer: options.issuer,
    audience: options.audience,
    maxAgeSec: options.maxAgeSec,
    expectedNonce: options.expectedNonce,
    replayCache: options.replayCache,
    toleranceSec: options.clockToleranceSec ?? DEFAULT_TOLERANCE_SEC,
    now: options.now?.() ?? Date.now() / 1000,
  });
}

/**
 * For the `henb-sw-verify verify-token TOKEN --jwks FILE` command: verifies the signature with the keys of the
 * JWKS file, the alg allow-list, typ, claim shape and exp/iat always; issuer, audience, max age and nonce only
 * when given. Returns the header and claims. (No replay check: a one-shot inspection has no history.)
 */
export async function verifyTokenCli(token: string, jwksFile: string, options: VerifyCliOptions = {}): Promise<VerifiedResult> {
  const jwks = await loadJwksFile(jwksFile);
  return verifyCore(token.trim(), {
    keys: jwks.keys,
    algorithms: allowList(options.algorithms),
    issuer: options.issuer,
    audience: options.audience,
    maxAgeSec: options.maxAgeSec,
    expectedNonce: options.expectedNonce,
    replayCache: memoryReplayCache(),
    toleranceSec: options.clockToleranceSec ?? DEFAULT_TOLERANCE_SEC,
    now: options.now?.() ?? Date.now() / 1000,
  });
}

/** Decodes header and claims WITHOUT verifying anything: for display and logs only, never for decisions. */
export function decodeResultUnverified(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || !COMPACT_RE.test(token.trim())) throw new TokenError('ERR_TOKEN_MALFORMED', 'not a JWS compact token');
  try {
    const header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8')) as unknown;
    const claims = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as unknown;
    if (!isObject(header) || !isObject(claims)) throw new Error('not objects');
    return { header, claims };
  } catch (cause) {
    throw new TokenError('ERR_TOKEN_MALFORMED', 'token header or payload is not a JSON object', { cause });
  }
}

// ---------------------------------------------------------------------------------------------------------------

function allowList(algorithms: readonly SigningAlg[] | undefined): readonly SigningAlg[] {
  const list = (algorithms ?? DEFAULT_ALGORITHMS).filter((a) => SUPPORTED.includes(a));
  if (list.length === 0) throw new TokenError('ERR_TOKEN_ALG_NOT_ALLOWED', 'the algorithm allow-list is empty');
  return list;
}

/** the parsed keys of key lists that cannot change (frozen, each key frozen): a JwksFile's set, parseJwks' keys */
const parsedKeys = new WeakMap<readonly unknown[], readonly PublicJwk[]>();

function collectKeys(a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): readonly PublicJwk[] {
  if (b === undefined && a !== undefined && a.length > 0 && Object.isFrozen(a) && a.every((k) => Object.isFrozen(k))) {
    let parsed = parsedKeys.get(a);
    if (parsed === undefined) {
      parsed = Object.freeze(a.map((k, i) => Object.freeze(parsePublicJwk(k, i))));
      parsedKeys.set(a, parsed);
    }
    return parsed;
  }
  const all = [...(a ?? []), ...(b ?? [])];
  if (all.length === 0) throw new TokenError('ERR_TOKEN_JWKS', 'no verification keys given');
  return all.map((k, i) => parsePublicJwk(k, i));
}

/** The EAR result's shape and profile. */
function earShape(claims: Record<string, unknown>): string | null {
  const problem = claimsProblem(claims);
  if (problem !== null) return problem;
  return claims.eat_profile === EAR_PROFILE ? null : `eat_profile must be ${EAR_PROFILE}`;
}

/**
 * The checks of verifyResult for a token of another type (typ and claim shape given): alg allow-list, typ,
 * key, signature (low-S), shape, issuer, audience, times, max age, jti replay. For src/tokens' other signed
 * statements (reference values, software manifests); the claims come back as the shape check accepted them.
 */
export async function verifyTyped(token: string, options: Omit<VerifyOptions, 'expectedNonce' | 'replayCache' | 'issuer' | 'audience' | 'maxAgeSec'> & {
  typ: string; shape: (claims: Record<string, unknown>) => string | null; replayCache?: ReplayCache;
  /** unchecked when absent (a vendor's manifest has no audience and no maximum age) */
  issuer?: string | string[]; audience?: string | string[]; maxAgeSec?: number;
}): Promise<{ claims: Record<string, unknown>; header: VerifiedResult['header'] }> {
  if (options.maxAgeSec !== undefined && !(options.maxAgeSec > 0)) throw new TokenError('ERR_TOKEN_CLAIMS', 'maxAgeSec must be a positive number');
  const r = await verifyCore(token, {
    keys: collectKeys(options.jwks?.keys, options.keys),
    algorithms: allowList(options.algorithms),
    issuer: options.issuer,
    audience: options.audience,
    maxAgeSec: options.maxAgeSec,
    expectedNonce: undefined,
    replayCache: options.replayCache,
    toleranceSec: options.clockToleranceSec ?? DEFAULT_TOLERANCE_SEC,
    now: options.now?.() ?? Date.now() / 1000,
    typ: options.typ,
    shape: options.shape,
  });
  return { claims: r.claims as unknown as Record<string, unknown>, header: r.header };
}

async function verifyCore(token: string, c: Checks): Promise<VerifiedResult> {
  const { header, alg, kid } = checkedHeader(token, c);
  const payload = await verifiedPayload(token, c.keys, alg, kid);
  const claims = shapedClaims(payload, c);
  // iss, aud, iat, exp, jti are checked by every shape; the rest of the EAR claims only by earShape
  const ear = claims as unknown as EarClaims;
  checkParty(ear, c);
  checkTimes(ear, claims.nbf as number | undefined, c);
  if (c.expectedNonce !== undefined && !sameString(ear.eat_nonce, c.expectedNonce)) {
    throw new TokenError('ERR_TOKEN_NONCE', 'token eat_nonce is missing or not the expected nonce');
  }
  if (c.replayCache !== undefined) {
    const until = Math.min(ear.exp, c.maxAgeSec === undefined ? ear.exp : ear.iat + c.maxAgeSec) + c.toleranceSec;
    if (!(await c.replayCache.checkAndRemember(ear.jti, until))) {
      throw new TokenError('ERR_TOKEN_REPLAY', 'token jti was seen before (replay)');
    }
  }
  const out: VerifiedResult['header'] = { alg: alg as SigningAlg, typ: header.typ as string };
  if (kid !== undefined) out.kid = kid;
  return { claims: ear, header: out };
}

/** compact form, then the protected header: alg allow-list (before any key is touched), typ, no crit, kid */
function checkedHeader(token: string, c: Checks): { header: Record<string, unknown>; alg: string; kid: string | undefined } {
  if (typeof token !== 'string' || !COMPACT_RE.test(token)) throw new TokenError('ERR_TOKEN_MALFORMED', 'not a JWS compact token');
  let header: Record<string, unknown>;
  try {
    header = protectedHeader(token.slice(0, token.indexOf('.')));
  } catch (cause) {
    throw new TokenError('ERR_TOKEN_MALFORMED', 'token header is not valid JSON', { cause });
  }
  const alg = header.alg;
  if (typeof alg !== 'string' || !(c.algorithms as readonly string[]).includes(alg)) {
    throw new TokenError('ERR_TOKEN_ALG_NOT_ALLOWED', `token algorithm ${JSON.stringify(alg)} is not allowed`);
  }
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase().replace(/^application\//, '') : undefined;
  const wantTyp = c.typ ?? TOKEN_TYP;
  if (typ !== wantTyp) throw new TokenError('ERR_TOKEN_TYP', `token typ must be '${wantTyp}'`);
  if (header.crit !== undefined) throw new TokenError('ERR_TOKEN_MALFORMED', 'token has crit header parameters we do not understand');
  const kid = header.kid;
  if (kid !== undefined && typeof kid !== 'string') throw new TokenError('ERR_TOKEN_MALFORMED', 'token kid must be a string');
  return { header, alg, kid };
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The protected header of a compact JWS (its first part, of base64url characters only: COMPACT_RE checked them) as
 * jose's decodeProtectedHeader decodes it, without its generic base64 path (atob and a byte loop, ~20 us a token in
 * the fleet bench): base64url whose length is not 1 mod 4 (atob refuses that), strict UTF-8 (a leading BOM dropped,
 * as TextDecoder drops it), JSON, an object. Throws on anything else.
 */
function protectedHeader(part: string): Record<string, unknown> {
  if (part.length % 4 === 1) throw new Error('not base64url');
  const parsed = JSON.parse(STRICT_UTF8.decode(Buffer.from(part, 'base64url'))) as unknown;
  if (!isObject(parsed)) throw new Error('not an object');
  return parsed;
}

/** the payload, verified with a key of the token's alg (and kid, when it has one); one message for every failure */
async function verifiedPayload(token: string, keys: readonly PublicJwk[], alg: string, kid: string | undefined): Promise<Uint8Array> {
  const candidates = keys.filter((k) => k.alg === alg && (kid === undefined || k.kid === kid));
  if (candidates.length === 0) throw new TokenError('ERR_TOKEN_KEY_UNKNOWN', 'no verification key matches the token kid/alg');

  let payload: Uint8Array | undefined;
  // a high-S ECDSA signature is the malleated twin of a valid one: refused with the same message as any bad
  // signature (no oracle), before any key is tried
  if (alg === 'ES256' && isHighS(signatureOf(token))) throw new TokenError('ERR_TOKEN_SIGNATURE', 'token signature verification failed');
  for (const k of candidates) {
    try {
      payload = verifyCompact(token, keyObject(k), alg as SigningAlg);
      if (payload !== undefined) break;
    } catch {
      // try the next candidate; the reason is never disclosed
    }
  }
  if (payload === undefined) throw new TokenError('ERR_TOKEN_SIGNATURE', 'token signature verification failed');
  return payload;
}

/** the payload as a JSON object that passes the shape check (default: the EAR claims and eat_profile) */
function shapedClaims(payload: Uint8Array, c: Checks): Record<string, unknown> {
  let claims: Record<string, unknown>;
  try {
    const parsed = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8')) as unknown;
    if (!isObject(parsed)) throw new Error('not an object');
    claims = parsed;
  } catch (cause) {
    throw new TokenError('ERR_TOKEN_MALFORMED', 'token payload is not a JSON object', { cause });
  }
  const problem = (c.shape ?? earShape)(claims);
  if (problem !== null) throw new TokenError('ERR_TOKEN_CLAIMS', problem);
  return claims;
}

/** issuer, then audience (each when expected) */
function checkParty(ear: EarClaims, c: Checks): void {
  if (c.issuer !== undefined && !asList(c.issuer).includes(ear.iss)) {
    throw new TokenError('ERR_TOKEN_ISSUER', 'token issuer is not the expected one');
  }
  if (c.audience !== undefined) {
    const want = asList(c.audience);
    if (!asList(ear.aud).some((a) => want.includes(a))) throw new TokenError('ERR_TOKEN_AUDIENCE', 'token audience is not ours');
  }
}

/** exp, iat, nbf, then the maximum age, each within the clock tolerance */
function checkTimes(ear: EarClaims, nbf: number | undefined, c: Checks): void {
  const tol = c.toleranceSec;
  if (c.now >= ear.exp + tol) throw new TokenError('ERR_TOKEN_EXPIRED', 'token has expired');
  if (ear.iat > c.now + tol) throw new TokenError('ERR_TOKEN_NOT_YET_VALID', 'token iat is in the future');
  if (nbf !== undefined && nbf > c.now + tol) throw new TokenError('ERR_TOKEN_NOT_YET_VALID', 'token is not valid yet (nbf)');
  if (c.maxAgeSec !== undefined && c.now - ear.iat > c.maxAgeSec + tol) {
    throw new TokenError('ERR_TOKEN_TOO_OLD', `token is older than ${c.maxAgeSec} s`);
  }
}

function asList(v: string | string[]): string[] {
  return Array.isArray(v) ? v : [v];
}

function sameString(a: unknown, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const keyCache = new Map<string, KeyObject>();
export function keyObject(jwk: PublicJwk): KeyObject {
  const id = `${jwk.kty}.${jwk.crv}.${jwk.x}.${jwk.y ?? ''}`;
  let k = keyCache.get(id);
  if (k === undefined) {
    const { kty, crv, x, y } = jwk;
    k = createPublicKey({ key: y === undefined ? { kty, crv, x } : { kty, crv, x, y }, format: 'jwk' });
    if (keyCache.size >= 256) keyCache.clear();
    keyCache.set(id, k);
  }
  return k;
}
