import { describe, expect, it } from 'vitest';
import { compileXsdPattern, YangRegexError } from '../../src/yang/regex.js';

const m = (p: string, s: string): boolean => compileXsdPattern(p).test(s);

describe('XSD patterns as JS regexes (RFC 7950 section 9.4.5)', () => {
  it('anchors implicitly', () => {
    expect(m('[0-9a-f]{64}', 'a'.repeat(64))).toBe(true);
    expect(m('[0-9a-f]{64}', `x${'a'.repeat(64)}`)).toBe(false);
    expect(m('a|b', 'a')).toBe(true);
    expect(m('a|b', 'ab')).toBe(false);
  });
  it('treats ^ and $ as ordinary characters', () => {
    expect(m('^a$', '^a$')).toBe(true);
    expect(m('^a$', 'a')).toBe(false);
  });
  it('handles escaped and literal dashes in classes', () => {
    expect(m('[\\-.0-9A-Z_a-z]+', 'a-b.c_9')).toBe(true);
    expect(m('[a-z-]+', 'a-b')).toBe(true);
    expect(m('[-a]+', '-a')).toBe(true);
    expect(m('[\\-0-9]+', '+1')).toBe(false);
  });
  it("makes '.' exclude only line breaks", () => {
    expect(m('a.c', 'a\u00e9c')).toBe(true);
    expect(m('a.c', 'a\nc')).toBe(false);
  });
  it('supports \\d, \\s, \\p{L}, \\p{N} and XML name escapes', () => {
    expect(m('\\d+', '123')).toBe(true);
    expect(m('\\d+', '12a')).toBe(false);
    expect(m('\\p{L}+\\s\\p{N}', '\u00e9t\u00e9 5')).toBe(true);
    expect(m('\\i\\c*', 'a-b.c')).toBe(true);
    expect(m('\\i\\c*', '1a')).toBe(false);
  });
  it('compiles the ietf-inet-types patterns as libyang does', () => {
    const ipv4 = '(([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])\\.){3}([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])(%[\\p{N}\\p{L}]+)?';
    expect(m(ipv4, '192.0.2.1')).toBe(true);
    expect(m(ipv4, '192.0.2.256')).toBe(false);
    const domain = '((([a-zA-Z0-9_]([a-zA-Z0-9\\-_]){0,61})?[a-zA-Z0-9]\\.)*([a-zA-Z0-9_]([a-zA-Z0-9\\-_]){0,61})?[a-zA-Z0-9]\\.?)|\\.';
    expect(m(domain, 'femto-1.example.net')).toBe(true);
    expect(m(domain, '-bad-.example')).toBe(false);
  });
  it('rejects what it cannot translate with a coded error', () => {
    for (const p of ['[a-z-[aeiou]]', '\\p{IsBasicLatin}', '(?:a)', '[a', 'a\\']) {
      expect(() => compileXsdPattern(p)).toThrow(YangRegexError);
    }
  });
});
