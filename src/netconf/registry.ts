/**
 * The NETCONF registry: the only surface through which a plugin (or the server's own standard
 * operations) adds RPCs, operational state, notification streams and YANG modules. The server host
 * implements it; plugins receive a scoped view (they cannot replace what another owner registered).
 *
 * CONTRACT: a leaf module (it imports types only: XML, logger, YANG module info), shared by
 * src/netconf/server (implements; re-exported by src/netconf/server/registry.ts) and src/plugin/contract.ts
 * (re-exports it to plugins). Change only with all users in mind.
 */
import type { XmlElement } from './xml/index.js';
import type { Logger } from '../log/logger.js';
import type { YangModuleInfo } from '../yang/index.js';

export type { YangModuleInfo };

export interface RpcContext {
  /** NETCONF session-id of the caller */
  readonly sessionId: number;
  readonly username: string;
  /** aborted when the session ends */
  readonly signal: AbortSignal;
  readonly log: Logger;
}

/**
 * Handles one RPC. Receives the operation element (the child of <rpc>), already validated against the
 * YANG input. Returns the output children for <rpc-reply> (validated against the YANG output), or
 * 'ok' for <ok/>. Throws NetconfError for rpc-errors; any other exception becomes operation-failed
 * with a generic message (the cause is logged, never sent).
 */
export type RpcHandler = (operation: XmlElement, ctx: RpcContext) => Promise<XmlElement[] | 'ok'>;

/** Operational state: returns the top-level data node (config false), or undefined when empty. */
export type StateProvider = () => Promise<XmlElement | undefined> | XmlElement | undefined;

export interface StreamInfo {
  name: string;
  description: string;
  /** whether events are kept for replay (RFC 5277 section 3.2.1) */
  replaySupport: boolean;
}

/** One event of a replay log, as the server reads it back. */
export interface LoggedEvent {
  /** position in the log: increasing in append order, never reused */
  id: number;
  stream: string;
  eventTime: Date;
  /** the serialised event element (the child of <notification> after eventTime) */
  xml: string;
}

/** What a replay reads: eventTime in [startTime, stopTime], id <= upToId; no stream: every stream. */
export interface ReplayLogQuery {
  stream?: string;
  startTime: Date;
  stopTime?: Date;
  upToId?: number;
}

/**
 * The persistent log behind RFC 5277 replay (replaySupport, replayLogCreationTime, replayLogAgedTime). The
 * server keeps one of its own in its data directory unless a plugin provides one (setReplayLog), e.g. over a
 * database that several server instances share, so that a subscriber of any instance replays the events of all.
 */
export interface ReplayLog {
  /** log one event; resolves with its id */
  append(stream: string, eventTime: Date, xml: string): Promise<number>;
  /** the newest event's id (0 when empty) */
  lastId(): Promise<number>;
  /** at most `limit` events with id > afterId, oldest first */
  replayPage(q: ReplayLogQuery, afterId: number, limit: number): Promise<LoggedEvent[]>;
  /** replayLogCreationTime, and replayLogAgedTime when retention dropped events */
  times(): Promise<{ created: Date; aged: Date | undefined }>;
}

/**
 * Called after a config change is committed to running (persisted). `running` is frozen and shared by every
 * listener (and its unchanged subtrees with the previous commit's): read it, or copy what you change; a write into
 * it throws a TypeError.
 */
export type ConfigListener = (running: XmlElement) => void | Promise<void>;

/**
 * A security decision of the server itself, for an audit trail (issue 11): an RFC 8341 denial, a committed
 * configuration change, a failed login. The server keeps no audit log; a plugin that keeps one listens.
 */
export interface ServerAuditEvent {
  /** 'nacm-denial' | 'config-edit' | 'login-failed' */
  action: string;
  /** `netconf:<user>@<session-id>` for a session, `ssh:<user>@<address>:<port>` before one exists */
  actor: string;
  /** what it concerns: the denied operation / data node / notification, the datastore, the login name */
  object: string;
  details: Record<string, unknown>;
  at: Date;
}

export interface NetconfRegistry {
  /** register an RPC by namespace + local name of the operation element */
  addRpc(ns: string, name: string, handler: RpcHandler): void;
  /** register operational state for a top-level node */
  addState(ns: string, name: string, provider: StateProvider): void;
  /** add a notification stream (NETCONF stream always exists) */
  addStream(info: StreamInfo): void;
  /** advertise a YANG module (hello capability, monitoring schemas, get-schema, validation) */
  addModule(module: YangModuleInfo): void;
  /**
   * Emit a notification (the event element, e.g. <software-update-result xmlns=...>) on a stream and on
   * the NETCONF stream; it is validated, logged for replay, and sent to every matching subscription.
   */
  notify(stream: string, event: XmlElement, eventTime?: Date): Promise<void>;
  /** the current running configuration (a <data> element in the base namespace; a copy the caller may change) */
  getRunning(): XmlElement;
  /** be told of committed changes to running (the element given is frozen: see ConfigListener) */
  onConfigChange(listener: ConfigListener): void;
  /**
   * Keep the notification replay log in `log` instead of the server's own file: every event notify()ed (by any
   * owner) is appended to it and replays read it. Call while activating, before the first notification; one
   * log per server. The caller keeps it open until the server has closed. Optional: a host without it keeps
   * the log of its own (call it as `registry.setReplayLog?.(log)`).
   */
  setReplayLog?(log: ReplayLog): void;
  /**
   * At start-up: make `node` (a top-level configuration node of a module this owner registered) part of
   * running when running has no node of that namespace and name yet; persisted, listeners told. Resolves
   * true when it was added, false when running already had one (it is never overwritten). Optional: a host
   * without a writable running datastore leaves it out.
   */
  seedRunning?(node: XmlElement): Promise<boolean>;
  /**
   * be told of the server's security decisions (NACM denials, committed config edits with who made them,
   * failed logins); optional: a host without it has nothing to tell. A listener must not throw or block.
   */
  onAudit?(listener: (event: ServerAuditEvent) => void): void;
}
