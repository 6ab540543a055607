/**
 * The XPath data model (XPath 1.0 section 5) over our own element trees, without copying them: an XNode
 * wraps an XmlElement (or one of its texts or attributes) and knows its parent. Children are wrapped on
 * first access and kept, so a node has one XNode per evaluation (node-set identity is XNode identity).
 *
 * The root node's children are the top-level data nodes (RFC 6241 8.9: the context node is the root of
 * the data). Adjacent text children form one text node; whitespace-only text inside an element with
 * element children is not data (YANG containers and lists have no text) and is left out. Comments and
 * processing instructions are not kept by the XML layer, so comment() and processing-instruction()
 * match nothing.
 */
import { inScopeNamespaces } from '../xml/index.js';
import type { XmlAttr, XmlElement } from '../xml/index.js';

export type NodeKind = 'root' | 'element' | 'text' | 'attribute' | 'namespace';

const XML_NS = 'http://www.w3.org/XML/1998/namespace';

export class XNode {
  private kids: XNode[] | undefined;
  private attrNodes: XNode[] | undefined;
  private nsNodes: XNode[] | undefined;
  private orderKey: number[] | undefined;

  private constructor(
    readonly kind: NodeKind,
    readonly parent: XNode | undefined,
    /** the position among the parent's children, attributes or namespace nodes */
    readonly index: number,
    /** element: the element; root: a synthetic element whose children are the top-level nodes */
    readonly element: XmlElement | undefined,
    /** text: the text; attribute: its value; namespace: the URI */
    readonly value: string,
    /** attribute: its namespace URI and local name; namespace: '' and the prefix */
    readonly attrNs: string,
    readonly attrName: string,
  ) {}

  static root(top: readonly XmlElement[]): XNode {
    return new XNode('root', undefined, 0, { ns: '', name: '', attrs: [], children: [...top] }, '', '', '');
  }

  /** the namespace URI of an element or attribute, '' otherwise */
  get ns(): string {
    if (this.kind === 'element') return this.element!.ns;
    if (this.kind === 'attribute') return this.attrNs;
    return '';
  }

  /** the local name of an element or attribute, the prefix of a namespace node, '' otherwise */
  get localName(): string {
    if (this.kind === 'element') return this.element!.name;
    if (this.kind === 'attribute' || this.kind === 'namespace') return this.attrName;
    return '';
  }

  children(): XNode[] {
    if (this.kids) return this.kids;
    const out: XNode[] = [];
    if (this.kind === 'root' || this.kind === 'element') {
      const el = this.element!;
      const hasElements = el.children.some((c) => typeof c !== 'string');
      let text: string | undefined;
      const flush = (): void => {
        if (text !== undefined && (!hasElements || text.trim() !== '')) out.push(new XNode('text', this, out.length, undefined, text, '', ''));
        text = undefined;
      };
      for (const c of el.children) {
        if (typeof c === 'string') {
          text = (text ?? '') + c;
          continue;
        }
        flush();
        out.push(new XNode('element', this, out.length, c, '', '', ''));
      }
      flush();
    }
    this.kids = out;
    return out;
  }

  attributes(): XNode[] {
    if (this.attrNodes) return this.attrNodes;
    this.attrNodes = this.kind === 'element'
      ? this.element!.attrs.map((a: XmlAttr, i) => new XNode('attribute', this, i, undefined, a.value, a.ns, a.name))
      : [];
    return this.attrNodes;
  }

  /** the namespace nodes of an element (XPath 1.0 5.4): its in-scope declarations, xml included */
  namespaces(): XNode[] {
    if (this.nsNodes) return this.nsNodes;
    const out: XNode[] = [];
    if (this.kind === 'element') {
      const el = this.element!;
      const decls = new Map<string, string>(Object.entries(inScopeNamespaces(el.nsContext)));
      if (el.ns !== '' && !decls.has('')) decls.set('', el.ns);
      decls.set('xml', XML_NS);
      for (const [prefix, uri] of decls) {
        if (uri !== '') out.push(new XNode('namespace', this, out.length, undefined, uri, '', prefix));
      }
    }
    this.nsNodes = out;
    return out;
  }

  /** the string-value (XPath 1.0 section 5) */
  stringValue(): string {
    if (this.kind === 'text' || this.kind === 'attribute' || this.kind === 'namespace') return this.value;
    return textContent(this.element!);
  }

  /**
   * A key whose lexicographic order is document order: a namespace node sorts after its element and
   * before its attributes, attributes before the element's children (XPath 1.0 5).
   */
  key(): number[] {
    if (this.orderKey) return this.orderKey;
    const up = this.parent ? this.parent.key() : [];
    if (this.kind === 'root') this.orderKey = [];
    else if (this.kind === 'namespace') this.orderKey = [...up, 0, this.index];
    else if (this.kind === 'attribute') this.orderKey = [...up, 1, this.index];
    else this.orderKey = [...up, this.index + 2];
    return this.orderKey;
  }
}

/** the text of an element's descendants, without the whitespace that children() leaves out */
function textContent(el: XmlElement): string {
  const hasElements = el.children.some((c) => typeof c !== 'string');
  let s = '';
  for (const c of el.children) {
    if (typeof c !== 'string') s += textContent(c);
    else if (!hasElements || c.trim() !== '') s += c;
  }
  return s;
}

/** document order: negative when a comes first */
export function compareOrder(a: XNode, b: XNode): number {
  if (a === b) return 0;
  const ka = a.key();
  const kb = b.key();
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
  }
  return ka.length - kb.length;
}
