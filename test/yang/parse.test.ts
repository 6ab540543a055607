import { describe, expect, it } from 'vitest';
import { parseYang, YangParseError } from '../../src/yang/parse.js';

describe('parseYang (RFC 7950 section 6)', () => {
  it('parses statements, arguments and blocks', () => {
    const m = parseYang('module m { namespace "urn:m"; prefix m; leaf x { type string; } }');
    expect(m.keyword).toBe('module');
    expect(m.arg).toBe('m');
    expect(m.subs.map((s) => s.keyword)).toEqual(['namespace', 'prefix', 'leaf']);
    expect(m.subs[2]!.subs[0]).toMatchObject({ keyword: 'type', arg: 'string' });
  });

  it('keeps single-quoted strings literally and concatenates with +', () => {
    const m = parseYang(`module m { pattern '[\\-a-z]+\\.x' + "y"
      + 'z'; }`);
    expect(m.subs[0]!.arg).toBe('[\\-a-z]+\\.xyz');
  });

  it('applies double-quote escapes and trims continuation-line indentation', () => {
    const m = parseYang('module m {\n  description\n    "first line\n     second \\"q\\"\\n\\tend  \n     third";\n}');
    expect(m.subs[0]!.arg).toBe('first line\nsecond "q"\n\tend\nthird');
  });

  it('skips comments but not // inside strings', () => {
    const m = parseYang('module m { // c\n /* block\n comment */ contact "http://x//y"; }');
    expect(m.subs[0]!.arg).toBe('http://x//y');
  });

  it('reports line numbers of errors with a coded error', () => {
    const bad = ['module m { leaf x { type string; }', 'module m { leaf "x }', 'module m { description "\\q"; }', 'leaf x;', 'module m { } extra;'];
    for (const t of bad) {
      expect(() => parseYang(t, 'f.yang')).toThrow(YangParseError);
    }
    try {
      parseYang('module m {\n leaf x {\n type string\n }\n}', 'f.yang');
    } catch (e) {
      expect((e as YangParseError).code).toBe('ERR_YANG_PARSE');
      expect((e as Error).message).toMatch(/^f\.yang:\d+:/);
    }
  });
});
