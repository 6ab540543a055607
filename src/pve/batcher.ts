/**
 * The OAM's side of integrity-requests (yang/henb-sw-verify-pve.yang, revision 2026-12-07): integrity requests made
 * while others are on their way go to the PVE together, in one operation, instead of one exchange each.
 *
 * A request is sent at once, alone (integrity-request, the wire as before), while fewer than `maxInFlight` operations
 * are on their way; otherwise it waits, and when an operation comes back the waiting requests leave together (at most
 * `maxRequests` and about `maxBytes` of input in one). So nothing waits while the PVE keeps up, and under load one
 * exchange carries many requests (a fleet update's ~2 requests per H(e)NB cost the PVE and the OAM ~0.2-0.5 ms of CPU
 * each in HTTP and TLS alone: docs/performance.md).
 *
 * Each request settles on its own: its answer or its refusal (the error integrity-request would have given), or its
 * caller's signal. When the whole operation fails (the connection, a timeout, the PVE's refusal of the operation), every
 * request in it fails with that error, and each caller's retry (./retry.ts) decides for its own request, as it would
 * for a request sent alone. A PVE that does not know integrity-requests (an older one: 404, 405 or
 * operation-not-supported) is asked one request per operation from then on; the requests of the refused operation are
 * sent again alone (the PVE did nothing with them).
 */

export interface BatchSender<T, I = string> {
  /** one request alone */
  one(input: I, signal: AbortSignal): Promise<T>;
  /** several; resolves with each request's outcome in the order given, rejects when the whole operation failed */
  many(inputs: readonly I[], signal: AbortSignal): Promise<Array<{ ok: true; value: T } | { ok: false; error: unknown }>>;
  /** whether an error of `many` says the PVE does not have the operation */
  unsupported(e: unknown): boolean;
  /** made when a request's signal aborted before its outcome */
  aborted(signal: AbortSignal): unknown;
}

export interface BatcherOptions<I = string> {
  /** the most requests in one operation (default 32; 1: every request alone) */
  maxRequests?: number;
  /** operations on their way at once before requests wait to go together (default 2) */
  maxInFlight?: number;
  /** about the most characters of input in one operation (default 512 KiB); a larger request goes alone */
  maxBytes?: number;
  /** a request's size for maxBytes (default: a string's length; 1 for anything else) */
  sizeOf?: (input: I) => number;
  /** told once when the PVE refused the operation as unknown */
  onUnsupported?: (e: unknown) => void;
}

interface Waiting<T, I> {
  input: I;
  signal: AbortSignal;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
  settled: boolean;
  onAbort: () => void;
}

export class RequestBatcher<T, I = string> {
  private readonly queue: Array<Waiting<T, I>> = [];
  private inFlight = 0;
  private pumping = false;
  private supported = true;
  private readonly maxRequests: number;
  private readonly maxInFlight: number;
  private readonly maxBytes: number;

  private readonly sizeOf: (input: I) => number;

  constructor(private readonly send: BatchSender<T, I>, private readonly o: BatcherOptions<I> = {}) {
    this.sizeOf = o.sizeOf ?? ((input: I) => (typeof input === 'string' ? input.length : 1));
    this.maxRequests = o.maxRequests ?? 32;
    this.maxInFlight = o.maxInFlight ?? 2;
    this.maxBytes = o.maxBytes ?? 512 * 1024;
    if (!Number.isInteger(this.maxRequests) || this.maxRequests < 1) throw new RangeError('maxRequests must be an integer >= 1');
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) throw new RangeError('maxInFlight must be an integer >= 1');
  }

  /** one request's input; settles with its own outcome */
  submit(input: I, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) {
        reject(this.send.aborted(signal));
        return;
      }
      const w: Waiting<T, I> = {
        input, signal, settled: false,
        resolve: (v) => this.settle(w, () => resolve(v)),
        reject: (e) => this.settle(w, () => reject(e)),
        onAbort: () => w.reject(this.send.aborted(signal)),
      };
      signal.addEventListener('abort', w.onAbort, { once: true });
      this.queue.push(w);
      this.pump();
    });
  }

  private settle(w: Waiting<T, I>, done: () => void): void {
    if (w.settled) return;
    w.settled = true;
    w.signal.removeEventListener('abort', w.onAbort);
    done();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.inFlight < this.maxInFlight) {
        const batch = this.take();
        if (batch.length === 0) return;
        this.inFlight++;
        void this.dispatch(batch).finally(() => {
          this.inFlight--;
          this.pump();
        });
      }
    } finally {
      this.pumping = false;
    }
  }

  /** the next requests to send together (those whose caller gave up are dropped: they are settled already) */
  private take(): Array<Waiting<T, I>> {
    const out: Array<Waiting<T, I>> = [];
    let bytes = 0;
    const max = this.supported ? this.maxRequests : 1;
    while (this.queue.length > 0 && out.length < max) {
      const w = this.queue[0]!;
      if (w.settled) {
        this.queue.shift();
        continue;
      }
      const size = this.sizeOf(w.input);
      if (out.length > 0 && bytes + size > this.maxBytes) break;
      this.queue.shift();
      out.push(w);
      bytes += size;
    }
    return out;
  }

  private async dispatch(batch: Array<Waiting<T, I>>): Promise<void> {
    if (batch.length === 1) {
      const w = batch[0]!;
      await this.send.one(w.input, w.signal).then(w.resolve, w.reject);
      return;
    }
    // the operation is given up only when every caller in it gave up
    const ctl = new AbortController();
    let left = batch.length;
    const gaveUp = (): void => {
      if (--left === 0) ctl.abort(batch[0]!.signal.reason);
    };
    for (const w of batch) {
      if (w.signal.aborted) gaveUp();
      else w.signal.addEventListener('abort', gaveUp, { once: true });
    }
    try {
      const outcomes = await this.send.many(batch.map((w) => w.input), ctl.signal);
      batch.forEach((w, i) => {
        const r = outcomes[i];
        if (r === undefined) w.reject(new Error('no outcome for a request of integrity-requests'));
        else if (r.ok) w.resolve(r.value);
        else w.reject(r.error);
      });
    } catch (e) {
      if (this.supported && this.send.unsupported(e)) {
        this.supported = false;
        this.o.onUnsupported?.(e);
        // nothing was done with them: they go again, alone, first
        this.queue.unshift(...batch.filter((w) => !w.settled));
        return;
      }
      for (const w of batch) w.reject(e);
    } finally {
      for (const w of batch) w.signal.removeEventListener('abort', gaveUp);
    }
  }
}
