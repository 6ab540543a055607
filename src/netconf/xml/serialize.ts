/**
 * Serialise an element tree. The default namespace is declared wherever an element's namespace differs
 * from its parent's; prefixes from `nsContext` that an element's text may use (identityref, XPath) are
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

/** String concatenation (V8 ropes), not an array and join: fewer allocations per element. */
function write(el: XmlElement, parentNs: string | undefined, parentCtx: Readonly<Record<string, string>>): string {
  let out = '<' + el.name;
  if (el.ns !== parentNs) out += ' xmlns="' + escapeAttr(el.ns) + '"';
  let ctx: Record<string, string> = parentCtx as Record<string, string>;
  const declared = el.nsContext;
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
    out += typeof c === 'string' ? escapeText(c) : write(c, el.ns, ctx);
  }
  return out + '</' + el.name + '>';
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
