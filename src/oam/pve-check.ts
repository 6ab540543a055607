/**
 * Steps 2-4 as the runner performs them (effect request-pve): the integrity-request to the PVE with the job's
 * nonce, the PVE's signed verdict verified (and the nonce used up), and the outcome fed back to the job as an
 * event (pve-result or pve-error with its cause).
 */
import { errorCode } from '../errors.js';
import type { EarClaims } from '../tokens/index.js';
import { messageOf } from './errors.js';
import type { OamErrorCode } from './errors.js';
import { verifiedVerdict } from './nonces.js';
import { pveFailureKind } from './ports.js';
import type { RunnerContext } from './runner-context.js';
import type { JobEvent } from './transition.js';

type PveError = Extract<JobEvent, { type: 'pve-error' }>;
type PveResult = Extract<JobEvent, { type: 'pve-result' }>;

export async function askPve(ctx: RunnerContext, jobId: string, henbId: string, nonce: string, signal: AbortSignal, deadline: number | undefined): Promise<void> {
  let token: string;
  try {
    token = (await ctx.o.pve.integrityRequest({ henbId, nonce, jobId }, signal, deadline)).token;
  } catch (err) {
    if (signal.aborted) return; // our own timeout or a newer step: the timeout event speaks
    // the PVE answered: it is reachable, but the H(e)NB is not in its devices file
    if (pveFailureKind(err) === 'henb-unknown') ctx.log.warn('the PVE does not know the H(e)NB', { jobId, henbId, code: errorCode(err) });
    await ctx.dispatch(jobId, pveFailure(err, henbId, ctx.clock.now()));
    return;
  }
  if (signal.aborted) return;
  let claims: EarClaims;
  try {
    claims = await verifiedVerdict(ctx, token, nonce);
  } catch (err) {
    if (signal.aborted) return;
    await ctx.dispatch(jobId, {
      type: 'pve-error', at: ctx.clock.now(),
      reason: `PVE result did not verify (${errorCode(err)})`, cause: { kind: 'pve-result-invalid', code: errorCode(err) },
    });
    return;
  }
  if (claims.sub !== henbId) {
    await ctx.dispatch(jobId, {
      type: 'pve-error', at: ctx.clock.now(), reason: `PVE result is about ${claims.sub}, not ${henbId}`,
      cause: { kind: 'pve-result-invalid', code: 'ERR_OAM_SUBJECT' satisfies OamErrorCode },
    });
    return;
  }
  await ctx.dispatch(jobId, verdictEvent(claims, token, ctx.clock.now()));
}

/**
 * The pve-error of a request that got no verdict: the H(e)NB unknown to the PVE; the PVE could not reach the
 * H(e)NB (the device did not answer in time: status timeout); or the PVE unreachable or in error.
 */
export function pveFailure(err: unknown, henbId: string, at: number): PveError {
  const code = errorCode(err);
  const kind = pveFailureKind(err);
  if (kind === 'henb-unknown') {
    return {
      type: 'pve-error', at, cause: { kind: 'henb-unknown-to-pve', code },
      reason: `the PVE does not know H(e)NB ${henbId} (${code}); add it to the PVE's devices file`,
    };
  }
  const deviceUnreachable = kind === 'henb-unreachable';
  return {
    type: 'pve-error', at, timedOut: kind !== 'other',
    cause: { kind: deviceUnreachable ? 'henb-unreachable' : 'pve-unreachable', code },
    reason: deviceUnreachable
      ? `the PVE could not collect evidence: H(e)NB unreachable (${code}): ${messageOf(err)}`
      : `PVE unreachable or in error (${code}): ${messageOf(err)}`,
  };
}

/** The pve-result of a verified verdict: its status and what the platform submodule attests. */
export function verdictEvent(claims: EarClaims, token: string, at: number): PveResult {
  const platform = claims.submods.platform ?? Object.values(claims.submods)[0];
  const attested = platform?.['reported-tim'];
  const version = platform?.['software-version'];
  const attestedLog = platform?.['measurement-log'];
  return {
    type: 'pve-result', at, earStatus: claims.ear_status, token,
    ...(attested !== undefined ? { attestedTim: attested } : {}),
    ...(version !== undefined ? { attestedVersion: version } : {}),
    ...(platform?.reason !== undefined ? { verdictReason: platform.reason } : {}),
    ...(Array.isArray(attestedLog) && attestedLog.length > 0 ? { attestedLog } : {}),
  };
}
