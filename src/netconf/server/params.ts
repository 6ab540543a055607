/**
 * Parameter checks shared by the standard operations (RFC 6241 appendix A, RFC 7950 8.3.1): which
 * datastore a <target>/<source> names, and parameters an operation does not define. A leaf module:
 * every operation module imports it, it imports none of them.
 */
import { NetconfError, info } from '../rpc-error.js';
import { child, elements, inScopeNamespaces, textOf } from '../xml/index.js';
import { NETCONF_BASE_NS } from '../xml/index.js';
import type { XmlElement } from '../xml/index.js';

/**
 * Parse <target> / <source>: only <running/> exists here (no :candidate, no :startup, no :url).
 * Those are if-feature cases of the ietf-netconf choice whose features we do not advertise, so for this
 * server they do not exist: unknown-element (RFC 7950 8.3.1, RFC 6241 appendix A). Two datastores are
 * "more than one case branch of a choice": bad-element (RFC 7950 8.3.1). None is missing-element.
 */
export function requireRunning(op: XmlElement, param: 'target' | 'source', nmda = false): void {
  const t = child(op, NETCONF_BASE_NS, param);
  if (!t) throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: `<${param}> is required`, info: [info.badElement(param)] });
  const ds = elements(t);
  if (ds.length === 0) throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: `<${param}> must name a datastore: <running/>`, info: [info.badElement(param)] });
  // RFC 8526 section 4: lock, unlock and validate also take ietf-netconf-nmda's <datastore> (an identity)
  if (nmda && ds.length === 1 && ds[0]!.ns === NMDA_NS && ds[0]!.name === 'datastore') {
    const d = ds[0]!;
    const v = textOf(d).trim();
    const i = v.indexOf(':');
    const scope = inScopeNamespaces(d.nsContext);
    const ns = i < 0 ? scope[''] ?? d.ns : scope[v.slice(0, i)];
    const name = i < 0 ? v : v.slice(i + 1);
    if (ns === DATASTORES_NS && name === 'running') return;
    throw new NetconfError({
      type: 'protocol', tag: 'invalid-value',
      message: ns === DATASTORES_NS && (name === 'intended' || name === 'operational')
        ? `${op.name} is not supported on ds:${name}; it takes ds:running`
        : `"${v}" is not a datastore this server can ${op.name}; it takes ds:running (ds = ${DATASTORES_NS})`,
      info: [info.badElement('datastore')],
    });
  }
  const other = ds.find((d) => d.ns !== NETCONF_BASE_NS || d.name !== 'running');
  if (other) {
    throw new NetconfError({
      type: 'protocol', tag: 'unknown-element',
      message: `datastore ${other.name} is not supported; this server has :writable-running only`,
      info: [info.badElement(other.name)],
    });
  }
  if (ds.length > 1) throw new NetconfError({ type: 'protocol', tag: 'bad-element', message: `<${param}> names more than one datastore`, info: [info.badElement(param)] });
}

const WITH_DEFAULTS_NS = 'urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults';
const NMDA_NS = 'urn:ietf:params:xml:ns:yang:ietf-netconf-nmda';
const DATASTORES_NS = 'urn:ietf:params:xml:ns:yang:ietf-datastores';

/**
 * Refuse parameters an operation does not define (appendix A): unknown-element (bad-element) in the
 * base namespace, unknown-namespace (bad-element, bad-namespace) in any other, e.g. RFC 6243's
 * <with-defaults> on an operation other than get, get-config, copy-config (`withDefaults` allows it). Ignoring them would answer another question
 * than the one asked.
 */
export function checkParameters(op: XmlElement, allowed: readonly string[], withDefaults = false): void {
  for (const p of elements(op)) {
    if (p.ns === NETCONF_BASE_NS && allowed.includes(p.name)) continue;
    if (withDefaults && p.ns === WITH_DEFAULTS_NS && p.name === 'with-defaults') continue;
    if (p.ns === NETCONF_BASE_NS) {
      throw new NetconfError({ type: 'protocol', tag: 'unknown-element', message: `${op.name} has no parameter ${p.name}`, info: [info.badElement(p.name)] });
    }
    throw new NetconfError({
      type: 'protocol', tag: 'unknown-namespace',
      message: p.ns === WITH_DEFAULTS_NS
        ? `${op.name} has no parameter with-defaults (RFC 6243 defines it for get, get-config and copy-config)`
        : `${op.name} has no parameter ${p.name} in namespace ${p.ns || '(none)'}`,
      info: [info.badElement(p.name), info.badNamespace(p.ns)],
    });
  }
}
