/**
 * Immutable element trees that share what did not change (the running datastore's snapshots).
 *
 * `frozenTree` makes a frozen copy of an element tree, reusing every subtree it froze before: after an edit that
 * changed one list entry, only the path from the top to that entry is new, and the other entries are the previous
 * snapshot's objects. Frozen means Object.freeze on the element, its attrs and children arrays and its attributes,
 * so a write through any of them throws (ES modules are strict code). The namespace context (nsContext) is shared
 * with the source, as a deep copy (subtree-filter's clone) shares it.
 *
 * `sameTree` compares two trees as their JSON text without nsContext would be compared, but stops at shared
 * subtrees (the same object is the same tree) and at the first difference.
 */
import type { XmlAttr, XmlElement, XmlNode } from './types.js';

/**
 * the trees frozenTree made with an element among their children (an element frozen elsewhere may have mutable
 * descendants: it is copied). A text-only element (a leaf) is not remembered here: frozenLeaf tells it from what it
 * is, and 5 of the 6 elements of a typical inventory entry are leaves (a WeakSet entry costs ~35 bytes; issue 15, branch invmem).
 */
const made = new WeakSet<XmlElement>();

/** the attributes of every frozen element without any: one frozen empty array (32 bytes per element otherwise) */
const NO_ATTRS = Object.freeze([]) as unknown as XmlAttr[];

/**
 * a text-only element frozen through and through (the element, its arrays, its attributes): nothing in it can change,
 * so it is reused as it is, wherever it was frozen (its nsContext is shared, as frozenTree shares it)
 */
function frozenLeaf(e: XmlElement): boolean {
  return Object.isFrozen(e) && Object.isFrozen(e.children) && Object.isFrozen(e.attrs)
    && e.children.every((c) => typeof c === 'string') && e.attrs.every((a) => Object.isFrozen(a));
}

/** whether `e` is (the root of) a tree frozenTree made, or a leaf that is frozen through and through */
export function isFrozenTree(e: XmlElement): boolean {
  return made.has(e) || frozenLeaf(e);
}

/** A frozen copy of `e` that reuses the subtrees frozenTree made before (`e` itself when it is one). */
export function frozenTree(e: XmlElement): XmlElement {
  if (made.has(e) || frozenLeaf(e)) return e;
  const attrs = e.attrs.length === 0 ? NO_ATTRS : Object.freeze(e.attrs.map((a): XmlAttr => Object.freeze({ ns: a.ns, name: a.name, value: a.value }))) as XmlAttr[];
  let leafOnly = true;
  const children = Object.freeze(e.children.map((c): XmlNode => {
    if (typeof c === 'string') return c;
    leafOnly = false;
    return frozenTree(c);
  })) as XmlNode[];
  const out: XmlElement = e.nsContext !== undefined ? { ns: e.ns, name: e.name, attrs, children, nsContext: e.nsContext } : { ns: e.ns, name: e.name, attrs, children };
  Object.freeze(out);
  if (!leafOnly) made.add(out);
  return out;
}

/** the same element tree: ns, name, attributes (in order) and children (in order), nsContext not compared */
export function sameTree(a: XmlElement, b: XmlElement): boolean {
  if (a === b) return true;
  if (a.ns !== b.ns || a.name !== b.name || a.attrs.length !== b.attrs.length || a.children.length !== b.children.length) return false;
  for (let i = 0; i < a.attrs.length; i++) {
    const x = a.attrs[i]!;
    const y = b.attrs[i]!;
    if (x !== y && (x.ns !== y.ns || x.name !== y.name || x.value !== y.value)) return false;
  }
  for (let i = 0; i < a.children.length; i++) {
    const x = a.children[i]!;
    const y = b.children[i]!;
    if (typeof x === 'string' || typeof y === 'string') {
      if (x !== y) return false;
    } else if (!sameTree(x, y)) return false;
  }
  return true;
}

/** sameTree over two lists of elements */
export function sameTrees(a: readonly XmlElement[], b: readonly XmlElement[]): boolean {
  return a.length === b.length && a.every((x, i) => sameTree(x, b[i]!));
}
