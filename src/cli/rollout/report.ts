/**
 * The rollout report: a JSON file written atomically (temp file + rename) after every device outcome,
 * so a halted or interrupted rollout resumes without redoing finished devices.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HsvError } from '../../errors.js';

/**
 * A device's outcome. `refused` is the PVE's verdict (the H(e)NB is not trusted: no update was sent);
 * `rejected` is the OAM server refusing the request itself (invalid input, unknown H(e)NB, busy): the
 * device was not asked anything.
 */
export const RESULT_STATUSES = ['verified', 'mismatch', 'refused', 'rejected', 'failed', 'timeout'] as const;
export type ResultStatus = (typeof RESULT_STATUSES)[number];

/** what each status means, in tables and the HTML report */
export const STATUS_LABELS: Record<ResultStatus, string> = {
  verified: 'verified',
  mismatch: 'mismatch (TIM differs)',
  refused: 'refused by the PVE',
  rejected: 'rejected: invalid input',
  failed: 'failed',
  timeout: 'timeout',
};

export interface DeviceRecord {
  henbId: string;
  wave: number;
  /** 'started': software-update accepted, result pending (on resume the job is followed, never re-sent) */
  state: 'pending' | 'started' | 'done';
  status?: ResultStatus;
  jobId?: string;
  reason?: string;
  /** the OAM's signed result (compact JWS) */
  token?: string;
  differingComponent?: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface RolloutReport {
  format: 'henb-sw-verify-rollout/1';
  server: string;
  /** SHA256:... of the server's host key, recorded at the first run and pinned on resume */
  hostKey?: string;
  software: { uri: string; version?: string; sha256?: string };
  plan: { waveSize: number; firstWave: number; concurrency: number; maxFailures: number | null; timeoutSec: number };
  /** when the rollout first started (ISO); also the replay start on resume */
  startedAt: string;
  updatedAt: string;
  state: 'running' | 'completed' | 'halted' | 'interrupted';
  haltReason?: string;
  /** set when the rollout was halted by --max-failures (resume needs a higher limit or --retry-failed) */
  haltedBy?: 'threshold';
  devices: DeviceRecord[];
  summary: Record<ResultStatus, number> & { total: number; pending: number };
}

export type RolloutErrorCode = 'ERR_ROLLOUT_REPORT' | 'ERR_ROLLOUT_RESUME' | 'ERR_ROLLOUT_SOFTWARE' | 'ERR_ROLLOUT_SUBSCRIBE' | 'ERR_ROLLOUT_SESSION';

export class RolloutError extends HsvError<RolloutErrorCode> {}

export function summarize(devices: DeviceRecord[]): RolloutReport['summary'] {
  const s = { total: devices.length, pending: 0, verified: 0, mismatch: 0, refused: 0, rejected: 0, failed: 0, timeout: 0 };
  for (const d of devices) {
    if (d.state === 'done' && d.status) s[d.status]++;
    else s.pending++;
  }
  return s;
}

let tmpCounter = 0;

/** Write the report atomically (temp file + rename). Use a ReportWriter when saves may overlap. */
export async function saveReport(file: string, report: RolloutReport): Promise<void> {
  report.updatedAt = new Date().toISOString();
  report.summary = summarize(report.devices);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${++tmpCounter}.tmp`;
  await writeFile(tmp, JSON.stringify(report, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}

export async function loadReport(file: string): Promise<RolloutReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RolloutError('ERR_ROLLOUT_REPORT', `cannot read the rollout report ${file} to resume: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  let data: RolloutReport;
  try {
    data = JSON.parse(text) as RolloutReport;
  } catch (err) {
    throw new RolloutError('ERR_ROLLOUT_REPORT', `the rollout report ${file} is not valid JSON`, { cause: err });
  }
  if (data.format !== 'henb-sw-verify-rollout/1' || !Array.isArray(data.devices) || typeof data.software?.uri !== 'string') {
    throw new RolloutError('ERR_ROLLOUT_REPORT', `${file} is not a henb-sw-verify rollout report (format henb-sw-verify-rollout/1)`);
  }
  return data;
}

/** Serializes saves of one report file, so the last write is always the newest state. */
export class ReportWriter {
  private chain: Promise<void> = Promise.resolve();
  constructor(readonly file: string) {}
  save(report: RolloutReport): Promise<void> {
    const next = this.chain.then(() => saveReport(this.file, report));
    this.chain = next.catch(() => undefined);
    return next;
  }
}
