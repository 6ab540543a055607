import { randomBytes } from 'node:crypto';

/** Bytes of entropy in a nonce (256 bits; the design asks for at least 128). */
export const NONCE_BYTES = 32;
const NONCE_RE = /^[0-9a-f]{64}$/;

/**
 * A fresh nonce: 32 random bytes as 64 lowercase hex characters. Hex fits a YANG string pattern, is also valid
 * base64 text (so a YANG `binary` leaf carries it unchanged) and needs no escaping in XML or JSON.
 */
export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('hex');
}

/** true when value has the shape newNonce() produces. */
export function isNonce(value: unknown): value is string {
  return typeof value === 'string' && NONCE_RE.test(value);
}
