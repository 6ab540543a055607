/**
 * JWS compact serialisation (RFC 7515 section 7.1) for our two algorithms, with node:crypto's one-shot sign and
 * verify on KeyObjects. jose does the same through WebCrypto: each call converts the KeyObject to a CryptoKey and
 * queues the operation on libuv's thread pool, which the fleet benchmark's profiles put at ~0.3 ms per ES256
 * signature and ~0.2 ms per verification against 0.04 / 0.13 ms here (issue 15). The bytes are those jose makes:
 * base64url(JSON of the protected header) '.' base64url(JSON of the payload) '.' base64url(signature), the ES256
 * signature as r || s (IEEE P1363, 64 bytes), EdDSA as Ed25519 (RFC 8037).
 *
 * The key must fit the algorithm (ES256: an EC P-256 key; EdDSA: Ed25519), checked before any signature is made
 * or tried, as jose checks it. Callers still check the header (alg allow-list, typ, crit, kid) first.
 */
import { sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { SigningAlg } from './types.js';

const ES256_SIG_BYTES = 64;

/** true when `key` (of `use`: public or private) is a key of `alg` */
function fits(key: KeyObject, alg: SigningAlg, use: 'public' | 'private'): boolean {
  if (key.type !== use) return false;
  if (alg === 'ES256') return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  return key.asymmetricKeyType === 'ed25519';
}

/** the signature of `input` with `alg` (ES256 as r || s), or a TypeError for a key that does not fit */
function signatureOf(alg: SigningAlg, input: Buffer, key: KeyObject): Buffer {
  if (!fits(key, alg, 'private')) throw new TypeError(`the key is not a private ${alg === 'ES256' ? 'EC P-256' : 'Ed25519'} key`);
  return alg === 'ES256' ? cryptoSign('sha256', input, { key, dsaEncoding: 'ieee-p1363' }) : cryptoSign(null, input, key);
}

/** A compact JWS of `payload` (JSON) under `header` (JSON; its alg is `alg`), signed with `key`. */
export function signCompact(header: Record<string, unknown> & { alg: SigningAlg }, payload: Record<string, unknown>, key: KeyObject): string {
  const head = Buffer.from(JSON.stringify(header)).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const input = `${head}.${body}`;
  return `${input}.${signatureOf(header.alg, Buffer.from(input, 'ascii'), key).toString('base64url')}`;
}

/**
 * The payload bytes of compact JWS `token` when its signature verifies with `key` under `alg`; undefined when it
 * does not, whatever the reason (wrong key, a key of another type, a malformed signature): no oracle.
 */
export function verifyCompact(token: string, key: KeyObject, alg: SigningAlg): Uint8Array | undefined {
  const first = token.indexOf('.');
  const last = token.lastIndexOf('.');
  if (first <= 0 || last === first || last === token.length - 1 || token.indexOf('.', first + 1) !== last) return undefined;
  if (!fits(key, alg, 'public')) return undefined;
  const signature = Buffer.from(token.slice(last + 1), 'base64url');
  if (alg === 'ES256' && signature.length !== ES256_SIG_BYTES) return undefined;
  const input = Buffer.from(token.slice(0, last), 'ascii');
  let ok: boolean;
  try {
    ok = alg === 'ES256'
      ? cryptoVerify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature)
      : cryptoVerify(null, input, key, signature);
  } catch {
    return undefined;
  }
  return ok ? Buffer.from(token.slice(first + 1, last), 'base64url') : undefined;
}
