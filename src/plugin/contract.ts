/**
 * CONTRACT: what a host gives a plugin's `activate(host)` and what it gets back. Documented in
 * docs/plugin-contract.md. A plugin depends on this file only, never on the server's internals
 * (the registry's types, src/netconf/registry.ts, and NetconfError are re-exported here).
 */
import type { NetconfRegistry } from '../netconf/registry.js';
import type { Logger } from '../log/logger.js';

/** the registry a plugin registers through (a leaf module; the server implements it) */
export type * from '../netconf/registry.js';
/** what an RPC handler throws for an rpc-error */
export { NetconfError } from '../netconf/rpc-error.js';
export type { ErrorTag, ErrorType, RpcErrorInfo } from '../netconf/rpc-error.js';

export const HOST_API_VERSION = '1.0.0';

export interface PluginHost {
  /** semver of the host contract this host implements */
  readonly apiVersion: string;
  /** RPCs, state, streams and modules, scoped to this plugin */
  readonly registry: NetconfRegistry;
  readonly log: Logger;
  /** a directory owned by this plugin for its files and database */
  readonly dataDir: string;
  /** the plugin's configuration, already validated against the manifest's configSchema */
  readonly config: unknown;
  /**
   * the directory that relative file names in `config` are relative to: the directory of the file the
   * configuration came from (the current directory when it came from none). The plugin resolves its own paths
   * against it. Optional for hosts of contract 1.0.0 (then: the current directory).
   */
  readonly baseDir?: string;
  /** aborted when the host shuts down */
  readonly signal: AbortSignal;
}

export interface PluginHandle {
  /** release everything: device sessions, timers, database. Idempotent. */
  close(): Promise<void>;
}

export type ActivateFn = (host: PluginHost) => Promise<PluginHandle>;
