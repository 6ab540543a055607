/** Frozen element trees that share what did not change (src/netconf/xml/frozen.ts), and sameTree against the JSON comparison it replaced. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { frozenTree, isFrozenTree, sameTree } from '../../../src/netconf/xml/frozen.js';
import { el, elA, leaf, parseXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';

const X = 'urn:example:x';
/** the comparison changedTopNodes made before (standard-ops.ts): JSON text without nsContext */
const jsonSame = (a: XmlElement, b: XmlElement): boolean => {
  const text = (e: XmlElement): string => JSON.stringify(e, (k, v: unknown) => (k === 'nsContext' ? undefined : v));
  return text(a) === text(b);
};

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
