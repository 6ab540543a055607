/** Resolves when `signal` is aborted (at once when it already is): how commands wait for SIGINT/SIGTERM. */
export function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
