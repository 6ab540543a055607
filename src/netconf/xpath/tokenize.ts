/**
 * XPath 1.0 lexical structure (XPath 1.0 section 3.7, ExprToken). The disambiguation rules of 3.7 are
 * applied here: after a token that can end an operand, `*` is the multiply operator and an NCName is
 * an operator name (and, or, mod, div); an NCName followed by `(` is a function name or node type; one
 * followed by `::` is an axis name.
 */
import { XPathError, quoteExpr } from './errors.js';

export type TokenKind =
  | 'number' | 'literal' | 'variable'
  /** a NameTest: `*`, `prefix:*`, `name`, `prefix:name` */
  | 'name'
  /** a function name or a node type (the next token is `(`) */
  | 'function'
  | 'axis'
  /** and or mod div | / // + - = != < <= > >= * (multiply) */
  | 'operator'
  /** ( ) [ ] . .. @ , :: */
  | 'punct';

export interface Token {
  kind: TokenKind;
  value: string;
  /** offset in the expression, for messages */
  pos: number;
}

const NAME_START = /[A-Za-z_\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD]/;
const NAME_CHAR = /[-.0-9A-Za-z_\u00B7\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u037D\u037F-\u1FFF\u200C-\u200D\u203F\u2040\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD]/;
const OPERATOR_NAMES = new Set(['and', 'or', 'mod', 'div']);

function isNameStart(c: string | undefined): boolean {
  return c !== undefined && NAME_START.test(c);
}

function isNameChar(c: string | undefined): boolean {
  return c !== undefined && NAME_CHAR.test(c);
}

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/** true when the previous token leaves us expecting an operator (3.7's "preceding token" rule) */
function operandEnded(prev: Token | undefined): boolean {
  if (!prev) return false;
  if (prev.kind === 'operator' || prev.kind === 'axis' || prev.kind === 'function') return false;
  if (prev.kind === 'punct') return prev.value === ')' || prev.value === ']' || prev.value === '.' || prev.value === '..';
  return true;
}

export function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  const bad = (pos: number, what: string): never => {
    throw new XPathError('ERR_XPATH_SYNTAX', `XPath expression ${quoteExpr(expr)}: ${what} at offset ${pos}`);
  };
  let i = 0;
  const n = expr.length;
  const readNCName = (): string => {
    const start = i;
    i++;
    while (i < n && isNameChar(expr[i])) i++;
    return expr.slice(start, i);
  };
  const nextNonSpace = (from: number): number => {
    let j = from;
    while (j < n && isSpace(expr[j])) j++;
    return j;
  };
  while (i < n) {
    const c = expr[i]!;
    const pos = i;
    if (isSpace(c)) {
      i++;
      continue;
    }
    const prev = out[out.length - 1];
    const push = (kind: TokenKind, value: string): void => {
      out.push({ kind, value, pos });
    };
    if (c === '(' || c === ')' || c === '[' || c === ']' || c === '@' || c === ',') {
      i++;
      push('punct', c);
    } else if (c === '.' && expr[i + 1] === '.') {
      i += 2;
      push('punct', '..');
    } else if (c === '.' && !/[0-9]/.test(expr[i + 1] ?? '')) {
      i++;
      push('punct', '.');
    } else if (/[0-9.]/.test(c)) {
      const m = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)/.exec(expr.slice(i))!;
      i += m[0].length;
      push('number', m[0]);
    } else if (c === '"' || c === "'") {
      const end = expr.indexOf(c, i + 1);
      if (end < 0) bad(pos, 'unterminated string literal');
      push('literal', expr.slice(i + 1, end));
      i = end + 1;
    } else if (c === ':' && expr[i + 1] === ':') {
      i += 2;
      push('punct', '::');
    } else if (c === '/' && expr[i + 1] === '/') {
      i += 2;
      push('operator', '//');
    } else if (c === '/' || c === '|' || c === '+' || c === '-' || c === '=') {
      i++;
      push('operator', c);
    } else if (c === '!' && expr[i + 1] === '=') {
      i += 2;
      push('operator', '!=');
    } else if (c === '<' || c === '>') {
      const eq = expr[i + 1] === '=';
      i += eq ? 2 : 1;
      push('operator', eq ? `${c}=` : c);
    } else if (c === '*') {
      i++;
      push(operandEnded(prev) ? 'operator' : 'name', '*');
    } else if (c === '$') {
      i++;
      if (!isNameStart(expr[i])) bad(pos, 'a variable name expected after "$"');
      let name = readNCName();
      if (expr[i] === ':' && isNameStart(expr[i + 1])) {
        i++;
        name += `:${readNCName()}`;
      }
      push('variable', name);
    } else if (isNameStart(c)) {
      const first = readNCName();
      if (operandEnded(prev)) {
        if (!OPERATOR_NAMES.has(first)) bad(pos, `an operator expected, found "${first}"`);
        push('operator', first);
        continue;
      }
      let name = first;
      if (expr[i] === ':' && expr[i + 1] !== ':') {
        if (expr[i + 1] === '*') {
          i += 2;
          push('name', `${first}:*`);
          continue;
        }
        if (!isNameStart(expr[i + 1])) bad(i, 'a local name expected after the prefix');
        i++;
        name += `:${readNCName()}`;
      }
      const j = nextNonSpace(i);
      if (expr[j] === '(') push('function', name);
      else if (expr[j] === ':' && expr[j + 1] === ':' && name === first) push('axis', name);
      else push('name', name);
    } else {
      bad(pos, `unexpected character "${c}"`);
    }
  }
  return out;
}
