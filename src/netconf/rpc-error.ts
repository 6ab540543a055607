/**
 * rpc-error (RFC 6241 section 4.3 and appendix A): the error model shared by server, client and the
 * YANG validator. One reply may carry several errors.
 */
import { HsvError } from '../errors.js';
import { inScopeNamespaces, NETCONF_BASE_NS } from './xml/index.js';
import type { XmlElement } from './xml/index.js';
import { child, childText, el, elements, leaf, textOf } from './xml/index.js';

export type ErrorType = 'transport' | 'rpc' | 'protocol' | 'application';
export type ErrorSeverity = 'error' | 'warning';
/** RFC 6241 appendix A error-tag values */
export type ErrorTag =
  | 'in-use' | 'invalid-value' | 'too-big' | 'missing-attribute' | 'bad-attribute' | 'unknown-attribute'
  | 'missing-element' | 'bad-element' | 'unknown-element' | 'unknown-namespace' | 'access-denied'
  | 'lock-denied' | 'resource-denied' | 'rollback-failed' | 'data-exists' | 'data-missing'
  | 'operation-not-supported' | 'operation-failed' | 'partial-operation' | 'malformed-message';

export interface RpcErrorInfo {
  type: ErrorType;
  tag: ErrorTag;
  severity?: ErrorSeverity; // default 'error'
  appTag?: string;
  /** absolute instance-identifier (XPath) of the offending node, prefixes bound in pathNs */
  path?: string;
  /** prefix -> namespace URI bindings used by `path` */
  pathNs?: Record<string, string>;
  message?: string;
  /** error-info content: elements (e.g. bad-element, session-id) */
  info?: XmlElement[];
}

/** Thrown by handlers and validators; the server turns it into one <rpc-reply> with every error. */
/** ERR_NETCONF_<TAG>: the first error's error-tag, upper case (ERR_NETCONF_INVALID_VALUE) */
export type NetconfErrorCode = `ERR_NETCONF_${string}`;

export class NetconfError extends HsvError<NetconfErrorCode> {
  readonly errors: RpcErrorInfo[];
  constructor(errors: RpcErrorInfo | RpcErrorInfo[], options?: { cause?: unknown }) {
    const list = Array.isArray(errors) ? errors : [errors];
    const first = list[0];
    super(`ERR_NETCONF_${(first?.tag ?? 'operation-failed').toUpperCase().replace(/-/g, '_')}`,
      first?.message ?? first?.tag ?? 'rpc-error', options);
    this.errors = list;
  }
}

/** error-info helpers for the RFC 6241 appendix A elements */
export const info = {
  badElement: (name: string) => leaf(NETCONF_BASE_NS, 'bad-element', name),
  badAttribute: (name: string) => leaf(NETCONF_BASE_NS, 'bad-attribute', name),
  badNamespace: (ns: string) => leaf(NETCONF_BASE_NS, 'bad-namespace', ns),
  sessionId: (id: number) => leaf(NETCONF_BASE_NS, 'session-id', id),
};

export function rpcErrorToXml(e: RpcErrorInfo): XmlElement {
  const n = NETCONF_BASE_NS;
  const path = e.path !== undefined
    ? { ...leaf(n, 'error-path', e.path), nsContext: e.pathNs ?? {} }
    : undefined;
  const message = e.message !== undefined
    ? { ...leaf(n, 'error-message', e.message), attrs: [{ ns: 'http://www.w3.org/XML/1998/namespace', name: 'lang', value: 'en' }] }
    : undefined;
  return el(n, 'rpc-error',
    leaf(n, 'error-type', e.type),
    leaf(n, 'error-tag', e.tag),
    leaf(n, 'error-severity', e.severity ?? 'error'),
    e.appTag !== undefined ? leaf(n, 'error-app-tag', e.appTag) : undefined,
    path,
    message,
    e.info && e.info.length > 0 ? el(n, 'error-info', ...e.info) : undefined);
}

/** Parse an <rpc-error> element received from a peer. */
export function rpcErrorFromXml(x: XmlElement): RpcErrorInfo {
  const n = NETCONF_BASE_NS;
  const pathEl = child(x, n, 'error-path');
  const infoEl = child(x, n, 'error-info');
  const out: RpcErrorInfo = {
    type: (childText(x, n, 'error-type') ?? 'application').trim() as ErrorType,
    tag: (childText(x, n, 'error-tag') ?? 'operation-failed').trim() as ErrorTag,
    severity: ((childText(x, n, 'error-severity') ?? 'error').trim() as ErrorSeverity),
  };
  const appTag = childText(x, n, 'error-app-tag');
  if (appTag !== undefined) out.appTag = appTag.trim();
  if (pathEl) {
    out.path = textOf(pathEl).trim();
    if (pathEl.nsContext) out.pathNs = inScopeNamespaces(pathEl.nsContext);
  }
  const msg = childText(x, n, 'error-message');
  if (msg !== undefined) out.message = msg.trim();
  if (infoEl) out.info = elements(infoEl);
  return out;
}
