/**
 * The server's registry: one object that implements NetconfRegistry (what plugins see) and
 * OperationRegistrar (what the standard-operation modules see), and keeps what both register: standard
 * operations, plugin RPCs, state providers, streams, modules, capabilities, notify listeners and the
 * running datastore. Nothing can be registered twice under the same key (ERR_REGISTRY_DUPLICATE): a
 * plugin cannot replace what another owner registered.
 */
import { HsvError } from '../../errors.js';
import { NetconfError } from '../rpc-error.js';
import { NETCONF_BASE_NS } from '../xml/index.js';
import type { XmlElement } from '../xml/index.js';
import { el } from '../xml/index.js';
import type { YangValidator } from '../../yang/index.js';
import { BASE_10, BASE_11 } from '../session/index.js';
import type { ConfigListener, NetconfRegistry, ReplayLog, RpcHandler, ServerAuditEvent, StateProvider, StreamInfo, YangModuleInfo } from './registry.js';
import type { OperationContext, ImmediateOperationHandler, OperationHandler, OperationRegistrar } from './operations.js';
import { advertisedInHello, moduleCapability } from './yang-library.js';

export type RegistryErrorCode = 'ERR_REGISTRY_DUPLICATE' | 'ERR_REGISTRY_UNKNOWN_STREAM' | 'ERR_REGISTRY_INVALID' | 'ERR_REGISTRY_NO_DATASTORE';

export class RegistryError extends HsvError<RegistryErrorCode> {
  constructor(code: RegistryErrorCode, message: string) {
    super(code, message);
  }
}

export const NETCONF_STREAM_INFO: StreamInfo = {
  name: 'NETCONF',
  description: 'default NETCONF event stream (RFC 5277 section 3.2.3)',
  replaySupport: true,
};

/** decides whether a session may invoke an operation; throws NetconfError (access-denied) when not */
export type RpcAuthorizer = (operation: XmlElement, ctx: OperationContext) => void;

type NotifyListener = (stream: string, event: XmlElement, eventTime: Date) => Promise<void>;

type Found = { kind: 'operation'; handler: OperationHandler | ImmediateOperationHandler } | { kind: 'rpc'; handler: RpcHandler };

const key = (ns: string, name: string): string => `${ns}\u0000${name}`;

export class HostRegistry implements NetconfRegistry, OperationRegistrar {
  readonly operations = new Map<string, OperationHandler | ImmediateOperationHandler>();
  readonly rpcs = new Map<string, RpcHandler>();
  private readonly states = new Map<string, { ns: string; name: string; provider: StateProvider }>();
  private readonly streamMap = new Map<string, StreamInfo>([[NETCONF_STREAM_INFO.name, NETCONF_STREAM_INFO]]);
  private readonly moduleMap = new Map<string, YangModuleInfo>();
  private readonly caps: string[] = [BASE_10, BASE_11];
  /** capabilities computed when a hello is built (the yang-library module-set-id follows the modules) */
  private readonly lazyCaps: Array<() => string> = [];
  private readonly listeners: NotifyListener[] = [];
  private readonly closeHooks: Array<() => void | Promise<void>> = [];
  private readonly moduleListeners: Array<(m: YangModuleInfo) => void> = [];
  private datastore: { getRunning(): XmlElement; onConfigChange(listener: ConfigListener): void; seed?(node: XmlElement): Promise<boolean> } | undefined;
  private readonly earlyConfigListeners: ConfigListener[] = [];
  private knownNs: Set<string> | undefined;
  private readonly byNs = new Map<string, Map<string, Found>>();

  constructor(readonly validator: YangValidator | undefined, readonly dataDir: string) {}

  // ---- OperationRegistrar ----
  addOperation(ns: string, name: string, handler: OperationHandler | ImmediateOperationHandler): void {
    const k = key(ns, name);
    if (this.operations.has(k) || this.rpcs.has(k)) throw new RegistryError('ERR_REGISTRY_DUPLICATE', `operation ${name} in ${ns} is already registered`);
    this.operations.set(k, handler);
    this.index(ns, name, { kind: 'operation', handler });
    this.knownNs = undefined;
  }
  hasOperation(ns: string, name: string): boolean {
    return this.operations.has(key(ns, name));
  }
  addCapability(uri: string | (() => string)): void {
    if (typeof uri === 'function') this.lazyCaps.push(uri);
    else if (!this.caps.includes(uri)) this.caps.push(uri);
    this.knownNs = undefined;
  }
  modules(): YangModuleInfo[] {
    return [...this.moduleMap.values()];
  }
  stateProviders(): Array<{ ns: string; name: string; provider: StateProvider }> {
    return [...this.states.values()];
  }
  streams(): StreamInfo[] {
    return [...this.streamMap.values()];
  }
  onNotify(listener: NotifyListener): void {
    this.listeners.push(listener);
  }
  setDatastore(ds: { getRunning(): XmlElement; onConfigChange(listener: ConfigListener): void; seed?(node: XmlElement): Promise<boolean> }): void {
    this.datastore = ds;
    for (const l of this.earlyConfigListeners.splice(0)) ds.onConfigChange(l);
  }
  /**
   * called after each addModule once the server serves (extension of OperationRegistrar: ietf-yang-
   * library's change notification); modules registered while starting up are the initial set, not a change
   */
  onModuleAdded(listener: (m: YangModuleInfo) => void): void {
    this.moduleListeners.push(listener);
  }
  /**
   * Access control for every operation (extension of OperationRegistrar; RFC 8341 3.4.4): dispatch
   * calls it once the operation is known, before its input is validated or its handler runs. It
   * throws NetconfError (access-denied) to refuse. One authorizer: a second is ERR_REGISTRY_DUPLICATE.
   */
  setAuthorizer(fn: RpcAuthorizer): void {
    if (this.authorizer) throw new RegistryError('ERR_REGISTRY_DUPLICATE', 'an operation authorizer is already set');
    this.authorizer = fn;
  }
  authorizer: RpcAuthorizer | undefined;

  /**
   * be given the replay log a plugin provides (NetconfRegistry.setReplayLog; extension of OperationRegistrar:
   * the RFC 5277 module logs into it instead of its own file)
   */
  onReplayLog(listener: (log: ReplayLog) => void): void {
    this.replayLogListeners.push(listener);
    if (this.replayLog) listener(this.replayLog);
  }
  private readonly replayLogListeners: Array<(log: ReplayLog) => void> = [];
  private replayLog: ReplayLog | undefined;

  /** run on server close, in reverse order of registration (extension of OperationRegistrar) */
  onClose(fn: () => void | Promise<void>): void {
    this.closeHooks.push(fn);
  }

  // ---- NetconfRegistry ----
  addRpc(ns: string, name: string, handler: RpcHandler): void {
    if (!ns || !name) throw new RegistryError('ERR_REGISTRY_INVALID', 'an RPC needs a namespace and a name');
    const k = key(ns, name);
    if (this.operations.has(k) || this.rpcs.has(k)) throw new RegistryError('ERR_REGISTRY_DUPLICATE', `RPC ${name} in ${ns} is already registered`);
    this.rpcs.set(k, handler);
    this.index(ns, name, { kind: 'rpc', handler });
    this.knownNs = undefined;
  }
  addState(ns: string, name: string, provider: StateProvider): void {
    const k = key(ns, name);
    if (this.states.has(k)) throw new RegistryError('ERR_REGISTRY_DUPLICATE', `state ${name} in ${ns} is already registered`);
    this.states.set(k, { ns, name, provider });
  }
  addStream(info: StreamInfo): void {
    if (this.streamMap.has(info.name)) throw new RegistryError('ERR_REGISTRY_DUPLICATE', `stream ${info.name} is already registered`);
    this.streamMap.set(info.name, { ...info });
  }
  addModule(module: YangModuleInfo): void {
    const k = `${module.name}@${module.revision}`;
    if (this.moduleMap.has(k)) throw new RegistryError('ERR_REGISTRY_DUPLICATE', `module ${k} is already registered`);
    this.moduleMap.set(k, { ...module });
    this.knownNs = undefined;
    if (this.serving) for (const l of this.moduleListeners) l(module);
  }
  async notify(stream: string, event: XmlElement, eventTime: Date = new Date()): Promise<void> {
    if (!this.streamMap.has(stream)) throw new RegistryError('ERR_REGISTRY_UNKNOWN_STREAM', `no stream named ${stream}`);
    if (this.validator) {
      const errors = this.validator.validateNotification(event);
      if (errors.length > 0) throw new NetconfError(errors);
    }
    for (const l of this.listeners) await l(stream, event, eventTime);
  }
  setReplayLog(log: ReplayLog): void {
    if (this.replayLog) throw new RegistryError('ERR_REGISTRY_DUPLICATE', 'a replay log is already set');
    for (const l of this.replayLogListeners) l(log);
    this.replayLog = log;
  }
  getRunning(): XmlElement {
    if (!this.datastore) return el(NETCONF_BASE_NS, 'data');
    return this.datastore.getRunning();
  }
  seedRunning(node: XmlElement): Promise<boolean> {
    if (!this.datastore?.seed) return Promise.resolve(false);
    return this.datastore.seed(node);
  }
  onConfigChange(listener: ConfigListener): void {
    if (this.datastore) this.datastore.onConfigChange(listener);
    else this.earlyConfigListeners.push(listener);
  }
  private readonly auditListeners: Array<(e: ServerAuditEvent) => void> = [];
  onAudit(listener: (e: ServerAuditEvent) => void): void {
    this.auditListeners.push(listener);
  }
  /** tells the audit listeners of a security decision (extension of OperationRegistrar); a failing listener is ignored */
  emitAudit(event: Omit<ServerAuditEvent, 'at'> & { at?: Date }): void {
    const e: ServerAuditEvent = { ...event, at: event.at ?? new Date() };
    for (const l of this.auditListeners) {
      try {
        l(e);
      } catch {
        // an observer does not change the decision
      }
    }
  }

  // ---- for the server core ----
  private serving = false;
  /** the server accepts sessions from now on: module additions are changes of the module set */
  markServing(): void {
    this.serving = true;
  }
  /**
   * capabilities for the hello: base, added ones (computed ones last), and the implemented YANG 1.0
   * registry modules (YANG 1.1 modules are announced through ietf-yang-library only: yang-library.ts)
   */
  capabilities(): string[] {
    const out = [...this.caps];
    for (const c of this.lazyCaps) {
      const uri = c();
      if (!out.includes(uri)) out.push(uri);
    }
    for (const m of this.moduleMap.values()) {
      if (!advertisedInHello(m)) continue;
      const uri = moduleCapability(m);
      if (!out.includes(uri)) out.push(uri);
    }
    return out;
  }
  /** namespaces the server knows (for unknown-namespace vs operation-not-supported) */
  isKnownNamespace(ns: string): boolean {
    if (!this.knownNs) {
      const s = new Set<string>([NETCONF_BASE_NS]);
      for (const k of [...this.operations.keys(), ...this.rpcs.keys()]) s.add(k.slice(0, k.indexOf('\u0000')));
      for (const m of this.moduleMap.values()) s.add(m.namespace);
      for (const c of this.caps) {
        const q = c.indexOf('?module=');
        if (q > 0) s.add(c.slice(0, q));
      }
      this.knownNs = s;
    }
    return this.knownNs.has(ns);
  }
  lookup(ns: string, name: string): Found | undefined {
    return this.byNs.get(ns)?.get(name);
  }
  /** lookup() index by namespace then name: no key string and no result object per request */
  private index(ns: string, name: string, found: Found): void {
    let m = this.byNs.get(ns);
    if (!m) this.byNs.set(ns, (m = new Map()));
    m.set(name, found);
  }
  async runCloseHooks(onError: (e: unknown) => void): Promise<void> {
    for (const fn of this.closeHooks.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        onError(e);
      }
    }
  }
}
