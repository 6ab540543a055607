/**
 * NETCONF over TLS (RFC 7589) on loopback, with certificates made by the openssl command line
 * (test/helpers/tls-pki.ts): mutual authentication, RFC 7407 cert-to-name, the mapped user under NACM,
 * TLS 1.3 and 1.2, resumption, and the refusals (no certificate, expired, unknown CA, no user).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:tls';
import { TlsSessionCache, connectNetconfTls } from '../../../src/netconf/client/index.js';
import type { TlsConnectOptions } from '../../../src/netconf/client/index.js';
import { NetconfError } from '../../../src/netconf/rpc-error.js';
import { createLogger } from '../../../src/log/logger.js';
import { childText, elements, parseXml, serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { TlsConfigError } from '../../../src/netconf/tls/index.js';
import { useTestServers } from '../../helpers/netconf-server.js';
import { until } from '../../helpers/until.js';
import type { ServerAuditEvent } from '../../../src/netconf/registry.js';
import { createTestPki } from '../../helpers/tls-pki.js';
import type { Issued, TestPki } from '../../helpers/tls-pki.js';

const NCM = 'urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring';
const servers = useTestServers('hsv-tls-');
let pki: TestPki;
let alice: Issued; // SAN email Alice@Example.COM, mapped through the CA fingerprint (san-rfc822-name)
let bob: Issued; // SAN DNS Bob.Example.com, mapped by san-dns-name via the CA
let pinned: Issued; // no SAN; its own fingerprint maps it to 'admin' (specified)
let nobody: Issued; // signed by our CA, CN only: maps to no user
let expired: Issued;
let stranger: Issued; // signed by a CA the server does not trust

beforeAll(() => {
  pki = createTestPki();
  alice = pki.issue('alice', { san: 'email:Alice@Example.COM' });
  bob = pki.issue('bob', { san: 'DNS:Bob.Example.com' });
  pinned = pki.issue('pinned');
  nobody = pki.issue('nobody', { cn: 'nobody' });
  expired = pki.issue('expired', { san: 'email:late@example.com', days: -1 });
  stranger = pki.issue('stranger', { san: 'email:stranger@example.com', ca: pki.otherCa });
});
afterAll(() => pki.cleanup());

function start(lines: string[] = []): ReturnType<typeof servers.start> {
  return servers.start({
    standard: { nacm: { externalGroups: (name: string) => (name === 'alice@example.com' || name === 'admin' ? ['admin'] : []) } },
    log: createLogger({ level: 'info', write: (l) => void lines.push(l) }),
    tls: {
      cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert,
      certToName: [
        { fingerprint: pinned.sha256, 'map-type': 'specified', name: 'admin' },
        // the CA's fingerprint without colons, in RFC 7407's form (hash octet 04 first)
        { fingerprint: `04${pki.ca.sha256.replace(/:/g, '')}`, 'map-type': 'san-rfc822-name' },
        { fingerprint: pki.ca.sha256.toLowerCase(), 'map-type': 'san-dns-name' },
      ],
    },
  });
}

function opts(port: number, who: Issued, over: Partial<TlsConnectOptions> = {}): TlsConnectOptions {
  return { host: '127.0.0.1', port, cert: who.cert, key: who.key, ca: pki.ca.cert, helloTimeoutMs: 3000, connectTimeoutMs: 3000, ...over };
}

const GET_SESSIONS = `<get><filter type="subtree"><netconf-state xmlns="${NCM}"><sessions/></netconf-state></filter></get>`;

function sessionsOf(reply: XmlElement): Array<{ user: string; transport: string }> {
  const out: Array<{ user: string; transport: string }> = [];
  const walk = (e: XmlElement): void => {
    if (e.ns === NCM && e.name === 'session') out.push({ user: childText(e, NCM, 'username') ?? '', transport: childText(e, NCM, 'transport') ?? '' });
    for (const c of elements(e)) walk(c);
  };
  walk(reply);
  return out;
}

describe('NETCONF over TLS: mutual X.509 and cert-to-name', () => {
  it('maps a certificate to a user through the CA fingerprint (san-rfc822-name), speaks base:1.1 over TLS 1.3', async () => {
    const { server } = start();
    const { port } = await server.listenTls('127.0.0.1', 0);
    const c = await connectNetconfTls(opts(port, alice));
    expect(c.protocol).toBe('TLSv1.3');
    expect(c.base11).toBe(true);
    const reply = await c.rpc(GET_SESSIONS);
    // the host part is lower-cased, the local part kept (RFC 7407 san-rfc822-name)
    expect(sessionsOf(reply)).toEqual([{ user: 'Alice@example.com', transport: 'netconf-tls' }]);
    await c.close();
  });

  it('accepts TLS 1.2; maps san-dns-name (lower-cased) and a pinned client fingerprint (specified)', async () => {
    const { server } = start();
    const { port } = await server.listenTls('127.0.0.1', 0);
    const b = await connectNetconfTls({ ...opts(port, bob) });
    const p = await connectNetconfTls(opts(port, pinned));
    const users = sessionsOf(await p.rpc(GET_SESSIONS)).map((s) => s.user).sort();
    expect(users).toEqual(['admin', 'bob.example.com']);
    await b.close();
    await p.close();
    // TLS 1.2 only on the client side
    const old = connect({ host: '127.0.0.1', port, cert: alice.cert, key: alice.key, ca: pki.ca.cert, maxVersion: 'TLSv1.2' });
    const hello = await new Promise<string>((resolve, reject) => {
      let text = '';
      old.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes(']]>]]>')) resolve(text);
      });
      old.on('error', reject);
    });
    expect(old.getProtocol()).toBe('TLSv1.2');
    expect(hello).toContain('urn:ietf:params:netconf:base:1.1');
    old.destroy();
  });

  it('the mapped user is subject to the same NACM groups as an SSH login', async () => {
    const { server } = start();
    const { port } = await server.listenTls('127.0.0.1', 0);
    const edit = '<edit-config><target><running/></target><config><netconf-state xmlns="urn:x"/></config></edit-config>';
    const admin = await connectNetconfTls(opts(port, pinned)); // 'admin' is in group admin
    const plain = await connectNetconfTls(opts(port, bob)); // no group: write-default deny
    const err = await plain.rpc(edit).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetconfError);
    expect((err as NetconfError).errors[0]?.tag).toBe('access-denied');
    const nacm = await admin.rpc('<get-config><source><running/></source><filter type="subtree"><nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm"/></filter></get-config>');
    expect(serializeXml(nacm)).toContain('permit-all');
    await admin.close();
    await plain.close();
  });

  it('a client certificate from an intermediate CA (sent along by the client) maps through the intermediate or the root', async () => {
    const inter = pki.issue('inter-ca', { isCa: true });
    const carol = pki.issue('carol', { san: 'DNS:carol.example', ca: inter });
    const chainPem = carol.cert + inter.cert;
    for (const fingerprint of [inter.sha256, pki.ca.sha256]) {
      const { server } = servers.start({
        standard: true,
        tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, certToName: [{ fingerprint, 'map-type': 'san-dns-name' }] },
      });
      const { port } = await server.listenTls('127.0.0.1', 0);
      const c = await connectNetconfTls(opts(port, carol, { cert: chainPem }));
      expect(sessionsOf(await c.rpc(GET_SESSIONS))).toEqual([{ user: 'carol.example', transport: 'netconf-tls' }]);
      await c.close();
    }
  });

  it('resumes a TLS session (ticket) and maps the certificate again', async () => {
    const { server } = start();
    const { port } = await server.listenTls('127.0.0.1', 0);
    const sessions = new TlsSessionCache();
    const first = await connectNetconfTls(opts(port, alice, { sessions }));
    await first.rpc(GET_SESSIONS);
    await first.close();
    expect(first.resumed).toBe(false);
    // the server issued a ticket, kept under the certificate verified in the full handshake
    expect(sessions.size).toBe(1);
    const again = await connectNetconfTls(opts(port, alice, { sessions }));
    expect(again.resumed).toBe(true);
    expect(again.peerSha256).toBe(pki.server.sha256);
    expect(sessionsOf(await again.rpc(GET_SESSIONS))).toEqual([{ user: 'Alice@example.com', transport: 'netconf-tls' }]);
    await again.close();
  });

  it('a chain seen before maps as the first time (the mapping is remembered per chain), refusals included', async () => {
    const { server } = start();
    const { port } = await server.listenTls('127.0.0.1', 0);
    for (let i = 0; i < 2; i++) {
      const c = await connectNetconfTls(opts(port, alice));
      expect(sessionsOf(await c.rpc(GET_SESSIONS))).toEqual([{ user: 'Alice@example.com', transport: 'netconf-tls' }]);
      await c.close();
      await expect(connectNetconfTls(opts(port, nobody))).rejects.toThrow();
    }
    expect(server.info.counters.inSessions).toBe(2);
  });

  const refusals: Array<[string, () => Partial<TlsConnectOptions>, string]> = [
    ['no client certificate', () => ({ cert: undefined as unknown as string, key: undefined as unknown as string }), 'no client certificate'],
    ['an expired certificate', () => ({ cert: expired.cert, key: expired.key }), 'CERT_HAS_EXPIRED'],
    ['a certificate from an unknown CA', () => ({ cert: stranger.cert, key: stranger.key }), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['a certificate that maps to no user', () => ({ cert: nobody.cert, key: nobody.key }), 'maps to no user'],
  ];
  for (const [what, over, logged] of refusals) {
    it(`refuses ${what}: no session, a warn line that says why`, async () => {
      const lines: string[] = [];
      const { server } = start(lines);
      const audited: ServerAuditEvent[] = [];
      server.registry.onAudit?.((e) => audited.push(e));
      const { port } = await server.listenTls('127.0.0.1', 0);
      await expect(connectNetconfTls(opts(port, alice, over()))).rejects.toThrow();
      // the refusal is told to the audit trail (docs/security.md: login-failed)
      await until(() => audited.length > 0, 'the audit event');
      expect(audited[0]).toMatchObject({ action: 'login-failed', actor: expect.stringMatching(/^tls:127\.0\.0\.1:\d+$/), details: { transport: 'tls' } });
      expect(String(audited[0]!.details.reason)).toContain(logged);
      expect(server.info.counters.inSessions).toBe(0);
      expect(server.sessions()).toEqual([]);
      const warns = lines.map((l) => JSON.parse(l) as { level: string; msg: string; reason?: string }).filter((l) => l.level === 'warn');
      expect(warns.map((w) => `${w.msg} ${w.reason ?? ''}`).join('\n')).toContain(logged);
    });
  }

  it('a server certificate that does not carry the name the client connects to is refused by the client', async () => {
    const { server } = start();
    const { port } = await server.listenTls('127.0.0.1', 0);
    await expect(connectNetconfTls(opts(port, alice, { servername: 'elsewhere.example' }))).rejects.toThrow(/elsewhere\.example|altnames/);
    await expect(connectNetconfTls(opts(port, alice, { serverCertSha256: pki.ca.sha256 }))).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_HOST_KEY' });
    const ok = await connectNetconfTls(opts(port, alice, { serverCertSha256: pki.server.sha256 }));
    await ok.close();
  });

  it('a bad cert-to-name list fails when the server is created', () => {
    const bad = (certToName: unknown): unknown => {
      try {
        servers.start({ tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, certToName: certToName as never } });
        return undefined;
      } catch (e) {
        return e;
      }
    };
    const e1 = bad([{ fingerprint: 'abcd', 'map-type': 'san-any' }]);
    expect(e1).toBeInstanceOf(TlsConfigError);
    expect((e1 as Error).message).toContain('tls.cert-to-name[0].fingerprint');
    expect(bad([{ fingerprint: pki.ca.sha256, 'map-type': 'specified' }])).toBeInstanceOf(TlsConfigError);
    expect(bad([{ fingerprint: pki.ca.sha256, 'map-type': 'san-any', name: 'x' }])).toBeInstanceOf(TlsConfigError);
    // a SHA-1 tls-fingerprint (hash octet 02) is refused: SHA-256 only
    expect(bad([{ fingerprint: `02:${'ab:'.repeat(19)}ab`, 'map-type': 'san-any' }])).toBeInstanceOf(TlsConfigError);
  });

  it('answers an rpc on a hand-framed session: end-of-message hello, then chunked', async () => {
    const { server } = start();
    const { port } = await server.listenTls('127.0.0.1', 0);
    const s = connect({ host: '127.0.0.1', port, cert: alice.cert, key: alice.key, ca: pki.ca.cert });
    let text = '';
    const until = (re: RegExp): Promise<string> => new Promise((resolve, reject) => {
      const check = (): void => {
        if (re.test(text)) {
          s.off('data', onData);
          resolve(text);
        }
      };
      const onData = (d: Buffer): void => {
        text += d.toString();
        check();
      };
      s.on('data', onData);
      s.once('error', reject);
      check();
    });
    await until(/\]\]>\]\]>/);
    const hello = parseXml(text.slice(0, text.indexOf(']]>]]>')));
    expect(hello.name).toBe('hello');
    text = '';
    s.write('<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>]]>]]>');
    const rpc = '<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="7"><get-config><source><running/></source></get-config></rpc>';
    s.write(`\n#${Buffer.byteLength(rpc)}\n${rpc}\n##\n`);
    const reply = await until(/\n##\n$/);
    expect(reply).toMatch(/^\n#\d+\n<rpc-reply[^>]*message-id="7"/);
    s.destroy();
  });
});
