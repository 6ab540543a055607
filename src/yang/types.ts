/**
 * CONTRACT: the runtime YANG validator used by the NETCONF server (src/netconf/server) and the flow.
 * Implemented in src/yang/. Validation errors are RpcErrorInfo (RFC 6241 appendix A tags, error-path as
 * an absolute instance-identifier with prefixes bound in pathNs).
 */
import type { XmlElement } from '../netconf/xml/index.js';
import type { RpcErrorInfo } from '../netconf/rpc-error.js';

export interface YangValidator {
  /** true when some loaded module defines this RPC */
  hasRpc(ns: string, name: string): boolean;
  /** validate an RPC's operation element (the child of <rpc>) against its input */
  validateRpcInput(operation: XmlElement): RpcErrorInfo[];
  /** validate the output children of an RPC reply */
  validateRpcOutput(ns: string, rpcName: string, output: XmlElement[]): RpcErrorInfo[];
  /** validate a notification's event element (the child of <notification> other than eventTime) */
  validateNotification(event: XmlElement): RpcErrorInfo[];
  /**
   * validate configuration data: the children of a <config>/<data> element (top-level nodes of any
   * loaded module). Checks config true nodes only, mandatory nodes, keys, unique, types.
   */
  validateConfig(topLevel: XmlElement[]): RpcErrorInfo[];
  /** optional (added compatibly): true when some loaded module defines this notification */
  hasNotification?(ns: string, name: string): boolean;
  /**
   * optional (added compatibly): validate a RESTCONF operation body (RFC 8040 section 3.6.1,
   * RFC 7951 JSON text or a JSON.parse value); returns the equivalent element for the handler.
   */
  validateRestconf?(moduleName: string, rpc: string, which: 'input' | 'output', body: unknown): { element?: XmlElement; errors: RpcErrorInfo[] };
}

/** A YANG module as the NETCONF registry advertises it (hello, yang-library, get-schema) and validates with. */
export interface YangModuleInfo {
  name: string;
  revision: string;
  namespace: string;
  prefix: string;
  /** the module text served by get-schema, byte-identical to the file in yang/ */
  text: string;
  features?: string[];
  /** false for modules only imported (listed in yang-library / schemas, not as capability) */
  implemented?: boolean;
}
