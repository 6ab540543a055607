/**
 * The jobs this instance drives, in memory: one Live entry per job (its state and store version, its step's timer
 * and calls, its event queue: one event at a time, in order), the H(e)NBs they hold (a fast answer for this
 * instance; the store's one-active-job rule is the one across instances), the check() calls waiting for a job's
 * end, and every promise started for a job (idle() and close() wait for them).
 */
import type { JobRecord } from '../store/index.js';
import type { TimerHandle } from './ports.js';
import type { SavedState } from './runner-options.js';
import type { Job } from './transition.js';

export interface Live {
  job: Job;
  version: number;
  timer?: TimerHandle;
  step?: Step;
  queue: Promise<void>;
  /** set when the job was found driven by another instance and dropped here */
  lost?: boolean;
  /** the software-update call in flight (a device's completion waits for its acknowledgement) */
  sending?: Promise<void>;
  /**
   * the job's saved states (its job events' toState and at) when this instance knows them all (savedFrom), each
   * committed transition appended (moved): the metrics' step durations, without reading the job's events back
   */
  saved?: SavedState[];
}

/**
 * The saved states of a job read back (or just created) at `rec`: known at its first version only, where its one
 * job event is its creation (every saveJobTransition moves the version: the Store contract's `version`); undefined
 * after that.
 */
/**
 * What the runner keeps of a record its transaction wrote: version, state and times. A transaction hands back this,
 * not the record: the record holds the JSON text of the job's data (its copy, parsed only when read), 2-7 KB, which
 * would otherwise live through the group's COMMIT and the sync barrier and be copied by the young generation's
 * collections (issue 15: 5 KB per transition surviving them, the largest such item at 10,000 devices).
 */
export type Written = Pick<JobRecord, 'version' | 'state' | 'createdAt' | 'updatedAt'>;

/** a record's Written part (a new object: nothing of the record is kept) */
export function written(rec: Written): Written {
  return { version: rec.version, state: rec.state, createdAt: rec.createdAt, updatedAt: rec.updatedAt };
}

export function savedFrom(rec: Pick<JobRecord, 'version' | 'state' | 'createdAt'>): SavedState[] | undefined {
  return rec.version === 1 ? [{ toState: rec.state, at: rec.createdAt }] : undefined;
}

/** `l`'s job as a committed transition saved it: the job, its version and (when kept) its saved state */
export function moved(l: Live, job: Job, rec: Pick<JobRecord, 'version' | 'state' | 'updatedAt'>): void {
  l.job = job; // as written (the record's data is a copy of it, parsed only when read)
  l.version = rec.version;
  l.saved?.push({ toState: rec.state, at: rec.updatedAt });
}

/**
 * A step's calls and their signal. Most steps start no call (a notification, a final state), so the signal is made
 * when the first call takes it, and the reason of an abort only when a signal has it: abort() before that remembers
 * how to make the reason, and a signal taken later is made aborted. The first abort wins, as AbortController's.
 * (issue 15: an AbortController, its signal and an OamError with its stack per step cost the OAM ~1 s at 10,000
 * devices.)
 */
export class Step {
  private controller: AbortController | undefined;
  private why: (() => unknown) | undefined;

  /** the signal of the step's calls, the same one for each (aborted already when the step has ended) */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.why !== undefined) this.controller.abort(this.why());
    }
    return this.controller.signal;
  }

  /** the step ends: its signal aborts with `reason()`, made once and only if a call has taken the signal (or takes it) */
  abort(reason: () => unknown): void {
    if (this.why !== undefined) return;
    this.why = reason;
    this.controller?.abort(reason());
  }
}

interface Waiter { resolve(job: Job): void; reject(err: unknown): void }

export class JobQueues {
  private readonly live = new Map<string, Live>();
  private readonly busy = new Map<string, string>(); // henbId -> active jobId
  private readonly pending = new Set<Promise<unknown>>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly freeWaiters = new Map<string, Array<() => void>>(); // henbId -> whenFree() callers

  /** `closed()`: once true, queued work is skipped; `removed()`: a job stopped being driven here (a slot is free) */
  constructor(private readonly closed: () => boolean, private readonly removed: () => void = () => undefined) {}

  /** how many jobs are driven here */
  get size(): number {
    return this.live.size;
  }

  get(jobId: string): Live | undefined {
    return this.live.get(jobId);
  }

  has(jobId: string): boolean {
    return this.live.has(jobId);
  }

  all(): IterableIterator<Live> {
    return this.live.values();
  }

  entries(): IterableIterator<[string, Live]> {
    return this.live.entries();
  }

  /** whether `l` is still the entry this instance drives for its job */
  isCurrent(l: Live): boolean {
    return this.live.get(l.job.jobId) === l;
  }

  /** drive a job here from its stored version (with its saved states when they are known: savedFrom) */
  add(job: Job, version: number, saved?: SavedState[]): Live {
    const l: Live = { job, version, queue: Promise.resolve(), ...(saved !== undefined ? { saved } : {}) };
    this.live.set(job.jobId, l);
    return l;
  }

  /** stop driving a job: its entry goes, and its H(e)NB when the job held it */
  remove(jobId: string, henbId: string): void {
    const had = this.live.delete(jobId);
    this.release(henbId, jobId);
    if (had) this.removed();
  }

  /** the job holding an H(e)NB on this instance, if any */
  holder(henbId: string): string | undefined {
    return this.busy.get(henbId);
  }

  hold(henbId: string, jobId: string): void {
    this.busy.set(henbId, jobId);
  }

  /** free an H(e)NB if `jobId` holds it (and tell whoever waits for it to be free) */
  release(henbId: string, jobId: string): void {
    if (this.busy.get(henbId) !== jobId) return;
    this.busy.delete(henbId);
    const waiting = this.freeWaiters.get(henbId);
    if (waiting === undefined) return;
    this.freeWaiters.delete(henbId);
    for (const w of waiting) w();
  }

  /**
   * Resolves true once nothing holds the H(e)NB (at once when free), false after `ms` (the timer is unref'd).
   * Whoever resumes first may hold it again: a caller checks `holder()` after.
   */
  whenFree(henbId: string, ms: number): Promise<boolean> {
    if (!this.busy.has(henbId)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const list = this.freeWaiters.get(henbId) ?? [];
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const left = (this.freeWaiters.get(henbId) ?? []).filter((w) => w !== done);
        if (left.length > 0) this.freeWaiters.set(henbId, left);
        else this.freeWaiters.delete(henbId);
        resolve(false);
      }, ms);
      timer.unref();
      list.push(done);
      this.freeWaiters.set(henbId, list);
    });
  }

  /** Queue work for a job: one at a time, in order; skipped once the runner closed. */
  enqueue(l: Live, fn: () => Promise<void>): Promise<void> {
    const run = l.queue.then(() => (this.closed() ? undefined : fn()));
    l.queue = run.catch(() => undefined);
    return this.track(run);
  }

  /** remember a promise until it settles (idle(), close()) */
  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.then(() => this.pending.delete(p), () => this.pending.delete(p));
    return p;
  }

  /** Wait until every promise tracked so far, and any they started, has settled. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** wait once for the promises tracked so far */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  /** a promise of the job's end (its final, delivered state); the rejection is handled if nobody awaits it */
  awaitEnd(jobId: string): Promise<Job> {
    const ended = new Promise<Job>((resolve, reject) => this.waiters.set(jobId, { resolve, reject }));
    ended.catch(() => undefined);
    return ended;
  }

  ended(jobId: string, job: Job): void {
    this.waiters.get(jobId)?.resolve(job);
    this.waiters.delete(jobId);
  }

  /** no job started after all: its waiter goes, unanswered */
  forgetWaiter(jobId: string): void {
    this.waiters.delete(jobId);
  }

  /** the job will not end here: its waiter (if any) rejects with `err` */
  abandoned(jobId: string, err: unknown): void {
    this.waiters.get(jobId)?.reject(err);
    this.waiters.delete(jobId);
  }

  /** close(): every waiter rejects with `err` */
  rejectWaiters(err: unknown): void {
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
  }

  /** close(): the entries and held H(e)NBs go (the jobs stay in the store) */
  forgetAll(): void {
    this.live.clear();
    this.busy.clear();
  }
}
