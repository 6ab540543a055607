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
  return new Lexer(expr).tokens();
}

/** The lexer of one expression: `i` the offset read to, `out` the tokens so far; one method per kind of token. */
class Lexer {
  private readonly out: Token[] = [];
  private i = 0;

  constructor(private readonly expr: string) {}

  private bad(pos: number, what: string): never {
    throw new XPathError('ERR_XPATH_SYNTAX', `XPath expression ${quoteExpr(this.expr)}: ${what} at offset ${pos}`);
  }

  tokens(): Token[] {
    const { expr } = this;
    const n = expr.length;
    while (this.i < n) {
      const c = expr[this.i]!;
      if (isSpace(c)) {
        this.i++;
        continue;
      }
      const pos = this.i;
      const next = expr[pos + 1];
      if (c === '(' || c === ')' || c === '[' || c === ']' || c === '@' || c === ',') this.take('punct', c, pos, 1);
      else if (c === '.' && next === '.') this.take('punct', '..', pos, 2);
      else if (c === '.' && !/[0-9]/.test(next ?? '')) this.take('punct', '.', pos, 1);
      else if (/[0-9.]/.test(c)) this.number(pos);
      else if (c === '"' || c === "'") this.literal(c, pos);
      else if (c === ':' && next === ':') this.take('punct', '::', pos, 2);
      else if (c === '/' && next === '/') this.take('operator', '//', pos, 2);
      else if (c === '/' || c === '|' || c === '+' || c === '-' || c === '=') this.take('operator', c, pos, 1);
      else if (c === '!' && next === '=') this.take('operator', '!=', pos, 2);
      else if (c === '<' || c === '>') this.comparison(c, next, pos);
      else if (c === '*') this.take(operandEnded(this.out[this.out.length - 1]) ? 'operator' : 'name', '*', pos, 1);
      else if (c === '$') this.variable(pos);
      else if (isNameStart(c)) this.name(pos);
      else this.bad(pos, `unexpected character "${c}"`);
    }
    return this.out;
  }

  /** a token of `length` characters at pos */
  private take(kind: TokenKind, value: string, pos: number, length: number): void {
    this.i += length;
    this.push(kind, value, pos);
  }

  private push(kind: TokenKind, value: string, pos: number): void {
    this.out.push({ kind, value, pos });
  }

  /** < <= > >= */
  private comparison(c: string, next: string | undefined, pos: number): void {
    const eq = next === '=';
    this.take('operator', eq ? `${c}=` : c, pos, eq ? 2 : 1);
  }

  private number(pos: number): void {
    const m = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)/.exec(this.expr.slice(this.i))!;
    this.take('number', m[0], pos, m[0].length);
  }

  /** a string literal, up to the next quote of its kind (no escapes in XPath 1.0) */
  private literal(quote: string, pos: number): void {
    const end = this.expr.indexOf(quote, this.i + 1);
    if (end < 0) this.bad(pos, 'unterminated string literal');
    this.push('literal', this.expr.slice(this.i + 1, end), pos);
    this.i = end + 1;
  }

  /** $name or $prefix:name */
  private variable(pos: number): void {
    const { expr } = this;
    this.i++;
    if (!isNameStart(expr[this.i])) this.bad(pos, 'a variable name expected after "$"');
    let name = this.readNCName();
    if (expr[this.i] === ':' && isNameStart(expr[this.i + 1])) {
      this.i++;
      name += `:${this.readNCName()}`;
    }
    this.push('variable', name, pos);
  }

  /**
   * An NCName: an operator name after an operand; else `prefix:*`, or a (prefixed) name that is a function
   * name or node type before `(`, an axis name before `::`, a NameTest otherwise.
   */
  private name(pos: number): void {
    const { expr } = this;
    const prev = this.out[this.out.length - 1];
    const first = this.readNCName();
    if (operandEnded(prev)) {
      if (!OPERATOR_NAMES.has(first)) this.bad(pos, `an operator expected, found "${first}"`);
      this.push('operator', first, pos);
      return;
    }
    let name = first;
    if (expr[this.i] === ':' && expr[this.i + 1] !== ':') {
      if (expr[this.i + 1] === '*') {
        this.take('name', `${first}:*`, pos, 2);
        return;
      }
      if (!isNameStart(expr[this.i + 1])) this.bad(this.i, 'a local name expected after the prefix');
      this.i++;
      name += `:${this.readNCName()}`;
    }
    const j = this.nextNonSpace(this.i);
    if (expr[j] === '(') this.push('function', name, pos);
    else if (expr[j] === ':' && expr[j + 1] === ':' && name === first) this.push('axis', name, pos);
    else this.push('name', name, pos);
  }

  /** the NCName at i (its first character already checked) */
  private readNCName(): string {
    const { expr } = this;
    const start = this.i;
    this.i++;
    while (this.i < expr.length && isNameChar(expr[this.i])) this.i++;
    return expr.slice(start, this.i);
  }

  private nextNonSpace(from: number): number {
    const { expr } = this;
    let j = from;
    while (j < expr.length && isSpace(expr[j])) j++;
    return j;
  }
}
