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

const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
/** the (never mutated) context of a root element without declarations */
const EMPTY_CTX: Readonly<Record<string, string>> = Object.freeze({});

/** The state of one parse; the shared parser's handlers write into the current one. */
interface ParseState {
  maxDepth: number;
  maxAttributes: number;
  /** open elements; each one's nsContext is the in-scope declarations */
  stack: XmlElement[];
  root: XmlElement | undefined;
  failure: Error | undefined;
}

let current: ParseState | undefined;
let shared: SaxesParser | undefined;

function fail(st: ParseState, msg: string): void {
  st.failure ??= new XmlParseError(msg);
}

/**
 * One parser for the process, reused across documents: creating a SaxesParser costs about 10 us, more
 * than parsing a small rpc. parseXml is synchronous and handlers never re-enter it, so one is enough.
 *
 * Keep the number of handlers registered with on() at five or fewer. saxes stores each handler as a new
 * property via a keyed store (`this[name] = handler`); at the seventh, V8 turns the parser object into
 * a dictionary (slow-properties) object and every field access in saxes' state machine becomes a hash
 * lookup: a small rpc then took 9-10 us instead of 1.7 us (node 20, measured with %HasFastProperties).
 * So: no processing-instruction handler (saxes ignores a PI without one, as any XML processor may) and
 * no error handler (saxes then throws its error from write()/close(), which parseXml catches).
 */
function sharedParser(): SaxesParser {
  if (shared) return shared;
  const parser = new SaxesParser({ xmlns: true, position: false });
  parser.on('doctype', () => fail(current!, 'DOCTYPE is not allowed in NETCONF messages'));
  parser.on('opentag', (tag) => {
    const st = current!;
    if (st.failure) return;
    const t = tag as SaxesTagNS;
    const stack = st.stack;
    const depth = stack.length;
    if (depth >= st.maxDepth) return fail(st, `element nesting deeper than ${st.maxDepth}`);
    const parentCtx = depth > 0 ? stack[depth - 1]!.nsContext! : EMPTY_CTX;
    let ctx = parentCtx;
    const attrs: XmlAttr[] = [];
    const all = t.attributes;
    let count = 0;
    for (const k in all) {
      if (++count > st.maxAttributes) return fail(st, `more than ${st.maxAttributes} attributes on <${t.local}>`);
      const a = all[k]!;
      if (a.uri === XMLNS_NS || a.name === 'xmlns') {
        if (ctx === parentCtx) ctx = { ...parentCtx };
        (ctx as Record<string, string>)[a.name === 'xmlns' ? '' : a.local] = a.value;
        continue;
      }
      attrs.push({ ns: a.prefix === '' ? '' : a.uri, name: a.local, value: a.value });
    }
    const el: XmlElement = { ns: t.uri ?? '', name: t.local, attrs, children: [], nsContext: ctx };
    if (depth > 0) stack[depth - 1]!.children.push(el);
    else if (st.root) return fail(st, 'more than one root element');
    else st.root = el;
    stack.push(el);
  });
  parser.on('text', (s) => {
    const st = current!;
    if (st.failure) return;
    const depth = st.stack.length;
    if (depth === 0) {
      if (s.trim() !== '') fail(st, 'text outside the root element');
      return;
    }
    appendText(st.stack[depth - 1]!.children, s);
  });
  parser.on('cdata', (s) => {
    const st = current!;
    if (st.failure || st.stack.length === 0) return;
    appendText(st.stack[st.stack.length - 1]!.children, s);
  });
  parser.on('closetag', () => {
    const st = current!;
    if (st.failure) return;
    const el = st.stack.pop();
    if (el && el.children.length > 1) dropIgnorableWhitespace(el.children);
  });
  shared = parser;
  return parser;
}

/** Parse one XML document into an element tree. Throws XmlParseError on any malformation. */
export function parseXml(input: string | Buffer, limits: ParseLimits = {}): XmlElement {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const st: ParseState = {
    maxDepth: limits.maxDepth ?? 256,
    maxAttributes: limits.maxAttributes ?? 64,
    stack: [],
    root: undefined,
    failure: undefined,
  };
  const parser = sharedParser();
  current = st;
  try {
    parser.write(text);
    // NETCONF messages are UTF-8 (RFC 6241 section 3): a declaration of another encoding is a
    // malformed message, not something to guess at; US-ASCII is a subset of UTF-8 and passes (read
    // before close(), which resets it)
    const enc = parser.xmlDecl.encoding;
    if (enc !== undefined && !/^(utf-8|us-ascii)$/i.test(enc)) fail(st, `the XML declaration names encoding "${enc}"; NETCONF messages are UTF-8`);
    parser.close();
  } catch (e) {
    st.failure ??= new XmlParseError((e as Error).message, { cause: e });
    // a parser that threw mid-document is in an unknown state: start afresh next time
    shared = undefined;
  } finally {
    current = undefined;
  }
  if (st.failure) throw st.failure;
  if (!st.root) throw new XmlParseError('no root element');
  return st.root;
}

function appendText(children: XmlNode[], s: string): void {
  const last = children[children.length - 1];
  if (typeof last === 'string') children[children.length - 1] = last + s;
  else children.push(s);
}

/** Whitespace between elements is formatting, not content (element-only content in YANG/NETCONF). */
function dropIgnorableWhitespace(children: XmlNode[]): void {
  let hasElement = false;
  for (let i = 0; i < children.length; i++) {
    if (typeof children[i] !== 'string') {
      hasElement = true;
      break;
    }
  }
  if (!hasElement) return;
  for (let i = children.length - 1; i >= 0; i--) {
    const c = children[i]!;
    if (typeof c === 'string' && c.trim() === '') children.splice(i, 1);
  }
}
