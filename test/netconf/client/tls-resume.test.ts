/**
 * TLS session resumption in the NETCONF client's handshake (src/netconf/client/tls-sessions.ts): a session is
 * kept per server and per trust settings and offered again only under those settings. A resumed connection
 * shows no certificate and node reports the first handshake's verification, so the tests also show (with
 * node:tls directly) what an unkeyed cache would let through: a session made under one CA resumes under
 * another with no error at all.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:tls';
import type { Server, TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TlsSessionCache, tlsHandshake } from '../../../src/netconf/client/index.js';
import type { TlsConnectOptions, TlsHandshakeSocket } from '../../../src/netconf/client/index.js';
import { createTestPki } from '../../helpers/tls-pki.js';
import type { Issued, TestPki } from '../../helpers/tls-pki.js';
import { until } from '../../helpers/until.js';

let pki: TestPki;
let client: Issued;
let client2: Issued;
let foreign: Issued;
const servers: Server[] = [];

beforeAll(() => {
  pki = createTestPki();
  client = pki.issue('client', { san: 'DNS:oam.example' });
  client2 = pki.issue('client2', { san: 'DNS:oam2.example' });
  // a device certificate from a CA we do not trust, for the same address
  foreign = pki.issue('foreign', { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', ca: pki.otherCa });
}, 60_000);

afterAll(() => pki?.cleanup());

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** a TLS server (echo) with the given certificate and ticket keys, on `port` (0: any) */
async function serve(cert: Issued, o: { ticketKeys?: Buffer; port?: number; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {}): Promise<number> {
  const s = createServer({ cert: cert.cert, key: cert.key, minVersion: 'TLSv1.2', maxVersion: o.maxVersion ?? 'TLSv1.3', ...(o.ticketKeys ? { ticketKeys: o.ticketKeys } : {}) }, (sock) => {
    sock.on('error', () => undefined);
    sock.on('data', (d) => sock.write(d));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(o.port ?? 0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

async function close(port: number): Promise<void> {
  const i = servers.findIndex((s) => (s.address() as { port: number } | null)?.port === port);
  const [s] = servers.splice(i, 1);
  await new Promise<void>((r) => s!.close(() => r()));
}

const opts = (port: number, over: Partial<TlsConnectOptions> = {}): TlsConnectOptions => ({
  host: '127.0.0.1', port, cert: client.cert, key: client.key, ca: pki.ca.cert, connectTimeoutMs: 5000, ...over,
});

/** handshake, one round trip of data (a TLS 1.3 server sends its tickets after it has read ours), close */
async function dial(o: TlsConnectOptions): Promise<{ resumed: boolean; peer: string }> {
  const s: TlsHandshakeSocket = await tlsHandshake(o);
  try {
    s.write('ping');
    await new Promise((r) => s.once('data', r));
    return { resumed: s.isSessionReused(), peer: s.verifiedPeer.sha256 };
  } finally {
    s.end();
  }
}

describe('TLS session resumption (client)', () => {
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`${version}: the second connection resumes the session the first one kept, as the server verified then`, async () => {
      const port = await serve(pki.server, { maxVersion: version });
      const sessions = new TlsSessionCache();
      expect(await dial(opts(port, { sessions }))).toEqual({ resumed: false, peer: pki.server.sha256 });
      await until(() => sessions.size === 1, 'a session kept');
      expect(await dial(opts(port, { sessions }))).toEqual({ resumed: true, peer: pki.server.sha256 });
      expect(await dial(opts(port, { sessions }))).toEqual({ resumed: true, peer: pki.server.sha256 });
      // without a cache: a full handshake every time
      expect(await dial(opts(port))).toEqual({ resumed: false, peer: pki.server.sha256 });
    });
  }

  it('pinned certificate alone (no CA): resumed, the pin matched the certificate of the first handshake', async () => {
    const port = await serve(pki.server);
    const sessions = new TlsSessionCache();
    const pinned = opts(port, { sessions, ca: undefined, serverCertSha256: pki.server.sha256 });
    expect((await dial(pinned)).resumed).toBe(false);
    await until(() => sessions.size === 1, 'a session kept');
    expect(await dial(pinned)).toEqual({ resumed: true, peer: pki.server.sha256 });
  });

  it('node:tls alone resumes a session under another CA with no error: the reason sessions are keyed by the trust settings', async () => {
    const port = await serve(pki.server);
    let ticket: Buffer | undefined;
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, ca: pki.ca.cert }, () => s.write('x'));
      s.on('session', (b: Buffer) => {
        ticket = b;
      });
      s.once('data', () => setTimeout(() => {
        s.end();
        resolve();
      }, 20));
      s.on('error', reject);
    });
    const under = await new Promise<TLSSocket>((resolve, reject) => {
      const s: TLSSocket = connect({ host: '127.0.0.1', port, ca: pki.otherCa.cert, session: ticket! }, () => resolve(s));
      s.on('error', reject);
    });
    // resumed and "authorized" although the server's certificate does not chain to the CA given now
    expect(under.isSessionReused()).toBe(true);
    expect(under.authorized).toBe(true);
    under.destroy();
  });

  it('another CA: the kept session is not offered; the full handshake verifies the server and refuses it', async () => {
    const port = await serve(pki.server);
    const sessions = new TlsSessionCache();
    await dial(opts(port, { sessions }));
    await until(() => sessions.size === 1, 'a session kept');
    await expect(tlsHandshake(opts(port, { sessions, ca: pki.otherCa.cert })))
      .rejects.toMatchObject({ failure: 'certificate', tlsCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    // the session made under our CA is still there and still resumes under it
    expect(await dial(opts(port, { sessions }))).toEqual({ resumed: true, peer: pki.server.sha256 });
  });

  it('another pinned certificate: not offered the session; the certificate presented in full is refused', async () => {
    const port = await serve(pki.server);
    const sessions = new TlsSessionCache();
    await dial(opts(port, { sessions, serverCertSha256: pki.server.sha256 }));
    await until(() => sessions.size === 1, 'a session kept');
    // the full handshake's message names the certificate presented (a resumed one shows none)
    await expect(tlsHandshake(opts(port, { sessions, serverCertSha256: foreign.sha256 })))
      .rejects.toMatchObject({ failure: 'pin', message: expect.stringContaining(`its certificate (SHA-256 ${pki.server.sha256}) is not the pinned one`) });
  });

  it('another expected name or another client certificate: a full handshake, verified again', async () => {
    const port = await serve(pki.server);
    const sessions = new TlsSessionCache();
    await dial(opts(port, { sessions }));
    await until(() => sessions.size === 1, 'a session kept');
    expect((await dial(opts(port, { sessions, cert: client2.cert, key: client2.key }))).resumed).toBe(false);
    await expect(tlsHandshake(opts(port, { sessions, servername: 'elsewhere.example' })))
      .rejects.toMatchObject({ failure: 'certificate', tlsCode: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect((await dial(opts(port, { sessions, servername: 'localhost' }))).resumed).toBe(false);
  });

  it('the device replaced at the same address (new certificate, new ticket keys): the ticket is not accepted, the new certificate is verified and refused, the entry dropped', async () => {
    const port = await serve(pki.server);
    const sessions = new TlsSessionCache();
    await dial(opts(port, { sessions }));
    await until(() => sessions.size === 1, 'a session kept');
    await close(port);
    await serve(foreign, { port });
    await expect(tlsHandshake(opts(port, { sessions }))).rejects.toMatchObject({ failure: 'certificate', tlsCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(sessions.size).toBe(0);
  });

  it('a server sharing the ticket keys but with another certificate, pinned: never offered the first server\'s session', async () => {
    const ticketKeys = randomBytes(48);
    const a = await serve(pki.server, { ticketKeys });
    const sessions = new TlsSessionCache();
    await dial(opts(a, { sessions, ca: undefined, serverCertSha256: pki.server.sha256 }));
    await until(() => sessions.size === 1, 'a session kept');
    await close(a);
    await serve(foreign, { port: a, ticketKeys });
    // same address, the same ticket keys (the server would accept the ticket), but our pin names the new certificate
    expect(await dial(opts(a, { sessions, ca: undefined, serverCertSha256: foreign.sha256 }))).toEqual({ resumed: false, peer: foreign.sha256 });
    // the old pin's session stays under its own settings: a server holding the ticket key resumes it as the
    // identity that pin verified (in TLS, knowing the ticket key is that proof; no certificate is shown)
    expect(await dial(opts(a, { sessions, ca: undefined, serverCertSha256: pki.server.sha256 }))).toEqual({ resumed: true, peer: pki.server.sha256 });
  });
});

describe('TlsSessionCache', () => {
  const peer = (validTo: number): { sha256: string; validTo: number } => ({ sha256: 'AA', validTo });

  it('keeps at most `max` entries, the least recently used dropped first', () => {
    const c = new TlsSessionCache({ max: 2 });
    c.set('a', Buffer.from('1'), peer(Infinity));
    c.set('b', Buffer.from('2'), peer(Infinity));
    expect(c.get('a')?.session.toString()).toBe('1'); // a used: b is now the oldest
    c.set('c', Buffer.from('3'), peer(Infinity));
    expect(c.size).toBe(2);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBeDefined();
    expect(c.get('c')).toBeDefined();
    c.set('a', Buffer.from('4'), peer(Infinity)); // newest session replaces
    expect(c.get('a')?.session.toString()).toBe('4');
  });

  it('offers no session past its server certificate\'s notAfter or older than maxAgeMs', () => {
    let now = 1000;
    const c = new TlsSessionCache({ maxAgeMs: 500, now: () => now });
    c.set('x', Buffer.from('1'), peer(2000));
    c.set('y', Buffer.from('2'), peer(1200));
    now = 1300;
    expect(c.get('x')).toBeDefined();
    expect(c.get('y')).toBeUndefined();
    now = 1501;
    expect(c.get('x')).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('keys differ for each trust setting and ignore case and colons where they mean nothing', () => {
    const base = { host: '127.0.0.1', port: 6513, cert: 'C', key: 'K', ca: 'CA', serverCertSha256: 'ab:cd' };
    const k = TlsSessionCache.keyOf(base);
    expect(TlsSessionCache.keyOf({ ...base, serverCertSha256: 'ABCD' })).toBe(k);
    for (const over of [{ host: '::1' }, { port: 830 }, { servername: 'x' }, { ca: 'CA2' }, { ca: undefined }, { serverCertSha256: 'abce' }, { cert: 'C2' }, { key: 'K2' }]) {
      expect(TlsSessionCache.keyOf({ ...base, ...over })).not.toBe(k);
    }
  });
});
