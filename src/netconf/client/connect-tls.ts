/**
 * NETCONF client over TLS (RFC 7589) with node:tls: mutual X.509 authentication (our certificate and key),
 * the server checked against a pinned CA (`ca`, not the system store) and, by RFC 6125 rules, against the
 * name we connect to (RFC 7589 section 6: `servername`, default the host), optionally also against a pinned
 * certificate SHA-256. TLS 1.3 preferred, 1.2 allowed. The session layer does hello and framing (end-of-
 * message, chunked after both hellos list base:1.1) as over SSH. TCP_NODELAY is set. When we end the connection
 * (close(), or the session ends it), a server that does not close its side within `peerCloseMs` has its socket
 * destroyed (../peer-close.ts).
 *
 * `tlsHandshake` is the handshake alone (also over a TCP connection the server opened: NETCONF Call Home over
 * TLS, RFC 8071 section 4, where the NETCONF client is the TLS client on an accepted socket); the device
 * driver (src/device) builds its sessions on it. Without `ca`, a pinned certificate (`serverCertSha256`) is
 * the only trust: the chain is not checked, the pin and the certificate's validity dates are.
 *
 * `sessions` resumes earlier TLS sessions (TLS 1.3 ticket: no certificate exchange, one round trip fewer):
 * a TlsSessionCache keeps the newest session per server and per trust settings (./tls-sessions.ts), so a
 * session is only offered under the settings its server was verified with; a changed CA, pin, name or client
 * certificate makes a full handshake with full verification.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import { connect, createSecureContext } from 'node:tls';
import type { ConnectionOptions, SecureContext, TLSSocket } from 'node:tls';
import { TLS_VERSIONS, NETCONF_TLS_PORT, parseFingerprint } from '../tls/index.js';
import { TlsSessionCache } from './tls-sessions.js';
import type { TlsSessionEntry, TlsSessionPeer } from './tls-sessions.js';
import { NetconfClientError, clientOf, sessionOver } from './connect.js';
import { PEER_CLOSE_MS, destroyUnlessClosedAfterEnd, endSocket } from '../peer-close.js';
import type { ConnectOptions, NetconfClient } from './connect.js';

export interface TlsConnectOptions extends Pick<ConnectOptions, 'host' | 'port' | 'connectTimeoutMs' | 'helloTimeoutMs' | 'rpcTimeoutMs' | 'maxInFlight' | 'maxMessageBytes' | 'capabilities' | 'peerCloseMs'> {
  /** our certificate (PEM, with intermediates) and private key */
  cert: string | Buffer;
  key: string | Buffer;
  /**
   * the CA(s) the server's certificate must chain to (PEM); the system store is not used. May be left out
   * only when serverCertSha256 pins the certificate (a self-signed device certificate).
   */
  ca?: string | Buffer;
  /** the name the server's certificate must carry (RFC 6125); default `host` */
  servername?: string;
  /** also pin the server certificate: its SHA-256 in hex (colons allowed) */
  serverCertSha256?: string;
  /** sessions to resume and to keep this connection's sessions in (./tls-sessions.ts) */
  sessions?: TlsSessionCache;
  /** run TLS over this connected TCP socket instead of connecting to host:port (call home; host names the peer in messages) */
  socket?: Socket;
  /** ends the handshake early (the socket is destroyed; the error's cause is the signal's reason) */
  signal?: AbortSignal;
}

/** why a TLS handshake failed: the peer's certificate, its refusal of ours, or the network */
export type TlsHandshakeFailure = 'certificate' | 'pin' | 'refused-by-peer' | 'network' | 'timeout' | 'aborted';

/**
 * The kind of a TLS handshake error (node:tls / OpenSSL codes): our check of the peer's certificate
 * (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_TLS_CERT_ALTNAME_INVALID...), an alert the peer sent
 * because it refused our certificate (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED, ..._ALERT_UNKNOWN_CA,
 * ..._ALERT_BAD_CERTIFICATE...), or the network (reset, refused, closed during the handshake).
 */
export function tlsFailureOf(e: unknown): Exclude<TlsHandshakeFailure, 'pin' | 'timeout' | 'aborted'> {
  const code = String((e as { code?: unknown } | undefined)?.code ?? '');
  if (PEER_REFUSALS.has(code)) return 'refused-by-peer';
  if (CERTIFICATE_CODES.has(code)) return 'certificate';
  return 'network';
}

/** alerts a TLS server sends when it refuses the client's certificate (node's names of OpenSSL's reasons) */
const PEER_REFUSALS: ReadonlySet<string> = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE', 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
]);

/** our own verification of the server's certificate failed (OpenSSL's X509_V_ERR names, and node's name check) */
const CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE', 'CERT_CHAIN_TOO_LONG', 'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_TLS_CERT_ALTNAME_FORMAT',
]);

/** A handshake failure, with its kind and OpenSSL's code (when there was one). */
export class TlsHandshakeError extends NetconfClientError {
  constructor(readonly failure: TlsHandshakeFailure, readonly tlsCode: string | undefined, message: string, options?: { cause?: unknown }) {
    super(failure === 'pin' ? 'ERR_NETCONF_CLIENT_HOST_KEY' : 'ERR_NETCONF_CLIENT_CONNECT', message, options);
  }
}

export interface NetconfTlsClient extends NetconfClient {
  /** TLSv1.3 or TLSv1.2 */
  readonly protocol: string;
  /** the TLS session was resumed (from `sessions`) */
  readonly resumed: boolean;
  /** the server certificate's SHA-256 (hex with colons): on a resumed session, the one verified when it was made */
  readonly peerSha256: string;
}

/** the TLS socket of a finished handshake, and whom it reached */
export type TlsHandshakeSocket = TLSSocket & {
  /** the server certificate verified (for a resumed session: when the session was made) */
  readonly verifiedPeer: TlsSessionPeer;
};

/**
 * Secure contexts by (cert, key, ca): building one parses the PEMs and the CA store, which cost more than
 * the rest of a resumed handshake; a device driver or a bench connects many times with the same material.
 * At most 16 are kept (oldest dropped).
 */
const contexts = new Map<string, SecureContext>();

/** The (cached) client secure context for this certificate, key and CA bundle. */
export function tlsClientContext(o: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer | undefined }): SecureContext {
  const id = createHash('sha256').update(String(o.cert)).update('\0').update(String(o.key)).update('\0').update(String(o.ca ?? '')).digest('hex');
  let ctx = contexts.get(id);
  if (!ctx) {
    ctx = createSecureContext({ cert: o.cert, key: o.key, ...(o.ca !== undefined ? { ca: o.ca } : {}), ...TLS_VERSIONS });
    contexts.set(id, ctx);
    if (contexts.size > 16) contexts.delete(contexts.keys().next().value!);
  }
  return ctx;
}

/** what an OpenSSL verification code means, in words an operator can act on */
export function describeCertificateError(code: string | undefined, fallback: string): string {
  switch (code) {
    case 'CERT_HAS_EXPIRED': return 'its certificate has expired';
    case 'CERT_NOT_YET_VALID': return 'its certificate is not yet valid (check the clocks)';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY': return 'its certificate is not signed by a trusted CA (wrong or missing CA)';
    case 'DEPTH_ZERO_SELF_SIGNED_CERT': return 'its certificate is self-signed and not pinned (pin its SHA-256 or give the CA)';
    case 'SELF_SIGNED_CERT_IN_CHAIN': return 'its certificate chains to a CA that is not trusted (wrong CA)';
    case 'ERR_TLS_CERT_ALTNAME_INVALID': return 'its certificate is not issued to the name or address we expected';
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED': return 'it requires a client certificate';
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA': return 'it does not trust the CA of our client certificate';
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE': return 'it refused our client certificate (bad certificate)';
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED': return 'it says our client certificate has expired';
    default: return fallback;
  }
}

/**
 * The TLS handshake of a NETCONF client: connect (or take `socket`), verify the server by the pinned CA and
 * name or by the pinned certificate, return the TLS socket (TCP_NODELAY set). Errors are TlsHandshakeError.
 */
export function tlsHandshake(options: TlsConnectOptions): Promise<TlsHandshakeSocket> {
  const port = options.port ?? NETCONF_TLS_PORT;
  const where = options.socket ? options.host : `${options.host}:${port}`;
  const pin = options.serverCertSha256 !== undefined ? parseFingerprint(options.serverCertSha256) : undefined;
  if (options.serverCertSha256 !== undefined && !pin) return Promise.reject(new NetconfClientError('ERR_NETCONF_CLIENT_OPTIONS', `not a SHA-256 fingerprint: ${options.serverCertSha256}`));
  if (options.ca === undefined && !pin) return Promise.reject(new NetconfClientError('ERR_NETCONF_CLIENT_OPTIONS', `no CA and no pinned certificate for ${where}: nothing to authenticate the server with`));
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      options.socket?.destroy();
      reject(new TlsHandshakeError('aborted', undefined, `TLS connection to ${where} aborted`, { cause: options.signal.reason }));
      return;
    }
    new TlsHandshake(options, { port, where, pin }, resolve, reject);
  });
}

/** whom a handshake reaches: the port dialled, the peer's name in messages, the pinned certificate's SHA-256 */
interface HandshakeTarget {
  port: number;
  where: string;
  pin: Buffer | undefined;
}

/**
 * One handshake under way (the constructor starts it): the socket, the session offered for resumption and the
 * sessions kept, and its end (settled once: verified, or failed by an error, a close, the time limit or the signal).
 */
class TlsHandshake {
  /** resumption: only a session made under these very settings (a dialled server; not over a given socket) */
  private readonly cache: TlsSessionCache | undefined;
  private readonly cacheKey: string | undefined;
  private readonly offered: TlsSessionEntry | undefined;
  private readonly s: TLSSocket;
  /** the server as verified (on a resumed session: when the session was made) */
  private verified: TlsSessionPeer | undefined;
  /** a session that came before the server was verified */
  private early: Buffer | undefined;
  private settled = false;
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly options: TlsConnectOptions, private readonly target: HandshakeTarget,
    private readonly resolve: (s: TlsHandshakeSocket) => void, private readonly reject: (e: TlsHandshakeError) => void,
  ) {
    this.cache = options.socket === undefined ? options.sessions : undefined;
    this.cacheKey = this.cache !== undefined ? TlsSessionCache.keyOf({ ...options, port: target.port }) : undefined;
    this.offered = this.cache !== undefined && this.cacheKey !== undefined ? this.cache.get(this.cacheKey) : undefined;
    this.s = connect(this.connectionOptions());
    this.keepSessions();
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    const timeoutMs = options.connectTimeoutMs ?? 20_000;
    this.timer = setTimeout(() => this.fail(new TlsHandshakeError('timeout', undefined, `no TLS handshake with ${target.where} within ${timeoutMs} ms`)), timeoutMs);
    this.s.once('error', this.onError);
    this.s.once('close', this.onClose);
    this.s.once('secureConnect', () => this.onSecureConnect());
  }

  private connectionOptions(): ConnectionOptions {
    const { options, offered } = this;
    return {
      ...(options.socket ? { socket: options.socket } : { host: options.host, port: this.target.port }),
      secureContext: tlsClientContext(options),
      // SNI carries names only (RFC 6066); for an address, node checks the certificate's IP SANs against host
      ...(options.servername !== undefined || isIP(options.host) === 0 ? { servername: options.servername ?? options.host } : {}),
      // pinned only (no CA): the pin is the trust, checked below with the validity dates
      rejectUnauthorized: options.ca !== undefined,
      ...TLS_VERSIONS,
      ...(offered !== undefined ? { session: offered.session } : {}),
    };
  }

  /**
   * sessions to keep: TLS 1.2 may send its ticket before secureConnect, TLS 1.3 sends them after the server
   * read our first data; kept only once the server is verified (verified), under the peer it was verified as
   */
  private keepSessions(): void {
    const { cache, cacheKey } = this;
    if (cache === undefined || cacheKey === undefined) return;
    this.s.on('session', (b: Buffer) => {
      if (this.verified !== undefined) cache.set(cacheKey, b, this.verified);
      else this.early = b;
    });
  }

  private fail(e: TlsHandshakeError): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    if (this.cacheKey !== undefined) this.cache?.delete(this.cacheKey);
    this.s.destroy();
    this.options.socket?.destroy();
    this.reject(e);
  }

  private readonly onAbort = (): void => this.fail(new TlsHandshakeError('aborted', undefined, `TLS connection to ${this.target.where} aborted`, { cause: this.options.signal?.reason }));

  private readonly onError = (e: Error & { code?: string }): void => {
    const kind = tlsFailureOf(e);
    this.fail(new TlsHandshakeError(kind, e.code, handshakeErrorText(this.target.where, kind, e), { cause: e }));
  };

  private readonly onClose = (): void => this.fail(new TlsHandshakeError('network', undefined, `${this.target.where} closed the connection during the TLS handshake`));

  private onSecureConnect(): void {
    if (this.settled) return;
    const verified = this.s.isSessionReused() ? this.resumedPeer() : this.presentedPeer();
    if (verified === undefined) return;
    this.verified = verified;
    if (this.early !== undefined && this.cacheKey !== undefined) this.cache?.set(this.cacheKey, this.early, verified);
    this.settled = true;
    clearTimeout(this.timer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.s.off('error', this.onError);
    this.s.off('close', this.onClose);
    this.s.setNoDelay(true);
    this.resolve(Object.assign(this.s, { verifiedPeer: verified }));
  }

  /**
   * no certificate is shown on a resumed session and OpenSSL reports the first handshake's verification:
   * only a session this cache offered under the same settings is accepted, as the peer verified then
   * (undefined: the handshake failed)
   */
  private resumedPeer(): TlsSessionPeer | undefined {
    const { offered, target: { where, pin } } = this;
    if (offered === undefined) {
      this.fail(new TlsHandshakeError('certificate', undefined, `${where} resumed a TLS session we did not offer: refused`));
      return undefined;
    }
    if (pin && !pin.equals(Buffer.from(offered.peer.sha256.replace(/:/g, ''), 'hex'))) {
      this.fail(new TlsHandshakeError('pin', undefined, `${where} is not trusted: the resumed session's certificate (SHA-256 ${offered.peer.sha256}) is not the pinned one`));
      return undefined;
    }
    return offered.peer;
  }

  /** the certificate the server presented, checked against the pin (undefined: the handshake failed) */
  private presentedPeer(): TlsSessionPeer | undefined {
    const { where, pin } = this.target;
    const peer = this.s.getPeerX509Certificate();
    if (pin && !this.pinned(peer, pin)) return undefined;
    if (!peer) {
      this.fail(new TlsHandshakeError('certificate', undefined, `${where} is not trusted: it presented no certificate`));
      return undefined;
    }
    return { sha256: peer.fingerprint256, validTo: Date.parse(peer.validTo) };
  }

  /** the certificate is the pinned one and, when the pin is the only trust (no CA), within its validity dates */
  private pinned(peer: X509Certificate | undefined, pin: Buffer): boolean {
    const { where } = this.target;
    const got = Buffer.from(peer?.fingerprint256.replace(/:/g, '') ?? '', 'hex');
    if (got.length !== pin.length || !timingSafeEqual(got, pin)) {
      this.fail(new TlsHandshakeError('pin', undefined, `${where} is not trusted: its certificate (SHA-256 ${peer?.fingerprint256 ?? 'none'}) is not the pinned one`));
      return false;
    }
    if (this.options.ca === undefined && peer) {
      const dated = validityProblem(peer);
      if (dated !== undefined) {
        this.fail(new TlsHandshakeError('certificate', dated.code, `${where} is not trusted: ${describeCertificateError(dated.code, dated.code)} (${dated.code})`));
        return false;
      }
    }
    return true;
  }
}

/** a handshake error in words: the operator's words first, then OpenSSL's code and node's own message (it names e.g. the altnames) */
function handshakeErrorText(where: string, kind: ReturnType<typeof tlsFailureOf>, e: Error & { code?: string }): string {
  const why = (): string => {
    const d = describeCertificateError(e.code, e.message);
    return d === e.message ? `${d}${e.code !== undefined ? ` (${e.code})` : ''}` : `${d} (${e.code ?? ''}: ${e.message})`;
  };
  return kind === 'certificate' ? `${where} is not trusted: ${why()}`
    : kind === 'refused-by-peer' ? `${where} refused the TLS handshake: ${why()}`
      : `cannot connect to ${where} over TLS: ${e.message}`;
}

/** a pinned certificate outside its validity period (the check OpenSSL makes when a CA is given) */
function validityProblem(cert: X509Certificate): { code: string } | undefined {
  const now = Date.now();
  if (Date.parse(cert.validTo) < now) return { code: 'CERT_HAS_EXPIRED' };
  if (Date.parse(cert.validFrom) > now) return { code: 'CERT_NOT_YET_VALID' };
  return undefined;
}

export async function connectNetconfTls(options: TlsConnectOptions): Promise<NetconfTlsClient> {
  const socket = await tlsHandshake(options);
  socket.on('error', () => undefined); // after setup, errors surface through the session's close reason
  const peerCloseMs = options.peerCloseMs ?? PEER_CLOSE_MS;
  destroyUnlessClosedAfterEnd(socket, peerCloseMs); // the session ends the socket itself (close-session sent)
  const session = await sessionOver(socket, options, { name: 'TLS', abort: () => socket.destroy(), onClose: (l) => socket.on('close', l) });
  // defineProperties, not a spread: the client's `closed` is a getter
  return Object.defineProperties(clientOf(session, () => endSocket(socket, peerCloseMs)), {
    protocol: { value: socket.getProtocol() ?? '', enumerable: true },
    resumed: { value: socket.isSessionReused(), enumerable: true },
    peerSha256: { value: socket.verifiedPeer.sha256, enumerable: true },
  }) as NetconfTlsClient;
}
