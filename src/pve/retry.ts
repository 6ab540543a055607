/**
 * Retry of a PVE request whose connection failed before anything was sent (issue 15: nothing lost to load): TCP
 * refused/reset or a TLS/SSH handshake cut before the request was written is retried with full-jitter exponential
 * backoff (the n-th retry waits uniform [0, min(maxMs, initialMs * 2^n))), within the caller's deadline, and then
 * fails ERR_PVE_UNREACHABLE naming the attempts and the last error. A failure after the request may have reached
 * the PVE (a broken answer, a timeout, an rpc-error or RESTCONF error, a verdict) is never retried: the PVE module
 * does not promise that a repeated integrity-request is harmless.
 */
import type { PveClientErrorCode } from '../oam/index.js';

/** makes the client's coded error (./client.ts PveClientError; passed in, so that the client can import this file) */
export type PveErrorFactory = (code: PveClientErrorCode, message: string, cause?: unknown) => Error;

export interface PveRetryOptions {
  /** base of the backoff, ms (default 200) */
  initialMs?: number;
  /** cap of a delay, ms (default 10000) */
  maxMs?: number;
  /** attempts cap (default: 3 without a deadline, unbounded with one) */
  attempts?: number;
  random?: () => number;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** whether a PVE client error is a connection failure known to have happened before the request was sent */
export function notSent(e: unknown): boolean {
  const x = e as { code?: unknown; notSent?: unknown } | undefined;
  return x?.code === 'ERR_PVE_UNREACHABLE' && x.notSent === true;
}

function timerSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** run `attempt` until it succeeds, fails otherwise than notSent(), or the attempts/deadline are used up */
export async function retryUnsent<T>(
  attempt: () => Promise<T>, o: PveRetryOptions, fail: PveErrorFactory, signal: AbortSignal, what: string, deadline?: number,
): Promise<T> {
  const initialMs = o.initialMs ?? 200;
  const maxMs = o.maxMs ?? 10_000;
  const random = o.random ?? Math.random;
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? timerSleep;
  const cap = o.attempts ?? (deadline !== undefined ? Number.POSITIVE_INFINITY : 3);
  let last: unknown;
  let made = 0;
  for (let i = 0; i < cap; i++) {
    if (i > 0) {
      const wait = Math.floor(random() * Math.min(maxMs, initialMs * 2 ** Math.min(i - 1, 52)));
      if (deadline !== undefined && now() + wait >= deadline) break;
      try {
        await sleep(wait, signal);
      } catch (e) {
        throw fail('ERR_PVE_ABORTED', `${what} was aborted`, e);
      }
    }
    made++;
    try {
      return await attempt();
    } catch (e) {
      if (!notSent(e)) throw e;
      last = e;
    }
  }
  if (made === 1) throw last as Error;
  throw fail('ERR_PVE_UNREACHABLE',
    `${what}: no connection to the PVE after ${made} attempts${deadline !== undefined ? ' within the step\'s deadline' : ''}; last error: ${(last as Error).message}`,
    last);
}
