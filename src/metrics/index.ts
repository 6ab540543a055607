/**
 * Prometheus metrics of one henb-sw-verify process (prom-client): one registry, the instruments the layers above
 * feed, and the readiness checks /readyz runs. A leaf: it imports no layer of ours. The HTTP endpoint that
 * serves it (config `metrics: {listen}`) is src/cli/metrics-server.ts.
 *
 * Instruments are process-wide, as Prometheus client instruments are: several plugin activations in one
 * process (tests) add to the same series.
 */
import client from 'prom-client';

export const registry = new client.Registry();

const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export const metrics = {
  /** final results of jobs, by kind (software-update, integrity-check) and outcome (verified, mismatch, refused, ...) */
  jobResults: new client.Counter({ name: 'hsv_job_results_total', help: 'Jobs that reached a final state, by kind and outcome', labelNames: ['kind', 'outcome'], registers: [registry] }),
  /** how long each state of a job lasted (pve-requested, fetching, update-sending, awaiting-completion, ...) */
  stepDuration: new client.Histogram({ name: 'hsv_job_step_duration_seconds', help: 'Time a job spent in each state (step), observed when the job ends', labelNames: ['kind', 'state'], buckets: STEP_BUCKETS, registers: [registry] }),
  pveDuration: new client.Histogram({ name: 'hsv_pve_request_duration_seconds', help: 'Integrity requests to the PVE, by result (ok or the error code)', labelNames: ['result'], buckets: STEP_BUCKETS, registers: [registry] }),
  /** operations sent to the PVE (either transport), by operation: the list forms carry several requests or statements each */
  pveOperations: new client.Counter({ name: 'hsv_pve_operations_total', help: 'Operations sent to the PVE (RESTCONF or NETCONF), retries included, by operation (integrity-request, integrity-requests, provide-reference-values, provide-reference-values-list)', labelNames: ['operation'], registers: [registry] }),
  /** the integrity requests and statements those operations carried */
  pveOperationEntries: new client.Counter({ name: 'hsv_pve_operation_entries_total', help: 'Integrity requests and reference-value statements carried by the operations sent to the PVE, by operation', labelNames: ['operation'], registers: [registry] }),
  pveErrors: new client.Counter({ name: 'hsv_pve_errors_total', help: 'Integrity requests to the PVE that failed, by error code', labelNames: ['code'], registers: [registry] }),
  deviceErrors: new client.Counter({ name: 'hsv_device_errors_total', help: 'Southbound (H(e)NB) operations that failed, by operation and error code', labelNames: ['operation', 'code'], registers: [registry] }),
  netconfSessions: new client.Gauge({ name: 'hsv_netconf_sessions', help: 'NETCONF sessions open now', registers: [registry] }),
  netconfSessionsTotal: new client.Counter({ name: 'hsv_netconf_sessions_total', help: 'NETCONF sessions established', registers: [registry] }),
  rpcs: new client.Counter({ name: 'hsv_netconf_rpcs_total', help: 'NETCONF RPCs answered, by operation and error-tag (none for <ok/> or data)', labelNames: ['operation', 'error_tag'], registers: [registry] }),
  /** the SQLite store's WAL checkpointer thread: failed checkpoints, the thread ending (src/store/sqlite-checkpointer.ts) */
  storeCheckpointErrors: new client.Counter({ name: 'hsv_store_checkpoint_errors_total', help: 'SQLite WAL checkpoints in the checkpointer thread that failed, and the thread ending (then SQLite checkpoints on the store connection)', registers: [registry] }),
  /** changes of a followed JWKS file (file: pve.jwks or software.vendor-keys) not used, by reason (missing, unreadable, invalid, empty): the last good keys stay in use */
  jwksFileErrors: new client.Counter({ name: 'hsv_jwks_file_errors_total', help: 'Changes of a JWKS file of the OAM\'s config (file: pve.jwks, software.vendor-keys) that could not be used, by reason (missing, unreadable, invalid, empty); the last good key set stays in use', labelNames: ['file', 'reason'], registers: [registry] }),
  failedLogins: new client.Counter({ name: 'hsv_failed_logins_total', help: 'SSH authentication attempts that failed, by method', labelNames: ['method'], registers: [registry] }),
} as const;

/** gauges read when scraped: the jobs by state, the notification log's size */
export const jobsGauge = new client.Gauge({
  name: 'hsv_jobs', help: 'Jobs in the store by kind, state and whether they are final', labelNames: ['kind', 'state', 'final'], registers: [registry],
  async collect() {
    this.reset();
    for (const source of jobSources) {
      for (const j of await source().catch(() => [])) this.inc({ kind: j.kind, state: j.state, final: String(j.final) }, j.count);
    }
  },
});

export const notificationLogGauge = new client.Gauge({
  name: 'hsv_notification_log_events', help: 'Notifications kept for replay (RFC 5277)', registers: [registry],
  async collect() {
    let n = 0;
    for (const source of logSources) n += await source().catch(() => 0);
    this.set(n);
  },
});

type JobCounts = Array<{ kind: string; state: string; final: boolean; count: number }>;
const jobSources = new Set<() => Promise<JobCounts>>();
const logSources = new Set<() => Promise<number>>();

/** a source of job counts (the OAM plugin's store); returns the function that removes it */
export function addJobSource(fn: () => Promise<JobCounts>): () => void {
  jobSources.add(fn);
  return () => jobSources.delete(fn);
}

/** a source of the notification log size; returns the function that removes it */
export function addNotificationLogSource(fn: () => Promise<number>): () => void {
  logSources.add(fn);
  return () => logSources.delete(fn);
}

/** a readiness check: resolves with a short detail when ready, rejects (or resolves false) when not */
export type ReadinessCheck = () => Promise<string | boolean>;
const readiness = new Map<string, ReadinessCheck>();

/** register a readiness check under a name (store, signing-key, pve, ...); returns the function that removes it */
export function addReadinessCheck(name: string, check: ReadinessCheck): () => void {
  readiness.set(name, check);
  return () => {
    if (readiness.get(name) === check) readiness.delete(name);
  };
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

/** run every readiness check (each bounded by timeoutMs) */
export async function checkReadiness(timeoutMs = 2000): Promise<ReadinessReport> {
  const checks: ReadinessReport['checks'] = {};
  await Promise.all([...readiness.entries()].map(async ([name, check]) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = await Promise.race([check(), new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); })]);
      checks[name] = r === false ? { ok: false } : { ok: true, ...(typeof r === 'string' ? { detail: r } : {}) };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      checks[name] = { ok: false, detail: `${typeof code === 'string' ? `${code}: ` : ''}${err instanceof Error ? err.message : String(err)}` };
    } finally {
      clearTimeout(timer);
    }
  }));
  return { ready: Object.keys(checks).length > 0 && Object.values(checks).every((c) => c.ok), checks };
}

export const METRICS_CONTENT_TYPE = registry.contentType;
