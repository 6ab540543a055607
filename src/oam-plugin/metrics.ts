/**
 * What the OAM plugin tells the process's metrics (src/metrics; served by `serve` when `metrics:` is set): job
 * results and how long each state lasted, the PVE's latency and errors, southbound device errors, the jobs and
 * notification log in the store (read when scraped), and the readiness checks (store, signing key, PVE).
 * The PveClient and DeviceDriver are wrapped, not changed.
 */
import { connect } from 'node:net';
import type { DeviceDriver, PveClient } from '../oam/index.js';
import { isTerminal, kindOf } from '../oam/index.js';
import type { Job, SavedState } from '../oam/index.js';
import { errorCode } from '../errors.js';
import type { Store } from '../store/index.js';
import { addJobSource, addNotificationLogSource, addReadinessCheck, metrics } from '../metrics/index.js';

/** the PVE client, timed: hsv_pve_request_duration_seconds{result}, hsv_pve_errors_total{code} */
export function measuredPve<P extends PveClient>(pve: P): P {
  return new Proxy(pve, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'integrityRequest' || typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        const end = metrics.pveDuration.startTimer();
        try {
          const r = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          end({ result: 'ok' });
          return r;
        } catch (err) {
          const code = errorCode(err);
          end({ result: code });
          metrics.pveErrors.inc({ code });
          throw err;
        }
      };
    },
  });
}

const DEVICE_OPS = new Set(['softwareUpdate', 'integrityMeasurement', 'rollback', 'resume']);

/** the device driver, counting failures: hsv_device_errors_total{operation, code} */
export function measuredDevices<D extends DeviceDriver>(devices: D): D {
  return new Proxy(devices, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || !DEVICE_OPS.has(prop) || typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        try {
          return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (err) {
          const code = errorCode(err);
          if (code !== 'ERR_DEVICE_ABORTED') metrics.deviceErrors.inc({ operation: prop, code });
          throw err;
        }
      };
    },
  });
}

/**
 * A final job: hsv_job_results_total{kind, outcome} and each state's duration from the job's history: `saved`, its
 * saved states as the runner kept them (OamEvents.result), else (a job resumed or taken over here) its events read
 * from the store (issue 15: that read was ~0.025-0.06 ms of the OAM's main thread per update).
 */
export async function observeResult(store: Store, job: Job, saved?: readonly SavedState[]): Promise<void> {
  const kind = kindOf(job);
  metrics.jobResults.inc({ kind, outcome: job.state });
  observeSteps(kind, saved ?? await store.listJobEvents(job.jobId));
}

/** each state's duration in a job's history (its job events, or the same as the runner kept them), in seconds */
function observeSteps(kind: string, events: readonly SavedState[]): void {
  for (let i = 1; i < events.length; i++) {
    const prev = events[i - 1]!;
    const cur = events[i]!;
    // the time spent in prev.toState until it moved on (a final state's own repeats are not a step)
    if (prev.toState === cur.toState) continue;
    metrics.stepDuration.observe({ kind, state: prev.toState }, Math.max(0, (cur.at - prev.at) / 1000));
  }
}

/** PVE endpoint reachable: a TCP connection to its host and port within the timeout */
function tcpReachable(endpoint: string, timeoutMs = 1500): Promise<string> {
  const url = new URL(endpoint);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 830;
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const t = setTimeout(() => { s.destroy(); reject(new Error(`no TCP connection to ${host}:${port} within ${timeoutMs} ms`)); }, timeoutMs);
    s.once('connect', () => { clearTimeout(t); s.destroy(); resolve(`${host}:${port} accepts connections`); });
    s.once('error', (e: NodeJS.ErrnoException) => { clearTimeout(t); reject(Object.assign(new Error(`${host}:${port}: ${e.code ?? e.message}`), { code: 'ERR_PVE_UNREACHABLE' })); });
  });
}

/**
 * Register the scrape-time sources and readiness checks of one activated plugin; returns the function that
 * removes them (at close).
 */
export function registerPluginMetrics(o: { store: Store; signingKid: string; pveEndpoint?: string }): () => void {
  const removers = [
    addJobSource(async () => {
      const counts = new Map<string, { kind: string; state: string; final: boolean; count: number }>();
      for (const j of await o.store.listJobs<Job>()) {
        // final: the job's final state is stored (the result notification follows it); the record's terminal flag
        // is set only after the outbox (that notification included) is delivered, so it would lag behind
        const final = isTerminal(j.data.state);
        const key = `${j.kind}\u0000${j.state}\u0000${final}`;
        const c = counts.get(key) ?? { kind: j.kind, state: j.state, final, count: 0 };
        c.count++;
        counts.set(key, c);
      }
      return [...counts.values()];
    }),
    addNotificationLogSource(async () => {
      const last = await o.store.lastNotificationId();
      const oldest = (await o.store.listNotifications({ since: 0, limit: 1 }))[0];
      return oldest === undefined ? 0 : last - oldest.id + 1;
    }),
    addReadinessCheck('store', async () => {
      await o.store.getJob('readyz-probe');
      return `${o.store.kind} store answers`;
    }),
    addReadinessCheck('signing-key', async () => `kid ${o.signingKid}`),
    addReadinessCheck('pve', async () => {
      if (o.pveEndpoint === undefined) throw new Error('no pve configured (ERR_OAM_NO_PVE): every update is refused');
      return tcpReachable(o.pveEndpoint);
    }),
  ];
  return () => { for (const r of removers) r(); };
}
