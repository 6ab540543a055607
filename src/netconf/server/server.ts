/**
 * createNetconfServer: the NETCONF server core (RFC 6241 over RFC 6242 SSH). It ties together the SSH
 * transport, one ServerSession per `netconf` channel, the registry (plugins and standard-operation
 * modules), dispatch, the base operations (close-session, kill-session) and server-wide bookkeeping
 * for ietf-netconf-monitoring (RFC 6022 sessions and statistics).
 *
 * close() is close-session for everyone: stop accepting, let requests in progress finish (bounded by
 * limits.closeGraceMs), end every session and SSH connection, then run the modules' close hooks.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { Logger } from '../../log/logger.js';
import { silentLogger } from '../../log/logger.js';
import type { YangValidator } from '../../yang/index.js';
import type { XmlElement } from '../xml/index.js';
import { serializeXml, textOf } from '../xml/index.js';
import { resolveParseLimits } from '../xml/index.js';
import type { ParseLimits } from '../xml/index.js';
import { DEFAULT_CLOSE_GRACE_MS, ServerSession } from '../session/index.js';
import { SessionError } from '../session/index.js';
import type { AuthOptions } from './auth.js';
import { registerBaseOperations } from './base-ops.js';
import { createDispatcher, isPromise } from './dispatch.js';
import type { DispatchResult } from './dispatch.js';
import { HostRegistry } from './host-registry.js';
import { hostKeyFingerprint, loadOrCreateHostKey } from './host-keys.js';
import type { OperationRegistrar, ServerInfo, ServerSessionHandle, SessionCounters } from './operations.js';
import type { NetconfRegistry } from './registry.js';
import { SshTransport } from './ssh-transport.js';
import type { SshHardeningOptions } from './ssh-transport.js';
import { TlsTransport } from './tls-transport.js';
import { NETCONF_TLS_PORT, parseCertToName } from '../tls/index.js';
import type { CertToNameEntry } from '../tls/index.js';

/** NETCONF over TLS (RFC 7589): our certificate, key, the CAs clients chain to, and cert-to-name (RFC 7407) */
export interface NetconfTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer;
  certToName: CertToNameEntry[];
  /** handshakes in progress; default 10 */
  maxHandshaking?: number;
}

/** idle timeout when none is configured: 1 hour (a quiet subscriber reconnects and replays from its startTime) */
export const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;

export interface NetconfServerLimits {
  /** concurrent NETCONF sessions; default 100 */
  maxSessions?: number;
  /** concurrent SSH connections, authenticated or not; default 2 x maxSessions */
  maxConnections?: number;
  /** time for the client hello; default 30 s */
  helloTimeoutMs?: number;
  /** TCP accept to authenticated (the login grace time); default 30 s */
  authTimeoutMs?: number;
  /** connections not yet authenticated, counted from accept; default 10 */
  maxUnauthenticated?: number;
  /** session channels per SSH connection; default 4 */
  maxSessionsPerConnection?: number;
  /** NETCONF sessions per user over SSH; default 10 */
  maxSessionsPerUser?: number;
  /** a session without traffic (either way) this long is closed; 0 = never; default 1 h */
  idleTimeoutMs?: number;
  /** largest message accepted; default 16 MiB */
  maxMessageBytes?: number;
  /** requests queued per session before its input is paused; default 64 */
  maxPendingPerSession?: number;
  /**
   * how long an orderly end of a session (close(), close-session, a client that ends its side) waits for the request
   * in progress, and then for the transport to close, before tearing it down; default 5 s (DEFAULT_CLOSE_GRACE_MS)
   */
  closeGraceMs?: number;
  /**
   * after we end an SSH or TLS connection (its last session closed), how long the client has to close its side
   * before the socket is destroyed; default PEER_CLOSE_MS, 5 s (src/netconf/peer-close.ts)
   */
  peerCloseMs?: number;
  /**
   * XML limits checked while every message, hello included, is parsed (depth, attributes, namespace
   * declarations per element and per message, prefixes in scope); defaults: DEFAULT_PARSE_LIMITS
   */
  xml?: ParseLimits;
}

export interface NetconfServerOptions {
  /** private host keys (PEM or OpenSSH). Default: loadOrCreateHostKey(dataDir) */
  hostKeys?: Array<string | Buffer>;
  auth: AuthOptions;
  validator?: YangValidator;
  log?: Logger;
  /** persistent state (running config, event log, host key); default a new temporary directory */
  dataDir?: string;
  limits?: NetconfServerLimits;
  /** SSH hardening beyond `limits`: per-source penalties, MACs offered (ssh-transport.ts) */
  ssh?: Pick<SshHardeningOptions, 'penalties' | 'macs'>;
  /** NETCONF over TLS, served by listenTls() */
  tls?: NetconfTlsOptions;
  /** operation modules, e.g. (reg) => registerStandardOperations(reg) */
  operations?: Array<(reg: OperationRegistrar) => unknown>;
  /** told of sessions, answered RPCs and failed logins (metrics); must not throw */
  observer?: ServerObserver;
}

/** What the server tells an observer (the command line feeds its metrics from it). */
export interface ServerObserver {
  sessionOpened?(transport: string): void;
  sessionClosed?(transport: string): void;
  /** an RPC was answered: its operation's local name and the first rpc-error's error-tag (undefined for ok/data) */
  rpcAnswered?(operation: string, errorTag: string | undefined): void;
  /** an SSH authentication attempt failed (method: password, publickey, ...) */
  loginFailed?(method: string): void;
}

export interface NetconfServer {
  readonly registry: NetconfRegistry;
  /** the OperationRegistrar view (for modules added after creation, before listen) */
  readonly registrar: OperationRegistrar;
  readonly info: ServerInfo;
  /** SHA256 fingerprints of the host keys (what clients pin) */
  readonly hostKeyFingerprints: string[];
  readonly dataDir: string;
  listen(host?: string, port?: number): Promise<{ host: string; port: number }>;
  /** NETCONF over TLS (needs `tls` in the options); default port 6513 */
  listenTls(host?: string, port?: number): Promise<{ host: string; port: number }>;
  /**
   * NETCONF Call Home (RFC 8071): serve NETCONF, in the SSH server role (section 3.1, default) or the TLS server
   * role (section 4, needs `tls` in the options), on a TCP connection this side opened to a NETCONF client's
   * call-home port. False when refused (server closing, limits).
   */
  callHome(socket: Socket, transport?: 'ssh' | 'tls'): boolean;
  /** accept a session on an already-authenticated byte stream (tests, other transports) */
  acceptStream(stream: Duplex, info: { username: string; sourceHost?: string; transport?: string }): ServerSessionHandle | undefined;
  sessions(): ServerSessionHandle[];
  close(): Promise<void>;
}

class SessionHandle implements ServerSessionHandle {
  readonly loginTime = new Date();
  readonly counters: SessionCounters = { inRpcs: 0, inBadRpcs: 0, outRpcErrors: 0, outNotifications: 0 };
  readonly attachments = new Map<string, unknown>();
  session!: ServerSession;
  constructor(
    readonly id: number,
    readonly username: string,
    readonly transport: string,
    readonly sourceHost: string,
    private readonly globalCounters: SessionCounters,
  ) {}
  get base11(): boolean {
    return this.session.base11;
  }
  get signal(): AbortSignal {
    return this.session.signal;
  }
  sendNotification(notification: XmlElement): void {
    this.sendNotificationText(serializeXml(notification));
  }
  sendNotificationText(xml: string): void {
    if (this.session.sendMessage(xml)) {
      this.counters.outNotifications++;
      this.globalCounters.outNotifications++;
    }
  }
}

/** the error-tag of a reply's first rpc-error, or undefined for ok / data (what an observer counts) */
export function firstErrorTag(reply: { body: Array<XmlElement | string> }): string | undefined {
  const first = reply.body[0];
  if (typeof first === 'string' || first?.name !== 'rpc-error') return undefined;
  const tag = first.children.find((c): c is XmlElement => typeof c !== 'string' && c.name === 'error-tag');
  return tag !== undefined ? textOf(tag).trim() : undefined;
}

export function createNetconfServer(options: NetconfServerOptions): NetconfServer {
  const core = new ServerCore(options);
  return {
    registry: core.registry,
    registrar: core.registry,
    info: core.info,
    hostKeyFingerprints: core.hostKeyFingerprints,
    dataDir: core.dataDir,
    acceptStream: (stream, who) => core.acceptStream(stream, who),
    sessions: () => core.info.sessions(),
    listen: (host, port) => core.listen(host, port),
    listenTls: (host, port) => core.listenTls(host, port),
    callHome: (socket, transport) => core.callHome(socket, transport),
    close: () => core.close(),
  };
}

/**
 * tells the observer of an answer, given at once or to come. An observer must not throw; one that does changes
 * neither the reply nor the process (before, a throw on an awaited answer was an unhandled rejection)
 */
function tellObserver(observer: ServerObserver, operation: string, answered: DispatchResult | Promise<DispatchResult>): void {
  const tell = (r: DispatchResult): void => {
    try {
      observer.rpcAnswered?.(operation, firstErrorTag(r));
    } catch {
      // ignored: see above
    }
  };
  if (isPromise(answered)) void answered.then(tell, () => undefined);
  else tell(answered);
}

type AcceptInfo = { username: string; sourceHost?: string; transport?: string; endConnection?: () => void };

/**
 * The server: the registry and dispatch, the live sessions with their counters (RFC 6022), and the SSH and TLS
 * transports (made on first use) that hand it authenticated streams.
 */
class ServerCore {
  readonly registry: HostRegistry;
  readonly info: ServerInfo;
  readonly hostKeyFingerprints: string[];
  readonly dataDir: string;
  private readonly log: Logger;
  private readonly limits: NetconfServerLimits;
  private readonly maxSessions: number;
  private readonly closeGraceMs: number;
  private readonly xmlLimits: ReturnType<typeof resolveParseLimits>;
  private readonly hostKeys: Array<string | Buffer>;
  private readonly certToName: ReturnType<typeof parseCertToName>;
  private readonly live = new Map<number, SessionHandle>();
  private readonly counters = { inBadHellos: 0, inSessions: 0, droppedSessions: 0, inRpcs: 0, inBadRpcs: 0, outRpcErrors: 0, outNotifications: 0 };
  private readonly dispatch: ReturnType<typeof createDispatcher>;
  private nextSessionId = 1;
  private closing = false;
  private listening = false;
  private tlsListening = false;
  private ssh: SshTransport | undefined;
  private tls: TlsTransport | undefined;

  constructor(private readonly options: NetconfServerOptions) {
    this.log = options.log ?? silentLogger;
    this.limits = options.limits ?? {};
    this.maxSessions = this.limits.maxSessions ?? 100;
    this.closeGraceMs = this.limits.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
    // validated here, so that a bad limit fails at creation, not at the first message
    this.xmlLimits = resolveParseLimits(this.limits.xml);
    this.dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'henb-sw-verify-'));
    this.hostKeys = options.hostKeys && options.hostKeys.length > 0 ? options.hostKeys : [loadOrCreateHostKey(this.dataDir)];
    this.hostKeyFingerprints = this.hostKeys.map((k) => hostKeyFingerprint(k));
    this.registry = new HostRegistry(options.validator, this.dataDir);
    this.info = this.serverInfo();
    for (const register of options.operations ?? []) register(this.registry);
    registerBaseOperations(this.registry);
    this.dispatch = createDispatcher(this.registry, this.info, options.validator, this.log);
    // parsed here, so that a bad cert-to-name list fails at creation
    this.certToName = options.tls ? parseCertToName(options.tls.certToName, 'tls.cert-to-name') : [];
  }

  private serverInfo(): ServerInfo {
    const { live, log, registry } = this;
    return {
      startTime: new Date(),
      counters: this.counters,
      sessions: () => [...live.values()],
      capabilities: () => registry.capabilities(),
      async killSession(id, reason) {
        const h = live.get(id);
        if (!h) return;
        log.info('killing session', { session: id, reason });
        h.session.kill(new SessionError('ERR_SESSION_KILLED', reason));
        await h.session.conn.whenClosed();
      },
    };
  }

  private admits(): boolean {
    return !this.closing && this.live.size < this.maxSessions;
  }

  acceptStream(stream: Duplex, who: AcceptInfo): ServerSessionHandle | undefined {
    if (!this.admits()) {
      stream.destroy();
      return undefined;
    }
    this.registry.markServing();
    const id = this.nextSessionId++;
    const h = new SessionHandle(id, who.username, who.transport ?? 'netconf-ssh', who.sourceHost ?? '', this.counters);
    h.session = new ServerSession(stream, this.sessionOptions(h, who));
    this.live.set(id, h);
    return h;
  }

  /** a session's settings and what it reports: dispatch, counters (per session and server-wide), the observer, the log */
  private sessionOptions(h: SessionHandle, who: AcceptInfo): ConstructorParameters<typeof ServerSession>[1] {
    const { counters, limits, options: { observer } } = this;
    const slog = this.log.child({ session: h.id, username: who.username });
    const target = { handle: h, log: slog, closeAfterReply: () => h.session.closeAfterReply() };
    let opened = false;
    return {
      sessionId: h.id,
      capabilities: this.registry.capabilities(),
      helloTimeoutMs: limits.helloTimeoutMs ?? 30_000,
      idleTimeoutMs: limits.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      maxMessageBytes: limits.maxMessageBytes ?? 16 * 1024 * 1024,
      maxPending: limits.maxPendingPerSession ?? 64,
      parseLimits: this.xmlLimits,
      closeGraceMs: this.closeGraceMs,
      handleRpc: (_rpc, op) => {
        h.counters.inRpcs++;
        counters.inRpcs++;
        const answered = this.dispatch(op, target);
        if (observer?.rpcAnswered) tellObserver(observer, op.name, answered);
        return answered;
      },
      onEstablished: (caps) => {
        counters.inSessions++;
        opened = true;
        observer?.sessionOpened?.(h.transport);
        slog.info('session established', { base11: h.session.base11, clientCapabilities: caps.length });
      },
      onBadHello: (e) => {
        counters.inBadHellos++;
        slog.info('bad hello', { err: e });
      },
      onBadRpc: (e) => {
        h.counters.inBadRpcs++;
        counters.inBadRpcs++;
        slog.info('bad rpc', { err: e });
      },
      onRpcErrorSent: () => {
        h.counters.outRpcErrors++;
        counters.outRpcErrors++;
      },
      onClose: (err) => {
        this.live.delete(h.id);
        if (opened) observer?.sessionClosed?.(h.transport);
        if (err && h.session.established && !(err instanceof SessionError && err.code === 'ERR_SESSION_KILLED')) counters.droppedSessions++;
        slog.info('session closed', err ? { reason: (err as { code?: string }).code ?? err.message } : {});
        who.endConnection?.();
      },
    };
  }

  private sshTransport(): SshTransport {
    const { limits, options } = this;
    this.ssh ??= new SshTransport({
      hostKeys: this.hostKeys,
      auth: options.auth,
      log: this.log,
      maxConnections: limits.maxConnections ?? this.maxSessions * 2,
      loginGraceMs: limits.authTimeoutMs ?? 30_000,
      ...(limits.maxUnauthenticated !== undefined ? { maxUnauthenticated: limits.maxUnauthenticated } : {}),
      ...(limits.maxSessionsPerConnection !== undefined ? { maxSessionsPerConnection: limits.maxSessionsPerConnection } : {}),
      ...(limits.maxSessionsPerUser !== undefined ? { maxSessionsPerUser: limits.maxSessionsPerUser } : {}),
      ...(limits.peerCloseMs !== undefined ? { peerCloseMs: limits.peerCloseMs } : {}),
      ...(options.ssh?.penalties ? { penalties: options.ssh.penalties } : {}),
      ...(options.ssh?.macs ? { macs: options.ssh.macs } : {}),
      admit: () => this.admits(),
      onChannel: (channel, ci) => {
        this.acceptStream(channel, { username: ci.username, sourceHost: ci.remoteAddress, endConnection: ci.endConnection });
      },
      onLoginFailed: (a) => {
        options.observer?.loginFailed?.(a.method);
        this.registry.emitAudit({
          action: 'login-failed', actor: `ssh:${a.remoteAddress}:${a.remotePort}`, object: a.username,
          details: { method: a.method, attempt: a.attempts },
        });
      },
    });
    return this.ssh;
  }

  private tlsTransport(tls: NetconfTlsOptions): TlsTransport {
    const { limits } = this;
    this.tls ??= new TlsTransport({
      cert: tls.cert,
      key: tls.key,
      ca: tls.ca,
      certToName: this.certToName,
      log: this.log,
      maxConnections: limits.maxConnections ?? this.maxSessions * 2,
      handshakeTimeoutMs: limits.authTimeoutMs ?? 30_000,
      ...(tls.maxHandshaking !== undefined ? { maxHandshaking: tls.maxHandshaking } : limits.maxUnauthenticated !== undefined ? { maxHandshaking: limits.maxUnauthenticated } : {}),
      ...(limits.maxSessionsPerUser !== undefined ? { maxSessionsPerUser: limits.maxSessionsPerUser } : {}),
      ...(limits.peerCloseMs !== undefined ? { peerCloseMs: limits.peerCloseMs } : {}),
      admit: () => this.admits(),
      onSession: (socket, ti) => {
        this.acceptStream(socket, { username: ti.username, sourceHost: ti.remoteAddress, transport: 'netconf-tls', endConnection: ti.endConnection });
      },
      onLoginFailed: (a) => {
        this.options.observer?.loginFailed?.('tls-certificate');
        this.registry.emitAudit({
          action: 'login-failed', actor: `tls:${a.remoteAddress}:${a.remotePort}`, object: a.subject ?? '(no client certificate)',
          details: { transport: 'tls', reason: a.reason, ...(a.fingerprint !== undefined ? { fingerprint: a.fingerprint } : {}) },
        });
      },
    });
    return this.tls;
  }

  async listen(host = '127.0.0.1', port = 830): Promise<{ host: string; port: number }> {
    if (this.listening) throw new Error('already listening');
    this.listening = true;
    this.registry.markServing();
    const addr = await this.sshTransport().listen(host, port);
    this.log.info('NETCONF server listening', { host: addr.host, port: addr.port, hostKeys: this.hostKeyFingerprints });
    return addr;
  }

  async listenTls(host = '127.0.0.1', port = NETCONF_TLS_PORT): Promise<{ host: string; port: number }> {
    if (!this.options.tls) throw new Error('no tls options');
    if (this.tlsListening) throw new Error('already listening on TLS');
    this.tlsListening = true;
    this.registry.markServing();
    const addr = await this.tlsTransport(this.options.tls).listen(host, port);
    this.log.info('NETCONF over TLS listening', { host: addr.host, port: addr.port });
    return addr;
  }

  callHome(socket: Socket, transport: 'ssh' | 'tls' = 'ssh'): boolean {
    if (this.closing || (transport === 'tls' && !this.options.tls)) {
      socket.destroy();
      return false;
    }
    this.registry.markServing();
    return transport === 'tls' ? this.tlsTransport(this.options.tls!).acceptOutbound(socket) : this.sshTransport().acceptOutbound(socket);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const stopped = this.ssh?.stopListening();
    const tlsStopped = this.tls?.stopListening();
    // each session closes with its closeGraceMs (sessionOptions), as close-session and a client's end do
    await Promise.all([...this.live.values()].map((h) => h.session.close()));
    await this.ssh?.endConnections(this.closeGraceMs);
    await this.tls?.endConnections(this.closeGraceMs);
    await stopped;
    await tlsStopped;
    await this.registry.runCloseHooks((e) => this.log.error('close hook failed', { err: e as Error }));
  }
}
