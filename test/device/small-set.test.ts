/**
 * SmallSet (src/device/small-set.ts): the per-device job-id sets of the driver, without a Set while empty or holding
 * one id (issue 15). Same answers as a Set, insertion order kept through the changes of form.
 */
import { describe, expect, it } from 'vitest';
import { SmallSet } from '../../src/device/small-set.js';

describe('SmallSet', () => {
  it('answers like a Set through empty, one id and several', () => {
    const s = new SmallSet();
    expect(s.size).toBe(0);
    expect(s.has('a')).toBe(false);
    expect(s.delete('a')).toBe(false);
    expect(s.oldest()).toBeUndefined();
    s.add('a').add('a');
    expect(s.size).toBe(1);
    expect(s.has('a')).toBe(true);
    expect(s.delete('b')).toBe(false);
    s.add('b').add('c');
    expect([...s]).toEqual(['a', 'b', 'c']);
    expect(s.oldest()).toBe('a');
    expect(s.delete('a')).toBe(true);
    expect(s.delete('c')).toBe(true);
    // back to one id, then empty
    expect([...s]).toEqual(['b']);
    expect(s.oldest()).toBe('b');
    expect(s.delete('b')).toBe(true);
    expect(s.size).toBe(0);
    expect([...s]).toEqual([]);
  });

  it('keeps the same members and order as a Set under a bounded sequence of adds and deletes', () => {
    const s = new SmallSet();
    const ref = new Set<string>();
    // a fixed pseudo-random sequence (no Math.random: the same every run)
    let x = 12345;
    for (let i = 0; i < 2000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const id = `j${x % 5}`;
      if (x % 3 === 0) expect(s.delete(id)).toBe(ref.delete(id));
      else {
        s.add(id);
        ref.add(id);
      }
      expect([...s]).toEqual([...ref]);
      expect(s.size).toBe(ref.size);
      expect(s.oldest()).toBe(ref.values().next().value);
    }
  });
});
