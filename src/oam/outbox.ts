/**
 * A final job's outbox: the effects of its last transition that reach the world (notifications, alarm, rollback),
 * stored with the final state in one transaction and performed afterwards; the job is marked terminal (and its
 * H(e)NB free) once they are done. After a crash resume() delivers the outbox again: notifications may repeat,
 * a rollback is never asked twice (rollbackSent is saved before it is asked).
 */
import { perform } from './effects.js';
import { Step } from './job-queues.js';
import type { Live } from './job-queues.js';
import { dropIfLost } from './leases.js';
import { save } from './persist.js';
import type { RunnerContext } from './runner-context.js';
import type { Effect, Job } from './transition.js';

/** what a final state keeps to perform after it is stored (the writes are done in its transaction) */
export function outboxOf(effects: Effect[]): Effect[] {
  return effects.filter((e) => e.type !== 'store-rim' && e.type !== 'set-henb-state');
}

/** Perform a final job's outbox, then mark the job terminal; a job another instance took is dropped. */
export async function deliver(ctx: RunnerContext, l: Live): Promise<void> {
  try {
    await deliverOutbox(ctx, l);
  } catch (err) {
    if (!dropIfLost(ctx, l, err)) throw err;
  }
}

async function deliverOutbox(ctx: RunnerContext, l: Live): Promise<void> {
  if (!ctx.jobs.isCurrent(l)) return;
  const outbox = l.job.outbox ?? [];
  for (const e of outbox) {
    if (e.type === 'rollback') {
      if (l.job.rollbackSent === true) {
        ctx.log.warn('rollback may have been asked before a restart; not asked again', { jobId: l.job.jobId });
        continue;
      }
      await save(ctx.o.store, l, { ...l.job, rollbackSent: true }, false, 'rollback requested', ctx.clock.now());
    }
    await perform(ctx, l, l.job, e, l.step ?? new Step());
  }
  const done: Job = { ...l.job };
  delete done.outbox;
  await save(ctx.o.store, l, done, true, 'result delivered', ctx.clock.now());
  ctx.jobs.remove(done.jobId, done.henbId);
  ctx.jobs.ended(done.jobId, l.job);
}
