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
 * The list statement (issue 15: one signature and one verification for the H(e)NBs of one list operation):
 * Header: { alg, kid, typ: 'rv-list+jwt' } (its own typ: a list is never taken as one statement, nor one statement
 * as a list). Claims: iss, aud, iat, exp, jti once, for the whole list, and
 * entries: [{ sub, job-id, reference-values }], 1..64 entries, no sub given twice; each entry is what a single
 * statement says besides iss, aud, iat, exp and jti, with the same rules. The signature binds every entry to the
 * others and to the one jti: an entry cannot be taken out, changed or sent again on its own.
 * verifyReferenceValuesList checks the envelope (the single statement's order and codes, jti replay once for the
 * list) and gives each entry back as the single statement it stands for (jti: the list's), or the problem of its
 * shape: the consumer refuses a bad entry alone.
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
export const REFERENCE_VALUES_LIST_TYP = 'rv-list+jwt';
const DEFAULT_TTL_SEC = 300;
const MAX_VALUES = 64;
/** the most entries of a list statement (max-elements of the list operations) */
export const MAX_LIST_ENTRIES = 64;
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

/** one H(e)NB's values in a list statement: a single statement's claims besides iss, aud, iat, exp, jti */
export type ReferenceValuesEntry = Pick<ReferenceValuesClaims, 'sub' | 'job-id' | 'reference-values'>;

export interface ReferenceValuesListClaims {
  iss: string;
  aud: string | string[];
  iat: number;
  exp: number;
  /** once, for the whole list */
  jti: string;
  entries: ReferenceValuesEntry[];
}

export type ReferenceValuesListInput = Omit<ReferenceValuesListClaims, 'iat' | 'exp' | 'jti'> & { iat?: number; exp?: number; jti?: string };

/**
 * A verified list statement: its envelope, and each entry (index = its position in `entries`) as the single statement
 * it stands for (iss, aud, iat, exp and the list's jti with the entry's sub, job-id, reference-values), or the
 * problem of its shape.
 */
export interface VerifiedReferenceValuesList {
  claims: Omit<ReferenceValuesListClaims, 'entries'>;
  entries: Array<{ index: number; claims: ReferenceValuesClaims } | { index: number; problem: string }>;
}

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
  return envelopeProblem(c) ?? referenceValuesEntryProblem(c);
}

/** iss, aud, iat, exp, jti: what a single statement and a list statement both carry once */
function envelopeProblem(c: Record<string, unknown>): string | null {
  for (const k of ['iss', 'jti']) if (typeof c[k] !== 'string' || c[k] === '') return `claim ${k} must be a non-empty string`;
  const aud = c.aud;
  if (!((typeof aud === 'string' && aud !== '') || (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string' && a !== '')))) {
    return 'claim aud must be a string or a non-empty list of strings';
  }
  for (const k of ['iat', 'exp']) if (!Number.isFinite(c[k])) return `claim ${k} must be a number`;
  return null;
}

/** Null when `e` holds one H(e)NB's values (sub, job-id, reference-values: a single statement, or an entry of a list). */
export function referenceValuesEntryProblem(e: Record<string, unknown>): string | null {
  for (const k of ['sub', 'job-id']) if (typeof e[k] !== 'string' || e[k] === '') return `claim ${k} must be a non-empty string`;
  if (!ID.test(e.sub as string)) return 'claim sub must be an H(e)NB id';
  if (!ID.test(e['job-id'] as string)) return 'claim job-id must be a job id';
  const rv = e['reference-values'];
  if (!Array.isArray(rv) || rv.length === 0 || rv.length > MAX_VALUES) return `claim reference-values must be a list of 1..${MAX_VALUES} entries`;
  const seen = new Set<string>();
  for (const v of rv) {
    if (!isObject(v)) return 'a reference value must be an object';
    for (const k of Object.keys(v)) if (k !== 'component' && k !== 'digest' && k !== 'version') return `a reference value has an unknown member ${JSON.stringify(k)}`;
    if (typeof v.component !== 'string' || v.component === '' || v.component.length > 64) return 'a reference value needs a component (1..64 characters)';
    if (typeof v.digest !== 'string' || !HEX64.test(v.digest)) return `reference value ${v.component}: digest must be 64 lowercase hex digits`;
    if (v.version !== undefined && (typeof v.version !== 'string' || v.version === '' || v.version.length > 64)) return `reference value ${v.component}: version must be 1..64 characters`;
    if (seen.has(`${v.component} ${v.digest}`)) return `reference value ${v.component} ${v.digest} is given twice`;
    seen.add(`${v.component} ${v.digest}`);
  }
  return null;
}

/**
 * Null when the claims are a list statement's envelope: iss, aud, iat, exp, jti, and entries, 1..MAX_LIST_ENTRIES
 * objects with no sub given twice. The entries' own shape is not checked here (one bad entry refuses itself alone:
 * referenceValuesEntryProblem).
 */
export function referenceValuesListProblem(c: Record<string, unknown>): string | null {
  const envelope = envelopeProblem(c);
  if (envelope !== null) return envelope;
  const entries = c.entries;
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_LIST_ENTRIES) return `claim entries must be a list of 1..${MAX_LIST_ENTRIES} entries`;
  const subs = new Set<unknown>();
  for (const e of entries) {
    if (!isObject(e)) return 'an entry must be an object';
    if (typeof e.sub === 'string' && subs.has(e.sub)) return `the entries name H(e)NB ${e.sub} twice`;
    subs.add(e.sub);
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
    'reference-values': input['reference-values'].map(valueOf),
  };
  return signedStatement(claims, referenceValuesProblem(claims as unknown as Record<string, unknown>), REFERENCE_VALUES_TYP, key);
}

/** Sign the values of several H(e)NBs as one list statement (the OAM's key): as signReferenceValues, jti once. */
export async function signReferenceValuesList(input: ReferenceValuesListInput, key: SigningKey, options: SignOptions = {}): Promise<string> {
  const now = Math.floor(options.now?.() ?? Date.now() / 1000);
  const iat = input.iat ?? now;
  const claims: ReferenceValuesListClaims = {
    iss: input.iss, aud: input.aud, iat, exp: input.exp ?? iat + (options.ttlSec ?? DEFAULT_TTL_SEC), jti: input.jti ?? randomUUID(),
    entries: input.entries.map((e) => ({ sub: e.sub, 'job-id': e['job-id'], 'reference-values': e['reference-values'].map(valueOf) })),
  };
  const problem = referenceValuesListProblem(claims as unknown as Record<string, unknown>)
    ?? claims.entries.map((e) => referenceValuesEntryProblem(e as unknown as Record<string, unknown>)).find((p) => p !== null) ?? null;
  return signedStatement(claims, problem, REFERENCE_VALUES_LIST_TYP, key);
}

/** a statement's JWS (typ `typ`, the OAM's key), unless its claims have a problem or exp is not after iat */
async function signedStatement(claims: { iat: number; exp: number }, problem: string | null, typ: string, key: SigningKey): Promise<string> {
  if (problem !== null) throw new TokenError('ERR_TOKEN_CLAIMS', `cannot sign: ${problem}`);
  if (claims.exp <= claims.iat) throw new TokenError('ERR_TOKEN_CLAIMS', 'cannot sign: exp must be after iat');
  const jws = signCompact({ alg: key.alg, kid: key.kid, typ }, claims as unknown as Record<string, unknown>, key.privateKey);
  return toLowS(jws, key.alg);
}

/** a statement is never verified without a jti replay cache (fail closed) */
function requireReplayCache(options: VerifyReferenceValuesOptions): void {
  if (options.replayCache === undefined || options.replayCache === null) {
    throw new TokenError('ERR_TOKEN_REPLAY', 'a jti replay cache is required to verify reference values');
  }
}

function valueOf(v: ReferenceValue): ReferenceValue {
  return { component: v.component, digest: v.digest, ...(v.version !== undefined ? { version: v.version } : {}) };
}

/**
 * Verify a list statement once (the checks and codes of verifyReferenceValues, typ rv-list+jwt, the list's jti
 * remembered once), then read each entry: see VerifiedReferenceValuesList.
 */
export async function verifyReferenceValuesList(jws: string, options: VerifyReferenceValuesOptions): Promise<VerifiedReferenceValuesList> {
  requireReplayCache(options);
  const r = await verifyTyped(jws, { ...options, typ: REFERENCE_VALUES_LIST_TYP, shape: referenceValuesListProblem });
  const { entries, ...envelope } = r.claims as unknown as ReferenceValuesListClaims;
  const claims = { iss: envelope.iss, aud: envelope.aud, iat: envelope.iat, exp: envelope.exp, jti: envelope.jti };
  return {
    claims,
    entries: entries.map((e, index) => {
      const problem = referenceValuesEntryProblem(e as unknown as Record<string, unknown>);
      if (problem !== null) return { index, problem };
      return { index, claims: { ...claims, sub: e.sub, 'job-id': e['job-id'], 'reference-values': e['reference-values'] } };
    }),
  };
}

/** Verify reference values, fail closed (see the module comment); resolves with the claims. */
export async function verifyReferenceValues(jws: string, options: VerifyReferenceValuesOptions): Promise<ReferenceValuesClaims> {
  requireReplayCache(options);
  const r = await verifyTyped(jws, { ...options, typ: REFERENCE_VALUES_TYP, shape: referenceValuesProblem });
  return r.claims as unknown as ReferenceValuesClaims;
}
