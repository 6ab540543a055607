/**
 * The outcomes kept for repeated integrity requests (issue 15: nothing lost to load): the same key and digest get the
 * first outcome (while it runs, and once done), another digest does not; memory bounded by the window and a count,
 * also under a flood of distinct requests.
 */
import { describe, expect, it } from 'vitest';
import { RequestOutcomes } from '../../src/pve/request-outcomes.js';

describe('RequestOutcomes', () => {
  it('the same key and digest: the first outcome, running or done; another digest: other; unknown key: none', async () => {
    const o = new RequestOutcomes<string>({ windowMs: 1_000, max: 10, now: () => 0 });
    let settle!: (v: string) => void;
    const first = new Promise<string>((r) => { settle = r; });
    o.keep('c\0h\0n', 'd1', first);
    expect(o.find('c\0h\0n', 'd1')).toBe(first); // joined while it runs
    settle('token');
    await expect(o.find('c\0h\0n', 'd1')).resolves.toBe('token');
    expect(o.find('c\0h\0n', 'd2')).toBe('other');
    expect(o.find('c2\0h\0n', 'd1')).toBeUndefined();
  });

  it('forgets an outcome after the window, counted from when it was kept', () => {
    let now = 5_000;
    const o = new RequestOutcomes<string>({ windowMs: 300_000, max: 10, now: () => now });
    const p = Promise.resolve('t');
    o.keep('k', 'd', p);
    now += 299_999;
    expect(o.find('k', 'd')).toBe(p);
    now += 1;
    expect(o.find('k', 'd')).toBeUndefined();
    expect(o.size).toBe(0);
  });

  it('keeps at most max outcomes (the oldest forgotten first), also under a flood of distinct requests', () => {
    const o = new RequestOutcomes<number>({ windowMs: 3_600_000, max: 100, now: () => 0 });
    for (let i = 0; i < 10_000; i++) o.keep(`k${i}`, 'd', Promise.resolve(i));
    expect(o.size).toBe(100);
    expect(o.find('k9899', 'd')).toBeUndefined();
    expect(o.find('k9900', 'd')).toBeDefined();
  });

  it('forget drops the key only while it still holds that outcome', () => {
    const o = new RequestOutcomes<string>({ windowMs: 1_000, max: 10, now: () => 0 });
    const a = Promise.resolve('a');
    const b = Promise.resolve('b');
    o.keep('k', 'd', a);
    o.forget('k', b);
    expect(o.find('k', 'd')).toBe(a);
    o.forget('k', a);
    expect(o.find('k', 'd')).toBeUndefined();
  });

  it('refuses a window or count that would keep nothing', () => {
    expect(() => new RequestOutcomes({ windowMs: 0, max: 1 })).toThrow(RangeError);
    expect(() => new RequestOutcomes({ windowMs: 1, max: 0 })).toThrow(RangeError);
  });
});
