/**
 * checkValue and canonical on the edges issue 15 touched in src/yang/value.ts: integers read as numbers up to 15
 * digits and as bigints beyond (bounds and ranges compared exactly either way), XML whitespace trimmed only when
 * there is some, lengths counted in code points without an array, lengths of binary values.
 */
import { describe, expect, it } from 'vitest';
import { canonical, checkValue } from '../../src/yang/value.js';
import type { Builtin, Restriction, YType } from '../../src/yang/schema.js';

const ctx = { modules: new Map() };
const type = (base: Builtin, more: Partial<YType> = {}): YType => ({ base, name: more.name ?? base, lengths: [], ranges: [], patterns: [], ...more });
const restriction = (lo: bigint, hi: bigint, text: string): Restriction => ({ intervals: [{ lo, hi }], text });

describe('integers', () => {
  it('bounds at the edges of int64 and uint64 (beyond 15 digits: bigint)', () => {
    expect(checkValue(type('int64'), '9223372036854775807', ctx)).toBeUndefined();
    expect(checkValue(type('int64'), '-9223372036854775808', ctx)).toBeUndefined();
    expect(checkValue(type('int64'), '9223372036854775808', ctx)).toEqual({ message: '9223372036854775808 is out of the bounds of int64 (int64)' });
    expect(checkValue(type('uint64'), '18446744073709551616', ctx)).toEqual({ message: '18446744073709551616 is out of the bounds of uint64 (uint64)' });
    expect(checkValue(type('uint32'), '999999999999999', ctx)).toEqual({ message: '999999999999999 is out of the bounds of uint32 (uint32)' });
    expect(checkValue(type('uint32'), '4294967295', ctx)).toBeUndefined();
  });
  it('a range bound beyond 2^53 compares exactly with a 15- and a 16-digit value', () => {
    const t = type('uint64', { name: 'big', ranges: [restriction(9007199254740993n, 18446744073709551615n, '9007199254740993..max')] });
    expect(checkValue(t, '9007199254740992', ctx)).toEqual({ message: '9007199254740992 is not in the range 9007199254740993..max of big' });
    expect(checkValue(t, '9007199254740993', ctx)).toBeUndefined();
    expect(checkValue(t, '999999999999999', ctx)).toEqual({ message: '999999999999999 is not in the range 9007199254740993..max of big' });
  });
  it('XML whitespace around, a sign, -0; the message quotes the value as written', () => {
    const t = type('int8', { name: 'small', ranges: [restriction(-5n, 5n, '-5..5')] });
    expect(checkValue(t, ' \t+5\r\n', ctx)).toBeUndefined();
    expect(checkValue(type('uint8'), '-0', ctx)).toBeUndefined();
    expect(checkValue(t, ' 6 ', ctx)).toEqual({ message: '6 is not in the range -5..5 of small' });
    expect(checkValue(t, ' 1 2 ', ctx)).toEqual({ message: '" 1 2 " is not a valid int8 (small)' });
    expect(checkValue(t, '\u00a05', ctx)).toEqual({ message: '"\u00a05" is not a valid int8 (small)' });
    expect(checkValue(t, '', ctx)).toEqual({ message: '"" is not a valid int8 (small)' });
  });
  it('canonical forms: no sign, no leading zeros, whitespace gone, exact beyond 2^53', () => {
    expect(canonical(type('int64'), ' +007 ')).toBe('7');
    expect(canonical(type('int64'), '-0')).toBe('0');
    expect(canonical(type('uint64'), '18446744073709551615')).toBe('18446744073709551615');
    expect(canonical(type('uint64'), '0009007199254740993')).toBe('9007199254740993');
    expect(canonical(type('int8'), 'x')).toBe('x');
    expect(canonical(type('string'), ' a ')).toBe(' a ');
  });
});

describe('lengths', () => {
  const t = type('string', { name: 's', lengths: [restriction(2n, 3n, '2..3')] });
  it('strings: code points, a surrogate pair counting once and a lone surrogate once', () => {
    expect(checkValue(t, '\u{1F600}\u{1F600}', ctx)).toBeUndefined();
    expect(checkValue(t, '\u{1F600}', ctx)).toEqual({ message: 'string "\u{1F600}" has length 1, not in 2..3' });
    expect(checkValue(t, '\uDC00\uD800', ctx)).toBeUndefined();
    expect(checkValue(t, 'ab\uD800', ctx)).toBeUndefined();
    expect(checkValue(t, 'abcd', ctx)).toEqual({ message: 'string "abcd" has length 4, not in 2..3' });
  });
  it("a restriction's error-message and error-app-tag replace the default", () => {
    const m = type('string', { name: 's', lengths: [{ ...restriction(1n, 1n, '1'), message: 'one character', appTag: 'too-long' }] });
    expect(checkValue(m, 'ab', ctx)).toEqual({ message: 'one character', appTag: 'too-long' });
  });
  it('binary: the length in octets', () => {
    const b = type('binary', { name: 'b', lengths: [restriction(2n, 3n, '2..3')] });
    expect(checkValue(b, 'AAA=', ctx)).toBeUndefined();
    expect(checkValue(b, 'AA==', ctx)).toEqual({ message: 'binary value "AA==" has length 1, not in 2..3' });
  });
});
