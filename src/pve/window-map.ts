/**
 * A map whose entries live for one window after they were set, at most `max` of them (the oldest forgotten first):
 * memory that grows neither with time nor with a flood. One window for all, so insertion order is expiry order and
 * expiring stops at the first live entry. The PVE's memories of relayed nonces (nonce-memory.ts) and of recent
 * request outcomes (request-outcomes.ts) are both this.
 */
export class WindowMap<V> {
  private readonly entries = new Map<string, V>();

  /** `what` names the user in a bad-options error; `untilOf`: when an entry's value says it expires (epoch ms) */
  constructor(what: string, windowMs: number, private readonly max: number, private readonly untilOf: (v: V) => number) {
    if (!(windowMs > 0) || !(Number.isInteger(max) && max >= 1)) throw new RangeError(`${what}: windowMs > 0 and an integer max >= 1`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** the live entries, oldest first (read only) */
  get live(): ReadonlyMap<string, V> {
    return this.entries;
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** set `key` as the newest entry; the oldest is forgotten beyond `max` */
  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** forget the entries expired at `t` */
  expire(t: number): void {
    for (const [k, v] of this.entries) {
      if (this.untilOf(v) > t) return;
      this.entries.delete(k);
    }
  }
}
