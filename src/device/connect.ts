/**
 * One NETCONF-over-SSH client session to a device (RFC 6242), with the host key pinned and the failures a
 * southbound caller must tell apart coded:
 *   ERR_DEVICE_UNREACHABLE  TCP refused/reset/unreachable, or the SSH handshake was cut
 *   ERR_DEVICE_TIMEOUT      no session within timeoutMs
 *   ERR_DEVICE_AUTH         the device refused our credentials
 *   ERR_DEVICE_HOST_KEY     the device's host key is not the pinned one
 *   ERR_DEVICE_NETCONF      the netconf subsystem or the hello failed
 *   ERR_DEVICE_ABORTED      the caller's signal was aborted
 * The session layer is src/netconf/session (ClientSession); ssh2 carries the bytes.
 */
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import { HsvError } from '../errors.js';
import { ClientSession } from '../netconf/session/client-session.js';
import type { XmlElement } from '../netconf/xml/types.js';

export interface DeviceTarget {
  host: string;
  port: number;
  username: string;
  password?: string;
  /** private key (OpenSSH or PEM) for publickey auth */
  privateKey?: string;
  /**
   * pinned host key: base64 SHA-256 of the host key blob, as OpenSSH prints it ('SHA256:' prefix and '='
   * padding optional). When absent the host key is NOT checked (tests and first contact only).
   */
  hostKeySha256?: string;
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

function normalizeFingerprint(f: string): string {
  return f.replace(/^SHA256:/, '').replace(/=+$/, '');
}

/** Connect over SSH, open the netconf subsystem, exchange hellos. */
export const connectDevice: DeviceConnector = (target, options) => {
  return new Promise<DeviceSession>((resolve, reject) => {
    const client = new ssh2.Client();
    let settled = false;
    let hostKeyMismatch = false;
    let authAttempted = false;
    const fail = (code: string, message: string, cause?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      client.end();
      client.destroy();
      reject(new DeviceConnectError(code, message, cause !== undefined ? { cause } : undefined));
    };
    const where = `${target.host}:${target.port}`;
    const onAbort = (): void => fail('ERR_DEVICE_ABORTED', `connection to ${where} aborted`, options.signal?.reason);
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => fail('ERR_DEVICE_TIMEOUT', `no NETCONF session with ${where} within ${options.timeoutMs} ms`), options.timeoutMs);
    const pinned = target.hostKeySha256 !== undefined ? normalizeFingerprint(target.hostKeySha256) : undefined;
    const cfg: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.username,
      readyTimeout: options.timeoutMs,
      keepaliveInterval: 0,
      hostVerifier: (key: Buffer) => {
        if (pinned === undefined) return true;
        const ok = sshKeyFingerprint(key) === pinned;
        if (!ok) hostKeyMismatch = true;
        return ok;
      },
    };
    if (target.password !== undefined) cfg.password = target.password;
    if (target.privateKey !== undefined) cfg.privateKey = target.privateKey;
    client.on('handshake', () => {
      authAttempted = true;
    });
    client.on('error', (e: Error & { level?: string }) => {
      if (hostKeyMismatch) fail('ERR_DEVICE_HOST_KEY', `the host key of ${where} is not the pinned one`, e);
      else if (e.level === 'client-authentication') fail('ERR_DEVICE_AUTH', `${where} refused the credentials of ${target.username}`, e);
      else if (e.level === 'client-timeout') fail('ERR_DEVICE_TIMEOUT', `no SSH handshake with ${where} within ${options.timeoutMs} ms`, e);
      else fail('ERR_DEVICE_UNREACHABLE', `cannot reach ${where}${(e as NodeJS.ErrnoException).code ? ` (${(e as NodeJS.ErrnoException).code})` : authAttempted ? '' : ' (no SSH handshake)'}`, e);
    });
    client.on('close', () => fail('ERR_DEVICE_UNREACHABLE', `${where} closed the connection`));
    client.on('ready', () => {
      client.subsys('netconf', (err: Error | undefined, channel: ClientChannel) => {
        if (err) {
          fail('ERR_DEVICE_NETCONF', `${where} refused the netconf subsystem`, err);
          return;
        }
        ClientSession.open(channel, { helloTimeoutMs: options.timeoutMs }).then((session) => {
          if (settled) {
            session.destroy();
            return;
          }
          settled = true;
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          let closeReason: Error | undefined;
          const closedP = session.conn.whenClosed().then(() => {
            closeReason = session.closeReason;
            client.end();
            return closeReason;
          });
          client.removeAllListeners('close');
          client.removeAllListeners('error');
          client.on('error', () => session.destroy());
          client.on('close', () => session.destroy());
          resolve({
            rpc: (op, o) => session.rpc(op, o ?? {}),
            notifications: () => session.notifications(),
            get closed() {
              return session.closed;
            },
            whenClosed: () => closedP,
            async close() {
              await session.close(2000).catch(() => undefined);
              client.end();
              client.destroy();
            },
          });
        }, (e: unknown) => fail('ERR_DEVICE_NETCONF', `no NETCONF hello from ${where}`, e));
      });
    });
    try {
      client.connect(cfg);
    } catch (e) {
      fail('ERR_DEVICE_UNREACHABLE', `cannot connect to ${where}`, e);
    }
  });
};
