/**
 * What the runner's parts share (runner.ts builds it): the options and ports, the jobs driven here, the calls
 * that outlive a job's step, and the way back into a job's queue (dispatch).
 */
import type { Logger } from '../log/logger.js';
import { OamError } from './errors.js';
import type { JobQueues } from './job-queues.js';
import type { Clock, TimerHandle } from './ports.js';
import type { RunnerOptions } from './runner-options.js';
import type { JobEvent } from './transition.js';

export interface RunnerContext {
  readonly o: RunnerOptions;
  readonly clock: Clock;
  readonly log: Logger;
  /** the owner of this instance's job leases */
  readonly instanceId: string;
  readonly leaseMs: number;
  readonly jobs: JobQueues;
  readonly calls: DetachedCalls;
  /** true once close() began */
  closed(): boolean;
  /** queue an event for a job driven here (ignored for any other job) */
  dispatch(jobId: string, event: JobEvent): Promise<void>;
}

/**
 * Calls that outlive their job's step (an appraisal, reference values, a rollback and its checks), each with its
 * own time limit, and the timers of later attempts: all of them stop at close().
 */
export class DetachedCalls {
  private readonly aborts = new Set<AbortController>();
  private readonly timers = new Set<TimerHandle>();

  constructor(private readonly clock: Clock) {}

  /** run `fn` with a signal that aborts after `ms` (ERR_OAM_TIMEOUT with `timeoutMessage`) or at close() */
  async bounded<T>(ms: number, timeoutMessage: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    const t = this.clock.setTimeout(() => ac.abort(new OamError('ERR_OAM_TIMEOUT', timeoutMessage)), ms);
    this.aborts.add(ac);
    try {
      return await fn(ac.signal);
    } finally {
      this.clock.clearTimeout(t);
      this.aborts.delete(ac);
    }
  }

  /** run `fn` after `ms`, unless close() came first */
  later(ms: number, fn: () => void): void {
    const t = this.clock.setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** abort every call with `err`, clear every timer */
  stop(err: unknown): void {
    for (const ac of this.aborts) ac.abort(err);
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
  }
}
