/**
 * The key the kit checks signatures with: the enrolled one (--device-public-key), or unpinned the one the device
 * presents (state attestation-key, parsePresentedKey). Enrolled: for the software trust root an SPKI PEM
 * (ES256 or Ed25519), for the TPM trust root the attestation key's TPM2B_PUBLIC (binary, or base64 as
 * `simulate --json` prints akPublic), and the two checks the kit needs: a measurement (nonce || TIM, or a
 * TPM2_Quote over the nonce with its event log) and a completion (the completion statement, or a quote whose
 * qualifying data is SHA-256 of it). Any failure is `false` or a reason: no oracle, no exception.
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { completionMessage, jwkThumbprint, replayLog, verifyCompletion, verifyEvidence } from '../integrity/index.js';
import type { CompletionStatement } from '../integrity/index.js';
import { parseAkPublic, verifyQuote } from '../integrity/tpm/index.js';
import type { TpmPublic } from '../integrity/tpm/index.js';
import { ConformanceError } from './errors.js';

export type EnrolledKey = { kind: 'software'; key: KeyObject } | { kind: 'tpm'; ak: TpmPublic };

/** the key-id evidence names a key by: software the RFC 7638 thumbprint, tpm the AK's TPM Name in hex */
export function keyIdOf(key: EnrolledKey): string {
  return key.kind === 'software' ? jwkThumbprint(key.key) : key.ak.name.toString('hex');
}

/** the JOSE algorithm a key signs with (software: P-256 ES256, Ed25519; tpm: the AK's), undefined for another kind */
export function algorithmOf(key: EnrolledKey): 'ES256' | 'Ed25519' | 'RS256' | undefined {
  if (key.kind === 'tpm') return key.ak.type === 'rsa' ? 'RS256' : 'ES256';
  if (key.key.asymmetricKeyType === 'ed25519') return 'Ed25519';
  if (key.key.asymmetricKeyType === 'ec' && key.key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  return undefined;
}

/** the same key (software: the same SubjectPublicKeyInfo; tpm: the same TPM Name, which covers the whole TPMT_PUBLIC) */
export function sameKey(a: EnrolledKey, b: EnrolledKey): boolean {
  if (a.kind === 'software' && b.kind === 'software') return a.key.equals(b.key);
  if (a.kind === 'tpm' && b.kind === 'tpm') return a.ak.name.equals(b.ak.name);
  return false;
}

/**
 * The key the device presents (state attestation-key, public-key as base64 text): software-key a DER
 * SubjectPublicKeyInfo, tpm2-quote the AK's TPM2B_PUBLIC. A reason when it is not usable.
 */
export function parsePresentedKey(base64: string, trustRoot: 'software' | 'tpm'): { key: EnrolledKey } | { problem: string } {
  const octets = Buffer.from(base64, 'base64');
  if (octets.length === 0 || octets.toString('base64') !== base64) return { problem: 'public-key is not base64 of a key' };
  if (trustRoot === 'software') {
    try {
      return { key: { kind: 'software', key: createPublicKey({ key: octets, format: 'der', type: 'spki' }) } };
    } catch {
      return { problem: 'public-key is not a DER SubjectPublicKeyInfo' };
    }
  }
  const p = parseAkPublic(octets);
  if (!p.ok) return { problem: `public-key is not a TPM attestation key (TPM2B_PUBLIC): ${p.reason}` };
  return { key: { kind: 'tpm', ak: p.value } };
}

/** parse --device-public-key for the trust root; ConformanceError ERR_CONFORMANCE_OPTIONS when unusable */
export function parseEnrolledKey(content: Buffer, trustRoot: 'software' | 'tpm'): EnrolledKey {
  if (trustRoot === 'software') {
    try {
      return { kind: 'software', key: createPublicKey(content.toString('utf8')) };
    } catch (e) {
      throw new ConformanceError('ERR_CONFORMANCE_OPTIONS', 'the device public key is not a PEM public key', { cause: e });
    }
  }
  const text = content.toString('latin1').trim();
  const octets = /^[A-Za-z0-9+/=\s]+$/.test(text) ? Buffer.from(text.replace(/\s+/g, ''), 'base64') : content;
  const p = parseAkPublic(octets);
  if (!p.ok) throw new ConformanceError('ERR_CONFORMANCE_OPTIONS', `the device public key is not a TPM attestation key (TPM2B_PUBLIC, binary or base64): ${p.reason}`);
  return { kind: 'tpm', ak: p.value };
}

/** a TPM quote with its event log, as the device module carries it (base64 fields) */
export interface QuoteEvidence {
  quote: string;
  signature: string;
  eventLog: string;
}

function quoteCheck(ev: QuoteEvidence | undefined, qualifying: Buffer, ak: TpmPublic): { ok: boolean; reason?: string; failedCheck?: string; measurements?: Array<{ component: string; digest: string }> } {
  if (!ev) return { ok: false, reason: 'no tpm20-attestation (quote, signature, event log)' };
  const r = verifyQuote({
    evidence: { attest: Buffer.from(ev.quote, 'base64'), signature: Buffer.from(ev.signature, 'base64'), log: Buffer.from(ev.eventLog, 'base64') },
    nonce: qualifying, ak, referenceValues: null,
  });
  if (r.status === 'affirming') return { ok: true, measurements: r.measurements };
  return { ok: false, ...(r.reason !== undefined ? { reason: r.reason } : {}), ...(r.failedCheck !== undefined ? { failedCheck: r.failedCheck } : {}) };
}

/** a measurement's evidence verifies over `nonce` (software: signature over nonce || TIM; tpm: the quote's extraData, AK, log) */
export function measurementVerifies(key: EnrolledKey, nonce: Buffer, reply: { tim: string; signature: string; tpm?: QuoteEvidence }): boolean {
  if (key.kind === 'software') return verifyEvidence({ nonce, tim: reply.tim, signature: reply.signature }, key.key);
  const r = quoteCheck(reply.tpm, nonce, key.ak);
  // the quoted log must be the TIM's too
  return r.ok && replayLog(null, r.measurements ?? []) === reply.tim;
}

/** a completion's evidence verifies over its statement; undefined when it does, else the reason */
export function completionProblem(key: EnrolledKey, s: CompletionStatement, ev: { signature: string; quote?: string; eventLog?: string }, keyName = 'the enrolled key'): string | undefined {
  if (key.kind === 'software') return verifyCompletion(s, ev.signature, key.key) ? undefined : `the signature does not verify with ${keyName} over the completion statement`;
  if (ev.quote === undefined || ev.eventLog === undefined) return 'a tpm2-quote completion needs the quote (TPMS_ATTEST) and the TPM event log';
  const qualifying = createHash('sha256').update(completionMessage(s)).digest();
  const r = quoteCheck({ quote: ev.quote, signature: ev.signature, eventLog: ev.eventLog }, qualifying, key.ak);
  if (!r.ok) return r.failedCheck === 'nonce' ? 'the quote is not over this completion (extraData is not SHA-256 of the completion statement)' : `the quote does not verify: ${r.reason ?? r.failedCheck ?? 'invalid'}`;
  const m = r.measurements ?? [];
  if (m.length !== s.log.length || m.some((e, i) => e.component !== s.log[i]!.component || e.digest !== s.log[i]!.digest)) return 'the TPM event log does not match the completion\'s measurement-log';
  return undefined;
}
