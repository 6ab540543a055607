/**
 * Exact rpc-errors (tag, app-tag, message, error-path and its prefix bindings, error-info) for the places issue 15
 * touched in src/yang/validate.ts and value.ts: paths written only when an error names them (nested lists with key
 * predicates or positions, leaf-list entries, a second module's prefix), the mandatory check from the schema index
 * (chosen case, absent container, config only), patterns (invert-match, a union of patterns), lengths in code
 * points, a leafref's instance. The messages and paths are the ones main gave before the change.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseXml } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import type { RpcErrorInfo } from '../../src/netconf/rpc-error.js';
import type { LoadedYang } from '../../src/yang/index.js';
import { compileTexts } from '../../src/yang/index.js';

const P = 'urn:test:paths';
const X = 'urn:test:paths-ext';
const BASE = 'urn:ietf:params:xml:ns:netconf:base:1.0';

const PATHS = `module paths {
  yang-version 1.1;
  namespace "${P}";
  prefix p;
  revision 2026-12-06;
  typedef code {
    type string {
      pattern '[a-z]+';
      pattern 'x.*' {
        modifier invert-match;
        error-app-tag "no-x";
      }
    }
  }
  container top {
    list outer {
      key "name";
      leaf name { type string; }
      list inner {
        key "a b";
        leaf a { type string; }
        leaf b { type uint8; }
        leaf code { type code; }
        leaf-list tags { type string { length "1..2"; } }
        leaf hexdec {
          type union {
            type string { pattern '[0-9]+'; }
            type string { pattern '[a-f]+'; }
          }
        }
        container deep {
          leaf need { type string; mandatory true; }
        }
      }
    }
    leaf ref {
      type leafref { path "/p:top/p:outer/p:name"; }
    }
    choice how {
      case by-name {
        leaf name { type string; }
        leaf also { type string; mandatory true; }
      }
      case by-id {
        leaf id { type uint8; }
      }
    }
    leaf-list ll { type string; }
  }
  rpc op {
    input {
      list item {
        leaf v { type uint8; }
        leaf-list w { type string { length "1..2"; } }
      }
    }
  }
}`;

const EXT = `module paths-ext {
  yang-version 1.1;
  namespace "${X}";
  prefix x;
  import paths { prefix p; }
  revision 2026-12-06;
  augment "/p:top/p:outer/p:inner" {
    leaf extra { type uint8 { range "1..9"; } }
  }
}`;

/** a module whose prefix is also "p": in a path, "p" stays bound to the first module met (paths) */
const C = 'urn:test:paths-clash';
const CLASH = `module paths-clash {
  yang-version 1.1;
  namespace "${C}";
  prefix p;
  import paths { prefix pp; }
  revision 2026-12-06;
  augment "/pp:top" {
    leaf clash { type uint8; }
  }
}`;

let y: LoadedYang;
beforeAll(() => {
  y = compileTexts([{ file: 'paths.yang', text: PATHS }, { file: 'paths-ext.yang', text: EXT }, { file: 'paths-clash.yang', text: CLASH }]);
});

const cfg = (inner: string): RpcErrorInfo[] => {
  const top = parseXml(`<data xmlns="${BASE}"><top xmlns="${P}" xmlns:x="${X}">${inner}</top></data>`);
  return y.validator.validateConfig(top.children.filter((c): c is XmlElement => typeof c !== 'string'));
};
const badEl = (name: string) => ({ ns: BASE, name: 'bad-element', attrs: [], children: [name] });
const ENTRY = "/p:top/p:outer[p:name='o1']/p:inner[p:a='a1'][p:b='7']";
const inner = (s: string): string => `<outer><name>o1</name><inner><a>a1</a><b>7</b><deep><need>n</need></deep>${s}</inner></outer>`;

describe('error paths written on error only', () => {
  it('a leaf in a nested list: key predicates of each entry', () => {
    expect(cfg(inner('<code>ABC</code>'))).toEqual([{
      type: 'application', tag: 'invalid-value', path: `${ENTRY}/p:code`, pathNs: { p: P },
      message: `code: "ABC" does not match the pattern '[a-z]+' of code`, info: [badEl('code')],
    }]);
  });
  it('invert-match: the pattern and "(invert-match)" in the message, its error-app-tag', () => {
    expect(cfg(inner('<code>xyz</code>'))).toEqual([{
      type: 'application', tag: 'invalid-value', path: `${ENTRY}/p:code`, pathNs: { p: P }, appTag: 'no-x',
      message: `code: "xyz" does not match the pattern 'x.*' (invert-match) of code`, info: [badEl('code')],
    }]);
  });
  it('a union of patterns: valid when one member matches, else "matches none"', () => {
    expect(cfg(inner('<hexdec>123</hexdec>'))).toEqual([]);
    expect(cfg(inner('<hexdec>abc</hexdec>'))).toEqual([]);
    expect(cfg(inner('<hexdec>12a</hexdec>'))).toEqual([{
      type: 'application', tag: 'invalid-value', path: `${ENTRY}/p:hexdec`, pathNs: { p: P },
      message: 'hexdec: "12a" matches none of the member types of union', info: [badEl('hexdec')],
    }]);
  });
  it("a second module's node: its prefix bound after the first's", () => {
    const e = cfg(inner('<x:extra>10</x:extra>'));
    expect(e).toEqual([{
      type: 'application', tag: 'invalid-value', path: `${ENTRY}/x:extra`, pathNs: { p: P, x: X },
      message: 'extra: 10 is not in the range 1..9 of uint8', info: [badEl('extra')],
    }]);
    expect(Object.keys(e[0]!.pathNs!)).toEqual(['p', 'x']);
  });
  it('a second module with the same prefix: the prefix keeps its first binding', () => {
    expect(cfg(`${inner('')}<clash xmlns="${C}">x</clash>`)).toEqual([{
      type: 'application', tag: 'invalid-value', path: '/p:top/p:clash', pathNs: { p: P },
      message: 'clash: "x" is not a valid uint8 (uint8)', info: [badEl('clash')],
    }]);
  });
  it("a leaf-list entry: [.='value'], and double quotes around a value with an apostrophe", () => {
    expect(cfg(inner("<tags>abc</tags><tags>it's</tags>")).map((e) => [e.path, e.message])).toEqual([
      [`${ENTRY}/p:tags[.='abc']`, 'tags: string "abc" has length 3, not in 1..2'],
      [`${ENTRY}/p:tags[.="it's"]`, `tags: string "it's" has length 4, not in 1..2`],
    ]);
  });
  it('string length counts code points (a surrogate pair is one), not UTF-16 units', () => {
    expect(cfg(inner('<tags>\u{1D11E}\u{1D11E}</tags>'))).toEqual([]);
    expect(cfg(inner('<tags>\u{1D11E}\u{1D11E}\u{1D11E}</tags>'))[0]!.message).toBe('tags: string "\u{1D11E}\u{1D11E}\u{1D11E}" has length 3, not in 1..2');
    // a lone surrogate counts as one
    expect(cfg(inner('<tags>\uD834a</tags>'))).toEqual([]);
  });
  it('a duplicate config leaf-list value', () => {
    expect(cfg(`${inner('')}<ll>a</ll><ll>b</ll><ll>a</ll>`)).toEqual([{
      type: 'application', tag: 'operation-failed', appTag: 'data-not-unique', path: "/p:top/p:ll[.='a']", pathNs: { p: P },
      message: 'value "a" appears twice in leaf-list "ll"',
    }]);
  });
  it('a missing key: the entry by position; a duplicate key: the message names the key predicates', () => {
    const missing = cfg('<outer><name>o1</name><inner><a>a1</a><deep><need>n</need></deep></inner></outer>');
    expect(missing).toEqual([{
      type: 'application', tag: 'missing-element', path: "/p:top/p:outer[p:name='o1']/p:inner[1]/p:b", pathNs: { p: P },
      message: 'list entry "inner" lacks its key "b"', info: [badEl('b')],
    }]);
    const dup = cfg('<outer><name>o1</name><inner><a>a1</a><b>7</b><deep><need>n</need></deep></inner>'
      + '<inner><a>a1</a><b>07</b><deep><need>n</need></deep></inner></outer>');
    expect(dup).toEqual([{
      type: 'application', tag: 'operation-failed', appTag: 'data-not-unique', path: "/p:top/p:outer[p:name='o1']/p:inner[p:a='a1'][p:b='07']",
      pathNs: { p: P }, message: `list "inner" has two entries with the key [p:a='a1'][p:b='07']`,
    }]);
  });
  it('an absent non-presence container: its mandatory leaf, under the container', () => {
    expect(cfg('<outer><name>o1</name><inner><a>a1</a><b>7</b></inner></outer>')).toEqual([{
      type: 'application', tag: 'missing-element', path: `${ENTRY}/p:deep/p:need`, pathNs: { p: P },
      message: 'mandatory "need" is missing', info: [badEl('need')],
    }]);
  });
  it('the chosen case: its mandatory leaf; two cases: the later one named', () => {
    expect(cfg(`${inner('')}<name>n</name>`)).toEqual([{
      type: 'application', tag: 'missing-element', path: '/p:top/p:also', pathNs: { p: P },
      message: 'mandatory "also" is missing', info: [badEl('also')],
    }]);
    expect(cfg(`${inner('')}<name>n</name><also>a</also><id>1</id>`)).toEqual([{
      type: 'application', tag: 'bad-element', path: '/p:top/p:id', pathNs: { p: P },
      message: '"id" belongs to case "by-id" but case "by-name" of choice "how" is present', info: [badEl('id')],
    }]);
  });
  it('a leafref without an instance: data-missing at the leaf', () => {
    expect(cfg(`${inner('')}<ref>o1</ref>`)).toEqual([]);
    expect(cfg(`${inner('')}<ref>o2</ref>`)).toEqual([{
      type: 'application', tag: 'data-missing', appTag: 'instance-required', path: '/p:top/p:ref', pathNs: { p: P },
      message: 'ref: no instance of /p:top/p:outer/p:name has the value "o2"',
    }]);
  });
  it('an element inside a leaf, a leaf given twice, text inside a container', () => {
    expect(cfg(inner('<code><b/></code><code>ab</code>'))).toEqual([
      { type: 'application', tag: 'bad-element', path: `${ENTRY}/p:code`, pathNs: { p: P }, message: '"code" appears 2 times; it may appear once', info: [badEl('code')] },
      { type: 'application', tag: 'bad-element', path: `${ENTRY}/p:code`, pathNs: { p: P }, message: '"code" is a leaf; it cannot contain elements', info: [badEl('code')] },
    ]);
    expect(cfg(`<outer><name>o1</name><inner><a>a1</a><b>7</b><deep> stray  text <need>n</need></deep></inner></outer>`)).toEqual([{
      type: 'application', tag: 'bad-element', path: `${ENTRY}/p:deep`, pathNs: { p: P }, message: 'text "stray  text" inside an inner node',
    }]);
  });
});

describe('RPC input paths', () => {
  const op = (s: string): RpcErrorInfo[] => y.validator.validateRpcInput(parseXml(`<op xmlns="${P}">${s}</op>`));
  it('a keyless list entry by position, a leaf-list entry by value, text in the operation', () => {
    expect(op('<item><v>1</v></item><item><v>300</v><w>abc</w><w>ab</w></item>')).toEqual([
      { type: 'application', tag: 'invalid-value', path: '/p:op/p:item[2]/p:v', pathNs: { p: P }, message: 'v: 300 is out of the bounds of uint8 (uint8)', info: [badEl('v')] },
      { type: 'application', tag: 'invalid-value', path: "/p:op/p:item[2]/p:w[.='abc']", pathNs: { p: P }, message: 'w: string "abc" has length 3, not in 1..2', info: [badEl('w')] },
    ]);
    expect(op(' hello <item><v>1</v></item>')).toEqual([
      { type: 'application', tag: 'bad-element', path: '/p:op', pathNs: { p: P }, message: 'text "hello" inside an inner node' },
    ]);
  });
  it('unknown elements and namespaces at the parent', () => {
    expect(op('<item><nope/></item><z xmlns="urn:other"/>')).toEqual([
      { type: 'application', tag: 'unknown-namespace', path: '/p:op', pathNs: { p: P }, message: 'element "z" is in namespace "urn:other", which no loaded module defines', info: [badEl('z'), { ns: BASE, name: 'bad-namespace', attrs: [], children: ['urn:other'] }] },
      { type: 'application', tag: 'unknown-element', path: '/p:op/p:item[1]', pathNs: { p: P }, message: '"nope" is not defined here by any loaded module', info: [badEl('nope')] },
    ]);
  });
});
