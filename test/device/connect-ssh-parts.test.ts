/** The dialled SSH connector's pure parts: what a target needs before dialling, and how ssh2's errors are coded. */
import { describe, expect, it } from 'vitest';
import { sshConnectError, sshTargetPin } from '../../src/device/connect.js';
import type { DeviceTarget } from '../../src/device/connect.js';

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
