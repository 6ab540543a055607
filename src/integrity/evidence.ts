/**
 * Device evidence (step 3: what the PVE checks): the octets a femtocell signs for an integrity
 * measurement, and the check of that signature. Shared by the device side (src/device signs) and the
 * verifier (src/pve appraises), so neither depends on the other.
 *
 * Signature (yang/henb-sw-verify-device.yang, integrity-measurement): ES256 = ECDSA P-256 with SHA-256,
 * IEEE P1363 r||s, or Ed25519; base64 on the wire, over nonce-value || TIM (32 raw bytes). The measurement log is not
 * signed itself: its digests are bound by the TIM (the verifier replays it, RFC 9683 style).
 */
import { createHash, createPublicKey, sign as cryptoSign, verify } from 'node:crypto';
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

// ---- post-update evidence (steps 6-9: the completion) -------------------------------------------------------

/** Which trust root signed a piece of evidence (YANG `evidence-format`; EAR submod claim `evidence-format`). */
export const EVIDENCE_FORMATS = ['software-key', 'tpm2-quote'] as const;
export type EvidenceFormat = (typeof EVIDENCE_FORMATS)[number];

export function isEvidenceFormat(s: unknown): s is EvidenceFormat {
  return typeof s === 'string' && (EVIDENCE_FORMATS as readonly string[]).includes(s);
}

/** Domain separation: a completion signature can never be taken for a step-3 measurement signature (or v.v.). */
export const COMPLETION_EVIDENCE_LABEL = 'henb-sw-verify completion evidence v1';

/**
 * What a device's completion evidence binds: the OAM's nonce of the software-update (>= 16 octets), the job,
 * the device, the outcome and the measurements. Every field the OAM acts upon is here; only the free-text
 * `reason` of a completion is not signed.
 */
export interface CompletionStatement {
  henbId: string;
  jobId: string;
  /** the nonce-value of the software-update (raw octets) */
  nonce: Buffer;
  /** the device module's completion status (completed, self-check-failed, download-error, ...) */
  status: string;
  /** passed | failed | not-performed ('' when absent) */
  selfCheck?: string;
  /** the version of the running software ('' when absent) */
  softwareVersion?: string;
  /** the TIM now (hex): after the install, or the unchanged one when nothing was installed */
  tim: string;
  /** the measurement log behind the TIM, in measurement order */
  log: ReadonlyArray<{ component: string; digest: string }>;
}

/**
 * The octets a device signs for a completion (software-key) or takes the SHA-256 of as TPM2_Quote qualifying data
 * (tpm2-quote): LABEL 0x00, then each field as a 4-octet big-endian length and its octets, in this order:
 * henb-id, job-id, nonce, status, self-check, software-version (UTF-8; '' when absent), TIM (32 raw octets),
 * and the log (per entry: length-prefixed UTF-8 component name, then its 32 raw digest octets). Lengths
 * make the encoding unambiguous: no two statements share it. docs/device-obligations.md has a worked example.
 */
export function completionMessage(s: CompletionStatement): Buffer {
  const parts: Buffer[] = [Buffer.from(COMPLETION_EVIDENCE_LABEL, 'utf8'), Buffer.from([0])];
  const lp = (b: Buffer): void => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  };
  const utf8 = (t: string | undefined): void => lp(Buffer.from(t ?? '', 'utf8'));
  utf8(s.henbId);
  utf8(s.jobId);
  lp(Buffer.from(s.nonce));
  utf8(s.status);
  utf8(s.selfCheck);
  utf8(s.softwareVersion);
  lp(Buffer.from(s.tim, 'hex'));
  const entries: Buffer[] = [];
  for (const e of s.log) {
    const name = Buffer.from(e.component, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(name.length);
    entries.push(len, name, Buffer.from(e.digest, 'hex'));
  }
  lp(Buffer.concat(entries));
  return Buffer.concat(parts);
}

/** Signs a completion statement with a software attestation key (ES256 P1363, or Ed25519). Base64. */
export function signCompletion(s: CompletionStatement, privateKey: KeyObject): string {
  const message = completionMessage(s);
  const sig = privateKey.asymmetricKeyType === 'ed25519'
    ? cryptoSign(null, message, privateKey)
    : cryptoSign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return sig.toString('base64');
}

/** Verifies a software-key completion signature; false for any failure (no oracle). */
export function verifyCompletion(s: CompletionStatement, signature: string, publicKey: KeyObject | string): boolean {
  try {
    if (!/^[0-9a-f]{64}$/i.test(s.tim) || s.log.some((e) => !/^[0-9a-f]{64}$/i.test(e.digest))) return false;
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
    const message = completionMessage(s);
    const sig = Buffer.from(signature, 'base64');
    if (key.asymmetricKeyType === 'ed25519') return verify(null, message, key, sig);
    return verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}

/**
 * RFC 7638 JWK thumbprint (SHA-256, base64url) of a device key: the key-id of software-key evidence and of the
 * device module's attestation-key. EC (crv, kty, x, y), OKP (crv, kty, x) and RSA (e, kty, n) members in
 * lexicographic order, as RFC 7638 section 3.2 requires.
 */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  const canon = jwk.kty === 'EC'
    ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
    : jwk.kty === 'RSA'
      ? JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n })
      : JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(canon).digest('base64url');
}
