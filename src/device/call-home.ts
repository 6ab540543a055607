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
 * With `tls` in the options the listener also accepts NETCONF Call Home over TLS (RFC 8071 section 4, IANA port
 * 4335: ./call-home-tls.ts): devices enrolled with transport tls are identified by their certificate (pinned
 * SHA-256, or CA + name) and reached through the same `connect` (target.transport 'tls', by henbId).
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import ssh2 from '../netconf/ssh/ssh2.js';
import type { Client, ClientChannel } from 'ssh2';
import { HsvError } from '../errors.js';
import { silentLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import { ClientSession } from '../netconf/session/index.js';
import { DeviceConnectError, deviceSessionOf, fingerprintBytes, sshKeyFingerprint } from './connect.js';
import type { DeviceConnector, DeviceSession, DeviceTarget } from './connect.js';
import { createTlsCallHome } from './call-home-tls.js';
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

interface Held {
  device: CallHomeDevice;
  client: Client;
  info: CallHomeConnectionInfo;
}

interface Waiter {
  resolve(h: Held): void;
  reject(e: Error): void;
}

const fpKey = (f: string): string | undefined => fingerprintBytes(f)?.toString('hex');

export function createCallHomeListener(options: CallHomeListenerOptions = {}): CallHomeListener {
  const log = (options.log ?? silentLogger).child({ component: 'call-home' });
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const maxPending = options.maxPending ?? 32;
  const byKey = new Map<string, CallHomeDevice>(); // fingerprint hex -> device
  const keyOf = new Map<string, string>(); // henb-id -> fingerprint hex
  const held = new Map<string, Held>(); // fingerprint hex -> connection
  const waiters = new Map<string, Set<Waiter>>();
  const sockets = new Set<Socket>();
  const refused = new Map<string, number>();
  let pending = 0;
  let closed = false;
  let server: NetServer | undefined;

  const tlsCh: TlsCallHome | undefined = options.tls !== undefined ? createTlsCallHome({
    ...options.tls, log, handshakeTimeoutMs, maxPending, refused,
    configError: (m) => new CallHomeError('ERR_CALL_HOME_CONFIG', m),
    listenError: (m, cause) => new CallHomeError('ERR_CALL_HOME_LISTEN', m, cause !== undefined ? { cause } : undefined),
    ...(options.onChange !== undefined ? { onChange: options.onChange } : {}),
  }) : undefined;

  function setDevice(d: CallHomeDevice): void {
    if (d.transport === 'tls') {
      if (tlsCh === undefined) throw new CallHomeError('ERR_CALL_HOME_CONFIG', `call home: ${d.henbId} calls home over TLS, but the listener has no TLS settings (call-home.tls-listen and the OAM's device client certificate)`);
      removeSsh(d.henbId);
      tlsCh.setDevice({ henbId: d.henbId, ...d.tls });
      return;
    }
    tlsCh?.removeDevice(d.henbId);
    if (d.hostKeySha256 === undefined) throw new CallHomeError('ERR_CALL_HOME_CONFIG', `call home: ${d.henbId} has no pinned host key (a call-home device over SSH is identified by it)`);
    const key = fpKey(d.hostKeySha256);
    if (key === undefined) throw new CallHomeError('ERR_CALL_HOME_CONFIG', `call home: the host key of ${d.henbId} is not a SHA-256 fingerprint`);
    const owner = byKey.get(key);
    if (owner !== undefined && owner.henbId !== d.henbId) {
      throw new CallHomeError('ERR_CALL_HOME_CONFIG', `call home: ${d.henbId} and ${owner.henbId} pin the same host key; a calling device would be ambiguous`);
    }
    const old = keyOf.get(d.henbId);
    if (old !== undefined && old !== key) removeDevice(d.henbId);
    byKey.set(key, { ...d });
    keyOf.set(d.henbId, key);
  }

  function removeDevice(henbId: string): void {
    tlsCh?.removeDevice(henbId);
    removeSsh(henbId);
  }

  function removeSsh(henbId: string): void {
    const key = keyOf.get(henbId);
    if (key === undefined) return;
    keyOf.delete(henbId);
    byKey.delete(key);
    const h = held.get(key);
    if (h) h.client.end();
  }
  for (const d of options.devices ?? []) setDevice(d);

  function onSocket(socket: Socket): void {
    socket.on('error', () => undefined); // ssh2 reports its own
    const remoteAddress = socket.remoteAddress ?? '';
    const remotePort = socket.remotePort ?? 0;
    if (closed || pending >= maxPending) {
      log.warn('call-home connection refused', { reason: closed ? 'closing' : 'too many connections not yet authenticated', remoteAddress, remotePort });
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
    const client = new ssh2.Client();
    let device: CallHomeDevice | undefined;
    let key: string | undefined;
    let tried = 0;
    client.on('error', (e: Error & { level?: string }) => {
      if (device === undefined) return; // an unknown host key: already logged
      log.warn('call-home SSH connection failed', { henbId: device.henbId, remoteAddress, remotePort, level: e.level, err: e.message });
    });
    client.on('ready', () => {
      uncount();
      if (device === undefined || key === undefined || closed) {
        client.end();
        return;
      }
      const info: CallHomeConnectionInfo = { henbId: device.henbId, since: new Date(), remoteAddress, remotePort };
      const h: Held = { device, client, info };
      const old = held.get(key);
      held.set(key, h);
      if (old) {
        log.info('device called home again; the older connection is closed', { henbId: device.henbId });
        old.client.end();
      }
      log.info('device called home', { henbId: device.henbId, remoteAddress, remotePort });
      options.onChange?.(device.henbId, info.since);
      const ws = waiters.get(key);
      if (ws) {
        waiters.delete(key);
        for (const w of ws) w.resolve(h);
      }
    });
    client.on('close', () => {
      if (key !== undefined && held.get(key)?.client === client) {
        held.delete(key);
        log.info('call-home connection ended', { henbId: device?.henbId, remoteAddress, remotePort });
        if (device) options.onChange?.(device.henbId, undefined);
      }
    });
    try {
      client.connect({
        sock: socket,
        // ssh2 wants a name up front; the real one comes from the entry the host key names (authHandler)
        username: 'call-home',
        readyTimeout: handshakeTimeoutMs,
        keepaliveInterval: 0,
        hostVerifier: (blob: Buffer): boolean => {
          const digest = createHash('sha256').update(blob).digest('hex');
          const d = byKey.get(digest);
          if (d === undefined) {
            const fingerprint = sshKeyFingerprint(blob);
            refused.set(fingerprint, (refused.get(fingerprint) ?? 0) + 1);
            log.warn('call-home from an unknown host key refused; enrol it by pinning this fingerprint in the inventory', { fingerprint, remoteAddress, remotePort });
            return false;
          }
          device = d;
          key = digest;
          return true;
        },
        authHandler: (_methodsLeft: string[] | null, _partial: boolean | null, next: (auth: unknown) => void): void => {
          const d = device;
          if (d === undefined) return next(false);
          const methods: unknown[] = [];
          if (d.privateKey !== undefined) methods.push({ type: 'publickey', username: d.username, key: d.privateKey });
          if (d.password !== undefined) methods.push({ type: 'password', username: d.username, password: d.password });
          next(methods[tried++] ?? false);
        },
      } as Parameters<Client['connect']>[0]);
    } catch (e) {
      log.warn('call-home connection not started', { remoteAddress, err: (e as Error).message });
      socket.destroy();
    }
  }

  /** the held connection of `key`, or wait for the device to call (bounded by timeoutMs and the signal) */
  function waitFor(key: string, where: string, timeoutMs: number, signal?: AbortSignal): Promise<Held> {
    const h = held.get(key);
    if (h) return Promise.resolve(h);
    return new Promise<Held>((resolve, reject) => {
      const set = waiters.get(key) ?? new Set<Waiter>();
      waiters.set(key, set);
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set.delete(w);
        if (set.size === 0 && waiters.get(key) === set) waiters.delete(key);
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
      const onAbort = (): void => {
        done();
        reject(new DeviceConnectError('ERR_DEVICE_ABORTED', `waiting for ${where} to call home aborted`, { cause: signal?.reason }));
      };
      const timer = setTimeout(() => {
        done();
        reject(new DeviceConnectError('ERR_DEVICE_TIMEOUT', `${where} did not call home within ${timeoutMs} ms`));
      }, timeoutMs);
      set.add(w);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  const connect: DeviceConnector = async (target: DeviceTarget, o) => {
    if (target.transport === 'tls') {
      if (tlsCh === undefined) throw new DeviceConnectError('ERR_DEVICE_CONFIG', 'a device calls home over TLS, but the call-home listener has no TLS settings');
      if (target.henbId === undefined) throw new DeviceConnectError('ERR_DEVICE_CONFIG', 'a TLS call-home target needs its henb-id');
      return tlsCh.connect(target.henbId, o.timeoutMs, o.signal);
    }
    const where = target.hostKeySha256 !== undefined ? `the device with host key ${target.hostKeySha256}` : 'a call-home device';
    if (o.signal?.aborted) throw new DeviceConnectError('ERR_DEVICE_ABORTED', `connection to ${where} aborted`, { cause: o.signal.reason });
    const key = target.hostKeySha256 !== undefined ? fpKey(target.hostKeySha256) : undefined;
    if (key === undefined) throw new DeviceConnectError('ERR_DEVICE_CONFIG', 'a call-home device needs a pinned host key (it is identified by nothing else)');
    if (!byKey.has(key)) throw new DeviceConnectError('ERR_DEVICE_CONFIG', `${where} is not enrolled for call home`);
    if (closed) throw new DeviceConnectError('ERR_DEVICE_UNREACHABLE', 'the call-home listener is closed');
    const started = Date.now();
    const h = await waitFor(key, byKey.get(key)?.henbId ?? where, o.timeoutMs, o.signal);
    const left = Math.max(1, o.timeoutMs - (Date.now() - started));
    return openSession(h, left, o.signal);
  };

  function openSession(h: Held, timeoutMs: number, signal?: AbortSignal): Promise<DeviceSession> {
    const where = h.device.henbId;
    return new Promise<DeviceSession>((resolve, reject) => {
      let settled = false;
      let channel: ClientChannel | undefined;
      const fail = (code: ConstructorParameters<typeof DeviceConnectError>[0], message: string, cause?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        h.client.off('close', onGone);
        channel?.destroy();
        reject(new DeviceConnectError(code, message, cause !== undefined ? { cause } : undefined));
      };
      const onAbort = (): void => fail('ERR_DEVICE_ABORTED', `session to ${where} aborted`, signal?.reason);
      const onGone = (): void => fail('ERR_DEVICE_UNREACHABLE', `${where} dropped its call-home connection`);
      const timer = setTimeout(() => fail('ERR_DEVICE_TIMEOUT', `no NETCONF session with ${where} within ${timeoutMs} ms`), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      h.client.once('close', onGone);
      h.client.subsys('netconf', (err: Error | undefined, ch: ClientChannel) => {
        if (err) return fail('ERR_DEVICE_NETCONF', `${where} refused the netconf subsystem`, err);
        channel = ch;
        if (settled) {
          ch.destroy();
          return;
        }
        ClientSession.open(ch, { helloTimeoutMs: timeoutMs }).then((s) => {
          if (settled) {
            s.destroy();
            return;
          }
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          h.client.off('close', onGone);
          // the session ends with its connection (a paused channel may never see its own end)
          const onConnGone = (): void => s.destroy(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `${where} dropped its call-home connection`));
          h.client.once('close', onConnGone);
          resolve(deviceSessionOf(s, () => {
            h.client.off('close', onConnGone);
            ch.destroy();
          }, () => ch.destroy()));
        }, (e: unknown) => fail('ERR_DEVICE_NETCONF', `no NETCONF hello from ${where}`, e));
      });
    });
  }

  return {
    async listen() {
      if (server) throw new CallHomeError('ERR_CALL_HOME_LISTEN', 'call home: already listening');
      const srv = createServer(onSocket);
      server = srv;
      const host = options.host ?? '0.0.0.0';
      const port = options.port ?? NETCONF_CALL_HOME_SSH_PORT;
      const addr = await new Promise<{ host: string; port: number }>((resolve, reject) => {
        srv.once('error', (e) => reject(new CallHomeError('ERR_CALL_HOME_LISTEN', `call home: cannot listen on ${host}:${port} (${(e as NodeJS.ErrnoException).code ?? e.message})`, { cause: e })));
        srv.listen(port, host, () => {
          const a = srv.address() as { address: string; port: number };
          resolve({ host: a.address, port: a.port });
        });
      });
      srv.on('error', (e) => log.error('call-home listener error', { err: e }));
      log.info('listening for NETCONF call home (SSH)', addr);
      if (tlsCh === undefined) return addr;
      try {
        return { ...addr, tls: await tlsCh.listen(host) };
      } catch (e) {
        await new Promise<void>((resolve) => srv.close(() => resolve()));
        throw e;
      }
    },
    setDevice,
    removeDevice,
    connect,
    connection(henbId) {
      const key = keyOf.get(henbId);
      const h = key !== undefined ? held.get(key) : undefined;
      return h ? { ...h.info } : tlsCh?.connection(henbId);
    },
    refused,
    async close() {
      if (closed) return;
      closed = true;
      for (const ws of [...waiters.values()]) for (const w of [...ws]) w.reject(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', 'the call-home listener is closed'));
      const ends = [...held.values()].map((h) => new Promise<void>((resolve) => {
        h.client.once('close', () => resolve());
        h.client.end();
        setTimeout(resolve, 1000).unref();
      }));
      held.clear();
      await Promise.all([...ends, tlsCh?.close()]);
      for (const s of sockets) s.destroy();
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    },
  };
}
