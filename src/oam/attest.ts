/**
 * Step 8's appraisal: a completion is believed only once the PVE appraised its evidence (phase post-update: the
 * device's signature with its enrolled key over the job's update nonce, the job, the TIM and the log; the log
 * replays to the TIM) and the OAM verified the PVE's token. Anything else is CompletionRefused, nothing written.
 */
import { timingSafeEqual } from 'node:crypto';
import { errorCode } from '../errors.js';
import type { EarClaims } from '../tokens/index.js';
import { CompletionRefused } from './errors.js';
import type { AttestedCompletion, CompletionEvidence, DeviceCompletion } from './ports.js';
import type { RunnerContext } from './runner-context.js';
import type { Job } from './transition.js';

/** what attest() reads of a job (a stored one too: its tokens play no part) */
export type AttestedJob = Pick<Job, 'jobId' | 'henbId' | 'updateNonce' | 'timeouts'>;

/**
 * Have the PVE appraise a completion and verify its token. Returns what transition() needs to accept the
 * completion; throws CompletionRefused otherwise (nothing is written). The nonce is used up with the transition
 * that applies the completion (persist.ts): only by the instance that applies it, never by one whose transition fails.
 */
export async function attest(ctx: RunnerContext, job: AttestedJob, c: DeviceCompletion): Promise<AttestedCompletion> {
  const { evidence, updateNonce, tim, measurementLog } = checkEvidence(job, c);
  const token = await appraise(ctx, job, c, { evidence, updateNonce, tim, measurementLog });
  let claims: EarClaims;
  try {
    claims = await ctx.o.tokens.verifyPve(token, updateNonce);
  } catch (err) {
    throw new CompletionRefused('ERR_OAM_PVE_RESULT_INVALID', 'pve-result-invalid', `the PVE's appraisal did not verify (${errorCode(err)})`, { cause: err });
  }
  const sub = claims.submods.completion;
  if (claims.sub !== job.henbId || sub === undefined || sub.phase !== 'post-update' || sub['job-id'] !== job.jobId) {
    throw new CompletionRefused('ERR_OAM_PVE_RESULT_INVALID', 'pve-result-invalid', 'the PVE\'s appraisal is not about this job\'s completion');
  }
  if (claims.ear_status !== 'affirming' || sub.ear_status !== 'affirming') {
    throw new CompletionRefused('ERR_OAM_EVIDENCE_INVALID', 'evidence-invalid', `the PVE did not accept the evidence: ${sub.reason ?? claims.ear_status}`);
  }
  if (sub['reported-tim'] !== tim) {
    throw new CompletionRefused('ERR_OAM_EVIDENCE_INVALID', 'evidence-invalid', 'the PVE appraised another TIM than the completion\'s');
  }
  return {
    henbId: job.henbId, jobId: job.jobId, nonce: updateNonce, tim, token,
    format: sub['evidence-format'] === 'tpm2-quote' ? 'tpm2-quote' : 'software-key',
  };
}

interface Appraisable {
  evidence: CompletionEvidence;
  updateNonce: string;
  tim: string;
  measurementLog: NonNullable<DeviceCompletion['measurementLog']>;
}

/** what the PVE needs, present and over this job's nonce, before it is asked */
function checkEvidence(job: AttestedJob, c: DeviceCompletion): Appraisable {
  const ev = c.evidence;
  if (ev === undefined) throw new CompletionRefused('ERR_OAM_EVIDENCE_REQUIRED', 'evidence-required', 'the completion carries no evidence signed by the H(e)NB');
  if (job.updateNonce === undefined) throw new CompletionRefused('ERR_OAM_NONCE_MISMATCH', 'nonce-mismatch', `job ${job.jobId} sent no nonce with its software-update`);
  if (!sameText(ev.nonce, job.updateNonce)) {
    throw new CompletionRefused('ERR_OAM_NONCE_MISMATCH', 'nonce-mismatch', `the evidence is signed over another nonce than job ${job.jobId}'s`);
  }
  if (c.tim === undefined || c.measurementLog === undefined) {
    throw new CompletionRefused('ERR_OAM_EVIDENCE_INVALID', 'evidence-invalid', 'the completion carries no TIM and measurement log to appraise');
  }
  return { evidence: ev, updateNonce: job.updateNonce, tim: c.tim, measurementLog: c.measurementLog };
}

/** the PVE's token on the completion (phase post-update), within the PVE step's timeout */
async function appraise(ctx: RunnerContext, job: AttestedJob, c: DeviceCompletion, a: Appraisable): Promise<string> {
  try {
    return await ctx.calls.bounded(job.timeouts.pve, 'PVE appraisal timed out', async (signal) => (await ctx.o.pve.integrityRequest({
      henbId: job.henbId, jobId: job.jobId, nonce: a.updateNonce,
      completion: {
        status: c.deviceStatus ?? (c.status === 'completed' ? 'completed' : 'install-error'),
        tim: a.tim, measurementLog: a.measurementLog, evidence: a.evidence,
        ...(c.selfCheck !== undefined ? { selfCheck: c.selfCheck } : {}),
        ...(c.softwareVersion !== undefined ? { softwareVersion: c.softwareVersion } : {}),
      },
    }, signal, ctx.clock.now() + job.timeouts.pve)).token);
  } catch (err) {
    throw new CompletionRefused('ERR_OAM_PVE_UNREACHABLE', 'pve-unreachable', `the PVE could not appraise the completion (${errorCode(err)})`, { cause: err });
  }
}

/** constant-time equality of two nonce texts */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
