/**
 * The bound on the device sessions the driver holds open (SessionPool): memory and file descriptors that do not
 * grow with the fleet (issue 15). A holder (a device's link, or a short replay session) takes a slot before it
 * connects and gives it back when its session ends. Each open session is in one of three states, which the driver
 * tells the pool (mark):
 *   busy      an rpc is in flight or about to be sent: never closed by the pool
 *   watching  only a completion is awaited: closed to make room for an rpc when every slot is taken (the
 *             device's completion then comes by RFC 5277 replay when its session is re-opened: ./subscription.ts)
 *   idle      no job needs it: closed after idleMs, or at once to make room for anyone; at most maxIdle are kept
 *             (the least recently used beyond that is closed at once)
 * A taker that finds every slot busy waits, in order, until one is given back (or its signal or deadline ends
 * the wait). The pool does no I/O: `evict` closes a session the pool has already taken the slot back from; the
 * slot counts as taken until that close is done, so the sessions open on the wire never exceed the bound either.
 */
import { DeviceDriverError, abortedError, closedError } from './driver-error.js';

/** what a taker needs a slot for: an rpc may take a watching session's slot, a watch only an idle one's */
export type SlotNeed = 'rpc' | 'watch';
export type HolderState = 'busy' | 'watching' | 'idle';

export interface SessionPoolOptions<K> {
  /** sessions open at once (>= 1) */
  maxOpen: number;
  /** an idle session is closed after this long, ms (0: at once) */
  idleMs: number;
  /**
   * idle sessions kept at once (default: no bound but maxOpen); beyond it the least recently used is closed at once
   * (0: none kept). A fleet rollout leaves each device's session idle after its job, seldom to be reused: ~19 MiB of
   * live heap and ~550 descriptors at 10,000 devices with 5 s of idle time (issue 15, branch idlecap)
   */
  maxIdle?: number;
  /** close `holder`'s session (resolves when closed): its slot is no longer its own (it must not release it) */
  evict: (holder: K, why: 'idle' | 'room') => Promise<void>;
}

interface Waiter<K> {
  holder: K;
  need: SlotNeed;
  grant: () => void;
  fail: (e: Error) => void;
}

export class SessionPool<K> {
  private readonly holders = new Set<K>();
  /** idle holders, least recently used first, with their expiry timers */
  private readonly idle = new Map<K, ReturnType<typeof setTimeout> | undefined>();
  /** watching holders, least recently used first */
  private readonly watching = new Set<K>();
  private readonly waiters: Array<Waiter<K>> = [];
  private readonly pending = new Map<K, Promise<void>>();
  /** slots whose session is being closed (idle expiry): taken until the close is done */
  private closing = 0;
  private closed = false;

  constructor(private readonly o: SessionPoolOptions<K>) {
    if (!(Number.isInteger(o.maxOpen) && o.maxOpen >= 1)) throw new RangeError('maxOpen must be an integer >= 1');
    if (o.maxIdle !== undefined && !(Number.isInteger(o.maxIdle) && o.maxIdle >= 0)) throw new RangeError('maxIdle must be an integer >= 0');
  }

  /** idle sessions (open, no job needs them) */
  get idleCount(): number {
    return this.idle.size;
  }

  /** slots taken (sessions open, being opened or being closed) */
  get open(): number {
    return this.holders.size + this.closing;
  }

  /** takers waiting for a slot */
  get queued(): number {
    return this.waiters.length;
  }

  /**
   * Take a slot for `holder` (resolves at once when it has one). A second call while it waits shares the wait, and
   * an rpc need upgrades a watch. Rejects ERR_DEVICE_ABORTED when `signal` aborts, ERR_DEVICE_TIMEOUT at `deadline`.
   */
  acquire(holder: K, need: SlotNeed, signal: AbortSignal, deadline?: number): Promise<void> {
    if (this.holders.has(holder)) return Promise.resolve();
    const waiting = this.pending.get(holder);
    if (waiting !== undefined) {
      if (need === 'rpc') this.upgrade(holder);
      return waiting;
    }
    if (signal.aborted) return Promise.reject(abortedError(signal));
    const p = new Promise<void>((resolve, reject) => {
      const w: Waiter<K> = { holder, need, grant: () => { done(); resolve(); }, fail: (e) => { done(); reject(e); } };
      const onAbort = (): void => this.drop(w, abortedError(signal));
      const timer = deadline !== undefined
        ? setTimeout(() => this.drop(w, new DeviceDriverError('ERR_DEVICE_TIMEOUT',
          `no free device session before the step's deadline (devices.max-open-sessions = ${this.o.maxOpen}, all in use)`)), Math.max(0, deadline - Date.now()))
        : undefined;
      const done = (): void => {
        this.pending.delete(holder);
        signal.removeEventListener('abort', onAbort);
        if (timer !== undefined) clearTimeout(timer);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
    });
    this.pending.set(holder, p);
    this.serve();
    return p;
  }

  /** `holder`'s session ended (or never opened): its slot is given back. A holder without a slot: nothing happens. */
  release(holder: K): void {
    if (!this.holders.delete(holder)) return;
    this.forget(holder);
    this.serve();
  }

  /** the state of `holder`'s open session (see the header); idle starts its expiry */
  mark(holder: K, state: HolderState): void {
    if (!this.holders.has(holder)) return;
    this.forget(holder);
    if (state === 'watching') this.watching.add(holder);
    if (state === 'idle') {
      if (this.o.idleMs <= 0 || this.o.maxIdle === 0) {
        this.expire(holder);
        return;
      }
      const t = setTimeout(() => this.expire(holder), this.o.idleMs);
      t.unref?.();
      this.idle.set(holder, t);
      // over the idle bound: the least recently used idle session goes now (the map keeps them in that order)
      if (this.o.maxIdle !== undefined && this.idle.size > this.o.maxIdle) for (const k of this.idle.keys()) { this.expire(k); break; }
    }
    this.serve();
  }

  /** fail every waiter, stop every timer */
  close(e: Error): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.fail(e);
    for (const t of this.idle.values()) if (t !== undefined) clearTimeout(t);
    this.idle.clear();
    this.watching.clear();
    this.holders.clear();
  }

  private expire(holder: K): void {
    if (!this.holders.delete(holder)) return;
    this.forget(holder);
    this.closing++;
    void this.o.evict(holder, 'idle').catch(() => undefined).finally(() => {
      this.closing--;
      this.serve();
    });
  }

  private forget(holder: K): void {
    const t = this.idle.get(holder);
    if (t !== undefined) clearTimeout(t);
    this.idle.delete(holder);
    this.watching.delete(holder);
  }

  private upgrade(holder: K): void {
    const w = this.waiters.find((x) => x.holder === holder);
    if (w === undefined || w.need === 'rpc') return;
    w.need = 'rpc';
    this.serve();
  }

  private drop(w: Waiter<K>, e: Error): void {
    const i = this.waiters.indexOf(w);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    w.fail(e);
  }

  /** the session to close for a taker with `need`: the least recently used idle one, else (rpc) a watching one */
  private victim(need: SlotNeed): K | undefined {
    for (const k of this.idle.keys()) return k;
    if (need === 'rpc') for (const k of this.watching) return k;
    return undefined;
  }

  /** hand free (or freed) slots to the waiters, in order; a waiter that cannot be served lets the next one try */
  private serve(): void {
    if (this.closed) return;
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i]!;
      let closed: Promise<void> | undefined;
      if (this.open >= this.o.maxOpen) {
        const v = this.victim(w.need);
        if (v === undefined) {
          i++;
          continue;
        }
        this.holders.delete(v);
        this.forget(v);
        closed = this.o.evict(v, 'room').catch(() => undefined);
      }
      // the slot is the waiter's now (no one else takes it); it may use it once the victim's session is closed
      this.waiters.splice(i, 1);
      this.holders.add(w.holder);
      if (closed === undefined) w.grant();
      else void closed.then(() => (this.closed ? w.fail(closedError()) : w.grant()));
    }
  }
}
