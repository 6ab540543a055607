/**
 * Retry of a PVE integrity request that got no answer because its connection failed (issue 15: nothing lost to
 * load), with full-jitter exponential backoff (the n-th retry waits uniform [0, min(maxMs, initialMs * 2^n))), within
 * the caller's deadline, and then ERR_PVE_UNREACHABLE naming the attempts and the last error. Two failures are
 * retried, each coded by the client that saw it:
 * - notSent: the connection failed before the request was written (TCP refused or reset, a TLS or SSH handshake cut,
 *   or no connection within the client's connect timeout: "timed out connecting");
 * - unanswered: it failed after the request may have reached the PVE and before a whole answer came back (a reset, a
 *   connection or session closed before the answer). The repeat carries the same nonce and body: the PVE answers it
 *   with the first request's outcome (src/pve/request-outcomes.ts: it joins the first while it runs, else returns
 *   the same signed result) instead of appraising again or refusing the relayed nonce as reused. A PVE without that
 *   rule appraises a collected check or a completion again (harmless: the OAM uses its nonce once) and refuses
 *   relayed evidence as nonce-reused (the job fails, as it would have without the retry).
 * Never retried: a timeout after the request was written (ERR_PVE_TIMEOUT: the PVE may still be appraising it, a
 * repeat would only queue more work there), an answer (an rpc-error or RESTCONF error, a verdict), a TLS, host-key
 * or credential failure. The RESTCONF client also sends a request once more at once on a new connection when a reused
 * keep-alive connection turns out closed (./client.ts staleConnection, the idle-timeout race).
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

/** whether a PVE client error is a connection failure after the request may have been sent, before its answer */
export function unanswered(e: unknown): boolean {
  const x = e as { code?: unknown; unanswered?: unknown } | undefined;
  return x?.code === 'ERR_PVE_UNREACHABLE' && x.unanswered === true;
}

/** run `attempt` until it succeeds, fails otherwise than notSent() or unanswered(), or the attempts/deadline are used up */
export async function retryUnanswered<T>(
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
        waiting = notSent(e) || unanswered(e);
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
    const lost = unanswered(e.last) ? 'no answer from' : 'no connection to';
    throw fail('ERR_PVE_UNREACHABLE', `${what}: ${lost} the PVE after ${e.attempts} attempts${within}; ${e.message}`, e.last);
  }
}
