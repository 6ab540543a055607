/** Small helpers to build and read element trees without string concatenation. */
import type { XmlAttr, XmlElement, XmlNode } from './types.js';

/** Build an element. Children may be elements, strings, or arrays/undefined (flattened, skipped). */
export function el(ns: string, name: string, ...children: Array<XmlNode | XmlNode[] | undefined | null | false>): XmlElement {
  const flat: XmlNode[] = [];
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) flat.push(...c);
    else flat.push(c);
  }
  return { ns, name, attrs: [], children: flat };
}

/** Same as el() with attributes. */
export function elA(ns: string, name: string, attrs: XmlAttr[], ...children: Array<XmlNode | XmlNode[] | undefined | null | false>): XmlElement {
  return { ...el(ns, name, ...children), attrs };
}

/** A leaf: element with text content. */
export function leaf(ns: string, name: string, value: string | number | boolean | bigint): XmlElement {
  return { ns, name, attrs: [], children: [String(value)] };
}

export function isElement(n: XmlNode): n is XmlElement {
  return typeof n !== 'string';
}

export function elements(parent: XmlElement): XmlElement[] {
  return parent.children.filter(isElement);
}

export function child(parent: XmlElement, ns: string, name: string): XmlElement | undefined {
  for (const c of parent.children) if (typeof c !== 'string' && c.name === name && c.ns === ns) return c;
  return undefined;
}

export function childrenNamed(parent: XmlElement, ns: string, name: string): XmlElement[] {
  return parent.children.filter((c): c is XmlElement => typeof c !== 'string' && c.name === name && c.ns === ns);
}

/** Concatenated text content of an element (direct text children only). */
export function textOf(e: XmlElement): string {
  let s = '';
  for (const c of e.children) if (typeof c === 'string') s += c;
  return s;
}

export function childText(parent: XmlElement, ns: string, name: string): string | undefined {
  const c = child(parent, ns, name);
  return c ? textOf(c) : undefined;
}

export function attr(e: XmlElement, name: string, ns = ''): string | undefined {
  for (const a of e.attrs) if (a.name === name && a.ns === ns) return a.value;
  return undefined;
}
