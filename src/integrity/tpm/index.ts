// TPM 2.0 evidence (pure: no transport, no TPM access): parsers for TPMS_ATTEST, TPMT_SIGNATURE, TPMT_PUBLIC
// and the TCG crypto-agile event log, a log writer for the device side, and the fail-closed quote appraisal.
export type { ParseResult } from './bytes.js';
export { EV, TPM_ALG, TPM_GENERATED_VALUE, TPM_ST_ATTEST_QUOTE, algName } from './constants.js';
export { parseQuoteAttest } from './attest.js';
export type { ClockInfo, PcrSelection, QuoteAttest } from './attest.js';
export { parseSignature } from './signature.js';
export type { TpmSignature } from './signature.js';
export { parseAkPublic, parsePublic } from './public.js';
export type { TpmPublic } from './public.js';
export { initialPcr, measuredPcrs, parseEventLog, replayPcrs } from './eventlog.js';
export type { EventLog, SpecIdEvent, TcgEvent } from './eventlog.js';
export { encodeEvent2, encodeEventLog, specIdEvent } from './eventlog-writer.js';
export type { EventToWrite } from './eventlog-writer.js';
export { eventComponent, measurementsOf, verifyQuote } from './verify.js';
export type { TpmAppraisal, TpmCheck, TpmQuoteEvidence, TpmVerifyInput } from './verify.js';
export { CredentialError, ekOfCertificateKey, kdfa, kdfe, makeCredential } from './credential.js';
export type { MadeCredential } from './credential.js';
export { verifyEkCertificate } from './ek-cert.js';
export type { EkCertCheck, EkCertInput } from './ek-cert.js';
