/**
 * Job retention (config `store.job-retention`, days): final jobs older than that go from the store with their
 * events and result tokens (Store.pruneJobs), together with expired nonces and jtis (Store.purgeExpired). Runs at
 * activation and then every hour; several instances on one database may run it at once (each statement is
 * idempotent). Active jobs and the H(e)NB records (RIM, state, last result token) are never pruned.
 */
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/index.js';

export const DEFAULT_JOB_RETENTION_DAYS = 90;
const DAY_MS = 86_400_000;

export interface Retention {
  /** one pass now: how many jobs and expired nonces/jtis went */
  run(): Promise<{ jobs: number; expired: number }>;
  close(): void;
}

export function startRetention(o: { store: Store; days: number; log: Logger; intervalMs?: number; now?: () => number }): Retention {
  const now = o.now ?? Date.now;
  let running: Promise<{ jobs: number; expired: number }> | undefined;
  const run = (): Promise<{ jobs: number; expired: number }> => {
    running ??= (async () => {
      try {
        const t = now();
        const jobs = await o.store.pruneJobs(t - o.days * DAY_MS);
        const expired = await o.store.purgeExpired(t);
        if (jobs > 0) o.log.info('job retention: final jobs pruned', { jobs, olderThanDays: o.days });
        return { jobs, expired };
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => {
    run().catch((err: unknown) => o.log.warn('job retention failed', { err }));
  }, o.intervalMs ?? 3_600_000);
  timer.unref();
  return { run, close: () => clearInterval(timer) };
}
