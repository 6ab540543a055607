/**
 * Step 9 after a verified update, the OAM as Reference Value Provider (effect provide-reference-values): sign the
 * new reference values and hand them to the PVE, within the PVE step's timeout. A PVE client that signs them itself
 * (signAndProvideReferenceValues: with the values of other H(e)NBs in one list statement under load, issue 15) is
 * given them unsigned; otherwise the tokens port signs them and provideReferenceValues hands over the statement. A failure does not change the
 * verified result; it is audited, logged, told in a progress notification and raised as an alarm (the PVE's next
 * appraisal of the H(e)NB may not affirm).
 */
import { errorCode } from '../errors.js';
import type { ReferenceValuesInput } from './result-token.js';
import type { RunnerContext } from './runner-context.js';
import { STEP } from './steps.js';
import type { Effect, Job } from './transition.js';

type Provide = Extract<Effect, { type: 'provide-reference-values' }>;

export async function provideReferenceValues(ctx: RunnerContext, job: Job, e: Provide): Promise<void> {
  const send = sender(ctx);
  if (send === undefined) {
    ctx.log.debug('reference values not provided: no signer or PVE operation configured', { jobId: job.jobId });
    return;
  }
  const what = e.values.map((v) => `${v.component}${v.version !== undefined ? ` ${v.version}` : ''}`).join(', ');
  await ctx.calls.bounded(job.timeouts.pve, 'providing the reference values timed out', async (signal) => {
    try {
      await send({ henbId: e.henbId, jobId: e.jobId, values: e.values }, signal);
      await audit(ctx, job, e, { accepted: true });
      ctx.log.info('reference values provided to the PVE', { jobId: job.jobId, henbId: job.henbId, values: what });
      await ctx.o.events.progress(job, STEP.compare, `new reference values provided to the PVE (${what})`);
    } catch (err) {
      if (ctx.closed()) return;
      const code = errorCode(err);
      await audit(ctx, job, e, { accepted: false, code });
      ctx.log.warn('reference values not provided to the PVE', { jobId: job.jobId, henbId: job.henbId, code, err });
      await ctx.o.events.progress(job, STEP.compare, `new reference values not provided to the PVE (${code})`);
      await ctx.o.events.alarm(job, `the PVE did not take the reference values of H(e)NB ${job.henbId} after job ${job.jobId} (${code}): `
        + 'its next integrity check may not affirm the verified software');
    }
  });
}

/** how the values reach the PVE: signed by its client, or signed here and handed over; undefined when neither can */
function sender(ctx: RunnerContext): ((values: ReferenceValuesInput, signal: AbortSignal) => Promise<void>) | undefined {
  const { pve, tokens } = ctx.o;
  if (pve.signAndProvideReferenceValues !== undefined) return (values, signal) => pve.signAndProvideReferenceValues!(values, signal);
  const sign = tokens.signReferenceValues?.bind(tokens);
  const provide = pve.provideReferenceValues?.bind(pve);
  if (sign === undefined || provide === undefined) return undefined;
  return async (values, signal) => provide(await sign(values), signal);
}

/** the audit log (src/store/audit.ts): which reference values the OAM handed the PVE, or tried to */
function audit(ctx: RunnerContext, job: Job, e: Provide, outcome: Record<string, unknown>): Promise<void> {
  return ctx.o.store.appendAudit({
    actor: 'system', action: 'reference-values-provided', object: `henb/${e.henbId}`,
    details: { jobId: e.jobId, values: e.values, ...outcome },
  }).then(() => undefined, (err: unknown) => ctx.log.error('audit record not written', { jobId: job.jobId, err }));
}
