/** The XPath 1.0 abstract syntax tree (XPath 1.0 sections 2 and 3), names already resolved to URIs. */

export type Axis =
  | 'ancestor' | 'ancestor-or-self' | 'attribute' | 'child' | 'descendant' | 'descendant-or-self'
  | 'following' | 'following-sibling' | 'namespace' | 'parent' | 'preceding' | 'preceding-sibling' | 'self';

export const AXES: ReadonlySet<string> = new Set<Axis>([
  'ancestor', 'ancestor-or-self', 'attribute', 'child', 'descendant', 'descendant-or-self',
  'following', 'following-sibling', 'namespace', 'parent', 'preceding', 'preceding-sibling', 'self']);

/** the reverse axes (2.4: proximity positions count in reverse document order) */
export const REVERSE_AXES: ReadonlySet<Axis> = new Set<Axis>(['ancestor', 'ancestor-or-self', 'preceding', 'preceding-sibling']);

export type NodeTest =
  /** a name test; ns undefined = any namespace (`*`, or an unprefixed name when so configured) */
  | { kind: 'name'; ns: string | undefined; local: string | '*' }
  | { kind: 'node' }
  | { kind: 'text' }
  | { kind: 'comment' }
  | { kind: 'processing-instruction'; target?: string };

export interface Step {
  axis: Axis;
  test: NodeTest;
  predicates: Expr[];
}

export type Expr =
  | { type: 'or' | 'and'; left: Expr; right: Expr }
  | { type: 'compare'; op: '=' | '!=' | '<' | '<=' | '>' | '>='; left: Expr; right: Expr }
  | { type: 'arith'; op: '+' | '-' | '*' | 'div' | 'mod'; left: Expr; right: Expr }
  | { type: 'negate'; operand: Expr }
  | { type: 'union'; left: Expr; right: Expr }
  /** a location path (start 'root' or 'context') or a filter expression followed by steps */
  | { type: 'path'; start: 'root' | 'context' | Expr; steps: Step[] }
  | { type: 'filter'; primary: Expr; predicates: Expr[] }
  | { type: 'literal'; value: string }
  | { type: 'number'; value: number }
  | { type: 'call'; name: string; args: Expr[] }
  | { type: 'variable'; name: string };
