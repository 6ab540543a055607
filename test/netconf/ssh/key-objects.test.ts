import { createRequire } from 'node:module';
import * as nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const cjsCrypto = require('node:crypto') as typeof nodeCrypto;
const original = { sign: cjsCrypto.sign, verify: cjsCrypto.verify };
// loaded after the originals are captured: the loader must put them back
const { default: ssh2 } = await import('../../../src/netconf/ssh/ssh2.js');
const { KeyObjectCache, cachedSign, cachedVerify, fastCreatePublicKey, fastX25519Pairs, privateKeyObjects, privateKeyOfPem, publicKeyObjects, publicKeyOfPem, x25519Pair } = await import('../../../src/netconf/ssh/key-objects.js');
const { generateEd25519KeyPair } = await import('../../../src/netconf/server/index.js');

interface ParsedKey {
  sign(data: Buffer, algo?: string): Buffer | Error;
  verify(data: Buffer, signature: Buffer, algo?: string): boolean | Error;
  getPrivatePEM(): string;
  getPublicPEM(): string;
  getPublicSSH(): Buffer;
}

// Ed25519 through generateEd25519KeyPair: ssh2's own generateKeyPairSync drops a leading zero byte of the public key
// (about 1 key in 256), and parseKey then returns an Error ("priv.sign is not a function" here, once in a full run)
function parsedPair(type: 'ed25519' | 'ecdsa' = 'ed25519'): { priv: ParsedKey; pub: ParsedKey } {
  const pair = type === 'ecdsa' ? ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }) : generateEd25519KeyPair();
  return { priv: ssh2.utils.parseKey(pair.private) as unknown as ParsedKey, pub: ssh2.utils.parseKey(pair.public) as unknown as ParsedKey };
}

describe('ssh2 loader: host keys as KeyObjects made once', () => {
  it('leaves crypto.sign and crypto.verify as they were for everyone else', () => {
    expect(cjsCrypto.sign).toBe(original.sign);
    expect(cjsCrypto.verify).toBe(original.verify);
    expect(nodeCrypto.sign).toBe(original.sign);
  });

  it("ssh2's key signs with a cached KeyObject: the same signatures, one parse per key", () => {
    const { priv, pub } = parsedPair();
    const data = Buffer.from('exchange hash');
    const before = privateKeyObjects.size;
    const sig = priv.sign(data) as Buffer;
    expect(sig).toBeInstanceOf(Buffer);
    expect(privateKeyObjects.size).toBe(before + 1);
    // Ed25519 is deterministic: the same bytes as node signing from the PEM text
    expect(sig.equals(original.sign(null, data, priv.getPrivatePEM()))).toBe(true);
    expect(priv.sign(data) as Buffer).toEqual(sig);
    expect(privateKeyObjects.size).toBe(before + 1);
    expect(original.verify(null, data, pub.getPublicPEM(), sig)).toBe(true);
  });

  it('a changed host key is never checked with the cached object of the old one', () => {
    const a = parsedPair();
    const b = parsedPair();
    const data = Buffer.from('exchange hash');
    const sigA = a.priv.sign(data) as Buffer;
    const sigB = b.priv.sign(data) as Buffer;
    expect(a.pub.verify(data, sigA)).toBe(true); // A's public key object is cached now
    // the same peer presents key B: its own object, and A's signature does not pass under it
    expect(b.pub.verify(data, sigA)).toBe(false);
    expect(b.pub.verify(data, sigB)).toBe(true);
    expect(a.pub.verify(data, sigB)).toBe(false);
    // and A parsed anew from the wire, as a client does at each handshake, still checks against A only
    const again = ssh2.utils.parseKey(a.pub.getPublicSSH()) as unknown as ParsedKey;
    expect(again).not.toBeInstanceOf(Error);
    expect(again.verify(data, sigA)).toBe(true);
    expect(again.verify(data, sigB)).toBe(false);
    expect(publicKeyObjects.size).toBeGreaterThanOrEqual(2);
  });

  it('ECDSA host keys (hashed signatures) work the same way', () => {
    const { priv, pub } = parsedPair('ecdsa');
    const data = Buffer.from('exchange hash');
    const sig = priv.sign(data, 'sha256') as Buffer;
    expect(pub.verify(data, sig, 'sha256')).toBe(true);
    expect(pub.verify(Buffer.from('other'), sig, 'sha256')).toBe(false);
  });

  it('passes KeyObjects through and keeps the errors of an unreadable PEM text', () => {
    const calls: unknown[] = [];
    const sign = cachedSign(((alg: unknown, data: unknown, key: unknown) => {
      calls.push(key);
      return Buffer.alloc(0);
    }) as unknown as typeof nodeCrypto.sign, new KeyObjectCache(4, (pem) => nodeCrypto.createPrivateKey(pem)));
    const { privateKey } = nodeCrypto.generateKeyPairSync('ed25519');
    sign(null, Buffer.from('x'), privateKey);
    expect(calls[0]).toBe(privateKey);
    expect(() => sign(null, Buffer.from('x'), '-----BEGIN PRIVATE KEY-----\nbad\n-----END PRIVATE KEY-----\n')).toThrow();
    const verify = cachedVerify(original.verify, new KeyObjectCache(4, (pem) => nodeCrypto.createPublicKey(pem)));
    expect(() => verify(null, Buffer.from('x'), 'not a key', Buffer.alloc(64))).toThrow();
  });

  it('is bounded: the least recently used key goes first', () => {
    let made = 0;
    const cache = new KeyObjectCache(2, (pem) => {
      made++;
      return nodeCrypto.createSecretKey(Buffer.from(pem));
    });
    cache.get('a');
    cache.get('b');
    cache.get('a'); // a is young now
    cache.get('c'); // drops b
    expect(cache.size).toBe(2);
    expect(made).toBe(3);
    cache.get('a');
    expect(made).toBe(3);
    cache.get('b');
    expect(made).toBe(4);
  });
});

describe('Curve25519 keys from their raw bytes (no OpenSSL 3 decoder)', () => {
  it('an Ed25519 key from PEM is the same key: equal objects, the same signatures', () => {
    const { privateKey, publicKey } = nodeCrypto.generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const pub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const k = privateKeyOfPem(pem);
    expect(k.equals(nodeCrypto.createPrivateKey(pem))).toBe(true);
    expect(publicKeyOfPem(pub).equals(publicKey)).toBe(true);
    const data = Buffer.from('exchange hash');
    expect(original.sign(null, data, k).equals(original.sign(null, data, privateKey))).toBe(true);
    // a CRLF PEM too
    expect(privateKeyOfPem(pem.replace(/\n/g, '\r\n')).equals(privateKey)).toBe(true);
  });

  it('any other key takes the general path, and a damaged PEM fails there', () => {
    const ec = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(privateKeyOfPem(pem).equals(ec.privateKey)).toBe(true);
    expect(publicKeyOfPem(ec.publicKey.export({ type: 'spki', format: 'pem' }) as string).equals(ec.publicKey)).toBe(true);
    const ed = nodeCrypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => privateKeyOfPem(ed.replace(/[A-Za-z](?=[^-]*-----END)/, (c) => (c === 'A' ? 'B' : 'A')).slice(0, -30))).toThrow();
  });

  it("ssh2's X25519 exchange: the peer key from SPKI DER and our key written as SPKI DER are what node makes", () => {
    const calls: unknown[] = [];
    const create = fastCreatePublicKey(((input: unknown) => {
      calls.push(input);
      return nodeCrypto.createPublicKey(input as Parameters<typeof nodeCrypto.createPublicKey>[0]);
    }) as typeof nodeCrypto.createPublicKey);
    const generate = fastX25519Pairs(nodeCrypto.generateKeyPairSync);
    const a = generate('x25519');
    const b = nodeCrypto.generateKeyPairSync('x25519');
    const der = a.publicKey.export({ type: 'spki', format: 'der' });
    const nodeExport = (Object.getPrototypeOf(a.publicKey) as { export: (o: unknown) => Buffer }).export;
    expect(der.equals(nodeExport.call(a.publicKey, { type: 'spki', format: 'der' }))).toBe(true);
    expect(a.publicKey.export({ type: 'spki', format: 'pem' })).toMatch(/BEGIN PUBLIC KEY/); // other formats: node's
    const peer = create({ key: b.publicKey.export({ type: 'spki', format: 'der' }), type: 'spki', format: 'der' });
    expect(peer.equals(b.publicKey)).toBe(true);
    expect(nodeCrypto.diffieHellman({ privateKey: a.privateKey, publicKey: peer })
      .equals(nodeCrypto.diffieHellman({ privateKey: b.privateKey, publicKey: create({ key: der, type: 'spki', format: 'der' }) }))).toBe(true);
    expect(calls.every((c) => (c as { format?: string }).format === 'jwk')).toBe(true);
    // not an X25519 key (an Ed25519 SPKI, a short DER): passed on as given
    const ed = nodeCrypto.generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
    create({ key: ed, type: 'spki', format: 'der' });
    expect(calls.at(-1)).toMatchObject({ format: 'der' });
    expect(() => create({ key: der.subarray(0, 40), type: 'spki', format: 'der' })).toThrow();
    // other key types and generator options: untouched
    const rsaLike = generate('ed25519');
    expect(Object.getOwnPropertyNames(rsaLike.publicKey)).not.toContain('export');
  });

  // node 20: generateKeyPairSync('x25519') and then an export as JWK deadlocked the thread when a garbage collection
  // ran inside the export (the generator's job, freed there, takes the key's mutex the export holds): a benchmark's
  // client stalled for good on 6 December. The pairs are made from their bytes, with no generator job at all.
  it('an X25519 pair for ssh2 never comes from generateKeyPairSync (the deadlock of 6 December)', () => {
    const asked: unknown[] = [];
    const generate = fastX25519Pairs(((...a: unknown[]) => {
      asked.push(a[0]);
      return (nodeCrypto.generateKeyPairSync as (...x: unknown[]) => unknown)(...a);
    }) as typeof nodeCrypto.generateKeyPairSync);
    for (let i = 0; i < 3; i++) {
      const pair = generate('x25519');
      expect(pair.privateKey.asymmetricKeyType).toBe('x25519');
      expect(pair.publicKey.export({ type: 'spki', format: 'der' })).toHaveLength(44);
    }
    expect(asked).toEqual([]);
    generate('ed25519');
    expect(asked).toEqual(['ed25519']); // other types: the generator, unchanged
  });

  it('x25519Pair: RFC 7748 section 6.1 (the public key and the shared secret from the private bytes)', () => {
    const hex = (h: string): Buffer => Buffer.from(h, 'hex');
    const alicePriv = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
    const alicePub = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
    const bobPub = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    const drawn = hex(alicePriv);
    const pair = x25519Pair(() => drawn);
    expect(drawn.equals(Buffer.alloc(32))).toBe(true); // the drawn bytes are wiped
    const der = pair.publicKey.export({ type: 'spki', format: 'der' });
    expect(der.toString('hex')).toBe(`302a300506032b656e032100${alicePub}`);
    const nodeExport = (Object.getPrototypeOf(pair.publicKey) as { export: (o: unknown) => Buffer }).export;
    expect(der.equals(nodeExport.call(pair.publicKey, { type: 'spki', format: 'der' }))).toBe(true);
    expect(nodeCrypto.createPublicKey(pair.privateKey).equals(pair.publicKey)).toBe(true);
    const bob = nodeCrypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: hex(bobPub).toString('base64url') }, format: 'jwk' });
    expect(nodeCrypto.diffieHellman({ privateKey: pair.privateKey, publicKey: bob }).toString('hex')).toBe(shared);
    // each DER asked for is a copy: a caller that changes it does not change the next one
    der.fill(0);
    expect(pair.publicKey.export({ type: 'spki', format: 'der' }).toString('hex')).toBe(`302a300506032b656e032100${alicePub}`);
    // two pairs from the real generator differ
    expect(x25519Pair().publicKey.equals(x25519Pair().publicKey)).toBe(false);
  });
});
