/**
 * Retry of transient failures with full-jitter exponential backoff (issue 15: nothing lost to load), shared by the
 * device driver (src/device: establishing a session) and the PVE clients (src/pve: a request whose connection failed
 * before it was sent). A leaf: it knows neither transport nor error codes; the caller says what is transient and
 * makes its own coded error of RetryExhausted.
 *
 * The n-th retry (n = 0, 1, ...) waits floor(random() * min(maxMs, initialMs * 2^n)) ms ("full jitter"). With a
 * deadline, no attempt starts at or after it and no wait that would reach it is begun; without one, at most
 * `attempts` (default 3) attempts are made.
 */
export interface RetryOptions {
  /** base of the exponential backoff, ms (default 200) */
  initialMs?: number;
  /** cap of a delay, ms (default 10000) */
  maxMs?: number;
  /** attempts before giving up (default: 3 without a deadline; unbounded, i.e. until the deadline, with one) */
  attempts?: number;
  /** uniform [0, 1) for the jitter (default Math.random; tests inject their own) */
  random?: () => number;
  /** epoch ms now (default Date.now; tests inject their own) */
  now?: () => number;
  /** wait ms, or reject when the signal aborts (default: abortableSleep; tests inject their own, no real sleeping) */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** the wait before the n-th retry (n from 0): uniform [0, min(maxMs, initialMs * 2^n)), whole ms */
export function fullJitterDelay(n: number, o: Pick<RetryOptions, 'initialMs' | 'maxMs' | 'random'> = {}): number {
  const cap = Math.min(o.maxMs ?? 10_000, (o.initialMs ?? 200) * 2 ** Math.min(Math.max(0, n), 52));
  return Math.floor((o.random ?? Math.random)() * cap);
}

/** the cap of the n-th wait without jitter: min(maxMs, initialMs * 2^n) (a single background timer needs no jitter) */
export function backoffCap(n: number, o: Pick<RetryOptions, 'initialMs' | 'maxMs'> = {}): number {
  return Math.min(o.maxMs ?? 10_000, (o.initialMs ?? 200) * 2 ** Math.min(Math.max(0, n), 52));
}

/**
 * Wait `ms`; reject with the signal's reason (not node's AbortError) when it aborts, so that a caller's coded
 * abort reason (e.g. ERR_DEVICE_CLOSED) reaches its caller unchanged. Written on the global setTimeout rather than
 * node:timers/promises: tests that fake the clock (vi.useFakeTimers) fake the global timers only.
 */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** attempts and time used up while every failure was transient */
export class RetryExhausted extends Error {
  constructor(
    /** attempts made (0: the deadline had passed before the first) */
    readonly attempts: number,
    /** the last attempt's error (undefined when none was made) */
    readonly last: unknown,
  ) {
    super(last === undefined ? 'no time left before the deadline' : `last error: ${(last as Error).message ?? String(last)}`);
    this.name = 'RetryExhausted';
  }
}

export interface RetryRun<T> {
  /** one attempt; `remainingMs` is the time left before the deadline (undefined without one) */
  attempt: (remainingMs: number | undefined) => Promise<T>;
  /** whether a failure may be retried (everything else is thrown at once, unchanged) */
  transient: (e: unknown) => boolean;
  options?: RetryOptions;
  /** aborts a wait between attempts (the sleep's rejection is thrown unchanged) */
  signal: AbortSignal;
  /** epoch ms */
  deadline?: number;
  /** called after a transient failure (for logging) */
  onTransient?: (e: unknown, attempt: number) => void;
}

/** Run `attempt` until it succeeds, fails otherwise than transient, or the attempts or the deadline are used up (RetryExhausted). */
export async function retryTransient<T>(run: RetryRun<T>): Promise<T> {
  const o = run.options ?? {};
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? abortableSleep;
  const tries = o.attempts !== undefined ? Math.max(1, o.attempts) : run.deadline !== undefined ? Number.POSITIVE_INFINITY : 3;
  let last: unknown;
  let made = 0;
  for (let i = 0; i < tries; i++) {
    if (i > 0) {
      const wait = fullJitterDelay(i - 1, o);
      if (run.deadline !== undefined && now() + wait >= run.deadline) break;
      await sleep(wait, run.signal);
    }
    const remaining = run.deadline !== undefined ? run.deadline - now() : undefined;
    if (remaining !== undefined && remaining <= 0) break;
    made++;
    try {
      return await run.attempt(remaining);
    } catch (e) {
      if (!run.transient(e)) throw e;
      last = e;
      run.onTransient?.(e, made);
    }
  }
  throw new RetryExhausted(made, last);
}
