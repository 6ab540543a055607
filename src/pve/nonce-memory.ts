/**
 * The nonces of relayed evidence the PVE has appraised (NonceMemory): in the background-check model (RFC 9334) the
 * requester chooses the nonce the H(e)NB signed over, so the PVE refuses a nonce-value it has seen already for that
 * H(e)NB (a replay of a request, or of evidence, to the PVE). Remembered for a window (default one hour), at most
 * `max` of them (the oldest forgotten first): memory that does not grow with time. A nonce is remembered when its
 * request is accepted for appraisal, before anything else is done with it, so that two concurrent requests with one
 * nonce cannot both be appraised. The requester's own rules (a nonce per job, single use, the token's eat_nonce
 * checked against it) stay the main defence; this is the PVE's.
 */

export interface NonceMemoryOptions {
  /** how long a nonce is remembered, ms */
  windowMs: number;
  /** the most nonces remembered */
  max: number;
  now?: () => number;
}

export class NonceMemory {
  /** henb-id NUL nonce -> until when it is remembered; insertion order is expiry order (one window for all) */
  private readonly seen = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly o: NonceMemoryOptions) {
    if (!(o.windowMs > 0) || !(Number.isInteger(o.max) && o.max >= 1)) throw new RangeError('NonceMemory: windowMs > 0 and an integer max >= 1');
    this.now = o.now ?? Date.now;
  }

  /** how many nonces are remembered now */
  get size(): number {
    return this.seen.size;
  }

  /** true: the nonce is fresh for this H(e)NB, and remembered from now on; false: it was seen within the window */
  claim(henbId: string, nonce: string): boolean {
    const t = this.now();
    this.expire(t);
    const key = `${henbId}\0${nonce}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, t + this.o.windowMs);
    if (this.seen.size > this.o.max) this.seen.delete(this.seen.keys().next().value as string);
    return true;
  }

  private expire(t: number): void {
    for (const [k, until] of this.seen) {
      if (until > t) return;
      this.seen.delete(k);
    }
  }
}
