/**
 * ECDSA signature malleability: (r, s) and (r, n - s) both verify. Tokens we sign carry the low-S form
 * (s <= n/2, as Bitcoin's BIP 62/146 and libsecp256k1 require), and tokens we verify must carry it, so that a
 * token has exactly one valid byte string (a jti replay cache or an audit entry keyed by bytes is not fooled by
 * a flipped S). node:crypto (OpenSSL) does not normalise S, so signing normalises after the fact.
 */

/** the order n of the P-256 group (SEC 2, secp256r1), and n/2 rounded down, as 32 big-endian bytes */
const P256_N = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex');
const P256_HALF_N = Buffer.from('7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8', 'hex');
const ES256_SIG_BYTES = 64;

/** true when an ES256 JWS signature (IEEE P1363 r || s, 64 bytes) has s > n/2; other shapes are not high-S */
export function isHighS(signature: Uint8Array): boolean {
  if (signature.length !== ES256_SIG_BYTES) return false;
  // big-endian numbers of equal length compare as their bytes do
  return Buffer.compare(signature.subarray(32), P256_HALF_N) > 0;
}

/** n - s for 32 big-endian bytes s < n */
function negated(s: Uint8Array): Buffer {
  const out = Buffer.alloc(32);
  let borrow = 0;
  for (let i = 31; i >= 0; i--) {
    const d = P256_N[i]! - s[i]! - borrow;
    borrow = d < 0 ? 1 : 0;
    out[i] = d & 0xff;
  }
  return out;
}

/** an ES256 compact JWS with its signature in low-S form (unchanged when already low-S or not ES256) */
export function toLowS(token: string, alg: string): string {
  if (alg !== 'ES256') return token;
  const dot = token.lastIndexOf('.');
  const sig = Buffer.from(token.slice(dot + 1), 'base64url');
  if (!isHighS(sig)) return token;
  const low = Buffer.concat([sig.subarray(0, 32), negated(sig.subarray(32))]);
  return `${token.slice(0, dot + 1)}${low.toString('base64url')}`;
}

/** the signature part of a compact JWS, decoded */
export function signatureOf(token: string): Uint8Array {
  return Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url');
}
