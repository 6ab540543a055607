/**
 * Recursive-descent parser for XPath 1.0 (the grammar of XPath 1.0 sections 2 and 3, productions
 * [1]-[39]), from the tokens of tokenize.ts to the AST of ast.ts. Prefixes are resolved here, against
 * the namespace declarations in scope (RFC 6241 8.9: those on the <filter> element); an undeclared
 * prefix, an unknown function or a variable (the set of variable bindings is empty) is a syntax error.
 * Limits: expression length and nesting depth, checked before any work that grows with them.
 */
import type { Axis, Expr, NodeTest, Step } from './ast.js';
import { AXES } from './ast.js';
import { XPathError, quoteExpr } from './errors.js';
import { FUNCTION_ARITY, YANG_FUNCTION_ARITY } from './functions.js';
import type { YangFunctions } from './functions.js';
import { tokenize } from './tokenize.js';
import type { Token } from './tokenize.js';

export interface XPathLimits {
  /** characters in the expression (default 4096) */
  maxLength?: number;
  /** nesting of parentheses, predicates, function arguments and unary minus (default 32) */
  maxDepth?: number;
  /** nodes visited and predicates evaluated in one evaluation (default 1,000,000) */
  maxSteps?: number;
  /** nodes in any one node-set (default 100,000) */
  maxNodeSet?: number;
}

export const DEFAULT_LIMITS: Required<XPathLimits> = { maxLength: 4096, maxDepth: 32, maxSteps: 1_000_000, maxNodeSet: 100_000 };

export interface ParseOptions {
  /** prefix -> namespace URI, as declared on the element that carries the expression */
  namespaces: Readonly<Record<string, string>>;
  /**
   * How an unprefixed name test matches: 'none' = only nodes in no namespace (XPath 1.0 2.3, the
   * default); 'any' = the local name in any namespace (as an xmlns="" subtree filter node, RFC 6241 6.2.1);
   * { ns } = nodes in that namespace (a YANG expression: its module's, RFC 7950 6.4.1).
   */
  unprefixed?: 'none' | 'any' | { ns: string };
  limits?: XPathLimits;
  /**
   * The YANG 1.1 functions (RFC 7950 section 10: current, re-match, derived-from, derived-from-or-self,
   * bit-is-set), which need what only the caller knows (XSD regular expressions, the identity hierarchy).
   * Without it the core library of XPath 1.0 only (RFC 6241 8.9).
   */
  yang?: YangFunctions;
}



const NODE_TYPES = new Set(['node', 'text', 'comment', 'processing-instruction']);

export function parseXPath(expr: string, options: ParseOptions): Expr {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  if (expr.length > limits.maxLength) {
    throw new XPathError('ERR_XPATH_LIMIT', `XPath expression ${quoteExpr(expr)} is longer than ${limits.maxLength} characters`);
  }
  const tokens = tokenize(expr);
  return new Parser(expr, tokens, options, limits.maxDepth).parseAll();
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly expr: string,
    private readonly tokens: Token[],
    private readonly options: ParseOptions,
    private readonly maxDepth: number,
  ) {}

  parseAll(): Expr {
    if (this.tokens.length === 0) this.fail('an empty expression');
    const e = this.parseExpr();
    const t = this.peek();
    if (t) this.fail(`unexpected "${t.value}"`, t);
    return e;
  }

  private fail(what: string, at?: Token): never {
    const where = at ? ` at offset ${at.pos}` : this.peek() ? ` at offset ${this.peek()!.pos}` : ' at the end';
    throw new XPathError('ERR_XPATH_SYNTAX', `XPath expression ${quoteExpr(this.expr)}: ${what}${where}`);
  }

  private peek(k = 0): Token | undefined {
    return this.tokens[this.i + k];
  }

  private is(kind: Token['kind'], value?: string, k = 0): boolean {
    const t = this.peek(k);
    return t !== undefined && t.kind === kind && (value === undefined || t.value === value);
  }

  private take(): Token {
    const t = this.tokens[this.i++];
    if (!t) this.fail('the expression ends too early');
    return t;
  }

  private expect(kind: Token['kind'], value: string): void {
    if (!this.is(kind, value)) this.fail(`"${value}" expected${this.peek() ? `, found "${this.peek()!.value}"` : ''}`);
    this.i++;
  }

  private nest<T>(fn: () => T): T {
    if (++this.depth > this.maxDepth) {
      throw new XPathError('ERR_XPATH_LIMIT', `XPath expression ${quoteExpr(this.expr)} nests deeper than ${this.maxDepth}`);
    }
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  /** [14] Expr ::= OrExpr */
  private parseExpr(): Expr {
    return this.nest(() => this.parseOr());
  }

  private binary<T extends string>(ops: readonly T[], next: () => Expr, make: (op: T, l: Expr, r: Expr) => Expr): Expr {
    let left = next();
    for (;;) {
      const t = this.peek();
      if (!t || t.kind !== 'operator' || !(ops as readonly string[]).includes(t.value)) return left;
      this.i++;
      left = make(t.value as T, left, next());
    }
  }

  private parseOr(): Expr {
    return this.binary(['or'], () => this.parseAnd(), (_o, left, right) => ({ type: 'or', left, right }));
  }

  private parseAnd(): Expr {
    return this.binary(['and'], () => this.parseEquality(), (_o, left, right) => ({ type: 'and', left, right }));
  }

  private parseEquality(): Expr {
    return this.binary(['=', '!='] as const, () => this.parseRelational(), (op, left, right) => ({ type: 'compare', op, left, right }));
  }

  private parseRelational(): Expr {
    return this.binary(['<', '<=', '>', '>='] as const, () => this.parseAdditive(), (op, left, right) => ({ type: 'compare', op, left, right }));
  }

  private parseAdditive(): Expr {
    return this.binary(['+', '-'] as const, () => this.parseMultiplicative(), (op, left, right) => ({ type: 'arith', op, left, right }));
  }

  private parseMultiplicative(): Expr {
    return this.binary(['*', 'div', 'mod'] as const, () => this.parseUnary(), (op, left, right) => ({ type: 'arith', op, left, right }));
  }

  /** [27] UnaryExpr ::= UnionExpr | '-' UnaryExpr */
  private parseUnary(): Expr {
    if (this.is('operator', '-')) {
      this.i++;
      return this.nest(() => ({ type: 'negate', operand: this.parseUnary() }));
    }
    return this.parseUnion();
  }

  /** [18] UnionExpr ::= PathExpr | UnionExpr '|' PathExpr */
  private parseUnion(): Expr {
    return this.binary(['|'], () => this.parsePathExpr(), (_o, left, right) => ({ type: 'union', left, right }));
  }

  /** [19] PathExpr ::= LocationPath | FilterExpr (('/' | '//') RelativeLocationPath)? */
  private parsePathExpr(): Expr {
    const t = this.peek();
    if (!t) this.fail('an operand expected');
    const startsFilter = t.kind === 'variable' || t.kind === 'literal' || t.kind === 'number' || (t.kind === 'punct' && t.value === '(') ||
      (t.kind === 'function' && !NODE_TYPES.has(t.value));
    if (!startsFilter) return this.parseLocationPath();
    let e = this.parsePrimary();
    const predicates = this.parsePredicates();
    if (predicates.length > 0) e = { type: 'filter', primary: e, predicates };
    if (this.is('operator', '/') || this.is('operator', '//')) {
      const steps: Step[] = [];
      this.parseRelative(steps, this.take().value === '//');
      return { type: 'path', start: e, steps };
    }
    return e;
  }

  /** [1] LocationPath, [2] AbsoluteLocationPath, [10] AbbreviatedAbsoluteLocationPath */
  private parseLocationPath(): Expr {
    const steps: Step[] = [];
    if (this.is('operator', '/')) {
      this.i++;
      if (this.startsStep()) this.parseRelative(steps, false);
      return { type: 'path', start: 'root', steps };
    }
    if (this.is('operator', '//')) {
      this.i++;
      this.parseRelative(steps, true);
      return { type: 'path', start: 'root', steps };
    }
    if (!this.startsStep()) this.fail(this.peek() ? `unexpected "${this.peek()!.value}"` : 'an operand expected');
    this.parseRelative(steps, false);
    return { type: 'path', start: 'context', steps };
  }

  private startsStep(): boolean {
    const t = this.peek();
    if (!t) return false;
    if (t.kind === 'name' || t.kind === 'axis') return true;
    if (t.kind === 'function') return NODE_TYPES.has(t.value);
    return t.kind === 'punct' && (t.value === '.' || t.value === '..' || t.value === '@');
  }

  /** [3] RelativeLocationPath, [11] AbbreviatedRelativeLocationPath; `slashSlash` = a leading '//' */
  private parseRelative(steps: Step[], slashSlash: boolean): void {
    for (;;) {
      if (slashSlash) steps.push({ axis: 'descendant-or-self', test: { kind: 'node' }, predicates: [] });
      steps.push(this.parseStep());
      if (this.is('operator', '/')) slashSlash = false;
      else if (this.is('operator', '//')) slashSlash = true;
      else return;
      this.i++;
    }
  }

  /** [4] Step, [5] AxisSpecifier, [12] AbbreviatedStep, [13] AbbreviatedAxisSpecifier */
  private parseStep(): Step {
    if (this.is('punct', '.')) {
      this.i++;
      return { axis: 'self', test: { kind: 'node' }, predicates: [] };
    }
    if (this.is('punct', '..')) {
      this.i++;
      return { axis: 'parent', test: { kind: 'node' }, predicates: [] };
    }
    let axis: Axis = 'child';
    if (this.is('punct', '@')) {
      this.i++;
      axis = 'attribute';
    } else if (this.is('axis')) {
      const t = this.take();
      if (!AXES.has(t.value)) this.fail(`unknown axis "${t.value}"`, t);
      axis = t.value as Axis;
      this.expect('punct', '::');
    }
    const test = this.parseNodeTest(axis);
    return { axis, test, predicates: this.parsePredicates() };
  }

  /** [7] NodeTest */
  private parseNodeTest(axis: Axis): NodeTest {
    const t = this.peek();
    if (!t) this.fail('a node test expected');
    if (t.kind === 'function' && NODE_TYPES.has(t.value)) {
      this.i++;
      this.expect('punct', '(');
      let target: string | undefined;
      if (t.value === 'processing-instruction' && this.is('literal')) target = this.take().value;
      this.expect('punct', ')');
      if (t.value === 'processing-instruction') return target === undefined ? { kind: 'processing-instruction' } : { kind: 'processing-instruction', target };
      return { kind: t.value as 'node' | 'text' | 'comment' };
    }
    if (t.kind !== 'name') this.fail(`a node test expected, found "${t.value}"`, t);
    this.i++;
    if (t.value === '*') return { kind: 'name', ns: undefined, local: '*' };
    const colon = t.value.indexOf(':');
    if (colon < 0) {
      // attributes in YANG data are unqualified: an unprefixed attribute name is in no namespace
      const u = this.options.unprefixed;
      const element = axis !== 'attribute' && axis !== 'namespace';
      if (element && typeof u === 'object') return { kind: 'name', ns: u.ns, local: t.value };
      return { kind: 'name', ns: element && u === 'any' ? undefined : '', local: t.value };
    }
    const prefix = t.value.slice(0, colon);
    return { kind: 'name', ns: this.resolve(prefix, t), local: t.value.slice(colon + 1) };
  }

  private resolve(prefix: string, t: Token): string {
    if (prefix === 'xml') return 'http://www.w3.org/XML/1998/namespace';
    const uri = Object.prototype.hasOwnProperty.call(this.options.namespaces, prefix) ? this.options.namespaces[prefix] : undefined;
    if (uri === undefined || uri === '') this.fail(`prefix "${prefix}" is not declared`, t);
    return uri;
  }

  /** [8] Predicate* */
  private parsePredicates(): Expr[] {
    const out: Expr[] = [];
    while (this.is('punct', '[')) {
      this.i++;
      out.push(this.parseExpr());
      this.expect('punct', ']');
    }
    return out;
  }

  /** [15] PrimaryExpr, [16] FunctionCall */
  private parsePrimary(): Expr {
    const t = this.take();
    switch (t.kind) {
      case 'variable':
        return this.fail(`variable $${t.value} is not bound (a NETCONF filter has no variable bindings)`, t);
      case 'literal':
        return { type: 'literal', value: t.value };
      case 'number':
        return { type: 'number', value: Number(t.value) };
      case 'punct': {
        const e = this.parseExpr();
        this.expect('punct', ')');
        return e;
      }
      case 'function': {
        const arity = FUNCTION_ARITY.get(t.value) ?? (this.options.yang ? YANG_FUNCTION_ARITY.get(t.value) : undefined);
        if (!arity) this.fail(`unknown function ${t.value}()`, t);
        this.expect('punct', '(');
        const args: Expr[] = [];
        if (!this.is('punct', ')')) {
          for (;;) {
            args.push(this.parseExpr());
            if (!this.is('punct', ',')) break;
            this.i++;
          }
        }
        this.expect('punct', ')');
        if (args.length < arity[0] || args.length > arity[1]) {
          const want = arity[0] === arity[1] ? `${arity[0]}` : arity[1] === Infinity ? `at least ${arity[0]}` : `${arity[0]} to ${arity[1]}`;
          this.fail(`${t.value}() takes ${want} argument${arity[1] === 1 ? '' : 's'}, not ${args.length}`, t);
        }
        return { type: 'call', name: t.value, args };
      }
      default:
        return this.fail(`unexpected "${t.value}"`, t);
    }
  }
}
