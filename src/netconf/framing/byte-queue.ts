/**
 * A growable byte buffer with amortised O(1) append and consume, so that a large message arriving in
 * many small reads is copied O(n) times in total, not O(n^2).
 */
export class ByteQueue {
  private buf: Buffer;
  private start = 0;
  private end = 0;

  constructor(initial = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.end - this.start;
  }

  push(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    if (this.end + n > this.buf.length) {
      const used = this.end - this.start;
      if (used + n <= this.buf.length) {
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        let cap = this.buf.length * 2;
        while (cap < used + n) cap *= 2;
        const next = Buffer.allocUnsafe(cap);
        this.buf.copy(next, 0, this.start, this.end);
        this.buf = next;
      }
      this.start = 0;
      this.end = used;
    }
    this.buf.set(data, this.end);
    this.end += n;
  }

  /** byte at offset i from the front (i < length) */
  at(i: number): number {
    return this.buf[this.start + i]!;
  }

  /** offset (from the front) of `needle` at or after `from`, or -1 */
  indexOf(needle: Buffer, from: number): number {
    const i = this.buf.subarray(0, this.end).indexOf(needle, this.start + from);
    return i < 0 ? -1 : i - this.start;
  }

  /** copy out the first n bytes and consume them */
  take(n: number): Buffer {
    const out = Buffer.from(this.buf.subarray(this.start, this.start + n));
    this.skip(n);
    return out;
  }

  /** a view of bytes [a, b) from the front; valid until the next push */
  view(a: number, b: number): Buffer {
    return this.buf.subarray(this.start + a, this.start + b);
  }

  skip(n: number): void {
    this.start += n;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    }
  }
}
