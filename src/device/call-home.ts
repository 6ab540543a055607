/**
 * NETCONF Call Home over SSH (RFC 8071 section 3.1), the NETCONF client's side: listen on the call-home port
 * (IANA netconf-ch-ssh, 4334), accept the TCP connection a device opens, and run the SSH CLIENT role over it
 * (ssh2 Client with `sock`): the device is the SSH server, authenticates with its host key, and we log in
 * with the credentials of the inventory entry that host key names.
 *
 * Identity: the device is the inventory entry whose pinned host key (SHA256 fingerprint) it presents during
 * the key exchange, never the connection's source address (RFC 8071 section 3.1 C5 and section 6: behind NAT
 * the address says nothing). A host key that no entry pins is refused before any credential is sent, and
 * logged at warn with its SHA256 fingerprint and the source address, so that an operator can enrol it.
 *
 * The listener holds each device's authenticated SSH connection; `connect(target)` opens a NETCONF session
 * (a `netconf` subsystem channel, RFC 6242) on it, waiting for the device to call when it is not connected.
 * Several sessions may share one connection (the driver's subscription, a replay window); closing a session
 * closes its channel only. A device that calls again replaces its older connection (it restarted, or its
 * NAT mapping changed). Codes (DeviceConnectError, the dialled connector's):
 *   ERR_DEVICE_TIMEOUT      the device did not call home within the connect budget
 *   ERR_DEVICE_UNREACHABLE  the connection ended before or while the session opened
 *   ERR_DEVICE_NETCONF      the device refused the netconf subsystem, or no hello
 *   ERR_DEVICE_CONFIG       the target has no pinned host key (a call-home device is known by nothing else)
 *   ERR_DEVICE_ABORTED      the caller's signal was aborted
 * Listener errors: ERR_CALL_HOME_LISTEN (cannot listen), ERR_CALL_HOME_CONFIG (a host key that is not a
 * fingerprint, or one pinned by two devices).
 *
 * A connection we end (a device removed or re-keyed, an older connection replaced, the listener closed) is destroyed
 * when the device has not closed its side within `peerCloseMs` (src/netconf/peer-close.ts).
 *
 * With `tls` in the options the listener also accepts NETCONF Call Home over TLS (RFC 8071 section 4, IANA port
 * 4335: ./call-home-tls.ts): devices enrolled with transport tls are identified by their certificate (pinned
 * SHA-256, or CA + name) and reached through the same `connect` (target.transport 'tls', by henbId).
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import ssh2 from '../netconf/ssh/ssh2.js';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { HsvError } from '../errors.js';
import { silentLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import { Bounded } from './bounded.js';
import { CallAdmission, CallWaiters, closeServer, countRefused, listenForCalls } from './call-home-accept.js';
import type { Admitted } from './call-home-accept.js';
import { DeviceConnectError, deviceSessionOf, fingerprintBytes, openNetconfChannel, sshKeyFingerprint } from './connect.js';
import type { DeviceConnector, DeviceSession, DeviceTarget } from './connect.js';
import { createTlsCallHome } from './call-home-tls.js';
import { PEER_CLOSE_MS, destroyUnlessClosedAfterEnd, endSshConnection } from '../netconf/peer-close.js';
import type { CallHomeConnectionInfo, CallHomeTlsDevice, CallHomeTlsSettings, TlsCallHome } from './call-home-tls.js';

export type { CallHomeConnectionInfo, CallHomeTlsDevice, CallHomeTlsSettings } from './call-home-tls.js';

/** IANA "netconf-ch-ssh" (RFC 8071 section 7) */
export const NETCONF_CALL_HOME_SSH_PORT = 4334;

/** what the listener needs of an inventory entry: its pinned host key and the login (SSH), or how its certificate identifies it (TLS) */
export interface CallHomeDevice {
  henbId: string;
  /** SSH (default): 'SHA256:<base64>' (or the other forms fingerprintBytes accepts); required for SSH */
  hostKeySha256?: string;
  username: string;
  password?: string;
  privateKey?: string;
  /** ssh (default, RFC 8071 section 3) or tls (section 4: needs the listener's `tls` and this entry's `tls`) */
  transport?: 'ssh' | 'tls';
  tls?: Omit<CallHomeTlsDevice, 'henbId'>;
}

export interface CallHomeListenerOptions {
  /** default 0.0.0.0 */
  host?: string;
  /** default 4334 (0: a free port, tests) */
  port?: number;
  devices?: CallHomeDevice[];
  /** TCP accept to authenticated SSH connection, ms (default 10000) */
  handshakeTimeoutMs?: number;
  /** connections not yet authenticated at once; more are closed at accept (default 32) */
  maxPending?: number;
  log?: Logger;
  /** told when a device's connection comes and goes (state for /hsv:henbs) */
  onChange?: (henbId: string, since: Date | undefined) => void;
  /**
   * also accept NETCONF Call Home over TLS (RFC 8071 section 4) on tls.port (default 4335, host default `host`),
   * presenting tls.cert/key as our client certificate
   */
  tls?: CallHomeTlsSettings;
  /** after we end a connection, the time the device has to close its side before the socket is destroyed; default PEER_CLOSE_MS (5 s) */
  peerCloseMs?: number;
}

export interface CallHomeListener {
  /** listen for SSH call home, and for TLS call home when configured (its address in `tls`) */
  listen(): Promise<{ host: string; port: number; tls?: { host: string; port: number } }>;
  /** add or replace a device (by henb-id); its host key must not be another device's */
  setDevice(device: CallHomeDevice): void;
  removeDevice(henbId: string): void;
  /** the DeviceConnector for call-home targets: a NETCONF session on the device's held connection */
  connect: DeviceConnector;
  /** the device's current connection, if it is called home now */
  connection(henbId: string): CallHomeConnectionInfo | undefined;
  /** host keys refused since start (fingerprint -> count), for tests and diagnostics */
  readonly refused: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/**
 * The call-home enrolment of an inventory entry (the driver's and the PVE's): undefined when it does not call
 * home, or when it lacks what identifies it (SSH: the pinned host key; TLS: a pinned certificate or CA, or the
 * listener's CA).
 */
export function callHomeDeviceOf(entry: DeviceTarget & { henbId: string }): CallHomeDevice | undefined {
  if (entry.callHome !== true) return undefined;
  const login = {
    henbId: entry.henbId, username: entry.username,
    ...(entry.password !== undefined ? { password: entry.password } : {}),
    ...(entry.privateKey !== undefined ? { privateKey: entry.privateKey } : {}),
  };
  if (entry.transport === 'tls') {
    const t = entry.tls;
    return {
      ...login, transport: 'tls',
      tls: { ...(t?.ca !== undefined ? { ca: t.ca } : {}), ...(t?.certSha256 !== undefined ? { certSha256: t.certSha256 } : {}), ...(t?.serverName !== undefined ? { serverName: t.serverName } : {}) },
    };
  }
  return entry.hostKeySha256 !== undefined ? { ...login, hostKeySha256: entry.hostKeySha256 } : undefined;
}

export type CallHomeErrorCode = 'ERR_CALL_HOME_CONFIG' | 'ERR_CALL_HOME_LISTEN';

export class CallHomeError extends HsvError<CallHomeErrorCode> {}

/** an authenticated call-home SSH connection */
interface Held {
  device: CallHomeDevice;
  client: Client;
  /** the accepted TCP connection under `client` */
  socket: Socket;
  info: CallHomeConnectionInfo;
}

/**
 * still usable for a new session: not ended by us (dropConnection, a newer call) nor by the device, though its
 * 'close' (which removes it from `held`) may not have come yet; ssh2 would refuse a channel on it ("Not connected")
 */
const usable = (h: Held): boolean => !h.socket.destroyed && h.socket.writable && !h.socket.readableEnded;

/** the device a calling connection's host key names, once the key exchange has shown it */
interface Caller {
  device?: CallHomeDevice;
  key?: string;
}

/** the hex SHA-256 of a host key fingerprint in any accepted form (the enrolment's key), or undefined */
export const fpKey = (f: string): string | undefined => fingerprintBytes(f)?.toString('hex');

const configError = (message: string): CallHomeError => new CallHomeError('ERR_CALL_HOME_CONFIG', message);

/**
 * The devices enrolled for call home over SSH, by the SHA-256 of their pinned host key (hex): one device per key,
 * so that a calling host key names exactly one inventory entry.
 */
export class SshEnrolment {
  private readonly byKey = new Map<string, CallHomeDevice>(); // fingerprint hex -> device
  private readonly keyOf = new Map<string, string>(); // henb-id -> fingerprint hex

  /**
   * Enrol (or update) `d`; ERR_CALL_HOME_CONFIG without a pinned SHA-256 host key or for one another device pins.
   * `replaced`: the key it was enrolled with before, when the key changed (its connection must go).
   */
  set(d: CallHomeDevice): { key: string; replaced?: string } {
    if (d.hostKeySha256 === undefined) throw configError(`call home: ${d.henbId} has no pinned host key (a call-home device over SSH is identified by it)`);
    const key = fpKey(d.hostKeySha256);
    if (key === undefined) throw configError(`call home: the host key of ${d.henbId} is not a SHA-256 fingerprint`);
    const owner = this.byKey.get(key);
    if (owner !== undefined && owner.henbId !== d.henbId) {
      throw configError(`call home: ${d.henbId} and ${owner.henbId} pin the same host key; a calling device would be ambiguous`);
    }
    const old = this.keyOf.get(d.henbId);
    if (old !== undefined && old !== key) this.remove(d.henbId);
    this.byKey.set(key, { ...d });
    this.keyOf.set(d.henbId, key);
    return old !== undefined && old !== key ? { key, replaced: old } : { key };
  }

  /** the key the device was enrolled with, if it was */
  remove(henbId: string): string | undefined {
    const key = this.keyOf.get(henbId);
    if (key === undefined) return undefined;
    this.keyOf.delete(henbId);
    this.byKey.delete(key);
    return key;
  }

  device(key: string): CallHomeDevice | undefined {
    return this.byKey.get(key);
  }

  key(henbId: string): string | undefined {
    return this.keyOf.get(henbId);
  }
}

/** the SSH login methods of an enrolled device, in the order tried: its key, then its password */
export function sshAuthMethods(d: CallHomeDevice): unknown[] {
  const methods: unknown[] = [];
  if (d.privateKey !== undefined) methods.push({ type: 'publickey', username: d.username, key: d.privateKey });
  if (d.password !== undefined) methods.push({ type: 'password', username: d.username, password: d.password });
  return methods;
}

/** how a call-home target names its device in errors */
function whereOf(target: DeviceTarget): string {
  return target.hostKeySha256 !== undefined ? `the device with host key ${target.hostKeySha256}` : 'a call-home device';
}

export function createCallHomeListener(options: CallHomeListenerOptions = {}): CallHomeListener {
  return new SshCallHome(options);
}

/**
 * The listener: SSH call home here (enrolment, the held connections, sessions on them), TLS call home delegated
 * to ./call-home-tls.ts; a device is enrolled on one of the two by its transport.
 */
class SshCallHome implements CallHomeListener {
  private readonly log: Logger;
  private readonly handshakeTimeoutMs: number;
  private readonly peerCloseMs: number;
  private readonly enrolment = new SshEnrolment();
  private readonly held = new Map<string, Held>(); // fingerprint hex -> connection
  private readonly waiters = new CallWaiters<string, Held>();
  private readonly admission: CallAdmission;
  private readonly tlsCh: TlsCallHome | undefined;
  readonly refused = new Map<string, number>();
  private closed = false;
  private server: NetServer | undefined;

  constructor(private readonly options: CallHomeListenerOptions) {
    this.log = (options.log ?? silentLogger).child({ component: 'call-home' });
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.peerCloseMs = options.peerCloseMs ?? PEER_CLOSE_MS;
    const maxPending = options.maxPending ?? 32;
    this.admission = new CallAdmission({ maxPending, log: this.log, isClosed: () => this.closed, identified: 'authenticated' });
    this.tlsCh = options.tls !== undefined ? createTlsCallHome({
      ...options.tls, log: this.log, handshakeTimeoutMs: this.handshakeTimeoutMs, maxPending, refused: this.refused,
      configError,
      listenError: (m, cause) => new CallHomeError('ERR_CALL_HOME_LISTEN', m, cause !== undefined ? { cause } : undefined),
      ...(options.onChange !== undefined ? { onChange: options.onChange } : {}),
      peerCloseMs: this.peerCloseMs,
    }) : undefined;
    for (const d of options.devices ?? []) this.setDevice(d);
  }

  setDevice(d: CallHomeDevice): void {
    if (d.transport === 'tls') {
      if (this.tlsCh === undefined) throw configError(`call home: ${d.henbId} calls home over TLS, but the listener has no TLS settings (call-home.tls-listen and the OAM's device client certificate)`);
      this.removeSsh(d.henbId);
      this.tlsCh.setDevice({ henbId: d.henbId, ...d.tls });
      return;
    }
    this.tlsCh?.removeDevice(d.henbId);
    const { replaced } = this.enrolment.set(d);
    if (replaced !== undefined) this.dropConnection(replaced);
  }

  removeDevice(henbId: string): void {
    this.tlsCh?.removeDevice(henbId);
    this.removeSsh(henbId);
  }

  private removeSsh(henbId: string): void {
    const key = this.enrolment.remove(henbId);
    if (key !== undefined) this.dropConnection(key);
  }

  private dropConnection(key: string): void {
    const h = this.held.get(key);
    if (h !== undefined) endSshConnection(h.client, this.peerCloseMs);
  }

  async listen(): Promise<{ host: string; port: number; tls?: { host: string; port: number } }> {
    if (this.server) throw new CallHomeError('ERR_CALL_HOME_LISTEN', 'call home: already listening');
    const host = this.options.host ?? '0.0.0.0';
    const port = this.options.port ?? NETCONF_CALL_HOME_SSH_PORT;
    const server = createServer((s) => this.onSocket(s));
    this.server = server;
    const address = await listenForCalls(server, {
      host, port, log: this.log, transport: 'SSH',
      error: (detail, cause) => new CallHomeError('ERR_CALL_HOME_LISTEN', `call home: cannot listen on ${host}:${port} (${detail})`, { cause }),
    });
    if (this.tlsCh === undefined) return address;
    try {
      return { ...address, tls: await this.tlsCh.listen(host) };
    } catch (e) {
      await closeServer(server);
      throw e;
    }
  }

  /** a device's TCP connection: the SSH client role on it, the device known by its host key (hostVerifier) */
  private onSocket(socket: Socket): void {
    const call = this.admission.admit(socket);
    if (call === undefined) return;
    destroyUnlessClosedAfterEnd(socket, this.peerCloseMs); // ssh2's own end of it
    const client = new ssh2.Client();
    const caller: Caller = {};
    client.on('error', (e: Error & { level?: string }) => {
      if (caller.device === undefined) return; // an unknown host key: already logged
      this.log.warn('call-home SSH connection failed', { henbId: caller.device.henbId, remoteAddress: call.remoteAddress, remotePort: call.remotePort, level: e.level, err: e.message });
    });
    client.on('ready', () => this.onAuthenticated(client, socket, caller, call));
    client.on('close', () => this.onConnectionClosed(client, caller, call));
    try {
      client.connect(this.sshClientConfig(socket, caller, call));
    } catch (e) {
      this.log.warn('call-home connection not started', { remoteAddress: call.remoteAddress, err: (e as Error).message });
      socket.destroy();
    }
  }

  /** ssh2's client settings over the accepted socket: the host key names the device, whose login we then use */
  private sshClientConfig(socket: Socket, caller: Caller, call: Admitted): ConnectConfig {
    let tried = 0;
    return {
      sock: socket,
      // ssh2 wants a name up front; the real one comes from the entry the host key names (authHandler)
      username: 'call-home',
      readyTimeout: this.handshakeTimeoutMs,
      keepaliveInterval: 0,
      hostVerifier: (blob: Buffer): boolean => this.verifyHostKey(blob, caller, call),
      authHandler: (_methodsLeft: string[] | null, _partial: boolean | null, next: (auth: unknown) => void): void => {
        if (caller.device === undefined) return next(false);
        next(sshAuthMethods(caller.device)[tried++] ?? false);
      },
    } as ConnectConfig;
  }

  /** the host key names an enrolled device, or the call is refused before any credential is sent */
  private verifyHostKey(blob: Buffer, caller: Caller, call: Admitted): boolean {
    const digest = createHash('sha256').update(blob).digest('hex');
    const d = this.enrolment.device(digest);
    if (d === undefined) {
      const fingerprint = sshKeyFingerprint(blob);
      countRefused(this.refused, fingerprint);
      this.log.warn('call-home from an unknown host key refused; enrol it by pinning this fingerprint in the inventory', { fingerprint, remoteAddress: call.remoteAddress, remotePort: call.remotePort });
      return false;
    }
    caller.device = d;
    caller.key = digest;
    return true;
  }

  /** hold the authenticated connection (replacing the device's older one) and hand it to the waiting callers */
  private onAuthenticated(client: Client, socket: Socket, caller: Caller, call: Admitted): void {
    call.uncount();
    const { device, key } = caller;
    if (device === undefined || key === undefined || this.closed) {
      endSshConnection(client, this.peerCloseMs);
      return;
    }
    const { remoteAddress, remotePort } = call;
    const h: Held = { device, client, socket, info: { henbId: device.henbId, since: new Date(), remoteAddress, remotePort } };
    const old = this.held.get(key);
    this.held.set(key, h);
    if (old) {
      this.log.info('device called home again; the older connection is closed', { henbId: device.henbId });
      endSshConnection(old.client, this.peerCloseMs);
    }
    this.log.info('device called home', { henbId: device.henbId, remoteAddress, remotePort });
    this.options.onChange?.(device.henbId, h.info.since);
    this.waiters.resolveAll(key, h);
  }

  private onConnectionClosed(client: Client, caller: Caller, call: Admitted): void {
    const { device, key } = caller;
    if (key === undefined || this.held.get(key)?.client !== client) return;
    this.held.delete(key);
    this.log.info('call-home connection ended', { henbId: device?.henbId, remoteAddress: call.remoteAddress, remotePort: call.remotePort });
    if (device) this.options.onChange?.(device.henbId, undefined);
  }

  /** the DeviceConnector for call-home targets: a NETCONF session on the device's held connection */
  readonly connect: DeviceConnector = async (target, o) => {
    if (target.transport === 'tls') {
      if (this.tlsCh === undefined) throw new DeviceConnectError('ERR_DEVICE_CONFIG', 'a device calls home over TLS, but the call-home listener has no TLS settings');
      if (target.henbId === undefined) throw new DeviceConnectError('ERR_DEVICE_CONFIG', 'a TLS call-home target needs its henb-id');
      return this.tlsCh.connect(target.henbId, o.timeoutMs, o.signal);
    }
    const where = whereOf(target);
    if (o.signal?.aborted) throw new DeviceConnectError('ERR_DEVICE_ABORTED', `connection to ${where} aborted`, { cause: o.signal.reason });
    const key = target.hostKeySha256 !== undefined ? fpKey(target.hostKeySha256) : undefined;
    if (key === undefined) throw new DeviceConnectError('ERR_DEVICE_CONFIG', 'a call-home device needs a pinned host key (it is identified by nothing else)');
    const device = this.enrolment.device(key);
    if (device === undefined) throw new DeviceConnectError('ERR_DEVICE_CONFIG', `${where} is not enrolled for call home`);
    if (this.closed) throw new DeviceConnectError('ERR_DEVICE_UNREACHABLE', 'the call-home listener is closed');
    const started = Date.now();
    // a connection that is ending (ended by us, or by the device after its last session) is not handed out: the
    // session waits for the device's next call instead, within the same budget
    const held = this.held.get(key);
    const h = held !== undefined && usable(held) ? held : await this.waiters.wait(key, { where: device.henbId, timeoutMs: o.timeoutMs, signal: o.signal });
    const left = Math.max(1, o.timeoutMs - (Date.now() - started));
    return openSession(h, left, o.signal);
  };

  connection(henbId: string): CallHomeConnectionInfo | undefined {
    const key = this.enrolment.key(henbId);
    const h = key !== undefined ? this.held.get(key) : undefined;
    return h ? { ...h.info } : this.tlsCh?.connection(henbId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.rejectAll(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', 'the call-home listener is closed'));
    const ends = [...this.held.values()].map((h) => endWithin(h.client, 1000, this.peerCloseMs));
    this.held.clear();
    await Promise.all([...ends, this.tlsCh?.close()]);
    this.admission.destroyAll();
    await closeServer(this.server);
  }
}

/** end an SSH connection (destroyed if the device has not closed it within peerCloseMs); resolves when it closed, or after `ms` */
function endWithin(client: Client, ms: number, peerCloseMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    client.once('close', () => resolve());
    endSshConnection(client, peerCloseMs);
    setTimeout(resolve, ms).unref();
  });
}

/** a NETCONF session on a new netconf channel of the held connection; closing it closes that channel only */
function openSession(h: Held, timeoutMs: number, signal?: AbortSignal): Promise<DeviceSession> {
  const where = h.device.henbId;
  const attempt = new Bounded<DeviceSession>({
    timeoutMs, signal,
    timedOut: () => new DeviceConnectError('ERR_DEVICE_TIMEOUT', `no NETCONF session with ${where} within ${timeoutMs} ms`),
    aborted: () => new DeviceConnectError('ERR_DEVICE_ABORTED', `session to ${where} aborted`, { cause: signal?.reason }),
  });
  const onGone = (): void => attempt.fail(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `${where} dropped its call-home connection`));
  h.client.once('close', onGone);
  attempt.onSettle(() => h.client.off('close', onGone));
  openChannelOn(h, where, timeoutMs, attempt);
  return attempt.promise;
}

/** the netconf channel and its NETCONF session on the held connection, settling `attempt` */
function openChannelOn(h: Held, where: string, timeoutMs: number, attempt: Bounded<DeviceSession>): void {
  let channel: ClientChannel | undefined;
  attempt.onFail(() => channel?.destroy());
  openNetconfChannel(h.client, where, timeoutMs, attempt, {
    // ssh2 refuses a channel at once on a connection that ended after it was handed out ("Not connected"):
    // the same coded failure as its close, and the attempt settled (its timer and listener cleared), never
    // left to reject later with nobody waiting
    notConnected: (cause) => new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `${where} dropped its call-home connection`, { cause }),
    onChannel: (ch) => {
      channel = ch;
    },
    opened: (s, ch) => {
      // the session ends with its connection (a paused channel may never see its own end)
      const onConnGone = (): void => s.destroy(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `${where} dropped its call-home connection`));
      h.client.once('close', onConnGone);
      return deviceSessionOf(s, () => {
        h.client.off('close', onConnGone);
        ch.destroy();
      }, () => ch.destroy());
    },
  });
}
