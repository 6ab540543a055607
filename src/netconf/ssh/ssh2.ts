/**
 * The one place that loads ssh2 (every SSH user in src/ imports it from here, a test checks that).
 *
 * Why: ssh2 fills the random padding of every packet it sends (RFC 4253 section 6: 4..255 bytes, "SHOULD
 * consist of random bytes") with one crypto.randomFillSync call per packet. Each call is a full OpenSSL
 * RAND_bytes round plus a getpid() system call (strace: exactly one per packet sent), which perf put at 4-8%
 * of a lockstep NETCONF hop on both ends (bench/netconf.ts). Here those small requests are served from a
 * pool of CSPRNG output refilled 16 KiB at a time: the bytes come from the same generator, each byte is
 * handed out once and zeroed in the pool, and requests larger than 256 bytes go to the generator directly.
 *
 * Scope: ssh2's modules destructure `randomFillSync` from 'crypto' when they are first loaded (protocol/
 * crypto.js, protocol/kex.js, client.js). ssh2 is loaded once, synchronously, while crypto.randomFillSync is
 * the pooled function, and the original is put back before this module finishes: nothing else in the
 * process (jose, our own key generation) ever sees the pool. If ssh2 was already loaded by someone else, it
 * keeps the plain generator (correct, only slower).
 *
 * The same way, ssh2's keyParser gets crypto.sign / crypto.verify that turn its PEM text keys into KeyObjects made
 * once per key (key-objects.ts: node parsed the host key's PEM for every handshake's signature, ~1 ms each), and
 * its key exchange a createPublicKey / generateKeyPairSync that read and write X25519 keys as raw bytes.
 */
import { createRequire } from 'node:module';
import * as nodeCrypto from 'node:crypto';
import type * as Ssh2Module from 'ssh2';
import { cachedSign, cachedVerify, fastCreatePublicKey, fastX25519Pairs } from './key-objects.js';

type Ssh2 = typeof Ssh2Module;

const POOL_BYTES = 16 * 1024;
const MAX_POOLED = 256;

/**
 * A randomFillSync with the same signature that serves requests of at most 256 bytes into a Buffer/Uint8Array
 * from a pool; anything else is passed to `fill` unchanged. Exported for its tests.
 */
export function pooledRandomFill(fill: typeof nodeCrypto.randomFillSync = nodeCrypto.randomFillSync): typeof nodeCrypto.randomFillSync {
  const pool = Buffer.alloc(POOL_BYTES);
  let pos = POOL_BYTES;
  const passThrough = fill as (buf: unknown, offset?: number, size?: number) => unknown;
  const pooled = (buf: unknown, offset?: number, size?: number): unknown => {
    if (!(buf instanceof Uint8Array) || (offset !== undefined && !Number.isSafeInteger(offset)) || (size !== undefined && !Number.isSafeInteger(size))) {
      return passThrough(buf, offset, size);
    }
    const off = offset ?? 0;
    const n = size ?? buf.length - off;
    if (n > MAX_POOLED || off < 0 || n < 0 || off + n > buf.length) return passThrough(buf, offset, size); // its own checks and errors
    if (pos + n > POOL_BYTES) {
      fill(pool);
      pos = 0;
    }
    pool.copy(buf, off, pos, pos + n);
    pool.fill(0, pos, pos + n);
    pos += n;
    return buf;
  };
  return pooled as typeof nodeCrypto.randomFillSync;
}

function load(): Ssh2 {
  const require = createRequire(import.meta.url);
  // the CommonJS exports object of 'crypto', which ssh2's require('crypto') returns (an ES namespace is read-only)
  const crypto = require('node:crypto') as typeof nodeCrypto;
  const original = {
    randomFillSync: crypto.randomFillSync, sign: crypto.sign, verify: crypto.verify,
    createPublicKey: crypto.createPublicKey, generateKeyPairSync: crypto.generateKeyPairSync,
  };
  crypto.randomFillSync = pooledRandomFill(original.randomFillSync);
  crypto.sign = cachedSign(original.sign);
  crypto.verify = cachedVerify(original.verify);
  crypto.createPublicKey = fastCreatePublicKey(original.createPublicKey);
  crypto.generateKeyPairSync = fastX25519Pairs(original.generateKeyPairSync);
  try {
    return require('ssh2') as Ssh2;
  } finally {
    Object.assign(crypto, original);
  }
}

const ssh2: Ssh2 = load();
export default ssh2;
