/**
 * One NETCONF-over-SSH client session to a device (RFC 6242), with the host key pinned and the failures a
 * southbound caller must tell apart coded:
 *   ERR_DEVICE_UNREACHABLE  TCP refused/reset/unreachable, or the SSH handshake was cut
 *   ERR_DEVICE_TIMEOUT      no session within timeoutMs
 *   ERR_DEVICE_AUTH         the device refused our credentials
 *   ERR_DEVICE_HOST_KEY     the device's host key is not the pinned one
 *   ERR_DEVICE_NETCONF      the netconf subsystem or the hello failed
 *   ERR_DEVICE_ABORTED      the caller's signal was aborted
 *   ERR_DEVICE_CONFIG       the target's settings are unusable (e.g. neither password nor key)
 * The client is src/netconf/client (connectNetconf).
 */
import { createHash } from 'node:crypto';
import { HsvError } from '../errors.js';
import { connectNetconf } from '../netconf/client/connect.js';
import type { ConnectOptions } from '../netconf/client/connect.js';
import type { XmlElement } from '../netconf/xml/types.js';

export interface DeviceTarget {
  host: string;
  port: number;
  username: string;
  password?: string;
  /** private key (OpenSSH or PEM) for publickey auth */
  privateKey?: string;
  /** pinned host key: 'SHA256:<base64>' as OpenSSH prints it (bare base64 or hex also accepted) */
  hostKeySha256?: string;
  /** connect without a pinned host key (tests only; says so in its name) */
  insecureAcceptAnyHostKey?: boolean;
}

/** What the driver and the PVE need from a session. */
export interface DeviceSession {
  /** send an operation; resolves with the <rpc-reply>; rejects with NetconfError on rpc-error */
  rpc(operation: XmlElement, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<XmlElement>;
  /** <notification> elements in order; ends when the session ends */
  notifications(): AsyncIterable<XmlElement>;
  readonly closed: boolean;
  /** resolves when the session is gone, with the reason */
  whenClosed(): Promise<Error | undefined>;
  close(): Promise<void>;
}

export type DeviceConnector = (target: DeviceTarget, options: { timeoutMs: number; signal?: AbortSignal }) => Promise<DeviceSession>;

export class DeviceConnectError extends HsvError {}

/** base64 SHA-256 of an SSH public key blob, unpadded (OpenSSH's fingerprint without 'SHA256:') */
export function sshKeyFingerprint(blob: Buffer): string {
  return createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** Map a failure of connectNetconf to our codes (the cause keeps the original). */
function classify(e: unknown, where: string, username: string): DeviceConnectError {
  const code = (e as { code?: unknown }).code;
  const level = ((e as { cause?: { level?: unknown } }).cause)?.level;
  const errno = ((e as { cause?: { code?: unknown } }).cause)?.code;
  if (code === 'ERR_NETCONF_CLIENT_HOST_KEY') return new DeviceConnectError('ERR_DEVICE_HOST_KEY', `the host key of ${where} is not the pinned one`, { cause: e });
  if (code === 'ERR_NETCONF_CLIENT_CONNECT') {
    if (level === 'client-authentication') return new DeviceConnectError('ERR_DEVICE_AUTH', `${where} refused the credentials of ${username}`, { cause: e });
    if (level === 'client-timeout') return new DeviceConnectError('ERR_DEVICE_TIMEOUT', `no SSH handshake with ${where} in time`, { cause: e });
    return new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `cannot reach ${where}${typeof errno === 'string' ? ` (${errno})` : ''}`, { cause: e });
  }
  if (code === 'ERR_NETCONF_CLIENT_OPTIONS') return new DeviceConnectError('ERR_DEVICE_CONFIG', `bad connection settings for ${where}`, { cause: e });
  if (typeof code === 'string' && code.startsWith('ERR_SESSION_')) return new DeviceConnectError('ERR_DEVICE_NETCONF', `no NETCONF session with ${where} (${code})`, { cause: e });
  return new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `cannot reach ${where}`, { cause: e });
}

/**
 * Connect with the NETCONF client (src/netconf/client: SSH, host key pinned, hello); bounded by timeoutMs
 * and the signal. A target without hostKeySha256 is refused (ERR_DEVICE_HOST_KEY) unless
 * insecureAcceptAnyHostKey is set.
 */
export const connectDevice: DeviceConnector = (target, options) => {
  const where = `${target.host}:${target.port}`;
  return new Promise<DeviceSession>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new DeviceConnectError('ERR_DEVICE_ABORTED', `connection to ${where} aborted`, { cause: options.signal.reason }));
      return;
    }
    if (target.hostKeySha256 === undefined && target.insecureAcceptAnyHostKey !== true) {
      reject(new DeviceConnectError('ERR_DEVICE_HOST_KEY', `no host key pinned for ${where}`));
      return;
    }
    let settled = false;
    const finish = (e: DeviceConnectError | undefined, s?: DeviceSession): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (e) reject(e);
      else resolve(s as DeviceSession);
    };
    const onAbort = (): void => finish(new DeviceConnectError('ERR_DEVICE_ABORTED', `connection to ${where} aborted`, { cause: options.signal?.reason }));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => finish(new DeviceConnectError('ERR_DEVICE_TIMEOUT', `no NETCONF session with ${where} within ${options.timeoutMs} ms`)), options.timeoutMs);
    const co: ConnectOptions = {
      host: target.host, port: target.port, username: target.username,
      connectTimeoutMs: options.timeoutMs, helloTimeoutMs: options.timeoutMs,
    };
    if (target.password !== undefined) co.password = target.password;
    if (target.privateKey !== undefined) co.privateKey = target.privateKey;
    if (target.hostKeySha256 !== undefined) co.hostKeySha256 = target.hostKeySha256;
    else co.insecureAcceptAnyHostKey = true;
    connectNetconf(co).then((c) => {
      if (settled) {
        c.destroy();
        return;
      }
      finish(undefined, {
        rpc: (op, o) => c.rpc(op, o ?? {}),
        notifications: () => c.notifications(),
        get closed() {
          return c.closed;
        },
        whenClosed: () => c.done,
        close: () => c.close().catch(() => c.destroy()),
      });
    }, (e: unknown) => finish(classify(e, where, target.username)));
  });
};
