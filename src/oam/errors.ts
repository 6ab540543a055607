/** The flow's error codes and classes (docs/errors.md lists every code). */
import { HsvError } from '../errors.js';

/** The flow's codes (docs/errors.md). */
export type OamErrorCode =
  /** a job is already running for the H(e)NB */
  | 'ERR_OAM_HENB_BUSY'
  /** completion-tim: no such job / a job of another H(e)NB / a job not waiting for a completion */
  | 'ERR_OAM_JOB_UNKNOWN' | 'ERR_OAM_HENB_MISMATCH' | 'ERR_OAM_JOB_NOT_WAITING'
  /** the runner or the caller's session closed */
  | 'ERR_OAM_CLOSED'
  /** RunnerOptions out of range (instanceId, leaseMs) */
  | 'ERR_OAM_CONFIG'
  /** a PVE result whose nonce was used or unknown / about another H(e)NB */
  | 'ERR_OAM_NONCE' | 'ERR_OAM_SUBJECT'
  /** a step's signal: its timeout fired / the step ended / another instance took the job */
  | 'ERR_OAM_TIMEOUT' | 'ERR_OAM_STEP_ENDED' | 'ERR_OAM_LEASE_LOST'
  /**
   * a completion refused, nothing changed (issue 10): no evidence / the PVE did not accept it / over another nonce
   * than the job's / the job's nonce already used; the PVE could not appraise it / its verdict did not verify
   */
  | 'ERR_OAM_EVIDENCE_REQUIRED' | 'ERR_OAM_EVIDENCE_INVALID' | 'ERR_OAM_NONCE_MISMATCH' | 'ERR_OAM_NONCE_USED'
  | 'ERR_OAM_PVE_UNREACHABLE' | 'ERR_OAM_PVE_RESULT_INVALID';

export class OamError extends HsvError<OamErrorCode> {}

/** the OamError code of an error, or undefined for any other error */
export function oamErrorCode(err: unknown): OamErrorCode | undefined {
  return err instanceof OamError ? err.code : undefined;
}

/** A completion refused before it reached the job: `appTag` is the completion-tim rpc-error's error-app-tag. */
export class CompletionRefused extends OamError {
  constructor(code: OamErrorCode, readonly appTag: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export function notWaiting(jobId: string, state: string): OamError {
  return new OamError('ERR_OAM_JOB_NOT_WAITING', `job ${jobId} is not waiting for a completion (${state})`);
}

/** an error's message for a job's reason: ours as written, anything else never on the wire */
export function messageOf(err: unknown): string {
  return err instanceof HsvError ? err.message : 'unexpected error';
}
