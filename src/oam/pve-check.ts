/**
 * Steps 2-4 as the runner performs them (effect request-pve): the integrity-request to the PVE with the job's
 * nonce (pve.evidence relay: with the evidence the OAM collected from the H(e)NB over that nonce first), the PVE's
 * signed verdict verified (and the nonce used up), and the outcome fed back to the job as an event (pve-result or
 * pve-error with its cause).
 */
import { errorCode } from '../errors.js';
import type { EarClaims } from '../tokens/index.js';
import { OamError, messageOf } from './errors.js';
import type { OamErrorCode } from './errors.js';
import { verifiedVerdict } from './nonces.js';
import { pveFailureKind } from './ports.js';
import type { PreUpdateEvidence } from './ports.js';
import type { RunnerContext } from './runner-context.js';
import type { JobEvent } from './transition.js';

type PveError = Extract<JobEvent, { type: 'pve-error' }>;
type PveResult = Extract<JobEvent, { type: 'pve-result' }>;

export async function askPve(ctx: RunnerContext, jobId: string, henbId: string, nonce: string, signal: AbortSignal, deadline: number | undefined): Promise<void> {
  let evidence: PreUpdateEvidence | undefined;
  if (ctx.o.pveEvidence === 'relay') {
    evidence = await measured(ctx, jobId, henbId, nonce, signal, deadline);
    if (evidence === undefined) return;
  }
  let token: string;
  try {
    token = (await ctx.o.pve.integrityRequest({ henbId, nonce, jobId, ...(evidence !== undefined ? { evidence } : {}) }, signal, deadline)).token;
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
 * Step 3 relayed (pve.evidence: relay, the background-check model): the device's integrity-measurement with the job's
 * PVE nonce, on the job's device session (held for its software-update). undefined when there is none: then the job
 * has its pve-error already (the device not reached or in error: the cause and outcome of a PVE that reports the
 * H(e)NB unreachable), or the step was aborted.
 */
async function measured(ctx: RunnerContext, jobId: string, henbId: string, nonce: string, signal: AbortSignal, deadline: number | undefined): Promise<PreUpdateEvidence | undefined> {
  const measure = ctx.o.devices.integrityMeasurement?.bind(ctx.o.devices);
  try {
    if (measure === undefined) throw new OamError('ERR_OAM_CONFIG', 'pve.evidence relay needs a device driver with integrity-measurement');
    return await measure(henbId, jobId, nonce, signal, deadline);
  } catch (err) {
    if (signal.aborted) return undefined;
    const code = errorCode(err);
    await ctx.dispatch(jobId, {
      type: 'pve-error', at: ctx.clock.now(), timedOut: true, cause: { kind: 'henb-unreachable', code },
      reason: `no evidence collected for the PVE: H(e)NB unreachable (${code}): ${messageOf(err)}`,
    });
    return undefined;
  }
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
