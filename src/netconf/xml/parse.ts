/**
 * Namespace-aware XML parsing for NETCONF messages (RFC 6241 section 3: XML 1.0 with namespaces).
 * Built on saxes. Security: a DOCTYPE is rejected outright (so no DTD, no entity declarations and no
 * entity expansion beyond the five predefined ones and character references); depth, attribute count
 * and text size are bounded. Framing bounds the whole message size before parsing.
 */
import { SaxesParser } from 'saxes';
import type { SaxesTagNS } from 'saxes';
import { HsvError } from '../../errors.js';
import type { XmlAttr, XmlElement, XmlNode } from './types.js';

export class XmlParseError extends HsvError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_XML_MALFORMED', message, options);
  }
}

export interface ParseLimits {
  /** maximum element nesting depth (default 256) */
  maxDepth?: number;
  /** maximum attributes on one element (default 64) */
  maxAttributes?: number;
}

interface Frame {
  el: XmlElement;
  ctx: Record<string, string>;
}

const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

/** Parse one XML document into an element tree. Throws XmlParseError on any malformation. */
export function parseXml(input: string | Buffer, limits: ParseLimits = {}): XmlElement {
  const maxDepth = limits.maxDepth ?? 256;
  const maxAttributes = limits.maxAttributes ?? 64;
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const parser = new SaxesParser({ xmlns: true, position: false });
  const stack: Frame[] = [];
  let root: XmlElement | undefined;
  let failure: Error | undefined;
  const fail = (msg: string): void => {
    failure ??= new XmlParseError(msg);
  };

  parser.on('doctype', () => fail('DOCTYPE is not allowed in NETCONF messages'));
  parser.on('processinginstruction', () => {
    /* ignored, as any XML processor may */
  });
  parser.on('opentag', (tag) => {
    if (failure) return;
    const t = tag as SaxesTagNS;
    if (stack.length >= maxDepth) return fail(`element nesting deeper than ${maxDepth}`);
    const parentCtx = stack.length > 0 ? stack[stack.length - 1]!.ctx : {};
    let ctx = parentCtx;
    const attrs: XmlAttr[] = [];
    const entries = Object.values(t.attributes);
    if (entries.length > maxAttributes) return fail(`more than ${maxAttributes} attributes on <${t.local}>`);
    for (const a of entries) {
      if (a.uri === XMLNS_NS || a.name === 'xmlns') {
        if (ctx === parentCtx) ctx = { ...parentCtx };
        ctx[a.name === 'xmlns' ? '' : a.local] = a.value;
        continue;
      }
      attrs.push({ ns: a.prefix === '' ? '' : a.uri, name: a.local, value: a.value });
    }
    const el: XmlElement = { ns: t.uri ?? '', name: t.local, attrs, children: [], nsContext: ctx };
    if (stack.length > 0) stack[stack.length - 1]!.el.children.push(el);
    else if (root) return fail('more than one root element');
    else root = el;
    stack.push({ el, ctx });
  });
  parser.on('text', (s) => {
    if (failure) return;
    if (stack.length === 0) {
      if (s.trim() !== '') fail('text outside the root element');
      return;
    }
    appendText(stack[stack.length - 1]!.el.children, s);
  });
  parser.on('cdata', (s) => {
    if (failure || stack.length === 0) return;
    appendText(stack[stack.length - 1]!.el.children, s);
  });
  parser.on('closetag', () => {
    if (failure) return;
    const frame = stack.pop();
    if (frame) dropIgnorableWhitespace(frame.el.children);
  });
  parser.on('error', (e) => fail(e.message));

  try {
    parser.write(text).close();
  } catch (e) {
    failure ??= new XmlParseError((e as Error).message, { cause: e });
  }
  if (failure) throw failure;
  if (!root) throw new XmlParseError('no root element');
  return root;
}

function appendText(children: XmlNode[], s: string): void {
  const last = children[children.length - 1];
  if (typeof last === 'string') children[children.length - 1] = last + s;
  else children.push(s);
}

/** Whitespace between elements is formatting, not content (element-only content in YANG/NETCONF). */
function dropIgnorableWhitespace(children: XmlNode[]): void {
  if (!children.some((c) => typeof c !== 'string')) return;
  for (let i = children.length - 1; i >= 0; i--) {
    const c = children[i]!;
    if (typeof c === 'string' && c.trim() === '') children.splice(i, 1);
  }
}
