/** Resolves when `signal` is aborted (at once when it already is): how commands wait for SIGINT/SIGTERM. */
export function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * `p`, or the error `aborted(signal)` makes as soon as `signal` aborts (at once when it already has): the caller stops
 * waiting, and `p` goes on for its other waiters (a shared read, a shared session).
 */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal, aborted: (signal: AbortSignal) => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(aborted(signal));
      return;
    }
    const onAbort = (): void => reject(aborted(signal));
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
