// An in-memory NetconfRegistry that records what was registered (the minimal host side of the contract).
import type { ConfigListener, NetconfRegistry, ReplayLog, RpcHandler, StateProvider, StreamInfo, YangModuleInfo } from '../../src/netconf/server/registry.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';

export class FakeRegistry implements NetconfRegistry {
  readonly rpcs = new Map<string, RpcHandler>();
  readonly states = new Map<string, StateProvider>();
  readonly streams: StreamInfo[] = [];
  readonly modules: YangModuleInfo[] = [];
  readonly notifications: Array<{ stream: string; event: XmlElement }> = [];
  readonly listeners: ConfigListener[] = [];
  replayLogs: ReplayLog[] = [];
  running: XmlElement = { ns: 'urn:ietf:params:xml:ns:netconf:base:1.0', name: 'data', attrs: [], children: [] };

  addRpc(ns: string, name: string, handler: RpcHandler): void {
    const k = `${ns} ${name}`;
    if (this.rpcs.has(k)) throw new Error(`duplicate rpc ${k}`);
    this.rpcs.set(k, handler);
  }
  addState(ns: string, name: string, provider: StateProvider): void {
    this.states.set(`${ns} ${name}`, provider);
  }
  addStream(info: StreamInfo): void {
    this.streams.push(info);
  }
  addModule(module: YangModuleInfo): void {
    this.modules.push(module);
  }
  async notify(stream: string, event: XmlElement): Promise<void> {
    this.notifications.push({ stream, event });
  }
  setReplayLog(log: ReplayLog): void {
    this.replayLogs.push(log);
  }
  getRunning(): XmlElement {
    return this.running;
  }
  async seedRunning(node: XmlElement): Promise<boolean> {
    const top = this.running.children.filter((c): c is XmlElement => typeof c !== 'string');
    if (top.some((c) => c.ns === node.ns && c.name === node.name)) return false;
    await this.commit({ ...this.running, children: [...this.running.children, node] });
    return true;
  }
  onConfigChange(listener: ConfigListener): void {
    this.listeners.push(listener);
  }
  async commit(running: XmlElement): Promise<void> {
    this.running = running;
    for (const l of this.listeners) await l(running);
  }
}
