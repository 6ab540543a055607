/**
 * The data a node-set selects, as RFC 6241 8.9 answers an XPath filter: each selected node with its
 * whole subtree and the path of ancestors down to it (ancestors carry only what leads to a selected
 * node). A list entry that is only partly selected keeps its key leaves, as the subtree filter does
 * (RFC 7950 7.8.5: a list entry is encoded with its keys). A selected text or attribute node selects
 * its element; the root node selects everything.
 */
import type { XmlElement, XmlNode } from '../xml/index.js';
import type { XNode } from './nodes.js';

/** One step of a data path from the top, by namespace and local name. */
export interface DataStep {
  ns: string;
  name: string;
}

/** The key leaf names of the list whose entries sit at `path`, or undefined when that is not a list. */
export type ListKeys = (path: DataStep[]) => string[] | undefined;

type Mask = 'all' | Map<XmlElement, Mask>;

export function selectData(top: readonly XmlElement[], nodes: XNode[], keysOf?: ListKeys, onSelected?: (e: XmlElement) => void): XmlElement[] {
  const root = new Map<XmlElement, Mask>();
  for (const n of nodes) {
    const elementNode = n.kind === 'element' ? n : n.kind === 'root' ? undefined : n.parent;
    if (!elementNode || elementNode.kind === 'root') return top.map((t) => selectedCopy(t, onSelected));
    // the chain of elements from the top down to the selected one
    const chain: XmlElement[] = [];
    for (let p: XNode | undefined = elementNode; p && p.kind === 'element'; p = p.parent) chain.push(p.element!);
    chain.reverse();
    let mask: Map<XmlElement, Mask> = root;
    for (let i = 0; i < chain.length; i++) {
      const e = chain[i]!;
      const prev = mask.get(e);
      if (prev === 'all') break;
      if (i === chain.length - 1) {
        mask.set(e, 'all');
        break;
      }
      const next = prev ?? new Map<XmlElement, Mask>();
      mask.set(e, next);
      mask = next;
    }
  }
  const out: XmlElement[] = [];
  for (const t of top) {
    const m = root.get(t);
    if (m !== undefined) out.push(materialize(t, m, [{ ns: t.ns, name: t.name }], keysOf, onSelected));
  }
  return out;
}

/** the copy of a selected node (with its whole subtree), told to `onSelected` (get-data max-depth) */
function selectedCopy(d: XmlElement, onSelected: ((e: XmlElement) => void) | undefined): XmlElement {
  const c = clone(d);
  onSelected?.(c);
  return c;
}

function isLeaf(e: XmlElement): boolean {
  return !e.children.some((c) => typeof c !== 'string');
}

function materialize(d: XmlElement, m: Mask, path: DataStep[], keysOf: ListKeys | undefined, onSelected?: (e: XmlElement) => void): XmlElement {
  if (m === 'all') return selectedCopy(d, onSelected);
  const keys = keysOf?.(path);
  const children: XmlNode[] = [];
  for (const c of d.children) {
    if (typeof c === 'string') continue;
    const cm = m.get(c) ?? (keys && c.ns === d.ns && keys.includes(c.name) && isLeaf(c) ? 'all' : undefined);
    if (cm !== undefined) children.push(materialize(c, cm, [...path, { ns: c.ns, name: c.name }], keysOf, onSelected));
  }
  return withChildren(d, children);
}

function withChildren(d: XmlElement, children: XmlNode[]): XmlElement {
  const out: XmlElement = { ns: d.ns, name: d.name, attrs: [...d.attrs], children };
  return d.nsContext ? { ...out, nsContext: d.nsContext } : out;
}

function clone(d: XmlElement): XmlElement {
  return withChildren(d, d.children.map((c) => (typeof c === 'string' ? c : clone(c))));
}
