import { describe, expect, it } from 'vitest';
import { compileTexts, YangSchemaError } from '../../src/yang/index.js';
import type { YangValidator } from '../../src/yang/index.js';

const mod = (body: string) => [{ file: 'm.yang', text: `module m { yang-version 1.1; namespace "urn:m"; prefix m; ${body} }` }];

describe('compile errors are coded and located', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['unknown type', 'leaf x { type nope; }', /type 'nope' not found/],
    ['unknown prefix', 'leaf x { type zz:t; }', /unknown prefix 'zz'/],
    ['unknown grouping', 'container c { uses nope; }', /grouping 'nope' not found/],
    ['missing key leaf', 'list l { key k; leaf v { type string; } }', /key leaf k not found/],
    ['config list without key', 'list l { leaf v { type string; } }', /needs a key/],
    ['augment target missing', 'augment "/m:nope" { leaf x { type string; } }', /augment target/],
    ['import not loaded', 'import other { prefix o; } leaf x { type o:t; }', /other is imported but not loaded/],
    ['bad range bound', 'leaf x { type int8 { range "1..z"; } }', /bad bound 'z'/],
    ['decimal64 without fraction-digits', 'leaf x { type decimal64; }', /fraction-digits/],
  ];
  for (const [what, body, msg] of cases) {
    it(what, () => {
      let err: unknown;
      try { compileTexts(mod(body)); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(YangSchemaError);
      expect((err as YangSchemaError).code).toBe('ERR_YANG_SCHEMA');
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).toMatch(/^m\.yang:\d+|module /);
    });
  }
  it('an untranslatable pattern fails the load with ERR_YANG_PATTERN', () => {
    expect(() => compileTexts(mod("leaf x { type string { pattern '\\p{IsBasicLatin}+'; } }"))).toThrow(expect.objectContaining({ code: 'ERR_YANG_PATTERN' }));
  });
  it('a module loaded twice is refused', () => {
    expect(() => compileTexts([...mod(''), ...mod('')])).toThrow(/loaded twice/);
  });
  it('nested typedefs and groupings are scoped; a local grouping shadows nothing outside', () => {
    const y = compileTexts(mod(`
      container a { typedef t { type uint8 { range "1..2"; } } grouping g { leaf x { type t; } } uses g; }
      container b { leaf x { type string; } }`));
    const v: YangValidator = y.validator;
    const cfg = (x: string) => v.validateConfig([{ ns: 'urn:m', name: x.split(':')[0]!, attrs: [], children: [{ ns: 'urn:m', name: 'x', attrs: [], children: [x.split(':')[1]!] }] }]);
    expect(cfg('a:2')).toEqual([]);
    expect(cfg('a:3')[0]!.tag).toBe('invalid-value');
    expect(cfg('b:3')).toEqual([]);
  });
});
