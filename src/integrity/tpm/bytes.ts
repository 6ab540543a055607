/**
 * A bounded reader over untrusted octets: every read checks the remaining length first, so a truncated or
 * oversized structure ends as a MalformedTpm with a reason, never as an out-of-range read.
 * TPM 2.0 structures are big-endian (TPM 2.0 Part 2); the TCG PC Client event log is little-endian.
 * Internal to src/integrity/tpm: the public parsers catch MalformedTpm and return a typed result.
 */

/** Thrown inside the parsers only; the public functions turn it into `{ ok: false, reason }`. */
export class MalformedTpm extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'MalformedTpm';
  }
}

export class Reader {
  private off = 0;
  constructor(private readonly buf: Buffer, private readonly what: string) {}

  get offset(): number {
    return this.off;
  }

  get remaining(): number {
    return this.buf.length - this.off;
  }

  private need(n: number, field: string): void {
    if (n > this.remaining) throw new MalformedTpm(`${this.what}: truncated at ${field} (needs ${n} octets, ${this.remaining} left)`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf.readUInt8(this.off++);
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.off);
    this.off += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }

  u64(field: string): bigint {
    this.need(8, field);
    const v = this.buf.readBigUInt64BE(this.off);
    this.off += 8;
    return v;
  }

  u16le(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16LE(this.off);
    this.off += 2;
    return v;
  }

  u32le(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }

  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return Buffer.from(v);
  }

  /** A TPM2B: UINT16 size, then that many octets (at most `max`, the structure's own bound). */
  tpm2b(field: string, max: number): Buffer {
    const size = this.u16(`${field}.size`);
    if (size > max) throw new MalformedTpm(`${this.what}: ${field} is ${size} octets, more than its bound ${max}`);
    return this.bytes(size, field);
  }

  /** Every octet must have been consumed (a structure with trailing bytes is not the structure it claims). */
  end(): void {
    if (this.remaining !== 0) throw new MalformedTpm(`${this.what}: ${this.remaining} trailing octets`);
  }
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Runs a parser and turns a MalformedTpm (or any unexpected throw) into a result: no exception escapes. */
export function guard<T>(what: string, fn: () => T): ParseResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof MalformedTpm) return { ok: false, reason: err.reason };
    // a bug of ours or a node:crypto refusal (e.g. an RSA modulus it cannot import): still a reason, not a throw
    return { ok: false, reason: `${what}: not parseable` };
  }
}
