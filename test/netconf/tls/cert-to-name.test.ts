/**
 * RFC 7407 cert-to-name (src/netconf/tls/cert-to-name.ts): fingerprints, each map-type, list order and
 * fall-through, and the chain a CA fingerprint may match (checked by signature, not by name alone).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { ipName, mapCertificate, parseCertToName, parseFingerprint, subjectAltNames, verifiedChain } from '../../../src/netconf/tls/index.js';
import type { CertToNameEntry } from '../../../src/netconf/tls/index.js';
import { createTestPki } from '../../helpers/tls-pki.js';
import type { TestPki } from '../../helpers/tls-pki.js';

let pki: TestPki;
beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki.cleanup());

const x = (pem: string): X509Certificate => new X509Certificate(pem);

describe('fingerprints', () => {
  const d = 'ab'.repeat(32);
  it.each([
    [d, true],
    [d.toUpperCase(), true],
    [d.match(/../g)!.join(':'), true],
    [`04${d}`, true],
    [`04:${d.match(/../g)!.join(':')}`, true],
    [`02${'ab'.repeat(20)}`, false], // sha1 tls-fingerprint
    [d.slice(2), false],
    [`${d}:`, false],
    [`:${d}`, false],
    ['zz'.repeat(32), false],
    ['', false],
  ])('%s -> %s', (text, ok) => {
    const b = parseFingerprint(text);
    expect(b !== undefined).toBe(ok);
    if (b) expect(b.toString('hex')).toBe(d);
  });
});

describe('san-ip-address names', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::1', '00000000000000000000000000000001'],
    ['2001:DB8::1', '20010db8000000000000000000000001'],
    ['0:0:0:0:0:0:0:1', '00000000000000000000000000000001'],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
    ['fe80::', 'fe800000000000000000000000000000'],
    ['not-an-ip', undefined],
  ])('%s -> %s', (v, want) => {
    expect(ipName(v)).toBe(want);
  });
});

describe('mapping', () => {
  it('reads subjectAltNames in certificate order, a quoted value included', () => {
    const c = pki.issue('sans', { san: 'DNS:Host.Example,IP:192.0.2.7,email:Op@Example.ORG,IP:2001:db8::5,URI:urn:x' });
    const sans = subjectAltNames(x(c.cert));
    expect(sans.map((e) => e.type)).toEqual(['dns', 'ip', 'email', 'ip', 'other']);
    expect(sans.slice(0, 3).map((e) => e.value)).toEqual(['Host.Example', '192.0.2.7', 'Op@Example.ORG']);
    expect(sans[4]!.value).toBe('urn:x');
    expect(ipName(subjectAltNames(x(c.cert))[3]!.value)).toBe('20010db8000000000000000000000005');
  });

  it('each map-type; list order; a matching entry without a name falls through to the next', () => {
    const c = pki.issue('multi', { cn: 'Common Person', san: 'IP:192.0.2.7,DNS:Host.Example,email:Op@Example.ORG' });
    const chain = verifiedChain(x(c.cert), [x(pki.ca.cert)]);
    expect(chain).toHaveLength(2);
    const ca = pki.ca.sha256;
    const map = (entries: CertToNameEntry[]): string | undefined => mapCertificate(parseCertToName(entries), chain)?.username;
    expect(map([{ fingerprint: ca, 'map-type': 'san-rfc822-name' }])).toBe('Op@example.org');
    expect(map([{ fingerprint: ca, 'map-type': 'san-dns-name' }])).toBe('host.example');
    expect(map([{ fingerprint: ca, 'map-type': 'san-ip-address' }])).toBe('192.0.2.7');
    expect(map([{ fingerprint: ca, 'map-type': 'san-any' }])).toBe('192.0.2.7'); // the first of the three kinds
    expect(map([{ fingerprint: ca, 'map-type': 'common-name' }])).toBeUndefined(); // a space: not a username
    expect(map([{ fingerprint: c.sha256, 'map-type': 'specified', name: 'op' }, { fingerprint: ca, 'map-type': 'san-any' }])).toBe('op');
    // an entry for another certificate does not match; the next one does
    expect(map([{ fingerprint: pki.server.sha256, 'map-type': 'specified', name: 'srv' }, { fingerprint: ca, 'map-type': 'san-dns-name' }])).toBe('host.example');
    // a matching entry that cannot give a name (no SAN of that kind) falls through (RFC 7407)
    const plain = pki.issue('plain', { cn: 'plain' });
    const pchain = verifiedChain(x(plain.cert), [x(pki.ca.cert)]);
    const rules = parseCertToName([{ fingerprint: ca, 'map-type': 'san-dns-name' }, { fingerprint: ca, 'map-type': 'common-name' }]);
    expect(mapCertificate(rules, pchain)).toEqual({ username: 'plain', entry: 1 });
    expect(mapCertificate(parseCertToName([{ fingerprint: ca, 'map-type': 'san-any' }]), pchain)).toBeUndefined();
  });

  it('a CA fingerprint matches only a CA that signed the chain: a look-alike issuer name is not enough', () => {
    // a CA with the same subject name as ours but another key
    const twin = pki.issue('twin-ca', { cn: 'test-ca', ca: pki.otherCa });
    const forged = pki.issue('forged', { san: 'email:root@example.com', ca: pki.otherCa });
    const chain = verifiedChain(x(forged.cert), [x(twin.cert), x(pki.ca.cert), x(pki.otherCa.cert)]);
    expect(chain.map((c) => c.fingerprint256)).toEqual([forged.sha256, pki.otherCa.sha256]);
    expect(mapCertificate(parseCertToName([{ fingerprint: pki.ca.sha256, 'map-type': 'san-any' }]), chain)).toBeUndefined();
  });
});
