/**
 * TLS sessions a client may resume (RFC 8446 section 2.2 tickets, or TLS 1.2 RFC 5077 tickets), kept per
 * server and per trust decision, bounded (least recently used dropped first).
 *
 * Why the key is more than host:port: on a resumed connection the server shows no certificate (node reports
 * none, and OpenSSL keeps the verification result of the session's first handshake), so resuming is trusting
 * the decision taken when the session was made. A session is therefore only offered again with the very
 * settings that decision was taken under: the address, the expected name (SNI / RFC 6125), the CA bundle,
 * the pinned certificate and our own client certificate and key (the server maps the certificate the session
 * was made with). Any change (another CA, another pin, a new client certificate) finds no session and makes a
 * full handshake, where the server's certificate is verified again. A session is not offered once the
 * server certificate it was verified with has expired, nor after `maxAgeMs`; a handshake that fails drops the
 * entry. A server that no longer accepts the ticket (restarted, new ticket keys, new certificate) simply makes
 * a full handshake.
 */
import { createHash } from 'node:crypto';

/** the server certificate a session was verified with */
export interface TlsSessionPeer {
  /** SHA-256 of the server's certificate, hex with colons (as node prints it) */
  sha256: string;
  /** its notAfter, ms since the epoch */
  validTo: number;
}

export interface TlsSessionEntry {
  session: Buffer;
  peer: TlsSessionPeer;
  /** when the session was stored (ms since the epoch) */
  storedAt: number;
}

/** the settings a session's trust decision was taken under (see the module comment) */
export interface TlsSessionSettings {
  host: string;
  port: number;
  servername?: string | undefined;
  ca?: string | Buffer | undefined;
  serverCertSha256?: string | undefined;
  cert: string | Buffer;
  key: string | Buffer;
}

export interface TlsSessionCacheOptions {
  /** entries kept (one per server and settings); default 1024 */
  max?: number;
  /** a session older than this is not offered; default 1 hour (servers bound their tickets' lifetime too) */
  maxAgeMs?: number;
  /** the clock (tests) */
  now?: () => number;
}

export class TlsSessionCache {
  private readonly entries = new Map<string, TlsSessionEntry>();
  private readonly max: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(o: TlsSessionCacheOptions = {}) {
    this.max = Math.max(1, o.max ?? 1024);
    this.maxAgeMs = o.maxAgeMs ?? 3_600_000;
    this.now = o.now ?? Date.now;
  }

  /** the cache key of a connection's settings (a digest: the key holds no secret) */
  static keyOf(s: TlsSessionSettings): string {
    const h = createHash('sha256');
    for (const part of [s.host.toLowerCase(), String(s.port), s.servername?.toLowerCase() ?? '', s.ca ?? '', (s.serverCertSha256 ?? '').replace(/:/g, '').toLowerCase(), s.cert, s.key]) {
      h.update(String(part)).update('\0');
    }
    return h.digest('hex');
  }

  /** the session to offer for these settings, or undefined (expired ones are dropped) */
  get(key: string): TlsSessionEntry | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    const now = this.now();
    if (e.peer.validTo <= now || now - e.storedAt > this.maxAgeMs) {
      this.entries.delete(key);
      return undefined;
    }
    // most recently used last
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  /** keep the newest session of a connection whose server was verified as `peer` */
  set(key: string, session: Buffer, peer: TlsSessionPeer): void {
    this.entries.delete(key);
    this.entries.set(key, { session, peer, storedAt: this.now() });
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
