/**
 * The outcomes of recent integrity requests, kept so that a repeat is answered from them (issue 15: nothing lost to
 * load). A requester whose connection broke after its request may have reached the PVE (a reset, a connection closed
 * before the answer) sends the same request again, with the same nonce and body; the PVE answers it with the first
 * request's outcome: it joins the first while that still runs, and returns the same signed result (or the same
 * refusal) once it is done. Nothing is collected, appraised or signed a second time, and the relayed nonce is not
 * refused as reused.
 *
 * Keyed by who asked (the authenticated client: the NETCONF user; every RESTCONF requester is one client, since the
 * RESTCONF endpoint authenticates none), the H(e)NB and the nonce-value; an entry holds the SHA-256 of the request's
 * checked input, and only a request with the same digest is answered from it. Anything else (another body, another
 * client) is not answered from here: the verifier handles it as a new request, so the nonce rules stay as they were
 * (relayed evidence: nonce-reused). Memory is bounded (window-map.ts): an entry is kept for `windowMs` after the
 * request was accepted, at most `max` entries (the oldest forgotten first).
 */
import { WindowMap } from './window-map.js';

export interface RequestOutcomesOptions {
  /** how long an outcome is kept after its request was accepted, ms */
  windowMs: number;
  /** the most outcomes kept */
  max: number;
  now?: () => number;
}

interface Kept<T> {
  digest: string;
  outcome: Promise<T>;
  until: number;
}

export class RequestOutcomes<T> {
  private readonly kept: WindowMap<Kept<T>>;
  private readonly now: () => number;

  constructor(private readonly o: RequestOutcomesOptions) {
    this.kept = new WindowMap<Kept<T>>('RequestOutcomes', o.windowMs, o.max, (k) => k.until);
    this.now = o.now ?? Date.now;
  }

  /** how many outcomes are kept now */
  get size(): number {
    return this.kept.size;
  }

  /**
   * the outcome of the request kept under `key` when its digest is `digest` (the same request again); 'other' when a
   * request with another digest is kept under it; undefined when none is
   */
  find(key: string, digest: string): Promise<T> | 'other' | undefined {
    this.kept.expire(this.now());
    const k = this.kept.get(key);
    if (k === undefined) return undefined;
    return k.digest === digest ? k.outcome : 'other';
  }

  /** keep `outcome` (settled or not) under `key` for the window; the oldest is forgotten beyond `max` */
  keep(key: string, digest: string, outcome: Promise<T>): void {
    this.kept.set(key, { digest, outcome, until: this.now() + this.o.windowMs });
  }

  /** forget `key` when it still holds `outcome` (an outcome not worth repeating: an unexpected failure) */
  forget(key: string, outcome: Promise<T>): void {
    if (this.kept.get(key)?.outcome === outcome) this.kept.delete(key);
  }
}
