/** applyEdit over random data and random edits: never throws, and a failed edit changes nothing. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyEdit } from '../../../src/netconf/server/edit-config.js';
import type { EditOptions } from '../../../src/netconf/server/edit-config.js';
import { serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlAttr, XmlElement } from '../../../src/netconf/xml/index.js';

const NC = 'urn:ietf:params:xml:ns:netconf:base:1.0';
const NS = 'urn:p';
const OPS = ['merge', 'replace', 'create', 'delete', 'remove', 'none', 'bogus'];

const node = (depth: number, withOps: boolean): fc.Arbitrary<XmlElement> => {
  const opAttr: fc.Arbitrary<XmlAttr[]> = withOps
    ? fc.option(fc.constantFrom(...OPS), { nil: undefined, freq: 3 }).map((op) => (op ? [{ ns: NC, name: 'operation', value: op }] : []))
    : fc.constant([]);
  const leafArb = fc.record({ name: fc.constantFrom('name', 'v', 'w'), v: fc.constantFrom('1', '2', '3'), attrs: opAttr })
    .map(({ name, v, attrs }): XmlElement => ({ ns: NS, name, attrs, children: [v] }));
  if (depth === 0) return leafArb;
  const inner = fc.record({ name: fc.constantFrom('c', 'e'), kids: fc.array(node(depth - 1, withOps), { maxLength: 3 }), attrs: opAttr })
    .map(({ name, kids, attrs }): XmlElement => ({ ns: NS, name, attrs, children: kids }));
  return fc.oneof(leafArb, inner);
};
const show = (t: XmlElement[]): string => t.map((e) => serializeXml(e)).join('');
const optionsArb: fc.Arbitrary<EditOptions> = fc.record({
  defaultOperation: fc.constantFrom('merge' as const, 'replace' as const, 'none' as const),
  errorOption: fc.constantFrom('stop-on-error' as const, 'continue-on-error' as const, 'rollback-on-error' as const),
});

describe('applyEdit properties', () => {
  it('never throws; with errors the result equals the input; without, no operation attribute is stored', () => {
    fc.assert(fc.property(fc.array(node(3, false), { maxLength: 3 }), fc.array(node(3, true), { maxLength: 3 }), optionsArb, (current, config, options) => {
      const before = show(current);
      const r = applyEdit(current, config, options);
      expect(show(current)).toBe(before); // input untouched
      if (r.errors.length > 0) expect(show(r.top)).toBe(before);
      else expect(show(r.top)).not.toContain('operation=');
      for (const e of r.errors) expect(['data-exists', 'data-missing', 'bad-attribute', 'missing-element']).toContain(e.tag);
    }), { numRuns: 500 });
  });

  it('merging a configuration into itself changes nothing', () => {
    fc.assert(fc.property(fc.array(node(3, false), { maxLength: 3 }), (current) => {
      const once = applyEdit([], current, {});
      if (once.errors.length > 0) return;
      const twice = applyEdit(once.top, once.top, {});
      expect(twice.errors).toEqual([]);
      expect(show(twice.top)).toBe(show(once.top));
    }), { numRuns: 300 });
  });
});
