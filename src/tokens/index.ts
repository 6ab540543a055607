// Public surface of the tokens layer: EAR result tokens (JWS/JWT), keys, JWKS, nonces, replay caches.
export * from './types.js';
export { TokenError } from './errors.js';
export type { TokenErrorCode } from './errors.js';
export { NONCE_BYTES, isNonce, newNonce } from './nonce.js';
export { signResult } from './sign.js';
export { decodeResultUnverified, verifyResult, verifyTokenCli } from './verify.js';
export {
  generateSigningKey, loadJwksFile, loadOrCreateSigningKey, parseJwks, publishJwks, readJwks, rotateSigningKey,
  signingKeyFromPem,
} from './keys.js';
export { JWKS_RECHECK_MS, JwksFile, freshKeys, verifyWithCurrentKeys } from './jwks-file.js';
export type { CurrentOptions, JwksFileOptions, JwksFileProblem, JwksFileProblemReason, JwksSource } from './jwks-file.js';
export { memoryReplayCache, storeReplayCache } from './replay.js';
export type { MemoryReplayCacheOptions } from './replay.js';
export {
  MAX_LIST_ENTRIES, REFERENCE_VALUES_LIST_TYP, REFERENCE_VALUES_TYP, referenceValuesEntryProblem, referenceValuesListProblem, referenceValuesProblem,
  signReferenceValues, signReferenceValuesList, verifyReferenceValues, verifyReferenceValuesList,
} from './reference-values.js';
export type {
  ReferenceValue, ReferenceValuesClaims, ReferenceValuesClaimsInput, ReferenceValuesEntry, ReferenceValuesListClaims, ReferenceValuesListInput,
  VerifiedReferenceValuesList, VerifyReferenceValuesOptions,
} from './reference-values.js';
export { AUDIT_HEAD_TYP, auditHeadChecker, signAuditHead } from './audit-head.js';
export type { AuditHeadCheck } from './audit-head.js';
export { SOFTWARE_MANIFEST_TYP, signSoftwareManifest, softwareManifestProblem, verifySoftwareManifest } from './software-manifest.js';
export type { SoftwareManifest, VerifySoftwareManifestOptions } from './software-manifest.js';
