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
  const prefix = el.ns === defaultNs ? undefined : elementPrefix(el, parentCtx);
  const qname = prefix === undefined ? el.name : prefix + ':' + el.name;
  // neither the default namespace in scope nor a prefix names it: it becomes the default namespace here
  const declareDefault = prefix === undefined && el.ns !== defaultNs;
  let out = declareDefault ? '<' + qname + ' xmlns="' + escapeAttr(el.ns) + '"' : '<' + qname;
  const declared = el.nsContext;
  let ctx: Record<string, string> = parentCtx as Record<string, string>;
  if (declared) {
    for (const p in declared) {
      const uri = declared[p]!;
      if (p === '' || parentCtx[p] === uri) continue;
      if (ctx === parentCtx) ctx = { ...parentCtx };
      ctx[p] = uri;
      out += ' xmlns:' + p + '="' + escapeAttr(uri) + '"';
    }
  }
  let n = 0;
  for (const a of el.attrs) {
    if (a.ns === '') {
      out += ' ' + a.name + '="' + escapeAttr(a.value) + '"';
    } else if (a.ns === XML_NS) {
      out += ' xml:' + a.name + '="' + escapeAttr(a.value) + '"';
    } else {
      let ap = Object.keys(ctx).find((k) => k !== '' && ctx[k] === a.ns);
      if (!ap) {
        ap = `a${n++}`;
        while (ctx[ap] !== undefined) ap = `a${n++}`;
        if (ctx === parentCtx) ctx = { ...parentCtx };
        ctx[ap] = a.ns;
        out += ' xmlns:' + ap + '="' + escapeAttr(a.ns) + '"';
      }
      out += ' ' + ap + ':' + a.name + '="' + escapeAttr(a.value) + '"';
    }
  }
  const children = el.children;
  if (children.length === 0) return out + '/>';
  out += '>';
  const elDefault = declareDefault ? el.ns : defaultNs;
  for (let i = 0; i < children.length; i++) {
    const c = children[i]!;
    out += typeof c === 'string' ? escapeText(c) : write(c, elDefault, ctx);
  }
  return out + '</' + qname + '>';
}

/**
 * The prefix in scope that names the element's namespace (not the default one), unless the element itself
 * re-binds that prefix to another namespace.
 */
function elementPrefix(el: XmlElement, parentCtx: Readonly<Record<string, string>>): string | undefined {
  const prefix = el.ns === '' || parentCtx === EMPTY ? undefined : prefixOf(parentCtx, el.ns);
  const declared = el.nsContext;
  if (prefix !== undefined && (declared === undefined || declared[prefix] === undefined || declared[prefix] === el.ns)) return prefix;
  return undefined;
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
  // a short value (a message-id) is checked in a loop: the regular expression's call costs more than the scan
  if (s.length <= 16) {
    let plain = true;
    for (let i = 0; i < s.length && plain; i++) {
      const c = s.charCodeAt(i);
      plain = c > 62 || (c !== 38 && c !== 60 && c !== 62 && c !== 34 && c !== 13 && c !== 10 && c !== 9);
    }
    if (plain) return s;
  } else if (s === lastPlainAttr || !ATTR_SPECIAL.test(s)) {
    // a namespace declared on every reply is one string (the parser's, see internalized in parse.ts): checked once
    lastPlainAttr = s;
    return s;
  }
  return s.replace(/[&<>"\r\n\t]/g, (c) => ATTR_ESCAPES[c]!);
}

/** the last long attribute value found plain (compared by reference first: one namespace URI across replies) */
let lastPlainAttr = '';

const ATTR_ESCAPES: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\r': '&#13;', '\n': '&#10;', '\t': '&#9;',
};
