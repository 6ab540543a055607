/** The compiler's small pure parts: element bounds, list keys, unique statements. */
import { describe, expect, it } from 'vitest';
import { elementBounds, listKeys, uniqueSpec } from '../../src/yang/compile.js';

describe('compile parts', () => {
  it('min/max-elements: 0 and Infinity by default, unbounded is Infinity', () => {
    expect(elementBounds(undefined, undefined)).toEqual({ min: 0, max: Infinity });
    expect(elementBounds('2', 'unbounded')).toEqual({ min: 2, max: Infinity });
    expect(elementBounds('1', '5')).toEqual({ min: 1, max: 5 });
  });

  it('key: the leaf names, any whitespace, prefixes dropped', () => {
    expect(listKeys('a  p:b\n c')).toEqual(['a', 'b', 'c']);
    expect(listKeys(undefined)).toEqual([]);
    expect(listKeys('')).toEqual([]);
  });

  it('unique: each descendant path as steps, prefixes dropped', () => {
    expect(uniqueSpec('ip p:port  x:a/y:b')).toEqual([['ip'], ['port'], ['a', 'b']]);
    expect(uniqueSpec(undefined)).toEqual([]);
  });
});
