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

/** Translate an XSD regex to the source of an anchored JS regex (use with flag 'u'). */
export function xsdToJsSource(xsd: string): string {
  let out = '';
  let inClass = 0;
  for (let i = 0; i < xsd.length; i++) {
    const c = xsd[i]!;
    if (c === '\\') {
      const e = xsd[i + 1];
      if (e === undefined) throw new YangRegexError(`pattern '${xsd}' ends with a backslash`);
      i++;
      switch (e) {
        case 'n': out += '\\n'; break;
        case 'r': out += '\\r'; break;
        case 't': out += '\\t'; break;
        case 'd': out += inClass ? '0-9' : '[0-9]'; break;
        case 'D': out += inClass ? '\\0-\\/:-\\u{10FFFF}' : '[^0-9]'; break;
        case 's': out += inClass ? ' \\t\\n\\r' : '[ \\t\\n\\r]'; break;
        case 'S': out += inClass ? '\\0-\\x08\\x0B\\x0C\\x0E-\\x1F!-\\u{10FFFF}' : '[^ \\t\\n\\r]'; break;
        case 'i': out += inClass ? NAME_START : `[${NAME_START}]`; break;
        case 'I': if (inClass) throw new YangRegexError(`\\I inside a class is not supported in '${xsd}'`); out += `[^${NAME_START}]`; break;
        case 'c': out += inClass ? NAME_CHAR : `[${NAME_CHAR}]`; break;
        case 'C': if (inClass) throw new YangRegexError(`\\C inside a class is not supported in '${xsd}'`); out += `[^${NAME_CHAR}]`; break;
        case 'w': out += inClass ? '\\p{L}\\p{M}\\p{N}\\p{S}' : '[\\p{L}\\p{M}\\p{N}\\p{S}]'; break;
        case 'W': out += inClass ? '\\p{P}\\p{Z}\\p{C}' : '[\\p{P}\\p{Z}\\p{C}]'; break;
        case 'p':
        case 'P': {
          const close = xsd.indexOf('}', i);
          if (xsd[i + 1] !== '{' || close < 0) throw new YangRegexError(`bad \\${e} escape in '${xsd}'`);
          const prop = xsd.slice(i + 2, close);
          if (prop.startsWith('Is')) throw new YangRegexError(`block escape \\${e}{${prop}} is not supported in '${xsd}'`);
          out += `\\${e}{${prop}}`;
          i = close;
          break;
        }
        default:
          // single-character escapes: \ | . - ^ ? * + { } ( ) [ ]
          if ('\\|.-^?*+{}()[]$'.includes(e)) {
            out += '\\' + e;
          } else {
            throw new YangRegexError(`unknown escape \\${e} in '${xsd}'`);
          }
      }
      continue;
    }
    if (inClass) {
      if (c === '[') {
        if (xsd[i - 1] === '-') throw new YangRegexError(`character class subtraction is not supported in '${xsd}'`);
        out += '\\[';
        continue;
      }
      if (c === ']') { inClass--; out += ']'; continue; }
      if (c === '^' && xsd[i - 1] === '[') { out += '^'; continue; }
      if (c === '^') { out += '\\^'; continue; }
      if (c === '-' && xsd[i + 1] === '[') throw new YangRegexError(`character class subtraction is not supported in '${xsd}'`);
      if (c === '-') {
        // a '-' first or last in a class is literal in XSD; JS 'u' mode wants it escaped there
        const prev = xsd[i - 1];
        const next = xsd[i + 1];
        if (prev === '[' || (prev === '^' && xsd[i - 2] === '[') || next === ']') { out += '\\-'; continue; }
        out += '-';
        continue;
      }
      if (c === '/' || c === '{' || c === '}' || c === '(' || c === ')' || c === '|' || c === '$' || c === '.' || c === '*' || c === '+' || c === '?') {
        out += '\\' + c;
        continue;
      }
      out += c;
      continue;
    }
    if (c === '[') { inClass++; out += '['; continue; }
    if (c === '^' || c === '$' || c === '/') { out += '\\' + c; continue; }
    if (c === '.') { out += '[^\\n\\r]'; continue; }
    if (c === '(') {
      // XSD has no group modifiers; '(?' is an error in XSD
      if (xsd[i + 1] === '?') throw new YangRegexError(`'(?' is not valid XSD in '${xsd}'`);
      out += '(?:';
      continue;
    }
    out += c;
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
