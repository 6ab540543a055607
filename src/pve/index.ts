/**
 * The reference PVE (Verifier) and the flow's clients of it: the PVE service (service.ts: RESTCONF/HTTPS and
 * NETCONF endpoints, evidence collection, appraisal, signed EAR results) and the PveClient ports over RESTCONF
 * (client.ts) and NETCONF (netconf-client.ts). Its command (cli.ts) is loaded by src/cli on its own.
 */
export { PveClientError, createPveClient } from './client.js';
export type { PveClientOptions, PveIntegrityResult, RestconfPveClient } from './client.js';
export { createNetconfPveClient } from './netconf-client.js';
export type { NetconfPveClient, NetconfPveClientOptions } from './netconf-client.js';
export { PveServiceError, checkInputLeaves, parseListen, startPve } from './service.js';
export type { PveHandle, StartPveOptions } from './service.js';
export type { CredentialAnswer, EvidenceCollector, IntegrityInput, IntegrityOutput, PveDeviceEntry } from './types.js';
export { appraiseEvidence } from './appraise.js';
export type { Appraisal, CompletionInput, DeviceEvidence } from './appraise.js';
export { appraiseTpmCompletion, appraiseTpmEvidence, completionQualifyingData } from './appraise-tpm.js';
export type { TpmDeviceEvidence, TpmEvidenceAppraisal } from './appraise-tpm.js';
export { approvedSoftware } from './approved.js';
export type { ApprovedSoftware } from './approved.js';
export { netconfEvidenceCollector } from './collector.js';
export type { NetconfCollectorOptions } from './collector.js';
export { startPveNetconf } from './netconf-endpoint.js';
export type { PveNetconfOptions } from './netconf-endpoint.js';
export {
  INPUT_MEMBER, INTEGRITY_REQUEST_PATH, JWKS_PATH, OUTPUT_MEMBER, PVE_MODULE, PVE_NS, RestconfError, YANG_JSON,
  base64ToBase64url, base64urlToBase64, decodeBase64Strict, errorsDocument, statusForTag,
} from './restconf.js';
export type { RestconfErrorEntry, RestconfErrors } from './restconf.js';
export { PveTlsError, loadOrCreatePveTls } from './tls.js';
export type { PveTlsMaterial } from './tls.js';
