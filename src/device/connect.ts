/**
 * One NETCONF client session to a device, by the target's transport: NETCONF over SSH (RFC 6242, the default)
 * with the host key pinned (fail closed), or NETCONF over TLS (RFC 7589, `transport: 'tls'`) with mutual X.509
 * authentication: the device's certificate checked against the pinned CA and name (RFC 6125) and/or its pinned
 * SHA-256, ours (client certificate) for the device's cert-to-name. The TLS handshake is the northbound
 * client's (src/netconf/client tlsHandshake); the failures a southbound caller must tell apart are coded:
 *   ERR_DEVICE_UNREACHABLE  TCP refused/reset/unreachable, or the SSH/TLS handshake was cut
 *   ERR_DEVICE_TIMEOUT      no session within timeoutMs
 *   ERR_DEVICE_AUTH         the device refused our credentials (SSH login; TLS: an alert refusing our certificate)
 *   ERR_DEVICE_HOST_KEY     the device's host key is not the pinned one (or none is pinned)
 *   ERR_DEVICE_CERTIFICATE  TLS: the device's certificate is not trusted (wrong CA, expired, not issued to the
 *                           expected name, not the pinned one)
 *   ERR_DEVICE_NETCONF      the netconf subsystem or the hello failed
 *   ERR_DEVICE_ABORTED      the caller's signal was aborted
 *   ERR_DEVICE_CONFIG       the target's settings are unusable (no password or key, bad fingerprint)
 *
 * TLS sessions are resumed (RFC 8446 tickets; one round trip and no certificate exchange fewer): the newest
 * session per device is kept in `deviceTlsSessions` (bounded, least recently used dropped), keyed by the
 * address, the expected name, the CA, the pinned certificate and our client certificate, so a session is
 * only offered under the settings its device was verified with; any change (a new CA or pin in the inventory,
 * a new client certificate) makes a full handshake with full verification (src/netconf/client/tls-sessions.ts).
 *
 * The session layer is src/netconf/session (ClientSession, shared with src/netconf/client); this file owns
 * the SSH connection because a device driver must never crash on a device's late SSH errors: the ssh2 client
 * keeps an 'error' listener for its whole life (a connection that fails, times out or is aborted may still
 * emit "Connection lost before handshake" afterwards). TCP_NODELAY is set (ssh2 never sets it). A connection we
 * end (a session released or closed, a failed attempt) is destroyed when the device has not closed its side within
 * `peerCloseMs` (src/netconf/peer-close.ts; ssh2's destroy() after its end() does nothing).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import ssh2 from '../netconf/ssh/ssh2.js';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { HsvError } from '../errors.js';
import { Bounded } from './bounded.js';
import { ClientSession } from '../netconf/session/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import { NETCONF_TLS_PORT } from '../netconf/tls/index.js';
import { TlsHandshakeError, TlsSessionCache, describeCertificateError, tlsFailureOf, tlsHandshake } from '../netconf/client/index.js';
import type { TlsConnectOptions, TlsHandshakeSocket } from '../netconf/client/index.js';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { PEER_CLOSE_MS, destroyUnlessClosedAfterEnd, endSocket, endSshConnection } from '../netconf/peer-close.js';

/** NETCONF over TLS to a device (RFC 7589): how the OAM authenticates the device, and itself. */
export interface DeviceTlsSettings {
  /** PEM of the CA(s) the device's certificate must chain to (not the system store); optional when certSha256 pins it */
  ca?: string;
  /** the device certificate's pinned SHA-256, hex (colons allowed) */
  certSha256?: string;
  /**
   * the name the device's certificate must carry (RFC 6125: a DNS or IP subjectAltName). Default: the address
   * dialled; a call-home device (which has no address): its henb-id. Only checked with `ca`.
   */
  serverName?: string;
  /** our client certificate (PEM, with intermediates) and its private key, which the device maps to a user (RFC 7407) */
  cert: string;
  key: string;
}

export interface DeviceTarget {
  /** the device's name in the inventory (a TLS call-home connection is matched to its enrolled entry by it) */
  henbId?: string;
  host: string;
  port: number;
  username: string;
  password?: string;
  /** private key (OpenSSH or PEM) for publickey auth */
  privateKey?: string;
  /** pinned host key: 'SHA256:<base64>' as OpenSSH prints it (bare base64 or 64 hex digits accepted) */
  hostKeySha256?: string;
  /** connect without a pinned host key (tests only; says so in its name) */
  insecureAcceptAnyHostKey?: boolean;
  /** the device calls home (RFC 8071, ./call-home.ts): it is never dialled, host/port are not used */
  callHome?: boolean;
  /** ssh (default: RFC 6242, username and password or key) or tls (RFC 7589: `tls` is required; no username or password is sent) */
  transport?: 'ssh' | 'tls';
  tls?: DeviceTlsSettings;
}

/** What the driver and the PVE need from a session. */
export interface DeviceSession {
  /** send an operation; resolves with the <rpc-reply>; rejects with NetconfError on rpc-error */
  rpc(operation: XmlElement, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<XmlElement>;
  /** <notification> elements in order; ends when the session ends */
  notifications(): AsyncIterable<XmlElement>;
  readonly closed: boolean;
  /** the capabilities of the device's hello (optional: sessions made elsewhere, e.g. test fakes, may not know them) */
  readonly serverCapabilities?: readonly string[];
  /** base:1.1 (chunked framing) was negotiated */
  readonly base11?: boolean;
  /** resolves when the session is gone, with the reason */
  whenClosed(): Promise<Error | undefined>;
  /** over TLS: the protocol, whether the TLS session was resumed, and the device certificate's SHA-256 (verified when the TLS session was made) */
  readonly tls?: { protocol: string; resumed: boolean; peerSha256: string };
  close(): Promise<void>;
}

/**
 * A DeviceSession as deviceSessionOf makes it: `ended` resolves when the session has gone without reading why, so that
 * bookkeeping on every close (call-home-tls.ts) makes no error; whenClosed() makes an orderly end's reason when asked.
 */
export interface OwnDeviceSession extends DeviceSession {
  readonly ended: Promise<void>;
}

export interface DeviceConnectOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** after we end the connection, the time the device has to close its side before the socket is destroyed; default PEER_CLOSE_MS (5 s) */
  peerCloseMs?: number;
}

export type DeviceConnector = (target: DeviceTarget, options: DeviceConnectOptions) => Promise<DeviceSession>;

export type DeviceConnectErrorCode =
  | 'ERR_DEVICE_ABORTED' | 'ERR_DEVICE_AUTH' | 'ERR_DEVICE_CONFIG' | 'ERR_DEVICE_HOST_KEY' | 'ERR_DEVICE_NETCONF'
  | 'ERR_DEVICE_TIMEOUT' | 'ERR_DEVICE_UNREACHABLE' | 'ERR_DEVICE_CERTIFICATE';

export class DeviceConnectError extends HsvError<DeviceConnectErrorCode> {}

/** 'SHA256:<base64>' of an SSH public key blob (OpenSSH's fingerprint form) */
export function sshKeyFingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** the 32 digest bytes of a fingerprint in any accepted form, or undefined */
export function fingerprintBytes(f: string): Buffer | undefined {
  const s = f.trim().replace(/^SHA256:/i, '');
  if (/^[0-9a-f]{64}$/i.test(s)) return Buffer.from(s, 'hex');
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(s)) return undefined;
  const b = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return b.length === 32 ? b : undefined;
}

/**
 * The TLS sessions dialled devices may resume (one per device and settings; 4096 devices, a session at most an
 * hour old, never past the device certificate's notAfter). Shared by every dialled TLS connection in the process.
 */
export const deviceTlsSessions = new TlsSessionCache({ max: 4096, maxAgeMs: 3_600_000 });

/** Connect by the target's transport (SSH or TLS), exchange hellos; bounded by timeoutMs and the signal. */
export const connectDevice: DeviceConnector = (target, options) => {
  if (target.transport === 'tls') return connectDeviceTls(target, options);
  return connectDeviceSsh(target, options);
};

/** the NETCONF port of a transport when none is configured: 830 (SSH, RFC 6242) or 6513 (TLS, RFC 7589) */
export function defaultNetconfPort(transport: 'ssh' | 'tls' | undefined): number {
  return transport === 'tls' ? NETCONF_TLS_PORT : 830;
}

/** the TLS handshake's failure as the driver's code (certificate problems and refusals are final, network ones retried) */
export function deviceTlsError(e: unknown, where: string): DeviceConnectError {
  if (e instanceof TlsHandshakeError) {
    switch (e.failure) {
      case 'certificate':
      case 'pin': return new DeviceConnectError('ERR_DEVICE_CERTIFICATE', e.message, { cause: e });
      case 'refused-by-peer': return new DeviceConnectError('ERR_DEVICE_AUTH', `${e.message}; check that the device trusts our client certificate's CA and maps it to a user (cert-to-name)`, { cause: e });
      case 'timeout': return new DeviceConnectError('ERR_DEVICE_TIMEOUT', e.message, { cause: e });
      case 'aborted': return new DeviceConnectError('ERR_DEVICE_ABORTED', e.message, { cause: e });
      case 'network': return new DeviceConnectError('ERR_DEVICE_UNREACHABLE', e.message, { cause: e });
    }
  }
  if ((e as { code?: unknown } | undefined)?.code === 'ERR_NETCONF_CLIENT_OPTIONS') return new DeviceConnectError('ERR_DEVICE_CONFIG', `TLS settings of ${where}: ${(e as Error).message}`, { cause: e });
  return new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `cannot reach ${where} over TLS: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/** the client side's TLS options for a device (dialled: host/port; call home: over `socket`) */
export function deviceTlsOptions(target: DeviceTarget, tls: DeviceTlsSettings, timeoutMs: number, extra: { socket?: Socket; servername?: string; signal?: AbortSignal; sessions?: TlsSessionCache } = {}): TlsConnectOptions {
  return {
    host: target.host, port: target.port, cert: tls.cert, key: tls.key, connectTimeoutMs: timeoutMs,
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.certSha256 !== undefined ? { serverCertSha256: tls.certSha256 } : {}),
    ...(extra.servername ?? tls.serverName) !== undefined ? { servername: (extra.servername ?? tls.serverName)! } : {},
    ...(extra.socket !== undefined ? { socket: extra.socket } : {}),
    ...(extra.signal !== undefined ? { signal: extra.signal } : {}),
    ...(extra.sessions !== undefined ? { sessions: extra.sessions } : {}),
  };
}

/**
 * The NETCONF session on a TLS connection to a device (dialled or called home): hellos within the budget, then
 * a DeviceSession whose close ends the TLS connection (RFC 7589: one session per connection). A connection that
 * ends right after the handshake, before the device's hello, most often means the device refused our client
 * certificate after the handshake (TLS 1.3 checks it then): the error says so.
 */
export async function deviceSessionOverTls(socket: TLSSocket | TlsHandshakeSocket, where: string, timeoutMs: number, signal?: AbortSignal, peerCloseMs = PEER_CLOSE_MS): Promise<OwnDeviceSession> {
  // after the handshake, errors surface as the session's close reason; one before the hello may be the device's
  // alert refusing our certificate (TLS 1.3 sends it after the client's Finished)
  let early: (Error & { code?: string }) | undefined;
  const onEarly = (e: Error & { code?: string }): void => {
    early ??= e;
  };
  socket.on('error', onEarly);
  socket.on('error', () => undefined);
  let s: ClientSession;
  const onAbort = (): void => {
    socket.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    s = await ClientSession.open(socket, { helloTimeoutMs: timeoutMs });
  } catch (e) {
    socket.destroy();
    if (signal?.aborted === true) throw new DeviceConnectError('ERR_DEVICE_ABORTED', `connection to ${where} aborted`, { cause: signal.reason });
    if (early !== undefined && tlsFailureOf(early) === 'refused-by-peer') {
      throw new DeviceConnectError('ERR_DEVICE_AUTH', `${where} refused our client certificate: ${describeCertificateError(early.code, early.message)} (${early.code ?? early.message}); check that the device trusts its CA and maps it to a user (cert-to-name)`, { cause: early });
    }
    if ((e as { code?: unknown }).code === 'ERR_SESSION_HELLO_TIMEOUT' && early === undefined) {
      // the connection stayed up and silent: not a refusal, a device (or the port's listener) that never speaks NETCONF
      throw new DeviceConnectError('ERR_DEVICE_TIMEOUT', `no NETCONF hello from ${where} within ${timeoutMs} ms after the TLS handshake (the connection stayed open: is this port the device's NETCONF over TLS, and is its NETCONF server running?)`, { cause: e });
    }
    throw new DeviceConnectError('ERR_DEVICE_NETCONF', `no NETCONF hello from ${where} over TLS: the connection ended after the TLS handshake (does the device trust our client certificate and map it to a user? see its log)`, { cause: e });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    socket.off('error', onEarly);
  }
  socket.once('close', () => {
    // a session that ended first needs no reason
    if (!s.closed) s.destroy(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `${where} closed the TLS connection`));
  });
  destroyUnlessClosedAfterEnd(socket, peerCloseMs); // the session ends the socket itself (close-session sent)
  const verified = (socket as Partial<TlsHandshakeSocket>).verifiedPeer;
  const session = deviceSessionOf(s, () => endSocket(socket, peerCloseMs), () => {
    socket.end();
    socket.destroy();
  });
  if (verified === undefined) return session;
  return Object.defineProperty(session, 'tls', { value: { protocol: socket.getProtocol() ?? '', resumed: socket.isSessionReused(), peerSha256: verified.sha256 }, enumerable: true });
}

/**
 * The DeviceSession port over an open NETCONF client session, whatever carries it (SSH dialled or called home,
 * TLS): `ended` runs once when the session has closed (its carrier may go), `teardown` after close().
 */
export function deviceSessionOf(s: ClientSession, ended: () => void, teardown: () => void): OwnDeviceSession {
  const closedP = s.conn.whenClosed().then(ended);
  return {
    ended: closedP,
    rpc: (op, o) => s.rpc(op, o ?? {}),
    notifications: () => s.notifications(),
    serverCapabilities: s.serverCapabilities,
    base11: s.base11,
    get closed() {
      return s.closed;
    },
    // the reason read when asked for: an orderly end's is made only then (ClientSession.closeReason)
    whenClosed: () => closedP.then(() => s.closeReason),
    async close() {
      await s.close(2000).catch(() => undefined);
      teardown();
    },
  };
}

/**
 * Open the netconf subsystem (RFC 6242) on an authenticated SSH connection and exchange hellos within the
 * attempt: `opened` makes the DeviceSession that the attempt resolves with. A channel or session that arrives
 * after the attempt settled (time limit, signal) is destroyed at once. ssh2 refuses a channel synchronously
 * ("Not connected") on a connection that ended before the request: that fails the attempt (`notConnected`
 * words it, ERR_DEVICE_UNREACHABLE by default) instead of throwing out of an event handler, where nothing
 * would catch it.
 */
export function openNetconfChannel(client: Client, where: string, timeoutMs: number, attempt: Bounded<DeviceSession>, o: {
  onChannel?: (channel: ClientChannel) => void;
  opened: (s: ClientSession, channel: ClientChannel) => DeviceSession;
  notConnected?: (cause: unknown) => DeviceConnectError;
}): void {
  try {
    requestNetconfSubsystem(client, where, timeoutMs, attempt, o);
  } catch (e) {
    attempt.fail(o.notConnected?.(e) ?? new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `${where} closed the connection before its netconf channel opened`, { cause: e }));
  }
}

function requestNetconfSubsystem(client: Client, where: string, timeoutMs: number, attempt: Bounded<DeviceSession>, o: {
  onChannel?: (channel: ClientChannel) => void;
  opened: (s: ClientSession, channel: ClientChannel) => DeviceSession;
}): void {
  client.subsys('netconf', (err: Error | undefined, channel: ClientChannel) => {
    if (err) return attempt.fail(new DeviceConnectError('ERR_DEVICE_NETCONF', `${where} refused the netconf subsystem`, { cause: err }));
    o.onChannel?.(channel);
    if (attempt.settled) {
      channel.destroy();
      return;
    }
    ClientSession.open(channel, { helloTimeoutMs: timeoutMs }).then((s) => {
      if (attempt.settled) {
        s.destroy();
        return;
      }
      attempt.succeed(o.opened(s, channel));
    }, (e: unknown) => attempt.fail(new DeviceConnectError('ERR_DEVICE_NETCONF', `no NETCONF hello from ${where}`, { cause: e })));
  });
}

/** NETCONF over TLS (RFC 7589) to a dialled device. */
async function connectDeviceTls(target: DeviceTarget, options: DeviceConnectOptions): Promise<DeviceSession> {
  const where = `${target.host}:${target.port}`;
  if (options.signal?.aborted) throw new DeviceConnectError('ERR_DEVICE_ABORTED', `connection to ${where} aborted`, { cause: options.signal.reason });
  if (target.callHome === true) throw new DeviceConnectError('ERR_DEVICE_CONFIG', 'the device calls home: it is reached through the call-home listener, never dialled');
  const tls = target.tls;
  if (tls === undefined) throw new DeviceConnectError('ERR_DEVICE_CONFIG', `transport tls for ${where}, but no TLS settings (client certificate, key, CA or pinned certificate)`);
  if (tls.ca === undefined && tls.certSha256 === undefined) throw new DeviceConnectError('ERR_DEVICE_CONFIG', `transport tls for ${where}: neither a CA nor a pinned certificate to authenticate the device with`);
  const started = Date.now();
  let socket: TlsHandshakeSocket;
  try {
    socket = await tlsHandshake(deviceTlsOptions(target, tls, options.timeoutMs, { sessions: deviceTlsSessions, ...(options.signal !== undefined ? { signal: options.signal } : {}) }));
  } catch (e) {
    throw deviceTlsError(e, where);
  }
  return deviceSessionOverTls(socket, where, Math.max(1, options.timeoutMs - (Date.now() - started)), options.signal, options.peerCloseMs);
}

/** Connect over SSH, open the netconf subsystem, exchange hellos; bounded by timeoutMs and the signal. */
const connectDeviceSsh: DeviceConnector = async (target, options) => {
  const where = `${target.host}:${target.port}`;
  if (options.signal?.aborted) throw new DeviceConnectError('ERR_DEVICE_ABORTED', `connection to ${where} aborted`, { cause: options.signal.reason });
  const pin = sshTargetPin(target, where);
  return dialSsh(target, where, pin, options);
};

/**
 * The pinned host key's digest (undefined: any key, tests only), after checking that the target can be dialled
 * over SSH at all: not a call-home device, a pinned key that is a SHA-256 fingerprint, a password or a key.
 */
export function sshTargetPin(target: DeviceTarget, where: string): Buffer | undefined {
  if (target.callHome === true) throw new DeviceConnectError('ERR_DEVICE_CONFIG', 'the device calls home: it is reached through the call-home listener, never dialled');
  let pin: Buffer | undefined;
  if (target.hostKeySha256 !== undefined) {
    pin = fingerprintBytes(target.hostKeySha256);
    if (!pin) throw new DeviceConnectError('ERR_DEVICE_CONFIG', `the pinned host key of ${where} is not a SHA-256 fingerprint`);
  } else if (target.insecureAcceptAnyHostKey !== true) {
    throw new DeviceConnectError('ERR_DEVICE_HOST_KEY', `no host key pinned for ${where}`);
  }
  if (target.password === undefined && target.privateKey === undefined) throw new DeviceConnectError('ERR_DEVICE_CONFIG', `no password or private key for ${where}`);
  return pin;
}

/** an ssh2 client error before the session opened, as the driver's code */
export function sshConnectError(e: Error & { level?: string }, o: { where: string; username: string; timeoutMs: number; hostKeyMismatch: boolean }): DeviceConnectError {
  const { where } = o;
  if (o.hostKeyMismatch) return new DeviceConnectError('ERR_DEVICE_HOST_KEY', `the host key of ${where} is not the pinned one`, { cause: e });
  if (e.level === 'client-authentication') return new DeviceConnectError('ERR_DEVICE_AUTH', `${where} refused the credentials of ${o.username}`, { cause: e });
  if (e.level === 'client-timeout') return new DeviceConnectError('ERR_DEVICE_TIMEOUT', `no SSH handshake with ${where} within ${o.timeoutMs} ms`, { cause: e });
  const errno = (e as NodeJS.ErrnoException).code;
  return new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `cannot reach ${where}${errno !== undefined ? ` (${errno})` : ''}`, { cause: e });
}

/** ssh2's settings to dial the target; the host key must digest to `pin` (any key without one) */
function sshDialConfig(target: DeviceTarget, timeoutMs: number, pin: Buffer | undefined, onMismatch: () => void): ConnectConfig {
  const cfg: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.username,
    readyTimeout: timeoutMs,
    keepaliveInterval: 0,
    hostVerifier: (key: Buffer) => {
      if (!pin) return true;
      const ok = timingSafeEqual(createHash('sha256').update(key).digest(), pin);
      if (!ok) onMismatch();
      return ok;
    },
  };
  if (target.password !== undefined) cfg.password = target.password;
  if (target.privateKey !== undefined) cfg.privateKey = target.privateKey;
  cfg.authHandler = sshAuthOrder(target);
  return cfg;
}

/**
 * The SSH login methods tried, in ssh2's own order, but without its opening 'none' request, which only asks the
 * device which methods it takes (RFC 4252 section 5.2: a client may begin with any method): one round trip and
 * one refused login fewer per session. 'none' is still tried last, for a device that takes it.
 */
export function sshAuthOrder(target: Pick<DeviceTarget, 'password' | 'privateKey'>): Array<'password' | 'publickey' | 'none'> {
  const order: Array<'password' | 'publickey' | 'none'> = [];
  if (target.password !== undefined) order.push('password');
  if (target.privateKey !== undefined) order.push('publickey');
  order.push('none');
  return order;
}

/**
 * Dial, log in, open the NETCONF session. ssh2 may emit errors at any time, also after we gave up: the client
 * keeps its error listener for its whole life; once the session is open, a connection error ends the session.
 */
function dialSsh(target: DeviceTarget, where: string, pin: Buffer | undefined, options: DeviceConnectOptions): Promise<DeviceSession> {
  const client = new ssh2.Client();
  const attempt = new Bounded<DeviceSession>({
    timeoutMs: options.timeoutMs, signal: options.signal,
    timedOut: () => new DeviceConnectError('ERR_DEVICE_TIMEOUT', `no NETCONF session with ${where} within ${options.timeoutMs} ms`),
    aborted: () => new DeviceConnectError('ERR_DEVICE_ABORTED', `connection to ${where} aborted`, { cause: options.signal?.reason }),
  });
  const end = (): void => endSshConnection(client, options.peerCloseMs ?? PEER_CLOSE_MS);
  attempt.onFail(end);
  let hostKeyMismatch = false;
  let session: ClientSession | undefined;
  client.on('error', (e: Error & { level?: string }) => {
    if (session) session.destroy(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `SSH connection to ${where} failed`, { cause: e }));
    else attempt.fail(sshConnectError(e, { where, username: target.username, timeoutMs: options.timeoutMs, hostKeyMismatch }));
  });
  client.on('close', () => {
    if (!session) attempt.fail(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `${where} closed the connection`));
    // a session that ended first (every orderly close: close-session, then the connection) needs no reason
    else if (!session.closed) session.destroy(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `${where} closed the SSH connection`));
  });
  client.on('ready', () => openNetconfChannel(client, where, options.timeoutMs, attempt, {
    opened: (s) => {
      session = s;
      return deviceSessionOf(s, end, end);
    },
  }));
  try {
    client.connect(sshDialConfig(target, options.timeoutMs, pin, () => {
      hostKeyMismatch = true;
    }));
    client.setNoDelay(true);
  } catch (e) {
    attempt.fail(new DeviceConnectError('ERR_DEVICE_CONFIG', `cannot connect to ${where}: bad settings`, { cause: e }));
  }
  return attempt.promise;
}
