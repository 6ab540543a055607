/**
 * ECDSA signature malleability: (r, s) and (r, n - s) both verify. Tokens we sign carry the low-S form
 * (s <= n/2, as Bitcoin's BIP 62/146 and libsecp256k1 require), and tokens we verify must carry it, so that a
 * token has exactly one valid byte string (a jti replay cache or an audit entry keyed by bytes is not fooled by
 * a flipped S). node:crypto (OpenSSL) does not normalise S, so signing normalises after the fact.
 */

/** the order n of the P-256 group (SEC 2, secp256r1) */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_HALF_N = P256_N >> 1n;
const ES256_SIG_BYTES = 64;

function toBigInt(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
}

function toBytes32(v: bigint): Buffer {
  return Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
}

/** true when an ES256 JWS signature (IEEE P1363 r || s, 64 bytes) has s > n/2; other shapes are not high-S */
export function isHighS(signature: Uint8Array): boolean {
  if (signature.length !== ES256_SIG_BYTES) return false;
  return toBigInt(signature.subarray(32)) > P256_HALF_N;
}

/** an ES256 compact JWS with its signature in low-S form (unchanged when already low-S or not ES256) */
export function toLowS(token: string, alg: string): string {
  if (alg !== 'ES256') return token;
  const dot = token.lastIndexOf('.');
  const sig = Buffer.from(token.slice(dot + 1), 'base64url');
  if (!isHighS(sig)) return token;
  const s = toBigInt(sig.subarray(32));
  const low = Buffer.concat([sig.subarray(0, 32), toBytes32(P256_N - s)]);
  return `${token.slice(0, dot + 1)}${low.toString('base64url')}`;
}

/** the signature part of a compact JWS, decoded */
export function signatureOf(token: string): Uint8Array {
  return Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url');
}
