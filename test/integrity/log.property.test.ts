import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ZERO_DIGEST, compareLogs, extend, replayLog } from '../../src/integrity/index.js';
import type { MeasurementEntry } from '../../src/integrity/index.js';

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const names = ['bootloader', 'kernel', 'rootfs', 'config', 'dtb', 'modem-fw'];
const log = fc.uniqueArray(fc.constantFrom(...names), { minLength: 1, maxLength: names.length })
  .chain((comps) => fc.tuple(...comps.map((c) => hex64.map((digest): MeasurementEntry => ({ component: c, digest })))));

describe('measurement log properties', () => {
  it('replay equals the fold of extend, and a log matches itself', () => {
    fc.assert(fc.property(log, (entries) => {
      expect(replayLog(null, entries)).toBe(entries.reduce((v, e) => extend(v, e.digest), ZERO_DIGEST));
      const r = compareLogs(entries, entries);
      expect(r.match).toBe(true);
      expect(r.firstMismatch).toBeNull();
    }), { numRuns: 200 });
  });
  it('changing one digest changes the replayed value and names exactly that component', () => {
    fc.assert(fc.property(log, fc.nat(), hex64, (entries, at, other) => {
      const i = at % entries.length;
      fc.pre(other !== entries[i]?.digest);
      const reported = entries.map((e, j) => (j === i ? { ...e, digest: other } : e));
      expect(replayLog(null, reported)).not.toBe(replayLog(null, entries));
      const r = compareLogs(entries, reported);
      expect(r.firstMismatch).toBe(entries[i]?.component);
      expect(r.firstMismatchReason).toBe('digest');
      expect(r.components.filter((c) => c.status !== 'match')).toHaveLength(1);
    }), { numRuns: 200 });
  });
});
