/**
 * The effects transition() asks for, performed with the runner's ports. Writes (store-rim, set-henb-state) were
 * done in the transition's transaction already (persist.ts); notifications are awaited; calls to the PVE, the
 * software server and the device run in the background with the step's signal and report back to the job as
 * events (dispatch); a rollback runs on its own time (the job is over).
 */
import { errorCode } from '../errors.js';
import { messageOf } from './errors.js';
import type { Live, Step } from './job-queues.js';
import { freshUpdateNonce } from './nonces.js';
import { deviceRefused } from './ports.js';
import { askPve } from './pve-check.js';
import { provideReferenceValues } from './reference-values.js';
import { rollback } from './rollback.js';
import type { RunnerContext } from './runner-context.js';
import type { Effect, Job } from './transition.js';

/** one effect of the job's step `step` (a call to the PVE, the software server or the device takes its signal) */
export async function perform(ctx: RunnerContext, l: Live, job: Job, e: Effect, step: Step): Promise<void> {
  const ev = ctx.o.events;
  const track = <T>(p: Promise<T>): Promise<T> => ctx.jobs.track(p);
  try {
    switch (e.type) {
      case 'store-rim':
      case 'set-henb-state':
        return; // done in the transaction
      case 'emit-progress':
        await ev.progress(job, e.step, e.text);
        return;
      case 'emit-result':
        await ev.result(job, l.saved);
        return;
      case 'raise-alarm':
        await ev.alarm(job, e.text);
        return;
      case 'request-pve':
        void track(askPve(ctx, job.jobId, e.henbId, e.nonce, step.signal, job.deadline));
        return;
      case 'fetch-software':
        void track(fetchSoftware(ctx, job.jobId, e.uri, step.signal));
        return;
      case 'send-update':
        l.sending = track(sendUpdate(ctx, job.jobId, e, step.signal, job.deadline));
        return;
      case 'rollback':
        void track(rollback(ctx, job));
        return;
      case 'provide-reference-values':
        // awaited: the result is notified after the PVE has the values (an integrity check right after affirms)
        await track(provideReferenceValues(ctx, job, e));
        return;
      case 'watch-device':
        watchDevice(ctx, e, step);
        return;
    }
  } catch (err) {
    ctx.log.error('effect failed', { jobId: l.job.jobId, effect: e.type, err });
  }
}

/**
 * Step 5: the software's digest (its RIM); with the policy require-signed-software its vendor-signed manifest is
 * checked first. Then the completion's nonce is stored and the job gets the digest (software-digest) or the reason
 * it has none (fetch-error).
 */
async function fetchSoftware(ctx: RunnerContext, jobId: string, uri: string, signal: AbortSignal): Promise<void> {
  try {
    const d = await ctx.o.fetcher.fetchAndDigest(uri, signal);
    if (signal.aborted) return;
    const job = ctx.jobs.get(jobId)?.job;
    if (job === undefined) return;
    if (ctx.o.softwareManifest !== undefined) {
      try {
        await ctx.o.softwareManifest.check({
          uri, sha256: d.sha256, component: job.updatedComponent, ...(job.request.version !== undefined ? { version: job.request.version } : {}),
        }, signal);
      } catch (err) {
        if (signal.aborted) return;
        await ctx.dispatch(jobId, { type: 'fetch-error', at: ctx.clock.now(), reason: `${messageOf(err)} (${errorCode(err)})`, manifest: true });
        return;
      }
      if (signal.aborted) return;
    }
    const updateNonce = await freshUpdateNonce(ctx, job);
    await ctx.dispatch(jobId, { type: 'software-digest', at: ctx.clock.now(), sha256: d.sha256, size: d.size, updateNonce });
  } catch (err) {
    if (signal.aborted) return;
    await ctx.dispatch(jobId, { type: 'fetch-error', at: ctx.clock.now(), reason: `${messageOf(err)} (${errorCode(err)})` });
  }
}

/** Step 6: the software-update to the H(e)NB; its acknowledgement or refusal goes back to the job. */
async function sendUpdate(ctx: RunnerContext, jobId: string, e: Extract<Effect, { type: 'send-update' }>, signal: AbortSignal, deadline: number | undefined): Promise<void> {
  try {
    await ctx.o.devices.softwareUpdate(e.henbId, e.command, signal, deadline);
    if (signal.aborted) return;
    await ctx.dispatch(jobId, { type: 'device-accepted', at: ctx.clock.now() });
  } catch (err) {
    if (signal.aborted) return;
    await ctx.dispatch(jobId, {
      type: 'device-error', at: ctx.clock.now(), reason: `${messageOf(err)} (${errorCode(err)})`,
      refused: deviceRefused(err),
    });
  }
}

/** After a restart: the device is watched again for the completion of a job that waits for it (if it can be). */
function watchDevice(ctx: RunnerContext, e: Extract<Effect, { type: 'watch-device' }>, step: Step): void {
  if (!ctx.o.devices.resume) return;
  const signal = step.signal;
  const resume = ctx.o.devices.resume.bind(ctx.o.devices);
  void ctx.jobs.track(resume(e.henbId, e.jobId, e.since, signal).catch((err: unknown) => {
    if (!signal.aborted) ctx.log.warn('device not watched after restart; completion-tim RPC or timeout', { jobId: e.jobId, err });
  }));
}
