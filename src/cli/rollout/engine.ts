/**
 * The rollout engine: waves of devices, a concurrency limit inside a wave, and a failure threshold
 * (canary) that stops starting devices once more than `maxFailures` did not verify; devices in flight
 * finish, then the rollout is `halted`. Every outcome is saved before the next device starts, and a
 * resumed rollout skips finished devices and follows started ones (it never re-sends an update).
 * Transport-free: the NETCONF side is the `RolloutTarget` (./netconf-target.ts).
 */
import type { DeviceRecord, ResultStatus, RolloutReport } from './report.js';
import type { Logger } from '../../log/logger.js';

export interface DeviceResult {
  status: ResultStatus;
  jobId?: string;
  reason?: string;
  token?: string;
  differingComponent?: string;
}

export interface RolloutTarget {
  /**
   * Start the update of one device. Resolves with the job id once the server accepted it, or with a
   * final result when it refused it at once.
   */
  start(henbId: string, signal: AbortSignal): Promise<{ jobId: string } | DeviceResult>;
  /** Wait for the final result of a started job (bounded by the signal). */
  wait(henbId: string, jobId: string, signal: AbortSignal): Promise<DeviceResult>;
}

/** what the NETCONF side of a rollout offers (./netconf-target.ts, loaded by the rollout and demo commands) */
export interface RolloutConnection extends RolloutTarget {
  /** SHA256:... of the server's host key */
  readonly fingerprint: string;
  /** henb-ids in the server's inventory */
  inventory(signal: AbortSignal): Promise<string[]>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  host: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: string;
  /** pinned SHA256:... fingerprint; undefined accepts any key (and reports it) */
  hostKey?: string;
  software: RolloutReport['software'];
  selfCheck?: boolean;
  /** replay results from this time (resume: results that arrived while we were away) */
  replayFrom?: Date;
  log: Logger;
  signal: AbortSignal;
}

export interface RolloutHooks {
  /** after every state change of a device (persist the report here) */
  onChange(report: RolloutReport, device: DeviceRecord): Promise<void> | void;
}

export interface RunOptions {
  /** per-device limit in ms (start + wait); a device that exceeds it is `timeout` */
  deviceTimeoutMs: number;
  /** aborts the rollout: nothing new starts, in-flight waits are cancelled (state `interrupted`) */
  signal: AbortSignal;
  /** redo devices whose earlier outcome was not verified */
  retryFailed?: boolean;
}

/** Split devices into waves: the first wave (canary) of `firstWave`, then waves of `waveSize`. */
export function planWaves(henbs: string[], waveSize: number, firstWave: number): DeviceRecord[] {
  const out: DeviceRecord[] = [];
  let wave = 1;
  let inWave = 0;
  for (const henbId of henbs) {
    const limit = wave === 1 ? firstWave : waveSize;
    if (inWave >= limit) {
      wave++;
      inWave = 0;
    }
    out.push({ henbId, wave, state: 'pending' });
    inWave++;
  }
  return out;
}

/**
 * Errors that mean "the session to the server is gone": the device's outcome is unknown, so it is not
 * recorded as failed; the rollout stops as `interrupted` and a resume follows the device's job.
 */
export const CONNECTION_LOST = new Set(['ERR_ROLLOUT_SESSION', 'ERR_SESSION_CLOSED', 'ERR_NETCONF_CLIENT_CONNECT']);

/**
 * Errors that are the same for every device (the server refused the software itself: no scheme, outside
 * its file root): nothing new starts, the device stays pending, and runRollout rethrows the error once.
 */
export const FATAL_FOR_ALL = new Set(['ERR_ROLLOUT_SOFTWARE']);

export function failures(report: RolloutReport): number {
  return report.devices.filter((d) => d.state === 'done' && d.status !== 'verified').length;
}

/** Run (or resume) a rollout. Resolves with the report in its final state. */
export async function runRollout(report: RolloutReport, target: RolloutTarget, hooks: RolloutHooks, opts: RunOptions): Promise<RolloutReport> {
  if (opts.retryFailed) {
    for (const d of report.devices) {
      if (d.state === 'done' && d.status !== 'verified') {
        d.state = 'pending';
        delete d.status;
        delete d.jobId;
        delete d.reason;
        delete d.token;
        delete d.differingComponent;
        delete d.finishedAt;
      }
    }
  }
  report.state = 'running';
  delete report.haltReason;
  delete report.haltedBy;
  const max = report.plan.maxFailures;
  let lost: string | undefined;
  let fatal: unknown;
  const overThreshold = () => max !== null && failures(report) > max;
  const waves = [...new Set(report.devices.map((d) => d.wave))].sort((a, b) => a - b);

  const finish = async (d: DeviceRecord, r: DeviceResult): Promise<void> => {
    d.state = 'done';
    d.status = r.status;
    if (r.jobId) d.jobId = r.jobId;
    if (r.reason !== undefined) d.reason = r.reason;
    else delete d.reason;
    if (r.token) d.token = r.token;
    if (r.differingComponent) d.differingComponent = r.differingComponent;
    d.finishedAt = new Date().toISOString();
    await hooks.onChange(report, d);
  };

  const runDevice = async (d: DeviceRecord): Promise<void> => {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error('device timeout')), opts.deviceTimeoutMs);
    const onAbort = () => ac.abort(opts.signal.reason);
    opts.signal.addEventListener('abort', onAbort, { once: true });
    try {
      let jobId = d.state === 'started' ? d.jobId : undefined;
      if (!jobId) {
        d.startedAt = new Date().toISOString();
        const started = await target.start(d.henbId, ac.signal);
        if ('status' in started) return await finish(d, started);
        jobId = started.jobId;
        d.state = 'started';
        d.jobId = jobId;
        await hooks.onChange(report, d);
      }
      await finish(d, await target.wait(d.henbId, jobId, ac.signal));
    } catch (err) {
      if (opts.signal.aborted) return; // interrupted: the device stays pending/started for resume
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && FATAL_FOR_ALL.has(code)) {
        fatal ??= err;
        if (d.state === 'pending') delete d.startedAt;
        return;
      }
      if (typeof code === 'string' && CONNECTION_LOST.has(code)) {
        lost ??= `lost the session to the server (${code}) at ${d.henbId}`;
        return; // outcome unknown: the device stays pending/started for resume
      }
      const msg = err instanceof Error ? err.message : String(err);
      const timedOut = ac.signal.aborted;
      await finish(d, { status: timedOut ? 'timeout' : 'failed', ...(d.jobId ? { jobId: d.jobId } : {}), reason: timedOut ? `no result within ${Math.round(opts.deviceTimeoutMs / 1000)} s` : msg });
    } finally {
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
    }
  };

  for (const wave of waves) {
    const todo = report.devices.filter((d) => d.wave === wave && d.state !== 'done');
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < todo.length && !opts.signal.aborted && lost === undefined && fatal === undefined && !overThreshold()) {
        const d = todo[next++] as DeviceRecord;
        await runDevice(d);
      }
    };
    await Promise.all(Array.from({ length: Math.min(report.plan.concurrency, todo.length) }, worker));
    if (fatal !== undefined) {
      report.state = 'halted';
      report.haltReason = fatal instanceof Error ? fatal.message : String(fatal);
      throw fatal;
    }
    if (opts.signal.aborted || lost !== undefined) {
      report.state = 'interrupted';
      if (lost !== undefined) report.haltReason = lost;
      return report;
    }
    if (overThreshold()) {
      report.state = 'halted';
      report.haltedBy = 'threshold';
      report.haltReason = `after wave ${wave}: ${failures(report)} device(s) did not verify (--max-failures ${max})`;
      return report;
    }
  }
  report.state = 'completed';
  return report;
}
