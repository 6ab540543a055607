/**
 * Serialise an element tree. An element in the default namespace in scope is written unprefixed; one in another
 * namespace that an ancestor declared a prefix for is written with that prefix (so a namespace declared once on a
 * parent, e.g. the rpc-reply of a list of thousands of entries, is not re-declared on each); otherwise the default
 * namespace is declared on it. Prefixes from `nsContext` that an element's text may use (identityref, XPath) are
 * re-declared where they are new; namespaced attributes get generated prefixes.
 */
import type { XmlElement } from './types.js';

export interface SerializeOptions {
  /** emit `<?xml version="1.0" encoding="UTF-8"?>` first (default false) */
  declaration?: boolean;
}

export function serializeXml(el: XmlElement, options: SerializeOptions = {}): string {
  const body = write(el, '', EMPTY);
  return options.declaration ? '<?xml version="1.0" encoding="UTF-8"?>' + body : body;
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/**
 * String concatenation (V8 ropes), not an array and join: fewer allocations per element. `defaultNs`: the default
 * namespace in scope (undefined at the root); `parentCtx`: the prefixes in scope.
 */
function write(el: XmlElement, defaultNs: string | undefined, parentCtx: Readonly<Record<string, string>>): string {
  const declared = el.nsContext;
  let qname = el.name;
  let elDefault = defaultNs;
  let out: string;
  if (el.ns === defaultNs) {
    out = '<' + qname;
  } else {
    const prefix = el.ns === '' || parentCtx === EMPTY ? undefined : prefixOf(parentCtx, el.ns);
    // a prefix the element itself re-binds to another namespace cannot name it
    if (prefix !== undefined && (declared === undefined || declared[prefix] === undefined || declared[prefix] === el.ns)) {
      qname = prefix + ':' + el.name;
      out = '<' + qname;
    } else {
      out = '<' + qname + ' xmlns="' + escapeAttr(el.ns) + '"';
      elDefault = el.ns;
    }
  }
  let ctx: Record<string, string> = parentCtx as Record<string, string>;
  if (declared) {
    for (const prefix in declared) {
      const uri = declared[prefix]!;
      if (prefix === '' || parentCtx[prefix] === uri) continue;
      if (ctx === parentCtx) ctx = { ...parentCtx };
      ctx[prefix] = uri;
      out += ' xmlns:' + prefix + '="' + escapeAttr(uri) + '"';
    }
  }
  let n = 0;
  for (const a of el.attrs) {
    if (a.ns === '') {
      out += ' ' + a.name + '="' + escapeAttr(a.value) + '"';
    } else if (a.ns === XML_NS) {
      out += ' xml:' + a.name + '="' + escapeAttr(a.value) + '"';
    } else {
      let prefix = Object.keys(ctx).find((p) => p !== '' && ctx[p] === a.ns);
      if (!prefix) {
        prefix = `a${n++}`;
        while (ctx[prefix] !== undefined) prefix = `a${n++}`;
        if (ctx === parentCtx) ctx = { ...parentCtx };
        ctx[prefix] = a.ns;
        out += ' xmlns:' + prefix + '="' + escapeAttr(a.ns) + '"';
      }
      out += ' ' + prefix + ':' + a.name + '="' + escapeAttr(a.value) + '"';
    }
  }
  const children = el.children;
  if (children.length === 0) return out + '/>';
  out += '>';
  for (let i = 0; i < children.length; i++) {
    const c = children[i]!;
    out += typeof c === 'string' ? escapeText(c) : write(c, elDefault, ctx);
  }
  return out + '</' + qname + '>';
}

/** a prefix (not the default) bound to `ns` in scope */
function prefixOf(ctx: Readonly<Record<string, string>>, ns: string): string | undefined {
  for (const p in ctx) if (p !== '' && ctx[p] === ns) return p;
  return undefined;
}

const XML_NS = 'http://www.w3.org/XML/1998/namespace';

const TEXT_SPECIAL = /[&<>]/;
const ATTR_SPECIAL = /[&<>"\r\n\t]/;

export function escapeText(s: string): string {
  if (!TEXT_SPECIAL.test(s)) return s;
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

export function escapeAttr(s: string): string {
  if (!ATTR_SPECIAL.test(s)) return s;
  return s.replace(/[&<>"\r\n\t]/g, (c) => ATTR_ESCAPES[c]!);
}

const ATTR_ESCAPES: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\r': '&#13;', '\n': '&#10;', '\t': '&#9;',
};
