/** Frozen element trees that share what did not change (src/netconf/xml/frozen.ts), and sameTree against the JSON comparison it replaced. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { frozenTree, isFrozenTree, sameTree } from '../../../src/netconf/xml/frozen.js';
import { el, elA, leaf, parseXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { heapHolds, textWith } from '../../helpers/heap-text.js';

const X = 'urn:example:x';
/** the comparison changedTopNodes made before (standard-ops.ts): JSON text without nsContext */
const jsonSame = (a: XmlElement, b: XmlElement): boolean => {
  const text = (e: XmlElement): string => JSON.stringify(e, (k, v: unknown) => (k === 'nsContext' ? undefined : v));
  return text(a) === text(b);
};

/**
 * a document of `n` entries between two markers of its own, parsed as running.xml is read back, and frozen; neither
 * its text nor the parsed tree kept (a synchronous function: an async one could keep them in its suspended frame)
 */
function frozenDocument(entry: (i: number) => string, n = 20): { tree: XmlElement; start: string; end: string } {
  const start = `start${randomBytes(6).toString('hex')}`;
  const end = `end${randomBytes(6).toString('hex')}`;
  const entries = Array.from({ length: n }, (_, i) => entry(i)).join('');
  return { tree: frozenTree(parseXml(`<top xmlns="${X}"><m>${start}</m>${entries}<m>${end}</m></top>`)), start, end };
}

describe('frozenTree', () => {
  it('freezes the element, its arrays and attributes: a write throws', () => {
    const t = frozenTree(elA(X, 'a', [{ ns: '', name: 'k', value: 'v' }], leaf(X, 'b', '1')));
    expect(isFrozenTree(t)).toBe(true);
    expect(() => t.children.push('x')).toThrow(TypeError);
    expect(() => (t.children[0] as XmlElement).children.splice(0, 1)).toThrow(TypeError);
    expect(() => { (t.attrs[0] as { value: string }).value = 'w'; }).toThrow(TypeError);
    expect(() => { (t as { name: string }).name = 'z'; }).toThrow(TypeError);
  });

  it('copies, leaving the source mutable and unchanged, and reuses the subtrees it froze before', () => {
    const src = el(X, 'a', leaf(X, 'b', '1'));
    const t = frozenTree(src);
    expect(t).not.toBe(src);
    src.children.push(leaf(X, 'c', '2'));
    expect(t.children).toHaveLength(1);
    expect(frozenTree(t)).toBe(t);
    const next = frozenTree(el(X, 'top', t, leaf(X, 'd', '3')));
    expect(next.children[0]).toBe(t);
  });

  it('elements without attributes share one frozen empty array; a leaf frozen through and through is reused as it is (issue 15)', () => {
    const t = frozenTree(el(X, 'a', leaf(X, 'b', '1'), el(X, 'c', leaf(X, 'd', '2'))));
    const b = t.children[0] as XmlElement;
    const c = t.children[1] as XmlElement;
    expect(b.attrs).toBe(t.attrs);
    expect(c.attrs).toBe(t.attrs);
    expect(Object.isFrozen(b.attrs)).toBe(true);
    expect(isFrozenTree(b)).toBe(true);
    expect(frozenTree(b)).toBe(b);
    // a commit reusing the leaf under a new parent keeps it
    expect(frozenTree(el(X, 'a2', b)).children[0]).toBe(b);
    // a leaf frozen elsewhere with a mutable children array is copied
    const half = Object.freeze(leaf(X, 'e', '3'));
    expect(isFrozenTree(half)).toBe(false);
    expect(frozenTree(half)).not.toBe(half);
    expect(frozenTree(half)).toEqual(half);
  });

  it('copies an element frozen elsewhere (its descendants may be mutable)', () => {
    const inner = leaf(X, 'b', '1');
    const outer = Object.freeze(el(X, 'a', inner));
    const t = frozenTree(outer);
    expect(t).not.toBe(outer);
    expect(Object.isFrozen(t.children[0])).toBe(true);
  });

  it('leaves with equal text share one frozen children array; the elements stay distinct (issue 15, branch invmem2)', () => {
    const t = frozenTree(el(X, 'list', el(X, 'e', leaf(X, 'user', 'admin'), leaf(X, 'id', 'a')), el(X, 'e', leaf(X, 'user', 'admin'), leaf(X, 'id', 'b')),
      leaf(X, 'other', 'admin')));
    const [e1, e2, other] = t.children as XmlElement[];
    const [u1, id1] = e1!.children as XmlElement[];
    const [u2, id2] = e2!.children as XmlElement[];
    expect(u1).not.toBe(u2);
    expect(u1!.children).toBe(u2!.children);
    expect(other!.children).toBe(u1!.children);
    expect(Object.isFrozen(u1!.children)).toBe(true);
    expect(id1!.children).not.toBe(id2!.children);
    expect(id1!.children).toEqual(['a']);
    expect(isFrozenTree(u1!)).toBe(true);
    // an empty element: one shared frozen array too
    expect(frozenTree(el(X, 'a')).children).toBe(frozenTree(el(X, 'b')).children);
    // a later tree made of other leaves still finds it
    const again = frozenTree(el(X, 'e', leaf(X, 'user', 'admin')));
    expect((again.children[0] as XmlElement).children).toBe(u1!.children);
  });

  it('a frozen parsed tree does not keep the parsed text alive: long texts, names and attribute values are copies (issue 15, branch invmem2)', async () => {
    // a text, a name and an attribute value of 13 characters or more: a V8 sliced string of the whole document
    const held: Record<string, boolean> = {};
    for (const [what, entry] of Object.entries({
      name: (i: number) => `<e><an-element-name-long-enough>${i}</an-element-name-long-enough></e>`,
      text: (i: number) => `<e><v>value-of-entry-${i}-long-enough</v></e>`,
      attribute: (i: number) => `<e><v k="attribute-value-${i}-long-enough">${i}</v></e>`,
    })) {
      const doc = frozenDocument(entry);
      expect(doc.tree.children).toHaveLength(22);
      held[what] = await heapHolds(textWith(doc.start, doc.end));
    }
    expect(held).toEqual({ text: false, name: false, attribute: false });
  });

  it('keeps the namespace context of parsed elements', () => {
    const p = parseXml(`<a xmlns="${X}" xmlns:p="urn:p"><b>p:v</b></a>`);
    const t = frozenTree(p);
    expect((t.children.find((c) => typeof c !== 'string') as XmlElement).nsContext?.['p']).toBe('urn:p');
  });
});

describe('sameTree', () => {
  const arbTree: fc.Arbitrary<XmlElement> = fc.letrec((tie) => ({
    tree: fc.record({
      ns: fc.constantFrom(X, 'urn:y', ''),
      name: fc.constantFrom('a', 'b', 'c'),
      attrs: fc.array(fc.record({ ns: fc.constantFrom('', X), name: fc.constantFrom('k', 'l'), value: fc.constantFrom('1', '2') }), { maxLength: 2 }),
      children: fc.array(fc.oneof({ depthSize: 'small' }, fc.constantFrom('t', 'u', ' '), tie('tree') as fc.Arbitrary<XmlElement>), { maxLength: 3 }),
    }),
  })).tree as fc.Arbitrary<XmlElement>;

  it('agrees with the JSON comparison it replaced, on random trees and on copies of them', () => {
    fc.assert(fc.property(arbTree, arbTree, (a, b) => {
      expect(sameTree(a, b)).toBe(jsonSame(a, b));
      const copy = JSON.parse(JSON.stringify(a)) as XmlElement;
      expect(sameTree(a, copy)).toBe(true);
      expect(sameTree(frozenTree(a), a)).toBe(true);
    }), { numRuns: 500 });
  });

  it('ignores nsContext, as the JSON comparison did; sees text, attribute and order changes', () => {
    expect(sameTree({ ...leaf(X, 'a', '1'), nsContext: { p: 'urn:p' } }, leaf(X, 'a', '1'))).toBe(true);
    expect(sameTree(leaf(X, 'a', '1'), leaf(X, 'a', '2'))).toBe(false);
    expect(sameTree(el(X, 'a', leaf(X, 'b', '1'), leaf(X, 'c', '1')), el(X, 'a', leaf(X, 'c', '1'), leaf(X, 'b', '1')))).toBe(false);
    expect(sameTree(elA(X, 'a', [{ ns: '', name: 'k', value: '1' }]), elA(X, 'a', [{ ns: '', name: 'k', value: '2' }]))).toBe(false);
    expect(sameTree(el(X, 'a', 'x', 'y'), el(X, 'a', 'xy'))).toBe(false);
  });
});
