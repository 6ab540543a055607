/** Tables for rollout results (shared by `rollout` and `demo`). */
import type { Colors } from '../color.js';
import { formatTable } from '../table.js';
import { RESULT_STATUSES } from './report.js';
import type { ResultStatus, RolloutReport } from './report.js';

export function colourStatus(c: Colors, s: ResultStatus | string): string {
  return s === 'verified' ? c.green(s) : s === 'refused' || s === 'timeout' ? c.yellow(s) : s === 'pending' ? c.dim(s) : c.red(s);
}

export function summaryTable(report: RolloutReport, c: Colors): string {
  const rows = RESULT_STATUSES.map((s) => [colourStatus(c, s), String(report.summary[s])]);
  if (report.summary.pending > 0) rows.push([c.dim('pending'), String(report.summary.pending)]);
  rows.push([c.bold('total'), String(report.summary.total)]);
  return formatTable([{ header: 'status' }, { header: 'devices', align: 'right' }], rows);
}

export function deviceTable(report: RolloutReport, c: Colors, opts: { expected?: Map<string, string> } = {}): string {
  const cols = [{ header: 'henb-id' }, { header: 'wave', align: 'right' as const }, { header: 'status' }];
  if (opts.expected) cols.push({ header: 'expected' });
  cols.push({ header: 'job-id' }, { header: 'reason' });
  const rows = report.devices.map((d) => {
    const status = d.state === 'done' ? (d.status as string) : d.state;
    const row = [d.henbId, String(d.wave), colourStatus(c, status)];
    if (opts.expected) {
      const exp = opts.expected.get(d.henbId) ?? '-';
      row.push(exp === status ? exp : c.red(exp));
    }
    const reason = [d.reason, d.differingComponent ? `component ${d.differingComponent}` : undefined].filter(Boolean).join('; ');
    row.push(d.jobId ?? '-', reason.length > 70 ? reason.slice(0, 67) + '...' : reason);
    return row;
  });
  return formatTable(cols, rows);
}
