/**
 * NETCONF over SSH, server side (RFC 6242 sections 3 and 6), hardened like OpenSSH's sshd:
 * - our own net.Server accepts TCP connections and hands them to ssh2 (Server.injectSocket). ssh2 reports a
 *   connection only after the client's identification line, so everything that must hold from accept is
 *   done here: the login grace time (LoginGraceTime: a socket that never sends its identification line or
 *   never authenticates is closed), the cap on connections and on unauthenticated connections
 *   (MaxStartups, as a hard cap), and the refusal of penalised sources (PerSourcePenalties,
 *   ./source-penalties.ts);
 * - user authentication (auth.ts): a failed attempt is answered after a delay that grows per source, is
 *   logged at warn with the remote address and port, and at most `maxAttempts` are allowed per connection
 *   (MaxAuthTries);
 * - at most `maxSessionsPerConnection` session channels per SSH connection (MaxSessions) and
 *   `maxSessionsPerUser` NETCONF sessions per user; only the `netconf` subsystem (shell, exec, pty and
 *   forwarding are refused);
 * - algorithms (SERVER_ALGORITHMS): curve25519 key exchange first, no NIST-curve or SHA-1 key exchange, ETM
 *   MACs only (no hmac-sha1*), compression none or zlib@openssh.com (after authentication) only;
 * - TCP_NODELAY on every accepted socket (without it ssh2 session setup measured 43.8 ms instead of 1.65 ms);
 * - a connection we end (its last session closed, too many failed logins, ssh2's own end) is destroyed when the
 *   client has not closed its side within `peerCloseMs` (../peer-close.ts): a client that never closes does not
 *   hold a half-closed socket, nor a place under `maxConnections`.
 * Each netconf channel (a Duplex) goes to the server core.
 */
import { createServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import ssh2 from '../ssh/ssh2.js';
import type { AuthContext, Connection, Server, ServerChannel, Session } from 'ssh2';
import type { Logger } from '../../log/logger.js';
import { createAuthenticator } from './auth.js';
import type { Authenticator, AuthOptions } from './auth.js';
import { SourcePenalties } from './source-penalties.js';
import type { SourcePenaltyOptions } from './source-penalties.js';
import { PEER_CLOSE_MS, destroyUnlessClosedAfterEnd, endSshConnection, sshSocketOf } from '../peer-close.js';

/** MACs without encrypt-then-MAC, for clients that have no ETM MAC (libssh2 < 1.11, e.g. Debian 12's yangcli) */
export const ENCRYPT_AND_MAC_MACS = ['hmac-sha2-256', 'hmac-sha2-512'] as const;
export const ETM_MACS = ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'] as const;
export type ServerMac = (typeof ETM_MACS)[number] | (typeof ENCRYPT_AND_MAC_MACS)[number];

/**
 * What the server offers (ssh-audit: no fail and no warn on these). Ciphers are ssh2's defaults (AES-GCM,
 * chacha20-poly1305, AES-CTR), all fine. Host key algorithms follow the host keys; ssh-rsa (SHA-1
 * signatures) is not in the list, but ssh2 adds it back for an RSA host key (see docs/security.md): use
 * Ed25519 host keys (the default).
 */
export const SERVER_ALGORITHMS = {
  kex: [
    'curve25519-sha256',
    'curve25519-sha256@libssh.org',
    'diffie-hellman-group16-sha512',
    'diffie-hellman-group18-sha512',
    'diffie-hellman-group-exchange-sha256',
    'diffie-hellman-group14-sha256',
  ],
  serverHostKey: ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256'],
  hmac: [...ETM_MACS] as ServerMac[],
  compress: ['none', 'zlib@openssh.com'],
} as const;

export interface SshChannelInfo {
  username: string;
  remoteAddress: string;
  remotePort: number;
  /** this channel's session is over: ends the SSH connection when no other netconf channel is open on it */
  endConnection(): void;
}

export interface SshHardeningOptions {
  /** time from TCP accept to successful authentication (LoginGraceTime); default 30 s */
  loginGraceMs?: number;
  /** connections not yet authenticated, counted from accept (MaxStartups, a hard cap); default 10 */
  maxUnauthenticated?: number;
  /** session channels open at once on one SSH connection (MaxSessions); default 4 */
  maxSessionsPerConnection?: number;
  /** NETCONF sessions open at once per user, over all connections; default 10 */
  maxSessionsPerUser?: number;
  /** per-source penalties after failed logins (source-penalties.ts); defaults there */
  penalties?: SourcePenaltyOptions;
  /** MACs offered; default the ETM ones only. hmac-sha2-256/-512 (encrypt-and-MAC) for old clients */
  macs?: ServerMac[];
  /** after we end a connection, the time the client has to close its side before the socket is destroyed; default PEER_CLOSE_MS (5 s) */
  peerCloseMs?: number;
}

export const SSH_HARDENING_DEFAULTS = {
  loginGraceMs: 30_000,
  maxUnauthenticated: 10,
  maxSessionsPerConnection: 4,
  maxSessionsPerUser: 10,
} as const;

export interface SshTransportOptions extends SshHardeningOptions {
  hostKeys: Array<string | Buffer>;
  auth: AuthOptions;
  log: Logger;
  /** concurrent SSH connections (authenticated or not), counted from accept; extra ones are closed at once */
  maxConnections: number;
  /** @deprecated the same as loginGraceMs (which wins when both are given) */
  authTimeoutMs?: number;
  /** whether a new netconf channel may open (session limit) */
  admit(): boolean;
  onChannel(channel: ServerChannel, info: SshChannelInfo): void;
  /** told of every failed login attempt (an audit trail); must not throw */
  onLoginFailed?(attempt: { username: string; method: string; remoteAddress: string; remotePort: number; attempts: number }): void;
}

interface ConnState {
  socket: Socket;
  remoteAddress: string;
  remotePort: number;
  log: Logger;
  authenticated: boolean;
  /** an authentication attempt failed on this connection */
  authFailed: boolean;
  graceExceeded: boolean;
  graceTimer: NodeJS.Timeout;
  client?: Connection;
  delayed: Set<NodeJS.Timeout>;
}

/** an SSH connection once ssh2 knows it: who logs in, failed attempts, its channels */
interface SshConn {
  st: ConnState;
  client: Connection;
  username: string;
  failures: number;
  sessionChannels: number;
  netconfChannels: number;
}

/**
 * Why a subsystem request is refused, or undefined: only netconf is served, at most maxPerUser NETCONF sessions
 * per user, and only while the server admits sessions (asked last).
 */
export function subsystemRefusal(name: string, userSessions: number, maxPerUser: number, admit: () => boolean): { level: 'info' | 'warn'; msg: string; limit?: number } | undefined {
  if (name !== 'netconf') return { level: 'info', msg: 'subsystem refused' };
  if (userSessions >= maxPerUser) return { level: 'warn', msg: 'netconf session refused: per-user limit', limit: maxPerUser };
  if (!admit()) return { level: 'warn', msg: 'netconf session refused: server session limit' };
  return undefined;
}

export class SshTransport {
  private readonly ssh: Server;
  private readonly tcp: NetServer;
  private readonly conns = new Set<ConnState>();
  private readonly bySocket = new WeakMap<Socket, ConnState>();
  private readonly perUser = new Map<string, number>();
  private readonly penalties: SourcePenalties;
  private readonly auth: Authenticator;
  private unauthenticated = 0;
  private listening = false;
  private refusedSinceLog = 0;
  private refusalLogAt = 0;
  private readonly loginGraceMs: number;
  private readonly maxUnauthenticated: number;
  private readonly maxPerConnection: number;
  private readonly maxPerUser: number;
  private readonly peerCloseMs: number;

  constructor(private readonly opts: SshTransportOptions) {
    this.loginGraceMs = opts.loginGraceMs ?? opts.authTimeoutMs ?? SSH_HARDENING_DEFAULTS.loginGraceMs;
    this.maxUnauthenticated = opts.maxUnauthenticated ?? SSH_HARDENING_DEFAULTS.maxUnauthenticated;
    this.maxPerConnection = opts.maxSessionsPerConnection ?? SSH_HARDENING_DEFAULTS.maxSessionsPerConnection;
    this.maxPerUser = opts.maxSessionsPerUser ?? SSH_HARDENING_DEFAULTS.maxSessionsPerUser;
    this.peerCloseMs = opts.peerCloseMs ?? PEER_CLOSE_MS;
    this.penalties = new SourcePenalties(opts.penalties);
    this.auth = createAuthenticator(opts.auth, opts.log);
    const macs = opts.macs && opts.macs.length > 0 ? opts.macs : SERVER_ALGORITHMS.hmac;
    for (const m of macs) {
      if (!(ETM_MACS as readonly string[]).includes(m) && !(ENCRYPT_AND_MAC_MACS as readonly string[]).includes(m)) throw new RangeError(`MAC not offered by this server: ${m}`);
    }
    this.ssh = new ssh2.Server({
      hostKeys: opts.hostKeys,
      ident: 'henb-sw-verify',
      algorithms: {
        kex: [...SERVER_ALGORITHMS.kex],
        serverHostKey: [...SERVER_ALGORITHMS.serverHostKey],
        hmac: [...macs],
        compress: [...SERVER_ALGORITHMS.compress],
      },
    }, (client, info) => this.onSshConnection(client, info.ip, info.port));
    this.ssh.on('error', (e: Error) => opts.log.error('ssh server error', { err: e }));
    this.tcp = createServer((socket) => this.onSocket(socket));
    this.tcp.on('error', (e: Error) => opts.log.error('ssh listener error', { err: e }));
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** connections accepted and not (yet) authenticated */
  get unauthenticatedCount(): number {
    return this.unauthenticated;
  }

  /**
   * NETCONF Call Home (RFC 8071 section 3.1, S3): run the SSH server role on a TCP connection that this side
   * opened to a listening NETCONF client. The connection gets the same hardening as an accepted one (login
   * grace time, caps, authentication, channel limits). False when it was refused (and destroyed).
   */
  acceptOutbound(socket: Socket): boolean {
    return this.onSocket(socket, true);
  }

  /** stopped: no new connection, accepted or outbound */
  private stopped = false;

  private onSocket(socket: Socket, outbound = false): boolean {
    socket.on('error', () => undefined); // a reset before or during the handshake; ssh2 reports its own
    const remoteAddress = socket.remoteAddress ?? '';
    const remotePort = socket.remotePort ?? 0;
    let refusal: string | undefined;
    if (this.stopped || (!outbound && !this.listening)) refusal = 'server closing';
    else if (this.conns.size >= this.opts.maxConnections) refusal = 'connection limit reached';
    else if (this.unauthenticated >= this.maxUnauthenticated) refusal = 'unauthenticated connection limit reached';
    else if (this.penalties.refusedForMs(remoteAddress) > 0) refusal = 'source penalised after failed logins';
    if (refusal !== undefined) {
      this.noteRefusal(refusal, remoteAddress, remotePort);
      socket.destroy();
      return false;
    }
    socket.setNoDelay(true);
    destroyUnlessClosedAfterEnd(socket, this.peerCloseMs);
    const log = this.opts.log.child({ remoteAddress, remotePort });
    const st: ConnState = {
      socket, remoteAddress, remotePort, log,
      authenticated: false, authFailed: false, graceExceeded: false, delayed: new Set(),
      graceTimer: setTimeout(() => {
        st.graceExceeded = true;
        log.warn('login grace time exceeded; closing', { graceMs: this.loginGraceMs, identified: st.client !== undefined });
        socket.destroy();
      }, this.loginGraceMs),
    };
    this.conns.add(st);
    this.bySocket.set(socket, st);
    this.unauthenticated++;
    socket.once('close', () => {
      clearTimeout(st.graceTimer);
      for (const t of st.delayed) clearTimeout(t);
      this.conns.delete(st);
      if (!st.authenticated) {
        this.unauthenticated--;
        if (st.graceExceeded) this.penalties.penalise(remoteAddress, 'grace-exceeded');
        else if (st.authFailed) this.penalties.penalise(remoteAddress, 'auth-fail');
      }
    });
    this.ssh.injectSocket(socket);
    return true;
  }

  /** refusals at accept: one warn line, then at most one summary every 10 s (a flood must not flood the log) */
  private noteRefusal(reason: string, remoteAddress: string, remotePort: number): void {
    const now = Date.now();
    if (now - this.refusalLogAt >= 10_000) {
      this.opts.log.warn('connection refused', { reason, remoteAddress, remotePort, ...(this.refusedSinceLog > 0 ? { alsoRefusedSinceLastLine: this.refusedSinceLog } : {}) });
      this.refusalLogAt = now;
      this.refusedSinceLog = 0;
    } else {
      this.refusedSinceLog++;
    }
  }

  private onSshConnection(client: Connection, ip: string, port: number): void {
    const socket = sshSocketOf(client);
    const st = socket ? this.bySocket.get(socket) : undefined;
    if (!st) {
      // not one of ours (cannot happen: every socket comes through onSocket)
      this.opts.log.error('ssh connection without an accepted socket; closing', { remoteAddress: ip, remotePort: port });
      client.on('error', () => undefined);
      endSshConnection(client, this.peerCloseMs);
      return;
    }
    st.client = client;
    const conn: SshConn = { st, client, username: '', failures: 0, sessionChannels: 0, netconfChannels: 0 };
    client.on('authentication', (ctx) => this.onAuthentication(ctx, conn));
    client.on('ready', () => this.onAuthenticated(conn));
    client.on('error', (e) => st.log.debug('ssh connection error', { err: e }));
  }

  /** one authentication attempt: a failure is answered after the source's delay, and ends the connection at maxAttempts */
  private onAuthentication(ctx: AuthContext, conn: SshConn): void {
    const { st } = conn;
    // ssh2 emits 'ready' from inside ctx.accept(): the name must be known before handle() runs
    conn.username = ctx.username;
    if (ctx.method === 'none') {
      this.auth.handle(ctx, st.log); // the method list: not an attempt
      return;
    }
    // hold the rejection back: a failed attempt is answered after the source's delay
    let held: Parameters<AuthContext['reject']> | undefined;
    const reject = ctx.reject.bind(ctx);
    (ctx as { reject: AuthContext['reject'] }).reject = (...args) => {
      held = args;
    };
    const r = this.auth.handle(ctx, st.log);
    if (held === undefined) return;
    if (r === 'query') {
      reject(...held);
      return;
    }
    const answer = held;
    this.onFailedAttempt(ctx, conn, () => reject(...answer));
  }

  private onFailedAttempt(ctx: AuthContext, conn: SshConn, answer: () => void): void {
    const { st } = conn;
    st.authFailed = true;
    conn.failures++;
    try {
      this.opts.onLoginFailed?.({ username: ctx.username, method: ctx.method, remoteAddress: st.remoteAddress, remotePort: st.remotePort, attempts: conn.failures });
    } catch {
      // an observer does not change the decision
    }
    const delay = this.penalties.failedAttempt(st.remoteAddress);
    if (conn.failures >= (this.opts.auth.maxAttempts ?? 6)) {
      st.log.warn('too many failed authentication attempts; closing', { username: ctx.username, attempts: conn.failures });
      endSshConnection(conn.client, this.peerCloseMs);
      return;
    }
    const t = setTimeout(() => {
      st.delayed.delete(t);
      if (!st.socket.destroyed) answer();
    }, delay);
    st.delayed.add(t);
  }

  private onAuthenticated(conn: SshConn): void {
    const { st } = conn;
    clearTimeout(st.graceTimer);
    st.authenticated = true;
    this.unauthenticated--;
    st.log.info('authenticated', { username: conn.username });
    conn.client.on('session', (accept, reject) => this.onSessionChannel(conn, accept, reject));
  }

  /** a session channel, within the per-connection limit; only its netconf subsystem is served */
  private onSessionChannel(conn: SshConn, accept: (() => Session) | undefined, reject: (() => void) | undefined): void {
    if (conn.sessionChannels >= this.maxPerConnection) {
      conn.st.log.warn('session channel refused: per-connection limit', { username: conn.username, limit: this.maxPerConnection });
      reject?.();
      return;
    }
    const session = accept?.();
    if (!session) return;
    conn.sessionChannels++;
    let sessionClosed = false;
    session.once('close', () => {
      if (sessionClosed) return;
      sessionClosed = true;
      conn.sessionChannels--;
    });
    session.on('subsystem', (acceptSub, rejectSub, sub) => this.onSubsystem(conn, sub.name, acceptSub, rejectSub));
  }

  private onSubsystem(conn: SshConn, name: string, acceptSub: (() => ServerChannel) | undefined, rejectSub: (() => void) | undefined): void {
    const { username, st } = conn;
    const userCount = this.perUser.get(username) ?? 0;
    const refusal = subsystemRefusal(name, userCount, this.maxPerUser, () => this.opts.admit());
    if (refusal !== undefined) {
      if (refusal.level === 'info') st.log.info(refusal.msg, { name });
      else st.log.warn(refusal.msg, { username, ...(refusal.limit !== undefined ? { limit: refusal.limit } : {}) });
      rejectSub?.();
      return;
    }
    const channel = acceptSub?.();
    if (!channel) return;
    this.perUser.set(username, userCount + 1);
    conn.netconfChannels++;
    let counted = true;
    const uncount = (): void => {
      if (!counted) return;
      counted = false;
      const n = (this.perUser.get(username) ?? 1) - 1;
      if (n <= 0) this.perUser.delete(username);
      else this.perUser.set(username, n);
    };
    channel.once('close', uncount);
    // a paused channel never sees 'end', so it would never close: close it with its connection
    conn.client.once('close', () => {
      uncount();
      channel.destroy();
    });
    let ended = false;
    const endConnection = (): void => {
      if (ended) return;
      ended = true;
      uncount();
      if (--conn.netconfChannels === 0) endSshConnection(conn.client, this.peerCloseMs);
    };
    this.opts.onChannel(channel, { username, remoteAddress: st.remoteAddress, remotePort: st.remotePort, endConnection });
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.tcp.once('error', onError);
      this.tcp.listen(port, host, () => {
        this.tcp.off('error', onError);
        this.listening = true;
        const addr = this.tcp.address() as { address: string; port: number };
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /** stop accepting connections */
  stopListening(): Promise<void> {
    this.stopped = true;
    if (!this.listening) return Promise.resolve();
    this.listening = false;
    return new Promise((resolve) => this.tcp.close(() => resolve()));
  }

  /** end every connection; resolves when all are closed (or after graceMs, destroying the rest) */
  async endConnections(graceMs: number): Promise<void> {
    const all = [...this.conns];
    await Promise.all(all.map((st) => new Promise<void>((resolve) => {
      if (st.socket.destroyed) return resolve();
      const t = setTimeout(() => {
        st.socket.destroy();
        resolve();
      }, graceMs);
      st.socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      if (st.client && st.authenticated) st.client.end();
      else st.socket.destroy(); // not logged in: nothing to finish
    })));
  }
}
