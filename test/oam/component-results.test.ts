/** Per-component results (src/oam/component-results.ts): what the signed final result says per measured component. */
import { describe, expect, it } from 'vitest';
import { compareLogs, componentResults } from '../../src/oam/component-results.js';
import { BASE_LOG, GOOD_LOG, SW_RIM, h, jobIn } from './helpers.js';

const completed = (log: typeof GOOD_LOG, activation?: 'live' | 'reboot') => jobIn('verified', {
  referenceLog: BASE_LOG,
  completion: { status: 'completed', tim: 'x', measurementLog: log, ...(activation !== undefined ? { activation } : {}) },
});

describe('componentResults', () => {
  it('live activation: the reference log plus the updated component, every entry a match', () => {
    const r = componentResults(completed(GOOD_LOG, 'live'))!;
    expect(r.map((c) => c.status)).toEqual(['match', 'match', 'match', 'match', 'match']);
    expect(r[4]).toEqual({ component: 'rootfs', status: 'match', expected: SW_RIM, reported: SW_RIM });
  });

  it('a rebooted device: the updated component is replaced in place, not appended', () => {
    const rebooted = BASE_LOG.map((e) => (e.component === 'rootfs' ? { ...e, digest: SW_RIM } : e));
    expect(componentResults(completed(rebooted, 'reboot'))!.map((c) => c.status)).toEqual(['match', 'match', 'match', 'match']);
    // no activation reported, same length as the reference: read as a reboot
    expect(componentResults(completed(rebooted))!.map((c) => c.status)).toEqual(['match', 'match', 'match', 'match']);
  });

  it('names the component that differs, and what is missing or unexpected', () => {
    const bad = [...BASE_LOG.slice(0, 1), { component: 'kernel', digest: h('evil') }, ...BASE_LOG.slice(2)];
    const r = componentResults(completed(bad, 'live'))!;
    expect(r[1]).toEqual({ component: 'kernel', status: 'mismatch', expected: h('kernel'), reported: h('evil') });
    expect(r[4]).toEqual({ component: 'rootfs', status: 'missing', expected: SW_RIM });
    expect(compareLogs([], [{ component: 'x', digest: h('x') }])).toEqual([{ component: 'x', status: 'unexpected', reported: h('x') }]);
  });

  it('none without a reported log or a software RIM', () => {
    expect(componentResults(jobIn('verified'))).toBeUndefined();
    expect(componentResults(completed([], 'live'))).toBeUndefined();
    expect(componentResults({ ...completed(GOOD_LOG, 'live'), softwareRim: undefined })).toBeUndefined();
  });
});
