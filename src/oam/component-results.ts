/**
 * Per-component results of a software update whose device sent its measurement log: the log expected after the
 * update (the reference or pre-update log with the updated component's new digest) against the reported one.
 */
import { rebootLogAfterUpdate } from '../integrity/index.js';
import type { ComponentResult } from '../tokens/index.js';
import type { MeasurementLogEntry } from './ports.js';
import type { Job } from './transition.js';

/** Per-component results when the device sent a log (expected = reference/prefix + updated component). */
export function componentResults(job: Job): ComponentResult[] | undefined {
  const log = job.completion?.measurementLog;
  if (log === undefined || log.length === 0 || job.softwareRim === undefined) return undefined;
  return compareLogs(expectedLog(job, log, job.softwareRim), log);
}

/**
 * The log the device should report: live activation appends the software RIM to the pre-update log (or to the
 * reported log's prefix without one); a rebooted device has the updated component replaced (not appended).
 */
function expectedLog(job: Job, log: MeasurementLogEntry[], softwareRim: string): MeasurementLogEntry[] {
  const pre = job.preLog ?? job.referenceLog;
  const live = [...(pre ?? log.slice(0, -1)), { component: job.updatedComponent, digest: softwareRim }];
  const activation = job.completion?.activation;
  if (pre === undefined || !(activation === 'reboot' || (activation === undefined && log.length === pre.length))) return live;
  try {
    return rebootLogAfterUpdate(pre, job.updatedComponent, softwareRim);
  } catch {
    return live; // no place for the component in the old log: compared with the live expectation
  }
}

/** entry by entry: match, mismatch, missing (expected, not reported) or unexpected (reported, not expected) */
export function compareLogs(expected: MeasurementLogEntry[], log: MeasurementLogEntry[]): ComponentResult[] {
  const out: ComponentResult[] = [];
  const n = Math.max(expected.length, log.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const a = log[i];
    if (e === undefined && a !== undefined) out.push({ component: a.component, status: 'unexpected', reported: a.digest });
    else if (a === undefined && e !== undefined) out.push({ component: e.component, status: 'missing', expected: e.digest });
    else if (a !== undefined && e !== undefined) {
      out.push({ component: e.component, status: a.component === e.component && a.digest === e.digest ? 'match' : 'mismatch', expected: e.digest, reported: a.digest });
    }
  }
  return out;
}
