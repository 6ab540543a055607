/**
 * RFC 7407 `ietf-x509-cert-to-name` (the algorithm of RFC 6353), used by NETCONF over TLS (RFC 7589
 * section 7) to derive the NETCONF username from the client's certificate:
 *
 * - the list is searched in order; an entry matches when its fingerprint is the SHA-256 of the presented
 *   certificate, or of a trusted CA certificate in the chain that validated it;
 * - a matching entry's map-type derives the name: `specified` (the entry's `name`), `san-rfc822-name`
 *   (local part unaltered, host part lower-cased), `san-dns-name` (lower-cased), `san-ip-address` (IPv4
 *   dotted quad; IPv6 as 32 lower-case hex digits without colons), `san-any` (the first rfc822Name,
 *   dNSName or iPAddress in the certificate, mapped as above) or `common-name`;
 * - when a matching entry cannot produce a name from this certificate, the search goes on; when no entry
 *   produces one, there is no user (the server then closes the connection).
 *
 * Fingerprints are written as hex, colons allowed: the bare SHA-256 (32 octets) or RFC 7407's
 * `tls-fingerprint` form, a hash-algorithm octet (0x04 = sha256, RFC 5246) followed by it (33 octets).
 * Other hash algorithms are refused when the list is parsed (fail closed: no SHA-1 or MD5 pinning).
 */
import { X509Certificate } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { HsvError } from '../../errors.js';

export type TlsConfigErrorCode = 'ERR_TLS_CONFIG';

/** A cert-to-name list or TLS option that cannot be used (names the entry and what is wrong). */
export class TlsConfigError extends HsvError<TlsConfigErrorCode> {}

export const MAP_TYPES = ['specified', 'san-rfc822-name', 'san-dns-name', 'san-ip-address', 'san-any', 'common-name'] as const;
export type MapType = (typeof MAP_TYPES)[number];

/** One entry as configured (the YAML `tls.cert-to-name[]`). */
export interface CertToNameEntry {
  fingerprint: string;
  'map-type': MapType;
  /** the user for map-type `specified` (and only then) */
  name?: string;
}

/** A parsed entry: the 32-octet SHA-256 the fingerprint names. */
export interface CertToNameRule {
  sha256: Buffer;
  mapType: MapType;
  name?: string;
}

/** a NETCONF username we accept from a mapping: 1..255 characters, no control characters or spaces */
// eslint-disable-next-line no-control-regex -- the point is to refuse control characters
const NAME_RE = /^[^\u0000-\u0020\u007f]{1,255}$/u;

/** hex with optional colons -> the 32-octet SHA-256, or undefined when it is not one */
export function parseFingerprint(text: string): Buffer | undefined {
  const s = text.trim();
  if (!/^([0-9a-fA-F]{2})(:?[0-9a-fA-F]{2})*$/.test(s)) return undefined;
  const b = Buffer.from(s.replace(/:/g, ''), 'hex');
  if (b.length === 32) return b;
  if (b.length === 33 && b[0] === 0x04) return b.subarray(1);
  return undefined;
}

/** Parse and check the configured list (fails with ERR_TLS_CONFIG naming the entry). */
export function parseCertToName(entries: readonly CertToNameEntry[], where = 'cert-to-name'): CertToNameRule[] {
  return entries.map((e, i) => {
    const sha256 = parseFingerprint(e.fingerprint);
    if (!sha256) throw new TlsConfigError('ERR_TLS_CONFIG', `${where}[${i}].fingerprint: expected the SHA-256 of a certificate in hex (64 digits, colons allowed, optionally after the sha256 octet 04), got ${JSON.stringify(e.fingerprint)}`);
    if (!(MAP_TYPES as readonly string[]).includes(e['map-type'])) throw new TlsConfigError('ERR_TLS_CONFIG', `${where}[${i}].map-type: expected one of ${MAP_TYPES.join(', ')}, got ${JSON.stringify(e['map-type'])}`);
    if (e['map-type'] === 'specified') {
      if (e.name === undefined || !NAME_RE.test(e.name)) throw new TlsConfigError('ERR_TLS_CONFIG', `${where}[${i}].name: map-type specified needs the user name (1..255 characters, no spaces)`);
      return { sha256, mapType: e['map-type'], name: e.name };
    }
    if (e.name !== undefined) throw new TlsConfigError('ERR_TLS_CONFIG', `${where}[${i}].name: only for map-type specified (RFC 7407: when map-type = 'specified')`);
    return { sha256, mapType: e['map-type'] };
  });
}

/** The SHA-256 of a certificate's DER encoding. */
export function certSha256(cert: X509Certificate): Buffer {
  return Buffer.from(cert.fingerprint256.replace(/:/g, ''), 'hex');
}

export interface SanEntry {
  type: 'email' | 'dns' | 'ip' | 'other';
  value: string;
}

/**
 * The subjectAltName entries of a certificate, in certificate order, from Node's text form
 * (`DNS:a, IP Address:192.0.2.1, email:x@y`; a value with special characters is a JSON string).
 */
export function subjectAltNames(cert: X509Certificate): SanEntry[] {
  const text = cert.subjectAltName;
  if (!text) return [];
  const out: SanEntry[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const kind = text.slice(i, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      // a JSON string: find its closing quote (a backslash escapes one character)
      let j = colon + 2;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(colon + 1, j + 1)) as string;
      } catch {
        return out; // an encoding we do not understand: stop rather than guess
      }
      next = j + 1;
    } else {
      const end = text.indexOf(', ', colon + 1);
      next = end < 0 ? text.length : end;
      value = text.slice(colon + 1, next);
    }
    const type = kind === 'email' ? 'email' : kind === 'DNS' ? 'dns' : kind === 'IP Address' ? 'ip' : 'other';
    out.push({ type, value });
    i = text.startsWith(', ', next) ? next + 2 : next + 1;
  }
  return out;
}

/** RFC 7407 san-ip-address: IPv4 dotted quad; IPv6 as 32 lower-case hex digits without colons */
export function ipName(value: string): string | undefined {
  if (isIPv4(value)) return value;
  if (!isIPv6(value)) return undefined;
  let s = value.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return undefined;
  return groups.map((g) => g.padStart(4, '0')).join('');
}

function mapSan(e: SanEntry): string | undefined {
  if (e.type === 'dns') return e.value.toLowerCase();
  if (e.type === 'ip') return ipName(e.value);
  if (e.type === 'email') {
    const at = e.value.lastIndexOf('@');
    return at < 0 ? e.value : e.value.slice(0, at) + e.value.slice(at).toLowerCase();
  }
  return undefined;
}

/** the first CN of the subject */
export function commonName(cert: X509Certificate): string | undefined {
  for (const line of cert.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}

function nameFrom(rule: CertToNameRule, cert: X509Certificate): string | undefined {
  const sans = (): SanEntry[] => subjectAltNames(cert);
  let name: string | undefined;
  switch (rule.mapType) {
    case 'specified': name = rule.name; break;
    case 'san-rfc822-name': { const e = sans().find((s) => s.type === 'email'); name = e && mapSan(e); break; }
    case 'san-dns-name': { const e = sans().find((s) => s.type === 'dns'); name = e && mapSan(e); break; }
    case 'san-ip-address': { const e = sans().find((s) => s.type === 'ip'); name = e && mapSan(e); break; }
    case 'san-any': { const e = sans().find((s) => s.type !== 'other'); name = e && mapSan(e); break; }
    case 'common-name': name = commonName(cert); break;
  }
  return name !== undefined && NAME_RE.test(name) ? name : undefined;
}

export interface CertMapping {
  username: string;
  /** the index of the entry that gave the name */
  entry: number;
}

/**
 * Map a client certificate to a user. `chain` is the certificate chain that validated it (the client's
 * certificate first, then its issuers up to the trusted CA); `cert` is `chain[0]`.
 */
export function mapCertificate(rules: readonly CertToNameRule[], chain: readonly X509Certificate[]): CertMapping | undefined {
  const cert = chain[0];
  if (!cert) return undefined;
  const digests = chain.map(certSha256);
  for (const [i, rule] of rules.entries()) {
    if (!digests.some((d) => d.equals(rule.sha256))) continue;
    const username = nameFrom(rule, cert);
    if (username !== undefined) return { username, entry: i };
  }
  return undefined;
}

/**
 * The chain from `leaf` up through `candidates` (the client's intermediates and our trusted CAs), each
 * link checked by name and by signature (never by name alone: a client may send any certificate along),
 * at most 10 links. What cert-to-name may match a CA fingerprint against.
 */
export function verifiedChain(leaf: X509Certificate, candidates: readonly X509Certificate[]): X509Certificate[] {
  const chain = [leaf];
  for (let cur = leaf; chain.length < 10;) {
    if (cur.checkIssued(cur) && safeVerify(cur, cur)) break; // self-signed: the root
    const issuer = candidates.find((c) => !chain.includes(c) && cur.checkIssued(c) && safeVerify(cur, c));
    if (!issuer) break;
    chain.push(issuer);
    cur = issuer;
  }
  return chain;
}

function safeVerify(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** The certificates of a PEM text (a CA bundle), in order. */
export function certificatesOfPem(pem: string | Buffer): X509Certificate[] {
  const text = pem.toString();
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}
