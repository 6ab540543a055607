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
  const out: string[] = [];
  if (options.declaration) out.push('<?xml version="1.0" encoding="UTF-8"?>');
  write(el, '', {}, out);
  return out.join('');
}

function write(el: XmlElement, parentNs: string | undefined, parentCtx: Readonly<Record<string, string>>, out: string[]): void {
  out.push('<', el.name);
  if (el.ns !== parentNs) out.push(' xmlns="', escapeAttr(el.ns), '"');
  let ctx: Record<string, string> = parentCtx as Record<string, string>;
  if (el.nsContext) {
    for (const [prefix, uri] of Object.entries(el.nsContext)) {
      if (prefix === '' || parentCtx[prefix] === uri) continue;
      if (ctx === parentCtx) ctx = { ...parentCtx };
      ctx[prefix] = uri;
      out.push(' xmlns:', prefix, '="', escapeAttr(uri), '"');
    }
  }
  let n = 0;
  for (const a of el.attrs) {
    if (a.ns === '') {
      out.push(' ', a.name, '="', escapeAttr(a.value), '"');
    } else if (a.ns === XML_NS) {
      out.push(' xml:', a.name, '="', escapeAttr(a.value), '"');
    } else {
      let prefix = Object.keys(ctx).find((p) => p !== '' && ctx[p] === a.ns);
      if (!prefix) {
        prefix = `a${n++}`;
        while (ctx[prefix] !== undefined) prefix = `a${n++}`;
        if (ctx === parentCtx) ctx = { ...parentCtx };
        ctx[prefix] = a.ns;
        out.push(' xmlns:', prefix, '="', escapeAttr(a.ns), '"');
      }
      out.push(' ', prefix, ':', a.name, '="', escapeAttr(a.value), '"');
    }
  }
  if (el.children.length === 0) {
    out.push('/>');
    return;
  }
  out.push('>');
  for (const c of el.children) {
    if (typeof c === 'string') out.push(escapeText(c));
    else write(c, el.ns, ctx, out);
  }
  out.push('</', el.name, '>');
}

const XML_NS = 'http://www.w3.org/XML/1998/namespace';

export function escapeText(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

export function escapeAttr(s: string): string {
  return s.replace(/[&<>"\r\n\t]/g, (c) => ATTR_ESCAPES[c]!);
}

const ATTR_ESCAPES: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\r': '&#13;', '\n': '&#10;', '\t': '&#9;',
};
