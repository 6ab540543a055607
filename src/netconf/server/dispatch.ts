/**
 * RPC dispatch (RFC 6241 sections 4.1-4.3, appendix A): by the operation element's namespace URI and
 * local name, never by prefix. Standard operations first, then plugin RPCs, else:
 * - a namespace the server does not know -> unknown-namespace (protocol; bad-element, bad-namespace);
 * - a known namespace without that operation -> operation-not-supported (protocol; bad-element).
 * Plugin RPC input is validated against YANG before the handler, output after it. A NetconfError from
 * a handler becomes its rpc-errors; any other exception becomes operation-failed with a generic message
 * (the cause is logged, never sent).
 */
import { NetconfError, info, rpcErrorToXml } from '../rpc-error.js';
import type { RpcErrorInfo } from '../rpc-error.js';
import { NETCONF_BASE_NS } from '../xml/types.js';
import type { XmlElement } from '../xml/types.js';
import { el } from '../xml/build.js';
import type { Logger } from '../../log/logger.js';
import type { YangValidator } from '../../yang/types.js';
import type { HostRegistry } from './host-registry.js';
import type { OperationContext, ServerInfo, ServerSessionHandle } from './operations.js';

export interface DispatchResult {
  body: XmlElement[];
  afterReply: Array<() => void>;
}

/** OperationContext plus the optional hooks the core offers (extension of the contract). */
export interface CoreOperationContext extends OperationContext {
  /** run `fn` right after the reply to this request has been written */
  afterReply(fn: () => void): void;
  /** end this session once the reply has been written (close-session) */
  closeAfterReply(): void;
}

export interface DispatchTarget {
  handle: ServerSessionHandle;
  log: Logger;
  closeAfterReply(): void;
}

const OK = (): XmlElement => el(NETCONF_BASE_NS, 'ok');
const GENERIC: RpcErrorInfo = { type: 'application', tag: 'operation-failed', message: 'internal error' };

export function createDispatcher(registry: HostRegistry, server: ServerInfo, validator: YangValidator | undefined, log: Logger) {
  return async function dispatch(op: XmlElement, target: DispatchTarget): Promise<DispatchResult> {
    const afterReply: Array<() => void> = [];
    const s = target.handle;
    const ctx: CoreOperationContext = {
      sessionId: s.id,
      username: s.username,
      signal: s.signal,
      log: target.log,
      session: s,
      server,
      afterReply: (fn) => void afterReply.push(fn),
      closeAfterReply: () => target.closeAfterReply(),
    };
    try {
      const found = registry.lookup(op.ns, op.name);
      if (!found) throw unknownOperation(registry, op);
      let out: XmlElement[] | 'ok';
      if (found.kind === 'operation') {
        out = await found.handler(op, ctx);
      } else {
        const checked = validator?.hasRpc(op.ns, op.name) === true;
        if (checked) {
          const errs = validator!.validateRpcInput(op);
          if (errs.length > 0) throw new NetconfError(errs);
        }
        out = await found.handler(op, ctx);
        if (checked && out !== 'ok') {
          const errs = validator!.validateRpcOutput(op.ns, op.name, out);
          if (errs.length > 0) {
            target.log.error('RPC output failed YANG validation', { ns: op.ns, rpc: op.name, errors: errs.map((e) => `${e.tag} ${e.path ?? ''} ${e.message ?? ''}`) });
            throw new NetconfError(GENERIC);
          }
        }
      }
      return { body: out === 'ok' || out.length === 0 ? [OK()] : out, afterReply };
    } catch (e) {
      if (e instanceof NetconfError) {
        return { body: (e.errors.length > 0 ? e.errors : [GENERIC]).map(rpcErrorToXml), afterReply: [] };
      }
      (target.log ?? log).error('operation failed unexpectedly', { ns: op.ns, rpc: op.name, err: e as Error, stack: (e as Error)?.stack });
      return { body: [rpcErrorToXml(GENERIC)], afterReply: [] };
    }
  };
}

function unknownOperation(registry: HostRegistry, op: XmlElement): NetconfError {
  if (!registry.isKnownNamespace(op.ns)) {
    return new NetconfError({
      type: 'protocol', tag: 'unknown-namespace', message: `unknown namespace ${op.ns || '(none)'}`,
      info: [info.badElement(op.name), info.badNamespace(op.ns)],
    });
  }
  return new NetconfError({
    type: 'protocol', tag: 'operation-not-supported', message: `operation ${op.name} is not supported`,
    info: [info.badElement(op.name)],
  });
}
