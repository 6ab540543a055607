/**
 * One attempt (open a session, wait for a reply) settled once: by its work (`succeed`), a failure (`fail`), its
 * time limit or the caller's signal, whichever comes first. Every way out clears the timer and the abort
 * listener and runs the `onSettle` clean-ups; a failure also runs the `onFail` ones (what the attempt had
 * opened). Later calls are no-ops, so the work may race its limit freely.
 */
export class Bounded<T> {
  readonly promise: Promise<T>;
  private resolve!: (v: T) => void;
  private reject!: (e: Error) => void;
  private done = false;
  private readonly timer: ReturnType<typeof setTimeout>;
  private readonly onAbort: () => void;
  private readonly settles: Array<() => void> = [];
  private readonly fails: Array<() => void> = [];

  constructor(private readonly o: { timeoutMs: number; signal?: AbortSignal | undefined; timedOut: () => Error; aborted: () => Error }) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.onAbort = () => this.fail(o.aborted());
    o.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.timer = setTimeout(() => this.fail(o.timedOut()), o.timeoutMs);
  }

  get settled(): boolean {
    return this.done;
  }

  /** run `fn` when the attempt settles either way */
  onSettle(fn: () => void): void {
    this.settles.push(fn);
  }

  /** run `fn` when the attempt fails (after the onSettle clean-ups) */
  onFail(fn: () => void): void {
    this.fails.push(fn);
  }

  /** resolve with `value`; false (and nothing done) when already settled */
  succeed(value: T): boolean {
    if (!this.settle()) return false;
    this.resolve(value);
    return true;
  }

  fail(e: Error): void {
    if (!this.settle()) return;
    for (const fn of this.fails) fn();
    this.reject(e);
  }

  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    clearTimeout(this.timer);
    this.o.signal?.removeEventListener('abort', this.onAbort);
    for (const fn of this.settles) fn();
    return true;
  }
}
