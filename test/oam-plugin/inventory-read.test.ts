/**
 * inventoryFromRunning over running's frozen snapshots (issue 15, branch editcut): an entry read from a frozen henb
 * element is remembered, since the element cannot change and the next commit shares it when the edit did not touch
 * it. What callers get is the same as a fresh read, and each call's entries are their own objects.
 */
import { describe, expect, it } from 'vitest';
import { NETCONF_BASE_NS as NC, el, frozenTree, leaf } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import { HSV_NS as HSV } from '../../src/oam-plugin/index.js';
import { inventoryFromRunning } from '../../src/oam-plugin/inventory.js';

const henb = (id: string | undefined, ...more: XmlElement[]): XmlElement => el(HSV, 'henb', id !== undefined ? leaf(HSV, 'henb-id', id) : undefined, ...more);
const data = (...henbs: XmlElement[]): XmlElement => el(NC, 'data', el(HSV, 'inventory', ...henbs));

describe('inventoryFromRunning over frozen snapshots', () => {
  it('reads the same entries as from a mutable copy, again and again, each call with its own objects', () => {
    const henbs = [
      henb('a', leaf(HSV, 'address', '10.0.0.1'), leaf(HSV, 'credentials', 'file:/pw')),
      henb(undefined, leaf(HSV, 'address', '10.0.0.9')),
      henb('b', leaf(HSV, 'transport', 'tls'), leaf(HSV, 'tls-ca', '/ca.pem'), leaf(HSV, 'port', 'x')),
    ];
    const plain = inventoryFromRunning(data(...henbs));
    expect(plain.map((e) => e.henbId)).toEqual(['a', 'b']);
    const frozen = frozenTree(data(...henbs));
    const first = inventoryFromRunning(frozen);
    expect(first).toEqual(plain);
    first[0]!.address = 'changed by a caller';
    const second = inventoryFromRunning(frozen);
    expect(second).toEqual(plain);
    expect(second[0]).not.toBe(first[0]);
  });

  it('a commit that changes one entry: that entry read anew, the others as before', () => {
    const a = henb('a', leaf(HSV, 'description', 'one'));
    const b = henb('b', leaf(HSV, 'description', 'two'));
    const before = frozenTree(data(a, b));
    expect(inventoryFromRunning(before).map((e) => e.description)).toEqual(['one', 'two']);
    const inv = before.children[0] as XmlElement;
    // as the datastore builds the next snapshot: the untouched entry is the same object
    const after = frozenTree(el(NC, 'data', el(HSV, 'inventory', inv.children[0] as XmlElement, henb('b', leaf(HSV, 'description', 'three')))));
    expect((after.children[0] as XmlElement).children[0]).toBe(inv.children[0]);
    expect(inventoryFromRunning(after).map((e) => e.description)).toEqual(['one', 'three']);
  });
});
