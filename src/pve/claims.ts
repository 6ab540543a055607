/**
 * The claims of the PVE's EAR results (draft-ietf-rats-ear, src/tokens signResult signs them): one submodule per
 * phase, `platform` for step 3's pre-update appraisal and `completion` for the post-update one. The eat_nonce is
 * the requester's nonce-value (as base64url); job-id is absent when the request had none (never an empty string).
 */
import type { EarClaims, ResultClaimsInput } from '../tokens/index.js';
import type { Appraisal, CompletionInput, DeviceEvidence } from './appraise.js';
import type { PreUpdateAppraisal } from './appraise-phase.js';
import { clockClaims } from './appraise-tpm.js';
import type { TpmEvidenceAppraisal } from './appraise-tpm.js';
import { base64ToBase64url } from './restconf.js';
import type { IntegrityInput } from './types.js';

const VERIFIER_ID = { developer: 'henb-sw-verify', build: 'pve/0.1.0' };

export interface TokenParty {
  issuer: string;
  audience: string | string[];
}

function envelope(party: TokenParty, input: IntegrityInput, appraisal: Appraisal): Omit<ResultClaimsInput, 'submods'> {
  return {
    iss: party.issuer,
    aud: party.audience,
    sub: input.henbId,
    ear_status: appraisal.status,
    ear_verifier_id: VERIFIER_ID,
    eat_nonce: base64ToBase64url(input.nonceText),
  };
}

/** step 3: what the PVE appraised from the evidence it collected */
export function preUpdateClaims(party: TokenParty, input: IntegrityInput, evidence: DeviceEvidence, a: PreUpdateAppraisal): ResultClaimsInput {
  const { appraisal, format, tim, log, hardware, tpm } = a;
  return {
    ...envelope(party, input, appraisal),
    submods: {
      platform: {
        ear_status: appraisal.status,
        ...(input.jobId !== undefined ? { 'job-id': input.jobId } : {}),
        phase: 'pre-update' as const,
        'reported-tim': tim,
        'evidence-format': format,
        ...(hardware !== undefined ? { ear_trustworthiness_vector: { hardware } } : {}),
        ...(tpm !== undefined ? clockClaims(tpm) : {}),
        ...(appraisal.signatureValid ? { 'measurement-log': log.map((e) => ({ component: e.component, digest: e.digest })) } : {}),
        components: appraisal.components,
        ...(evidence.softwareVersion !== undefined ? { 'software-version': evidence.softwareVersion } : {}),
        ...(appraisal.firstMismatch !== undefined ? { 'first-mismatch': appraisal.firstMismatch } : {}),
        ...(appraisal.reason !== undefined ? { reason: appraisal.reason } : {}),
      },
    },
  } satisfies Partial<EarClaims>;
}

/** post-update: the completion's evidence as appraised (its TIM and log only when its signature verified) */
export function postUpdateClaims(party: TokenParty, input: IntegrityInput, completion: CompletionInput, appraisal: Appraisal, hardware: number | undefined, tpm?: TpmEvidenceAppraisal): ResultClaimsInput {
  return {
    ...envelope(party, input, appraisal),
    submods: {
      completion: {
        ear_status: appraisal.status,
        'job-id': input.jobId as string,
        phase: 'post-update' as const,
        'evidence-format': completion.evidence.format,
        ...(hardware !== undefined ? { ear_trustworthiness_vector: { hardware } } : {}),
        ...(tpm !== undefined ? clockClaims(tpm) : {}),
        ...(appraisal.signatureValid ? {
          'reported-tim': completion.tim,
          'measurement-log': completion.log.map((e) => ({ component: e.component, digest: e.digest })),
          ...(completion.softwareVersion !== undefined ? { 'software-version': completion.softwareVersion } : {}),
        } : {}),
        ...(appraisal.reason !== undefined ? { reason: appraisal.reason } : {}),
      },
    },
  } satisfies Partial<EarClaims>;
}
