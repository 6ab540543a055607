/**
 * Subtree filtering (RFC 6241 section 6) over XmlElement trees.
 *
 * - Namespace selection (6.2.1): a filter node matches data nodes in its namespace; a filter node in no
 *   namespace (xmlns="") matches any namespace.
 * - Attribute match expressions (6.2.2): every attribute of a filter node must be present, with the same
 *   value, on the data node.
 * - Containment nodes (6.2.3): a filter node with element children; selected only if some child selects.
 * - Selection nodes (6.2.4): an empty filter node selects the data node and its whole subtree.
 * - Content match nodes (6.2.5): a filter leaf with text; all content match siblings must match (AND)
 *   for the parent to be selected. If there are no other siblings, the parent's whole subtree is
 *   selected; else the matching content nodes plus what the other siblings select.
 * An empty filter selects nothing (6.4.2); no filter selects everything (6.4.1, the caller's choice).
 * Data selected by several filter nodes appears once (6.1).
 *
 * A list entry that is only partly selected keeps its key leaves: YANG encodes every list entry with its
 * keys (RFC 7950 section 7.8.5), so `<henb><status/></henb>` answers each status with its henb-id, as
 * other servers do. Keys come from `keysOf` (the YANG schema, plus the IETF state lists we serve).
 */
import type { XmlElement, XmlNode } from '../xml/index.js';
import { isElement, textOf } from '../xml/index.js';

/** 'all' = the whole subtree; a Map = only the listed data children (each with its own mask). */
type Mask = 'all' | Map<XmlElement, Mask>;

/** One step of a data path from the top, by namespace and local name. */
export interface DataStep {
  ns: string;
  name: string;
}

/** The key leaf names of the list whose entries sit at `path`, or undefined when that is not a list. */
export type ListKeys = (path: DataStep[]) => string[] | undefined;

/**
 * Apply a subtree filter (the <filter> element; its children are the filter nodes) to top-level data.
 * `keysOf` names list keys, so that partly selected list entries keep them (see above).
 */
export function applySubtreeFilter(data: XmlElement[], filter: XmlElement, keysOf?: ListKeys, onSelected?: (e: XmlElement) => void): XmlElement[] {
  const filterNodes = filter.children.filter(isElement);
  if (filterNodes.length === 0) return [];
  const root: XmlElement = { ns: '', name: '', attrs: [], children: data };
  const mask = containmentMask(root, filterNodes);
  if (mask === undefined) return [];
  if (mask === 'all') return data.map((d) => selectedCopy(d, onSelected));
  const out: XmlElement[] = [];
  for (const d of data) {
    const m = mask.get(d);
    if (m !== undefined) out.push(materialize(d, m, [{ ns: d.ns, name: d.name }], keysOf, onSelected));
  }
  return out;
}

/** the copy of a node the filter selects with its whole subtree, told to `onSelected` (get-data max-depth) */
function selectedCopy(d: XmlElement, onSelected: ((e: XmlElement) => void) | undefined): XmlElement {
  const c = clone(d);
  onSelected?.(c);
  return c;
}

/** Whether a filter node could select something under a top-level node with this ns/name. */
export function filterMayMatchTop(filter: XmlElement, ns: string, name: string): boolean {
  return filter.children.some((f) => isElement(f) && f.name === name && (f.ns === '' || f.ns === ns));
}

/** true when the filter node's name/namespace/attributes match the data node. */
function nodeMatches(f: XmlElement, d: XmlElement): boolean {
  if (f.name !== d.name) return false;
  if (f.ns !== '' && f.ns !== d.ns) return false;
  for (const a of f.attrs) {
    const v = d.attrs.find((x) => x.name === a.name && x.ns === a.ns);
    if (v === undefined || v.value !== a.value) return false;
  }
  return true;
}

function hasElementChildren(e: XmlElement): boolean {
  return e.children.some(isElement);
}

function isContentMatch(f: XmlElement): boolean {
  return !hasElementChildren(f) && textOf(f).trim() !== '';
}

/** Mask of data node `d` under filter node `f` (f already matched d by name/ns/attrs). */
function nodeMask(d: XmlElement, f: XmlElement): Mask | undefined {
  const filterChildren = f.children.filter(isElement);
  if (filterChildren.length === 0) {
    // a selection node, or a content match node evaluated by its parent
    return 'all';
  }
  // a containment node: the data node must have element children (or none yet)
  return containmentMask(d, filterChildren);
}

function containmentMask(d: XmlElement, filterChildren: XmlElement[]): Mask | undefined {
  const contentMatches = filterChildren.filter(isContentMatch);
  const others = filterChildren.filter((f) => !isContentMatch(f));
  const dataChildren = d.children.filter(isElement);
  const selected = new Map<XmlElement, Mask>();

  for (const cm of contentMatches) {
    const want = textOf(cm).trim();
    const hits = dataChildren.filter((c) => nodeMatches(cm, c) && !hasElementChildren(c) && textOf(c).trim() === want);
    if (hits.length === 0) return undefined; // content match nodes are ANDed
    for (const h of hits) selected.set(h, 'all');
  }
  if (contentMatches.length > 0 && others.length === 0) return 'all';

  for (const f of others) {
    for (const c of dataChildren) {
      if (!nodeMatches(f, c)) continue;
      const m = nodeMask(c, f);
      if (m === undefined) continue;
      const prev = selected.get(c);
      selected.set(c, prev === undefined ? m : mergeMasks(prev, m));
    }
  }
  if (selected.size === 0) return undefined;
  return selected;
}

function mergeMasks(a: Mask, b: Mask): Mask {
  if (a === 'all' || b === 'all') return 'all';
  const out = new Map(a);
  for (const [k, v] of b) {
    const prev = out.get(k);
    out.set(k, prev === undefined ? v : mergeMasks(prev, v));
  }
  return out;
}

function materialize(d: XmlElement, m: Mask, path: DataStep[], keysOf: ListKeys | undefined, onSelected?: (e: XmlElement) => void): XmlElement {
  if (m === 'all') return selectedCopy(d, onSelected);
  const keys = keysOf?.(path);
  const children: XmlNode[] = [];
  for (const c of d.children) {
    if (!isElement(c)) continue;
    const cm = m.get(c) ?? (keys && c.ns === d.ns && keys.includes(c.name) && !hasElementChildren(c) ? 'all' : undefined);
    if (cm !== undefined) children.push(materialize(c, cm, [...path, { ns: c.ns, name: c.name }], keysOf, onSelected));
  }
  return withChildren(d, children);
}

function withChildren(d: XmlElement, children: XmlNode[]): XmlElement {
  const out: XmlElement = { ns: d.ns, name: d.name, attrs: [...d.attrs], children };
  return d.nsContext ? { ...out, nsContext: d.nsContext } : out;
}

/** Deep copy of an element tree. */
export function clone(d: XmlElement): XmlElement {
  return withChildren(d, d.children.map((c) => (typeof c === 'string' ? c : clone(c))));
}
