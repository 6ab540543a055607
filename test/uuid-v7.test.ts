// UUID version 7 (RFC 9562 section 5.7): the job ids the OAM makes, ordered by the time they were made.
import { describe, expect, it } from 'vitest';
import { uuidV7 } from '../src/uuid-v7.js';

const FORM = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidV7', () => {
  it('has the form of RFC 9562: version 7, variant 10, the time in its first 48 bits', () => {
    const t = Date.UTC(2026, 11, 7, 18, 0, 0, 123);
    const id = uuidV7(t);
    expect(id).toMatch(FORM);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(t);
    // the example of RFC 9562 appendix A.6: 2022-02-22 19:22:22 UTC is 017f22e2-79b0-7...
    expect(uuidV7(0x017f22e279b0).startsWith('017f22e2-79b0-7')).toBe(true);
  });

  it('ids of a later millisecond sort after earlier ones, as text; within one they differ', () => {
    const ids: string[] = [];
    for (let ms = 0; ms < 50; ms++) for (let i = 0; i < 20; i++) ids.push(uuidV7(1_765_000_000_000 + ms));
    const firstOf = (ms: number): string[] => ids.slice(ms * 20, ms * 20 + 20);
    for (let ms = 1; ms < 50; ms++) expect(firstOf(ms).every((b) => firstOf(ms - 1).every((a) => a < b))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('74 random bits: across 3,000 ids of one millisecond each random bit is set about half the time', () => {
    const n = 3000;
    const ones = new Array<number>(128).fill(0);
    for (let i = 0; i < n; i++) {
      const bits = BigInt(`0x${uuidV7(1_765_000_000_000).replace(/-/g, '')}`);
      for (let b = 0; b < 128; b++) if ((bits >> BigInt(b)) & 1n) ones[b]!++;
    }
    // bit 0 is the last; random: 0-61 (rand_b) and 64-75 (rand_a); fixed: 62-63 variant, 76-79 version, 80-127 time
    const random = [...Array.from({ length: 62 }, (_, b) => b), ...Array.from({ length: 12 }, (_, b) => 64 + b)];
    for (const b of random) expect(ones[b]! / n).toBeGreaterThan(0.4);
    for (const b of random) expect(ones[b]! / n).toBeLessThan(0.6);
    expect([ones[63], ones[62]]).toEqual([n, 0]);
    expect([ones[79], ones[78], ones[77], ones[76]]).toEqual([0, n, n, n]);
  });
});
