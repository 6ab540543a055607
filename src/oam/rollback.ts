/**
 * A measure after a mismatch (effect rollback): the H(e)NB is asked to roll back to its previous slot, then the
 * rollback is checked (issue 10 item 5): the device's fresh evidence, collected by the PVE with a fresh nonce,
 * must give the stored RIM (the reference the failed update never replaced) with an affirming verdict. A device
 * still rebooting, or not yet back, is asked again later (doubling delays, within the job's completion timeout).
 * The outcome is recorded (result kind rollback-check) and notified (progress); when the device never shows the
 * stored RIM, an alarm says so.
 */
import { errorCode } from '../errors.js';
import type { EarClaims, EarStatus } from '../tokens/index.js';
import { freshPveNonce, verifiedVerdict } from './nonces.js';
import { pveFailureKind } from './ports.js';
import type { RunnerContext } from './runner-context.js';
import { STEP } from './steps.js';
import type { Job } from './transition.js';

/** one attempt of the check after a rollback: the stored RIM shown by fresh evidence, or why not */
type RollbackEvidence = { ok: true; tim: string; token: string } | { ok: false; reason: string; token?: string };

export async function rollback(ctx: RunnerContext, job: Job): Promise<void> {
  // the job is over: its step signal is aborted already, give the rollback its own bounded time
  let accepted = false;
  await ctx.calls.bounded(job.timeouts.send, 'rollback timed out', async (signal) => {
    try {
      await ctx.o.devices.rollback(job.henbId, job.jobId, signal);
      accepted = true;
      await ctx.o.events.progress(job, STEP.compare, 'measure applied: H(e)NB asked to roll back to its previous slot');
    } catch (err) {
      ctx.log.warn('rollback failed', { jobId: job.jobId, henbId: job.henbId, err });
      await ctx.o.events.progress(job, STEP.compare, `measure failed: rollback not accepted by the H(e)NB (${errorCode(err)})`);
    }
  });
  if (accepted && !ctx.closed()) await checkRollback(ctx, job, 1, ctx.clock.now() + job.timeouts.completion, undefined);
}

/** One attempt of the check; another is planned while attempts and the deadline allow, else the verdict is final. */
async function checkRollback(ctx: RunnerContext, job: Job, attempt: number, deadline: number, last: { reason: string; token?: string } | undefined): Promise<void> {
  if (ctx.closed()) return;
  const attempts = Math.max(1, ctx.o.rollbackCheck?.attempts ?? 6);
  const firstDelay = Math.max(1, ctx.o.rollbackCheck?.firstDelayMs ?? 2000);
  const outcome = await rollbackEvidence(ctx, job).catch((err: unknown): RollbackEvidence => ({ ok: false, reason: `rollback check failed (${errorCode(err)})` }));
  if (ctx.closed()) return;
  if (outcome.ok) {
    await recordRollbackCheck(ctx, job, 'affirming', outcome.token);
    await ctx.o.events.progress(job, STEP.compare, `rollback verified: the H(e)NB's fresh evidence gives the stored RIM ${outcome.tim}`);
    return;
  }
  const delay = firstDelay * 2 ** (attempt - 1);
  if (attempt < attempts && ctx.clock.now() + delay <= deadline) {
    ctx.log.info('rollback not confirmed yet; asking again', { jobId: job.jobId, henbId: job.henbId, attempt, reason: outcome.reason });
    ctx.calls.later(delay, () => { void ctx.jobs.track(checkRollback(ctx, job, attempt + 1, deadline, outcome)); });
    return;
  }
  const why = outcome.reason !== '' ? outcome.reason : last?.reason ?? 'no evidence';
  ctx.log.warn('rollback not confirmed by fresh evidence', { jobId: job.jobId, henbId: job.henbId, attempts: attempt, reason: why });
  await recordRollbackCheck(ctx, job, 'contraindicated', outcome.token ?? last?.token);
  await ctx.o.events.progress(job, STEP.compare, `rollback not verified: ${why}`);
  await ctx.o.events.alarm(job, `H(e)NB ${job.henbId} job ${job.jobId}: the rollback is not confirmed by fresh evidence after ${attempt} attempt(s): ${why}`);
}

/** One attempt: a fresh nonce, the PVE's verdict on fresh evidence, verified; ok when affirming with the stored RIM. */
async function rollbackEvidence(ctx: RunnerContext, job: Job): Promise<RollbackEvidence> {
  const rim = (await ctx.o.store.getHenb(job.henbId))?.rim ?? undefined;
  if (rim === undefined || rim === null) return { ok: false, reason: 'no stored RIM to compare with' };
  const nonce = await freshPveNonce(ctx, job.jobId, job.henbId, ctx.clock.now(), job.timeouts.pve);
  let token: string;
  try {
    token = await ctx.calls.bounded(job.timeouts.pve, 'the PVE did not answer in time',
      async (signal) => (await ctx.o.pve.integrityRequest({ henbId: job.henbId, nonce, jobId: job.jobId }, signal)).token);
  } catch (err) {
    return { ok: false, reason: `no fresh evidence: ${pveFailureKind(err) === 'henb-unreachable' ? 'the H(e)NB is unreachable' : 'the PVE did not answer'} (${errorCode(err)})` };
  }
  let claims: EarClaims;
  try {
    claims = await verifiedVerdict(ctx, token, nonce);
  } catch (err) {
    return { ok: false, reason: `the PVE's verdict did not verify (${errorCode(err)})` };
  }
  if (claims.sub !== job.henbId) return { ok: false, reason: `the PVE's verdict is about ${claims.sub}` };
  const platform = claims.submods.platform ?? Object.values(claims.submods)[0];
  const tim = platform?.['reported-tim'];
  if (claims.ear_status !== 'affirming') {
    return { ok: false, token, reason: `PVE verdict ${claims.ear_status}${platform?.reason !== undefined ? `: ${platform.reason}` : ''}` };
  }
  if (tim !== rim) return { ok: false, token, reason: `the H(e)NB reports TIM ${tim ?? '(none)'}, not the stored RIM ${rim}` };
  return { ok: true, tim, token };
}

async function recordRollbackCheck(ctx: RunnerContext, job: Job, earStatus: EarStatus, token: string | undefined): Promise<void> {
  await ctx.o.store.putResult({ jobId: job.jobId, kind: 'rollback-check', henbId: job.henbId, earStatus, token: token ?? '', createdAt: ctx.clock.now() })
    .catch((err: unknown) => ctx.log.error('rollback check not recorded', { jobId: job.jobId, err }));
}
