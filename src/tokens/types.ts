/**
 * Signed results (interface only): JWS compact tokens (a JWT) carrying EAR-style attestation results
 * (DESIGN.md "Results"). The PVE signs the pre-update result, the OAM signs the final result.
 *
 * Header: { alg: 'ES256' (default) | 'EdDSA' (Ed25519), kid: RFC 7638 JWK thumbprint (SHA-256, base64url),
 *           typ: 'eat+jwt' }.
 * Claims: see EarClaims. Claim names follow DESIGN.md (underscored `ear_status`, `ear_verifier_id`), which is NOT the
 * Veraison EAR spelling (`ear.status`), so the profile is our own: EAR_PROFILE below.
 *
 * Nonces (`newNonce()`): 32 random bytes as lowercase hex (64 chars). Hex was chosen because it fits a YANG string
 * pattern, is also lexically valid base64 (so it survives a YANG `binary` leaf unchanged), and matches digests.
 *
 * Errors are `TokenError` (./errors.ts) with codes (switch on `code`, never on the message):
 *   ERR_TOKEN_MALFORMED        not a compact JWS / header or payload not JSON
 *   ERR_TOKEN_ALG_NOT_ALLOWED  header alg not in the allow-list (checked before any key is touched)
 *   ERR_TOKEN_TYP              header typ is not 'eat+jwt'
 *   ERR_TOKEN_KEY_UNKNOWN      no verification key matches kid/alg
 *   ERR_TOKEN_SIGNATURE        signature does not verify (always the same message: no oracle)
 *   ERR_TOKEN_CLAIMS           a required claim is missing or has the wrong type/value (e.g. bad ear_status, profile)
 *   ERR_TOKEN_ISSUER           iss is not the expected issuer
 *   ERR_TOKEN_AUDIENCE         aud does not contain the expected audience
 *   ERR_TOKEN_EXPIRED          now >= exp (+ tolerance)
 *   ERR_TOKEN_NOT_YET_VALID    iat (or nbf) in the future (beyond tolerance)
 *   ERR_TOKEN_TOO_OLD          now - iat > maxAgeSec
 *   ERR_TOKEN_NONCE            eat_nonce missing or not the expected nonce
 *   ERR_TOKEN_REPLAY           jti already seen (replay cache)
 *   ERR_TOKEN_KEY_STORE        signing key files unreadable / corrupt (cause attached)
 *   ERR_TOKEN_JWKS             a JWKS file/object is not a valid JWKS
 */

import type { KeyObject } from 'node:crypto';

/** Our EAT profile URI (a tag URI, RFC 4151). Tokens with another eat_profile are refused. */
export const EAR_PROFILE = 'tag:henb-sw-verify.github.io,2026:ear/v1';
export const TOKEN_TYP = 'eat+jwt';

export type EarStatus = 'affirming' | 'warning' | 'contraindicated' | 'none';
export const EAR_STATUSES: readonly EarStatus[] = ['affirming', 'warning', 'contraindicated', 'none'];

export type UpdatePhase = 'pre-update' | 'post-update';

export type SigningAlg = 'ES256' | 'EdDSA';
export const DEFAULT_ALGORITHMS: readonly SigningAlg[] = ['ES256', 'EdDSA'];

/** Per-component appraisal (from measurement-log replay). */
export interface ComponentResult {
  component: string;
  status: 'match' | 'mismatch' | 'missing' | 'unexpected';
  /** expected digest (hex), absent for 'unexpected' */
  expected?: string;
  /** reported digest (hex), absent for 'missing' */
  reported?: string;
}

/** One appraised sub-module. Keys inside stay kebab-case like the YANG wire names. */
export interface EarSubmod {
  ear_status: EarStatus;
  /**
   * the job the appraisal belongs to; absent when the request named none (job-id is optional in
   * henb-sw-verify-pve's integrity-request input)
   */
  'job-id'?: string;
  phase: UpdatePhase;
  /** SHA-256 of the software image (hex) */
  'software-rim'?: string;
  /** extend(current RIM, software RIM) or the replayed log value (hex) */
  'expected-rim'?: string;
  /** TIM the device reported (hex) */
  'reported-tim'?: string;
  'software-version'?: string;
  'software-uri'?: string;
  /** per-component results when a measurement log was replayed */
  components?: ComponentResult[];
  /** name of the first component that differs, when known */
  'first-mismatch'?: string;
  /** short human-readable reason (never exception text) */
  reason?: string;
  /** which trust root the evidence behind this result rests on: software-key | tpm2-quote */
  'evidence-format'?: string;
  /** the appraised measurement log, in measurement order (what a later appraisal derives its expectation from) */
  'measurement-log'?: Array<{ component: string; digest: string }>;
  /** post-update: how the device activated the update (live: extend chain; reboot: log replay) */
  activation?: 'live' | 'reboot';
  /** tpm2-quote: the quote's TPMS_CLOCK_INFO (resetCount, restartCount, clock in ms) */
  'tpm-clock'?: { 'reset-count': number; 'restart-count': number; clock: number };
  /**
   * tpm2-quote: the TPM was reset (power cycle) or restarted since the verifier's previous quote of the device
   * (resetCount or restartCount advanced); absent when the verifier knew no previous quote
   */
  rebooted?: boolean;
  /**
   * EAR trustworthiness vector (draft-ietf-rats-ear `ear.trustworthiness-vector`, AR4SI claim values), in this
   * profile's underscore spelling. Set when the evidence is TPM-rooted: `hardware` 2 (the quote verified with
   * the enrolled TPM attestation key: genuine hardware) or 97 (not recognised). Absent for software-key
   * evidence: a software key says nothing about hardware.
   */
  ear_trustworthiness_vector?: TrustVector;
}

/** AR4SI trustworthiness claims (each an integer -128..127; 0 or absent: no claim). */
export interface TrustVector {
  'instance-identity'?: number;
  configuration?: number;
  executables?: number;
  'file-system'?: number;
  hardware?: number;
  'runtime-opaque'?: number;
  'storage-opaque'?: number;
  'sourced-data'?: number;
}

/** The AR4SI claim names of a TrustVector. */
export const TRUST_CLAIMS = ['instance-identity', 'configuration', 'executables', 'file-system', 'hardware', 'runtime-opaque', 'storage-opaque', 'sourced-data'] as const;

/** Identifies the verifier software that produced the result (EAR "verifier-id"). */
export interface VerifierId {
  developer: string;
  build: string;
}

export interface EarClaims {
  eat_profile: string;
  iss: string;
  aud: string | string[];
  /** the H(e)NB id */
  sub: string;
  /** seconds since epoch */
  iat: number;
  exp: number;
  jti: string;
  eat_nonce?: string;
  ear_verifier_id: VerifierId;
  ear_status: EarStatus;
  /** submodule name -> result; we use 'software-update' for the update appraisal and 'platform' for the PVE check */
  submods: Record<string, EarSubmod>;
}

/** What signResult needs from the caller; iat/exp/jti/eat_profile are filled in when omitted. */
export interface ResultClaimsInput {
  iss: string;
  aud: string | string[];
  sub: string;
  ear_status: EarStatus;
  ear_verifier_id: VerifierId;
  submods: Record<string, EarSubmod>;
  eat_nonce?: string;
  /** default: now */
  iat?: number;
  /** default: iat + ttlSec */
  exp?: number;
  /** default: random UUID */
  jti?: string;
  /** default: EAR_PROFILE */
  eat_profile?: string;
}

/** A loaded signing key. privateKey is a node:crypto KeyObject (never serialised, never logged). */
export interface SigningKey {
  name: string;
  alg: SigningAlg;
  /** RFC 7638 thumbprint of the public JWK (SHA-256, base64url) */
  kid: string;
  privateKey: KeyObject;
  /** the public JWK with kid, alg and use: 'sig' */
  publicJwk: PublicJwk;
}

export interface PublicJwk {
  kty: 'EC' | 'OKP';
  crv: 'P-256' | 'Ed25519';
  x: string;
  y?: string;
  kid: string;
  alg: SigningAlg;
  use: 'sig';
}

export interface Jwks {
  keys: PublicJwk[];
}

export interface SignOptions {
  /** lifetime used when claims.exp is absent; default 3600 s */
  ttlSec?: number;
  /** clock for iat, seconds; default Date.now()/1000 */
  now?: () => number;
}

/** The jti replay cache. Implementations: memoryReplayCache(), storeReplayCache(store). */
export interface ReplayCache {
  /** true if jti was not seen (and now is remembered until expiresAtSec), false if it is a replay */
  checkAndRemember(jti: string, expiresAtSec: number): Promise<boolean>;
}

export interface VerifyOptions {
  /** verification keys: a JWKS, or a list of public JWKs (at least one of the two) */
  jwks?: Jwks;
  keys?: PublicJwk[];
  /** expected iss (one of) */
  issuer: string | string[];
  /** expected audience (the token's aud must contain one of these) */
  audience: string | string[];
  /** maximum age now - iat, seconds */
  maxAgeSec: number;
  /** when given, eat_nonce must equal it (constant-time compare) */
  expectedNonce?: string;
  /** allow-list, default ['ES256', 'EdDSA']; 'none' and HMAC algs are never accepted */
  algorithms?: readonly SigningAlg[];
  /** jti replay cache (required: verification fails closed) */
  replayCache: ReplayCache;
  /** clock skew tolerance, default 30 s */
  clockToleranceSec?: number;
  /** clock, seconds; default Date.now()/1000 */
  now?: () => number;
}

export interface VerifiedResult {
  claims: EarClaims;
  header: { alg: SigningAlg; kid?: string; typ: string };
}

/** Options of verifyTokenCli: an inspection tool, so issuer/audience/max-age/nonce are checked only when given. */
export interface VerifyCliOptions {
  issuer?: string | string[];
  audience?: string | string[];
  maxAgeSec?: number;
  expectedNonce?: string;
  algorithms?: readonly SigningAlg[];
  clockToleranceSec?: number;
  now?: () => number;
}

export interface KeyOptions {
  /** algorithm for a newly created key; default 'ES256' (ignored when the key exists) */
  alg?: SigningAlg;
  /** rotateSigningKey: how many retired public keys to keep in the JWKS (default 10) */
  maxRetired?: number;
}

/**
 * The functions exported by src/tokens/index.ts (signatures; see each module):
 *   signResult(claims: ResultClaimsInput, key: SigningKey, options?: SignOptions): Promise<string>
 *   verifyResult(token: string, options: VerifyOptions): Promise<VerifiedResult>
 *   verifyTokenCli(token: string, jwksFile: string, options?: VerifyCliOptions): Promise<VerifiedResult>
 *   decodeResultUnverified(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> }
 *   loadOrCreateSigningKey(dir: string, name: string, options?: KeyOptions): Promise<SigningKey>
 *   rotateSigningKey(dir: string, name: string, options?: KeyOptions): Promise<SigningKey>
 *   readJwks(dir: string): Promise<Jwks>            all public keys (current + retired) of every key name in dir
 *   publishJwks(dir: string): Promise<Jwks>         same, and writes dir/jwks.json atomically
 *   loadJwksFile(file: string): Promise<Jwks>
 *   newNonce(): string                              64 lowercase hex chars (256 bits)
 *   memoryReplayCache(options?: { maxEntries?: number; now?: () => number }): ReplayCache
 *   storeReplayCache(store: JtiStore): ReplayCache  (a Store from src/store satisfies JtiStore)
 */
export interface JtiStore {
  rememberJti(jti: string, expiresAt: number, now?: number): Promise<boolean>;
}
