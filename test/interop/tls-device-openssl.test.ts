/**
 * Interop: `openssl s_server` (OpenSSL's own TLS server, not node:tls) stands in for a femtocell that speaks
 * NETCONF over TLS, dialled (RFC 7589) and calling home (RFC 8071 section 4: the device opens the TCP
 * connection, the NETCONF client is the TLS client; here a plain TCP relay plays the device's dial-out and
 * s_server its TLS server side). Proves our TLS client side against another implementation: TLS 1.3 and 1.2,
 * mutual authentication (s_server -Verify checks our client certificate), the NETCONF hello exchanged over it,
 * and the refusals with clear, coded errors: wrong CA, expired certificate, wrong name, another pinned
 * certificate, our client certificate refused by the device's alert; on call home an unknown certificate
 * refused and logged with its fingerprint.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice } from '../../src/device/connect.js';
import type { DeviceTarget, DeviceTlsSettings } from '../../src/device/connect.js';
import { createCallHomeListener } from '../../src/device/call-home.js';
import { createLogger } from '../../src/log/logger.js';
import { createTestPki } from '../helpers/tls-pki.js';
import type { Issued, TestPki } from '../helpers/tls-pki.js';
import { until } from '../helpers/until.js';

let pki: TestPki;
let device: Issued; // IP 127.0.0.1 and DNS femto-1, our CA
let oam: Issued; // our client certificate
let expired: Issued;
let otherName: Issued; // DNS elsewhere.example only
let foreign: Issued; // issued by a CA we do not trust
const procs: ChildProcess[] = [];

const HELLO = '<?xml version="1.0" encoding="UTF-8"?><hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities><session-id>7</session-id></hello>]]>]]>';

beforeAll(() => {
  pki = createTestPki();
  device = pki.issue('device', { cn: 'femto-1', san: 'DNS:femto-1,IP:127.0.0.1', clientAuth: false });
  oam = pki.issue('oam', { san: 'DNS:oam-client' });
  expired = pki.issue('expired-device', { san: 'IP:127.0.0.1', days: -1, clientAuth: false });
  otherName = pki.issue('other-name', { san: 'DNS:elsewhere.example', clientAuth: false });
  foreign = pki.issue('foreign', { san: 'IP:127.0.0.1', ca: pki.otherCa, clientAuth: false });
});
afterEach(() => {
  for (const p of procs.splice(0)) p.kill();
});
afterAll(() => pki.cleanup());

interface SServer { port: number; received: () => string; stderr: () => string; send: (s: string) => void }

/**
 * `openssl s_server` on a free port (it prints `ACCEPT 127.0.0.1:PORT`) with the given certificate, demanding a
 * client certificate from `clientCa` (-Verify); it sends the device's hello from stdin once a client is connected.
 */
async function sServer(cert: Issued, opts: { clientCa?: Issued; extra?: string[]; naccept?: number } = {}): Promise<SServer> {
  const args = ['s_server', '-accept', '127.0.0.1:0', '-naccept', String(opts.naccept ?? 1), '-cert', cert.certFile, '-key', cert.keyFile,
    '-CAfile', (opts.clientCa ?? pki.ca).certFile, '-Verify', '1', '-verify_return_error', ...(opts.extra ?? [])];
  const p = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
  procs.push(p);
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  p.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  p.stdin.on('error', () => undefined);
  p.stdin.write(HELLO);
  await until(() => /ACCEPT \S+:\d+/.test(out), 's_server listening', 10_000);
  const port = Number(/ACCEPT \S+:(\d+)/.exec(out)![1]);
  return { port, received: () => out, stderr: () => err, send: (s) => p.stdin.write(s) };
}

const client = (): Pick<DeviceTlsSettings, 'cert' | 'key'> => ({ cert: oam.cert, key: oam.key });
const target = (port: number, tls: Partial<DeviceTlsSettings>): DeviceTarget => ({
  host: '127.0.0.1', port, username: 'oam', transport: 'tls', tls: { ...client(), ...tls },
});

describe('our NETCONF-over-TLS client against openssl s_server (a device)', () => {
  for (const version of ['-tls1_3', '-tls1_2']) {
    it(`handshake ${version.slice(1)}, mutual authentication, NETCONF hellos exchanged`, async () => {
      const srv = await sServer(device, { extra: [version] });
      const s = await connectDevice(target(srv.port, { ca: pki.ca.cert }), { timeoutMs: 8000 });
      expect(s.serverCapabilities).toContain('urn:ietf:params:netconf:base:1.1');
      expect(s.base11).toBe(true);
      // s_server printed what it received: our hello (end-of-message framing, as RFC 6242 requires first)
      await until(() => srv.received().includes(']]>]]>'), 'our hello at s_server', 5000);
      expect(srv.received()).toMatch(/<hello[^>]*urn:ietf:params:xml:ns:netconf:base:1\.0[\s\S]*base:1\.1[\s\S]*\]\]>\]\]>/);
      await s.close();
    });
  }

  for (const version of ['-tls1_3', '-tls1_2']) {
    it(`resumes the TLS session with OpenSSL's server (${version.slice(1)}): the second connection is resumed on both ends`, async () => {
      const srv = await sServer(device, { extra: [version], naccept: 2 });
      const first = await connectDevice(target(srv.port, { ca: pki.ca.cert }), { timeoutMs: 8000 });
      expect(first.tls).toMatchObject({ resumed: false, peerSha256: device.sha256 });
      await until(() => srv.received().includes(']]>]]>'), 'our hello at s_server', 5000);
      // s_server sends its tickets after the handshake; our client reads them with the device's hello
      await first.close();
      srv.send(HELLO); // the hello for the second connection (s_server reads its stdin once that one is up)
      const second = await connectDevice(target(srv.port, { ca: pki.ca.cert }), { timeoutMs: 8000 });
      expect(second.tls).toMatchObject({ resumed: true, peerSha256: device.sha256 });
      expect(second.base11).toBe(true);
      // s_server got our hello on both connections but verified our client certificate once: no certificate
      // was exchanged on the second (its verify callback prints the chain on every full handshake)
      await until(() => srv.received().split('<hello').length - 1 === 2, 'our second hello at s_server', 5000);
      expect(srv.stderr().split('depth=0 CN = oam').length - 1).toBe(1);
      await second.close();
    });
  }

  it('pinned certificate alone (no CA): accepted; another pin refused', async () => {
    const srv = await sServer(device);
    const s = await connectDevice(target(srv.port, { certSha256: device.sha256 }), { timeoutMs: 8000 });
    await s.close();
    const srv2 = await sServer(device);
    await expect(connectDevice(target(srv2.port, { certSha256: oam.sha256 }), { timeoutMs: 8000 }))
      .rejects.toMatchObject({ code: 'ERR_DEVICE_CERTIFICATE', message: expect.stringContaining(`its certificate (SHA-256 ${device.sha256}) is not the pinned one`) });
  });

  it('refusals: wrong CA, expired, wrong name (ERR_DEVICE_CERTIFICATE, the reason in words and OpenSSL\'s code)', async () => {
    const cases: Array<[Issued, RegExp]> = [
      [foreign, /is not trusted: its certificate is not signed by a trusted CA \(wrong or missing CA\) \(UNABLE_TO_VERIFY_LEAF_SIGNATURE/],
      [expired, /is not trusted: its certificate has expired \(CERT_HAS_EXPIRED/],
      [otherName, /is not trusted: its certificate is not issued to the name or address we expected \(ERR_TLS_CERT_ALTNAME_INVALID: .*127\.0\.0\.1 is not in the cert.s list/],
    ];
    for (const [cert, message] of cases) {
      const srv = await sServer(cert);
      await expect(connectDevice(target(srv.port, { ca: pki.ca.cert }), { timeoutMs: 8000 }))
        .rejects.toMatchObject({ code: 'ERR_DEVICE_CERTIFICATE', message: expect.stringMatching(message) });
    }
  });

  for (const version of ['-tls1_3', '-tls1_2']) {
    it(`the device refuses our client certificate (${version.slice(1)}): ERR_DEVICE_AUTH with OpenSSL's alert`, async () => {
      const srv = await sServer(device, { clientCa: pki.otherCa, extra: [version] });
      await expect(connectDevice(target(srv.port, { ca: pki.ca.cert }), { timeoutMs: 8000 }))
        .rejects.toMatchObject({ code: 'ERR_DEVICE_AUTH', message: expect.stringMatching(/does not trust the CA of our client certificate \(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA/) });
    });
  }
});

describe('call home over TLS: openssl s_server as the calling device (its dial-out relayed)', () => {
  /** the device's dial-out: connect to the listener and to s_server, pipe both ways */
  function dialOut(listenerPort: number, devicePort: number): Socket {
    const up = tcpConnect({ host: '127.0.0.1', port: listenerPort });
    up.on('error', () => undefined);
    up.once('connect', () => {
      const dev = tcpConnect({ host: '127.0.0.1', port: devicePort });
      dev.on('error', () => up.destroy());
      up.pipe(dev).pipe(up);
      up.once('close', () => dev.destroy());
      dev.once('close', () => up.destroy());
    });
    return up;
  }

  it('identified by its pinned certificate: the session opens on the connection it made; an unknown one is refused and logged', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const l = createCallHomeListener({
      host: '127.0.0.1', port: 0, handshakeTimeoutMs: 8000, tls: { port: 0, ...client() },
      log: createLogger({ level: 'info', write: (x) => lines.push(JSON.parse(x) as Record<string, unknown>) }),
    });
    const addr = await l.listen();
    try {
      l.setDevice({ henbId: 'femto-1', username: 'oam', transport: 'tls', tls: { certSha256: device.sha256 } });
      const srv = await sServer(device);
      const pending = l.connect({ henbId: 'femto-1', host: '', port: 0, username: 'oam', transport: 'tls', callHome: true }, { timeoutMs: 8000 });
      const sock = dialOut(addr.tls!.port, srv.port);
      const s = await pending;
      expect(s.serverCapabilities).toContain('urn:ietf:params:netconf:base:1.1');
      expect(l.connection('femto-1')).toMatchObject({ henbId: 'femto-1', remoteAddress: '127.0.0.1' });
      await until(() => srv.received().includes(']]>]]>'), 'our hello at s_server', 5000);
      await s.close();
      sock.destroy();

      // a device nobody pinned, whose CA we do not trust: refused before any NETCONF byte, logged with its fingerprint
      const stranger = await sServer(foreign);
      dialOut(addr.tls!.port, stranger.port);
      await until(() => lines.some((x) => x.fingerprint === foreign.sha256), 'the refusal logged', 8000);
      const line = lines.find((x) => x.fingerprint === foreign.sha256)!;
      expect(line).toMatchObject({ level: 'warn', remoteAddress: '127.0.0.1', reason: expect.stringContaining('no device pins it') });
      expect(String(line.msg)).toContain('call-home over TLS refused');
      expect(l.refused.get(foreign.sha256)).toBe(1);
      expect(stranger.received()).not.toContain('<hello');
    } finally {
      await l.close();
    }
  });
});
