/**
 * The certificates a TLS peer presented, as X509Certificate, leaf first (what cert-to-name and call-home
 * identification match against).
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';

/**
 * The peer's certificate and the ones after it (node's legacy PeerCertificate chain: what the peer sent,
 * completed from our trust store), as X509Certificate. Read it once, before anything else asks for the peer
 * certificate: in Node 20, after getPeerX509Certificate() this chain comes back without its issuers.
 */
export function peerCertificateChain(socket: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c: PeerCertificate & { issuerCertificate?: PeerCertificate } = socket.getPeerCertificate(true) as PeerCertificate & { issuerCertificate?: PeerCertificate };
  const seen = new Set<PeerCertificate>();
  while (c && c.raw && !seen.has(c) && out.length < 10) {
    seen.add(c);
    try {
      out.push(new X509Certificate(c.raw));
    } catch {
      break;
    }
    c = c.issuerCertificate as typeof c;
  }
  return out;
}

/**
 * The certificates the peer sent, leaf first, as node's X509Certificate objects of the connection (no second
 * parse, unlike peerCertificateChain's legacy objects): cheaper, for servers that map a client on every
 * connection. A resumed TLS session keeps the peer's certificate only (OpenSSL does not store its chain).
 * Do not mix with peerCertificateChain on one socket (see there).
 */
export function sentCertificates(socket: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let c: X509Certificate | undefined = socket.getPeerX509Certificate(); c !== undefined && out.length < 10; c = c.issuerCertificate) {
    if (seen.has(c.fingerprint256)) break;
    seen.add(c.fingerprint256);
    out.push(c);
  }
  return out;
}
