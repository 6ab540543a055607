/**
 * inventoryFromRunning over running's frozen snapshots (issue 15, branch editcut; since branch invmem2 without a cache
 * of the entries read: each call reads the elements in one pass per entry). What callers get is the same as a fresh
 * read, each call's entries are their own objects, and the one-pass reader reads what the reader by childText did.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NETCONF_BASE_NS as NC, child, childText, childrenNamed, el, frozenTree, leaf } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import { HSV_NS as HSV } from '../../src/oam-plugin/index.js';
import { inventoryFromRunning } from '../../src/oam-plugin/inventory.js';
import type { InventoryEntry } from '../../src/oam-plugin/inventory.js';
import { defaultNetconfPort } from '../../src/device/index.js';

/** the reader before branch invmem2 (one childText per leaf), as the reference */
function byChildText(running: XmlElement): InventoryEntry[] {
  const inv = child(running, HSV, 'inventory');
  if (!inv) return [];
  const out: InventoryEntry[] = [];
  for (const h of childrenNamed(inv, HSV, 'henb')) {
    const text = (name: string): string | undefined => {
      const v = childText(h, HSV, name)?.trim();
      return v === undefined || v === '' ? undefined : v;
    };
    const henbId = text('henb-id');
    if (henbId === undefined) continue;
    const dflt = defaultNetconfPort(text('transport') === 'tls' ? 'tls' : 'ssh');
    const port = Number(text('port') ?? dflt);
    const e: InventoryEntry = { henbId, port: Number.isInteger(port) ? port : dflt, callHome: child(h, HSV, 'call-home') !== undefined };
    const set = <K extends keyof InventoryEntry>(k: K, v: InventoryEntry[K] | undefined): void => {
      if (v !== undefined) e[k] = v;
    };
    set('address', text('address'));
    set('sshHostKey', text('ssh-host-key'));
    set('username', text('username'));
    set('credentials', text('credentials'));
    set('description', text('description'));
    const transport = text('transport');
    if (transport === 'tls' || transport === 'ssh') e.transport = transport;
    set('tlsCa', text('tls-ca'));
    set('tlsCertificate', text('tls-certificate'));
    set('tlsServerName', text('tls-server-name'));
    set('tlsClientCertificate', text('tls-client-certificate'));
    out.push(e);
  }
  return out;
}

const LEAVES = ['henb-id', 'address', 'port', 'ssh-host-key', 'username', 'credentials', 'description', 'transport', 'tls-ca',
  'tls-certificate', 'tls-server-name', 'tls-client-certificate', 'call-home', 'other'] as const;

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

  it('reads what the reader by childText read: first leaf of a name, trimmed, empty as absent, other namespaces ignored', () => {
    const text = fc.constantFrom('', ' ', 'a', ' b ', '7', '830x', 'tls', 'ssh', ' tls ', 'x y', '\u00a0c\u00a0', '\ufefftls', 'd\u2028', '\t\n');
    const leafArb = fc.record({ name: fc.constantFrom(...LEAVES), ns: fc.constantFrom(HSV, HSV, HSV, 'urn:other'), texts: fc.array(text, { maxLength: 2 }) })
      .map(({ name, ns, texts }) => el(ns, name, ...texts));
    const henbArb = fc.array(leafArb, { maxLength: 8 }).map((leaves) => el(HSV, 'henb', ...leaves));
    fc.assert(fc.property(fc.array(henbArb, { maxLength: 5 }), (henbs) => {
      const running = data(...henbs);
      const want = byChildText(running);
      expect(inventoryFromRunning(running)).toEqual(want);
      expect(inventoryFromRunning(frozenTree(running))).toEqual(want);
      // the same properties in the same order (a caller may serialise an entry)
      expect(inventoryFromRunning(running).map((e) => Object.keys(e))).toEqual(want.map((e) => Object.keys(e)));
    }), { numRuns: 300 });
  });
});
