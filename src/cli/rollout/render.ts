/** Tables for rollout results (shared by `rollout` and `demo`): they fit 80 columns; reasons wrap, never cut. */
import type { Colors } from '../color.js';
import { formatTable } from '../table.js';
import { RESULT_STATUSES, STATUS_LABELS } from './report.js';
import type { DeviceRecord, ResultStatus, RolloutReport } from './report.js';

export function colourStatus(c: Colors, s: ResultStatus | string): string {
  return s === 'verified' ? c.green(s) : s === 'refused' || s === 'rejected' || s === 'timeout' ? c.yellow(s) : s === 'pending' || s === 'started' ? c.dim(s) : c.red(s);
}

export function summaryTable(report: RolloutReport, c: Colors): string {
  const rows = RESULT_STATUSES.map((s) => [colourStatus(c, s), String(report.summary[s] ?? 0), STATUS_LABELS[s] === s ? '' : STATUS_LABELS[s].replace(/^\S+\s*/, '')]);
  if (report.summary.pending > 0) rows.push([c.dim('pending'), String(report.summary.pending), 'not finished (resume with --resume)']);
  rows.push([c.bold('total'), String(report.summary.total), '']);
  return formatTable([{ header: 'status' }, { header: 'devices', align: 'right' }, { header: 'meaning' }], rows);
}

/** does the reason already name `component <name>` (the OAM's step-9 reasons do)? */
export function namesComponent(reason: string | undefined, component: string): boolean {
  if (reason === undefined) return false;
  const at = reason.indexOf(`component ${component}`);
  const after = reason.charAt(at + `component ${component}`.length);
  return at >= 0 && !/[\w.-]/.test(after);
}

/** the full reason of a device's outcome (the differing component appended, unless the reason names it already) */
export function reasonOf(d: DeviceRecord): string {
  const named = d.differingComponent !== undefined && namesComponent(d.reason, d.differingComponent);
  return [d.reason, d.differingComponent && !named ? `component ${d.differingComponent}` : undefined].filter(Boolean).join('; ');
}

/** job ids are shown by their first 8 characters (the full id is in the JSON report) */
export function shortJob(jobId: string | undefined): string {
  return jobId === undefined ? '-' : jobId.length > 8 ? jobId.slice(0, 8) : jobId;
}

export function deviceTable(report: RolloutReport, c: Colors, opts: { expected?: Map<string, string>; maxWidth?: number } = {}): string {
  const cols: Array<{ header: string; align?: 'right'; wrap?: boolean }> = [{ header: 'henb-id' }, { header: 'wave', align: 'right' }, { header: 'status' }];
  if (opts.expected) cols.push({ header: 'expected' });
  cols.push({ header: 'job' }, { header: 'reason', wrap: true });
  const rows = report.devices.map((d) => {
    const status = d.state === 'done' ? (d.status as string) : d.state;
    const row = [d.henbId, String(d.wave), colourStatus(c, status)];
    if (opts.expected) {
      const exp = opts.expected.get(d.henbId) ?? '-';
      row.push(exp === status ? exp : c.red(exp));
    }
    row.push(shortJob(d.jobId), reasonOf(d));
    return row;
  });
  return formatTable(cols, rows, opts.maxWidth !== undefined ? { maxWidth: opts.maxWidth } : {});
}
