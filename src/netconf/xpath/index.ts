/**
 * XPath 1.0 (W3C REC-xpath-19991116) over our element trees, for NETCONF :xpath filters (RFC 6241 8.9)
 * and notification filters (RFC 5277 3.6). Knows no transport: the server turns XPathError into an
 * rpc-error. Tokenizer (tokenize.ts) -> recursive-descent parser to an AST (parse.ts, ast.ts) ->
 * evaluator over the XNode model (nodes.ts, evaluate.ts, functions.ts) -> the selected data
 * with ancestors and list keys (select.ts).
 */
import type { XmlElement } from '../xml/index.js';
import type { Expr } from './ast.js';
import { XPathError, quoteExpr } from './errors.js';
import { Evaluator } from './evaluate.js';
import { XNode } from './nodes.js';
import { parseXPath } from './parse.js';
import type { ParseOptions, XPathLimits } from './parse.js';
import type { YangFunctions } from './functions.js';
import { reachableTops } from './reach.js';
import type { TopName } from './reach.js';
import { selectData } from './select.js';
import type { ListKeys } from './select.js';
import type { Value } from './values.js';
import { isNodeSet, toBoolean } from './values.js';

export { XPathError } from './errors.js';
export type { XPathErrorCode } from './errors.js';
export type { XPathLimits, ParseOptions } from './parse.js';
export type { DataName, YangFunctions, YangReference } from './functions.js';
export { YANG_FUNCTION_ARITY } from './functions.js';
export { DEFAULT_LIMITS } from './parse.js';
export type { ListKeys, DataStep } from './select.js';
export type { TopName } from './reach.js';
export type { Expr } from './ast.js';
export type { Value } from './values.js';
export { XNode } from './nodes.js';

/** A parsed expression, evaluated as often as needed (a subscription's filter, once per event). */
export class CompiledXPath {
  readonly ast: Expr;
  private readonly limits: XPathLimits;
  private readonly yang: { functions: YangFunctions; namespaces: Readonly<Record<string, string>> } | undefined;
  private tops: TopName[] | undefined | null = null;

  constructor(readonly source: string, options: ParseOptions) {
    this.limits = options.limits ?? {};
    this.yang = options.yang ? { functions: options.yang, namespaces: options.namespaces } : undefined;
    this.ast = parseXPath(source, options);
  }

  /** the value with the root of `top` as the context node */
  evaluate(top: readonly XmlElement[]): Value {
    return new Evaluator(this.source, this.limits, this.yang).evaluateAtRoot(this.ast, XNode.root(top));
  }

  /** RFC 6241 8.9: the selected data with its ancestors and list keys; the result must be a node-set */
  select(top: readonly XmlElement[], keysOf?: ListKeys, onSelected?: (e: XmlElement) => void): XmlElement[] {
    const v = this.evaluate(top);
    if (!isNodeSet(v)) {
      throw new XPathError('ERR_XPATH_EVAL', `XPath expression ${quoteExpr(this.source)} gives a ${typeof v}, not a node-set`);
    }
    return selectData(top, v, keysOf, onSelected);
  }

  /** true when the expression selects something, or is true (a notification filter, RFC 5277 3.6) */
  test(top: readonly XmlElement[]): boolean {
    return toBoolean(this.evaluate(top));
  }

  /** whether the expression can reach a top-level node with this namespace and name */
  mayReachTop(ns: string, name: string): boolean {
    if (this.tops === null) this.tops = reachableTops(this.ast);
    if (this.tops === undefined) return true;
    return this.tops.some((t) => t.name === name && (t.ns === undefined || t.ns === ns));
  }
}

export function compileXPath(source: string, options: ParseOptions): CompiledXPath {
  return new CompiledXPath(source, options);
}
