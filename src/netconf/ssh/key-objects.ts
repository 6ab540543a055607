/**
 * ssh2 signs and verifies with keys held as PEM text: every host-key signature a server makes (one per handshake),
 * and every host-key signature a client checks, has node:crypto parse that PEM again (an Ed25519 signature took
 * 1.0 ms from PEM text against 74 us from a KeyObject on the project's machine; a verification 555 us against
 * 176 us). These wrappers of crypto.sign / crypto.verify turn a PEM string into a KeyObject made once and kept,
 * keyed by the PEM text itself: a different key is a different text, so it can never be served another key's
 * object (a changed host key is parsed anew). Anything that is not a string key is passed through unchanged, and
 * so are the errors of a text node cannot parse (createPrivateKey / createPublicKey throw what crypto.sign would).
 *
 * Ed25519 keys are read from their raw bytes, and ssh2's per-handshake X25519 keys are made, read and written that way
 * (below: OpenSSL 3's decoders made each of these 10x dearer). The caches are bounded (least recently used dropped first): private keys are the host keys of this process's
 * servers (a simulated fleet holds thousands), public keys the peers' host keys seen by its clients.
 */
import * as nodeCrypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';

type SignFn = typeof nodeCrypto.sign;
type VerifyFn = typeof nodeCrypto.verify;

/** A map of at most `max` entries; a hit moves the entry to the young end. */
export class KeyObjectCache {
  private readonly map = new Map<string, KeyObject>();

  constructor(private readonly max: number, private readonly make: (pem: string) => KeyObject) {}

  get(pem: string): KeyObject {
    let key = this.map.get(pem);
    if (key !== undefined) {
      this.map.delete(pem);
      this.map.set(pem, key);
      return key;
    }
    key = this.make(pem);
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string);
    this.map.set(pem, key);
    return key;
  }

  get size(): number {
    return this.map.size;
  }
}

/*
 * Curve25519 keys without OpenSSL 3's decoders and encoders. Reading a key from PEM or DER goes through OpenSSL 3's
 * decoder framework, which tries format after format: ~630 us for an Ed25519 private key, ~270 us for a public one,
 * ~190 us for the X25519 key of every handshake, and writing one as DER ~120 us (node 20, this machine); the same
 * keys as JWK (the raw 32 bytes) take 14-50 us and writing as JWK ~1 us. These keys' DER is a fixed prefix and the
 * 32 key bytes (RFC 8410), so when a DER (or PEM) is exactly that, the key is made from the raw bytes; anything else
 * takes node's general path unchanged (and fails there the same way).
 */
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const PEM_RE = /^-----BEGIN (PRIVATE KEY|PUBLIC KEY)-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END \1-----\r?\n?$/;

/** the 32 key bytes of `der` when it is exactly `prefix` and 32 bytes */
function rawKey(der: Buffer | undefined, prefix: Buffer): Buffer | undefined {
  return der !== undefined && der.length === prefix.length + 32 && der.subarray(0, prefix.length).equals(prefix) ? der.subarray(prefix.length) : undefined;
}

function derOfPem(pem: string, label: 'PRIVATE KEY' | 'PUBLIC KEY'): Buffer | undefined {
  const m = PEM_RE.exec(pem);
  return m !== null && m[1] === label ? Buffer.from(m[2]!.replace(/\r?\n/g, ''), 'base64') : undefined;
}

/** createPrivateKey(pem), an Ed25519 PKCS#8 key from its seed */
export function privateKeyOfPem(pem: string): KeyObject {
  const seed = rawKey(derOfPem(pem, 'PRIVATE KEY'), ED25519_PKCS8);
  if (seed !== undefined) {
    try {
      const d = seed.toString('base64url');
      // node makes an OKP private key from d alone (x is only type-checked); the public half is then derived from it,
      // and the key made again with both, as a JWK must have them
      const probe = nodeCrypto.createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d, x: '' }, format: 'jwk' });
      const x = nodeCrypto.createPublicKey(probe).export({ format: 'jwk' }).x as string;
      return nodeCrypto.createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d, x }, format: 'jwk' });
    } catch {
      // the general path below
    }
  }
  return nodeCrypto.createPrivateKey(pem);
}

/** createPublicKey(pem), an Ed25519 SPKI key from its 32 bytes */
export function publicKeyOfPem(pem: string): KeyObject {
  const x = rawKey(derOfPem(pem, 'PUBLIC KEY'), ED25519_SPKI);
  return x !== undefined ? nodeCrypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: x.toString('base64url') }, format: 'jwk' }) : nodeCrypto.createPublicKey(pem);
}

export const privateKeyObjects = new KeyObjectCache(20_000, privateKeyOfPem);
export const publicKeyObjects = new KeyObjectCache(4_096, publicKeyOfPem);

/**
 * crypto.createPublicKey for ssh2's key exchange: the peer's X25519 key, which ssh2 wraps as SPKI DER for every
 * handshake, is made from its 32 bytes; every other input goes to `create` unchanged.
 */
export function fastCreatePublicKey(create: typeof nodeCrypto.createPublicKey = nodeCrypto.createPublicKey): typeof nodeCrypto.createPublicKey {
  return ((input: Parameters<typeof nodeCrypto.createPublicKey>[0]) => {
    if (typeof input === 'object' && input !== null && !(input instanceof nodeCrypto.KeyObject) && 'key' in input && Buffer.isBuffer(input.key)
      && (input as { format?: unknown }).format === 'der' && (input as { type?: unknown }).type === 'spki') {
      const x = rawKey(input.key, X25519_SPKI);
      if (x !== undefined) return create({ key: { kty: 'OKP', crv: 'X25519', x: x.toString('base64url') }, format: 'jwk' });
    }
    return create(input);
  }) as typeof nodeCrypto.createPublicKey;
}

/**
 * crypto.generateKeyPairSync for ssh2's key exchange: an X25519 pair (x25519Pair) whose public key writes itself as
 * SPKI DER from its raw bytes (ssh2 asks for that DER once per handshake to send the key's last 32 bytes). Every other
 * call goes to `generate` unchanged.
 */
export function fastX25519Pairs(generate: typeof nodeCrypto.generateKeyPairSync = nodeCrypto.generateKeyPairSync): typeof nodeCrypto.generateKeyPairSync {
  return ((type: string, ...rest: unknown[]) => {
    if (type !== 'x25519' || rest.length > 0) return (generate as (...a: unknown[]) => unknown)(type, ...rest);
    return x25519Pair();
  }) as typeof nodeCrypto.generateKeyPairSync;
}

/**
 * An X25519 key pair made from 32 bytes of `random` (RFC 7748 section 5: any 32 bytes are a private key; they are
 * clamped here as OpenSSL's own generator stores them), its public key derived by node, and that public key's SPKI
 * DER (the fixed prefix and the 32 bytes of its JWK) written once.
 *
 * Not generateKeyPairSync('x25519') and then an export as JWK: node 20 holds a key's mutex while it writes the key
 * as JWK, allocating the strings; a garbage collection in that allocation may free the generator's job (unreachable
 * once the pair is returned), whose destructor takes the same mutex, and the thread waits on itself forever (gdb:
 * ~KeyGenJob under ExportJWKEdKey, in a futex). That stalled a benchmark's 50 client lanes for good on 6 December
 * (every socket of the process left in CLOSE-WAIT); a loop of the two calls alone deadlocks within a few
 * thousand pairs. A key made from its bytes has no such job.
 */
export function x25519Pair(random: (n: number) => Buffer = nodeCrypto.randomBytes): { publicKey: KeyObject; privateKey: KeyObject } {
  const d = random(32);
  d[0]! &= 248;
  d[31]! &= 127;
  d[31]! |= 64;
  let privateKey: KeyObject;
  try {
    // node makes an OKP private key from d alone (x is only type-checked)
    privateKey = nodeCrypto.createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: d.toString('base64url'), x: '' }, format: 'jwk' });
  } finally {
    d.fill(0);
  }
  const publicKey = nodeCrypto.createPublicKey(privateKey);
  const spki = Buffer.concat([X25519_SPKI, Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')]);
  const write = publicKey.export.bind(publicKey) as (o?: unknown) => unknown;
  Object.defineProperty(publicKey, 'export', {
    value: (o?: { type?: unknown; format?: unknown; [k: string]: unknown }): unknown => {
      if (o !== undefined && o.type === 'spki' && o.format === 'der' && Object.keys(o).length === 2) return Buffer.from(spki);
      return write(o);
    },
  });
  return { publicKey, privateKey };
}

/** crypto.sign with a string key served from privateKeyObjects (the one-shot form ssh2 uses: no callback). */
export function cachedSign(sign: SignFn = nodeCrypto.sign, keys: KeyObjectCache = privateKeyObjects): SignFn {
  return ((algorithm: string | null | undefined, data: NodeJS.ArrayBufferView, key: unknown, callback?: unknown) => {
    const k = typeof key === 'string' ? keys.get(key) : key;
    return (sign as (...a: unknown[]) => unknown)(algorithm, data, k, ...(callback !== undefined ? [callback] : []));
  }) as SignFn;
}

/** crypto.verify with a string key served from publicKeyObjects. */
export function cachedVerify(verify: VerifyFn = nodeCrypto.verify, keys: KeyObjectCache = publicKeyObjects): VerifyFn {
  return ((algorithm: string | null | undefined, data: NodeJS.ArrayBufferView, key: unknown, signature: NodeJS.ArrayBufferView, callback?: unknown) => {
    const k = typeof key === 'string' ? keys.get(key) : key;
    return (verify as (...a: unknown[]) => unknown)(algorithm, data, k, signature, ...(callback !== undefined ? [callback] : []));
  }) as VerifyFn;
}
