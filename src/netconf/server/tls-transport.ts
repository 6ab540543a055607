/**
 * NETCONF over TLS, server side (RFC 7589), with node:tls (OpenSSL):
 * - mutual X.509 authentication (section 5): the client must present a certificate that chains to one of
 *   our trusted CAs (`ca`) and is valid now; anything else fails the handshake (no certificate, an
 *   expired one, an unknown CA), logged at warn with the source and OpenSSL's reason;
 * - the client's identity (section 7): the RFC 7407 cert-to-name list maps the certificate to a NETCONF
 *   username (../tls/cert-to-name.ts); when no entry gives one, the connection is closed before any
 *   NETCONF message is read. The name then goes through the same NACM groups as an SSH login;
 * - TLS 1.3 preferred, 1.2 allowed (../tls/settings.ts); session tickets (TLS 1.3 resumption) are node's
 *   default, and a resumed session keeps the client certificate it was established with, which is mapped
 *   again on every connection (a changed cert-to-name list applies at once);
 * - framing (section 4): the TLS stream is the session's byte stream; the session layer sends end-of-message
 *   framing until both hellos list base:1.1, then chunked, exactly as over SSH;
 * - limits: connections (authenticated or not), handshakes in progress, the handshake time (login grace)
 *   and NETCONF sessions per user, like the SSH transport; TCP_NODELAY on every socket;
 * - a connection we end (close-session: the session ends the TLS socket; `endConnection`) is destroyed when the
 *   client has not closed its side within `peerCloseMs` (../peer-close.ts).
 *
 * Cost per connection: the certificates are read as the connection's own X509Certificate objects (no second
 * parse), and the chain check and cert-to-name mapping of a certificate chain already seen is remembered (by
 * the SHA-256s of the certificates sent, up to 256 chains; the list and the trusted CAs are fixed for the
 * transport's life): a client that connects again costs no signature verification. The handshake's own
 * verification (OpenSSL: chain to `ca`, validity now) runs on every full handshake regardless.
 */
import type { X509Certificate } from 'node:crypto';
import { createServer } from 'node:tls';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Logger } from '../../log/logger.js';
import { TLS_VERSIONS, certificatesOfPem, mapCertificate, sentCertificates, verifiedChain } from '../tls/index.js';
import type { CertMapping, CertToNameRule } from '../tls/index.js';
import { PEER_CLOSE_MS, destroyUnlessClosedAfterEnd, endSocket } from '../peer-close.js';

/** chains whose mapping is remembered */
const MAPPINGS_KEPT = 256;

export interface TlsTransportOptions {
  /** our certificate chain (PEM) */
  cert: string | Buffer;
  /** our private key (PEM) */
  key: string | Buffer;
  /** the CA certificates client certificates must chain to (PEM) */
  ca: string | Buffer;
  /** RFC 7407 cert-to-name, parsed (parseCertToName) */
  certToName: CertToNameRule[];
  log: Logger;
  /** concurrent TLS connections, counted from accept */
  maxConnections: number;
  /** handshakes in progress (the counterpart of SSH's MaxStartups); default 10 */
  maxHandshaking?: number;
  /** TCP accept to a mapped user; default 30 s */
  handshakeTimeoutMs?: number;
  /** NETCONF sessions open at once per user; default 10 */
  maxSessionsPerUser?: number;
  /** after we end a connection, the time the client has to close its side before the socket is destroyed; default PEER_CLOSE_MS (5 s) */
  peerCloseMs?: number;
  /** whether a new session may start (server session limit) */
  admit(): boolean;
  onSession(socket: TLSSocket, info: TlsSessionInfo): void;
  /** told of every refused client certificate (an audit trail); must not throw */
  onLoginFailed?(attempt: { reason: string; subject?: string; fingerprint?: string; remoteAddress: string; remotePort: number }): void;
}

export interface TlsSessionInfo {
  username: string;
  remoteAddress: string;
  remotePort: number;
  /** the cert-to-name entry that gave the name, and the client certificate's SHA-256 (for the log) */
  entry: number;
  fingerprint: string;
  protocol: string;
  resumed: boolean;
  /** this connection's session is over: end it (the socket is destroyed if the client does not close within peerCloseMs) */
  endConnection(): void;
}

export class TlsTransport {
  private readonly server: TlsServer;
  /** accepted TCP sockets */
  private readonly sockets = new Set<Socket>();
  /** TLS sockets past the handshake */
  private readonly secure = new Set<TLSSocket>();
  private readonly perUser = new Map<string, number>();
  private readonly trusted: X509Certificate[];
  /** TLS connections past the handshake (mapped or being closed) */
  private established = 0;
  private listening = false;
  /** stopped for good (server closing): no outbound connection either */
  private stopped = false;
  /** TCP connections this side opened (NETCONF Call Home over TLS), served although not listening */
  private readonly outbound = new WeakSet<Socket>();
  private readonly maxHandshaking: number;
  private readonly maxPerUser: number;
  private readonly peerCloseMs: number;
  /** cert-to-name result (or none) by the SHA-256s of the certificates sent, least recently used first */
  private readonly mappings = new Map<string, CertMapping | null>();

  constructor(private readonly opts: TlsTransportOptions) {
    this.maxHandshaking = opts.maxHandshaking ?? 10;
    this.maxPerUser = opts.maxSessionsPerUser ?? 10;
    this.peerCloseMs = opts.peerCloseMs ?? PEER_CLOSE_MS;
    this.trusted = certificatesOfPem(opts.ca);
    if (this.trusted.length === 0) throw new RangeError('tls: ca holds no certificate');
    this.server = createServer({
      cert: opts.cert,
      key: opts.key,
      ca: opts.ca,
      requestCert: true,
      // node:tls verifies the client's chain during the handshake either way and, with rejectUnauthorized,
      // only destroys the socket afterwards without saying why; checked in onSecure instead, where
      // authorizationError names the reason (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE...) for the log.
      // Nothing is read from a connection that is not authorized.
      rejectUnauthorized: false,
      ...TLS_VERSIONS,
      handshakeTimeout: opts.handshakeTimeoutMs ?? 30_000,
    });
    this.server.on('connection', (socket: Socket) => this.onTcp(socket));
    this.server.on('secureConnection', (socket: TLSSocket) => this.onSecure(socket));
    this.server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      opts.log.warn('TLS handshake failed', { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, reason: err.code ?? err.message });
    });
    this.server.on('error', (e: Error) => opts.log.error('tls listener error', { err: e }));
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  private onTcp(socket: Socket): void {
    socket.on('error', () => undefined);
    let refusal: string | undefined;
    if (this.stopped || (!this.listening && !this.outbound.has(socket))) refusal = 'server closing';
    else if (this.sockets.size >= this.opts.maxConnections) refusal = 'connection limit reached';
    else if (this.handshakingCount >= this.maxHandshaking) refusal = 'handshake limit reached';
    if (refusal !== undefined) {
      this.opts.log.warn('TLS connection refused', { reason: refusal, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort });
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** connections accepted whose handshake (and mapping) has not finished */
  get handshakingCount(): number {
    return this.sockets.size - this.established;
  }

  private loginFailed(socket: TLSSocket, reason: string, leaf: X509Certificate | undefined): void {
    try {
      this.opts.onLoginFailed?.({
        reason, remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0,
        ...(leaf ? { subject: leaf.subject.replace(/\n/g, ', '), fingerprint: leaf.fingerprint256 } : {}),
      });
    } catch {
      // an observer does not change the decision
    }
  }

  /** a connection past its handshake: counted until it closes, and destroyed when we ended it and the client does not close */
  private trackSecure(socket: TLSSocket): void {
    this.established++;
    this.secure.add(socket);
    socket.once('close', () => {
      this.established--;
      this.secure.delete(socket);
    });
    socket.on('error', (e: Error) => this.opts.log.debug('tls connection error', { err: e }));
    destroyUnlessClosedAfterEnd(socket, this.peerCloseMs);
  }

  private onSecure(socket: TLSSocket): void {
    this.trackSecure(socket);
    const log = this.opts.log.child({ remoteAddress: socket.remoteAddress, remotePort: socket.remotePort });
    const sent = sentCertificates(socket);
    const leaf = sent[0];
    if (!leaf || !socket.authorized) {
      const reason = leaf ? String(socket.authorizationError ?? 'not authorized') : 'no client certificate';
      log.warn('TLS client certificate refused; closing', { reason, ...(leaf ? { subject: leaf.subject.replace(/\n/g, ', '), fingerprint: leaf.fingerprint256 } : {}) });
      this.loginFailed(socket, reason, leaf);
      socket.destroy();
      return;
    }
    const mapped = this.mapped(sent);
    const fingerprint = leaf.fingerprint256;
    if (!mapped) {
      log.warn('TLS client certificate maps to no user (cert-to-name); closing', { subject: leaf.subject.replace(/\n/g, ', '), fingerprint });
      this.loginFailed(socket, 'maps to no user (cert-to-name)', leaf);
      socket.destroy();
      return;
    }
    const { username } = mapped;
    const userCount = this.perUser.get(username) ?? 0;
    if (userCount >= this.maxPerUser) {
      log.warn('netconf session refused: per-user limit', { username, limit: this.maxPerUser });
      socket.destroy();
      return;
    }
    if (!this.opts.admit()) {
      log.warn('netconf session refused: server session limit', { username });
      socket.destroy();
      return;
    }
    this.perUser.set(username, userCount + 1);
    socket.once('close', () => {
      const n = (this.perUser.get(username) ?? 1) - 1;
      if (n <= 0) this.perUser.delete(username);
      else this.perUser.set(username, n);
    });
    const protocol = socket.getProtocol() ?? '';
    const resumed = socket.isSessionReused();
    log.info('authenticated', { username, transport: 'tls', certToNameEntry: mapped.entry, fingerprint, protocol, resumed });
    this.opts.onSession(socket, {
      username, remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0, entry: mapped.entry, fingerprint, protocol, resumed,
      endConnection: () => endSocket(socket, this.peerCloseMs),
    });
  }

  /** the user a certificate chain maps to (remembered per chain: the rules and trusted CAs do not change) */
  private mapped(sent: X509Certificate[]): CertMapping | undefined {
    const key = sent.map((c) => c.fingerprint256).join('/');
    let m = this.mappings.get(key);
    if (m !== undefined) {
      this.mappings.delete(key);
    } else {
      // each link checked by signature: cert-to-name may match a CA fingerprint only on a real chain
      m = mapCertificate(this.opts.certToName, verifiedChain(sent[0]!, [...this.trusted, ...sent.slice(1)])) ?? null;
    }
    this.mappings.set(key, m);
    if (this.mappings.size > MAPPINGS_KEPT) this.mappings.delete(this.mappings.keys().next().value!);
    return m ?? undefined;
  }

  /**
   * NETCONF Call Home over TLS (RFC 8071 section 4): serve, in the TLS SERVER role, a TCP connection this side
   * opened to a NETCONF client's call-home port (the client starts the TLS handshake on it). The same checks as
   * an accepted connection (client certificate, cert-to-name, limits). False when refused at once.
   */
  acceptOutbound(socket: Socket): boolean {
    this.outbound.add(socket);
    this.server.emit('connection', socket);
    return !socket.destroyed;
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.listening = true;
        const addr = this.server.address() as { address: string; port: number };
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  stopListening(): Promise<void> {
    this.stopped = true;
    if (!this.listening) return Promise.resolve();
    this.listening = false;
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** end every connection; resolves when all are closed (or after graceMs, destroying the rest) */
  async endConnections(graceMs: number): Promise<void> {
    // a TLS connection ends with close_notify; one still in its handshake is just closed (node:tls keeps
    // the accepted TCP socket as the TLS socket's _parent)
    const parents = new Set([...this.secure].map((t) => (t as unknown as { _parent?: Socket })._parent));
    for (const raw of this.sockets) if (!parents.has(raw)) raw.destroy();
    await Promise.all([...this.secure].map((s) => new Promise<void>((resolve) => {
      if (s.destroyed) return resolve();
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, graceMs);
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      s.end();
    })));
  }
}
