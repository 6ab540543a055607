/**
 * Evaluation of an XPath 1.0 AST over our element trees (XPath 1.0 sections 2-4), with a budget: every
 * node an axis yields and every predicate evaluated counts one step, and no node-set may exceed a
 * size, so a hostile expression (`//*[//*[//*]]`) ends with ERR_XPATH_LIMIT instead of running away.
 */
import type { Axis, Expr, NodeTest, Step } from './ast.js';
import { REVERSE_AXES } from './ast.js';
import { XPathError, quoteExpr } from './errors.js';
import { callFunction } from './functions.js';
import type { CallContext } from './functions.js';
import { compareOrder } from './nodes.js';
import type { XNode } from './nodes.js';
import { DEFAULT_LIMITS, parseXPath } from './parse.js';
import type { XPathLimits } from './parse.js';
import type { YangFunctions } from './functions.js';
import type { Value } from './values.js';
import { isNodeSet, toBoolean, toNumber, toStringValue } from './values.js';

interface Context {
  node: XNode;
  position: number;
  size: number;
}

export class Evaluator {
  private steps = 0;
  private readonly maxSteps: number;
  private readonly maxNodeSet: number;

  private initial: XNode | undefined;

  constructor(private readonly source: string, limits: XPathLimits = {}, private readonly yang?: { functions: YangFunctions; namespaces: Readonly<Record<string, string>> }) {
    this.maxSteps = limits.maxSteps ?? DEFAULT_LIMITS.maxSteps;
    this.maxNodeSet = limits.maxNodeSet ?? DEFAULT_LIMITS.maxNodeSet;
  }

  /** evaluate with the root node as the context node (RFC 6241 8.9); it is also current()'s node */
  evaluateAtRoot(expr: Expr, root: XNode): Value {
    this.initial = root;
    return this.eval(expr, { node: root, position: 1, size: 1 });
  }

  /** parsed leafref paths and instance-identifiers (deref()), by text and bindings; at most 64 */
  private readonly others = new Map<string, Expr | null>();

  /**
   * deref(): another expression evaluated with `context` as context node and current(), under this evaluation's
   * step and node-set limits; undefined when it does not parse or gives no node-set (data, not the filter, is wrong)
   */
  private readonly evaluateOther = (expr: string, o: { namespaces: Readonly<Record<string, string>>; defaultNs?: string }, context: XNode): XNode[] | undefined => {
    const key = `${o.defaultNs ?? ''}\u0000${Object.entries(o.namespaces).map(([p, u]) => `${p}=${u}`).join(' ')}\u0000${expr}`;
    let ast = this.others.get(key);
    if (ast === undefined) {
      try {
        ast = parseXPath(expr, { namespaces: o.namespaces, ...(o.defaultNs !== undefined ? { unprefixed: { ns: o.defaultNs } } : {}), ...(this.yang ? { yang: this.yang.functions } : {}) });
      } catch {
        ast = null;
      }
      if (this.others.size >= 64) this.others.delete(this.others.keys().next().value!);
      this.others.set(key, ast);
    }
    if (ast === null) return undefined;
    const outer = this.initial;
    this.initial = context;
    try {
      const v = this.eval(ast, { node: context, position: 1, size: 1 });
      return isNodeSet(v) ? v : undefined;
    } catch (e) {
      // a limit is the filter's; an expression in the data that does not evaluate refers to nothing
      if (e instanceof XPathError && e.code === 'ERR_XPATH_EVAL') return undefined;
      throw e;
    } finally {
      this.initial = outer;
    }
  };

  private typeError(message: string): XPathError {
    return new XPathError('ERR_XPATH_EVAL', `XPath expression ${quoteExpr(this.source)}: ${message}`);
  }

  private tick(n = 1): void {
    this.steps += n;
    if (this.steps > this.maxSteps) {
      throw new XPathError('ERR_XPATH_LIMIT', `XPath expression ${quoteExpr(this.source)} needs more than ${this.maxSteps} evaluation steps`);
    }
  }

  private checkSize(nodes: XNode[]): XNode[] {
    if (nodes.length > this.maxNodeSet) {
      throw new XPathError('ERR_XPATH_LIMIT', `XPath expression ${quoteExpr(this.source)} selects more than ${this.maxNodeSet} nodes`);
    }
    return nodes;
  }

  private nodeSet(v: Value, what: string): XNode[] {
    if (!isNodeSet(v)) throw this.typeError(`${what} is not a node-set`);
    return v;
  }

  private eval(e: Expr, cx: Context): Value {
    switch (e.type) {
      case 'or': return toBoolean(this.eval(e.left, cx)) || toBoolean(this.eval(e.right, cx));
      case 'and': return toBoolean(this.eval(e.left, cx)) && toBoolean(this.eval(e.right, cx));
      case 'compare': return this.compare(e.op, this.eval(e.left, cx), this.eval(e.right, cx));
      case 'arith': {
        const a = toNumber(this.eval(e.left, cx));
        const b = toNumber(this.eval(e.right, cx));
        switch (e.op) {
          case '+': return a + b;
          case '-': return a - b;
          case '*': return a * b;
          case 'div': return a / b;
          case 'mod': return a % b; // 3.5: the remainder of truncating division, as JavaScript's %
        }
        break;
      }
      case 'negate': return -toNumber(this.eval(e.operand, cx));
      case 'union': {
        const a = this.nodeSet(this.eval(e.left, cx), 'an operand of "|"');
        const b = this.nodeSet(this.eval(e.right, cx), 'an operand of "|"');
        return this.checkSize(sortUnique([...a, ...b]));
      }
      case 'path': {
        let nodes: XNode[];
        if (e.start === 'root') nodes = [rootOf(cx.node)];
        else if (e.start === 'context') nodes = [cx.node];
        else nodes = this.nodeSet(this.eval(e.start, cx), 'the expression before "/"');
        for (const step of e.steps) nodes = this.step(nodes, step);
        return nodes;
      }
      case 'filter': {
        const v = this.eval(e.primary, cx);
        if (!isNodeSet(v)) throw this.typeError('a predicate applies to a node-set only');
        return this.predicates(v, e.predicates);
      }
      case 'literal': return e.value;
      case 'number': return e.value;
      case 'call': {
        const args = e.args.map((a) => this.eval(a, cx));
        const call: CallContext = {
          ...cx, typeError: (m) => this.typeError(m),
          ...(this.yang ? { yang: this.yang.functions, namespaces: this.yang.namespaces, ...(this.initial ? { initial: this.initial } : {}), evaluateOther: this.evaluateOther } : {}),
        };
        return callFunction(e.name, args, call);
      }
      case 'variable': throw this.typeError(`variable $${e.name} is not bound`);
    }
    throw this.typeError('unknown expression');
  }

  /** one location step from every node of a node-set (2.1) */
  private step(context: XNode[], step: Step): XNode[] {
    const out: XNode[] = [];
    const reverse = REVERSE_AXES.has(step.axis);
    for (const n of context) {
      const selected: XNode[] = [];
      for (const c of axis(n, step.axis)) {
        this.tick();
        if (matches(c, step.test, step.axis)) selected.push(c);
      }
      // proximity positions follow the axis order (reverse axes: nearest first)
      const kept = this.predicates(selected, step.predicates);
      if (reverse) kept.reverse();
      for (const k of kept) out.push(k);
      this.checkSize(out);
    }
    return context.length > 1 || reverse ? sortUnique(out) : out;
  }

  private predicates(nodes: XNode[], predicates: Expr[]): XNode[] {
    let cur = nodes;
    for (const p of predicates) {
      const size = cur.length;
      const next: XNode[] = [];
      for (let i = 0; i < size; i++) {
        this.tick();
        const v = this.eval(p, { node: cur[i]!, position: i + 1, size });
        if (typeof v === 'number' ? v === i + 1 : toBoolean(v)) next.push(cur[i]!);
      }
      cur = next;
    }
    return cur;
  }

  /** 3.4: comparisons, with node-sets compared by their nodes' string-values */
  private compare(op: '=' | '!=' | '<' | '<=' | '>' | '>=', a: Value, b: Value): boolean {
    if (isNodeSet(a) && isNodeSet(b)) {
      const bs = b.map((n) => n.stringValue());
      return a.some((n) => {
        const s = n.stringValue();
        return bs.some((t) => this.tickedAtom(op, s, t));
      });
    }
    if (isNodeSet(a)) return this.compareSetAtom(op, a, b, false);
    if (isNodeSet(b)) return this.compareSetAtom(op, b, a, true);
    return atomCompare(op, a, b);
  }

  private tickedAtom(op: '=' | '!=' | '<' | '<=' | '>' | '>=', a: string, b: string): boolean {
    this.tick();
    return atomCompare(op, a, b);
  }

  private compareSetAtom(op: '=' | '!=' | '<' | '<=' | '>' | '>=', set: XNode[], atom: Value, flipped: boolean): boolean {
    if (typeof atom === 'boolean') return flipped ? atomCompare(op, atom, toBoolean(set)) : atomCompare(op, toBoolean(set), atom);
    return set.some((n) => {
      this.tick();
      const v: Value = typeof atom === 'number' ? toNumber(n.stringValue()) : n.stringValue();
      return flipped ? atomCompare(op, atom, v) : atomCompare(op, v, atom);
    });
  }
}

function atomCompare(op: '=' | '!=' | '<' | '<=' | '>' | '>=', a: Value, b: Value): boolean {
  if (op === '=' || op === '!=') {
    let eq: boolean;
    if (typeof a === 'boolean' || typeof b === 'boolean') eq = toBoolean(a) === toBoolean(b);
    else if (typeof a === 'number' || typeof b === 'number') eq = toNumber(a) === toNumber(b);
    else eq = toStringValue(a) === toStringValue(b);
    return op === '=' ? eq : !eq;
  }
  const x = toNumber(a);
  const y = toNumber(b);
  switch (op) {
    case '<': return x < y;
    case '<=': return x <= y;
    case '>': return x > y;
    default: return x >= y;
  }
}

function rootOf(n: XNode): XNode {
  let r = n;
  while (r.parent) r = r.parent;
  return r;
}

function sortUnique(nodes: XNode[]): XNode[] {
  const uniq = [...new Set(nodes)];
  uniq.sort(compareOrder);
  return uniq;
}

/** the principal node type of an axis (2.3) */
function principal(axisName: Axis): 'attribute' | 'namespace' | 'element' {
  return axisName === 'attribute' ? 'attribute' : axisName === 'namespace' ? 'namespace' : 'element';
}

function matches(n: XNode, test: NodeTest, axisName: Axis): boolean {
  switch (test.kind) {
    case 'node': return true;
    case 'text': return n.kind === 'text';
    case 'comment':
    case 'processing-instruction':
      return false;
    case 'name': {
      if (n.kind !== principal(axisName)) return false;
      if (n.kind === 'namespace') return test.local === '*' ? test.ns === undefined : test.ns !== undefined && test.ns === '' && n.localName === test.local;
      if (test.ns !== undefined && n.ns !== test.ns) return false;
      return test.local === '*' || n.localName === test.local;
    }
  }
}

/** the nodes of an axis in axis order (reverse axes: nearest first) */
function* axis(n: XNode, a: Axis): Generator<XNode> {
  switch (a) {
    case 'child':
      yield* n.children();
      return;
    case 'self':
      yield n;
      return;
    case 'attribute':
      yield* n.attributes();
      return;
    case 'namespace':
      yield* n.namespaces();
      return;
    case 'parent':
      if (n.parent) yield n.parent;
      return;
    case 'ancestor-or-self':
      yield n;
      for (let p = n.parent; p; p = p.parent) yield p;
      return;
    case 'ancestor':
      for (let p = n.parent; p; p = p.parent) yield p;
      return;
    case 'descendant-or-self':
      yield n;
      yield* descendants(n);
      return;
    case 'descendant':
      yield* descendants(n);
      return;
    case 'following-sibling':
      if (n.parent && (n.kind === 'element' || n.kind === 'text')) yield* n.parent.children().slice(n.index + 1);
      return;
    case 'preceding-sibling':
      if (n.parent && (n.kind === 'element' || n.kind === 'text')) yield* n.parent.children().slice(0, n.index).reverse();
      return;
    case 'following':
      yield* following(n);
      return;
    case 'preceding':
      yield* preceding(n);
      return;
  }
}

/** the following axis: every node after n in document order that is not its descendant */
function* following(n: XNode): Generator<XNode> {
  let a2 = n;
  if (n.kind === 'attribute' || n.kind === 'namespace') {
    // the element's children follow its attributes in document order
    a2 = n.parent!;
    yield* descendants(a2);
  }
  for (; a2.parent; a2 = a2.parent) {
    for (const s of a2.parent.children().slice(a2.index + 1)) {
      yield s;
      yield* descendants(s);
    }
  }
}

/** the preceding axis, nearest first: every node before n in document order that is not its ancestor */
function* preceding(n: XNode): Generator<XNode> {
  let a2 = n.kind === 'attribute' || n.kind === 'namespace' ? n.parent! : n;
  for (; a2.parent; a2 = a2.parent) {
    const before = a2.parent.children().slice(0, a2.index);
    for (let i = before.length - 1; i >= 0; i--) {
      yield* descendantsReversed(before[i]!);
      yield before[i]!;
    }
  }
}

/** descendants in document order (iterative: deep trees do not grow the stack) */
function* descendants(n: XNode): Generator<XNode> {
  const stack: Array<{ kids: XNode[]; i: number }> = [{ kids: n.children(), i: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.kids.length) {
      stack.pop();
      continue;
    }
    const c = top.kids[top.i++]!;
    yield c;
    const kids = c.children();
    if (kids.length > 0) stack.push({ kids, i: 0 });
  }
}

/** descendants in reverse document order */
function* descendantsReversed(n: XNode): Generator<XNode> {
  const all = [...descendants(n)];
  for (let i = all.length - 1; i >= 0; i--) yield all[i]!;
}
