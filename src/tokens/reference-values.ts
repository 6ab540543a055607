/**
 * Reference values as a signed statement (issue 10 item 4; RFC 9334: the OAM is the Reference Value Provider,
 * the PVE the Verifier that consumes them): after a verified update the OAM signs the new reference values of
 * one H(e)NB (component, digest, version) and hands the JWS to the PVE, which accepts it only when its key is the
 * configured OAM key.
 *
 * Header: { alg, kid, typ: 'rv+jwt' } (never 'eat+jwt': a result token is not reference values, and back).
 * Claims: iss (the OAM), aud (the PVE), sub (the H(e)NB id), iat, exp, jti, job-id (the verified update), and
 * reference-values: [{ component, digest (64 lowercase hex), version? }], 1..64 entries, no pair given twice.
 *
 * Verification (verifyReferenceValues) fails closed with verifyResult's order and codes: alg allow-list (an
 * unsigned `alg: none` JWS is ERR_TOKEN_ALG_NOT_ALLOWED), typ, key, signature (one message), shape, issuer,
 * audience, exp / iat / max age, jti replay. Ordering between statements about one H(e)NB (a stale one after a
 * newer one) is the consumer's: it knows what it accepted last.
 */
import { randomUUID } from 'node:crypto';
import { isObject } from './claims.js';
import { TokenError } from './errors.js';
import { signCompact } from './jws.js';
import { toLowS } from './low-s.js';
import { verifyTyped } from './verify.js';
import type { ReplayCache, SignOptions, SigningAlg, SigningKey, Jwks, PublicJwk } from './types.js';

export const REFERENCE_VALUES_TYP = 'rv+jwt';
const DEFAULT_TTL_SEC = 300;
const MAX_VALUES = 64;
const HEX64 = /^[0-9a-f]{64}$/;
const ID = /^[0-9A-Za-z][-.0-9:A-Z_a-z]{0,63}$/;

/** One reference value: the digest a component measures to, and the software version it belongs to. */
export interface ReferenceValue {
  component: string;
  /** SHA-256, 64 lowercase hex */
  digest: string;
  version?: string;
}

export interface ReferenceValuesClaims {
  iss: string;
  aud: string | string[];
  /** the H(e)NB the values are for */
  sub: string;
  iat: number;
  exp: number;
  jti: string;
  /** the verified update that produced them */
  'job-id': string;
  'reference-values': ReferenceValue[];
}

export type ReferenceValuesClaimsInput = Omit<ReferenceValuesClaims, 'iat' | 'exp' | 'jti'> & { iat?: number; exp?: number; jti?: string };

export interface VerifyReferenceValuesOptions {
  jwks?: Jwks;
  keys?: PublicJwk[];
  /** the OAM's name (one of) */
  issuer: string | string[];
  /** the consumer's own name: aud must contain one of these */
  audience: string | string[];
  /** maximum age now - iat, seconds */
  maxAgeSec: number;
  /** jti replay cache (required: a statement is accepted once) */
  replayCache: ReplayCache;
  algorithms?: readonly SigningAlg[];
  clockToleranceSec?: number;
  /** clock, seconds */
  now?: () => number;
}

/** Null when the claims are reference values, else the first problem (shared by sign and verify). */
export function referenceValuesProblem(c: Record<string, unknown>): string | null {
  for (const k of ['iss', 'sub', 'jti', 'job-id']) if (typeof c[k] !== 'string' || c[k] === '') return `claim ${k} must be a non-empty string`;
  if (!ID.test(c.sub as string)) return 'claim sub must be an H(e)NB id';
  if (!ID.test(c['job-id'] as string)) return 'claim job-id must be a job id';
  const aud = c.aud;
  if (!((typeof aud === 'string' && aud !== '') || (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string' && a !== '')))) {
    return 'claim aud must be a string or a non-empty list of strings';
  }
  for (const k of ['iat', 'exp']) if (!Number.isFinite(c[k])) return `claim ${k} must be a number`;
  const rv = c['reference-values'];
  if (!Array.isArray(rv) || rv.length === 0 || rv.length > MAX_VALUES) return `claim reference-values must be a list of 1..${MAX_VALUES} entries`;
  const seen = new Set<string>();
  for (const e of rv) {
    if (!isObject(e)) return 'a reference value must be an object';
    for (const k of Object.keys(e)) if (k !== 'component' && k !== 'digest' && k !== 'version') return `a reference value has an unknown member ${JSON.stringify(k)}`;
    if (typeof e.component !== 'string' || e.component === '' || e.component.length > 64) return 'a reference value needs a component (1..64 characters)';
    if (typeof e.digest !== 'string' || !HEX64.test(e.digest)) return `reference value ${e.component}: digest must be 64 lowercase hex digits`;
    if (e.version !== undefined && (typeof e.version !== 'string' || e.version === '' || e.version.length > 64)) return `reference value ${e.component}: version must be 1..64 characters`;
    if (seen.has(`${e.component} ${e.digest}`)) return `reference value ${e.component} ${e.digest} is given twice`;
    seen.add(`${e.component} ${e.digest}`);
  }
  return null;
}

/** Sign reference values (the OAM's key): iat = now, exp = iat + ttlSec (default 300 s), jti random. */
export async function signReferenceValues(input: ReferenceValuesClaimsInput, key: SigningKey, options: SignOptions = {}): Promise<string> {
  const now = Math.floor(options.now?.() ?? Date.now() / 1000);
  const iat = input.iat ?? now;
  const claims: ReferenceValuesClaims = {
    iss: input.iss, aud: input.aud, sub: input.sub, iat, exp: input.exp ?? iat + (options.ttlSec ?? DEFAULT_TTL_SEC),
    jti: input.jti ?? randomUUID(), 'job-id': input['job-id'],
    'reference-values': input['reference-values'].map((v) => ({ component: v.component, digest: v.digest, ...(v.version !== undefined ? { version: v.version } : {}) })),
  };
  const problem = referenceValuesProblem(claims as unknown as Record<string, unknown>);
  if (problem !== null) throw new TokenError('ERR_TOKEN_CLAIMS', `cannot sign: ${problem}`);
  if (claims.exp <= claims.iat) throw new TokenError('ERR_TOKEN_CLAIMS', 'cannot sign: exp must be after iat');
  const jws = signCompact({ alg: key.alg, kid: key.kid, typ: REFERENCE_VALUES_TYP }, claims as unknown as Record<string, unknown>, key.privateKey);
  return toLowS(jws, key.alg);
}

/** Verify reference values, fail closed (see the module comment); resolves with the claims. */
export async function verifyReferenceValues(jws: string, options: VerifyReferenceValuesOptions): Promise<ReferenceValuesClaims> {
  if (options.replayCache === undefined || options.replayCache === null) {
    throw new TokenError('ERR_TOKEN_REPLAY', 'a jti replay cache is required to verify reference values');
  }
  const r = await verifyTyped(jws, { ...options, typ: REFERENCE_VALUES_TYP, shape: referenceValuesProblem });
  return r.claims as unknown as ReferenceValuesClaims;
}
