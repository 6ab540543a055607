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
import { HsvError } from '../../errors.js';
import { scanSimple } from './fast-scan.js';
import type { ScanHandlers } from './fast-scan.js';
import { parsed, repeated } from './repeat.js';
import type { XmlAttr, XmlElement, XmlNode } from './types.js';

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

const NO_ATTRS: readonly string[] = Object.freeze([]);

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

/** the prefix of a prefixed name (its first colon at `colon`), the name checked as a QName */
function checkedPrefix(st: ParseState, name: string, colon: number): string {
  if (colon === 0 || colon === name.length - 1 || name.indexOf(':', colon + 1) >= 0) abort(st, `malformed qualified name "${name}"`);
  return name.slice(0, colon);
}

/**
 * An element opens: its namespace declarations first (they apply to its own name and attributes), then its name
 * and the other attributes are resolved; every limit is checked as it is reached. `attrs` holds the element's
 * first `n` attributes as name, value, name, value... in document order (NO_ATTRS when it has none).
 */
function openTag(st: ParseState, name: string, attrs: readonly string[], n: number): void {
  const { stack, limits } = st;
  const depth = stack.length;
  if (depth >= limits.maxDepth) abort(st, `element nesting deeper than ${limits.maxDepth}`);
  const parentCtx = depth > 0 ? stack[depth - 1]!.nsContext! : EMPTY_CTX;
  st.marks.push(st.undo.length);
  let decls = 0;
  // the element's declarations as "prefix\0uri" pairs (NUL is no XML character, so the key is unambiguous)
  let key = '';
  let first = '';
  let firstUri = '';
  for (let i = 0; i < n; i++) {
    if (i >= limits.maxAttributes) abort(st, `more than ${limits.maxAttributes} attributes on <${name}>`);
    const prefix = declaredPrefix(st, attrs[2 * i]!);
    if (prefix === undefined) continue;
    const uri = declare(st, name, prefix, attrs[2 * i + 1]!, ++decls);
    if (decls === 1) {
      first = prefix;
      firstUri = uri;
    } else key = (decls === 2 ? first + '\0' + firstUri : key) + '\0' + prefix + '\0' + uri;
  }
  const ctx = decls === 0 ? parentCtx : decls === 1 ? oneDeclaration(parentCtx, first, firstUri) : childContext(parentCtx, key);
  // the bindings take the context's own strings: one string per namespace for every message that shares the
  // context (an interned one), so the layers above compare namespaces by reference and find them in maps
  // without hashing them again (see internalized)
  if (decls === 1) st.bindings.set(first, ctx[first]!);
  else if (decls > 1) {
    // the element's own declarations again (never a walk of the context's prototype chain: deep scopes are long)
    for (let i = 0; i < n; i++) {
      const prefix = declaredPrefix(st, attrs[2 * i]!);
      if (prefix !== undefined) st.bindings.set(prefix, ctx[prefix]!);
    }
  }
  const colon = name.indexOf(':');
  let ns = '';
  if (colon < 0) ns = st.bindings.get('') ?? '';
  else {
    const prefix = checkedPrefix(st, name, colon);
    if (prefix === 'xmlns') abort(st, 'an element name must not have the xmlns prefix');
    ns = resolvePrefix(st, prefix, `<${name}>`);
  }
  // no attribute array for an element whose only attributes are declarations (most elements)
  const el: XmlElement = { ns, name: colon < 0 ? name : name.slice(colon + 1), attrs: n > decls ? resolveAttributes(st, attrs, n) : [], children: [], nsContext: ctx };
  if (depth > 0) stack[depth - 1]!.children.push(el);
  else if (st.root) abort(st, 'more than one root element');
  else st.root = el;
  stack.push(el);
}

/**
 * Interned namespace contexts: for each interned context (the empty one first), the child contexts made from it by
 * one element's declarations, by their key. Most messages declare the same namespaces in the same places, so their
 * elements share frozen contexts instead of making a prototype chain per message: making a fresh object the
 * prototype of another costs V8 a new hidden class each time (a plugin rpc declaring its own namespace parsed
 * about twice as slowly as get-config). Bounded: at most MAX_INTERNED contexts, keys of at most MAX_INTERNED_KEY
 * characters; past the count the whole table is dropped and starts again (contexts already handed out stay valid),
 * and a context that is not interned, or whose key is too long, gets a fresh frozen object, as before.
 */
let interned = new Map<object, Map<string, Readonly<Record<string, string>>>>([[EMPTY_CTX, new Map()]]);
let internedCount = 0;
const MAX_INTERNED = 256;
const MAX_INTERNED_KEY = 1024;

/**
 * The last context made for one declaration (an rpc's xmlns): the same declaration under the same parent context is
 * found by comparing two short strings, without building, hashing and looking up its key in the table.
 */
let lastOne: { parent: object; prefix: string; uri: string; ctx: Readonly<Record<string, string>> } | undefined;

function oneDeclaration(parent: Readonly<Record<string, string>>, prefix: string, uri: string): Readonly<Record<string, string>> {
  const last = lastOne;
  if (last !== undefined && last.parent === parent && last.uri === uri && last.prefix === prefix) return last.ctx;
  const ctx = childContext(parent, prefix + '\0' + uri);
  lastOne = { parent, prefix, uri: ctx[prefix]!, ctx };
  return ctx;
}

/** the context of an element declaring `key` ("prefix\0uri" pairs joined by NUL) under `parent` */
function childContext(parent: Readonly<Record<string, string>>, key: string): Readonly<Record<string, string>> {
  const children = key.length <= MAX_INTERNED_KEY ? interned.get(parent) : undefined;
  const known = children?.get(key);
  if (known !== undefined) return known;
  const ctx = Object.create(parent) as Record<string, string>;
  const parts = key.split('\0');
  // defined, not assigned: an assignment cannot shadow a prefix that a frozen parent already binds
  for (let i = 0; i < parts.length; i += 2) Object.defineProperty(ctx, parts[i]!, { value: internalized(parts[i + 1]!), enumerable: true });
  Object.freeze(ctx);
  if (children === undefined) return ctx;
  if (++internedCount > MAX_INTERNED) {
    interned = new Map([[EMPTY_CTX, new Map()]]);
    internedCount = 0;
    return ctx;
  }
  children.set(key, ctx);
  interned.set(ctx, new Map());
  return ctx;
}

/**
 * The engine's one copy of a string (V8 keeps property names in its string table): equal to a string constant of
 * the code, e.g. NETCONF_BASE_NS, it is the same string, so a comparison with it is one pointer compare and a Map
 * keyed by it finds its hash already computed. Once per interned context, not per message.
 */
function internalized(s: string): string {
  for (const k in { [s]: 0 }) return k;
  return s;
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

/** the attributes other than declarations (the first `n` of `attrs`), by namespace; no two prefixed ones may clash */
function resolveAttributes(st: ParseState, attrs: readonly string[], n: number): XmlAttr[] {
  const out: XmlAttr[] = [];
  let first: string | undefined;
  let seen: Set<string> | undefined;
  for (let i = 0; i < n; i++) {
    const name = attrs[2 * i]!;
    const value = attrs[2 * i + 1]!;
    if (name === 'xmlns' || name.startsWith('xmlns:')) continue;
    const colon = name.indexOf(':');
    if (colon < 0) {
      out.push({ ns: '', name, value });
      continue;
    }
    const ap = checkedPrefix(st, name, colon);
    const al = name.slice(colon + 1);
    const auri = resolvePrefix(st, ap, `attribute ${name}`);
    const key = auri + ' ' + al;
    if (first === undefined) first = key;
    else {
      seen ??= new Set([first]);
      if (seen.has(key)) abort(st, `duplicate attribute {${auri}}${al}`);
      seen.add(key);
    }
    out.push({ ns: auri, name: al, value });
  }
  return out;
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
  parser.on('opentag', (tag) => saxesOpenTag(current!, tag as SaxesTagPlain));
  parser.on('text', (s) => onText(current!, s));
  parser.on('cdata', (s) => {
    const st = current!;
    if (st.stack.length === 0) return;
    appendText(st.stack[st.stack.length - 1]!.children, s);
  });
  parser.on('closetag', () => closeTag(current!));
  shared = parser;
  return parser;
}

/** saxes' tag to openTag's arguments (at most one attribute past the limit: openTag stops there) */
function saxesOpenTag(st: ParseState, tag: SaxesTagPlain): void {
  let attrs: string[] | undefined;
  let n = 0;
  const all = tag.attributes;
  for (const name in all) {
    (attrs ??= []).push(name, all[name]!);
    if (++n > st.limits.maxAttributes) break;
  }
  openTag(st, tag.name, attrs ?? NO_ATTRS, n);
}

function onText(st: ParseState, s: string): void {
  const depth = st.stack.length;
  if (depth === 0) {
    if (s.trim() !== '') abort(st, 'text outside the root element');
    return;
  }
  appendText(st.stack[depth - 1]!.children, s);
}

/** the fast scanner's events go to the same handlers as saxes' (so every limit and namespace rule is the same) */
const FAST_HANDLERS: ScanHandlers = {
  open: (name, attrs, n) => openTag(current!, name, attrs, n),
  close: () => closeTag(current!),
  text: (s) => onText(current!, s),
};

/**
 * The parse's working arrays, kept from one parse to the next (parseXml is synchronous and never re-entered; a
 * parse that fails leaves them to be emptied by the next): a fresh array grows its backing store on the first
 * push, three allocations per message for nothing. They hold nothing once a parse has returned its tree.
 */
const STACK: XmlElement[] = [];
const MARKS: number[] = [];
const UNDO: Array<[string, string | undefined]> = [];

function newState(limits: Required<ParseLimits>): ParseState {
  // empty after any parse that returned a tree; setting length costs a call into the runtime, so only after a failure
  if (STACK.length !== 0) STACK.length = 0;
  if (MARKS.length !== 0) MARKS.length = 0;
  if (UNDO.length !== 0) UNDO.length = 0;
  return { limits, stack: STACK, marks: MARKS, bindings: new Map(), undo: UNDO, declarations: 0, root: undefined, failure: undefined };
}

/**
 * Parse one XML document into an element tree. Throws XmlParseError on any malformation or excess.
 * A message in the plain subset of fast-scan.ts is scanned there; any other (or one it gives up on half way) is
 * parsed by saxes from the start. A limit is checked on the same events in the same order either way. A Buffer that
 * repeats the last one the scanner took but for one attribute value on its root gets that tree again (repeat.ts).
 */
export function parseXml(input: string | Buffer, limits: ParseLimits = DEFAULT_PARSE_LIMITS): XmlElement {
  const resolved = resolveParseLimits(limits);
  const received = typeof input !== 'string';
  // a message as received that repeats the last one the scanner took, but for one value on its root (repeat.ts)
  if (received) {
    const again = repeated(input, resolved);
    if (again !== undefined) return again;
  }
  const text = received ? input.toString('utf8') : input;
  // the scanner reads bytes (fast-scan.ts): a string is encoded for it (messages arrive as Buffers)
  const bytes = received ? input : Buffer.from(input, 'utf8');
  const st = newState(resolved);
  current = st;
  let scanned = false;
  try {
    scanned = scanSimple(text, bytes, FAST_HANDLERS);
  } catch (e) {
    // only a limit or namespace rule throws here (abort); anything else is left to saxes' parse below
    if (st.failure === undefined || e !== st.failure) scanned = false;
    else throw e;
  } finally {
    current = undefined;
  }
  if (scanned && st.root) {
    if (received) parsed(bytes, st.root, resolved);
    return st.root;
  }
  return parseWithSaxes(text, resolved);
}

/** Parse with saxes only (what parseXml does outside the fast scanner's subset; exported for tests and benches). */
export function parseWithSaxes(text: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): XmlElement {
  const st = newState(resolveParseLimits(limits));
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
