/**
 * Bounded admission of jobs (issue 15: memory that does not grow with the number of submitted jobs).
 *
 * A job driven by the runner holds a Live entry, its step's calls (a PVE request with its socket queue entry,
 * promises, timers, abort signals) and, later, a device session: about 10-20 KiB of heap each, for as long as
 * it runs. The runner therefore drives at most `max` jobs at once; a job submitted beyond that is created in the
 * store (state `created`, its H(e)NB held, its lease renewed with the others) and waits here as a compact record
 * (job id, H(e)NB id: two strings), in submission order, until a driven job ends. Integrity checks (an RPC waits
 * for their answer) go before waiting updates.
 *
 * The slots: `live` (the runner's Live entries, jobs.size) plus `reserved` (jobs being started or admitted, between
 * the decision and their Live entry). Jobs taken over after a restart in a later state than `created` are driven
 * at once whatever the bound (they were admitted before); they count towards it.
 */

/** a job that waits for a slot: what its admission reads back from the store */
export interface WaitingJob {
  readonly jobId: string;
  readonly henbId: string;
}

export class Admission {
  /** waiting jobs, oldest first from `head` (a queue without Array.shift's copying) */
  private queue: WaitingJob[] = [];
  private head = 0;
  private reserved = 0;

  /**
   * `max`: jobs driven at once (at least 1); `live()`: the number of Live entries the runner has now
   */
  constructor(readonly max: number, private readonly live: () => number) {
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`max active jobs must be an integer >= 1, got ${max}`);
  }

  /** jobs waiting for a slot */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** slots in use: Live entries and starts under way */
  get active(): number {
    return this.live() + this.reserved;
  }

  /**
   * Take a slot for a new job now, if one is free and (unless `first`) no earlier job waits for one. The caller
   * must call `settled()` once the job has its Live entry or did not start.
   */
  tryReserve(first = false): boolean {
    if (this.active >= this.max || (!first && this.waiting > 0)) return false;
    this.reserved++;
    return true;
  }

  /** a reserved slot is now a Live entry, or free again */
  settled(): void {
    if (this.reserved > 0) this.reserved--;
  }

  /** wait for a slot: at the end (updates), or before every waiting update (`first`: integrity checks) */
  enqueue(w: WaitingJob, first = false): void {
    if (!first) {
      this.queue.push({ jobId: w.jobId, henbId: w.henbId });
      return;
    }
    if (this.head > 0) this.queue[--this.head] = { jobId: w.jobId, henbId: w.henbId };
    else this.queue.unshift({ jobId: w.jobId, henbId: w.henbId });
  }

  /** the next waiting job with a slot reserved for it (settled() when admitted or given up), or undefined */
  next(): WaitingJob | undefined {
    if (this.active >= this.max || this.waiting === 0) return undefined;
    const w = this.queue[this.head]!;
    this.queue[this.head++] = undefined as unknown as WaitingJob;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.reserved++;
    return w;
  }

  /** close(): nobody waits any more (the jobs stay in the store) */
  clear(): WaitingJob[] {
    const all = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    return all;
  }
}
