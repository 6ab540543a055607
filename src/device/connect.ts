/**
 * One NETCONF-over-SSH client session to a device (RFC 6242), with the host key pinned (fail closed) and the
 * failures a southbound caller must tell apart coded:
 *   ERR_DEVICE_UNREACHABLE  TCP refused/reset/unreachable, or the SSH handshake was cut
 *   ERR_DEVICE_TIMEOUT      no session within timeoutMs
 *   ERR_DEVICE_AUTH         the device refused our credentials
 *   ERR_DEVICE_HOST_KEY     the device's host key is not the pinned one (or none is pinned)
 *   ERR_DEVICE_NETCONF      the netconf subsystem or the hello failed
 *   ERR_DEVICE_ABORTED      the caller's signal was aborted
 *   ERR_DEVICE_CONFIG       the target's settings are unusable (no password or key, bad fingerprint)
 *
 * The session layer is src/netconf/session (ClientSession, shared with src/netconf/client); this file owns
 * the SSH connection because a device driver must never crash on a device's late SSH errors: the ssh2 client
 * keeps an 'error' listener for its whole life (a connection that fails, times out or is aborted may still
 * emit "Connection lost before handshake" afterwards). TCP_NODELAY is set (ssh2 never sets it).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import ssh2 from '../netconf/ssh/ssh2.js';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import { HsvError } from '../errors.js';
import { ClientSession } from '../netconf/session/index.js';
import type { XmlElement } from '../netconf/xml/index.js';

export interface DeviceTarget {
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
  close(): Promise<void>;
}

export type DeviceConnector = (target: DeviceTarget, options: { timeoutMs: number; signal?: AbortSignal }) => Promise<DeviceSession>;

export type DeviceConnectErrorCode =
  | 'ERR_DEVICE_ABORTED' | 'ERR_DEVICE_AUTH' | 'ERR_DEVICE_CONFIG' | 'ERR_DEVICE_HOST_KEY' | 'ERR_DEVICE_NETCONF'
  | 'ERR_DEVICE_TIMEOUT' | 'ERR_DEVICE_UNREACHABLE';

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

/** Connect over SSH, open the netconf subsystem, exchange hellos; bounded by timeoutMs and the signal. */
export const connectDevice: DeviceConnector = (target, options) => {
  return new Promise<DeviceSession>((resolve, reject) => {
    const where = `${target.host}:${target.port}`;
    if (options.signal?.aborted) {
      reject(new DeviceConnectError('ERR_DEVICE_ABORTED', `connection to ${where} aborted`, { cause: options.signal.reason }));
      return;
    }
    if (target.callHome === true) {
      reject(new DeviceConnectError('ERR_DEVICE_CONFIG', 'the device calls home: it is reached through the call-home listener, never dialled'));
      return;
    }
    let pin: Buffer | undefined;
    if (target.hostKeySha256 !== undefined) {
      pin = fingerprintBytes(target.hostKeySha256);
      if (!pin) {
        reject(new DeviceConnectError('ERR_DEVICE_CONFIG', `the pinned host key of ${where} is not a SHA-256 fingerprint`));
        return;
      }
    } else if (target.insecureAcceptAnyHostKey !== true) {
      reject(new DeviceConnectError('ERR_DEVICE_HOST_KEY', `no host key pinned for ${where}`));
      return;
    }
    if (target.password === undefined && target.privateKey === undefined) {
      reject(new DeviceConnectError('ERR_DEVICE_CONFIG', `no password or private key for ${where}`));
      return;
    }
    const client = new ssh2.Client();
    let settled = false;
    let hostKeyMismatch = false;
    let session: ClientSession | undefined;
    // ssh2 may emit errors at any time, also after we gave up: always listen
    client.on('error', (e: Error & { level?: string }) => {
      if (session) session.destroy(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `SSH connection to ${where} failed`, { cause: e }));
      else if (hostKeyMismatch) fail('ERR_DEVICE_HOST_KEY', `the host key of ${where} is not the pinned one`, e);
      else if (e.level === 'client-authentication') fail('ERR_DEVICE_AUTH', `${where} refused the credentials of ${target.username}`, e);
      else if (e.level === 'client-timeout') fail('ERR_DEVICE_TIMEOUT', `no SSH handshake with ${where} within ${options.timeoutMs} ms`, e);
      else {
        const errno = (e as NodeJS.ErrnoException).code;
        fail('ERR_DEVICE_UNREACHABLE', `cannot reach ${where}${errno !== undefined ? ` (${errno})` : ''}`, e);
      }
    });
    client.on('close', () => {
      if (session) session.destroy(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `${where} closed the SSH connection`));
      else fail('ERR_DEVICE_UNREACHABLE', `${where} closed the connection`);
    });
    function fail(code: DeviceConnectErrorCode, message: string, cause?: unknown): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      session?.destroy();
      client.end();
      client.destroy();
      reject(new DeviceConnectError(code, message, cause !== undefined ? { cause } : undefined));
    }
    const onAbort = (): void => fail('ERR_DEVICE_ABORTED', `connection to ${where} aborted`, options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => fail('ERR_DEVICE_TIMEOUT', `no NETCONF session with ${where} within ${options.timeoutMs} ms`), options.timeoutMs);
    const cfg: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.username,
      readyTimeout: options.timeoutMs,
      keepaliveInterval: 0,
      hostVerifier: (key: Buffer) => {
        if (!pin) return true;
        const ok = timingSafeEqual(createHash('sha256').update(key).digest(), pin);
        if (!ok) hostKeyMismatch = true;
        return ok;
      },
    };
    if (target.password !== undefined) cfg.password = target.password;
    if (target.privateKey !== undefined) cfg.privateKey = target.privateKey;
    client.on('ready', () => {
      client.subsys('netconf', (err: Error | undefined, channel: ClientChannel) => {
        if (err) {
          fail('ERR_DEVICE_NETCONF', `${where} refused the netconf subsystem`, err);
          return;
        }
        if (settled) {
          channel.destroy();
          return;
        }
        ClientSession.open(channel, { helloTimeoutMs: options.timeoutMs }).then((s) => {
          if (settled) {
            s.destroy();
            return;
          }
          settled = true;
          session = s;
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          const closedP = s.conn.whenClosed().then(() => {
            client.end();
            return s.closeReason;
          });
          resolve({
            rpc: (op, o) => s.rpc(op, o ?? {}),
            notifications: () => s.notifications(),
            serverCapabilities: s.serverCapabilities,
            base11: s.base11,
            get closed() {
              return s.closed;
            },
            whenClosed: () => closedP,
            async close() {
              await s.close(2000).catch(() => undefined);
              client.end();
              client.destroy();
            },
          });
        }, (e: unknown) => fail('ERR_DEVICE_NETCONF', `no NETCONF hello from ${where}`, e));
      });
    });
    try {
      client.connect(cfg);
      client.setNoDelay(true);
    } catch (e) {
      fail('ERR_DEVICE_CONFIG', `cannot connect to ${where}: bad settings`, e);
    }
  });
};
