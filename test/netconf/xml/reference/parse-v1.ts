/**
 * REFERENCE ONLY (tests): src/netconf/xml/parse.ts as it was before the fast scanner and the interned namespace
 * contexts (main 9d356b3, 5 December 2026), kept unchanged as the oracle of the differential tests in
 * ../fast-scan.test.ts. Not used by the server. Its own saxes parser is separate from the one in src.
 */
/**
 * Namespace-aware XML parsing for NETCONF messages (RFC 6241 section 3: XML 1.0 with namespaces).
 * Built on saxes, with namespace processing (Namespaces in XML 1.0) done here rather than by saxes:
 * saxes resolves every prefix by walking the stack of open elements, which made parsing quadratic in
 * depth (issue 11: 60,000 levels, 35 s of blocked event loop). Here a prefix resolves in O(1) through one
 * map of current bindings with an undo log, and an element's `nsContext` is a prototype chain over its
 * parent's (a scope chain, never a copy of the whole map per element: issue 11, 250 levels of 63 prefixes).
 *
 * Security: a DOCTYPE is rejected outright (so no DTD, no entity declarations and no entity expansion
 * beyond the five predefined ones and character references). Every limit (ParseLimits) is checked as
 * the parser goes and aborts the parse at once, so the work done on any input is linear in its size and
 * stops at the first excess. Framing bounds the whole message size before parsing.
 */
import { SaxesParser } from 'saxes';
import type { SaxesTagPlain } from 'saxes';
import { HsvError } from '../../../../src/errors.js';
import type { XmlAttr, XmlElement, XmlNode } from '../../../../src/netconf/xml/types.js';

export class XmlParseError extends HsvError<'ERR_XML_MALFORMED'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_XML_MALFORMED', message, options);
  }
}

/** Bounds on the work one message may cause; each is checked while parsing and aborts the parse. */
export interface ParseLimits {
  /** maximum element nesting depth (default 256) */
  maxDepth?: number;
  /** maximum attributes on one element, namespace declarations included (default 64) */
  maxAttributes?: number;
  /** maximum namespace declarations (xmlns, xmlns:p) on one element (default 32) */
  maxNsDeclarationsPerElement?: number;
  /** maximum namespace declarations in one message (default 10000) */
  maxNsDeclarations?: number;
  /** maximum distinct prefixes (the default namespace counts as one) in scope at any element (default 128) */
  maxPrefixesInScope?: number;
}

export const DEFAULT_PARSE_LIMITS: Readonly<Required<ParseLimits>> = Object.freeze({
  maxDepth: 256,
  maxAttributes: 64,
  maxNsDeclarationsPerElement: 32,
  maxNsDeclarations: 10_000,
  maxPrefixesInScope: 128,
});

/** limits objects returned by resolveParseLimits (parseXml takes them as they are) */
const RESOLVED = new WeakSet<object>([DEFAULT_PARSE_LIMITS]);

/** Fills in the defaults; a limit must be a positive integer (RangeError otherwise). */
export function resolveParseLimits(l: ParseLimits = {}): Required<ParseLimits> {
  if (RESOLVED.has(l)) return l as Required<ParseLimits>;
  const out = { ...DEFAULT_PARSE_LIMITS };
  for (const k of Object.keys(out) as Array<keyof ParseLimits>) {
    const v = l[k];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`XML parse limit ${k} must be a positive integer`);
    out[k] = v;
  }
  Object.freeze(out);
  RESOLVED.add(out);
  return out;
}

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
/** the (never mutated) context of a root element without declarations; no Object.prototype behind it */
const EMPTY_CTX: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);

/** The state of one parse; the shared parser's handlers write into the current one. */
interface ParseState {
  limits: Required<ParseLimits>;
  /** open elements; each one's nsContext is the in-scope declarations (a prototype chain) */
  stack: XmlElement[];
  /** per open element: the length of `undo` before its declarations */
  marks: number[];
  /** the current binding of each prefix ('' = default namespace) */
  bindings: Map<string, string>;
  /** [prefix, previous binding or undefined], undone when the declaring element closes */
  undo: Array<[string, string | undefined]>;
  declarations: number;
  root: XmlElement | undefined;
  failure: Error | undefined;
}

let current: ParseState | undefined;
let shared: SaxesParser | undefined;

/** Abort the parse at once: the throw leaves saxes' write(), parseXml catches it and drops the parser. */
function abort(st: ParseState, msg: string): never {
  st.failure ??= new XmlParseError(msg);
  throw st.failure;
}

/** Namespaces in XML 1.0 section 3 constraints on one declaration (as saxes checks them). */
function checkDeclaration(st: ParseState, prefix: string, uri: string): void {
  if (prefix === 'xmlns') abort(st, 'the xmlns prefix must not be declared');
  if (prefix === 'xml' ? uri !== XML_NS : uri === XML_NS) abort(st, `only the xml prefix may be bound to ${XML_NS}`);
  if (uri === XMLNS_NS) abort(st, `no prefix may be bound to ${XMLNS_NS}`);
  if (prefix !== '' && uri === '') abort(st, `a prefix cannot be undeclared in XML 1.0 (xmlns:${prefix}="")`);
}

function resolvePrefix(st: ParseState, prefix: string, what: string): string {
  if (prefix === 'xml') return XML_NS;
  const uri = st.bindings.get(prefix);
  if (uri === undefined || uri === '') abort(st, `unbound namespace prefix "${prefix}" on ${what}`);
  return uri;
}

/** [prefix, local] of a qualified name; '' prefix when unprefixed */
function splitQName(st: ParseState, name: string): [string, string] {
  const colon = name.indexOf(':');
  if (colon < 0) return ['', name];
  const prefix = name.slice(0, colon);
  const local = name.slice(colon + 1);
  if (prefix === '' || local === '' || local.includes(':')) abort(st, `malformed qualified name "${name}"`);
  return [prefix, local];
}

/**
 * An element opens: its namespace declarations first (they apply to its own name and attributes), then its name
 * and the other attributes are resolved; every limit is checked as it is reached.
 */
function openTag(st: ParseState, t: SaxesTagPlain): void {
  const { stack, limits } = st;
  const depth = stack.length;
  if (depth >= limits.maxDepth) abort(st, `element nesting deeper than ${limits.maxDepth}`);
  const parentCtx = depth > 0 ? stack[depth - 1]!.nsContext! : EMPTY_CTX;
  st.marks.push(st.undo.length);
  let ctx = parentCtx;
  let count = 0;
  let decls = 0;
  let prefixed = 0;
  // the attributes other than declarations (none on most elements: no array then)
  let raw: Array<[string, string]> | undefined;
  const all = t.attributes;
  for (const name in all) {
    if (++count > limits.maxAttributes) abort(st, `more than ${limits.maxAttributes} attributes on <${t.name}>`);
    const value = all[name]!;
    const prefix = declaredPrefix(st, name);
    if (prefix === undefined) {
      (raw ??= []).push([name, value]);
      if (name.includes(':')) prefixed++;
      continue;
    }
    const uri = declare(st, t.name, prefix, value, ++decls);
    if (ctx === parentCtx) ctx = Object.create(parentCtx) as Record<string, string>;
    (ctx as Record<string, string>)[prefix] = uri;
  }
  const [prefix, local] = splitQName(st, t.name);
  if (prefix === 'xmlns') abort(st, 'an element name must not have the xmlns prefix');
  const ns = prefix === '' ? (st.bindings.get('') ?? '') : resolvePrefix(st, prefix, `<${t.name}>`);
  const attrs = raw === undefined ? [] : resolveAttributes(st, raw, prefixed);
  const el: XmlElement = { ns, name: local, attrs, children: [], nsContext: ctx };
  if (depth > 0) stack[depth - 1]!.children.push(el);
  else if (st.root) abort(st, 'more than one root element');
  else st.root = el;
  stack.push(el);
}

/** the prefix an attribute declares ('' for xmlns), undefined when it is no declaration */
function declaredPrefix(st: ParseState, name: string): string | undefined {
  if (name === 'xmlns') return '';
  if (!name.startsWith('xmlns:')) return undefined;
  const prefix = name.slice(6);
  if (prefix === '' || prefix.includes(':')) abort(st, `malformed namespace declaration "${name}"`);
  return prefix;
}

/**
 * The element's `decls`-th declaration binds `prefix` (the limits checked, the previous binding kept for
 * closeTag to restore); its namespace URI.
 */
function declare(st: ParseState, element: string, prefix: string, value: string, decls: number): string {
  const { limits } = st;
  if (decls > limits.maxNsDeclarationsPerElement) abort(st, `more than ${limits.maxNsDeclarationsPerElement} namespace declarations on <${element}>`);
  if (++st.declarations > limits.maxNsDeclarations) abort(st, `more than ${limits.maxNsDeclarations} namespace declarations in one message`);
  const uri = value.trim();
  checkDeclaration(st, prefix, uri);
  const previous = st.bindings.get(prefix);
  if (previous === undefined && st.bindings.size >= limits.maxPrefixesInScope) {
    abort(st, `more than ${limits.maxPrefixesInScope} namespace prefixes in scope at <${element}>`);
  }
  st.undo.push([prefix, previous]);
  st.bindings.set(prefix, uri);
  return uri;
}

/** the attributes other than declarations, by namespace; `prefixed` of them have a prefix (two may clash) */
function resolveAttributes(st: ParseState, raw: Array<[string, string]>, prefixed: number): XmlAttr[] {
  const attrs: XmlAttr[] = [];
  let seen: Set<string> | undefined;
  for (const [name, value] of raw) {
    const [ap, al] = splitQName(st, name);
    if (ap === '') {
      attrs.push({ ns: '', name: al, value });
      continue;
    }
    const auri = resolvePrefix(st, ap, `attribute ${name}`);
    if (prefixed > 1) {
      seen ??= new Set();
      const key = auri + ' ' + al;
      if (seen.has(key)) abort(st, `duplicate attribute {${auri}}${al}`);
      seen.add(key);
    }
    attrs.push({ ns: auri, name: al, value });
  }
  return attrs;
}

function closeTag(st: ParseState): void {
  const el = st.stack.pop();
  const mark = st.marks.pop() ?? 0;
  const undo = st.undo;
  while (undo.length > mark) {
    const [prefix, previous] = undo.pop()!;
    if (previous === undefined) st.bindings.delete(prefix);
    else st.bindings.set(prefix, previous);
  }
  if (el && el.children.length > 1) dropIgnorableWhitespace(el.children);
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
  const parser = new SaxesParser({ xmlns: false, position: false });
  parser.on('doctype', () => abort(current!, 'DOCTYPE is not allowed in NETCONF messages'));
  parser.on('opentag', (tag) => openTag(current!, tag as SaxesTagPlain));
  parser.on('text', (s) => {
    const st = current!;
    const depth = st.stack.length;
    if (depth === 0) {
      if (s.trim() !== '') abort(st, 'text outside the root element');
      return;
    }
    appendText(st.stack[depth - 1]!.children, s);
  });
  parser.on('cdata', (s) => {
    const st = current!;
    if (st.stack.length === 0) return;
    appendText(st.stack[st.stack.length - 1]!.children, s);
  });
  parser.on('closetag', () => closeTag(current!));
  shared = parser;
  return parser;
}

/** Parse one XML document into an element tree. Throws XmlParseError on any malformation or excess. */
export function parseXml(input: string | Buffer, limits: ParseLimits = DEFAULT_PARSE_LIMITS): XmlElement {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const st: ParseState = {
    limits: resolveParseLimits(limits),
    stack: [],
    marks: [],
    bindings: new Map(),
    undo: [],
    declarations: 0,
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
    if (enc !== undefined && !/^(utf-8|us-ascii)$/i.test(enc)) abort(st, `the XML declaration names encoding "${enc}"; NETCONF messages are UTF-8`);
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
