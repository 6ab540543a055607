import { describe, expect, it } from 'vitest';
import { isValidRange, parseVersion, satisfies } from '../../src/plugin/semver.js';

describe('semver range check', () => {
  const table: Array<[string, string, boolean]> = [
    ['1.0.0', '^1.0.0', true],
    ['1.9.3', '^1.0.0', true],
    ['2.0.0', '^1.0.0', false],
    ['0.9.9', '^1.0.0', false],
    ['0.2.5', '^0.2.3', true],
    ['0.3.0', '^0.2.3', false],
    ['0.0.3', '^0.0.3', true],
    ['0.0.4', '^0.0.3', false],
    ['1.2.9', '~1.2.3', true],
    ['1.3.0', '~1.2.3', false],
    ['1.4.0', '>=1.2.0 <2.0.0', true],
    ['2.0.0', '>=1.2.0 <2.0.0', false],
    ['1.5.0', '1.x', true],
    ['2.0.0', '1.x', false],
    ['1.2.7', '1.2.*', true],
    ['3.1.0', '*', true],
    ['1.0.0', '=1.0.0', true],
    ['1.0.1', '1.0.0', false],
    ['2.5.0', '^1.0.0 || ^2.0.0', true],
    ['3.0.0', '^1.0.0 || ^2.0.0', false],
    ['1.5.0', '1.0.0 - 2.0.0', true],
    ['2.0.1', '1.0.0 - 2.0.0', false],
    ['2.9.0', '<=2', true],
    ['3.0.0', '<=2', false],
    ['1.3.0', '>1.2', true],
    ['1.2.9', '>1.2', false],
  ];
  it.each(table)('%s in %s -> %s', (version, range, expected) => {
    expect(satisfies(version, range)).toBe(expected);
  });

  it('refuses malformed versions and ranges', () => {
    expect(parseVersion('1.0')).toBeUndefined();
    expect(parseVersion('01.0.0')).toBeUndefined();
    expect(isValidRange('^one')).toBe(false);
    expect(isValidRange('>=1.0.0 <2')).toBe(true);
    expect(satisfies('1.0.0', 'banana')).toBe(false);
    expect(satisfies('banana', '*')).toBe(false);
  });
});
