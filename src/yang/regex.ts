/**
 * XSD regular expressions (W3C XML Schema Part 2 appendix F, as YANG "pattern" uses them, RFC 7950
 * section 9.4.5) translated to JavaScript RegExp with the 'u' flag.
 * Differences handled: implicit anchoring; '^' and '$' are ordinary characters; '.' excludes only \n
 * and \r; \d is [0-9] (as libyang's PCRE2 does); \i and \c (XML name characters); \p{IsBlock}
 * block escapes are rejected (no JS equivalent); character class subtraction is rejected.
 */
import { HsvError } from '../errors.js';

export class YangRegexError extends HsvError<'ERR_YANG_PATTERN'> {
  constructor(message: string) {
    super('ERR_YANG_PATTERN', message);
  }
}

const NAME_START = 'A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD:';
const NAME_CHAR = `${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040`;

/**
 * The escape `\e` at xsd[i] (the backslash) in JS; `at` is the index of its last character (a \p{...} escape
 * is longer than two).
 */
function translateEscape(xsd: string, i: number, inClass: boolean): { out: string; at: number } {
  const e = xsd[i + 1];
  if (e === undefined) throw new YangRegexError(`pattern '${xsd}' ends with a backslash`);
  switch (e) {
    case 'n': return { out: '\\n', at: i + 1 };
    case 'r': return { out: '\\r', at: i + 1 };
    case 't': return { out: '\\t', at: i + 1 };
    case 'd': return { out: inClass ? '0-9' : '[0-9]', at: i + 1 };
    case 'D': return { out: inClass ? '\\0-\\/:-\\u{10FFFF}' : '[^0-9]', at: i + 1 };
    case 's': return { out: inClass ? ' \\t\\n\\r' : '[ \\t\\n\\r]', at: i + 1 };
    case 'S': return { out: inClass ? '\\0-\\x08\\x0B\\x0C\\x0E-\\x1F!-\\u{10FFFF}' : '[^ \\t\\n\\r]', at: i + 1 };
    case 'i': return { out: inClass ? NAME_START : `[${NAME_START}]`, at: i + 1 };
    case 'I': if (inClass) throw new YangRegexError(`\\I inside a class is not supported in '${xsd}'`); return { out: `[^${NAME_START}]`, at: i + 1 };
    case 'c': return { out: inClass ? NAME_CHAR : `[${NAME_CHAR}]`, at: i + 1 };
    case 'C': if (inClass) throw new YangRegexError(`\\C inside a class is not supported in '${xsd}'`); return { out: `[^${NAME_CHAR}]`, at: i + 1 };
    case 'w': return { out: inClass ? '\\p{L}\\p{M}\\p{N}\\p{S}' : '[\\p{L}\\p{M}\\p{N}\\p{S}]', at: i + 1 };
    case 'W': return { out: inClass ? '\\p{P}\\p{Z}\\p{C}' : '[\\p{P}\\p{Z}\\p{C}]', at: i + 1 };
    case 'p':
    case 'P': {
      const close = xsd.indexOf('}', i + 1);
      if (xsd[i + 2] !== '{' || close < 0) throw new YangRegexError(`bad \\${e} escape in '${xsd}'`);
      const prop = xsd.slice(i + 3, close);
      if (prop.startsWith('Is')) throw new YangRegexError(`block escape \\${e}{${prop}} is not supported in '${xsd}'`);
      return { out: `\\${e}{${prop}}`, at: close };
    }
    default:
      // single-character escapes: \ | . - ^ ? * + { } ( ) [ ]
      if ('\\|.-^?*+{}()[]$'.includes(e)) return { out: '\\' + e, at: i + 1 };
      throw new YangRegexError(`unknown escape \\${e} in '${xsd}'`);
  }
}

/** a character inside a character class (not an escape): its JS form, and whether it closes the class */
function classChar(xsd: string, i: number): { out: string; closes?: true } {
  const c = xsd[i]!;
  if (c === '[') {
    if (xsd[i - 1] === '-') throw new YangRegexError(`character class subtraction is not supported in '${xsd}'`);
    return { out: '\\[' };
  }
  if (c === ']') return { out: ']', closes: true };
  if (c === '^' && xsd[i - 1] === '[') return { out: '^' };
  if (c === '^') return { out: '\\^' };
  if (c === '-' && xsd[i + 1] === '[') throw new YangRegexError(`character class subtraction is not supported in '${xsd}'`);
  if (c === '-') {
    // a '-' first or last in a class is literal in XSD; JS 'u' mode wants it escaped there
    const prev = xsd[i - 1];
    const next = xsd[i + 1];
    if (prev === '[' || (prev === '^' && xsd[i - 2] === '[') || next === ']') return { out: '\\-' };
    return { out: '-' };
  }
  if ('/{}()|$.*+?'.includes(c)) return { out: '\\' + c };
  return { out: c };
}

/** a character outside any class (not an escape, not '['): its JS form */
function plainChar(xsd: string, i: number): string {
  const c = xsd[i]!;
  if (c === '^' || c === '$' || c === '/') return '\\' + c;
  if (c === '.') return '[^\\n\\r]';
  if (c === '(') {
    // XSD has no group modifiers; '(?' is an error in XSD
    if (xsd[i + 1] === '?') throw new YangRegexError(`'(?' is not valid XSD in '${xsd}'`);
    return '(?:';
  }
  return c;
}

/** Translate an XSD regex to the source of an anchored JS regex (use with flag 'u'). */
export function xsdToJsSource(xsd: string): string {
  let out = '';
  let inClass = 0;
  for (let i = 0; i < xsd.length; i++) {
    const c = xsd[i]!;
    if (c === '\\') {
      const esc = translateEscape(xsd, i, inClass > 0);
      out += esc.out;
      i = esc.at;
    } else if (inClass) {
      const r = classChar(xsd, i);
      if (r.closes) inClass--;
      out += r.out;
    } else if (c === '[') {
      inClass++;
      out += '[';
    } else {
      out += plainChar(xsd, i);
    }
  }
  if (inClass) throw new YangRegexError(`unterminated character class in '${xsd}'`);
  return `^(?:${out})$`;
}

const cache = new Map<string, RegExp>();

/** Compile (and cache) an XSD pattern. Throws YangRegexError when it cannot be translated. */
export function compileXsdPattern(xsd: string): RegExp {
  let re = cache.get(xsd);
  if (!re) {
    try {
      re = new RegExp(xsdToJsSource(xsd), 'u');
    } catch (err) {
      if (err instanceof YangRegexError) throw err;
      throw new YangRegexError(`pattern '${xsd}' cannot be compiled: ${(err as Error).message}`);
    }
    cache.set(xsd, re);
  }
  return re;
}
