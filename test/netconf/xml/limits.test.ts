/**
 * XML limits that bound the work of parsing one message (issue 11, items 2 and 3): each is checked as the
 * parser goes and aborts the parse; namespace scopes are chains, not copies. Namespaces in XML 1.0 rules
 * that saxes used to check (it now runs without its own namespace processing) are checked here too.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PARSE_LIMITS, parseXml, resolveParseLimits, XmlParseError, child, textOf } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { deepNesting, helloPrefixBomb, manyAttributes, manyDeclarations, rpcPrefixBomb } from './fuzz-corpus/payloads.js';

const rejects = (xml: string, re: RegExp, limits = {}): void => {
  let err: unknown;
  try {
    parseXml(xml, limits);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(XmlParseError);
  expect((err as XmlParseError).code).toBe('ERR_XML_MALFORMED');
  expect((err as Error).message).toMatch(re);
};

const nest = (n: number, open: (i: number) => string, close: (i: number) => string): string => {
  let a = '';
  let b = '';
  for (let i = 0; i < n; i++) {
    a += open(i);
    b = close(i) + b;
  }
  return a + b;
};

describe('xml limits', () => {
  it('defaults are documented values and can be overridden; a bad limit is a RangeError', () => {
    expect(DEFAULT_PARSE_LIMITS).toEqual({ maxDepth: 256, maxAttributes: 64, maxNsDeclarationsPerElement: 32, maxNsDeclarations: 10_000, maxPrefixesInScope: 128 });
    expect(resolveParseLimits({ maxDepth: 10 }).maxDepth).toBe(10);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => resolveParseLimits({ maxAttributes: bad })).toThrow(RangeError);
  });

  it('depth: 256 levels parse, 257 do not; the issue\'s 60,000 levels are refused', () => {
    const ok = parseXml(nest(256, () => '<a>', () => '</a>'));
    let d = 0;
    for (let e: XmlElement | undefined = ok; e; e = child(e, '', 'a')) d++;
    expect(d).toBe(256);
    rejects(nest(257, () => '<a>', () => '</a>'), /nesting deeper than 256/);
    rejects(deepNesting(), /nesting deeper than 256/);
    rejects(nest(11, () => '<a>', () => '</a>'), /nesting deeper than 10/, { maxDepth: 10 });
  });

  it('aborts at the first excess: an excess early in a message is reported even if the rest is garbage', () => {
    // the parse never reaches the unclosed tail: it stopped at level 257
    rejects(nest(300, () => '<a>', () => '</a>') + '<<<<&&&&', /nesting deeper than 256/);
    rejects(`<r${' a0="1"'}${Array.from({ length: 70 }, (_, i) => ` b${i}="1"`).join('')}/><junk`, /more than 64 attributes/);
    // and the shared parser is fine afterwards
    expect(parseXml('<ok/>').name).toBe('ok');
  });

  it('attributes per element (namespace declarations count too)', () => {
    const attrs = (n: number): string => Array.from({ length: n }, (_, i) => ` a${i}="v"`).join('');
    expect(parseXml(`<r${attrs(64)}/>`).attrs).toHaveLength(64);
    rejects(`<r${attrs(65)}/>`, /more than 64 attributes on <r>/);
    rejects(manyAttributes(), /more than 64 attributes on <get>/);
    rejects(`<r${attrs(30)}${Array.from({ length: 30 }, (_, i) => ` xmlns:p${i}="urn:${i}"`).join('')}${attrs(5).replace(/a/g, 'z')}/>`, /more than 64 attributes/);
  });

  it('namespace declarations per element and per message', () => {
    const decls = (n: number): string => Array.from({ length: n }, (_, i) => ` xmlns:p${i}="urn:${i}"`).join('');
    expect(Object.keys(parseXml(`<r${decls(32)}/>`).nsContext!)).toHaveLength(32);
    rejects(`<r${decls(33)}/>`, /more than 32 namespace declarations on <r>/);
    expect(parseXml(`<r>${'<x xmlns="urn:y"/>'.repeat(10_000)}</r>`).children).toHaveLength(10_000);
    rejects(`<r xmlns="urn:r">${'<x xmlns="urn:y"/>'.repeat(10_000)}</r>`, /more than 10000 namespace declarations in one message/);
    rejects(manyDeclarations(), /more than 10000 namespace declarations in one message/);
    rejects(`<r>${'<x xmlns="urn:y"/>'.repeat(4)}</r>`, /more than 3 namespace declarations in one message/, { maxNsDeclarations: 3 });
  });

  it('prefixes in scope: the issue\'s prefix towers are refused, re-declaring the same prefixes is fine', () => {
    rejects(helloPrefixBomb(), /more than (32 namespace declarations|128 namespace prefixes in scope)/);
    rejects(helloPrefixBomb(250, 30), /more than 128 namespace prefixes in scope/);
    rejects(rpcPrefixBomb(230, 30), /more than 128 namespace prefixes in scope/);
    // 256 levels, each re-binding the same 30 prefixes and the default namespace: 31 prefixes in scope
    const same = nest(256, (i) => `<p0:e xmlns="urn:d${i}"${Array.from({ length: 30 }, (_, j) => ` xmlns:p${j}="urn:${i}:${j}"`).join('')}>`, () => '</p0:e>');
    const root = parseXml(same);
    expect(root.ns).toBe('urn:0:0');
    // distinct prefixes are counted when bound and released when their element closes
    const sibling = (k: number): string => `<s${Array.from({ length: 30 }, (_, j) => ` xmlns:q${k}x${j}="urn:q"`).join('')}/>`;
    expect(parseXml(`<r>${Array.from({ length: 10 }, (_, k) => sibling(k)).join('')}</r>`).children).toHaveLength(10);
    rejects(`<a xmlns:a="urn:a"><b xmlns:b="urn:b"><c xmlns:c="urn:c"/></b></a>`, /more than 2 namespace prefixes in scope at <c>/, { maxPrefixesInScope: 2 });
  });

  it('scopes are chains: inherited bindings resolve, shadowing is undone when the element closes', () => {
    const x = parseXml('<a xmlns="urn:a" xmlns:p="urn:p1"><b xmlns:p="urn:p2"><p:c/></b><p:d/><e xmlns=""><f/></e></a>');
    const [b, d, e] = x.children as XmlElement[];
    expect(b!.nsContext!.p).toBe('urn:p2');
    expect(b!.nsContext!['']).toBe('urn:a');
    expect((b!.children[0] as XmlElement).ns).toBe('urn:p2');
    expect(d!.ns).toBe('urn:p1');
    expect(d!.nsContext!.p).toBe('urn:p1');
    expect(e!.ns).toBe('');
    expect((e!.children[0] as XmlElement).ns).toBe('');
    // for-in sees the whole scope (what the serialiser and error-path parsing rely on)
    const seen: Record<string, string> = {};
    for (const k in b!.nsContext!) seen[k] = b!.nsContext![k]!;
    expect(seen).toEqual({ '': 'urn:a', p: 'urn:p2' });
    // a prefix named like an Object.prototype member is just a prefix
    expect(parseXml('<a xmlns:constructor="urn:c"><constructor:b/></a>').children[0]).toMatchObject({ ns: 'urn:c', name: 'b' });
    expect(parseXml('<a/>').nsContext!['toString']).toBeUndefined();
  });

  it('attributes: prefixed ones get their namespace, xml: is predefined, duplicates by expanded name are refused', () => {
    const x = parseXml('<a xmlns:p="urn:p" xmlns:q="urn:p" p:x="1" y="2" xml:lang="en"/>');
    expect(x.attrs).toEqual([
      { ns: 'urn:p', name: 'x', value: '1' }, { ns: '', name: 'y', value: '2' },
      { ns: 'http://www.w3.org/XML/1998/namespace', name: 'lang', value: 'en' },
    ]);
    rejects('<a xmlns:p="urn:p" xmlns:q="urn:p" p:x="1" q:x="2"/>', /duplicate attribute \{urn:p\}x/);
    rejects('<a z:x="1"/>', /unbound namespace prefix "z"/);
  });

  it('Namespaces in XML 1.0 constraints', () => {
    rejects('<p:a/>', /unbound namespace prefix "p"/);
    rejects('<a xmlns:p=""/>', /cannot be undeclared/);
    rejects('<a xmlns:xmlns="urn:x"/>', /xmlns prefix must not be declared/);
    rejects('<a xmlns:xml="urn:x"/>', /only the xml prefix/);
    rejects('<a xmlns:p="http://www.w3.org/XML/1998/namespace"/>', /only the xml prefix/);
    rejects('<a xmlns="http://www.w3.org/2000/xmlns/"/>', /no prefix may be bound/);
    rejects('<xmlns:a xmlns:b="urn:b"/>', /xmlns prefix|malformed|unbound/);
    rejects('<a:b:c xmlns:a="urn:a"/>', /malformed qualified name/);
    rejects('<a xmlns:="urn:x"/>', /malformed/);
    expect(parseXml('<xml:a/>').ns).toBe('http://www.w3.org/XML/1998/namespace');
    expect(textOf(parseXml('<a xmlns:p="  urn:p  "><p:b>t</p:b></a>').children[0] as XmlElement)).toBe('t');
  });
});

describe('scope chains reach every consumer', () => {
  it('an XPath filter and an error-path use a prefix declared on an ancestor', async () => {
    const { inScopeNamespaces } = await import('../../../src/netconf/xml/index.js');
    const { rpcErrorFromXml } = await import('../../../src/netconf/rpc-error.js');
    const rpc = parseXml('<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:h="urn:h" message-id="1"><get><filter/></get></rpc>');
    const filter = (rpc.children[0] as XmlElement).children[0] as XmlElement;
    expect(inScopeNamespaces(filter.nsContext)).toEqual({ '': 'urn:ietf:params:xml:ns:netconf:base:1.0', h: 'urn:h' });
    const err = rpcErrorFromXml(parseXml('<rpc-error xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:h="urn:h"><error-type>application</error-type><error-tag>invalid-value</error-tag><error-path>/h:a</error-path></rpc-error>'));
    expect(err.pathNs).toEqual({ '': 'urn:ietf:params:xml:ns:netconf:base:1.0', h: 'urn:h' });
  });
});
