/**
 * The sessions of the driver's devices (LinkSessions): one establishment at a time per device (retried with
 * full-jitter backoff within the caller's deadline, src/retry.ts), the subscription on each new session
 * (./subscription.ts), the reading of its notifications, and a background reconnect (with replay) when a session
 * drops while a job waits for a completion.
 */
import { setMaxListeners } from 'node:events';
import { HsvError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { DeviceDriverErrorCode } from '../oam/index.js';
import { RetryExhausted, backoffCap, retryTransient } from '../retry.js';
import type { RetryOptions } from '../retry.js';
import type { DeviceConnector, DeviceSession } from './connect.js';
import { DeviceDriverError, abortedError, closedError, retriable } from './driver-error.js';
import type { DeviceLink } from './link.js';
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
}

export class LinkSessions {
  private readonly closeCtl = new AbortController();

  constructor(private readonly o: LinkSessionsOptions) {
    setMaxListeners(0, this.closeCtl.signal); // every device's connect in flight listens on it (removed when it settles): no leak
  }

  get closed(): boolean {
    return this.closeCtl.signal.aborted;
  }

  /**
   * The device's open session, or one established now (shared by concurrent callers; bound to the driver's life and
   * the first caller's deadline; each caller waits on its own signal). `tries` caps the attempts (default: the retry
   * options' cap, else 3 without a deadline and unbounded with one).
   */
  ensure(l: DeviceLink, signal: AbortSignal, tries?: number, deadline?: number): Promise<DeviceSession> {
    const open = l.open();
    if (open) return Promise.resolve(open);
    if (!l.connecting) {
      l.connecting = this.establish(l, tries, deadline).finally(() => {
        l.connecting = undefined;
      });
    }
    return raceSignal(l.connecting, signal);
  }

  /** connect + subscribe, retrying transient failures; giving up names the attempts and the last error */
  private async establish(l: DeviceLink, tries: number | undefined, deadline: number | undefined): Promise<DeviceSession> {
    const signal = this.closeCtl.signal;
    const gen = l.generation;
    const retry = tries !== undefined ? { ...this.o.retry, attempts: tries } : this.o.retry;
    let made = 0;
    try {
      const s = await retryTransient({
        attempt: (remaining) => {
          made++;
          return this.attempt(l, gen, remaining === undefined ? this.o.connectTimeoutMs : Math.min(this.o.connectTimeoutMs, remaining));
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

  private async attempt(l: DeviceLink, gen: number, budgetMs: number): Promise<DeviceSession> {
    const signal = this.closeCtl.signal;
    const s = await this.o.connect(l.entry, { timeoutMs: budgetMs, signal });
    if (gen !== l.generation || this.closed) {
      void s.close();
      throw new DeviceDriverError('ERR_DEVICE_CLOSED', 'the device entry changed or the driver closed');
    }
    await subscribe(l, s, signal, { log: this.o.log, rpcTimeoutMs: this.o.rpcTimeoutMs });
    l.session = s;
    l.since = Date.now();
    l.droppedAt = undefined;
    void this.watch(l, s);
    return s;
  }

  /** read the session's notifications; when it ends, reconnect if a job still waits for a completion */
  private async watch(l: DeviceLink, s: DeviceSession): Promise<void> {
    const gen = l.generation;
    await readNotifications(l, s, this.o.onCompletion, this.o.log);
    if (gen !== l.generation || this.closed) return;
    if (l.session === s) {
      l.session = undefined;
      l.coveredFrom = undefined;
      l.since = undefined;
    }
    l.droppedAt = new Date();
    this.o.log.info('device session ended', { henbId: l.henbId, awaiting: l.awaiting.size });
    if (l.awaiting.size > 0) this.scheduleReconnect(l, 0);
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
      this.ensure(l, this.closeCtl.signal, 1).then(
        () => this.o.log.info('device session re-established', { henbId: l.henbId }),
        () => this.scheduleReconnect(l, n + 1));
    }, backoffCap(n, this.o.retry));
  }

  /** the link's entry was replaced or removed: its work stops, its session closes */
  retire(l: DeviceLink): Promise<void> {
    l.generation++;
    if (l.reconnectTimer) clearTimeout(l.reconnectTimer);
    l.reconnectTimer = undefined;
    const s = l.session;
    l.session = undefined;
    return s ? s.close().catch(() => undefined) : Promise.resolve();
  }

  /** stop everything: establishments in flight fail ERR_DEVICE_CLOSED, sessions close */
  async close(links: Iterable<DeviceLink>): Promise<void> {
    this.closeCtl.abort(closedError());
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
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(abortedError(signal));
    const onAbort = (): void => reject(abortedError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then((v) => {
      signal.removeEventListener('abort', onAbort);
      resolve(v);
    }, (e: unknown) => {
      signal.removeEventListener('abort', onAbort);
      reject(e as Error);
    });
  });
}
