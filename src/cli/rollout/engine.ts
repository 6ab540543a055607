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

/** --retry-failed: devices whose earlier outcome was not verified are pending again */
function resetFailed(report: RolloutReport): void {
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

/** One run of a rollout: its devices one at a time per worker, and why it stopped early (if it did). */
class RolloutRun {
  /** the session to the server was lost (the outcome of a device is unknown) */
  lost: string | undefined;
  /** an error the same for every device (FATAL_FOR_ALL) */
  fatal: unknown;

  constructor(private readonly report: RolloutReport, private readonly target: RolloutTarget, private readonly hooks: RolloutHooks, private readonly opts: RunOptions) {}

  overThreshold(): boolean {
    const max = this.report.plan.maxFailures;
    return max !== null && failures(this.report) > max;
  }

  /** may another device start? */
  private going(): boolean {
    return !this.opts.signal.aborted && this.lost === undefined && this.fatal === undefined && !this.overThreshold();
  }

  /** the devices of one wave not done yet, `concurrency` at a time */
  async runWave(wave: number): Promise<void> {
    const todo = this.report.devices.filter((d) => d.wave === wave && d.state !== 'done');
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < todo.length && this.going()) {
        const d = todo[next++] as DeviceRecord;
        await this.runDevice(d);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.report.plan.concurrency, todo.length) }, worker));
  }

  private async finish(d: DeviceRecord, r: DeviceResult): Promise<void> {
    d.state = 'done';
    d.status = r.status;
    if (r.jobId) d.jobId = r.jobId;
    if (r.reason !== undefined) d.reason = r.reason;
    else delete d.reason;
    if (r.token) d.token = r.token;
    if (r.differingComponent) d.differingComponent = r.differingComponent;
    d.finishedAt = new Date().toISOString();
    await this.hooks.onChange(this.report, d);
  }

  /** start (unless a resume follows a started job) and wait, within the device's time limit */
  private async runDevice(d: DeviceRecord): Promise<void> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error('device timeout')), this.opts.deviceTimeoutMs);
    const onAbort = () => ac.abort(this.opts.signal.reason);
    this.opts.signal.addEventListener('abort', onAbort, { once: true });
    try {
      let jobId = d.state === 'started' ? d.jobId : undefined;
      if (!jobId) {
        d.startedAt = new Date().toISOString();
        const started = await this.target.start(d.henbId, ac.signal);
        if ('status' in started) return await this.finish(d, started);
        jobId = started.jobId;
        d.state = 'started';
        d.jobId = jobId;
        await this.hooks.onChange(this.report, d);
      }
      await this.finish(d, await this.target.wait(d.henbId, jobId, ac.signal));
    } catch (err) {
      await this.failed(d, err, ac.signal.aborted);
    } finally {
      clearTimeout(timer);
      this.opts.signal.removeEventListener('abort', onAbort);
    }
  }

  /** a device whose start or wait threw: interrupted, fatal for all, session lost, or failed / timed out */
  private async failed(d: DeviceRecord, err: unknown, timedOut: boolean): Promise<void> {
    if (this.opts.signal.aborted) return; // interrupted: the device stays pending/started for resume
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && FATAL_FOR_ALL.has(code)) {
      this.fatal ??= err;
      if (d.state === 'pending') delete d.startedAt;
      return;
    }
    if (typeof code === 'string' && CONNECTION_LOST.has(code)) {
      this.lost ??= `lost the session to the server (${code}) at ${d.henbId}`;
      return; // outcome unknown: the device stays pending/started for resume
    }
    const msg = err instanceof Error ? err.message : String(err);
    await this.finish(d, { status: timedOut ? 'timeout' : 'failed', ...(d.jobId ? { jobId: d.jobId } : {}), reason: timedOut ? `no result within ${Math.round(this.opts.deviceTimeoutMs / 1000)} s` : msg });
  }

  /** after a wave: stop here (halted, interrupted) or go on (true); a fatal error is rethrown */
  afterWave(wave: number): boolean {
    const { report } = this;
    if (this.fatal !== undefined) {
      report.state = 'halted';
      report.haltReason = this.fatal instanceof Error ? this.fatal.message : String(this.fatal);
      throw this.fatal;
    }
    if (this.opts.signal.aborted || this.lost !== undefined) {
      report.state = 'interrupted';
      if (this.lost !== undefined) report.haltReason = this.lost;
      return false;
    }
    if (this.overThreshold()) {
      report.state = 'halted';
      report.haltedBy = 'threshold';
      report.haltReason = `after wave ${wave}: ${failures(report)} device(s) did not verify (--max-failures ${report.plan.maxFailures})`;
      return false;
    }
    return true;
  }
}

/** Run (or resume) a rollout. Resolves with the report in its final state. */
export async function runRollout(report: RolloutReport, target: RolloutTarget, hooks: RolloutHooks, opts: RunOptions): Promise<RolloutReport> {
  if (opts.retryFailed) resetFailed(report);
  report.state = 'running';
  delete report.haltReason;
  delete report.haltedBy;
  const run = new RolloutRun(report, target, hooks, opts);
  const waves = [...new Set(report.devices.map((d) => d.wave))].sort((a, b) => a - b);
  for (const wave of waves) {
    await run.runWave(wave);
    if (!run.afterWave(wave)) return report;
  }
  report.state = 'completed';
  return report;
}
