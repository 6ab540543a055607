/**
 * ResultTokens (runner.ts) backed by src/tokens: the PVE's token is verified fail-closed (algorithm allow-list,
 * signature against the PVE's JWKS, issuer, audience, max age, eat_nonce, jti replay cache) and the OAM's final
 * result and the reference values it provides to the PVE after a verified update are signed with the OAM's key.
 *
 * The PVE's keys may be a JwksSource (src/tokens JwksFile over config pve.jwks): asked once per verification (a stat;
 * the file read again only when it changed), and once more when the token's kid is not in the set (a rotation that
 * lands between that stat and the verification); a token whose key the file really lacks stays ERR_TOKEN_KEY_UNKNOWN.
 */
import type { Jwks, JwksSource, ReplayCache, SigningAlg, SigningKey, VerifierId, EarClaims } from '../tokens/index.js';
import { freshKeys, signReferenceValues, signReferenceValuesList, signResult, verifyResult, verifyWithCurrentKeys } from '../tokens/index.js';
import type { ReferenceValuesInput, ReferenceValuesSigner, ResultTokens } from './result-token.js';

export const OAM_ISSUER = 'urn:henb-sw-verify:oam';
export const NMS_AUDIENCE = 'urn:henb-sw-verify:nms';
export const PVE_ISSUER = 'urn:henb-sw-verify:pve';
export const OAM_VERIFIER_ID: VerifierId = { developer: 'henb-sw-verify', build: 'henb-sw-verify-oam 0.1.0' };

export interface ResultTokensOptions {
  /** the OAM's signing key (loadOrCreateSigningKey(dataDir, 'oam')) */
  signingKey: SigningKey;
  /** keys that verify the PVE's tokens: fixed, or read per verification (a JwksFile over config pve.jwks) */
  pveJwks: Jwks | JwksSource;
  /** expected iss of PVE tokens (default urn:henb-sw-verify:pve) */
  pveIssuer?: string | string[];
  /** the OAM's own name: iss of its tokens and the audience PVE tokens must name (default urn:henb-sw-verify:oam) */
  oamIssuer?: string;
  /** aud of the OAM's final tokens (default urn:henb-sw-verify:nms) */
  audience?: string | string[];
  /** max age of a PVE token, seconds (default 300) */
  maxAgeSec?: number;
  algorithms?: readonly SigningAlg[];
  replayCache: ReplayCache;
  /** lifetime of the OAM's tokens, seconds (default 86400) */
  ttlSec?: number;
  /** clock in seconds (tests) */
  now?: () => number;
}

/**
 * The OAM's reference-value statements for the PVE, signed with its key: iss the OAM, aud the name the PVE's tokens
 * carry as iss (the PVE checks that it is the audience), valid 300 s. `one` for an H(e)NB alone, `list` for the
 * H(e)NBs of one provide-reference-values-list (one signature).
 */
export function createReferenceValuesSigner(o: Pick<ResultTokensOptions, 'signingKey' | 'pveIssuer' | 'oamIssuer' | 'now'>): ReferenceValuesSigner {
  const party = { iss: o.oamIssuer ?? OAM_ISSUER, aud: o.pveIssuer ?? PVE_ISSUER };
  const options = { ttlSec: 300, ...(o.now !== undefined ? { now: o.now } : {}) };
  const entry = (v: ReferenceValuesInput): { sub: string; 'job-id': string; 'reference-values': ReferenceValuesInput['values'] } =>
    ({ sub: v.henbId, 'job-id': v.jobId, 'reference-values': v.values });
  return {
    one: (v) => signReferenceValues({ ...party, ...entry(v) }, o.signingKey, options),
    list: (vs) => signReferenceValuesList({ ...party, entries: vs.map(entry) }, o.signingKey, options),
  };
}

export function createResultTokens(o: ResultTokensOptions): ResultTokens {
  const oam = o.oamIssuer ?? OAM_ISSUER;
  const referenceValues = createReferenceValuesSigner(o);
  const keys = o.pveJwks;
  const verify = async (jwks: Jwks, token: string, expectedNonce: string): Promise<EarClaims> => {
    const v = await verifyResult(token, {
      jwks,
      issuer: o.pveIssuer ?? PVE_ISSUER,
      audience: oam,
      maxAgeSec: o.maxAgeSec ?? 300,
      expectedNonce,
      replayCache: o.replayCache,
      ...(o.algorithms !== undefined ? { algorithms: o.algorithms } : {}),
      ...(o.now !== undefined ? { now: o.now } : {}),
    });
    return v.claims;
  };
  return {
    async verifyPve(token: string, expectedNonce: string): Promise<EarClaims> {
      if (!('current' in keys)) return verify(keys, token, expectedNonce);
      return verifyWithCurrentKeys(await keys.current(), freshKeys(keys), (jwks) => verify(jwks, token, expectedNonce));
    },
    signReferenceValues: (input) => referenceValues.one(input),
    async signFinal(input): Promise<string> {
      return signResult({ ...input, iss: oam, aud: o.audience ?? NMS_AUDIENCE, ear_verifier_id: OAM_VERIFIER_ID }, o.signingKey, {
        ttlSec: o.ttlSec ?? 86_400,
        ...(o.now !== undefined ? { now: o.now } : {}),
      });
    },
  };
}
