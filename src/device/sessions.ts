/**
 * The sessions of the driver's devices (LinkSessions): one establishment at a time per device (a slot of the
 * session pool first, ./pool.ts; then connect, retried with full-jitter backoff within the caller's deadline,
 * src/retry.ts), the subscription once a job waits on the session (./subscription.ts: with a replay from where the
 * last session stopped), the reading of its notifications, the pool's state of each session (settle), and a
 * background re-open (with replay) when a session drops or is taken back by the pool while a job still waits for
 * a completion.
 */
import { setMaxListeners } from 'node:events';
import { untilAborted } from '../abort.js';
import { HsvError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { DeviceDriverErrorCode } from '../oam/index.js';
import { RetryExhausted, backoffCap, retryTransient } from '../retry.js';
import type { RetryOptions } from '../retry.js';
import type { DeviceConnector, DeviceSession } from './connect.js';
import { DeviceDriverError, abortedError, closedError, retriable } from './driver-error.js';
import type { DeviceLink } from './link.js';
import { SessionPool } from './pool.js';
import type { SlotNeed } from './pool.js';
import { readNotifications, subscribe } from './subscription.js';

export interface LinkSessionsOptions {
  /** dials the device or takes its call-home connection */
  connect: DeviceConnector;
  /** SSH + hello budget per attempt, ms */
  connectTimeoutMs: number;
  rpcTimeoutMs: number;
  retry: RetryOptions;
  /** background reconnect attempts after a session drops while completions are awaited */
  reconnectAttempts: number;
  log: Logger;
  /** a completion notification arrived on a device's session */
  onCompletion: (l: DeviceLink, ev: XmlElement) => void;
  /** sessions open at once (devices.max-open-sessions) */
  maxOpen: number;
  /** a session no job needs is closed after this long, ms (devices.idle-timeout; 0: at once) */
  idleMs: number;
  /** sessions no job needs kept at once (devices.max-idle-sessions; undefined: no bound but maxOpen) */
  maxIdle?: number;
  /** a replay after a dropped session starts this long before it dropped (no event seen), ms */
  replayMarginMs: number;
}

export interface EnsureOptions {
  /** connection attempts (default: the retry options' cap, else 3 without a deadline and unbounded with one) */
  tries?: number;
  /** epoch ms: the wait for a slot and the attempts end here */
  deadline?: number;
  /** subscribe a new session even when no job waits on it yet (it is about to) */
  subscribe?: boolean;
}

export class LinkSessions {
  private readonly closeCtl = new AbortController();
  readonly pool: SessionPool<object>;

  constructor(private readonly o: LinkSessionsOptions) {
    setMaxListeners(0, this.closeCtl.signal); // every device's connect in flight listens on it (removed when it settles): no leak
    this.pool = new SessionPool<object>({ maxOpen: o.maxOpen, idleMs: o.idleMs, ...(o.maxIdle !== undefined ? { maxIdle: o.maxIdle } : {}), evict: (holder, why) => this.evicted(holder as DeviceLink, why) });
  }

  get closed(): boolean {
    return this.closeCtl.signal.aborted;
  }

  get signal(): AbortSignal {
    return this.closeCtl.signal;
  }

  /** tell the pool what the device's open session is needed for now (after a call ends, a completion, a release) */
  settle(l: DeviceLink): void {
    if (l.open()) this.pool.mark(l, l.poolState());
    else if (!l.needed()) {
      // a wait for a slot (a re-open for a completion no job awaits any more) ends
      l.slotWait?.abort();
      l.slotWait = undefined;
    }
  }

  /** the open session's subscription, made now if it has none (live: nothing before it is needed) */
  subscribed(l: DeviceLink, s: DeviceSession, signal: AbortSignal): Promise<void> {
    if (l.subscribed && l.session === s) return Promise.resolve();
    const ahead = l.ahead;
    if (ahead !== undefined && ahead.session === s) {
      // asked for with the integrity-measurement: its outcome is this call's (a refusal closes the session, as below)
      l.ahead = undefined;
      return raceSignal(ahead.made.catch((e: unknown) => {
        void s.close();
        throw e;
      }), signal);
    }
    l.subscribing ??= subscribe(l, s, signal, this.ctx()).then(() => {
      if (l.session === s) l.subscribed = true;
    }).finally(() => {
      l.subscribing = undefined;
    });
    return l.subscribing;
  }

  /**
   * Subscribe the open session now without waiting for the answer (relay mode: the job's software-update follows on
   * it and needs the subscription): the create-subscription goes in the same write as the rpc sent just before it in
   * this tick, whose reply comes first (RFC 6241 section 4.5), so a refusal cannot fail that rpc. The session stays
   * open whatever the answer; the software-update takes the outcome (subscribed): one round trip fewer per update,
   * nothing else changed. Bound to the driver's life, not a caller's signal.
   */
  subscribeAhead(l: DeviceLink, s: DeviceSession): void {
    if ((l.subscribed && l.session === s) || l.subscribing !== undefined || l.ahead !== undefined) return;
    const made = subscribe(l, s, this.closeCtl.signal, this.ctx(), { closeOnFailure: false }).then(() => {
      if (l.session !== s) return;
      l.subscribed = true;
      if (l.ahead?.made === made) l.ahead = undefined;
    });
    made.catch((e: unknown) => this.o.log.debug('subscription asked for with the measurement failed', { henbId: l.henbId, err: e }));
    l.ahead = { session: s, made };
  }

  private ctx(): { log: Logger; rpcTimeoutMs: number; replayMarginMs: number } {
    return { log: this.o.log, rpcTimeoutMs: this.o.rpcTimeoutMs, replayMarginMs: this.o.replayMarginMs };
  }

  /**
   * The device's open session, or one established now (shared by concurrent callers; bound to the driver's life and
   * the first caller's deadline; each caller waits on its own signal). `need`: what the pool may close to make room.
   */
  ensure(l: DeviceLink, signal: AbortSignal, need: SlotNeed, o: EnsureOptions = {}): Promise<DeviceSession> {
    const open = l.open();
    if (open) return Promise.resolve(open);
    if (!l.connecting) {
      l.connecting = this.establish(l, need, o).finally(() => {
        l.connecting = undefined;
      });
    } else if (need === 'rpc') {
      void this.pool.acquire(l, 'rpc', this.closeCtl.signal).catch(() => undefined); // upgrades a waiting re-open
    }
    return raceSignal(l.connecting, signal);
  }

  /** a pool slot, then connect + subscribe, retrying transient failures; giving up names the attempts and the last error */
  private async establish(l: DeviceLink, need: SlotNeed, o: EnsureOptions): Promise<DeviceSession> {
    const signal = this.closeCtl.signal;
    const gen = l.generation;
    try {
      await this.slot(l, need, o.deadline);
    } catch (e) {
      throw signal.aborted ? closedError() : e;
    }
    try {
      return await this.connectRetrying(l, gen, o);
    } catch (e) {
      if (l.session === undefined) this.pool.release(l);
      throw e;
    }
  }

  /**
   * The link's pool slot; the wait ends when the driver closes or the device no longer needs a session. (Not
   * AbortSignal.any: on Node 20 the combined signals stay referenced by the long-lived close signal.)
   */
  private async slot(l: DeviceLink, need: SlotNeed, deadline: number | undefined): Promise<void> {
    const ctl = new AbortController();
    const stop = (): void => ctl.abort();
    const { signal } = this.closeCtl;
    l.slotWait ??= new AbortController();
    const wait = l.slotWait.signal;
    signal.addEventListener('abort', stop, { once: true });
    wait.addEventListener('abort', stop, { once: true });
    if (signal.aborted || wait.aborted) ctl.abort();
    try {
      await this.pool.acquire(l, need, ctl.signal, deadline);
    } finally {
      signal.removeEventListener('abort', stop);
      wait.removeEventListener('abort', stop);
      // the wait is over (one establishment per device at a time: l.connecting): the link keeps no controller
      // after it (one per device touched, ~0.5 KB with its signal, grew with the devices updated)
      if (l.slotWait?.signal === wait) l.slotWait = undefined;
    }
  }

  private async connectRetrying(l: DeviceLink, gen: number, o: EnsureOptions): Promise<DeviceSession> {
    const signal = this.closeCtl.signal;
    const deadline = o.deadline;
    const retry = o.tries !== undefined ? { ...this.o.retry, attempts: o.tries } : this.o.retry;
    let made = 0;
    try {
      const s = await retryTransient({
        attempt: (remaining) => {
          made++;
          return this.attempt(l, gen, remaining === undefined ? this.o.connectTimeoutMs : Math.min(this.o.connectTimeoutMs, remaining), o.subscribe === true);
        },
        transient: (e) => !signal.aborted && retriable(e),
        onTransient: (e, n) => this.o.log.debug('connect attempt failed', { henbId: l.henbId, attempt: n, code: (e as { code?: unknown }).code }),
        options: retry, signal, ...(deadline !== undefined ? { deadline } : {}),
      });
      if (made > 1) this.o.log.info('device session established after retries', { henbId: l.henbId, attempts: made });
      return s;
    } catch (e) {
      if (signal.aborted) throw closedError();
      if (e instanceof RetryExhausted) throw exhausted(l.henbId, e, deadline);
      throw e instanceof HsvError ? e : new DeviceDriverError('ERR_DEVICE_UNREACHABLE', `cannot reach ${l.henbId}`, { cause: e });
    }
  }

  private async attempt(l: DeviceLink, gen: number, budgetMs: number, subscribeAnyway: boolean): Promise<DeviceSession> {
    const signal = this.closeCtl.signal;
    const s = await this.o.connect(l.entry, { timeoutMs: budgetMs, signal });
    if (gen !== l.generation || this.closed) {
      void s.close();
      throw new DeviceDriverError('ERR_DEVICE_CLOSED', 'the device entry changed or the driver closed');
    }
    // a job waits for a completion (a re-open, a resume): subscribe with the replay before anything else
    const subscribing = l.awaiting.size > 0 || subscribeAnyway;
    if (subscribing) await subscribe(l, s, signal, this.ctx());
    l.session = s;
    l.subscribed = subscribing;
    l.since = Date.now();
    l.droppedAt = undefined;
    void this.watch(l, s);
    this.settle(l);
    return s;
  }

  /** read the session's notifications; when it ends, its slot returns and a job still waiting gets a re-open */
  private async watch(l: DeviceLink, s: DeviceSession): Promise<void> {
    const gen = l.generation;
    await readNotifications(l, s, this.o.onCompletion, this.o.log);
    // retired, closed, or taken back by the pool (./pool.ts evict: see evicted)
    if (gen !== l.generation || this.closed || l.session !== s) return;
    l.detach();
    this.pool.release(l);
    this.o.log.info('device session ended', { henbId: l.henbId, awaiting: l.awaiting.size });
    if (l.awaiting.size > 0) this.scheduleReconnect(l, 0);
  }

  /** the pool took the slot back (idle expiry, or room for another device's rpc): close; a waiting job gets a re-open */
  private evicted(l: DeviceLink, why: 'idle' | 'room'): Promise<void> {
    const s = l.session;
    if (s === undefined) return Promise.resolve();
    l.detach();
    this.o.log.debug('device session closed by the pool', { henbId: l.henbId, why, awaiting: l.awaiting.size });
    if (l.awaiting.size > 0) this.scheduleReconnect(l, 0);
    return s.close().catch(() => undefined);
  }

  /** the n-th background reconnect (no jitter needed: one timer per device), while a job waits for a completion */
  scheduleReconnect(l: DeviceLink, n: number): void {
    if (this.closed || l.reconnectTimer) return;
    if (n >= this.o.reconnectAttempts) {
      this.o.log.warn('giving up reconnecting', { henbId: l.henbId });
      return;
    }
    l.reconnectTimer = setTimeout(() => {
      l.reconnectTimer = undefined;
      if (this.closed || l.open() || l.awaiting.size === 0) return;
      this.ensure(l, this.closeCtl.signal, 'watch', { tries: 1 }).then(
        () => this.o.log.info('device session re-established', { henbId: l.henbId }),
        () => this.scheduleReconnect(l, n + 1));
    }, backoffCap(n, this.o.retry));
  }

  /** the link's entry was replaced or removed: its work stops, its session closes */
  retire(l: DeviceLink): Promise<void> {
    l.generation++;
    if (l.reconnectTimer) clearTimeout(l.reconnectTimer);
    l.reconnectTimer = undefined;
    l.slotWait?.abort();
    const s = l.session;
    l.session = undefined;
    this.pool.release(l);
    return s ? s.close().catch(() => undefined) : Promise.resolve();
  }

  /** stop everything: establishments in flight and waits for a slot fail ERR_DEVICE_CLOSED, sessions close */
  async close(links: Iterable<DeviceLink>): Promise<void> {
    this.closeCtl.abort(closedError());
    this.pool.close(closedError());
    await Promise.all([...links].map((l) => this.retire(l)));
  }
}

function exhausted(henbId: string, e: RetryExhausted, deadline: number | undefined): DeviceDriverError {
  const code = ((e.last as { code?: unknown } | undefined)?.code ?? 'ERR_DEVICE_UNREACHABLE') as DeviceDriverErrorCode;
  const within = deadline !== undefined ? ' within the step\'s deadline' : '';
  return new DeviceDriverError(code, `no session to ${henbId} after ${e.attempts} attempt${e.attempts === 1 ? '' : 's'}${within}; ${e.message}`,
    e.last !== undefined ? { cause: e.last } : undefined);
}

/** `p`, or ERR_DEVICE_ABORTED as soon as the caller's signal aborts (p goes on for the others) */
function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return untilAborted(p, signal, abortedError);
}
