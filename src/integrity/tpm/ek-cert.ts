/**
 * The endorsement key certificate check at enrolment (issue 10): the EK certificate a TPM carries (NV index
 * 0x01c00002 for the RSA 2048 EK; written by the TPM manufacturer, or by swtpm_setup --create-ek-cert with
 * swtpm_localca in tests) must chain to a configured manufacturer CA, each link signed by the next, each
 * issuer a CA, every certificate valid now; and its public key must be the TPM's EK (TPM2B_PUBLIC) when that is
 * given. Pure (node:crypto X509Certificate), fail closed: a reason, never an exception.
 *
 * What it proves: the EK belongs to a TPM of that manufacturer. That the AK lives in the same TPM is proved by
 * TPM2_ActivateCredential over a credential made for the EK and the AK's Name (credential.ts).
 */
import { X509Certificate } from 'node:crypto';
import type { TpmPublic } from './public.js';

export type EkCertCheck =
  | { ok: true; subject: string; issuer: string; chain: string[]; notAfter: string }
  | { ok: false; reason: string };

export interface EkCertInput {
  /** the EK certificate, DER or PEM */
  certificate: Uint8Array | string;
  /** the manufacturer CAs the verifier trusts (PEM or DER each; roots or intermediates) */
  trusted: Array<Uint8Array | string>;
  /** intermediate certificates sent with the EK certificate (not trusted by themselves) */
  intermediates?: Array<Uint8Array | string>;
  /** the TPM's EK public (TPM2B_PUBLIC parsed): the certificate's key must be it */
  ekPublic?: TpmPublic;
  now?: Date;
}

const MAX_DEPTH = 6;

function parse(c: Uint8Array | string): X509Certificate | undefined {
  try {
    return new X509Certificate(typeof c === 'string' ? c : Buffer.from(c));
  } catch {
    return undefined;
  }
}

function validAt(c: X509Certificate, now: Date): boolean {
  return new Date(c.validFrom).getTime() <= now.getTime() && now.getTime() <= new Date(c.validTo).getTime();
}

function issues(issuer: X509Certificate, subject: X509Certificate): boolean {
  try {
    return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function sameKey(a: X509Certificate, ek: TpmPublic): boolean {
  try {
    return a.publicKey.export({ type: 'spki', format: 'der' }).equals(ek.key.export({ type: 'spki', format: 'der' }));
  } catch {
    return false;
  }
}

export function verifyEkCertificate(input: EkCertInput): EkCertCheck {
  const now = input.now ?? new Date();
  const leaf = parse(input.certificate);
  if (leaf === undefined) return { ok: false, reason: 'the EK certificate is not an X.509 certificate' };
  if (input.ekPublic !== undefined && !sameKey(leaf, input.ekPublic)) {
    return { ok: false, reason: 'the EK certificate is for another key than the TPM\'s endorsement key' };
  }
  if (!validAt(leaf, now)) return { ok: false, reason: `the EK certificate is not valid now (${leaf.validFrom} .. ${leaf.validTo})` };
  const trusted = input.trusted.map(parse);
  if (trusted.some((t) => t === undefined)) return { ok: false, reason: 'a configured manufacturer CA is not an X.509 certificate' };
  if (trusted.length === 0) return { ok: false, reason: 'no manufacturer CA is configured' };
  const pool = (input.intermediates ?? []).map(parse).filter((c): c is X509Certificate => c !== undefined);
  const chain: string[] = [leaf.subject];
  let current = leaf;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const anchor = (trusted as X509Certificate[]).find((t) => issues(t, current));
    if (anchor !== undefined) {
      if (!validAt(anchor, now)) return { ok: false, reason: `the manufacturer CA ${anchor.subject} is not valid now` };
      if (!anchor.ca) return { ok: false, reason: `the manufacturer CA ${anchor.subject} is not a CA certificate` };
      return { ok: true, subject: leaf.subject, issuer: leaf.issuer, chain: [...chain, anchor.subject], notAfter: leaf.validTo };
    }
    const next = pool.find((c) => issues(c, current));
    if (next === undefined) break;
    if (!next.ca) return { ok: false, reason: `the intermediate ${next.subject} is not a CA certificate` };
    if (!validAt(next, now)) return { ok: false, reason: `the intermediate ${next.subject} is not valid now` };
    chain.push(next.subject);
    current = next;
  }
  return { ok: false, reason: `the EK certificate does not chain to a configured manufacturer CA (issuer ${current.issuer.replace(/\n/g, ', ')})` };
}
