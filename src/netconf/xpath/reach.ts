/**
 * Which top-level data nodes an expression can reach, so that a get calls only the state providers it
 * needs (as the subtree filter does with filterMayMatchTop). Conservative: any construct that could
 * look at other top-level nodes (a path from the root whose first step is not a plain child name test,
 * an axis that climbs or moves sideways, a context-node function at the root) answers "all".
 */
import type { Axis, Expr, Step } from './ast.js';

export interface TopName {
  /** undefined = any namespace */
  ns: string | undefined;
  name: string;
}

const CLIMBING: ReadonlySet<Axis> = new Set<Axis>(['parent', 'ancestor', 'ancestor-or-self', 'preceding', 'preceding-sibling', 'following', 'following-sibling']);
const CONTEXT_FUNCTIONS = new Set(['string', 'string-length', 'normalize-space', 'number', 'name', 'local-name', 'namespace-uri', 'lang']);

class All extends Error {}

/** the top-level names the expression can reach, or undefined for "any" */
export function reachableTops(e: Expr): TopName[] | undefined {
  const out: TopName[] = [];
  try {
    walk(e, true, out);
  } catch (err) {
    if (err instanceof All) return undefined;
    throw err;
  }
  return out;
}

function walk(e: Expr, atRoot: boolean, out: TopName[]): void {
  switch (e.type) {
    case 'or': case 'and': case 'compare': case 'arith': case 'union':
      walk(e.left, atRoot, out);
      walk(e.right, atRoot, out);
      return;
    case 'negate':
      walk(e.operand, atRoot, out);
      return;
    case 'literal': case 'number': case 'variable':
      return;
    case 'call':
      if (atRoot && e.args.length === 0 && CONTEXT_FUNCTIONS.has(e.name)) throw new All();
      // deref() follows a leafref path or an instance-identifier: anywhere in the tree
      if (e.name === 'deref') throw new All();
      for (const a of e.args) walk(a, atRoot, out);
      return;
    case 'filter':
      walk(e.primary, atRoot, out);
      for (const p of e.predicates) walk(p, false, out);
      return;
    case 'path': {
      if (typeof e.start === 'object') {
        walk(e.start, atRoot, out);
        steps(e.steps, out);
        return;
      }
      if (e.start === 'root' || atRoot) {
        const first = e.steps[0];
        if (!first || first.axis !== 'child' || first.test.kind !== 'name' || first.test.local === '*') throw new All();
        out.push({ ns: first.test.ns, name: first.test.local });
        for (const p of first.predicates) walk(p, false, out);
        steps(e.steps.slice(1), out);
        return;
      }
      steps(e.steps, out);
    }
  }
}

function steps(list: Step[], out: TopName[]): void {
  for (const s of list) {
    if (CLIMBING.has(s.axis)) throw new All();
    for (const p of s.predicates) walk(p, false, out);
  }
}
