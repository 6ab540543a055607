import { createHash, timingSafeEqual } from 'node:crypto';
import { IntegrityError } from './errors.js';

/** A SHA-256 digest as 64 lowercase hex characters. */
export type DigestHex = string;

/** The all-zero digest: the initial value of a PCR after reset, and the RIM of a never-measured H(e)NB. */
export const ZERO_DIGEST: DigestHex = '0'.repeat(64);

const HEX64 = /^[0-9a-fA-F]{64}$/;

/** true for 64 hex chars (either case). */
export function isDigestHex(value: unknown): value is string {
  return typeof value === 'string' && HEX64.test(value);
}

/** Validates and lower-cases a SHA-256 hex digest; throws ERR_INTEGRITY_DIGEST otherwise. */
export function normalizeDigest(value: unknown, what = 'digest'): DigestHex {
  if (!isDigestHex(value)) {
    throw new IntegrityError('ERR_INTEGRITY_DIGEST', `${what} must be a SHA-256 digest as 64 hex characters`);
  }
  return value.toLowerCase();
}

/** SHA-256 of the bytes (a string is hashed as UTF-8), lowercase hex. */
export function sha256Hex(data: Uint8Array | string): DigestHex {
  return createHash('sha256').update(data).digest('hex');
}

/** TCG PCR extend: SHA-256(old || digest) over the raw 32-byte values, lowercase hex. */
export function extend(oldHex: string, digestHex: string): DigestHex {
  const old = Buffer.from(normalizeDigest(oldHex, 'old value'), 'hex');
  const d = Buffer.from(normalizeDigest(digestHex, 'digest'), 'hex');
  return createHash('sha256').update(old).update(d).digest('hex');
}

/**
 * The H(e)NB's expected RIM after installing software whose RIM is `softwareRim` (seed steps 5/7'/9):
 * extend(currentRim, softwareRim). A null current RIM (never measured) starts from ZERO_DIGEST.
 * Valid only when nothing resets the measurement in between; otherwise replay a measurement log (./log.ts).
 */
export function expectedRim(currentRim: string | null, softwareRim: string): DigestHex {
  return extend(currentRim ?? ZERO_DIGEST, softwareRim);
}

/** Constant-time equality of two hex digests (case-insensitive); false for invalid input. */
export function digestsEqual(a: string, b: string): boolean {
  if (!isDigestHex(a) || !isDigestHex(b)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}
