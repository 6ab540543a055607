/**
 * Job leases: several instances on one shared store (PostgreSQL) divide the active jobs.
 *
 * Each job has a lease in the store (owner = the runner's instanceId, leaseUntil). New jobs are their creator's;
 * resume() claims (Store.claimJobs) the jobs that are unowned, its own or whose lease expired; every leaseMs/3 the
 * LeaseKeeper renews this instance's leases and claims the jobs of instances that stopped renewing (resumed as
 * resume() does). A job claimed away from a live instance has moved on (its version too): that instance's next
 * transition fails ERR_STORE_CONFLICT and it drops the job (dropIfLost); each renewal also drops the jobs it finds
 * taken (owner or version moved), so that none waits here for an event that would tell. A completion-tim for a job
 * another instance drives takes that job (takeForCompletion) when it awaits its completion. close() releases this
 * instance's jobs.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { errorCode } from '../errors.js';
import type { JobRecord } from '../store/index.js';
import { OamError, notWaiting } from './errors.js';
import type { Live } from './job-queues.js';
import type { DeviceCompletion } from './ports.js';
import type { RunnerContext } from './runner-context.js';
import type { RunnerOptions } from './runner-options.js';
import type { StoredJob } from './stored-job.js';

export const DEFAULT_LEASE_MS = 60_000;
/** the default instanceId on a SQLite store (one OAM instance per database) */
export const SQLITE_INSTANCE_ID = 'local';

/** The instance id and lease length of a runner; ERR_OAM_CONFIG when out of range. */
export function leaseSettings(o: RunnerOptions): { instanceId: string; leaseMs: number } {
  // SQLite is one OAM instance's store: a fixed id, so that a restart after a crash resumes its jobs at once;
  // with a shared store each process is its own instance
  const instanceId = o.instanceId ?? (o.store.kind === 'sqlite' ? SQLITE_INSTANCE_ID : `oam-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`);
  const leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS;
  if (instanceId === '') throw new OamError('ERR_OAM_CONFIG', 'instanceId must not be empty');
  if (!(Number.isFinite(leaseMs) && leaseMs >= 3)) throw new OamError('ERR_OAM_CONFIG', 'leaseMs must be a number of milliseconds (at least 3)');
  return { instanceId, leaseMs };
}

/** How the runner resumes jobs it claimed: a `restart` event each (or the delivery of a final one). */
export type TakeOver = (recs: JobRecord<StoredJob>[], cause?: 'restart' | 'takeover') => Promise<string[]>;

/** Renews this instance's leases every leaseMs/3 and takes over the jobs whose leases expired. */
export class LeaseKeeper {
  private readonly timer: ReturnType<typeof setInterval>;
  private ticking = false;

  constructor(private readonly ctx: RunnerContext, private readonly takeOver: TakeOver) {
    this.timer = setInterval(() => { void this.tick(); }, Math.floor(ctx.leaseMs / 3));
    this.timer.unref();
  }

  /** the jobs this instance may drive now (unowned, its own, or whose lease expired), their leases renewed */
  claim(): Promise<JobRecord<StoredJob>[]> {
    return this.ctx.o.store.claimJobs<StoredJob>(this.ctx.instanceId, this.ctx.leaseMs, this.ctx.clock.now());
  }

  /** close(): no more renewals */
  stop(): void {
    clearInterval(this.timer);
  }

  /** an orderly stop: other instances (or this one restarted) may claim the jobs at once, not after the lease */
  async release(): Promise<void> {
    await this.ctx.o.store.releaseJobs(this.ctx.instanceId).catch((err: unknown) => {
      this.ctx.log.warn('job leases not released; other instances take the jobs when the leases expire', { instanceId: this.ctx.instanceId, err });
    });
  }

  /** Renew this instance's leases, claim the jobs of instances that stopped renewing theirs and resume them. */
  private async tick(): Promise<void> {
    const { ctx } = this;
    if (ctx.closed() || this.ticking) return;
    this.ticking = true;
    try {
      await ctx.jobs.track((async () => {
        // this instance's leases renewed by its heartbeat (one row, whatever the jobs: many may wait for a slot,
        // admission.ts); then only the jobs of others whose leases expired are read, and taken
        const now = ctx.clock.now();
        await ctx.o.store.renewLeases(ctx.instanceId, ctx.leaseMs, now);
        if (ctx.closed()) return;
        this.checkHeld();
        const recs = await ctx.o.store.claimExpiredJobs<StoredJob>(ctx.instanceId, ctx.leaseMs, now);
        if (ctx.closed()) return;
        const taken = await this.takeOver(recs, 'takeover');
        if (taken.length > 0) ctx.log.info('jobs taken over from an instance whose lease expired', { instanceId: ctx.instanceId, jobs: taken });
      })());
    } catch (err) {
      ctx.log.warn('job leases not renewed', { instanceId: ctx.instanceId, err });
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Jobs driven here that another instance took meanwhile (e.g. for its completion-tim): each driven job (at most
   * jobs.max-active) is checked in its queue (after any transition under way) and dropped when its owner or version
   * moved, so that it holds no timer, call or H(e)NB here while it waits for an event that would find out.
   */
  private checkHeld(): void {
    const { ctx } = this;
    for (const [jobId, l] of ctx.jobs.entries()) {
      void ctx.jobs.enqueue(l, async () => {
        if (ctx.jobs.get(jobId) !== l) return;
        const rec = await ctx.o.store.getJob(jobId);
        if (rec === undefined || rec.owner !== ctx.instanceId || rec.version !== l.version) {
          drop(ctx, l, new OamError('ERR_OAM_LEASE_LOST', `job ${jobId} is owned by ${rec?.owner ?? 'nobody'} at version ${rec?.version ?? '-'}`));
        }
      }).catch((err: unknown) => ctx.log.warn('job lease not checked', { jobId, err }));
    }
  }

  /**
   * complete() for a job this instance does not drive: the stored job must be active, of the H(e)NB and awaiting
   * its completion. Takes it only at the version checked (so never a job that moved since), then resumes it here
   * as resume() does (`restart`: keeps waiting, the original deadline, the device watched again).
   */
  async takeForCompletion(c: DeviceCompletion): Promise<Live> {
    const { ctx } = this;
    const rec = await ctx.o.store.getJob<StoredJob>(c.jobId);
    if (rec === undefined) throw new OamError('ERR_OAM_JOB_UNKNOWN', `no job ${c.jobId}`);
    if (rec.data.henbId !== c.henbId) throw new OamError('ERR_OAM_HENB_MISMATCH', `job ${c.jobId} does not belong to H(e)NB ${c.henbId}`);
    if (rec.kind !== 'software-update' || rec.terminal || rec.data.state !== 'awaiting-completion' || ctx.jobs.holder(rec.henbId) !== undefined) {
      throw notWaiting(c.jobId, rec.data.state);
    }
    const taken = await ctx.o.store.takeJob<StoredJob>(c.jobId, ctx.instanceId, ctx.leaseMs, ctx.clock.now(), rec.version);
    if (taken === undefined) throw notWaiting(c.jobId, 'moved on meanwhile');
    if (ctx.closed()) {
      // close() ran while the job was being taken: give it up with the others
      await ctx.o.store.releaseJobs(ctx.instanceId).catch(() => undefined);
      throw new OamError('ERR_OAM_CLOSED', 'OAM runner closed');
    }
    ctx.log.info('job taken over for its completion-tim', { jobId: c.jobId, henbId: c.henbId, instanceId: ctx.instanceId, from: rec.owner });
    await this.takeOver([taken], 'takeover');
    const l = ctx.jobs.get(c.jobId);
    if (l === undefined || l.job.state !== 'awaiting-completion') throw notWaiting(c.jobId, l?.job.state ?? 'not driven here');
    return l;
  }
}

/**
 * A transition refused with ERR_STORE_CONFLICT: another instance moved the job (it claimed it after this
 * instance's lease expired). The job is no longer driven here: its timer and calls stop, the H(e)NB is free
 * in this instance's memory. Returns false for any other error.
 */
export function dropIfLost(ctx: RunnerContext, l: Live, err: unknown): boolean {
  if (errorCode(err) !== 'ERR_STORE_CONFLICT') return false;
  drop(ctx, l, err);
  return true;
}

/** The job is driven by another instance: stop driving it here (timer, calls, memory) and log it. */
export function drop(ctx: RunnerContext, l: Live, err: unknown): void {
  const { jobId, henbId } = l.job;
  l.lost = true;
  if (ctx.jobs.isCurrent(l)) ctx.jobs.remove(jobId, henbId);
  else ctx.jobs.release(henbId, jobId);
  if (l.timer !== undefined) { ctx.clock.clearTimeout(l.timer); delete l.timer; }
  l.step?.abort(() => new OamError('ERR_OAM_LEASE_LOST', `job ${jobId} is driven by another OAM instance`));
  ctx.jobs.abandoned(jobId, new OamError('ERR_OAM_LEASE_LOST', `job ${jobId} is driven by another OAM instance`));
  ctx.log.warn('job moved by another OAM instance (lease lost); no longer driven here', { jobId, henbId, instanceId: ctx.instanceId, err });
}
