/**
 * A task whose callers share runs (group commit): a call while no run is under way starts one; a call while one
 * runs waits for the next run, which every such call shares, since the run under way started before the caller's
 * data was there and may not cover it. Used by the SQLite store's WAL sync barrier and the PVE's record of
 * provided reference values. A failed run rejects the calls it covered; the next run starts all the same.
 */
export class GroupedRun {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly task: () => Promise<void>) {}

  run(): Promise<void> {
    if (this.running === undefined) {
      this.running = this.task().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.next ??= this.running.catch(() => undefined).then(() => {
      this.next = undefined;
      return this.run();
    });
    return this.next;
  }

  /** a run is under way or waiting */
  get busy(): boolean {
    return this.running !== undefined || this.next !== undefined;
  }

  /** resolves when no run is under way or waiting */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.next !== undefined) await (this.next ?? this.running)?.catch(() => undefined);
  }
}
