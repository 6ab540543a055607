/**
 * A strict scanner for the plain subset of XML that NETCONF clients send in small rpcs, tried before saxes
 * (parse.ts): printable ASCII with tabs and newlines; at most an XML declaration of one of a few exact forms; no
 * DOCTYPE, comment, processing instruction or CDATA section; names of ASCII name characters; attribute values in
 * quotes without '<', '&', tabs or newlines; text with only the five predefined entity references. It delivers the
 * same events as saxes, in saxes' order (open, with the attributes in document order; close; text decoded, one
 * event per run between tags), and each only after checking what came before it as saxes would. At the first
 * thing outside the subset, malformed or not, it gives up (`false`): the caller then parses the whole message
 * again with saxes, from a fresh state, so every error message and every input outside the subset is saxes'
 * answer, as before. One pass over the input, linear in its size; at most two passes in all.
 */

/** what a scan delivers; the handlers may throw (a limit), which ends the scan */
export interface ScanHandlers {
  /** `attrs` holds the first `n` attributes as name, value, ... in document order (read it before returning) */
  open(name: string, attrs: readonly string[], n: number): void;
  close(): void;
  text(s: string): void;
}

/** the XML declarations taken as they are (others go to saxes, which checks them) */
const DECLARATIONS = [
  '<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0" encoding="utf-8"?>', '<?xml version="1.0"?>',
  "<?xml version='1.0' encoding='UTF-8'?>", "<?xml version='1.0' encoding='utf-8'?>", "<?xml version='1.0'?>",
];

/**
 * Attributes on one element beyond which the scan gives up (saxes finds duplicates with a hash; here the check is a
 * linear search, kept short so that the scan stays linear in the input)
 */
const MAX_ATTRIBUTES = 16;

const LT = 60;
const GT = 62;
const SLASH = 47;
const EQ = 61;
const DQUOTE = 34;
const AMP = 38;
const RBRACKET = 93;
const SQUOTE = 39;
const QUESTION = 63;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9;
}

/** an ASCII NameStartChar (XML 1.0 fifth edition): letter, '_' or ':' */
function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58;
}

/** an ASCII NameChar: a NameStartChar, digit, '-' or '.' */
function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57) || c === 45 || c === 46;
}

/** the end of the name starting at i (i itself when there is none) */
function nameEnd(b: Uint8Array, i: number): number {
  if (!isNameStart(b[i]!)) return i;
  let j = i + 1;
  while (isNameChar(b[j]!)) j++;
  return j;
}

/** the names of the open elements, and one element's attributes (the first n): kept across scans (no allocation per message) */
const OPEN: string[] = [];
const ATTRS: string[] = [];
/**
 * how many slots of ATTRS the scan wrote: emptied when it ends, since a value of 13 characters or more is a V8 sliced
 * string that keeps the whole message alive (running.xml's text, 25 MB at 100,000 H(e)NBs, until the next message
 * with attributes; issue 15, branch invmem2)
 */
let attrsUsed = 0;

/**
 * Where the root element's attribute values that declare no namespace lie in the bytes of the last scan: for the k-th
 * (k < rootValueCount) its value's start, its end (the closing quote) and its index among those attributes, at
 * ROOT_VALUES[3k..3k+2]. Meaningful once a scan has returned true (repeat.ts reads it then).
 */
export const ROOT_VALUES = new Int32Array(3 * MAX_ATTRIBUTES);
export let rootValueCount = 0;

/**
 * Scan `s`, whose UTF-8 encoding is `b` (the message as received; parseXml encodes a string input); false when
 * something in it is outside the subset (then nothing is known about it: ask saxes). The characters are read from
 * `b`: a byte of a Uint8Array costs a few instructions where `charCodeAt` costs a string-shape dispatch each time
 * (callgrind, issue 13: the scan was ~6,500 instructions of a get-config rpc's ~73,000 in the server). Byte and
 * character offsets agree up to the first non-ASCII byte, and the scan gives up at that byte (every byte is checked
 * before the scan moves past it), so every offset it uses for a slice of `s` is one of ASCII bytes only.
 */
export function scanSimple(s: string, b: Uint8Array, h: ScanHandlers): boolean {
  try {
    return scan(s, b, h);
  } finally {
    // nothing of the message is kept past its scan (see attrsUsed); OPEN is empty after a scan that got through
    for (let k = 0; k < attrsUsed; k++) ATTRS[k] = '';
    attrsUsed = 0;
    if (OPEN.length !== 0) OPEN.length = 0;
  }
}

function scan(s: string, b: Uint8Array, h: ScanHandlers): boolean {
  let i = 0;
  if (b[0] === LT && b[1] === QUESTION) {
    const decl = DECLARATIONS.find((d) => s.startsWith(d));
    if (decl === undefined) return false;
    i = decl.length;
  }
  const len = b.length;
  const open = OPEN;
  // OPEN and ATTRS are emptied after each scan (scanSimple); ATTRS is read up to n only
  const attrs = ATTRS;
  rootValueCount = 0;
  let rootClosed = false;
  while (i < len) {
    // the text up to the next '<' (checked, and delivered inside the root); its end, -1 outside the subset
    const lt = b[i] === LT ? i : scanText(s, b, i, open.length > 0, h);
    if (lt < 0) return false;
    if (lt >= len) break;
    if (rootClosed) return false;
    i = b[lt + 1] === SLASH ? endTag(s, b, lt, open, h) : startTag(s, b, lt, open, attrs, h);
    if (i < 0) return false;
    rootClosed = open.length === 0;
  }
  return rootClosed;
}

/**
 * Text from i to the next '<' (or the end of input): inside the root, delivered decoded; outside it, only
 * whitespace is taken (and not delivered: the parser ignores it there). The index of that '<' (the input's length
 * at its end), -1 outside the subset.
 */
function scanText(s: string, b: Uint8Array, i: number, inRoot: boolean, h: ScanHandlers): number {
  const len = b.length;
  let j = i;
  if (!inRoot) {
    for (; j < len && b[j] !== LT; j++) if (!isSpace(b[j]!)) return -1;
    return j;
  }
  let out = '';
  let from = i;
  for (; j < len; j++) {
    const c = b[j]!;
    if (c === LT) break;
    if (c >= 32 && c <= 126) {
      if (c === GT && b[j - 1] === RBRACKET && b[j - 2] === RBRACKET && j - 2 >= i) return -1;
      if (c !== AMP) continue;
      const ref = entityAt(s, j);
      if (ref === undefined) return -1;
      out += s.slice(from, j) + ref[0];
      j += ref[1] - 1;
      from = j + 1;
    } else if (c !== 10 && c !== 9) return -1;
  }
  h.text(from === i ? s.slice(i, j) : out + s.slice(from, j));
  return j;
}

/** the five predefined entity references: [character, length of the reference] */
function entityAt(s: string, j: number): [string, number] | undefined {
  if (s.startsWith('&amp;', j)) return ['&', 5];
  if (s.startsWith('&lt;', j)) return ['<', 4];
  if (s.startsWith('&gt;', j)) return ['>', 4];
  if (s.startsWith('&quot;', j)) return ['"', 6];
  if (s.startsWith('&apos;', j)) return ["'", 6];
  return undefined;
}

/** `<name attributes>` or `<name attributes/>` at lt; the index after it, -1 outside the subset */
function startTag(s: string, b: Uint8Array, lt: number, open: string[], attrs: string[], h: ScanHandlers): number {
  const ne = nameEnd(b, lt + 1);
  if (ne === lt + 1) return -1;
  const name = s.slice(lt + 1, ne);
  let n = 0;
  let i = ne;
  for (;;) {
    let c = b[i];
    if (c === GT) {
      open.push(name);
      h.open(name, attrs, n);
      return i + 1;
    }
    if (c === SLASH) {
      if (b[i + 1] !== GT) return -1;
      h.open(name, attrs, n);
      h.close();
      return i + 2;
    }
    if (c === undefined || !isSpace(c)) return -1;
    while (c !== undefined && isSpace(c)) c = b[++i];
    if (c === GT || c === SLASH) continue;
    const ae = nameEnd(b, i);
    if (ae === i || b[ae] !== EQ || n === MAX_ATTRIBUTES) return -1;
    const ve = attributeValueEnd(b, ae + 1);
    if (ve < 0) return -1;
    const aname = s.slice(i, ae);
    for (let k = 0; k < n; k++) if (attrs[2 * k] === aname) return -1;
    attrs[2 * n] = aname;
    attrs[2 * n + 1] = s.slice(ae + 2, ve);
    n++;
    if (2 * n > attrsUsed) attrsUsed = 2 * n;
    if (open.length === 0 && aname !== 'xmlns' && !aname.startsWith('xmlns:')) {
      const k = rootValueCount++;
      ROOT_VALUES[3 * k] = ae + 2;
      ROOT_VALUES[3 * k + 1] = ve;
      ROOT_VALUES[3 * k + 2] = k;
    }
    i = ve + 1;
  }
}

/** the index of the closing quote of the value quoted at q, -1 when it is not plain (or not quoted) */
function attributeValueEnd(b: Uint8Array, q: number): number {
  const quote = b[q];
  if (quote !== DQUOTE && quote !== SQUOTE) return -1;
  const len = b.length;
  for (let j = q + 1; j < len; j++) {
    const c = b[j]!;
    if (c === quote) return j;
    if (c < 32 || c > 126 || c === LT || c === AMP) return -1;
  }
  return -1;
}

/** `</name>` at lt, closing the innermost open element; the index after it, -1 otherwise */
function endTag(s: string, b: Uint8Array, lt: number, open: string[], h: ScanHandlers): number {
  const top = open[open.length - 1];
  const ne = lt + 2 + (top?.length ?? 0);
  if (top === undefined || !s.startsWith(top, lt + 2) || b[ne] !== GT) return -1;
  open.pop();
  h.close();
  return ne + 1;
}
