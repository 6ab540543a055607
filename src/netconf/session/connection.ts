/**
 * A NETCONF message connection over any Duplex byte stream (an SSH channel, an in-memory pair): RFC
 * 6242 framing in both directions, the switch to chunked framing, backpressure, and an orderly end.
 *
 * Backpressure: when write() returns false, input is paused until 'drain' (a peer that does not read
 * its replies cannot make us buffer without bound); owners can pause input for their own reasons too
 * (e.g. too many queued requests). Output beyond `maxOutputBytes` queued in the stream ends the
 * connection (ERR_SESSION_OUTPUT_OVERFLOW) — only unsolicited output (notifications) can get there.
 */
import type { Duplex } from 'node:stream';
import { FrameDecoder, encodeChunked, encodeEom, frameText } from '../framing/index.js';
import type { FramingMode } from '../framing/index.js';
import { SessionError } from './errors.js';

export interface ConnectionOptions {
  maxMessageBytes?: number;
  /** bytes queued for output beyond which the connection is ended; default 4 x maxMessageBytes */
  maxOutputBytes?: number;
  /**
   * Output queued in this tick is written at once when it reaches this many bytes, instead of at the
   * end of the tick; default Infinity (one write per tick). A server answering a burst of pipelined
   * requests then sends the first replies while it works on the rest, so the peer works in parallel.
   */
  flushBytes?: number;
}

/**
 * Unsolicited output (sendDeferred) queued beyond this many bytes is written at once rather than at the end of the
 * event loop's turn: a bound on what waits, well above one notification (a software-update-result with its token is
 * ~2 KB), below a socket's usual 64 KiB send buffer.
 */
const DEFERRED_FLUSH_BYTES = 32 * 1024;

export class MessageConnection {
  private readonly decoder: FrameDecoder;
  private outMode: FramingMode = 'eom';
  private readonly pauses = new Set<string>();
  /** framed messages not yet written: text (encoded together at flush) or bytes */
  private outQueue: Array<string | Buffer> = [];
  private outAllText = true;
  private outBytes = 0;
  private flushScheduled = false;
  /** a setImmediate flush of unsolicited output (sendDeferred) is pending */
  private flushDeferred = false;
  private discarding = false;
  private draining = false;
  private ended = false;
  private inputEnded = false;
  private closedErr: Error | undefined;
  private isClosed = false;
  private readonly maxOutputBytes: number;
  private readonly flushBytes: number;
  private closeWaiters: Array<() => void> = [];
  /** called for each complete message, in order; may switch framing before the next one */
  onMessage: (msg: Buffer) => void = () => undefined;
  /** called once when the connection is gone; err undefined for an orderly end */
  onClose: (err: Error | undefined) => void = () => undefined;
  /** called when the peer ends its output (before onClose) */
  onInputEnd: () => void = () => undefined;

  constructor(readonly stream: Duplex, options: ConnectionOptions = {}) {
    const maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
    this.decoder = new FrameDecoder({ maxMessageBytes });
    this.maxOutputBytes = options.maxOutputBytes ?? 4 * maxMessageBytes;
    this.flushBytes = options.flushBytes ?? Infinity;
    stream.on('data', (chunk: Buffer) => {
      if (this.isClosed || this.discarding) return;
      try {
        this.decoder.push(chunk);
      } catch (e) {
        this.destroy(e as Error);
        return;
      }
      this.drain();
    });
    stream.on('end', () => {
      this.inputEnded = true;
      if (this.isClosed || this.discarding) return;
      this.drain();
      if (this.isClosed) return;
      try {
        this.decoder.end();
      } catch (e) {
        this.destroy(e as Error);
        return;
      }
      this.onInputEnd();
    });
    stream.on('drain', () => this.resumeInput('output'));
    stream.on('error', (e: Error) => this.destroy(e));
    stream.on('close', () => this.finish(this.closedErr ?? (this.ended || this.inputEnded ? undefined : new SessionError('ERR_SESSION_CLOSED', 'transport closed'))));
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get framing(): FramingMode {
    return this.outMode;
  }

  /** RFC 6242 section 4.1: both directions use chunked framing from the next message on. */
  useChunked(): void {
    this.outMode = 'chunked';
    this.decoder.useChunked();
  }

  /**
   * Frame and queue one message. Messages queued in the same tick are written together (one SSH
   * packet for several pipelined replies); those queued while a read's messages are delivered are written
   * when that delivery ends. Returns false when the transport asked us to wait.
   */
  send(message: string | Buffer): boolean {
    if (!this.enqueue(message)) return false;
    if (this.outBytes >= this.flushBytes) this.writeQueued();
    // a message sent while input is drained (a reply known at once) is written when the drain ends
    else if (!this.flushScheduled && !this.draining) {
      this.flushScheduled = true;
      process.nextTick(this.flushFn);
    }
    return !this.stream.writableNeedDrain;
  }

  /**
   * Frame and queue an unsolicited message (a notification): written with whatever else is queued by the end of
   * this turn of the event loop (setImmediate, after the I/O callbacks of the turn), so that the notifications of
   * many jobs, each emitted in its own callback, go out in one write instead of one write (one SSH packet, one
   * syscall) each. The bytes and their order are those of send(): one queue, written in order; a reply sent
   * meanwhile writes the queued notifications before it. Written at once beyond DEFERRED_FLUSH_BYTES queued.
   * Returns false when the transport asked us to wait.
   */
  sendDeferred(message: string | Buffer): boolean {
    if (!this.enqueue(message)) return false;
    if (this.outBytes >= DEFERRED_FLUSH_BYTES) this.writeQueued();
    else if (!this.flushDeferred) {
      this.flushDeferred = true;
      setImmediate(this.deferredFlushFn);
    }
    return !this.stream.writableNeedDrain;
  }

  /** frame `message` and add it to the output queue; false (nothing queued) when closed or over maxOutputBytes */
  private enqueue(message: string | Buffer): boolean {
    if (this.isClosed || this.ended) return false;
    let frame: string | Buffer;
    let bytes: number;
    if (typeof message === 'string') {
      const f = frameText(this.outMode, message);
      frame = f.text;
      bytes = f.bytes;
    } else {
      frame = this.outMode === 'eom' ? encodeEom(message) : encodeChunked(message);
      bytes = frame.length;
      this.outAllText = false;
    }
    if (this.stream.writableLength + this.outBytes + bytes > this.maxOutputBytes) {
      this.destroy(new SessionError('ERR_SESSION_OUTPUT_OVERFLOW', 'peer is not reading its output'));
      return false;
    }
    this.outQueue.push(frame);
    this.outBytes += bytes;
    return true;
  }

  private readonly flushFn = (): void => this.flush();
  private readonly deferredFlushFn = (): void => {
    this.flushDeferred = false;
    this.writeQueued();
  };

  private flush(): void {
    this.flushScheduled = false;
    this.writeQueued();
  }

  /** write everything queued, in order, as one buffer */
  private writeQueued(): void {
    if (this.outQueue.length === 0 || this.isClosed) return;
    const q = this.outQueue;
    let data: Buffer | string;
    if (this.outAllText) {
      const text = q.length === 1 ? (q[0] as string) : q.join('');
      // ASCII text (as many UTF-8 bytes as characters: any other character takes more) goes to the stream as a
      // string: a socket encodes it straight into its write request, with no Buffer per reply, and counts it in
      // writableLength as the same number of bytes; other text is encoded here, once for the whole batch
      data = text.length === this.outBytes ? text : Buffer.from(text, 'utf8');
    } else {
      data = Buffer.concat(q.map((f) => (typeof f === 'string' ? Buffer.from(f, 'utf8') : f)), this.outBytes);
    }
    this.outQueue = [];
    this.outBytes = 0;
    this.outAllText = true;
    const ok = typeof data === 'string' ? this.stream.write(data, 'latin1') : this.stream.write(data);
    if (!ok) this.pauseInput('output');
  }

  /**
   * Stop delivering messages for good, but keep reading (and dropping) input so that the transport
   * sees the peer's end and can close.
   */
  discardInput(): void {
    this.discarding = true;
    this.pauses.clear();
    this.stream.resume();
  }

  pauseInput(reason: string): void {
    if (this.discarding) return;
    if (this.pauses.has(reason)) return;
    this.pauses.add(reason);
    this.stream.pause();
  }

  resumeInput(reason: string): void {
    // the server asks this after every request: nothing paused is the common case, without a Set lookup
    if (this.pauses.size === 0) return;
    if (!this.pauses.delete(reason) || this.pauses.size > 0 || this.isClosed) return;
    this.stream.resume();
    queueMicrotask(() => this.drain());
  }

  /** End our output after everything queued is written; resolves when the transport is closed. */
  end(): Promise<void> {
    if (!this.ended && !this.isClosed) {
      this.flush();
      this.ended = true;
      this.stream.end();
    }
    return this.whenClosed();
  }

  destroy(err?: Error): void {
    if (this.isClosed) return;
    // what is queued (a hello, a last rpc-error) still goes out before the transport is torn down
    if (!this.ended && !this.stream.destroyed) {
      try {
        this.flush();
      } catch {
        /* the transport is already failing */
      }
    }
    this.closedErr ??= err;
    this.stream.destroy();
    this.finish(this.closedErr);
  }

  whenClosed(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (!this.isClosed && !this.discarding && this.pauses.size === 0) {
        const m = this.decoder.next();
        if (!m) break;
        this.onMessage(trimLeadingWhitespace(m));
      }
    } catch (e) {
      this.destroy(e as Error);
    } finally {
      this.draining = false;
    }
    // the replies to what this input held, in one write and without waiting for the end of the tick (the
    // messages of one read are drained together; a reply sent later, by an async handler, is flushed in its tick)
    this.writeQueued();
  }

  private finish(err: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closedErr = err;
    const ws = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of ws) w();
    this.onClose(err);
  }
}

/**
 * Peers often send a line break after `]]>]]>`; it then leads the next message, where an XML
 * declaration is no longer "at the start of the document". Leading whitespace carries no meaning in
 * a NETCONF message, so it is dropped before parsing.
 */
function trimLeadingWhitespace(m: Buffer): Buffer {
  let i = 0;
  while (i < m.length && (m[i] === 0x20 || m[i] === 0x0a || m[i] === 0x0d || m[i] === 0x09)) i++;
  return i === 0 ? m : m.subarray(i);
}
