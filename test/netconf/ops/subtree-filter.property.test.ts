/** Properties of subtree filtering over random trees and filters (fast-check). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applySubtreeFilter } from '../../../src/netconf/server/subtree-filter.js';
import { serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';

const NSS = ['urn:a', 'urn:b'];
const NAMES = ['x', 'y', 'z'];
const VALUES = ['1', '2'];

const tree = (depth: number, textOk: boolean, emptyOk: boolean): fc.Arbitrary<XmlElement> => {
  const leafArb = fc.record({ ns: fc.constantFrom(...NSS), name: fc.constantFrom(...NAMES), v: textOk ? fc.constantFrom(...VALUES, ...(emptyOk ? [''] : [])) : fc.constant('') })
    .map(({ ns, name, v }): XmlElement => ({ ns, name, attrs: [], children: v === '' ? [] : [v] }));
  if (depth === 0) return leafArb;
  const inner = fc.record({ ns: fc.constantFrom(...NSS), name: fc.constantFrom(...NAMES), kids: fc.array(tree(depth - 1, textOk, emptyOk), { minLength: 1, maxLength: 3 }) })
    .map(({ ns, name, kids }): XmlElement => ({ ns, name, attrs: [], children: kids }));
  return fc.oneof(leafArb, inner);
};
const dataArb = fc.array(tree(3, true, false), { minLength: 1, maxLength: 3 });
const filterArb = fc.array(tree(3, true, true), { minLength: 1, maxLength: 3 })
  .map((kids): XmlElement => ({ ns: 'urn:ietf:params:xml:ns:netconf:base:1.0', name: 'filter', attrs: [], children: kids }));

/** every output node is a node of the data, with the same leaf value */
function embeds(out: XmlElement, data: XmlElement[]): boolean {
  return data.some((d) => d.ns === out.ns && d.name === out.name && (
    out.children.every((c) => (typeof c === 'string'
      ? d.children.length === 1 && d.children[0] === c
      : embeds(c, d.children.filter((x): x is XmlElement => typeof x !== 'string'))))));
}
const show = (e: XmlElement[]): string => e.map((x) => serializeXml(x)).join('');

describe('subtree filter properties', () => {
  it('the output is part of the data', () => {
    fc.assert(fc.property(dataArb, filterArb, (data, filter) => {
      for (const o of applySubtreeFilter(data, filter)) expect(embeds(o, data)).toBe(true);
    }), { numRuns: 400 });
  });

  it('filtering the output again changes nothing (idempotent)', () => {
    fc.assert(fc.property(dataArb, filterArb, (data, filter) => {
      const once = applySubtreeFilter(data, filter);
      expect(show(applySubtreeFilter(once, filter))).toBe(show(once));
    }), { numRuns: 400 });
  });

  it('selection nodes for every top-level node select all the data', () => {
    fc.assert(fc.property(dataArb, (data) => {
      const filter: XmlElement = { ns: '', name: 'filter', attrs: [], children: data.map((d) => ({ ns: d.ns, name: d.name, attrs: [], children: [] })) };
      expect(show(applySubtreeFilter(data, filter))).toBe(show(data));
    }), { numRuns: 200 });
  });
});
