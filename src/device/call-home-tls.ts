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
import { CallAdmission, CallWaiters, closeServer, countRefused, listenForCalls } from './call-home-accept.js';
import type { Admitted } from './call-home-accept.js';
import { DeviceConnectError, deviceSessionOverTls } from './connect.js';
import type { DeviceSession, OwnDeviceSession } from './connect.js';

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

/** an enrolled device with its pin and CA(s) parsed (its own `ca`, else the listener's) */
export interface Enrolled {
  device: CallHomeTlsDevice;
  pin: Buffer | undefined;
  cas: X509Certificate[];
}

interface HeldTls {
  henbId: string;
  session: OwnDeviceSession;
  info: CallHomeConnectionInfo;
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

export interface TlsCallHomeOptions extends CallHomeTlsSettings {
  log: Logger;
  handshakeTimeoutMs: number;
  maxPending: number;
  /** refused certificates (SHA-256 fingerprint -> count), shared with the SSH listener */
  refused: Map<string, number>;
  configError: TlsCallHomeConfigError;
  listenError: (message: string, cause: unknown) => Error;
  onChange?: (henbId: string, since: Date | undefined) => void;
  /** after we end a connection, the time the device has to close its side before the socket is destroyed; default PEER_CLOSE_MS (5 s) */
  peerCloseMs?: number;
}

export function createTlsCallHome(o: TlsCallHomeOptions): TlsCallHome {
  return new TlsCallHomeListener(o);
}

/** The devices enrolled for call home over TLS, by henb-id, with what identifies each (pin, CA + name). */
export class TlsEnrolment {
  private readonly enrolled = new Map<string, Enrolled>();
  private readonly baseCas: X509Certificate[];

  /** `ca`: the listener's CA(s), for devices without their own */
  constructor(private readonly ca: string | undefined, private readonly configError: TlsCallHomeConfigError) {
    this.baseCas = ca !== undefined ? certificatesOfPem(ca) : [];
    if (ca !== undefined && this.baseCas.length === 0) throw configError('call home over TLS: ca holds no PEM certificate');
  }

  /**
   * Enrol (or update) `d`; the config error for a pin that is no fingerprint or that another device has, a CA
   * without a certificate, or nothing to identify it by. True when an enrolled device's identity changed (its
   * unclaimed session must go).
   */
  set(d: CallHomeTlsDevice): boolean {
    const pin = d.certSha256 !== undefined ? parseFingerprint(d.certSha256) : undefined;
    if (d.certSha256 !== undefined && pin === undefined) throw this.configError(`call home: the pinned certificate of ${d.henbId} is not a SHA-256 fingerprint (64 hex digits, colons allowed)`);
    const cas = d.ca !== undefined ? certificatesOfPem(d.ca) : [];
    if (d.ca !== undefined && cas.length === 0) throw this.configError(`call home: the CA of ${d.henbId} holds no PEM certificate`);
    if (pin === undefined && cas.length === 0 && this.baseCas.length === 0) throw this.configError(`call home over TLS: ${d.henbId} has neither a pinned certificate nor a CA to identify it by`);
    if (pin !== undefined) {
      for (const [id, e] of this.enrolled) {
        if (id !== d.henbId && e.pin?.equals(pin) === true) throw this.configError(`call home: ${d.henbId} and ${id} pin the same certificate; a calling device would be ambiguous`);
      }
    }
    const old = this.enrolled.get(d.henbId);
    this.enrolled.set(d.henbId, { device: { ...d }, pin, cas: cas.length > 0 ? cas : this.baseCas });
    return old !== undefined && (old.device.ca !== d.ca || old.device.certSha256 !== d.certSha256 || old.device.serverName !== d.serverName);
  }

  /** false when it was not enrolled */
  remove(henbId: string): boolean {
    return this.enrolled.delete(henbId);
  }

  has(henbId: string): boolean {
    return this.enrolled.has(henbId);
  }

  all(): Enrolled[] {
    return [...this.enrolled.values()];
  }

  /** the trust anchors of the handshake: every enrolled CA and the listener's */
  caBundle(): string | undefined {
    const pems = new Set<string>();
    if (this.ca !== undefined) pems.add(this.ca);
    for (const e of this.enrolled.values()) if (e.device.ca !== undefined) pems.add(e.device.ca);
    return pems.size > 0 ? [...pems].join('\n') : undefined;
  }
}

/** OpenSSL's verdict on the presented chain against the handshake's CA bundle */
export interface TlsVerdict {
  authorized: boolean;
  authorizationError?: unknown;
}

/** `sent` (leaf first) chains to one of the entry's CAs */
function chainsTo(sent: X509Certificate[], e: Enrolled): boolean {
  const chain = verifiedChain(sent[0]!, [...e.cas, ...sent.slice(1)]);
  const root = chain[chain.length - 1]!;
  return e.cas.some((c) => c.raw.equals(root.raw)) || chain.slice(1).some((c) => e.cas.some((x) => x.raw.equals(c.raw)));
}

/**
 * Which enrolled device this certificate chain (leaf first) is, or why none: by pin first (and its CA, when the
 * entry has one; else the leaf's validity dates), else by CA and name among the entries without a pin.
 */
export function identifyCaller(sent: X509Certificate[], verdict: TlsVerdict, enrolled: Enrolled[]): { henbId: string } | { reason: string } {
  const leaf = sent[0];
  if (!leaf) return { reason: 'no certificate' };
  const fp = certSha256(leaf);
  const pinned = enrolled.find((e) => e.pin?.equals(fp) === true);
  if (pinned !== undefined) return checkPinned(pinned, sent, verdict);
  if (!verdict.authorized) {
    const code = String(verdict.authorizationError ?? 'not authorized');
    return { reason: `no device pins it, and ${describeCertificateError(code, code)} (${code})` };
  }
  return byCaAndName(sent, enrolled);
}

/** the entry pinning the leaf: with a CA the chain must verify to it, without one the leaf must be in its dates */
function checkPinned(pinned: Enrolled, sent: X509Certificate[], verdict: TlsVerdict): { henbId: string } | { reason: string } {
  const leaf = sent[0]!;
  const henbId = pinned.device.henbId;
  if (pinned.device.ca !== undefined) {
    if (!verdict.authorized) return { reason: describeCertificateError(String(verdict.authorizationError), String(verdict.authorizationError)) + ` (${String(verdict.authorizationError)})` };
    if (!chainsTo(sent, pinned)) return { reason: `pinned for ${henbId}, but not issued by its CA` };
    return { henbId };
  }
  const now = Date.now();
  if (Date.parse(leaf.validTo) < now) return { reason: `pinned for ${henbId}, but ${describeCertificateError('CERT_HAS_EXPIRED', '')} (CERT_HAS_EXPIRED)` };
  if (Date.parse(leaf.validFrom) > now) return { reason: `pinned for ${henbId}, but ${describeCertificateError('CERT_NOT_YET_VALID', '')} (CERT_NOT_YET_VALID)` };
  return { henbId };
}

/** the one unpinned entry whose CA issued the chain and whose name (server-name, else henb-id) the leaf carries */
function byCaAndName(sent: X509Certificate[], enrolled: Enrolled[]): { henbId: string } | { reason: string } {
  const leaf = sent[0]!;
  const peer = { subject: { CN: leaf.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? '' }, subjectaltname: leaf.subjectAltName ?? '' } as unknown as PeerCertificate;
  const byName = enrolled.filter((e) => e.pin === undefined && e.cas.length > 0 && chainsTo(sent, e)
    && checkServerIdentity(e.device.serverName ?? e.device.henbId, peer) === undefined);
  if (byName.length === 1) return { henbId: byName[0]!.device.henbId };
  if (byName.length > 1) return { reason: `its name fits several devices (${byName.map((e) => e.device.henbId).join(', ')}); pin their certificates` };
  return { reason: 'issued by a trusted CA, but to no enrolled device\'s name (its henb-id or tls server-name)' };
}

/**
 * The TLS call-home listener: accepted connections get our TLS client handshake, an identified device's NETCONF
 * session is opened at once and held (one per device, unclaimed) until `connect` claims it.
 */
class TlsCallHomeListener implements TlsCallHome {
  private readonly log: Logger;
  private readonly enrolment: TlsEnrolment;
  private readonly held = new Map<string, HeldTls>(); // henb-id -> the unclaimed session
  private readonly live = new Map<string, Set<HeldTls>>(); // henb-id -> every open call-home session (claimed or not)
  private readonly waiters = new CallWaiters<string, HeldTls>();
  private readonly admission: CallAdmission;
  private closed = false;
  private server: NetServer | undefined;

  constructor(private readonly o: TlsCallHomeOptions) {
    this.log = o.log;
    this.enrolment = new TlsEnrolment(o.ca, o.configError);
    this.admission = new CallAdmission({ maxPending: o.maxPending, log: this.log, isClosed: () => this.closed, transport: 'tls', identified: 'identified' });
  }

  setDevice(d: CallHomeTlsDevice): void {
    if (this.enrolment.set(d)) this.dropHeld(d.henbId);
  }

  private dropHeld(henbId: string): void {
    const h = this.held.get(henbId);
    this.held.delete(henbId);
    void h?.session.close();
  }

  removeDevice(henbId: string): void {
    if (this.enrolment.remove(henbId)) this.dropHeld(henbId);
  }

  has(henbId: string): boolean {
    return this.enrolment.has(henbId);
  }

  async listen(defaultHost: string): Promise<{ host: string; port: number }> {
    if (this.server) throw this.o.listenError('call home over TLS: already listening', undefined);
    const host = this.o.host ?? defaultHost;
    const port = this.o.port ?? NETCONF_CALL_HOME_TLS_PORT;
    const server = createServer((s) => this.onSocket(s));
    this.server = server;
    return listenForCalls(server, {
      host, port, log: this.log, transport: 'TLS',
      error: (detail, cause) => this.o.listenError(`call home: cannot listen on ${host}:${port} for TLS (${detail})`, cause),
    });
  }

  /** RFC 8071 section 4.1 C3: the NETCONF client starts the TLS handshake on the accepted connection */
  private onSocket(socket: Socket): void {
    const call = this.admission.admit(socket);
    if (call === undefined) return;
    const t = tlsConnect({
      socket, secureContext: tlsClientContext({ cert: this.o.cert, key: this.o.key, ca: this.enrolment.caBundle() }), ...TLS_VERSIONS,
      // identified below by certificate (pin or CA + name); authorizationError still reports OpenSSL's verdict
      rejectUnauthorized: false,
    });
    const { remoteAddress, remotePort } = call;
    const timer = setTimeout(() => {
      this.log.warn('call-home TLS handshake timed out; closing', { remoteAddress, remotePort, ms: this.o.handshakeTimeoutMs });
      t.destroy();
    }, this.o.handshakeTimeoutMs);
    t.on('error', (e: Error & { code?: string }) => {
      if (call.counted) this.log.warn('call-home TLS handshake failed', { remoteAddress, remotePort, reason: describeCertificateError(e.code, e.message), code: e.code });
    });
    t.once('close', () => clearTimeout(timer));
    t.once('secureConnect', () => this.onSecure(t, call, timer));
  }

  /** the handshake is done: identify the device by its certificate, then open its NETCONF session */
  private onSecure(t: TLSSocket, call: Admitted, timer: ReturnType<typeof setTimeout>): void {
    const sent = peerCertificateChain(t); // first: see peerCertificateChain
    const who = identifyCaller(sent, { authorized: t.authorized, authorizationError: t.authorizationError }, this.enrolment.all());
    if ('reason' in who) {
      this.refuse(sent[0], who.reason, call);
      clearTimeout(timer);
      call.uncount();
      t.destroy();
      return;
    }
    const henbId = who.henbId;
    deviceSessionOverTls(t, henbId, Math.max(1, this.o.handshakeTimeoutMs), undefined, this.o.peerCloseMs).then((session) => {
      clearTimeout(timer);
      call.uncount();
      if (this.closed || !this.enrolment.has(henbId)) {
        void session.close();
        return;
      }
      this.hold({ henbId, session, info: { henbId, since: new Date(), remoteAddress: call.remoteAddress, remotePort: call.remotePort } }, t.getProtocol());
    }, (e: unknown) => {
      clearTimeout(timer);
      call.uncount();
      this.log.warn('call-home over TLS: no NETCONF session', { henbId, remoteAddress: call.remoteAddress, remotePort: call.remotePort, err: (e as Error).message });
    });
  }

  private refuse(leaf: X509Certificate | undefined, reason: string, call: Admitted): void {
    const fingerprint = leaf?.fingerprint256 ?? '(none)';
    countRefused(this.o.refused, fingerprint);
    this.log.warn('call-home over TLS refused: the device certificate identifies no enrolled H(e)NB; enrol it by pinning this fingerprint (tls-certificate) or by its CA and name', {
      fingerprint, subject: leaf?.subject.replace(/\n/g, ', '), reason, remoteAddress: call.remoteAddress, remotePort: call.remotePort,
    });
  }

  /** a device's new session: live until it closes; handed to the longest waiting caller, else held unclaimed */
  private hold(h: HeldTls, protocol: string | null): void {
    const { henbId, info: { remoteAddress, remotePort } } = h;
    this.track(h);
    this.log.info('device called home', { henbId, transport: 'tls', remoteAddress, remotePort, protocol });
    this.o.onChange?.(henbId, h.info.since);
    if (this.waiters.resolveFirst(henbId, h)) return;
    const old = this.held.get(henbId);
    this.held.set(henbId, h);
    if (old) {
      this.log.info('device called home again; the older unclaimed connection is closed', { henbId, transport: 'tls' });
      void old.session.close();
    }
  }

  /**
   * count the session among the device's live ones until it closes (then the connection is reported gone); waits on
   * `ended`, not whenClosed(): an orderly end's reason (an error and its stack) is made only for a caller that asks
   */
  private track(h: HeldTls): void {
    const { henbId, info: { remoteAddress, remotePort } } = h;
    const set = this.live.get(henbId) ?? new Set<HeldTls>();
    this.live.set(henbId, set);
    set.add(h);
    void h.session.ended.then(() => {
      set.delete(h);
      if (set.size === 0 && this.live.get(henbId) === set) this.live.delete(henbId);
      if (this.held.get(henbId) === h) this.held.delete(henbId);
      this.log.info('call-home connection ended', { henbId, transport: 'tls', remoteAddress, remotePort });
      if (!this.live.has(henbId)) this.o.onChange?.(henbId, undefined);
    });
  }

  async connect(henbId: string, timeoutMs: number, signal?: AbortSignal): Promise<DeviceSession> {
    if (signal?.aborted === true) throw new DeviceConnectError('ERR_DEVICE_ABORTED', `connection to ${henbId} aborted`, { cause: signal.reason });
    if (!this.enrolment.has(henbId)) throw new DeviceConnectError('ERR_DEVICE_CONFIG', `${henbId} is not enrolled for call home over TLS`);
    if (this.closed) throw new DeviceConnectError('ERR_DEVICE_UNREACHABLE', 'the call-home listener is closed');
    const h = this.claimHeld(henbId) ?? await this.waiters.wait(henbId, {
      where: henbId, timeoutMs, signal,
      timedOut: `${henbId} did not call home over TLS within ${timeoutMs} ms (or its session is in use: NETCONF over TLS has one session per connection)`,
    });
    return h.session;
  }

  /** the device's unclaimed open session, now claimed */
  private claimHeld(henbId: string): HeldTls | undefined {
    const h = this.held.get(henbId);
    if (!h || h.session.closed) return undefined;
    this.held.delete(henbId);
    return h;
  }

  connection(henbId: string): CallHomeConnectionInfo | undefined {
    const set = this.live.get(henbId);
    if (!set || set.size === 0) return undefined;
    const newest = [...set].reduce((a, b) => (b.info.since >= a.info.since ? b : a));
    return { ...newest.info };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.rejectAll(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', 'the call-home listener is closed'));
    await Promise.all([...this.live.values()].flatMap((s) => [...s]).map((h) => h.session.close().catch(() => undefined)));
    this.held.clear();
    this.admission.destroyAll();
    await closeServer(this.server);
  }
}
