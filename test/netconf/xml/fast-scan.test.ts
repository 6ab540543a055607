/**
 * Differential tests of the XML parse (issue 13): parseXml (fast scanner for the plain subset, saxes for the rest;
 * interned namespace contexts) against the parser as it was before (reference/parse-v1.ts, saxes only) and against
 * parseWithSaxes (the same namespace layer behind saxes alone). Each input must give the same tree (names,
 * namespaces, attributes, text, every in-scope prefix seen through the context) or the same error message, with the
 * default limits and with small ones. Inputs: a fixed list of namespace, entity, syntax and limit cases, the bench
 * corpus, and generated documents from a small grammar, then mutated character by character (fast-check).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseWithSaxes, parseXml } from '../../../src/netconf/xml/parse.js';
import type { ParseLimits } from '../../../src/netconf/xml/parse.js';
import { scanSimple } from '../../../src/netconf/xml/fast-scan.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { parseXml as parseV1 } from './reference/parse-v1.js';
import { CORPUS } from '../../../bench/xml-parse.js';
import { heapHolds, textWith } from '../../helpers/heap-text.js';

const N = 'urn:ietf:params:xml:ns:netconf:base:1.0';
const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const SMALL: ParseLimits = { maxDepth: 3, maxAttributes: 3, maxNsDeclarationsPerElement: 2, maxNsDeclarations: 4, maxPrefixesInScope: 3 };

/** everything a consumer can see of a parsed element: the context through for-in, as the layers above read it */
function view(e: XmlElement): unknown {
  const ctx: Array<[string, string]> = [];
  for (const p in e.nsContext) ctx.push([p, e.nsContext[p]!]);
  return { ns: e.ns, name: e.name, attrs: e.attrs.map((a) => [a.ns, a.name, a.value]), ctx, children: e.children.map((c) => (typeof c === 'string' ? c : view(c))) };
}

function outcome(parse: (s: string, l?: ParseLimits) => XmlElement, s: string, limits?: ParseLimits): unknown {
  try {
    return { tree: view(parse(s, limits)) };
  } catch (e) {
    return { error: (e as Error).message, code: (e as { code?: string }).code };
  }
}

function same(s: string, limits?: ParseLimits): void {
  const now = outcome(parseXml, s, limits);
  expect(now, s).toEqual(outcome(parseV1, s, limits));
  expect(now, s).toEqual(outcome(parseWithSaxes, s, limits));
  // as received: the message's bytes (the scanner reads them; a string is encoded for it)
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.toString('utf8') === s) expect(outcome((x, l) => parseXml(bytes, l), s, limits), s).toEqual(now);
}

const CASES: string[] = [
  `<rpc message-id="1" xmlns="${N}"><get-config><source><running/></source></get-config></rpc>`,
  '<a xmlns="urn:a"><b xmlns=""><c/></b><d xmlns="urn:d" xmlns:p="urn:p" p:x="1" x="2"/></a>',
  '<p:a xmlns:p="urn:p"><p:b xmlns:p="urn:q"><p:c/></p:b><p:d/></p:a>',
  '<a xmlns:p="urn:p" xmlns:q="urn:p" p:x="1" q:x="2"/>', '<a xmlns:p="urn:p" xmlns:q="urn:q" p:x="1" q:x="2" x="3"/>',
  '<a p:x="1"/>', '<p:a/>', '<a xmlns:p=""/>', '<a xmlns:xmlns="urn:x"/>', `<a xmlns:xml="${XML_NS}" xml:lang="en"/>`,
  '<a xmlns:xml="urn:x"/>', `<a xmlns:p="${XML_NS}"/>`, '<a xmlns:p="http://www.w3.org/2000/xmlns/"/>', '<xmlns:a/>',
  '<a xmlns:="urn:x"/>', '<a xmlns:p:q="urn:x"/>', '<a:/>', '<:a/>', '<a:b:c xmlns:a="urn:a"/>', '<a b:="1"/>',
  '<a xmlns=" urn:a "/>', '<a xmlns="urn:a" xmlns="urn:b"/>', '<a x="1" x="2"/>', '<a __proto__="1" constructor="2"/>',
  '<a>x &amp; y &lt; &gt; &quot; &apos;</a>', '<a>&#65;&#x42;</a>', '<a>&bogus;</a>', '<a>&amp</a>', '<a>]]></a>', '<a>]]&gt;</a>',
  '<a>] ]></a>', '<a><![CDATA[x<y]]></a>', '<a><!-- c --></a>', '<a><?pi x?></a>', '<!DOCTYPE a><a/>',
  '<?xml version="1.0" encoding="UTF-8"?><a/>', '<?xml version="1.0" encoding="ISO-8859-1"?><a/>', "<?xml version='1.0'?><a/>",
  '<?xml version="1.1"?><a/>', ' <?xml version="1.0"?><a/>', '<?xml version="1.0" standalone="yes"?><a/>', '<?xml-stylesheet x?><a/>',
  '<a >x</a >', '<a b = "1"/>', '<a b="1"c="2"/>', '<a b=1/>', '<a b/>', '<a b="x<y"/>', '<a b="x&amp;y"/>', '<a b="x\ty"/>',
  '<a b="x\ny"/>', '<a b="x>y"/>', "<a b='x\"y'/>", '<a>\r\n</a>', '<a>é</a>', '<é/>', '\uFEFF<a/>', '<a>\u0001</a>',
  '<a><b></a>', '<a></b>', '<a>', '<a/><b/>', '<a/>x', 'x<a/>', '', '   ', '<a/>  \n', '\n\t <a/>', '<a></a', '<a/', '<', '<a>t</a><',
  '<a>\n  <b>1</b>\n  <c/>\n</a>', '<a>t<b/>u</a>', '<a><b/>  </a>', '<a>  </a>', '<1a/>', '<a-b.c_d:e xmlns:a-b.c_d="urn:x"/>',
  '<a.b/>', '<-a/>', '<a xmlns:p="urn:p"><p:b p:c="1" c="2"/></a>', '<a b="1" xmlns="urn:x" xmlns:b="urn:b" b:b="2"/>',
  '<a>' + '<b xmlns:p="urn:p">'.repeat(5) + '</b>'.repeat(5) + '</a>',
  '<a ' + Array.from({ length: 20 }, (_, i) => `x${i}="${i}"`).join(' ') + '/>',
  '<a ' + Array.from({ length: 70 }, (_, i) => `x${i}="${i}"`).join(' ') + '/>',
  '<a ' + Array.from({ length: 40 }, (_, i) => `xmlns:p${i}="urn:${i}"`).join(' ') + '/>',
  '<a>' + '<b>'.repeat(300) + '</b>'.repeat(300) + '</a>',
  // non-ASCII before more markup: byte and character offsets part there (the scanner reads bytes, slices text)
  '<a>é<b>t</b></a>', '<a x="é"><b y="1"/></a>', '<a>\u00e9\u4e2d<b/>&amp;</a>', '<a xmlns="urn:é"><b/></a>', '<a>x</a>\u00a0',
  '<a>\ud83d\ude00<b/></a>', '<a\u00e9/>', '<?xml version="1.0"?>\u00e9<a/>',
];

describe('xml parse: fast scanner and interned contexts against the parser before them', () => {
  it('gives the same tree or the same error on the fixed cases and the bench corpus, default and small limits', () => {
    for (const s of [...CASES, ...CORPUS.map((c) => c.xml)]) {
      same(s);
      same(s, SMALL);
    }
  });

  it('takes the bench corpus on the fast path (the optimisation is not silently off)', () => {
    const h = { open: (): void => undefined, close: (): void => undefined, text: (): void => undefined };
    for (const c of CORPUS) expect(scanSimple(c.xml, Buffer.from(c.xml), h), c.name).toBe(true);
  });

  it('shares frozen namespace contexts between messages, and stays right after the table of them is dropped', () => {
    const s = CORPUS.find((c) => c.name.startsWith('plugin'))!.xml;
    const a = parseXml(s);
    const b = parseXml(s);
    const op = (r: XmlElement): XmlElement => r.children.find((c): c is XmlElement => typeof c !== 'string')!;
    expect(op(a).nsContext).toBe(op(b).nsContext);
    expect(Object.isFrozen(op(a).nsContext)).toBe(true);
    // more distinct contexts than the table keeps (256): each still right
    for (let i = 0; i < 600; i++) same(`<a xmlns="urn:${i}"><b xmlns:p="urn:p${i % 7}"><p:c/></b></a>`);
    expect(view(parseXml(s))).toEqual(view(parseV1(s)));
  });

  it('gives the same answer on generated and mutated documents (fast-check)', () => {
    // ALL: any of the pools (mostly outside the fast subset: the fallback to saxes); PLAIN: mostly inside it
    for (const [pools, maxMutations] of [[ALL, 3], [PLAIN, 1]] as const) {
      fc.assert(fc.property(documentArb(pools), fc.array(mutationArb(), { maxLength: maxMutations }), fc.boolean(), (doc, muts, small) => {
        same(mutate(doc, muts), small ? SMALL : undefined);
      }), { numRuns: 3000, seed: 1305 });
    }
  });
});

function mutate(doc: string, muts: ReadonlyArray<[number, number, string]>): string {
  let s = doc;
  for (const [at, del, ins] of muts) {
    const i = Math.floor(at * (s.length + 1));
    s = s.slice(0, i) + ins + s.slice(i + del);
  }
  return s;
}

interface Pools { names: string[]; attrNames: string[]; values: string[]; texts: string[]; decls: string[]; tails: string[] }
const PLAIN: Pools = {
  names: ['a', 'b', 'rpc', 'p:a', 'q:b', 'xml:a', 'a-b.c'],
  attrNames: ['xmlns', 'xmlns:p', 'xmlns:q', 'xmlns:xml', 'x', 'p:x', 'q:x', 'xml:lang', 'message-id', '__proto__'],
  values: ['urn:p', 'urn:q', '', ' urn:p ', XML_NS, '1', 'a>b', "it's", 'a"b'],
  texts: ['t', ' ', '\n  ', 'x &amp; y', '&lt;&gt;&quot;&apos;', ']]'],
  decls: ['', '<?xml version="1.0" encoding="UTF-8"?>', "<?xml version='1.0'?>"],
  tails: ['', '\n'],
};
const ALL: Pools = {
  names: [...PLAIN.names, 'xmlns:a', 'p:', ':a'],
  attrNames: PLAIN.attrNames,
  values: [...PLAIN.values, 'a&amp;b', 'a&lt;b', 'a<b', 'a\tb'],
  texts: [...PLAIN.texts, '&#65;', '&bogus;', ']]>', 'é', '\r\n', '<!--c-->', '<![CDATA[<x>]]>', '<?pi?>', '&'],
  decls: [...PLAIN.decls, '<?xml version="1.0" encoding="latin1"?>', ' '],
  tails: [...PLAIN.tails, ' x', '<a/>'],
};

function elementArb(depth: number, p: Pools): fc.Arbitrary<string> {
  const attr = fc.tuple(fc.constantFrom(...p.attrNames), fc.constantFrom(...p.values), fc.constantFrom('"', "'"), fc.constantFrom(' ', '  ', '\n'))
    .map(([n, v, q, sp]) => `${sp}${n}=${q}${v.includes(q) ? v.replaceAll(q, '') : v}${q}`);
  const child: fc.Arbitrary<string> = depth <= 0 ? fc.constantFrom(...p.texts) : fc.oneof(fc.constantFrom(...p.texts), elementArb(depth - 1, p));
  return fc.tuple(fc.constantFrom(...p.names), fc.array(attr, { maxLength: 4 }), fc.array(child, { maxLength: 4 }), fc.boolean())
    .map(([name, attrs, children, empty]) => (empty && children.length === 0
      ? `<${name}${attrs.join('')}/>` : `<${name}${attrs.join('')}>${children.join('')}</${name}>`));
}

function documentArb(p: Pools): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...p.decls), elementArb(3, p), fc.constantFrom(...p.tails)).map(([d, e, tail]) => d + e + tail);
}

/** [where (0..1 of the length), how many characters to delete, what to insert] */
function mutationArb(): fc.Arbitrary<[number, number, string]> {
  return fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 0, max: 2 }),
    fc.constantFrom('', '<', '>', '/', '"', "'", '=', ' ', ':', '&', ';', '?', '!', '\r', '\t', ']]>', 'xmlns', 'é', '\u0000'));
}

/** a document with long attribute values between two markers, scanned and dropped (synchronously: nothing left in a suspended frame) */
function scannedAndDropped(): { start: string; end: string; scanned: boolean } {
  const start = `start${randomBytes(6).toString('hex')}`;
  const end = `end${randomBytes(6).toString('hex')}`;
  const text = `<data xmlns="urn:example:long-namespace" k="a-long-attribute-value"><m>${start}</m><m>${end}</m></data>`;
  const scanned = scanSimple(text, Buffer.from(text), { open: () => undefined, close: () => undefined, text: () => undefined });
  return { start, end, scanned };
}

describe('fast scanner: what it keeps between scans', () => {
  it('no attribute value of the last document (a slice of 13 characters or more keeps the whole text alive; issue 15, branch invmem2)', async () => {
    const d = scannedAndDropped();
    expect(d.scanned).toBe(true);
    expect(await heapHolds(textWith(d.start, d.end))).toBe(false);
  });
});
