import { describe, expect, it } from 'vitest';
import { ZERO_DIGEST, compareLogs, extend, replayLog, replayLogByPcr, sha256Hex } from '../../src/integrity/index.js';
import type { MeasurementEntry } from '../../src/integrity/index.js';

const d = (s: string): string => sha256Hex(s);
const LOG: MeasurementEntry[] = [
  { component: 'bootloader', digest: d('bl-1') },
  { component: 'kernel', digest: d('k-1') },
  { component: 'rootfs', digest: d('rfs-1') },
  { component: 'config', digest: d('cfg-1') },
];

describe('replayLog', () => {
  it('equals the extend chain of the digests in order', () => {
    let v = ZERO_DIGEST;
    for (const e of LOG) v = extend(v, e.digest);
    expect(replayLog(ZERO_DIGEST, LOG)).toBe(v);
    expect(replayLog(null, LOG)).toBe(v);
    expect(replayLog(ZERO_DIGEST, [])).toBe(ZERO_DIGEST);
  });
  it('sorts by order when every entry has one', () => {
    const shuffled = [LOG[2], LOG[0], LOG[3], LOG[1]].map((e) => ({ ...(e as MeasurementEntry), order: LOG.indexOf(e as MeasurementEntry) }));
    expect(replayLog(null, shuffled)).toBe(replayLog(null, LOG));
  });
  it('refuses malformed logs with ERR_INTEGRITY_LOG', () => {
    const bad: unknown[] = [
      [{ component: '', digest: d('x') }],
      [{ component: 'a', digest: 'xyz' }],
      [{ component: 'a', digest: d('x'), order: 1 }, { component: 'b', digest: d('y') }],
      [{ component: 'a', digest: d('x'), order: 1 }, { component: 'b', digest: d('y'), order: 1 }],
      [{ component: 'a', digest: d('x'), pcr: 99 }],
      [null],
    ];
    for (const b of bad) {
      expect(() => replayLog(null, b as MeasurementEntry[])).toThrow(expect.objectContaining({ code: 'ERR_INTEGRITY_LOG' }));
    }
  });
  it('replays PCRs separately', () => {
    const m = replayLogByPcr([
      { component: 'a', digest: d('a'), pcr: 0 },
      { component: 'b', digest: d('b'), pcr: 7 },
      { component: 'c', digest: d('c'), pcr: 0 },
    ]);
    expect(m.get(0)).toBe(extend(extend(ZERO_DIGEST, d('a')), d('c')));
    expect(m.get(7)).toBe(extend(ZERO_DIGEST, d('b')));
  });
});

describe('compareLogs', () => {
  it('matches identical logs', () => {
    const r = compareLogs(LOG, LOG.map((e) => ({ ...e, digest: e.digest.toUpperCase() })));
    expect(r.match).toBe(true);
    expect(r.firstMismatch).toBeNull();
    expect(r.components.map((c) => c.status)).toEqual(['match', 'match', 'match', 'match']);
  });
  it('names the component whose digest differs (bad install of the rootfs)', () => {
    const reported = LOG.map((e) => (e.component === 'rootfs' ? { ...e, digest: d('rfs-evil') } : e));
    const r = compareLogs(LOG, reported);
    expect(r.match).toBe(false);
    expect(r.firstMismatch).toBe('rootfs');
    expect(r.firstMismatchReason).toBe('digest');
    expect(r.components.find((c) => c.component === 'rootfs')).toEqual({
      component: 'rootfs', status: 'mismatch', expected: d('rfs-1'), reported: d('rfs-evil'),
    });
  });
  it('names the first of several differences in log order', () => {
    const reported = LOG.map((e) => (e.component === 'kernel' || e.component === 'config' ? { ...e, digest: d('other') } : e));
    expect(compareLogs(LOG, reported).firstMismatch).toBe('kernel');
  });
  it('names an inserted unexpected component and a missing one', () => {
    const inserted = [LOG[0], { component: 'implant', digest: d('evil') }, ...LOG.slice(1)] as MeasurementEntry[];
    const r1 = compareLogs(LOG, inserted);
    expect([r1.firstMismatch, r1.firstMismatchReason]).toEqual(['implant', 'unexpected']);
    expect(r1.components.at(-1)).toEqual({ component: 'implant', status: 'unexpected', reported: d('evil') });
    const r2 = compareLogs(LOG, LOG.filter((e) => e.component !== 'kernel'));
    expect([r2.firstMismatch, r2.firstMismatchReason]).toEqual(['kernel', 'missing']);
  });
  it('detects a reordering even when every digest matches', () => {
    const r = compareLogs(LOG, [LOG[1], LOG[0], LOG[2], LOG[3]] as MeasurementEntry[]);
    expect(r.match).toBe(false);
    expect(r.firstMismatchReason).toBe('order');
    expect(r.firstMismatch).toBe('kernel');
    expect(replayLog(null, [LOG[1], LOG[0], LOG[2], LOG[3]] as MeasurementEntry[])).not.toBe(replayLog(null, LOG));
  });
  it('matches repeated components by occurrence', () => {
    const a = [{ component: 'config', digest: d('1') }, { component: 'config', digest: d('2') }];
    const b = [{ component: 'config', digest: d('1') }, { component: 'config', digest: d('3') }];
    const r = compareLogs(a, b);
    expect(r.components.map((c) => c.status)).toEqual(['match', 'mismatch']);
    expect(r.firstMismatch).toBe('config');
  });
});
