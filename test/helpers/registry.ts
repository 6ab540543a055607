/**
 * A NetconfRegistry for plugin tests, in place of the server: it records the RPCs and state providers a
 * plugin registers and the notifications it emits; streams, modules and config listeners are accepted
 * and ignored, and the running configuration is empty.
 */
import type { NetconfRegistry, ReplayLog, RpcHandler, StateProvider } from '../../src/netconf/server/registry.js';
import { el } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';

export interface RecordingRegistry extends NetconfRegistry {
  /** by the operation's local name */
  readonly rpcs: Map<string, RpcHandler>;
  /** by the top-level node's local name */
  readonly states: Map<string, StateProvider>;
  /** every notification emitted, in order */
  readonly notes: XmlElement[];
  /** the replay logs provided (setReplayLog) */
  readonly replayLogs: ReplayLog[];
}

/** `check` sees each notification before it is recorded; what it throws, notify rejects with (as the server refuses an invalid one). */
export function recordingRegistry(check?: (event: XmlElement) => void): RecordingRegistry {
  const rpcs = new Map<string, RpcHandler>();
  const states = new Map<string, StateProvider>();
  const notes: XmlElement[] = [];
  const replayLogs: ReplayLog[] = [];
  return {
    rpcs,
    states,
    notes,
    replayLogs,
    setReplayLog: (l) => { replayLogs.push(l); },
    addRpc: (_ns, name, h) => { rpcs.set(name, h); },
    addState: (_ns, name, p) => { states.set(name, p); },
    addStream: () => undefined,
    addModule: () => undefined,
    notify: async (_stream, event) => {
      check?.(event);
      notes.push(event);
    },
    getRunning: () => el(NETCONF_BASE_NS, 'data'),
    onConfigChange: () => undefined,
  };
}
