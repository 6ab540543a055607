import type { Duplex } from 'node:stream';
import { FrameDecoder, encodeChunked, encodeEom } from '../../../src/netconf/framing/index.js';

/** A hand-driven peer: writes raw frames and collects decoded messages. */
export class RawPeer {
  readonly messages: string[] = [];
  readonly decoder = new FrameDecoder();
  closed = false;
  private waiters: Array<() => void> = [];
  /** chunked: switch the decoder to chunked framing right after the first message (the server hello) */
  constructor(readonly stream: Duplex, opts: { chunked?: boolean } = {}) {
    stream.on('data', (b: Buffer) => {
      this.decoder.push(b);
      for (let m = this.decoder.next(); m; m = this.decoder.next()) {
        this.messages.push(m.toString('utf8'));
        if (opts.chunked && this.messages.length === 1) this.decoder.useChunked();
      }
      this.wake();
    });
    stream.on('close', () => {
      this.closed = true;
      this.wake();
    });
    stream.on('error', () => undefined);
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  async waitFor(pred: () => boolean): Promise<void> {
    for (let i = 0; i < 1000 && !pred(); i++) await new Promise<void>((r) => this.waiters.push(r));
    if (!pred()) throw new Error('condition not reached');
  }
  /** wait for the n-th message (1-based) */
  async message(n: number): Promise<string> {
    await this.waitFor(() => this.messages.length >= n || this.closed);
    const m = this.messages[n - 1];
    if (m === undefined) throw new Error(`stream closed after ${this.messages.length} messages`);
    return m;
  }
  sendEom(xml: string): void {
    this.stream.write(encodeEom(xml));
  }
  sendChunked(xml: string): void {
    this.stream.write(encodeChunked(xml));
  }
}

export const NS = 'urn:ietf:params:xml:ns:netconf:base:1.0';
export const CLIENT_HELLO_11 = `<hello xmlns="${NS}"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>`;
export const CLIENT_HELLO_10 = `<hello xmlns="${NS}"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>`;
