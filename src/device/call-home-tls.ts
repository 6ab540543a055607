/**
 * NETCONF Call Home over TLS (RFC 8071 section 4), the NETCONF client's side: listen on the TLS call-home port
 * (IANA netconf-ch-tls, 4335), accept the TCP connection a device opens, and run the TLS CLIENT role over it
 * (the northbound client's TLS settings: src/netconf/client tlsClientContext, TLS 1.3 preferred, 1.2 allowed),
 * presenting our client certificate, which the device maps to a NETCONF user (RFC 7589 section 7).
 *
 * Identity (RFC 8071 section 4.1 C4/C5): the device is known by its certificate, never by its source address:
 *   1. an entry whose pinned certificate SHA-256 (`certSha256`) is the presented certificate's; with a `ca` the
 *      chain must also verify to that CA;
 *   2. else an entry without a pin whose `ca` the chain verifies to (each link by signature, validity dates by
 *      OpenSSL) and whose name (`serverName`, default the henb-id) the certificate carries (RFC 6125: DNS or IP
 *      subjectAltName, as for a dialled device).
 * Anything else is refused (closed before any NETCONF byte) and logged at warn with the certificate's SHA-256,
 * subject and the reason, so that an operator can enrol it; `refused` counts by fingerprint.
 *
 * NETCONF over TLS has one session per connection (RFC 7589): the NETCONF session is opened at once on an
 * identified connection (the device's server waits for our hello) and held until `connect` claims it; closing
 * it ends the connection, and the device calls again (its reconnect strategy) for the next session. A newer
 * unclaimed call from the same device replaces the older unclaimed one.
 */
import type { X509Certificate } from 'node:crypto';
import { createServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Logger } from '../log/logger.js';
import { TLS_VERSIONS, certSha256, certificatesOfPem, parseFingerprint, peerCertificateChain, verifiedChain } from '../netconf/tls/index.js';
import { describeCertificateError, tlsClientContext } from '../netconf/client/index.js';
import { DeviceConnectError, deviceSessionOverTls } from './connect.js';
import type { DeviceSession } from './connect.js';

/** IANA "netconf-ch-tls" (RFC 8071 section 7) */
export const NETCONF_CALL_HOME_TLS_PORT = 4335;

export interface CallHomeConnectionInfo {
  henbId: string;
  since: Date;
  remoteAddress: string;
  remotePort: number;
}

/** how a TLS call-home device's certificate identifies it (at least one of ca and certSha256) */
export interface CallHomeTlsDevice {
  henbId: string;
  /** PEM of the CA(s) the device's certificate must chain to */
  ca?: string;
  /** the pinned SHA-256 of the device's certificate (hex, colons allowed) */
  certSha256?: string;
  /** the name its certificate must carry when identified by CA (default: the henb-id) */
  serverName?: string;
}

/** our side of the TLS handshake on accepted call-home connections */
export interface CallHomeTlsSettings {
  /** default: the SSH listener's host */
  host?: string;
  /** default 4335 (0: a free port, tests) */
  port?: number;
  /** our client certificate (PEM, with intermediates) and key: the devices map it to a user */
  cert: string;
  key: string;
  /** CA(s) trusted for every device besides each device's own `ca` */
  ca?: string;
}

interface Enrolled {
  device: CallHomeTlsDevice;
  pin: Buffer | undefined;
  cas: X509Certificate[];
}

interface HeldTls {
  henbId: string;
  session: DeviceSession;
  info: CallHomeConnectionInfo;
  claimed: boolean;
}

interface Waiter {
  resolve(h: HeldTls): void;
  reject(e: Error): void;
}

export interface TlsCallHome {
  listen(host: string): Promise<{ host: string; port: number }>;
  setDevice(d: CallHomeTlsDevice): void;
  removeDevice(henbId: string): void;
  has(henbId: string): boolean;
  /** the device's held NETCONF session, or wait for its call (bounded by timeoutMs and the signal) */
  connect(henbId: string, timeoutMs: number, signal?: AbortSignal): Promise<DeviceSession>;
  connection(henbId: string): CallHomeConnectionInfo | undefined;
  close(): Promise<void>;
}

export type TlsCallHomeConfigError = (message: string) => Error;

export function createTlsCallHome(o: CallHomeTlsSettings & {
  log: Logger; handshakeTimeoutMs: number; maxPending: number; refused: Map<string, number>; configError: TlsCallHomeConfigError;
  listenError: (message: string, cause: unknown) => Error; onChange?: (henbId: string, since: Date | undefined) => void;
}): TlsCallHome {
  const log = o.log;
  const enrolled = new Map<string, Enrolled>();
  const held = new Map<string, HeldTls>(); // henb-id -> the unclaimed session
  const live = new Map<string, Set<HeldTls>>(); // henb-id -> every open call-home session (claimed or not)
  const waiters = new Map<string, Set<Waiter>>();
  const sockets = new Set<Socket>();
  const baseCas = o.ca !== undefined ? certificatesOfPem(o.ca) : [];
  if (o.ca !== undefined && baseCas.length === 0) throw o.configError('call home over TLS: ca holds no PEM certificate');
  let pending = 0;
  let closed = false;
  let server: NetServer | undefined;

  function setDevice(d: CallHomeTlsDevice): void {
    const pin = d.certSha256 !== undefined ? parseFingerprint(d.certSha256) : undefined;
    if (d.certSha256 !== undefined && pin === undefined) throw o.configError(`call home: the pinned certificate of ${d.henbId} is not a SHA-256 fingerprint (64 hex digits, colons allowed)`);
    const cas = d.ca !== undefined ? certificatesOfPem(d.ca) : [];
    if (d.ca !== undefined && cas.length === 0) throw o.configError(`call home: the CA of ${d.henbId} holds no PEM certificate`);
    if (pin === undefined && cas.length === 0 && baseCas.length === 0) throw o.configError(`call home over TLS: ${d.henbId} has neither a pinned certificate nor a CA to identify it by`);
    if (pin !== undefined) {
      for (const [id, e] of enrolled) {
        if (id !== d.henbId && e.pin?.equals(pin) === true) throw o.configError(`call home: ${d.henbId} and ${id} pin the same certificate; a calling device would be ambiguous`);
      }
    }
    const old = enrolled.get(d.henbId);
    enrolled.set(d.henbId, { device: { ...d }, pin, cas: cas.length > 0 ? cas : baseCas });
    if (old !== undefined && (old.device.ca !== d.ca || old.device.certSha256 !== d.certSha256 || old.device.serverName !== d.serverName)) dropHeld(d.henbId);
  }

  function dropHeld(henbId: string): void {
    const h = held.get(henbId);
    held.delete(henbId);
    void h?.session.close();
  }

  function removeDevice(henbId: string): void {
    if (!enrolled.delete(henbId)) return;
    dropHeld(henbId);
  }

  /** the trust anchors of the handshake: every enrolled CA and the listener's */
  function caBundle(): string | undefined {
    const pems = new Set<string>();
    if (o.ca !== undefined) pems.add(o.ca);
    for (const e of enrolled.values()) if (e.device.ca !== undefined) pems.add(e.device.ca);
    return pems.size > 0 ? [...pems].join('\n') : undefined;
  }

  /** which enrolled device this certificate chain is, or why none */
  function identify(sent: X509Certificate[], socket: TLSSocket): { henbId: string } | { reason: string } {
    const leaf = sent[0];
    if (!leaf) return { reason: 'no certificate' };
    const fp = certSha256(leaf);
    const chainsTo = (e: Enrolled): boolean => {
      const chain = verifiedChain(leaf, [...e.cas, ...sent.slice(1)]);
      const root = chain[chain.length - 1]!;
      return e.cas.some((c) => c.raw.equals(root.raw)) || chain.slice(1).some((c) => e.cas.some((x) => x.raw.equals(c.raw)));
    };
    const pinned = [...enrolled.values()].find((e) => e.pin?.equals(fp) === true);
    if (pinned !== undefined) {
      if (pinned.device.ca !== undefined) {
        if (!socket.authorized) return { reason: describeCertificateError(String(socket.authorizationError), String(socket.authorizationError)) + ` (${String(socket.authorizationError)})` };
        if (!chainsTo(pinned)) return { reason: `pinned for ${pinned.device.henbId}, but not issued by its CA` };
      } else {
        const now = Date.now();
        if (Date.parse(leaf.validTo) < now) return { reason: `pinned for ${pinned.device.henbId}, but ${describeCertificateError('CERT_HAS_EXPIRED', '')} (CERT_HAS_EXPIRED)` };
        if (Date.parse(leaf.validFrom) > now) return { reason: `pinned for ${pinned.device.henbId}, but ${describeCertificateError('CERT_NOT_YET_VALID', '')} (CERT_NOT_YET_VALID)` };
      }
      return { henbId: pinned.device.henbId };
    }
    if (!socket.authorized) {
      const code = String(socket.authorizationError ?? 'not authorized');
      return { reason: `no device pins it, and ${describeCertificateError(code, code)} (${code})` };
    }
    const peer = { subject: { CN: leaf.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? '' }, subjectaltname: leaf.subjectAltName ?? '' } as unknown as PeerCertificate;
    const byName = [...enrolled.values()].filter((e) => e.pin === undefined && e.cas.length > 0 && chainsTo(e)
      && checkServerIdentity(e.device.serverName ?? e.device.henbId, peer) === undefined);
    if (byName.length === 1) return { henbId: byName[0]!.device.henbId };
    if (byName.length > 1) return { reason: `its name fits several devices (${byName.map((e) => e.device.henbId).join(', ')}); pin their certificates` };
    return { reason: 'issued by a trusted CA, but to no enrolled device\'s name (its henb-id or tls server-name)' };
  }

  function onSocket(socket: Socket): void {
    socket.on('error', () => undefined);
    const remoteAddress = socket.remoteAddress ?? '';
    const remotePort = socket.remotePort ?? 0;
    if (closed || pending >= o.maxPending) {
      log.warn('call-home connection refused', { transport: 'tls', reason: closed ? 'closing' : 'too many connections not yet identified', remoteAddress, remotePort });
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    sockets.add(socket);
    pending++;
    let counted = true;
    const uncount = (): void => {
      if (counted) pending--;
      counted = false;
    };
    socket.once('close', () => {
      sockets.delete(socket);
      uncount();
    });
    // RFC 8071 section 4.1 C3: the NETCONF client starts the TLS handshake on the accepted connection
    const ca = caBundle();
    const t = tlsConnect({
      socket, secureContext: tlsClientContext({ cert: o.cert, key: o.key, ca }), ...TLS_VERSIONS,
      // identified below by certificate (pin or CA + name); authorizationError still reports OpenSSL's verdict
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => {
      log.warn('call-home TLS handshake timed out; closing', { remoteAddress, remotePort, ms: o.handshakeTimeoutMs });
      t.destroy();
    }, o.handshakeTimeoutMs);
    t.on('error', (e: Error & { code?: string }) => {
      if (counted) log.warn('call-home TLS handshake failed', { remoteAddress, remotePort, reason: describeCertificateError(e.code, e.message), code: e.code });
    });
    t.once('close', () => clearTimeout(timer));
    t.once('secureConnect', () => {
      const sent = peerCertificateChain(t); // first: see peerCertificateChain
      const who = identify(sent, t);
      if ('reason' in who) {
        const leaf = sent[0];
        const fingerprint = leaf?.fingerprint256 ?? '(none)';
        o.refused.set(fingerprint, (o.refused.get(fingerprint) ?? 0) + 1);
        log.warn('call-home over TLS refused: the device certificate identifies no enrolled H(e)NB; enrol it by pinning this fingerprint (tls-certificate) or by its CA and name', {
          fingerprint, subject: leaf?.subject.replace(/\n/g, ', '), reason: who.reason, remoteAddress, remotePort,
        });
        clearTimeout(timer);
        uncount();
        t.destroy();
        return;
      }
      const henbId = who.henbId;
      const timeLeft = Math.max(1, o.handshakeTimeoutMs);
      deviceSessionOverTls(t, henbId, timeLeft).then((session) => {
        clearTimeout(timer);
        uncount();
        if (closed || !enrolled.has(henbId)) {
          void session.close();
          return;
        }
        const h: HeldTls = { henbId, session, info: { henbId, since: new Date(), remoteAddress, remotePort }, claimed: false };
        const set = live.get(henbId) ?? new Set<HeldTls>();
        live.set(henbId, set);
        set.add(h);
        void session.whenClosed().then(() => {
          set.delete(h);
          if (set.size === 0 && live.get(henbId) === set) live.delete(henbId);
          if (held.get(henbId) === h) held.delete(henbId);
          log.info('call-home connection ended', { henbId, transport: 'tls', remoteAddress, remotePort });
          if (!live.has(henbId)) o.onChange?.(henbId, undefined);
        });
        log.info('device called home', { henbId, transport: 'tls', remoteAddress, remotePort, protocol: t.getProtocol() });
        o.onChange?.(henbId, h.info.since);
        const ws = waiters.get(henbId);
        const w = ws !== undefined ? ws.values().next().value : undefined;
        if (w !== undefined) {
          h.claimed = true;
          w.resolve(h);
          return;
        }
        const old = held.get(henbId);
        held.set(henbId, h);
        if (old) {
          log.info('device called home again; the older unclaimed connection is closed', { henbId, transport: 'tls' });
          void old.session.close();
        }
      }, (e: unknown) => {
        clearTimeout(timer);
        uncount();
        log.warn('call-home over TLS: no NETCONF session', { henbId, remoteAddress, remotePort, err: (e as Error).message });
      });
    });
  }

  function waitFor(henbId: string, timeoutMs: number, signal?: AbortSignal): Promise<HeldTls> {
    const h = held.get(henbId);
    if (h && !h.session.closed) {
      held.delete(henbId);
      h.claimed = true;
      return Promise.resolve(h);
    }
    return new Promise<HeldTls>((resolve, reject) => {
      const set = waiters.get(henbId) ?? new Set<Waiter>();
      waiters.set(henbId, set);
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set.delete(w);
        if (set.size === 0 && waiters.get(henbId) === set) waiters.delete(henbId);
      };
      const w: Waiter = {
        resolve: (x) => {
          done();
          resolve(x);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      const onAbort = (): void => w.reject(new DeviceConnectError('ERR_DEVICE_ABORTED', `waiting for ${henbId} to call home aborted`, { cause: signal?.reason }));
      const timer = setTimeout(() => w.reject(new DeviceConnectError('ERR_DEVICE_TIMEOUT', `${henbId} did not call home over TLS within ${timeoutMs} ms (or its session is in use: NETCONF over TLS has one session per connection)`)), timeoutMs);
      set.add(w);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  return {
    async listen(defaultHost) {
      if (server) throw o.listenError('call home over TLS: already listening', undefined);
      const srv = createServer(onSocket);
      server = srv;
      const host = o.host ?? defaultHost;
      const port = o.port ?? NETCONF_CALL_HOME_TLS_PORT;
      const addr = await new Promise<{ host: string; port: number }>((resolve, reject) => {
        srv.once('error', (e) => reject(o.listenError(`call home: cannot listen on ${host}:${port} for TLS (${(e as NodeJS.ErrnoException).code ?? e.message})`, e)));
        srv.listen(port, host, () => {
          const a = srv.address() as { address: string; port: number };
          resolve({ host: a.address, port: a.port });
        });
      });
      srv.on('error', (e) => log.error('call-home TLS listener error', { err: e }));
      log.info('listening for NETCONF call home (TLS)', addr);
      return addr;
    },
    setDevice,
    removeDevice,
    has: (henbId) => enrolled.has(henbId),
    async connect(henbId, timeoutMs, signal) {
      if (signal?.aborted === true) throw new DeviceConnectError('ERR_DEVICE_ABORTED', `connection to ${henbId} aborted`, { cause: signal.reason });
      if (!enrolled.has(henbId)) throw new DeviceConnectError('ERR_DEVICE_CONFIG', `${henbId} is not enrolled for call home over TLS`);
      if (closed) throw new DeviceConnectError('ERR_DEVICE_UNREACHABLE', 'the call-home listener is closed');
      const h = await waitFor(henbId, timeoutMs, signal);
      return h.session;
    },
    connection(henbId) {
      const set = live.get(henbId);
      if (!set || set.size === 0) return undefined;
      const newest = [...set].reduce((a, b) => (b.info.since >= a.info.since ? b : a));
      return { ...newest.info };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const ws of [...waiters.values()]) for (const w of [...ws]) w.reject(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', 'the call-home listener is closed'));
      await Promise.all([...live.values()].flatMap((s) => [...s]).map((h) => h.session.close().catch(() => undefined)));
      held.clear();
      for (const s of sockets) s.destroy();
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    },
  };
}
