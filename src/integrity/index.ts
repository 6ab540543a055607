// Public surface of the integrity layer: digests, extend, streaming fetch + digest, measurement-log replay.
export { IntegrityError } from './errors.js';
export type { IntegrityErrorCode } from './errors.js';
export { ZERO_DIGEST, digestsEqual, expectedRim, extend, isDigestHex, normalizeDigest, sha256Hex } from './digest.js';
export type { DigestHex } from './digest.js';
export { digestStream } from './stream.js';
export type { ByteSource, DigestResult, DigestStreamOptions } from './stream.js';
export { SUPPORTED_SCHEMES, createFileDigests, fetchAndDigest, readFileDigest, parseSoftwareUri, softwareAllowList } from './fetch.js';
export type { FetchAndDigestOptions, FetchAndDigestResult, FileDigests, HttpDigestCache, HttpDigestCacheEntry, SoftwareScheme } from './fetch.js';
export { appraiseUpdatedLog, compareLogs, liveLogAfterUpdate, normalizeLog, rebootLogAfterUpdate, replayLog, replayLogByPcr } from './log.js';
export type { ComponentComparison, ComponentStatus, LogComparison, MeasurementEntry, UpdateAppraisal } from './log.js';
export {
  COMPLETION_EVIDENCE_LABEL, EVIDENCE_FORMATS, SOFTWARE_COMPONENT, completionMessage, evidenceMessage, isEvidenceFormat, jwkThumbprint, signCompletion,
  verifyCompletion, verifyEvidence,
} from './evidence.js';
export type { CompletionStatement, EvidenceFormat, ReferenceValues } from './evidence.js';
