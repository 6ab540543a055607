import { describe, expect, it } from 'vitest';
import { parseXml, serializeXml, XmlParseError, child, textOf, el, leaf, NETCONF_BASE_NS } from '../../../src/netconf/xml/index.js';
import { NetconfError, rpcErrorFromXml, rpcErrorToXml } from '../../../src/netconf/rpc-error.js';

describe('xml parse', () => {
  it('gives each message its own namespaces when one declaration alternates under the same parent (issue 13: the last one is remembered)', () => {
    const doc = (ns: string, p = ''): string => `<${p}r xmlns${p ? ':' + p.slice(0, -1) : ''}="${ns}"><${p}c/></${p}r>`;
    for (const [ns, p] of [['urn:a', ''], ['urn:b', ''], ['urn:a', ''], ['urn:a', 'x:'], ['urn:b', 'x:'], ['urn:a', '']] as const) {
      const r = parseXml(Buffer.from(doc(ns, p)));
      expect([r.ns, child(r, ns, 'c')?.ns]).toEqual([ns, ns]);
      expect(r.nsContext?.[p ? 'x' : '']).toBe(ns);
    }
    // the namespace of the base constant is that very string: compared by reference by the layers above
    expect(parseXml(Buffer.from(`<rpc xmlns="${NETCONF_BASE_NS}"/>`)).ns).toBe(NETCONF_BASE_NS);
  });

  it('resolves namespaces by URI, not prefix', () => {
    const a = parseXml('<nc:rpc xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1"><nc:get/></nc:rpc>');
    const b = parseXml('<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1"><get/></rpc>');
    expect(a.ns).toBe(NETCONF_BASE_NS);
    expect(a.name).toBe('rpc');
    expect(b.ns).toBe(a.ns);
    expect(child(a, NETCONF_BASE_NS, 'get')).toBeDefined();
    expect(a.attrs).toEqual([{ ns: '', name: 'message-id', value: '1' }]);
  });

  it('keeps prefix bindings for values that use them', () => {
    const x = parseXml('<a xmlns="urn:a" xmlns:p="urn:p"><b>p:thing</b></a>');
    expect(x.children[0] && typeof x.children[0] !== 'string' && x.children[0].nsContext?.p).toBe('urn:p');
  });

  it('rejects a DOCTYPE (no entity expansion)', () => {
    const bomb = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><r>&b;</r>';
    expect(() => parseXml(bomb)).toThrow(XmlParseError);
    expect(() => parseXml(bomb)).toThrow(/DOCTYPE/);
  });

  it('accepts a UTF-8 (or US-ASCII) encoding declaration and refuses any other (RFC 6241 section 3)', () => {
    for (const enc of ['UTF-8', 'utf-8', 'US-ASCII']) expect(parseXml(`<?xml version="1.0" encoding="${enc}"?><a/>`).name).toBe('a');
    expect(parseXml('<?xml version="1.0"?><a/>').name).toBe('a');
    for (const enc of ['ISO-8859-1', 'UTF-16', 'windows-1252']) {
      expect(() => parseXml(`<?xml version="1.0" encoding="${enc}"?><a/>`), enc).toThrow(new RegExp(`encoding "${enc}"`));
    }
    expect(parseXml('<b/>').name).toBe('b'); // the shared parser is fine afterwards
  });

  it('rejects malformed documents', () => {
    for (const bad of ['', '<a>', '<a></b>', '<a/><b/>', 'text', '<a x="1" x="2"/>', '<p:a/>', '<a>&unknown;</a>']) {
      expect(() => parseXml(bad), bad).toThrow(XmlParseError);
    }
  });

  it('bounds nesting depth', () => {
    const deep = '<a>'.repeat(300) + '</a>'.repeat(300);
    expect(() => parseXml(deep)).toThrow(/deeper/);
    expect(parseXml(deep, { maxDepth: 400 }).name).toBe('a');
  });

  it('drops formatting whitespace between elements, keeps leaf text', () => {
    const x = parseXml('<a xmlns="urn:a">\n  <b> x </b>\n</a>');
    expect(x.children).toHaveLength(1);
    expect(textOf(x.children[0] as never)).toBe(' x ');
  });
});

describe('xml serialize', () => {
  it('round-trips namespaces, attributes and escaping', () => {
    const src = '<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="a&amp;&quot;b"><get><filter type="subtree"><x xmlns="urn:x">1 &lt; 2 &amp; 3</x></filter></get></rpc>';
    const x = parseXml(src);
    expect(serializeXml(x)).toBe(src);
    expect(parseXml(serializeXml(x))).toEqual(x);
  });

  it('declares prefixes for namespaced attributes', () => {
    const e = { ...el('urn:a', 'a'), attrs: [{ ns: 'urn:ietf:params:xml:ns:netconf:base:1.0', name: 'operation', value: 'delete' }] };
    const back = parseXml(serializeXml(e));
    expect(back.attrs).toEqual([{ ns: 'urn:ietf:params:xml:ns:netconf:base:1.0', name: 'operation', value: 'delete' }]);
  });

  it('escapes a long attribute value after a plain one of the same length was let through (issue 13: the last plain value is remembered)', () => {
    const plain = 'urn:example:plain:namespace:value';
    const special = 'urn:example:plain:namespace:v&l"e';
    expect(special.length).toBe(plain.length);
    expect(serializeXml(el(plain, 'a'))).toBe(`<a xmlns="${plain}"/>`);
    expect(serializeXml(el(plain, 'a'))).toBe(`<a xmlns="${plain}"/>`);
    expect(serializeXml(el(special, 'a'))).toBe('<a xmlns="urn:example:plain:namespace:v&amp;l&quot;e"/>');
    // short values (a message-id) take the loop: each special character
    for (const [v, out] of [['1', '1'], ['a&b', 'a&amp;b'], ['<', '&lt;'], ['>', '&gt;'], ['"', '&quot;'], ['\r\n\t', '&#13;&#10;&#9;'], ['~}|{', '~}|{']]) {
      expect(serializeXml({ ...el('urn:a', 'a'), attrs: [{ ns: '', name: 'x', value: v! }] })).toBe(`<a xmlns="urn:a" x="${out}"/>`);
    }
  });

  it('undeclares the default namespace for no-namespace children', () => {
    const e = el('urn:a', 'a', el('', 'b'));
    expect(serializeXml(e)).toBe('<a xmlns="urn:a"><b xmlns=""/></a>');
  });
});

describe('rpc-error', () => {
  it('carries every RFC 6241 section 4.3 field and round-trips', () => {
    const info = { type: 'application' as const, tag: 'invalid-value' as const, severity: 'error' as const, appTag: 'hsv:unknown-henb',
      path: '/hsv:software-update/hsv:henb-id', pathNs: { hsv: 'urn:x' }, message: 'no such H(e)NB',
      info: [leaf(NETCONF_BASE_NS, 'bad-element', 'henb-id')] };
    const x = rpcErrorToXml(info);
    const s = serializeXml(x);
    expect(s).toContain('<error-type>application</error-type>');
    const back = rpcErrorFromXml(parseXml(s));
    expect(back).toMatchObject({ type: 'application', tag: 'invalid-value', severity: 'error', appTag: 'hsv:unknown-henb', path: '/hsv:software-update/hsv:henb-id', message: 'no such H(e)NB' });
    expect(back.pathNs?.hsv).toBe('urn:x');
    expect(new NetconfError(info).code).toBe('ERR_NETCONF_INVALID_VALUE');
  });
});

describe('xml parse: the shared parser', () => {
  it('is clean after a failure: the next document parses normally', () => {
    const bad = ['<a><b></a>', '<!DOCTYPE x><x/>', '<a>&bogus;</a>', '<a/><b/>', '<a', '<a>'.repeat(300)];
    for (const b of bad) {
      expect(() => parseXml(b)).toThrow(XmlParseError);
      const ok = parseXml('<r xmlns="urn:r"><c>1</c></r>');
      expect(ok).toMatchObject({ ns: 'urn:r', name: 'r' });
      expect(ok.children).toHaveLength(1);
    }
  });

  it('ignores processing instructions and reports a malformation with its reason', () => {
    const x = parseXml('<?xml version="1.0"?><?app data?><a xmlns="urn:a"><?pi inside?><b>1</b></a>');
    expect(serializeXml(x)).toBe('<a xmlns="urn:a"><b>1</b></a>');
    let err: unknown;
    try {
      parseXml('<a><b></a>');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(XmlParseError);
    expect((err as XmlParseError).code).toBe('ERR_XML_MALFORMED');
    expect((err as Error).message).toMatch(/unexpected close tag/);
  });

  it('gives the same tree as a fresh parse for many documents in a row', () => {
    const docs = Array.from({ length: 50 }, (_, i) => `<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="${i}"><get><filter type="subtree"><x xmlns="urn:x">${i}</x></filter></get></rpc>`);
    const trees = docs.map((d) => parseXml(d));
    trees.forEach((t, i) => expect(serializeXml(t)).toBe(docs[i]));
  });
});
