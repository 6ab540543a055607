/**
 * Retry of a PVE request whose connection failed before anything was sent (issue 15: nothing lost to load): TCP
 * refused/reset or a TLS/SSH handshake cut before the request was written is retried with full-jitter exponential
 * backoff (the n-th retry waits uniform [0, min(maxMs, initialMs * 2^n))), within the caller's deadline, and then
 * fails ERR_PVE_UNREACHABLE naming the attempts and the last error. A failure after the request may have reached
 * the PVE (a broken answer, a timeout, an rpc-error or RESTCONF error, a verdict) is never retried: the PVE module
 * does not promise that a repeated integrity-request is harmless. One exception lives in the RESTCONF client
 * (./client.ts staleConnection): a request on a reused keep-alive connection the PVE had already closed, failed
 * before any byte of an answer, is sent once more at once on a new connection (the idle-timeout race).
 */
import type { PveClientErrorCode } from '../oam/index.js';
import { RetryExhausted, retryTransient } from '../retry.js';
import type { RetryOptions } from '../retry.js';

/** makes the client's coded error (./client.ts PveClientError; passed in, so that the client can import this file) */
export type PveErrorFactory = (code: PveClientErrorCode, message: string, cause?: unknown) => Error;

/** base 200 ms, cap 10000 ms, 3 attempts without a deadline (src/retry.ts) */
export type PveRetryOptions = RetryOptions;

/** whether a PVE client error is a connection failure known to have happened before the request was sent */
export function notSent(e: unknown): boolean {
  const x = e as { code?: unknown; notSent?: unknown } | undefined;
  return x?.code === 'ERR_PVE_UNREACHABLE' && x.notSent === true;
}

/** run `attempt` until it succeeds, fails otherwise than notSent(), or the attempts/deadline are used up */
export async function retryUnsent<T>(
  attempt: () => Promise<T>, o: PveRetryOptions, fail: PveErrorFactory, signal: AbortSignal, what: string, deadline?: number,
): Promise<T> {
  let waiting = false;
  try {
    return await retryTransient({
      attempt: () => {
        waiting = false;
        return attempt();
      },
      transient: (e) => {
        waiting = notSent(e);
        return waiting;
      },
      options: o, signal, ...(deadline !== undefined ? { deadline } : {}),
    });
  } catch (e) {
    if (!(e instanceof RetryExhausted)) {
      // a wait between attempts was aborted; any other error is the attempt's own
      if (waiting) throw fail('ERR_PVE_ABORTED', `${what} was aborted`, e);
      throw e;
    }
    if (e.attempts === 1) throw e.last as Error;
    const within = deadline !== undefined ? ' within the step\'s deadline' : '';
    if (e.attempts === 0) throw fail('ERR_PVE_UNREACHABLE', `${what}: no attempt made: no time left before the deadline`);
    throw fail('ERR_PVE_UNREACHABLE', `${what}: no connection to the PVE after ${e.attempts} attempts${within}; ${e.message}`, e.last);
  }
}
