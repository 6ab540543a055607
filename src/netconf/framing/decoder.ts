/**
 * Streaming RFC 6242 decoder: end-of-message framing (section 4.3, `]]>]]>`) until both hellos
 * announce base:1.1, then chunked framing (section 4.2):
 *
 *   chunked-message = 1*chunk end-of-chunks
 *   chunk           = LF HASH chunk-size LF chunk-data
 *   chunk-size      = 1*DIGIT1 0*DIGIT        ; 1..4294967295
 *   end-of-chunks   = LF HASH HASH LF
 *
 * Bytes are fed with push() in reads of any size (a delimiter or header may be split across reads);
 * next() pulls one complete message at a time, so the caller can switch the mode between two
 * messages (section 4.1: the switch happens right after the hello messages). Every malformed header,
 * an oversize chunk or message, and EOF inside a message are FramingErrors; after an error the decoder
 * stays failed (the stream has lost synchronisation and the session must end).
 */
import { ByteQueue } from './byte-queue.js';
import { FramingError } from './errors.js';
import { resolveLimits } from './limits.js';
import type { FramingLimits } from './limits.js';

export type FramingMode = 'eom' | 'chunked';

const EOM = Buffer.from(']]>]]>');
const LF = 0x0a;
const HASH = 0x23;
const D0 = 0x30;
const D9 = 0x39;
/** "4294967295".length */
const MAX_SIZE_DIGITS = 10;

export class FrameDecoder {
  private readonly q = new ByteQueue();
  private readonly maxMessage: number;
  private readonly maxChunk: number;
  private modeValue: FramingMode = 'eom';
  private failed: FramingError | undefined;
  /** EOM: offset from which the delimiter search resumes */
  private scan = 0;
  /** chunked: remaining bytes of the current chunk (0 = expecting a header) */
  private remaining = 0;
  private parts: Buffer[] = [];
  private partBytes = 0;

  constructor(limits: FramingLimits = {}) {
    const l = resolveLimits(limits);
    this.maxMessage = l.maxMessageBytes;
    this.maxChunk = l.maxChunkBytes;
  }

  get mode(): FramingMode {
    return this.modeValue;
  }

  /** bytes received and not yet returned as a message */
  get buffered(): number {
    return this.q.length + this.partBytes;
  }

  /** Switch to chunked framing (RFC 6242 section 4.1) for every message after the current one. */
  useChunked(): void {
    this.modeValue = 'chunked';
    this.scan = 0;
  }

  push(data: Uint8Array): void {
    if (this.failed) throw this.failed;
    this.q.push(data);
  }

  /** The next complete message, or undefined when more bytes are needed. Throws FramingError. */
  next(): Buffer | undefined {
    if (this.failed) throw this.failed;
    try {
      return this.modeValue === 'eom' ? this.nextEom() : this.nextChunked();
    } catch (e) {
      if (e instanceof FramingError) this.failed = e;
      throw e;
    }
  }

  /**
   * The peer closed its side. Throws ERR_FRAMING_TRUNCATED when a message is incomplete (whitespace
   * after the last end-of-message delimiter is tolerated).
   */
  end(): void {
    if (this.failed) throw this.failed;
    let rest = this.q.length;
    if (this.modeValue === 'eom') {
      let i = 0;
      while (i < rest && isWs(this.q.at(i))) i++;
      rest -= i;
    }
    if (rest > 0 || this.partBytes > 0 || this.remaining > 0) {
      this.failed = new FramingError('ERR_FRAMING_TRUNCATED', 'end of stream inside a message');
      throw this.failed;
    }
  }

  private nextEom(): Buffer | undefined {
    const at = this.q.indexOf(EOM, this.scan);
    if (at < 0) {
      const len = this.q.length;
      if (len - (EOM.length - 1) > this.maxMessage) {
        throw new FramingError('ERR_FRAMING_MESSAGE_TOO_BIG', `message larger than ${this.maxMessage} bytes`);
      }
      this.scan = Math.max(0, len - (EOM.length - 1));
      return undefined;
    }
    if (at > this.maxMessage) {
      throw new FramingError('ERR_FRAMING_MESSAGE_TOO_BIG', `message larger than ${this.maxMessage} bytes`);
    }
    const msg = this.q.take(at);
    this.q.skip(EOM.length);
    this.scan = 0;
    return msg;
  }

  private nextChunked(): Buffer | undefined {
    for (;;) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, this.q.length);
        if (n === 0) return undefined;
        this.parts.push(this.q.take(n));
        this.partBytes += n;
        this.remaining -= n;
        if (this.remaining > 0) return undefined;
        continue;
      }
      const h = this.header();
      if (h === undefined) return undefined;
      if (h === 'end') {
        if (this.partBytes === 0) {
          throw new FramingError('ERR_FRAMING_EMPTY_MESSAGE', 'end-of-chunks without a chunk');
        }
        const msg = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes);
        this.parts = [];
        this.partBytes = 0;
        return msg;
      }
      this.remaining = h;
    }
  }

  /**
   * Parse a chunk header or end-of-chunks at the front of the queue. Validates each byte as soon as it
   * is present, so garbage fails early and not after a long wait. Returns the chunk size, 'end', or
   * undefined when the header is not complete yet.
   */
  private header(): number | 'end' | undefined {
    const q = this.q;
    const len = q.length;
    if (len === 0) return undefined;
    if (q.at(0) !== LF) throw bad('expected LF at the start of a chunk header');
    if (len < 2) return undefined;
    if (q.at(1) !== HASH) throw bad('expected # after LF in a chunk header');
    if (len < 3) return undefined;
    const c2 = q.at(2);
    if (c2 === HASH) {
      if (len < 4) return undefined;
      if (q.at(3) !== LF) throw bad('expected LF after ## in end-of-chunks');
      q.skip(4);
      return 'end';
    }
    if (c2 === D0) throw bad('chunk size with a leading zero or zero size');
    let size = 0;
    let i = 2;
    for (; i < len; i++) {
      const c = q.at(i);
      if (c === LF) break;
      if (c < D0 || c > D9) throw bad('non-digit in chunk size');
      if (i - 2 >= MAX_SIZE_DIGITS) throw bad('chunk size has too many digits');
      size = size * 10 + (c - D0);
    }
    if (i === 2 && i < len) throw bad('empty chunk size');
    if (size > 4294967295) throw bad('chunk size larger than 4294967295');
    if (size > this.maxChunk) {
      throw new FramingError('ERR_FRAMING_CHUNK_TOO_BIG', `chunk larger than ${this.maxChunk} bytes`);
    }
    if (this.partBytes + size > this.maxMessage) {
      throw new FramingError('ERR_FRAMING_MESSAGE_TOO_BIG', `message larger than ${this.maxMessage} bytes`);
    }
    if (i >= len) return undefined;
    q.skip(i + 1);
    return size;
  }
}

function bad(message: string): FramingError {
  return new FramingError('ERR_FRAMING_BAD_CHUNK_HEADER', message);
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}
