/** Errors of the XPath 1.0 evaluator. Callers switch on `code`; the message names the expression. */
import { HsvError } from '../../errors.js';

export type XPathErrorCode = 'ERR_XPATH_SYNTAX' | 'ERR_XPATH_LIMIT' | 'ERR_XPATH_EVAL';

/**
 * ERR_XPATH_SYNTAX: not an XPath 1.0 expression (tokens, grammar, an undeclared prefix, an unknown
 * function or variable, a wrong number of arguments). ERR_XPATH_LIMIT: over a limit (length, nesting,
 * steps evaluated, node-set size). ERR_XPATH_EVAL: a type error at evaluation (e.g. a path step on a
 * number, a result that must be a node-set and is not).
 */
export class XPathError extends HsvError<XPathErrorCode> {
  constructor(code: XPathErrorCode, message: string) {
    super(code, message);
  }
}

/** The expression for a message: quoted, shortened when long. */
export function quoteExpr(expr: string): string {
  const s = expr.length > 120 ? `${expr.slice(0, 117)}...` : expr;
  return JSON.stringify(s);
}
