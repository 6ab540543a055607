/**
 * NETCONF over TLS to devices (RFC 7589) and NETCONF Call Home over TLS (RFC 8071 section 4) on loopback:
 * simulated devices listen on TLS (certificates from the fleet CA, mutual authentication with the fleet's
 * client certificate) and call a listener that runs the TLS client role on the accepted connection. Every
 * device connects from 127.0.0.1: the session that reaches the right device (its evidence key id) shows
 * that the device is known by its certificate, not its address. Refusals carry readable, coded errors.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import type { Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet, SimulatedDevice } from '../../src/simulator/simulator.js';
import { connectDevice, deviceTlsSessions } from '../../src/device/connect.js';
import type { DeviceTarget, DeviceTlsSettings } from '../../src/device/connect.js';
import { createCallHomeListener } from '../../src/device/call-home.js';
import type { CallHomeListener } from '../../src/device/call-home.js';
import { createDeviceDriver } from '../../src/device/driver.js';
import { integrityMeasurementXml, parseMeasurementReply } from '../../src/device/wire.js';
import { createLogger } from '../../src/log/logger.js';
import { elements } from '../../src/netconf/xml/index.js';
import { createTestPki } from '../helpers/tls-pki.js';
import type { TestPki } from '../helpers/tls-pki.js';
import { until } from '../helpers/until.js';

let dir: string;
let fleet: Fleet;
let pki: TestPki;
let listener: CallHomeListener;
let chPort: number;
const lines: Array<Record<string, unknown>> = [];
let a: SimulatedDevice;
let b: SimulatedDevice;
let ca: string;
let client: { cert: string; key: string };

const tlsOf = (d: SimulatedDevice, over: Partial<DeviceTlsSettings> = {}): DeviceTlsSettings => ({ ca, cert: client.cert, key: client.key, ...over });
const dialled = (d: SimulatedDevice, over: Partial<DeviceTlsSettings> = {}): DeviceTarget => ({
  henbId: d.henbId, host: '127.0.0.1', port: d.netconfTls!.port, username: d.username, transport: 'tls', tls: tlsOf(d, over),
});

async function keyIdOver(s: Awaited<ReturnType<typeof connectDevice>>): Promise<string | undefined> {
  try {
    const reply = await s.rpc(integrityMeasurementXml(randomBytes(32)), { timeoutMs: 5000 });
    return parseMeasurementReply(elements(reply)).keyId;
  } finally {
    await s.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-tls-dev-'));
  pki = createTestPki();
  listener = createCallHomeListener({
    host: '127.0.0.1', port: 0, handshakeTimeoutMs: 5000,
    log: createLogger({ level: 'info', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }),
  });
  // the fleet's client certificate is made with the fleet: a first fleet run makes it, the listener then uses it
  fleet = await startFleet({ profiles: { healthy: 2 }, dataDir: join(dir, 'fleet'), tls: true });
  ca = fleet.tls!.ca.cert;
  client = { cert: fleet.tls!.client.cert, key: fleet.tls!.client.key };
  [a, b] = [fleet.devices[0]!, fleet.devices[1]!];
}, 60_000);

afterAll(async () => {
  await fleet?.close();
  await listener?.close();
  pki?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('NETCONF over TLS to a dialled device', () => {
  it('mutual authentication: CA + name, base:1.1, the device answers as itself', async () => {
    expect(a.netconfTls).toMatchObject({ serverName: a.henbId, caFile: expect.stringContaining('ca.pem') });
    expect(readFileSync(a.netconfTls!.caFile, 'utf8')).toBe(ca);
    const s = await connectDevice(dialled(a), { timeoutMs: 5000 });
    expect(s.base11).toBe(true);
    expect(await keyIdOver(s)).toBe(a.keyId);
  });

  it('a second connection to the device resumes the TLS session of the first; the device maps our certificate again', async () => {
    deviceTlsSessions.clear();
    const first = await connectDevice(dialled(a), { timeoutMs: 5000 });
    expect(first.tls).toEqual({ protocol: 'TLSv1.3', resumed: false, peerSha256: a.netconfTls!.certSha256 });
    expect(await keyIdOver(first)).toBe(a.keyId);
    await until(() => deviceTlsSessions.size === 1, 'the device\'s ticket kept');
    const second = await connectDevice(dialled(a), { timeoutMs: 5000 });
    expect(second.tls).toEqual({ protocol: 'TLSv1.3', resumed: true, peerSha256: a.netconfTls!.certSha256 });
    expect(await keyIdOver(second)).toBe(a.keyId);
    // device b: its own session, not a's
    const other = await connectDevice(dialled(b), { timeoutMs: 5000 });
    expect(other.tls).toMatchObject({ resumed: false, peerSha256: b.netconfTls!.certSha256 });
    expect(await keyIdOver(other)).toBe(b.keyId);
    // a's certificate pinned instead of the CA: other settings, so a full handshake (then resumed under them)
    const pinned = { ca: undefined, certSha256: a.netconfTls!.certSha256 };
    const third = await connectDevice(dialled(a, pinned), { timeoutMs: 5000 });
    expect(third.tls?.resumed).toBe(false);
    await keyIdOver(third);
    await until(() => deviceTlsSessions.size === 3, 'three sessions kept');
    const fourth = await connectDevice(dialled(a, pinned), { timeoutMs: 5000 });
    expect(fourth.tls?.resumed).toBe(true);
    await keyIdOver(fourth);
    // b's pin on a's address: never offered a's session; the certificate shown in full is refused
    await expect(connectDevice(dialled(a, { ca: undefined, certSha256: b.netconfTls!.certSha256 }), { timeoutMs: 5000 }))
      .rejects.toMatchObject({ code: 'ERR_DEVICE_CERTIFICATE', message: expect.stringContaining(`its certificate (SHA-256 ${a.netconfTls!.certSha256}) is not the pinned one`) });
  });

  it('the device certificate pinned by its SHA-256 alone (no CA)', async () => {
    const s = await connectDevice(dialled(a, { ca: undefined, certSha256: a.netconfTls!.certSha256 }), { timeoutMs: 5000 });
    expect(await keyIdOver(s)).toBe(a.keyId);
  });

  it('the device is checked by name: its henb-id as serverName works, another name is refused', async () => {
    const s = await connectDevice(dialled(a, { serverName: a.henbId }), { timeoutMs: 5000 });
    await s.close();
    await expect(connectDevice(dialled(a, { serverName: b.henbId }), { timeoutMs: 5000 }))
      .rejects.toMatchObject({ code: 'ERR_DEVICE_CERTIFICATE', message: expect.stringMatching(/not issued to the name or address we expected \(ERR_TLS_CERT_ALTNAME_INVALID: .*altnames/) });
  });

  it('a wrong CA is refused with ERR_DEVICE_CERTIFICATE', async () => {
    await expect(connectDevice(dialled(a, { ca: pki.ca.cert }), { timeoutMs: 5000 }))
      .rejects.toMatchObject({ code: 'ERR_DEVICE_CERTIFICATE', message: expect.stringMatching(/127\.0\.0\.1:\d+ is not trusted: .*(trusted CA|not trusted)/) });
  });

  it('another pinned certificate is refused with ERR_DEVICE_CERTIFICATE naming the presented one', async () => {
    await expect(connectDevice(dialled(a, { certSha256: b.netconfTls!.certSha256 }), { timeoutMs: 5000 }))
      .rejects.toMatchObject({ code: 'ERR_DEVICE_CERTIFICATE', message: expect.stringContaining(`its certificate (SHA-256 ${a.netconfTls!.certSha256}) is not the pinned one`) });
  });

  it('an expired device certificate is refused, with a CA and pinned alone', async () => {
    const expired = pki.issue('expired-dev', { san: 'IP:127.0.0.1', days: -1 });
    const srv: TlsServer = createTlsServer({ cert: expired.cert, key: expired.key }, (s) => s.destroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const t = (tls: DeviceTlsSettings): DeviceTarget => ({ host: '127.0.0.1', port, username: 'x', transport: 'tls', tls });
      await expect(connectDevice(t({ ca: pki.ca.cert, cert: client.cert, key: client.key }), { timeoutMs: 5000 }))
        .rejects.toMatchObject({ code: 'ERR_DEVICE_CERTIFICATE', message: expect.stringContaining('its certificate has expired (CERT_HAS_EXPIRED') });
      await expect(connectDevice(t({ certSha256: expired.sha256, cert: client.cert, key: client.key }), { timeoutMs: 5000 }))
        .rejects.toMatchObject({ code: 'ERR_DEVICE_CERTIFICATE', message: expect.stringContaining('its certificate has expired (CERT_HAS_EXPIRED') });
    } finally {
      srv.close();
    }
  });

  it('a client certificate the device does not trust: the device closes after the handshake, the error says why it may have', async () => {
    const stranger = pki.issue('stranger-client', { san: 'DNS:stranger' });
    await expect(connectDevice(dialled(a, { cert: stranger.cert, key: stranger.key }), { timeoutMs: 5000 }))
      .rejects.toMatchObject({ message: expect.stringMatching(/client certificate/) });
  });

  it('a listener that completes the TLS handshake and never says hello: ERR_DEVICE_TIMEOUT (retried), not a refusal', async () => {
    const silent = pki.issue('silent-dev', { san: 'IP:127.0.0.1' });
    const held: Socket[] = [];
    const srv: TlsServer = createTlsServer({ cert: silent.cert, key: silent.key, requestCert: true, rejectUnauthorized: false }, (s) => {
      held.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const t: DeviceTarget = { host: '127.0.0.1', port, username: 'x', transport: 'tls', tls: { ca: pki.ca.cert, cert: client.cert, key: client.key } };
      await expect(connectDevice(t, { timeoutMs: 700 })).rejects.toMatchObject({
        code: 'ERR_DEVICE_TIMEOUT',
        message: expect.stringMatching(/no NETCONF hello from 127\.0\.0\.1:\d+ within \d+ ms after the TLS handshake \(the connection stayed open/),
      });
      // the connection was up (handshake done) when the budget ran out
      expect(held.length).toBe(1);
    } finally {
      for (const s of held) s.destroy();
      srv.close();
    }
  });

  it('config errors: no TLS settings, neither CA nor pin', async () => {
    await expect(connectDevice({ host: '127.0.0.1', port: 1, username: 'x', transport: 'tls' }, { timeoutMs: 1000 }))
      .rejects.toMatchObject({ code: 'ERR_DEVICE_CONFIG' });
    await expect(connectDevice(dialled(a, { ca: undefined }), { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ERR_DEVICE_CONFIG' });
  });

  it('a refused TCP connection is ERR_DEVICE_UNREACHABLE (retriable)', async () => {
    const srv = createTlsServer({});
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    await expect(connectDevice({ ...dialled(a), port }, { timeoutMs: 3000 })).rejects.toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE' });
  });

  it('the driver reaches a TLS device (connect, connection kind dialled)', async () => {
    const d = createDeviceDriver({ devices: [{ ...dialled(a), henbId: a.henbId }], connectTimeoutMs: 5000 });
    try {
      await d.connect(a.henbId);
      expect(d.connected(a.henbId)).toBe(true);
      expect(d.connection(a.henbId)?.kind).toBe('dialled');
    } finally {
      await d.close();
    }
  });
});

describe('NETCONF Call Home over TLS (RFC 8071 section 4)', () => {
  let caller: Fleet;
  let c: SimulatedDevice;
  let d: SimulatedDevice;
  let stranger: SimulatedDevice;

  beforeAll(async () => {
    await listener.close();
    listener = createCallHomeListener({
      host: '127.0.0.1', port: 0, handshakeTimeoutMs: 5000,
      tls: { port: 0, cert: client.cert, key: client.key },
      log: createLogger({ level: 'info', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }),
    });
    const addr = await listener.listen();
    expect(addr.tls?.port).toBeGreaterThan(0);
    chPort = addr.tls!.port;
    // the same fleet CA and client certificate (same data dir root for tls/), new devices that call home over TLS
    caller = await startFleet({
      profiles: { healthy: 2, 'bad-install': 1 }, dataDir: join(dir, 'fleet'),
      callHome: [{ host: '127.0.0.1', port: chPort, transport: 'tls' }], callHomeBackoff: { initialMs: 20, maxMs: 200, stableMs: 1000 },
    });
    [c, d, stranger] = [caller.devices[0]!, caller.devices[1]!, caller.devices[2]!];
    expect(c.callHomeTransport).toBe('tls');
    // c by its pinned certificate; d by the CA and its henb-id (the name in its certificate)
    listener.setDevice({ henbId: c.henbId, username: c.username, transport: 'tls', tls: { certSha256: c.netconfTls!.certSha256 } });
    listener.setDevice({ henbId: d.henbId, username: d.username, transport: 'tls', tls: { ca } });
  }, 60_000);

  afterAll(async () => {
    await caller?.close();
  });

  const chTarget = (x: SimulatedDevice): DeviceTarget => ({ henbId: x.henbId, host: '', port: 0, username: x.username, transport: 'tls', callHome: true });

  it('identifies a device by its pinned certificate and one by CA + name; each session reaches that device', async () => {
    const sc = await listener.connect(chTarget(c), { timeoutMs: 10_000 });
    expect(await keyIdOver(sc)).toBe(c.keyId);
    const sd = await listener.connect(chTarget(d), { timeoutMs: 10_000 });
    expect(listener.connection(d.henbId)).toMatchObject({ henbId: d.henbId, remoteAddress: '127.0.0.1' });
    expect(await keyIdOver(sd)).toBe(d.keyId);
    // one session per TLS connection: the device calls again for the next one
    const again = await listener.connect(chTarget(c), { timeoutMs: 10_000 });
    expect(await keyIdOver(again)).toBe(c.keyId);
  });

  it('an unknown certificate is refused and logged with its fingerprint; a certificate of the CA with another name too', async () => {
    await until(() => lines.some((l) => l.msg !== undefined && String(l.msg).startsWith('call-home over TLS refused') && l.fingerprint === stranger.netconfTls!.certSha256), 'the stranger refused', 10_000);
    const refusal = lines.find((l) => l.fingerprint === stranger.netconfTls!.certSha256)!;
    expect(refusal).toMatchObject({ level: 'warn', reason: expect.stringContaining('to no enrolled device\'s name'), subject: `CN=${stranger.henbId}` });
    expect(listener.refused.get(stranger.netconfTls!.certSha256)).toBeGreaterThan(0);
    // enrolled later by its pin: accepted on its next call
    listener.setDevice({ henbId: stranger.henbId, username: stranger.username, transport: 'tls', tls: { certSha256: stranger.netconfTls!.certSha256 } });
    const s = await listener.connect(chTarget(stranger), { timeoutMs: 10_000 });
    expect(await keyIdOver(s)).toBe(stranger.keyId);
  });

  it('a device that has not called within the budget: ERR_DEVICE_TIMEOUT; not enrolled: ERR_DEVICE_CONFIG', async () => {
    listener.setDevice({ henbId: 'silent-1', username: 'oam', transport: 'tls', tls: { certSha256: '00'.repeat(32) } });
    await expect(listener.connect({ ...chTarget(c), henbId: 'silent-1' }, { timeoutMs: 300 })).rejects.toMatchObject({ code: 'ERR_DEVICE_TIMEOUT' });
    await expect(listener.connect({ ...chTarget(c), henbId: 'nobody' }, { timeoutMs: 300 })).rejects.toMatchObject({ code: 'ERR_DEVICE_CONFIG' });
    expect(() => listener.setDevice({ henbId: 'twin', username: 'oam', transport: 'tls', tls: { certSha256: c.netconfTls!.certSha256 } })).toThrow(/pin the same certificate/);
    expect(() => listener.setDevice({ henbId: 'bad', username: 'oam', transport: 'tls', tls: { certSha256: 'nope' } })).toThrow(/not a SHA-256 fingerprint/);
  });

  it('the driver reaches a TLS call-home device through the listener (connection kind called-home)', async () => {
    const drv = createDeviceDriver({ devices: [{ ...chTarget(d), henbId: d.henbId, tls: { ca, cert: client.cert, key: client.key } }], callHome: listener, connectTimeoutMs: 10_000 });
    try {
      await drv.connect(d.henbId);
      expect(drv.connected(d.henbId)).toBe(true);
      expect(drv.connection(d.henbId)?.kind).toBe('called-home');
    } finally {
      await drv.close();
    }
  });
});
