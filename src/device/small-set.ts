/**
 * A set of strings for the per-device state of the driver (DeviceLink: jobs awaited, held, rolling back, delivered),
 * in insertion order, that costs nothing while empty and one reference while it holds one id (the usual case: a
 * device has one job at a time). A Set costs ~150 bytes even when empty, and a DeviceLink has four for every
 * device in the inventory: ~60 MB at 100,000 devices (issue 15, memory that does not grow with the fleet).
 */
export class SmallSet implements Iterable<string> {
  /** undefined: empty; a string: that one id; a Set: two or more */
  private v: string | Set<string> | undefined;

  get size(): number {
    return this.v === undefined ? 0 : typeof this.v === 'string' ? 1 : this.v.size;
  }

  has(id: string): boolean {
    return typeof this.v === 'string' ? this.v === id : this.v !== undefined && this.v.has(id);
  }

  add(id: string): this {
    if (this.v === undefined) this.v = id;
    else if (typeof this.v === 'string') {
      if (this.v !== id) this.v = new Set([this.v, id]);
    } else this.v.add(id);
    return this;
  }

  /** true when `id` was in the set */
  delete(id: string): boolean {
    if (typeof this.v === 'string') {
      if (this.v !== id) return false;
      this.v = undefined;
      return true;
    }
    if (this.v === undefined || !this.v.delete(id)) return false;
    if (this.v.size === 1) this.v = this.v.values().next().value as string;
    return true;
  }

  /** the id added first of those still in the set */
  oldest(): string | undefined {
    return typeof this.v === 'string' ? this.v : this.v?.values().next().value;
  }

  *[Symbol.iterator](): Iterator<string> {
    if (typeof this.v === 'string') yield this.v;
    else if (this.v !== undefined) yield* this.v;
  }
}
