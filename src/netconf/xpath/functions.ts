/**
 * The XPath 1.0 core function library (section 4): node-set, string, boolean and number functions.
 * RFC 6241 8.9 gives a NETCONF XPath filter the core library only. id() returns an empty node-set: YANG
 * data has no DTD, so no attribute is of type ID (XPath 1.0 4.1 / XML 1.0 3.3.1).
 */
import type { XNode } from './nodes.js';
import type { Value } from './values.js';
import { isNodeSet, toBoolean, toNumber, toStringValue } from './values.js';

/** name -> [min, max] arguments */
export const FUNCTION_ARITY: ReadonlyMap<string, readonly [number, number]> = new Map<string, readonly [number, number]>([
  ['last', [0, 0]], ['position', [0, 0]], ['count', [1, 1]], ['id', [1, 1]],
  ['local-name', [0, 1]], ['namespace-uri', [0, 1]], ['name', [0, 1]],
  ['string', [0, 1]], ['concat', [2, Infinity]], ['starts-with', [2, 2]], ['contains', [2, 2]],
  ['substring-before', [2, 2]], ['substring-after', [2, 2]], ['substring', [2, 3]],
  ['string-length', [0, 1]], ['normalize-space', [0, 1]], ['translate', [3, 3]],
  ['boolean', [1, 1]], ['not', [1, 1]], ['true', [0, 0]], ['false', [0, 0]], ['lang', [1, 1]],
  ['number', [0, 1]], ['sum', [1, 1]], ['floor', [1, 1]], ['ceiling', [1, 1]], ['round', [1, 1]],
]);

/** What the RFC 7950 section 10 functions need from the schema layer (given by the caller). */
export interface YangFunctions {
  /** an XSD pattern (RFC 7950 9.4.5) as a RegExp matching the whole string; throws on a bad pattern */
  regex(pattern: string): RegExp;
  /** whether identity `id` is derived, directly or not, from `base` (strictly: not `id` itself) */
  derivedFrom(id: { ns: string; name: string }, base: { ns: string; name: string }): boolean;
  /**
   * enum-value() (RFC 7950 10.5.1): the integer value of `value` when the data node at `path` (element names
   * from the top) is of type enumeration; undefined otherwise (NaN), or when the schema does not know the node
   */
  enumValue?(path: readonly DataName[], value: string): number | undefined;
  /**
   * deref() (RFC 7950 10.3.1): what the data node at `path` refers to by its type: a leafref's path (an XPath
   * with its module's prefix bindings, unprefixed names in `defaultNs`), an instance-identifier; undefined
   * for any other type or a node the schema does not know
   */
  reference?(path: readonly DataName[]): YangReference | undefined;
}

/** an element's namespace and name */
export interface DataName {
  ns: string;
  name: string;
}

export type YangReference =
  | { kind: 'leafref'; path: string; namespaces: Readonly<Record<string, string>>; defaultNs: string }
  | { kind: 'instance-identifier' };

/** RFC 7950 section 10 functions -> [min, max] arguments */
export const YANG_FUNCTION_ARITY: ReadonlyMap<string, readonly [number, number]> = new Map<string, readonly [number, number]>([
  ['current', [0, 0]], ['re-match', [2, 2]], ['derived-from', [2, 2]], ['derived-from-or-self', [2, 2]], ['bit-is-set', [2, 2]],
  ['deref', [1, 1]], ['enum-value', [1, 1]],
]);

export interface CallContext {
  node: XNode;
  position: number;
  size: number;
  /** an error for an argument of the wrong type */
  typeError(message: string): Error;
  /** RFC 7950 section 10: the initial context node, and what the YANG functions need (YangFunctions above) */
  initial?: XNode;
  yang?: YangFunctions;
  /** the expression's namespace declarations (an identity argument's prefix) */
  namespaces?: Readonly<Record<string, string>>;
  /**
   * deref(): evaluate another expression (a leafref path, an instance-identifier value) with `context` as the
   * context node and current(), under the same step budget; undefined when it does not parse
   */
  evaluateOther?(expr: string, options: { namespaces: Readonly<Record<string, string>>; defaultNs?: string }, context: XNode): XNode[] | undefined;
}

/** the element names from the top down to an element node */
function dataPath(n: XNode): DataName[] {
  const out: DataName[] = [];
  for (let e: XNode | undefined = n; e && e.kind === 'element'; e = e.parent) out.push({ ns: e.ns, name: e.localName });
  return out.reverse();
}

/** every prefix declared in scope on an element (its own declarations and its ancestors'), nearest first */
function prefixesOn(n: XNode): Record<string, string> {
  const out: Record<string, string> = {};
  for (let e: XNode | undefined = n; e; e = e.parent) {
    const ctx = e.element?.nsContext;
    if (!ctx) continue;
    // a parsed element's context inherits its parent's (prototype chain): for-in sees those too
    for (const p in ctx) if (!(p in out) && ctx[p] !== undefined) out[p] = ctx[p]!;
  }
  return out;
}

/** RFC 7950 10.3.1: the nodes the first node of the set refers to (leafref: the path's nodes with its value) */
function deref(args: Value[], cx: CallContext): XNode[] {
  const first = nodeSetArg('deref', args[0]!, cx)[0];
  if (first === undefined || first.kind !== 'element' || !cx.yang?.reference || !cx.evaluateOther) return [];
  const value = first.stringValue().trim();
  const ref = cx.yang.reference(dataPath(first));
  if (ref === undefined) return [];
  if (ref.kind === 'instance-identifier') {
    // the value is an absolute path whose prefixes are declared where the value appears
    const found = cx.evaluateOther(value, { namespaces: prefixesOn(first) }, first);
    return found === undefined ? [] : found.slice(0, 1);
  }
  const targets = cx.evaluateOther(ref.path, { namespaces: ref.namespaces, defaultNs: ref.defaultNs }, first) ?? [];
  return targets.filter((t) => t.stringValue().trim() === value);
}

/** RFC 7950 10.5.1: the integer value of the first node's enum, NaN when it is not of type enumeration */
function enumValue(args: Value[], cx: CallContext): number {
  const first = nodeSetArg('enum-value', args[0]!, cx)[0];
  if (first === undefined || first.kind !== 'element' || !cx.yang?.enumValue) return NaN;
  return cx.yang.enumValue(dataPath(first), first.stringValue().trim()) ?? NaN;
}

/** a prefix's namespace in scope on a node (walking up its ancestors' declarations) */
function prefixOn(n: XNode, prefix: string): string | undefined {
  for (let e: XNode | undefined = n; e; e = e.parent) {
    const uri = e.element?.nsContext?.[prefix];
    if (uri !== undefined) return uri;
  }
  return undefined;
}

/** an identityref value "prefix:name" as [namespace, name]; unprefixed = the node's own namespace */
function identityOf(value: string, resolve: (prefix: string) => string | undefined, own: string): { ns: string; name: string } | undefined {
  const v = value.trim();
  const i = v.indexOf(':');
  if (i < 0) return v === '' ? undefined : { ns: own, name: v };
  const ns = resolve(v.slice(0, i));
  return ns === undefined ? undefined : { ns, name: v.slice(i + 1) };
}

/** RFC 7950 10.4.1 / 10.4.2: some node of the set holds an identity derived from (or, `orSelf`, equal to) the argument */
function derived(name: string, args: Value[], cx: CallContext, orSelf: boolean): boolean {
  const nodes = nodeSetArg(name, args[0]!, cx);
  const base = identityOf(toStringValue(args[1]!), (p) => cx.namespaces?.[p], cx.namespaces?.[''] ?? '');
  if (!base) throw cx.typeError(`${name}(): the identity "${toStringValue(args[1]!)}" has an undeclared prefix`);
  return nodes.some((n) => {
    const id = identityOf(n.stringValue(), (p) => prefixOn(n, p), n.ns);
    if (!id) return false;
    if (orSelf && id.ns === base.ns && id.name === base.name) return true;
    return cx.yang!.derivedFrom(id, base);
  });
}

/** the functions whose argument must be a node-set */
function nodeSetArg(name: string, v: Value, cx: CallContext): XNode[] {
  if (!isNodeSet(v)) throw cx.typeError(`${name}() needs a node-set argument`);
  return v;
}

/** an optional node-set argument; absent = the context node (4.1) */
function firstNode(name: string, args: Value[], cx: CallContext): XNode | undefined {
  if (args.length === 0) return cx.node;
  return nodeSetArg(name, args[0]!, cx)[0];
}

/** the QName of a node: the prefix its element declares for the namespace, if any */
function qname(n: XNode): string {
  const ns = n.ns;
  if (ns === '' || (n.kind !== 'element' && n.kind !== 'attribute')) return n.localName;
  for (let e: XNode | undefined = n.kind === 'attribute' ? n.parent : n; e; e = e.parent) {
    const ctx = e.element?.nsContext;
    if (!ctx) continue;
    for (const [p, u] of Object.entries(ctx)) {
      if (u === ns && (p !== '' || n.kind === 'element')) return p === '' ? n.localName : `${p}:${n.localName}`;
    }
    break;
  }
  return n.localName;
}

function chars(s: string): string[] {
  return Array.from(s);
}

/** round() of XPath 1.0 4.4: the closest integer, halves toward positive infinity */
function xround(n: number): number {
  if (!Number.isFinite(n)) return n;
  if (n < 0 && n >= -0.5) return -0;
  return Math.floor(n + 0.5);
}

export function callFunction(name: string, args: Value[], cx: CallContext): Value {
  switch (name) {
    case 'last': return cx.size;
    case 'position': return cx.position;
    case 'count': return nodeSetArg(name, args[0]!, cx).length;
    case 'id': {
      // no ID-typed attributes in YANG data; still check the argument's type
      toStringValue(args[0]!);
      return [];
    }
    case 'local-name': return firstNode(name, args, cx)?.localName ?? '';
    case 'namespace-uri': return firstNode(name, args, cx)?.ns ?? '';
    case 'name': {
      const n = firstNode(name, args, cx);
      return n ? qname(n) : '';
    }
    case 'string': return str(args, 0, cx);
    case 'concat': return args.map((a) => toStringValue(a)).join('');
    case 'starts-with': return str(args, 0, cx).startsWith(str(args, 1, cx));
    case 'contains': return str(args, 0, cx).includes(str(args, 1, cx));
    case 'substring-before': return substringBefore(str(args, 0, cx), str(args, 1, cx));
    case 'substring-after': return substringAfter(str(args, 0, cx), str(args, 1, cx));
    case 'substring': return substring(args, cx);
    case 'string-length': return chars(str(args, 0, cx)).length;
    case 'normalize-space': return str(args, 0, cx).replace(/[\t\n\r ]+/g, ' ').replace(/^ | $/g, '');
    case 'translate': return translate(args, cx);
    case 'boolean': return toBoolean(args[0]!);
    case 'not': return !toBoolean(args[0]!);
    case 'true': return true;
    case 'false': return false;
    case 'lang': return lang(args, cx);
    case 'number': return args.length > 0 ? toNumber(args[0]!) : toNumber(cx.node.stringValue());
    case 'sum': return nodeSetArg(name, args[0]!, cx).reduce((acc, n) => acc + toNumber(n.stringValue()), 0);
    case 'floor': return Math.floor(toNumber(args[0]!));
    case 'ceiling': return Math.ceil(toNumber(args[0]!));
    case 'round': return xround(toNumber(args[0]!));
    // RFC 7950 section 10 (only parsed when the caller gave ParseOptions.yang)
    case 'current': return cx.initial ? [cx.initial] : [];
    case 're-match': return reMatch(args, cx);
    case 'derived-from': return derived(name, args, cx, false);
    case 'derived-from-or-self': return derived(name, args, cx, true);
    case 'deref': return deref(args, cx);
    case 'enum-value': return enumValue(args, cx);
    case 'bit-is-set': return bitIsSet(name, args, cx);
    default:
      // the parser accepts only the names above
      throw cx.typeError(`unknown function ${name}()`);
  }
}

/** argument i as a string; absent = the context node's string-value (4.2) */
function str(args: Value[], i: number, cx: CallContext): string {
  return args.length > i ? toStringValue(args[i]!) : cx.node.stringValue();
}

function substringBefore(s: string, t: string): string {
  const i = s.indexOf(t);
  return i < 0 ? '' : s.slice(0, i);
}

function substringAfter(s: string, t: string): string {
  const i = s.indexOf(t);
  return i < 0 ? '' : s.slice(i + t.length);
}

function substring(args: Value[], cx: CallContext): string {
  const s = chars(str(args, 0, cx));
  const start = xround(toNumber(args[1]!));
  const end = args.length > 2 ? start + xround(toNumber(args[2]!)) : Infinity;
  // characters at positions p (from 1) with start <= p < end; NaN compares false
  return s.filter((_c, i) => i + 1 >= start && i + 1 < end).join('');
}

function translate(args: Value[], cx: CallContext): string {
  const from = chars(str(args, 1, cx));
  const to = chars(str(args, 2, cx));
  const map = new Map<string, string>();
  from.forEach((c, i) => {
    if (!map.has(c)) map.set(c, to[i] ?? '');
  });
  return chars(str(args, 0, cx)).map((c) => map.get(c) ?? c).join('');
}

/** 4.3: the xml:lang of the context node (or its nearest ancestor's) is the argument or a sub-language of it */
function lang(args: Value[], cx: CallContext): boolean {
  const want = toStringValue(args[0]!).toLowerCase();
  for (let n: XNode | undefined = cx.node.kind === 'element' ? cx.node : cx.node.parent; n; n = n.parent) {
    const a = n.element?.attrs.find((x) => x.name === 'lang' && x.ns === 'http://www.w3.org/XML/1998/namespace');
    if (a) {
      const have = a.value.toLowerCase();
      return have === want || have.startsWith(`${want}-`);
    }
  }
  return false;
}

/** RFC 7950 10.2.1: the string matches the XSD pattern */
function reMatch(args: Value[], cx: CallContext): boolean {
  let re: RegExp;
  try {
    re = cx.yang!.regex(str(args, 1, cx));
  } catch (e) {
    throw cx.typeError(`re-match(): the pattern "${str(args, 1, cx)}" is not a valid regular expression (${(e as Error).message})`);
  }
  return re.test(str(args, 0, cx));
}

/** RFC 7950 10.6.1: the first node of the set is a bits value with the named bit set */
function bitIsSet(name: string, args: Value[], cx: CallContext): boolean {
  const first = nodeSetArg(name, args[0]!, cx)[0];
  return first !== undefined && first.stringValue().trim().split(/\s+/).includes(str(args, 1, cx).trim());
}
