/**
 * The <filter> of get, get-config (RFC 6241 section 6, 8.9) and create-subscription (RFC 5277 3.6),
 * as one interface over the two filter types:
 * - subtree (the default): subtree-filter.ts;
 * - xpath (:xpath, 8.9): the `select` attribute is an XPath 1.0 expression, its prefixes those declared
 *   in scope on the <filter> element, evaluated with the root of the data as context node; the reply holds
 *   the selected nodes with their ancestors and list keys (src/netconf/xpath). An unprefixed name matches
 *   that local name in any namespace, as an xmlns="" subtree filter node does (6.2.1): our data has no
 *   node in no namespace, so strict XPath 1.0 would select nothing; a prefixed name is exact.
 * A missing `select` is missing-attribute; an expression that does not parse, uses an undeclared prefix,
 * does not give a node-set (get, get-config) or is over a limit is invalid-value, with a message naming
 * the expression. Another type is bad-attribute (appendix A).
 */
import { NetconfError, info } from '../rpc-error.js';
import { attr, child, isElement } from '../xml/index.js';
import { inScopeNamespaces, NETCONF_BASE_NS } from '../xml/index.js';
import type { XmlElement } from '../xml/index.js';
import { XPathError, compileXPath } from '../xpath/index.js';
import type { CompiledXPath, ListKeys, XPathLimits, YangFunctions } from '../xpath/index.js';
import { applySubtreeFilter, filterMayMatchTop } from './subtree-filter.js';

export const XPATH_CAPABILITY = 'urn:ietf:params:netconf:capability:xpath:1.0';

export interface DataFilter {
  readonly type: 'subtree' | 'xpath';
  /** true when the filter can select nothing whatever the data (an empty subtree filter, 6.4.2) */
  readonly selectsNothing: boolean;
  /** whether the filter can reach a top-level node (so a get calls only the state providers needed) */
  mayMatchTop(ns: string, name: string): boolean;
  /**
   * the selected data (get, get-config, get-data); `onSelected` is told of each copy of a node the
   * filter selects with its whole subtree (ancestors and list keys added on the way are not selected)
   */
  select(top: XmlElement[], keysOf?: ListKeys, onSelected?: (e: XmlElement) => void): XmlElement[];
  /** whether an event passes (create-subscription) */
  matches(event: XmlElement): boolean;
}

class SubtreeFilter implements DataFilter {
  readonly type = 'subtree';
  readonly selectsNothing: boolean;
  constructor(private readonly filter: XmlElement) {
    this.selectsNothing = !filter.children.some(isElement);
  }
  mayMatchTop(ns: string, name: string): boolean {
    return filterMayMatchTop(this.filter, ns, name);
  }
  select(top: XmlElement[], keysOf?: ListKeys, onSelected?: (e: XmlElement) => void): XmlElement[] {
    return applySubtreeFilter(top, this.filter, keysOf, onSelected);
  }
  matches(event: XmlElement): boolean {
    return applySubtreeFilter([event], this.filter).length > 0;
  }
}

function invalid(e: XPathError, where: 'filter' | 'xpath-filter' = 'filter'): NetconfError {
  return new NetconfError({
    type: 'protocol', tag: 'invalid-value', message: e.message,
    info: where === 'filter' ? [info.badAttribute('select'), info.badElement('filter')] : [info.badElement('xpath-filter')],
  });
}

class XPathFilter implements DataFilter {
  readonly type = 'xpath';
  readonly selectsNothing = false;
  constructor(private readonly xpath: CompiledXPath, private readonly where: 'filter' | 'xpath-filter' = 'filter') {}
  mayMatchTop(ns: string, name: string): boolean {
    return this.xpath.mayReachTop(ns, name);
  }
  select(top: XmlElement[], keysOf?: ListKeys, onSelected?: (e: XmlElement) => void): XmlElement[] {
    try {
      return this.xpath.select(top, keysOf, onSelected);
    } catch (e) {
      if (e instanceof XPathError) throw invalid(e, this.where);
      throw e;
    }
  }
  /** an expression that fails on one event selects nothing from it (the subscription was accepted) */
  matches(event: XmlElement): boolean {
    try {
      return this.xpath.test([event]);
    } catch (e) {
      if (e instanceof XPathError) return false;
      throw e;
    }
  }
}

export interface FilterOptions {
  /** accept type="xpath" (the server advertises :xpath); default true */
  xpath?: boolean;
  limits?: XPathLimits;
  /** the RFC 7950 section 10 functions (get-data's xpath-filter, RFC 8526 3.1.1) */
  yang?: YangFunctions;
}

/** The filter of a get/get-config/create-subscription (in namespace `ns`), or undefined for "no filter". */
export function parseFilter(op: XmlElement, ns: string = NETCONF_BASE_NS, options: FilterOptions = {}): DataFilter | undefined {
  const filter = child(op, ns, 'filter');
  if (!filter) return undefined;
  const type = attr(filter, 'type') ?? attr(filter, 'type', NETCONF_BASE_NS) ?? 'subtree';
  if (type === 'subtree') return new SubtreeFilter(filter);
  if (type !== 'xpath') {
    throw new NetconfError({
      type: 'protocol', tag: 'bad-attribute', message: `unknown filter type "${type}"`,
      info: [info.badAttribute('type'), info.badElement('filter')],
    });
  }
  if (options.xpath === false) {
    throw new NetconfError({
      type: 'protocol', tag: 'operation-not-supported',
      message: 'XPath filters need :xpath, which this server does not support; use a subtree filter',
      info: [info.badAttribute('type'), info.badElement('filter')],
    });
  }
  const select = attr(filter, 'select') ?? attr(filter, 'select', NETCONF_BASE_NS);
  if (select === undefined) {
    throw new NetconfError({
      type: 'protocol', tag: 'missing-attribute', message: 'an xpath filter needs a select attribute (RFC 6241 8.9)',
      info: [info.badAttribute('select'), info.badElement('filter')],
    });
  }
  try {
    return new XPathFilter(compileXPath(select, { namespaces: inScopeNamespaces(filter.nsContext), unprefixed: 'any', ...(options.limits ? { limits: options.limits } : {}) }));
  } catch (e) {
    if (e instanceof XPathError) throw invalid(e);
    throw e;
  }
}

/**
 * get-data's filters (RFC 8526 section 3.1.1): `subtree-filter` (anydata: its children are the filter nodes,
 * as a <filter type="subtree">'s are) and `xpath-filter` (a leaf: the expression, with the namespace
 * declarations in scope on the leaf). An empty subtree-filter selects nothing, as an empty <filter> does.
 */
export function subtreeFilterOf(filter: XmlElement): DataFilter {
  return new SubtreeFilter(filter);
}

export function xpathFilterOf(expression: XmlElement, options: FilterOptions = {}): DataFilter {
  const select = expression.children.filter((c): c is string => typeof c === 'string').join('').trim();
  try {
    return new XPathFilter(compileXPath(select, {
      namespaces: inScopeNamespaces(expression.nsContext), unprefixed: 'any',
      ...(options.limits ? { limits: options.limits } : {}), ...(options.yang ? { yang: options.yang } : {}),
    }), 'xpath-filter');
  } catch (e) {
    if (e instanceof XPathError) throw invalid(e, 'xpath-filter');
    throw e;
  }
}
