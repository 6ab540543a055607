/** A fake server core (OperationRegistrar + sessions) for unit tests of the standard operations. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log/logger.js';
import { NetconfError } from '../../../src/netconf/rpc-error.js';
import type { RpcErrorInfo } from '../../../src/netconf/rpc-error.js';
import type {
  OperationContext, OperationHandler, OperationRegistrar, ServerInfo, ServerSessionHandle,
} from '../../../src/netconf/server/operations.js';
import type { ConfigListener, StateProvider, StreamInfo, YangModuleInfo } from '../../../src/netconf/server/registry.js';
import { parseXml, serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import type { YangValidator } from '../../../src/yang/types.js';

export interface FakeSession extends ServerSessionHandle {
  /** the notifications sent, as elements (a text sent is parsed) */
  sent: XmlElement[];
  /** the notifications sent, as the text the session would write */
  texts: string[];
  end(): void;
}

export interface Fake {
  reg: OperationRegistrar;
  ops: Map<string, OperationHandler>;
  /** as the hello would list them (computed ones evaluated now) */
  readonly capabilities: string[];
  states: Array<{ ns: string; name: string; provider: StateProvider }>;
  streams: StreamInfo[];
  modules: YangModuleInfo[];
  notifyListeners: Array<(stream: string, event: XmlElement, t: Date) => Promise<void>>;
  datastore?: { getRunning(): XmlElement; onConfigChange(l: ConfigListener): void };
  server: ServerInfo;
  session(id?: number): FakeSession;
  /** run an operation given as XML text; returns the reply children or throws NetconfError */
  call(session: FakeSession, xml: string): Promise<XmlElement[] | 'ok'>;
  /** run and expect an rpc-error; returns its errors */
  fail(session: FakeSession, xml: string): Promise<RpcErrorInfo[]>;
  notify(stream: string, event: XmlElement, t?: Date): Promise<void>;
  dataDir: string;
  cleanup(): void;
  validator: { v: YangValidator | undefined };
}

export function createFake(options: { dataDir?: string; validator?: YangValidator } = {}): Fake {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'hsv-ops-'));
  const sessions: FakeSession[] = [];
  let nextId = 1;
  const fake: Partial<Fake> & { validator: { v: YangValidator | undefined } } = { validator: { v: options.validator } };
  const ops = new Map<string, OperationHandler>();
  const capabilities: Array<string | (() => string)> = [];
  const states: Fake['states'] = [];
  const streams: StreamInfo[] = [{ name: 'NETCONF', description: 'default', replaySupport: true }];
  const modules: YangModuleInfo[] = [];
  const notifyListeners: Fake['notifyListeners'] = [];
  const server: ServerInfo = {
    sessions: () => sessions.filter((s) => !s.signal.aborted),
    capabilities: () => capabilities.map((c) => (typeof c === 'function' ? c() : c)),
    startTime: new Date('2026-01-01T00:00:00Z'),
    counters: { inBadHellos: 1, inSessions: 2, droppedSessions: 0, inRpcs: 3, inBadRpcs: 0, outRpcErrors: 0, outNotifications: 0 },
    killSession: async (id) => {
      sessions.find((s) => s.id === id)?.end();
    },
  };
  const reg: OperationRegistrar = {
    addOperation(ns, name, handler) {
      const k = `${ns} ${name}`;
      if (ops.has(k)) throw new Error(`duplicate ${k}`);
      // a handler that answers at once (get-config) is called as the async ones are: a throw becomes a rejection
      ops.set(k, async (op, ctx) => handler(op, ctx));
    },
    addCapability: (uri) => void capabilities.push(uri),
    modules: () => [...modules],
    stateProviders: () => [...states],
    streams: () => [...streams],
    onNotify: (l) => void notifyListeners.push(l),
    setDatastore: (ds) => {
      fake.datastore = ds;
    },
    get validator() {
      return fake.validator.v;
    },
    dataDir,
  };
  const session = (id?: number): FakeSession => {
    const ac = new AbortController();
    const s: FakeSession = {
      id: id ?? nextId++, username: 'admin', transport: 'netconf-ssh', sourceHost: '127.0.0.1',
      loginTime: new Date('2026-01-01T00:00:01Z'),
      counters: { inRpcs: 1, inBadRpcs: 0, outRpcErrors: 0, outNotifications: 0 },
      base11: true, sent: [], texts: [], signal: ac.signal, attachments: new Map(),
      sendNotification(n) {
        this.sent.push(n);
        this.texts.push(serializeXml(n));
      },
      sendNotificationText(xml) {
        this.sent.push(parseXml(xml));
        this.texts.push(xml);
      },
      end: () => ac.abort(),
    };
    sessions.push(s);
    return s;
  };
  const call = async (s: FakeSession, xml: string): Promise<XmlElement[] | 'ok'> => {
    const op = parseXml(xml);
    const h = ops.get(`${op.ns} ${op.name}`);
    if (!h) throw new Error(`no operation ${op.ns} ${op.name}`);
    const ctx: OperationContext = { sessionId: s.id, username: s.username, signal: s.signal, log: silentLogger, session: s, server };
    return h(op, ctx);
  };
  const fail = async (s: FakeSession, xml: string): Promise<RpcErrorInfo[]> => {
    try {
      const r = await call(s, xml);
      throw new Error(`expected an rpc-error, got ${r === 'ok' ? 'ok' : r.map((e) => serializeXml(e)).join('')}`);
    } catch (e) {
      if (e instanceof NetconfError) return e.errors;
      throw e;
    }
  };
  Object.defineProperty(fake, 'capabilities', { get: () => server.capabilities(), enumerable: true });
  Object.assign(fake, {
    reg, ops, states, streams, modules, notifyListeners, server, session, call, fail, dataDir,
    notify: async (stream: string, event: XmlElement, t = new Date()) => {
      for (const l of notifyListeners) await l(stream, event, t);
    },
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  });
  return fake as Fake;
}

export const NC = 'urn:ietf:params:xml:ns:netconf:base:1.0';
export const rpc = (body: string): string => body.replace(/^<(\w[\w-]*)/, `<$1 xmlns="${NC}"`);
