/**
 * Regression (half-closed sockets, 6 December 2026): the device layer's SSH connections that we end (a session the
 * driver closes or releases, a call-home connection dropped) stayed half-closed for good when the device never
 * closed its side: ssh2's destroy() after its end() does nothing. Now the socket is destroyed `peerCloseMs` after
 * we end it (src/netconf/peer-close.ts). The device (our NETCONF server) sits behind a proxy that withholds every
 * FIN (test/helpers/never-close-proxy.ts); the bound is 100 ms and each wait below allows 25 times that.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect as tcpConnect } from 'node:net';
import { connectDevice } from '../../src/device/connect.js';
import type { DeviceSession } from '../../src/device/connect.js';
import { createCallHomeListener } from '../../src/device/call-home.js';
import type { CallHomeListener } from '../../src/device/call-home.js';
import { startServer } from '../netconf/server/helpers.js';
import type { Started } from '../netconf/server/helpers.js';
import { startNeverCloseProxy } from '../helpers/never-close-proxy.js';
import type { NeverCloseProxy } from '../helpers/never-close-proxy.js';
import { captureConnects } from '../helpers/socket-capture.js';
import type { ConnectCapture } from '../helpers/socket-capture.js';
import { until } from '../helpers/until.js';

const PEER_CLOSE_MS = 100;

let device: Started | undefined;
let proxy: NeverCloseProxy | undefined;
let listener: CallHomeListener | undefined;
let capture: ConnectCapture;
const sessions: DeviceSession[] = [];
beforeEach(() => {
  capture = captureConnects();
});
afterEach(async () => {
  capture.stop();
  for (const s of sessions.splice(0)) void s.close();
  await listener?.close();
  listener = undefined;
  await proxy?.close();
  proxy = undefined;
  await device?.stop();
  device = undefined;
});

async function dialled(limits: { idleTimeoutMs?: number } = {}): Promise<DeviceSession> {
  device = await startServer({ limits });
  proxy = await startNeverCloseProxy(device.port);
  const s = await connectDevice(
    { host: '127.0.0.1', port: proxy.port, username: 'admin', password: 'secret-pw', hostKeySha256: device.fingerprint },
    { timeoutMs: 5_000, peerCloseMs: PEER_CLOSE_MS },
  );
  sessions.push(s);
  return s;
}

describe('the dialler: a session we close or release, to a device that never closes its side', () => {
  it('close(): the SSH connection\'s socket is destroyed', async () => {
    const s = await dialled();
    const [sock] = capture.to(proxy!.port);
    expect(sock).toBeDefined();
    await s.close();
    await until(() => proxy!.frozen === 1, 'an end of the connection', 5_000);
    await until(() => sock!.closed, 'our socket to close', 2_500);
  });

  it('the device ended the session (its idle timeout) but its FIN never arrives: the socket is destroyed', async () => {
    const s = await dialled({ idleTimeoutMs: 300 });
    const [sock] = capture.to(proxy!.port);
    await s.whenClosed();
    await until(() => sock!.closed, 'our socket to close', 2_500);
  });
});

describe('call home over SSH: a connection the listener drops, from a device that never closes its side', () => {
  it('removeDevice: the held connection is destroyed and reported gone', async () => {
    device = await startServer();
    const changes: Array<{ henbId: string; since: Date | undefined }> = [];
    listener = createCallHomeListener({
      host: '127.0.0.1', port: 0, peerCloseMs: PEER_CLOSE_MS,
      devices: [{ henbId: 'henb-1', hostKeySha256: device.fingerprint, username: 'admin', password: 'secret-pw' }],
      onChange: (henbId, since) => changes.push({ henbId, since }),
    });
    const { port } = await listener.listen();
    proxy = await startNeverCloseProxy(port);
    // the device calls home through the proxy (RFC 8071: it opens TCP, then serves SSH on it)
    const out = tcpConnect({ host: '127.0.0.1', port: proxy.port });
    out.on('error', () => undefined);
    await new Promise<void>((r) => out.once('connect', () => r()));
    expect(device.server.callHome(out)).toBe(true);
    await until(() => changes.some((c) => c.since !== undefined), 'the device to be held', 5_000);
    listener.removeDevice('henb-1');
    await until(() => proxy!.frozen === 1, 'an end of the connection', 5_000);
    await until(() => changes.some((c) => c.since === undefined), 'the dropped connection to close', 2_500);
    expect(changes).toEqual([{ henbId: 'henb-1', since: expect.any(Date) }, { henbId: 'henb-1', since: undefined }]);
  });
});
