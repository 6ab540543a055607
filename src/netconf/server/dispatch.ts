/**
 * RPC dispatch (RFC 6241 sections 4.1-4.3, appendix A): by the operation element's namespace URI and
 * local name, never by prefix. Standard operations first, then plugin RPCs, else:
 * - a namespace the server does not know -> unknown-namespace (protocol; bad-element, bad-namespace);
 * - a known namespace without that operation -> operation-not-supported (protocol; bad-element).
 * The registry's authorizer (NACM, RFC 8341 3.4.4) decides before anything else runs.
 * Plugin RPC input is validated against YANG before the handler, output after it. A NetconfError from
 * a handler becomes its rpc-errors; any other exception becomes operation-failed with a generic message
 * (the cause is logged, never sent). A handler's malformed-message reaches a base:1.0 session as
 * operation-failed (appendix A: malformed-message "is new in :base:1.1 and MUST NOT be sent to old
 * clients").
 */
import { NetconfError, info, rpcErrorToXml } from '../rpc-error.js';
import type { RpcErrorInfo } from '../rpc-error.js';
import { NETCONF_BASE_NS } from '../xml/index.js';
import type { XmlElement } from '../xml/index.js';
import { el } from '../xml/index.js';
import type { Logger } from '../../log/logger.js';
import type { YangValidator } from '../../yang/index.js';
import type { HostRegistry } from './host-registry.js';
import type { OperationContext, ServerInfo, ServerSessionHandle } from './operations.js';
import type { RpcHandler } from './registry.js';

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
const NO_CALLBACKS: Array<() => void> = [];

/**
 * The context of one request. A class with prototype methods rather than an object literal with arrow
 * functions: this runs once per rpc, and per-request closures (plus, under tsx/esbuild keepNames, a
 * defineProperty for each closure's name) measured about 10% of the server's per-rpc CPU.
 * afterReply and closeAfterReply are methods: call them on the context (ctx.afterReply(fn)).
 */
class RequestContext implements CoreOperationContext {
  readonly sessionId: number;
  readonly username: string;
  readonly log: Logger;
  readonly session: ServerSessionHandle;
  callbacks: Array<() => void> | undefined = undefined;
  constructor(private readonly target: DispatchTarget, readonly server: ServerInfo) {
    const s = target.handle;
    this.sessionId = s.id;
    this.username = s.username;
    this.log = target.log;
    this.session = s;
  }
  /** the session's (read when a handler asks: the session makes its AbortController only then) */
  get signal(): AbortSignal {
    return this.session.signal;
  }
  afterReply(fn: () => void): void {
    (this.callbacks ??= []).push(fn);
  }
  closeAfterReply(): void {
    this.target.closeAfterReply();
  }
}

export function createDispatcher(registry: HostRegistry, server: ServerInfo, validator: YangValidator | undefined, log: Logger) {
  /** a plugin RPC: its input validated against YANG before the handler, its output after */
  async function pluginRpc(handler: RpcHandler, op: XmlElement, ctx: RequestContext): Promise<XmlElement[] | 'ok'> {
    const checked = validator?.hasRpc(op.ns, op.name) === true;
    if (checked) {
      const errs = validator!.validateRpcInput(op);
      if (errs.length > 0) throw new NetconfError(errs);
    }
    const out = await handler(op, ctx);
    if (checked && out !== 'ok') {
      const errs = validator!.validateRpcOutput(op.ns, op.name, out);
      if (errs.length > 0) {
        ctx.log.error('RPC output failed YANG validation', { ns: op.ns, rpc: op.name, errors: errs.map((e) => `${e.tag} ${e.path ?? ''} ${e.message ?? ''}`) });
        throw new NetconfError(GENERIC);
      }
    }
    return out;
  }
  function failed(e: unknown, op: XmlElement, target: DispatchTarget): DispatchResult {
    if (e instanceof NetconfError) {
      const errors = e.errors.length > 0 ? e.errors : [GENERIC];
      return { body: (target.handle.base11 ? errors : errors.map(forBase10)).map(rpcErrorToXml), afterReply: NO_CALLBACKS };
    }
    (target.log ?? log).error('operation failed unexpectedly', { ns: op.ns, rpc: op.name, err: e as Error, stack: (e as Error)?.stack });
    return { body: [rpcErrorToXml(GENERIC)], afterReply: NO_CALLBACKS };
  }
  /**
   * The reply to one request. An operation whose handler has its answer at once (get-config) is answered in the same
   * turn, without a promise: in lockstep every await per request was a microtask hop and a promise on the server's
   * path (bench/netconf.ts, NETCONF over TLS in docs/performance.md). A handler's promise is awaited as before.
   */
  return function dispatch(op: XmlElement, target: DispatchTarget): DispatchResult | Promise<DispatchResult> {
    const ctx = new RequestContext(target, server);
    try {
      const found = registry.lookup(op.ns, op.name);
      if (!found) throw unknownOperation(registry, op);
      registry.authorizer?.(op, ctx);
      const out = found.kind === 'operation' ? found.handler(op, ctx) : pluginRpc(found.handler, op, ctx);
      if (isPromise(out)) return out.then((o) => answered(o, ctx), (e: unknown) => failed(e, op, target));
      return answered(out, ctx);
    } catch (e) {
      return failed(e, op, target);
    }
  };
}

function answered(out: XmlElement[] | 'ok', ctx: RequestContext): DispatchResult {
  return { body: out === 'ok' || out.length === 0 ? [OK()] : out, afterReply: ctx.callbacks ?? NO_CALLBACKS };
}

/** a handler's answer still to come (any thenable: what await would wait for) */
export function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/** RFC 6241 appendix A: no malformed-message to a base:1.0 session; operation-failed says the same. */
function forBase10(e: RpcErrorInfo): RpcErrorInfo {
  return e.tag === 'malformed-message' ? { ...e, tag: 'operation-failed' } : e;
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
