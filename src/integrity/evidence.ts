/**
 * Device evidence (step 3: what the PVE checks): the octets a femtocell signs for an integrity
 * measurement, and the check of that signature. Shared by the device side (src/device signs) and the
 * verifier (src/pve appraises), so neither depends on the other.
 *
 * Signature (yang/henb-sw-verify-device.yang, integrity-measurement): ES256 = ECDSA P-256 with SHA-256,
 * IEEE P1363 r||s, or Ed25519; base64 on the wire, over nonce-value || TIM (32 raw bytes). The measurement log is not
 * signed itself: its digests are bound by the TIM (the verifier replays it, RFC 9683 style).
 */
import { createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** Reference values: component name -> accepted digests (lowercase hex SHA-256). */
export type ReferenceValues = Record<string, string[]>;

/** The component a software update replaces, and the name of the log entry it appends. */
export const SOFTWARE_COMPONENT = 'rootfs';

/** The octets a device signs for a measurement: nonce-value || TIM (32 octets). */
export function evidenceMessage(nonce: Buffer, tim: string): Buffer {
  return Buffer.concat([nonce, Buffer.from(tim, 'hex')]);
}

/**
 * Verify an evidence signature (base64 P1363) with the device public key (KeyObject or SPKI PEM).
 * Returns false for any failure (bad key, bad encoding, wrong signature): no oracle.
 */
export function verifyEvidence(
  ev: { nonce: Buffer; tim: string; signature: string },
  publicKey: KeyObject | string,
): boolean {
  try {
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
    const message = evidenceMessage(ev.nonce, ev.tim);
    const signature = Buffer.from(ev.signature, 'base64');
    // Ed25519 hashes internally (no digest argument); ES256 signatures are P1363 r||s
    if (key.asymmetricKeyType === 'ed25519') return verify(null, message, key, signature);
    return verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}
