/**
 * ssh2 signs and verifies with keys held as PEM text: every host-key signature a server makes (one per handshake),
 * and every host-key signature a client checks, has node:crypto parse that PEM again (an Ed25519 signature took
 * 1.0 ms from PEM text against 74 us from a KeyObject on the project's machine; a verification 555 us against
 * 176 us). These wrappers of crypto.sign / crypto.verify turn a PEM string into a KeyObject made once and kept,
 * keyed by the PEM text itself: a different key is a different text, so it can never be served another key's
 * object (a changed host key is parsed anew). Anything that is not a string key is passed through unchanged, and
 * so are the errors of a text node cannot parse (createPrivateKey / createPublicKey throw what crypto.sign would).
 *
 * The caches are bounded (least recently used dropped first): private keys are the host keys of this process's
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

export const privateKeyObjects = new KeyObjectCache(20_000, (pem) => nodeCrypto.createPrivateKey(pem));
export const publicKeyObjects = new KeyObjectCache(4_096, (pem) => nodeCrypto.createPublicKey(pem));

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
