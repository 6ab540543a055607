/**
 * The XML element model shared by every NETCONF layer above the XML layer.
 * Elements are identified by namespace URI + local name, never by prefix (RFC 6241 section 3:
 * "All NETCONF protocol elements are defined in the namespace urn:ietf:params:xml:ns:netconf:base:1.0").
 */
export interface XmlAttr {
  /** namespace URI of the attribute; '' for an unqualified attribute */
  readonly ns: string;
  readonly name: string;
  readonly value: string;
}

export interface XmlElement {
  /** namespace URI; '' when the element is in no namespace */
  readonly ns: string;
  /** local name */
  readonly name: string;
  readonly attrs: XmlAttr[];
  readonly children: XmlNode[];
  /**
   * In-scope namespace declarations by prefix, as parsed ('' = default namespace). Needed to resolve
   * prefixed values in text (identityref, instance-identifier, XPath filters). Optional on built elements.
   * A parsed element's context is a scope chain (its own declarations, with its parent's as prototype):
   * look prefixes up with `ctx[prefix]` or iterate with for-in; use inScopeNamespaces() for a flat copy
   * (a spread, Object.keys or Object.entries sees only the element's own declarations).
   */
  readonly nsContext?: Readonly<Record<string, string>>;
}

export type XmlNode = XmlElement | string;

export const NETCONF_BASE_NS = 'urn:ietf:params:xml:ns:netconf:base:1.0';
export const NETCONF_NOTIFICATION_NS = 'urn:ietf:params:xml:ns:netconf:notification:1.0';
export const NETMOD_NOTIFICATION_NS = 'urn:ietf:params:xml:ns:netmod:notification';

/** A flat copy (own properties only) of an element's in-scope namespace context, inherited bindings included. */
export function inScopeNamespaces(ctx: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (ctx) for (const prefix in ctx) out[prefix] = ctx[prefix]!;
  return out;
}
