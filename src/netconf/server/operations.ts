/**
 * CONTRACT between the server core (session, dispatch: src/netconf/server/server.ts) and the standard
 * operation modules (datastore, filters, notifications, monitoring). The server core implements
 * ServerSessionHandle and ServerInfo; operation modules export `register(ops: OperationRegistrar, ...)`.
 */
import type { XmlElement } from '../xml/index.js';
import type { ConfigListener, RpcContext, StateProvider, StreamInfo, YangModuleInfo } from './registry.js';
import type { YangValidator } from '../../yang/index.js';

export interface SessionCounters {
  inRpcs: number;
  inBadRpcs: number;
  outRpcErrors: number;
  outNotifications: number;
}

/** One live NETCONF session as operation modules see it. */
export interface ServerSessionHandle {
  readonly id: number;
  readonly username: string;
  /** 'netconf-ssh' (ietf-netconf-monitoring transport identity name) */
  readonly transport: string;
  readonly sourceHost: string;
  readonly loginTime: Date;
  readonly counters: SessionCounters;
  /** base:1.1 negotiated */
  readonly base11: boolean;
  /** write a <notification> element to this session (RFC 5277), respecting backpressure */
  sendNotification(notification: XmlElement): void;
  /**
   * write a <notification> already serialised (the text sendNotification writes for its element): one text made
   * once for every subscriber of an event
   */
  sendNotificationText(xml: string): void;
  /** ends when the session ends */
  readonly signal: AbortSignal;
  /** per-session state that operation modules keep (e.g. the active subscription) */
  readonly attachments: Map<string, unknown>;
}

export interface ServerInfo {
  /** every live session */
  sessions(): ServerSessionHandle[];
  /** capabilities as sent in the server hello */
  capabilities(): string[];
  /** server-wide counters (ietf-netconf-monitoring statistics) */
  readonly startTime: Date;
  readonly counters: { inBadHellos: number; inSessions: number; droppedSessions: number } & SessionCounters;
  /** end another session (kill-session); resolves when it is gone */
  killSession(id: number, reason: string): Promise<void>;
}

export interface OperationContext extends RpcContext {
  readonly session: ServerSessionHandle;
  readonly server: ServerInfo;
}

/** Same shape as RpcHandler, with the session and server in the context. */
export type OperationHandler = (operation: XmlElement, ctx: OperationContext) => Promise<XmlElement[] | 'ok'>;
/**
 * An operation that has its answer at once (get-config) returns it without a promise: dispatch then answers in the
 * same turn, with no await per request on the lockstep path. A throw is a failure, as a rejection is.
 */
export type ImmediateOperationHandler = (operation: XmlElement, ctx: OperationContext) => XmlElement[] | 'ok';

/** What the server core exposes to the standard-operation modules when they register. */
export interface OperationRegistrar {
  /** register a standard operation (base namespace or RFC 5277/6022 namespaces) */
  addOperation(ns: string, name: string, handler: OperationHandler | ImmediateOperationHandler): void;
  /** add capability URIs to the hello (call before listen) */
  addCapability(uri: string | (() => string)): void;
  /** modules registered through NetconfRegistry.addModule (for hello, monitoring, get-schema) */
  modules(): YangModuleInfo[];
  /** operational state registered through NetconfRegistry.addState */
  stateProviders(): Array<{ ns: string; name: string; provider: StateProvider }>;
  /** streams registered through NetconfRegistry.addStream, plus NETCONF */
  streams(): StreamInfo[];
  /**
   * NetconfRegistry.notify() validates the event then calls every listener set here (the RFC 5277
   * module stores it for replay and delivers it to subscriptions).
   */
  onNotify(listener: (stream: string, event: XmlElement, eventTime: Date) => Promise<void>): void;
  /**
   * The running datastore behind NetconfRegistry.getRunning()/onConfigChange() (set by the datastore
   * module).
   */
  setDatastore(ds: { getRunning(): XmlElement; onConfigChange(listener: ConfigListener): void; seed?(node: XmlElement): Promise<boolean> }): void;
  /** the YANG validator in use, if any */
  readonly validator: YangValidator | undefined;
  /** the server's data directory (persistent state: running config, event log) */
  readonly dataDir: string;
}
