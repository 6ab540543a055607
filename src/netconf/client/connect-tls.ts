/**
 * NETCONF client over TLS (RFC 7589) with node:tls: mutual X.509 authentication (our certificate and key),
 * the server checked against a pinned CA (`ca`, not the system store) and, by RFC 6125 rules, against the
 * name we connect to (RFC 7589 section 6: `servername`, default the host), optionally also against a pinned
 * certificate SHA-256. TLS 1.3 preferred, 1.2 allowed. The session layer does hello and framing (end-of-
 * message, chunked after both hellos list base:1.1) as over SSH. TCP_NODELAY is set.
 *
 * `session` resumes an earlier TLS session (TLS 1.3 ticket: no certificate exchange, one round trip
 * fewer): pass what `tlsSession()` of an earlier client returned.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, createSecureContext } from 'node:tls';
import type { ConnectionOptions, SecureContext, TLSSocket } from 'node:tls';
import { TLS_VERSIONS, NETCONF_TLS_PORT, parseFingerprint } from '../tls/index.js';
import { ClientSession } from '../session/index.js';
import { NetconfClientError, clientOf, sessionOptions } from './connect.js';
import type { ConnectOptions, NetconfClient } from './connect.js';

export interface TlsConnectOptions extends Pick<ConnectOptions, 'host' | 'port' | 'connectTimeoutMs' | 'helloTimeoutMs' | 'rpcTimeoutMs' | 'maxInFlight' | 'maxMessageBytes' | 'capabilities'> {
  /** our certificate (PEM, with intermediates) and private key */
  cert: string | Buffer;
  key: string | Buffer;
  /** the CA(s) the server's certificate must chain to (PEM); the system store is not used */
  ca: string | Buffer;
  /** the name the server's certificate must carry (RFC 6125); default `host` */
  servername?: string;
  /** also pin the server certificate: its SHA-256 in hex (colons allowed) */
  serverCertSha256?: string;
  /** a TLS session to resume (from tlsSession() of an earlier client) */
  session?: Buffer;
}

export interface NetconfTlsClient extends NetconfClient {
  /** TLSv1.3 or TLSv1.2 */
  readonly protocol: string;
  /** the TLS session was resumed */
  readonly resumed: boolean;
  /**
   * the session to resume later. A TLS 1.3 server sends its tickets once it has read the client's first
   * data, so ask after the first reply (or after close()); asked earlier, it may not be resumable.
   */
  tlsSession(): Buffer | undefined;
}

/**
 * Secure contexts by (cert, key, ca): building one parses the PEMs and the CA store, which cost more than
 * the rest of a resumed handshake; a device driver or a bench connects many times with the same material.
 * At most 16 are kept (oldest dropped).
 */
const contexts = new Map<string, SecureContext>();

function contextFor(o: TlsConnectOptions): SecureContext {
  const id = createHash('sha256').update(String(o.cert)).update('\0').update(String(o.key)).update('\0').update(String(o.ca)).digest('hex');
  let ctx = contexts.get(id);
  if (!ctx) {
    ctx = createSecureContext({ cert: o.cert, key: o.key, ca: o.ca, ...TLS_VERSIONS });
    contexts.set(id, ctx);
    if (contexts.size > 16) contexts.delete(contexts.keys().next().value!);
  }
  return ctx;
}

export async function connectNetconfTls(options: TlsConnectOptions): Promise<NetconfTlsClient> {
  const port = options.port ?? NETCONF_TLS_PORT;
  const pin = options.serverCertSha256 !== undefined ? parseFingerprint(options.serverCertSha256) : undefined;
  if (options.serverCertSha256 !== undefined && !pin) throw new NetconfClientError('ERR_NETCONF_CLIENT_OPTIONS', `not a SHA-256 fingerprint: ${options.serverCertSha256}`);
  let latestSession: Buffer | undefined;
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const cfg: ConnectionOptions = {
      host: options.host,
      port,
      secureContext: contextFor(options),
      // SNI carries names only (RFC 6066); for an address, node checks the certificate's IP SANs against host
      ...(options.servername !== undefined || isIP(options.host) === 0 ? { servername: options.servername ?? options.host } : {}),
      rejectUnauthorized: true,
      ...TLS_VERSIONS,
      ...(options.session ? { session: options.session } : {}),
    };
    const s = connect(cfg);
    s.on('session', (b: Buffer) => {
      latestSession = b;
    });
    const timer = setTimeout(() => fail(new Error(`no TLS handshake within ${options.connectTimeoutMs ?? 20_000} ms`)), options.connectTimeoutMs ?? 20_000);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      s.destroy();
      reject(new NetconfClientError('ERR_NETCONF_CLIENT_CONNECT', `cannot connect to ${options.host}:${port} over TLS: ${e.message}`, { cause: e }));
    };
    s.once('error', fail);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      s.off('error', fail);
      if (pin) {
        const got = Buffer.from(s.getPeerX509Certificate()?.fingerprint256.replace(/:/g, '') ?? '', 'hex');
        if (got.length !== pin.length || !timingSafeEqual(got, pin)) {
          s.destroy();
          reject(new NetconfClientError('ERR_NETCONF_CLIENT_HOST_KEY', 'server certificate does not match the pinned SHA-256'));
          return;
        }
      }
      s.setNoDelay(true);
      resolve(s);
    });
  });
  socket.on('error', () => undefined); // after setup, errors surface through the session's close reason
  let session: ClientSession;
  try {
    session = await ClientSession.open(socket, sessionOptions(options));
  } catch (e) {
    socket.destroy();
    throw e;
  }
  socket.on('close', () => session.destroy(new NetconfClientError('ERR_NETCONF_CLIENT_CONNECT', 'TLS connection closed')));
  // defineProperties, not a spread: the client's `closed` is a getter
  return Object.defineProperties(clientOf(session, () => socket.end()), {
    protocol: { value: socket.getProtocol() ?? '', enumerable: true },
    resumed: { value: socket.isSessionReused(), enumerable: true },
    tlsSession: { value: () => latestSession ?? socket.getSession(), enumerable: true },
  }) as NetconfTlsClient;
}
