// issue 14: rollout tables fit 80 columns; a long reason wraps onto more lines and is never cut.
import { describe, expect, it } from 'vitest';
import { formatTable, wrapText } from '../../src/cli/table.js';
import { deviceTable, reasonOf, summaryTable } from '../../src/cli/rollout/render.js';
import { colors } from '../../src/cli/color.js';
import { summarize } from '../../src/cli/rollout/report.js';
import type { RolloutReport } from '../../src/cli/rollout/report.js';

const reason = 'component rootfs measured d52d7c3789d8956d5952de7e55590a0221cce8d1003c8e39f68add64557796b6, expected the software RIM c22ae39a7da467944534982cd032db3da55e0941dc1e5d48cf865cdc49c3c66a';

describe('tables', () => {
  it('wrapText breaks at spaces and splits a word longer than the width', () => {
    expect(wrapText('aa bb cc', 5)).toEqual(['aa bb', 'cc']);
    expect(wrapText('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });

  it('a wrap column keeps every line within maxWidth and keeps the whole text', () => {
    const out = formatTable([{ header: 'id' }, { header: 'reason', wrap: true }], [['bad-install-1', reason]], { maxWidth: 80 });
    for (const l of out.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
    expect(out.replace(/\s+/g, '')).toContain(reason.replace(/\s+/g, ''));
  });

  it('the rollout device table fits 80 columns; the summary tells PVE refusals from rejected input', () => {
    const devices: RolloutReport['devices'] = [
      { henbId: 'bad-install-1', wave: 1, state: 'done', status: 'mismatch', jobId: 'job-3455aa11-2222-3333-4444-555566667777', reason },
      { henbId: 'compromised-1', wave: 2, state: 'done', status: 'refused', reason: 'PVE verdict contraindicated: H(e)NB not trusted' },
      { henbId: 'ghost-1', wave: 2, state: 'done', status: 'rejected', reason: 'rpc-error invalid-value (unknown-henb): no H(e)NB ghost-1' },
    ];
    const report = { devices, summary: summarize(devices) } as RolloutReport;
    const table = deviceTable(report, colors(false));
    for (const l of table.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
    expect(table).toContain('job-3455 ');
    const summary = summaryTable(report, colors(false));
    expect(summary).toMatch(/^refused +1 +by the PVE$/m);
    expect(summary).toMatch(/^rejected +1 +invalid input$/m);
  });

  it('a device\'s reason names the differing component once: appended only when the reason does not name it', () => {
    const base = { henbId: 'bad-install-1', wave: 1, state: 'done', status: 'mismatch', differingComponent: 'rootfs' } as const;
    expect(reasonOf({ ...base, reason })).toBe(reason);
    expect(reasonOf({ ...base, reason }).match(/component rootfs/g)).toHaveLength(1);
    expect(reasonOf({ ...base, reason: 'H(e)NB self-check failed' })).toBe('H(e)NB self-check failed; component rootfs');
    // another component with the same prefix is not this one
    expect(reasonOf({ ...base, reason: 'component rootfs2 is missing from the measurement log' })).toBe('component rootfs2 is missing from the measurement log; component rootfs');
    expect(reasonOf(base)).toBe('component rootfs');
  });
});
