/** The dialled SSH connector's pure parts: what a target needs before dialling, and how ssh2's errors are coded. */
import { describe, expect, it } from 'vitest';
import type { Client } from 'ssh2';
import { Bounded } from '../../src/device/bounded.js';
import { DeviceConnectError, openNetconfChannel, sshConnectError, sshTargetPin } from '../../src/device/connect.js';
import type { DeviceSession, DeviceTarget } from '../../src/device/connect.js';

const KEY = 'SHA256:' + Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '');
const base: DeviceTarget = { host: '192.0.2.1', port: 830, username: 'oam', password: 'p', hostKeySha256: KEY };

describe('sshTargetPin', () => {
  it('the digest of the pinned key; none for the tests-only insecure flag', () => {
    expect(sshTargetPin(base, 'w')).toEqual(Buffer.alloc(32, 7));
    expect(sshTargetPin({ ...base, hostKeySha256: undefined, insecureAcceptAnyHostKey: true }, 'w')).toBeUndefined();
  });

  it('refuses, with the code the driver keys on: call home, a bad or missing pin, no credential', () => {
    const codeOf = (t: DeviceTarget): unknown => {
      try {
        sshTargetPin(t, 'dev:830');
      } catch (e) {
        return [(e as { code: string }).code, (e as Error).message];
      }
      return undefined;
    };
    expect(codeOf({ ...base, callHome: true })).toEqual(['ERR_DEVICE_CONFIG', expect.stringContaining('never dialled')]);
    expect(codeOf({ ...base, hostKeySha256: 'SHA256:nope' })).toEqual(['ERR_DEVICE_CONFIG', 'the pinned host key of dev:830 is not a SHA-256 fingerprint']);
    expect(codeOf({ ...base, hostKeySha256: undefined })).toEqual(['ERR_DEVICE_HOST_KEY', 'no host key pinned for dev:830']);
    expect(codeOf({ ...base, password: undefined })).toEqual(['ERR_DEVICE_CONFIG', 'no password or private key for dev:830']);
    expect(codeOf({ ...base, password: undefined, privateKey: 'K' })).toBeUndefined();
  });
});

describe('sshConnectError', () => {
  const o = { where: 'dev:830', username: 'oam', timeoutMs: 500, hostKeyMismatch: false };
  const err = (level?: string, code?: string): Error & { level?: string } => Object.assign(new Error('x'), level !== undefined ? { level } : {}, code !== undefined ? { code } : {});

  it('host key mismatch first, then authentication, handshake timeout, else unreachable with the errno', () => {
    expect(sshConnectError(err('client-authentication'), { ...o, hostKeyMismatch: true })).toMatchObject({ code: 'ERR_DEVICE_HOST_KEY' });
    expect(sshConnectError(err('client-authentication'), o)).toMatchObject({ code: 'ERR_DEVICE_AUTH', message: 'dev:830 refused the credentials of oam' });
    expect(sshConnectError(err('client-timeout'), o)).toMatchObject({ code: 'ERR_DEVICE_TIMEOUT', message: 'no SSH handshake with dev:830 within 500 ms' });
    expect(sshConnectError(err('client-socket', 'ECONNREFUSED'), o)).toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE', message: 'cannot reach dev:830 (ECONNREFUSED)' });
    expect(sshConnectError(err(), o)).toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE', message: 'cannot reach dev:830' });
    expect(sshConnectError(err(), o).cause).toBeInstanceOf(Error);
  });
});

describe('openNetconfChannel on a connection that already ended', () => {
  // ssh2's Client.subsys throws "Not connected" synchronously when its socket is no longer writable; from the
  // dialler's 'ready' handler that throw reached nobody (an uncaught exception in the OAM)
  const ended = { subsys: () => { throw new Error('Not connected'); } } as unknown as Client;
  const attemptOf = (): Bounded<DeviceSession> => new Bounded<DeviceSession>({ timeoutMs: 5000, timedOut: () => new Error('timed out'), aborted: () => new Error('aborted') });
  const opened = (): DeviceSession => { throw new Error('never opened'); };

  it('fails the attempt with ERR_DEVICE_UNREACHABLE (its timer cleared), never throws', async () => {
    const attempt = attemptOf();
    expect(() => openNetconfChannel(ended, 'dev:830', 5000, attempt, { opened })).not.toThrow();
    expect(attempt.settled).toBe(true);
    const e = await attempt.promise.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DeviceConnectError);
    expect(e).toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE', message: 'dev:830 closed the connection before its netconf channel opened' });
    expect((e as Error).cause).toMatchObject({ message: 'Not connected' });
  });

  it('the caller words the failure (call home: the device dropped its connection)', async () => {
    const attempt = attemptOf();
    openNetconfChannel(ended, 'henb-1', 5000, attempt, { opened, notConnected: (cause) => new DeviceConnectError('ERR_DEVICE_UNREACHABLE', 'henb-1 dropped its call-home connection', { cause }) });
    await expect(attempt.promise).rejects.toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE', message: 'henb-1 dropped its call-home connection' });
  });
});
