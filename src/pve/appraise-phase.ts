/**
 * Appraisal by trust root, for both phases: a device enrolled with a TPM AK must answer with a quote by that AK
 * (software-key evidence from it is a downgrade and is refused); a software-key device with its key's signature
 * (a TPM quote from it is refused too). Pure: the evidence, the nonce, the enrolled keys and the reference values in,
 * the appraisal out.
 */
import type { ReferenceValues } from '../integrity/index.js';
import { appraiseCompletion, appraiseEvidence } from './appraise.js';
import type { Appraisal, CompletionInput, DeviceEvidence } from './appraise.js';
import { appraiseTpmCompletion, appraiseTpmEvidence } from './appraise-tpm.js';
import type { TpmEvidenceAppraisal } from './appraise-tpm.js';
import type { TpmClock } from './tpm-clocks.js';
import type { Enrolled } from './inventory.js';

export type EvidenceFormat = 'software-key' | 'tpm2-quote';

/** step 3's appraisal, with what the token states: the TIM and log the trust root vouched for */
export interface PreUpdateAppraisal {
  appraisal: Appraisal;
  format: EvidenceFormat;
  tim: string;
  log: DeviceEvidence['log'];
  hardware?: number;
  /** tpm2-quote: the quote's appraisal (its clock: the device's last TPM clock, the token's tpm-clock and rebooted) */
  tpm?: TpmEvidenceAppraisal;
}

function invalid(reason: string): Appraisal {
  return { status: 'contraindicated', reason: `evidence-invalid: ${reason}`, signatureValid: false, logReplays: false, components: [] };
}

/** Step 3: the evidence the PVE collected with its own nonce. */
export function appraisePreUpdate(evidence: DeviceEvidence, nonce: Buffer, dev: Enrolled, refs: ReferenceValues, previousClock?: TpmClock): PreUpdateAppraisal {
  const refused = (reason: string, format: EvidenceFormat): PreUpdateAppraisal => ({ appraisal: invalid(reason), format, tim: evidence.tim, log: [] });
  if (dev.ak === undefined) {
    if (evidence.format === 'tpm2-quote') return refused(`${dev.entry.henbId} sent a TPM quote but has no enrolled attestation key (its trust root is software-key)`, 'tpm2-quote');
    return { appraisal: appraiseEvidence(evidence, nonce, dev.key, refs), format: 'software-key', tim: evidence.tim, log: evidence.log };
  }
  if (evidence.format !== 'tpm2-quote' || evidence.tpm === undefined) {
    return refused(`${dev.entry.henbId} is enrolled with a TPM attestation key but answered with software-key evidence`, 'software-key');
  }
  const t = evidence.tpm;
  if (t.certificateName.toLowerCase() !== dev.ak.name.toString('hex')) {
    return { ...refused('the quote names another attestation key than the one enrolled for this H(e)NB (certificate-name)', 'tpm2-quote'), hardware: 97 };
  }
  const r = appraiseTpmEvidence({ attest: Buffer.from(t.quote, 'base64'), signature: Buffer.from(t.signature, 'base64'), log: Buffer.from(t.eventLog, 'base64') }, nonce, dev.ak, refs, previousClock);
  // what the token states is what the TPM vouched for, not the unsigned leaves beside the quote
  return { appraisal: r, format: 'tpm2-quote', tim: r.tim ?? evidence.tim, log: r.measurements, ...(r.hardware !== undefined ? { hardware: r.hardware } : {}), tpm: r };
}

/** Phase post-update: the completion's evidence, appraised as given (nothing is collected from the device). */
export function appraisePostUpdate(completion: CompletionInput, ctx: { henbId: string; jobId: string; nonce: Buffer }, dev: Enrolled, previousClock?: TpmClock): { appraisal: Appraisal; hardware?: number; tpm?: TpmEvidenceAppraisal } {
  if (dev.ak !== undefined) {
    // trust root tpm: only a quote by the enrolled AK counts (a software-key completion is a downgrade)
    if (completion.evidence.format !== 'tpm2-quote') {
      return { appraisal: invalid(`${ctx.henbId} is enrolled with a TPM attestation key; ${completion.evidence.format} evidence is not accepted from it`) };
    }
    const r = appraiseTpmCompletion(completion, ctx, dev.ak, previousClock);
    return { appraisal: r, ...(r.hardware !== undefined ? { hardware: r.hardware } : {}), tpm: r };
  }
  if (completion.evidence.format === 'tpm2-quote') {
    return { appraisal: invalid(`${ctx.henbId} has no enrolled TPM attestation key (its trust root is software-key)`) };
  }
  return { appraisal: appraiseCompletion(completion, ctx, dev.key) };
}

/**
 * The device's AK failed the credential challenge (ak-binding.ts): nothing it signs is trusted. Pre-update (with
 * the evidence collected) the token still reports what was collected, without a measurement log; hardware 97.
 */
export function akRefused(reason: string): { appraisal: Appraisal; hardware: number; tpm?: TpmEvidenceAppraisal };
export function akRefused(reason: string, evidence: DeviceEvidence): PreUpdateAppraisal;
export function akRefused(reason: string, evidence?: DeviceEvidence): PreUpdateAppraisal | { appraisal: Appraisal; hardware: number; tpm?: TpmEvidenceAppraisal } {
  if (evidence === undefined) return { appraisal: invalid(reason), hardware: 97 };
  return { appraisal: invalid(reason), format: evidence.format ?? 'software-key', tim: evidence.tim, log: [], hardware: 97 };
}
