/**
 * One promise per key while it is pending (issue 15): a call made while `start`'s promise for `key` has not settled
 * gets that promise, not a new one. Nothing is kept once it settles (a failure included): the next call starts anew.
 * Callers who share a run share its answer, which began before the later calls by at most its own time. A leaf: the
 * software image's look-ups (src/file-cache.ts, src/integrity/fetch.ts), the OAM's digests ahead of a rollout
 * (src/oam-plugin/software-fetcher.ts) and the PVE's credential challenges (src/pve/ak-binding.ts) use it.
 */
export class InFlight<V> {
  private readonly pending = new Map<string, Promise<V>>();

  run(key: string, start: () => Promise<V>): Promise<V> {
    const running = this.pending.get(key);
    if (running !== undefined) return running;
    const p = start();
    this.pending.set(key, p);
    const drop = (): void => {
      if (this.pending.get(key) === p) this.pending.delete(key);
    };
    p.then(drop, drop);
    return p;
  }

  /** keys pending */
  get size(): number {
    return this.pending.size;
  }
}
