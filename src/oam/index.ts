/**
 * The verified-update flow without a transport: the pure transition table (transition.ts), RIM/TIM
 * arithmetic (measure.ts), the ports the flow drives (ports.ts), the JobRunner that persists each transition
 * and runs its effects (runner.ts and its parts: job-queues, leases, persist, effects, pve-check, attest,
 * rollback, reference-values, outbox, nonces), the result token and per-component results (result-token.ts,
 * component-results.ts) and the result tokens over src/tokens (tokens-adapter.ts); the flow's errors (errors.ts).
 * The NETCONF side (northbound RPCs, notifications) and the composition root live in src/oam-plugin.
 */
export {
  ACTIVE_STATES, TERMINAL_STATES, DEFAULT_TIMEOUTS, JOB_KINDS, STATE_STEP, isTerminal, kindOf, newJob, transition, unattested,
} from './transition.js';
export { STEP } from './steps.js';
export type { Step, StepName } from './steps.js';
export type {
  ActiveState, ResultStatus, JobState, JobKind, Measure, PveFailureCause, StepTimeouts, JobRequest, JobResult, Job,
  JobEvent, EventType, Effect, TransitionOutput,
} from './transition.js';
export { ZERO_DIGEST, isDigest, extendDigest, replayLog, checkReportedLog, rebootRim } from './measure.js';
export type { LogCheck } from './measure.js';
export { PVE_HENB_UNKNOWN, PVE_HENB_UNREACHABLE, deviceRefused, pveFailureKind, systemClock } from './ports.js';
export type {
  PveIntegrityRequest, PveClient, SoftwareUpdateCommand, MeasurementLogEntry, DeviceCompletion, DeviceDriver,
  SoftwareFetcher, TimerHandle, Clock, DeviceDriverErrorCode, PveClientErrorCode, PveFailure, PveFailureKind,
  AttestedCompletion, CompletionEvidence, EvidenceFormat, PostUpdateEvidence, PreUpdateEvidence, SoftwareManifestCheck,
} from './ports.js';
export { OamError, CompletionRefused, oamErrorCode } from './errors.js';
export type { OamErrorCode } from './errors.js';
export { DEFAULT_MAX_ACTIVE_JOBS, JobRunner } from './runner.js';
export { DEFAULT_LEASE_MS, SQLITE_INSTANCE_ID } from './leases.js';
export type { OamEvents, PveEvidenceMode, RunnerOptions, SavedState, StartRequest } from './runner-options.js';
export { finalEarStatus } from './result-token.js';
export type { ResultTokens, ReferenceValuesInput, ReferenceValuesSigner } from './result-token.js';
export { componentResults } from './component-results.js';
export { OAM_ISSUER, NMS_AUDIENCE, PVE_ISSUER, OAM_VERIFIER_ID, createReferenceValuesSigner, createResultTokens } from './tokens-adapter.js';
export type { ResultTokensOptions } from './tokens-adapter.js';
