/**
 * Repeated messages (issue 13): a client that polls sends the same rpc again and again, only its message-id changing
 * (and a server's replies to it differ only there too). parse.ts keeps the last message that the fast scanner
 * (fast-scan.ts) parsed, as bytes, with where its root element's attribute values lie; a message that differs from it
 * only inside one of those values (not a namespace declaration's), the new value plain as the scanner takes it, has the
 * same tree but for that attribute's value, and gets a copy of the kept tree with the new value instead of a parse.
 *
 * Why that is the parse's answer: the scanner delivers the same events for both messages (every byte outside the value
 * is the same, and the value is one the scanner takes: printable ASCII without '<', '&' or its quote), and the value of
 * an attribute that declares no namespace takes part in no limit and no namespace rule; the tree is built from those
 * events only. So a limit, a namespace error or anything outside the scanner's subset cannot be reached this way: such a
 * message differs from the kept one elsewhere, and is parsed.
 *
 * Cost: on each message, per value of the kept root, two native comparisons (memcmp) of the bytes before and after it;
 * a message parsed by the scanner is copied (at most MAX_REPEAT_BYTES), with where the scanner found its root values. The tree itself is kept (copied) only
 * once a message has matched the kept bytes: a stream of messages that never repeat pays no copy of their trees. Every
 * tree handed out is a fresh copy (the layers above may change what they are given); the copy shares the strings and
 * the frozen namespace contexts, as the parses of equal messages share interned contexts.
 */
import { ROOT_VALUES, rootValueCount } from './fast-scan.js';
import type { XmlAttr, XmlElement, XmlNode } from './types.js';

/** messages larger than this are not kept (small rpcs are the ones a client repeats; the copy is bounded) */
export const MAX_REPEAT_BYTES = 2048;

const LT = 60;
const AMP = 38;

/** the kept message's bytes: the first keptLength of `bytes` (a buffer owned here, never the caller's); -1: none */
const bytes = Buffer.allocUnsafeSlow(MAX_REPEAT_BYTES);
let keptLength = -1;
/** the limits it was parsed with (resolved: compared by identity) */
let keptLimits: object | undefined;
/** per attribute of its root that declares no namespace: value start, value end (its closing quote), index in attrs */
const keptSpans = new Int32Array(ROOT_VALUES.length);
let keptSpanCount = 0;
/** its tree, kept untouched (copied out); undefined until a message has matched these bytes */
let keptTree: XmlElement | undefined;
/** the message being parsed matched the kept bytes, but no tree is kept yet: keep this one's */
let keepTree = false;

/**
 * The tree of `b` when it repeats the kept message (see above), a fresh copy; undefined otherwise (then parse it, and
 * tell `parsed` when the fast scanner did).
 */
export function repeated(b: Uint8Array, limits: object): XmlElement | undefined {
  keepTree = false;
  const lb = b.length;
  const lt = keptLength;
  if (lt < 0 || keptLimits !== limits || lb > MAX_REPEAT_BYTES) return undefined;
  const t = bytes;
  const spans = keptSpans;
  // the usual repeat (lockstep: one root value, the message-id, of the same length): one native comparison of the whole
  // message, once the new value is written over the kept one (the kept bytes there are never compared: see above)
  if (keptSpanCount === 1 && lb === lt) {
    const vs = spans[0]!;
    const ve = spans[1]!;
    const quote = t[ve]!;
    if (b[ve] !== quote) return undefined;
    for (let i = vs; i < ve; i++) {
      const c = b[i]!;
      if (c < 32 || c > 126 || c === LT || c === AMP || c === quote) return undefined;
      t[i] = c;
    }
    if (Buffer.compare(b, keptView(lt)) !== 0) return undefined;
    return found(spans[2]!, b, vs, ve);
  }
  // per value [vs, ve) of the kept message: the bytes before it and after it the same in b (compared natively: a loop
  // over the bytes in JIT code cost ~40 instructions per byte here), the bytes between them a value the scanner takes
  for (let s = 0; s < 3 * keptSpanCount; s += 3) {
    const vs = spans[s]!;
    const ve = spans[s + 1]!;
    const end = ve + lb - lt;
    const quote = t[ve]!;
    if (end < vs || b[end] !== quote) continue;
    if (compareRange(b, t, 0, vs, 0, vs) !== 0 || compareRange(b, t, ve, lt, end, lb) !== 0) continue;
    for (let i = vs; i < end; i++) {
      const c = b[i]!;
      if (c < 32 || c > 126 || c === LT || c === AMP || c === quote) return undefined;
    }
    const tree = found(spans[s + 2]!, b, vs, end);
    // b is kept in place of the message it matched (the value's length changed: message-id 9 -> 10), so that the
    // repeats after it take the one-comparison way above
    if (tree !== undefined) rekeep(b, s, lb - lt);
    return tree;
  }
  return undefined;
}

/** keep `b`, which matched the kept message but for value `s` (3 x its index), `delta` bytes longer or shorter there */
function rekeep(b: Uint8Array, s: number, delta: number): void {
  bytes.set(b, 0);
  keptLength = b.length;
  const spans = keptSpans;
  spans[s + 1] = spans[s + 1]! + delta;
  for (let k = s + 3; k < 3 * keptSpanCount; k += 3) {
    spans[k] = spans[k]! + delta;
    spans[k + 1] = spans[k + 1]! + delta;
  }
}

/** the first `n` kept bytes as a Buffer of their own length (made again only when the length changes) */
let view: Buffer | undefined;
function keptView(n: number): Buffer {
  if (view === undefined || view.length !== n) view = bytes.subarray(0, n);
  return view;
}

/** Buffer's compare of source[sourceStart, sourceEnd) with target[targetStart, targetEnd) (memcmp), for any Uint8Array */
const compareBytes = Buffer.prototype.compare;
function compareRange(source: Uint8Array, target: Uint8Array, targetStart: number, targetEnd: number, sourceStart: number, sourceEnd: number): number {
  return compareBytes.call(source, target, targetStart, targetEnd, sourceStart, sourceEnd);
}

/** `b` matched the kept bytes: a copy of the kept tree (attribute `attr` of the root with b's value [vs, end)) */
function found(attr: number, b: Uint8Array, vs: number, end: number): XmlElement | undefined {
  const tree = keptTree;
  if (tree === undefined) {
    keepTree = true;
    return undefined;
  }
  const value = latin1(b, vs, end);
  const attrs = copyAttrs(tree.attrs);
  const a = attrs[attr]!;
  attrs[attr] = { ns: a.ns, name: a.name, value };
  return { ns: tree.ns, name: tree.name, attrs, children: copyChildren(tree.children), nsContext: tree.nsContext };
}

/**
 * The string of bytes [a, e), each byte one character (ASCII here). A number without a leading zero (a message-id) is
 * read as one and converted back (the same digits), one string instead of a concatenation per digit; another short one
 * is built in JS, without a call into the runtime.
 */
function latin1(b: Uint8Array, a: number, e: number): string {
  if (e > a && e - a <= 15 && b[a] !== 48) {
    let v = 0;
    let i = a;
    for (; i < e; i++) {
      const d = b[i]! - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    if (i === e) return String(v);
  }
  if (e - a > 16) return Buffer.prototype.toString.call(b, 'latin1', a, e);
  let s = '';
  for (let i = a; i < e; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/**
 * The fast scanner parsed `b` into `root` (returned to the caller as it is; the scanner's ROOT_VALUES are b's): keep
 * b's bytes, and a copy of the tree when b matched the bytes kept before (the second of a run of repeats: the third is
 * answered by repeated()).
 */
export function parsed(b: Uint8Array, root: XmlElement, limits: object): void {
  const keep = keepTree;
  keepTree = false;
  if (b.length > MAX_REPEAT_BYTES) {
    keptLength = -1;
    keptTree = undefined;
    return;
  }
  bytes.set(b, 0);
  keptLength = b.length;
  keptLimits = limits;
  keptSpanCount = rootValueCount;
  for (let i = 0; i < 3 * rootValueCount; i++) keptSpans[i] = ROOT_VALUES[i]!;
  keptTree = keep ? copyTree(root) : undefined;
}

/** forget the kept message (tests) */
export function forgetRepeat(): void {
  keptLength = -1;
  keptTree = undefined;
  keepTree = false;
}

/** the same object shape as parse.ts's openTag builds (one hidden class for parsed elements) */
function copyTree(e: XmlElement): XmlElement {
  return { ns: e.ns, name: e.name, attrs: copyAttrs(e.attrs), children: copyChildren(e.children), nsContext: e.nsContext };
}

function copyAttrs(attrs: XmlAttr[]): XmlAttr[] {
  const out: XmlAttr[] = [];
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i]!;
    out.push({ ns: a.ns, name: a.name, value: a.value });
  }
  return out;
}

function copyChildren(children: XmlNode[]): XmlNode[] {
  const n = children.length;
  if (n === 0) return [];
  const first = children[0]!;
  const out: XmlNode[] = [typeof first === 'string' ? first : copyTree(first)];
  for (let i = 1; i < n; i++) {
    const c = children[i]!;
    out.push(typeof c === 'string' ? c : copyTree(c));
  }
  return out;
}
