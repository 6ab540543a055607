/**
 * The enrolled key the kit checks signatures with (--device-public-key): for the software trust root an SPKI PEM
 * (ES256 or Ed25519), for the TPM trust root the attestation key's TPM2B_PUBLIC (binary, or base64 as
 * `simulate --json` prints akPublic), and the two checks the kit needs: a measurement (nonce || TIM, or a
 * TPM2_Quote over the nonce with its event log) and a completion (the completion statement, or a quote whose
 * qualifying data is SHA-256 of it). Any failure is `false` or a reason: no oracle, no exception.
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { completionMessage, replayLog, verifyCompletion, verifyEvidence } from '../integrity/index.js';
import type { CompletionStatement } from '../integrity/index.js';
import { parseAkPublic, verifyQuote } from '../integrity/tpm/index.js';
import type { TpmPublic } from '../integrity/tpm/index.js';
import { ConformanceError } from './errors.js';

export type EnrolledKey = { kind: 'software'; key: KeyObject } | { kind: 'tpm'; ak: TpmPublic };

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
export function completionProblem(key: EnrolledKey, s: CompletionStatement, ev: { signature: string; quote?: string; eventLog?: string }): string | undefined {
  if (key.kind === 'software') return verifyCompletion(s, ev.signature, key.key) ? undefined : 'the signature does not verify with the enrolled key over the completion statement';
  if (ev.quote === undefined || ev.eventLog === undefined) return 'a tpm2-quote completion needs the quote (TPMS_ATTEST) and the TPM event log';
  const qualifying = createHash('sha256').update(completionMessage(s)).digest();
  const r = quoteCheck({ quote: ev.quote, signature: ev.signature, eventLog: ev.eventLog }, qualifying, key.ak);
  if (!r.ok) return r.failedCheck === 'nonce' ? 'the quote is not over this completion (extraData is not SHA-256 of the completion statement)' : `the quote does not verify: ${r.reason ?? r.failedCheck ?? 'invalid'}`;
  const m = r.measurements ?? [];
  if (m.length !== s.log.length || m.some((e, i) => e.component !== s.log[i]!.component || e.digest !== s.log[i]!.digest)) return 'the TPM event log does not match the completion\'s measurement-log';
  return undefined;
}
