/**
 * The PVE's appraisal of TPM 2.0 evidence (`tpm2-quote`, docs/evidence-formats.md), pure: the device's
 * TPM2_Quote over the PVE's nonce and its TCG event log, against the AK enrolled for that H(e)NB
 * (TPM2B_PUBLIC) and the reference values. The checks are src/integrity/tpm's verifyQuote (fail closed);
 * this adds what the flow needs from an appraisal: the same Appraisal shape as the software-key path, the TIM
 * (the log's measurements replayed as one chain, as for `software-key`; with every component measured into one
 * PCR it is that PCR's value), the evidence format, and the TPM clock so a reboot is visible.
 */
import { replayLog } from '../integrity/index.js';
import type { ReferenceValues } from '../integrity/index.js';
import { verifyQuote } from '../integrity/tpm/index.js';
import type { TpmAppraisal, TpmCheck } from '../integrity/tpm/index.js';
import type { Appraisal } from './appraise.js';

export interface TpmDeviceEvidence {
  /** TPMS_ATTEST octets */
  attest: Uint8Array;
  /** TPMT_SIGNATURE octets */
  signature: Uint8Array;
  /** TCG crypto-agile event log octets */
  log: Uint8Array;
}

export interface TpmEvidenceAppraisal extends Appraisal {
  evidenceFormat: 'tpm2-quote';
  /** the check that refused the evidence */
  failedCheck?: TpmCheck;
  /** the TIM the quote vouches for (absent unless the log replayed to the quoted PCRs) */
  tim?: string;
  clockInfo?: TpmAppraisal['clockInfo'];
  /** set when previousClock was given: the TPM was reset or restarted since */
  rebooted?: boolean;
  pcrs: TpmAppraisal['pcrs'];
}

/** Failures of the evidence itself (not of the device's state) read like the software-key path's. */
const INVALID: ReadonlySet<TpmCheck> = new Set(['ak', 'signature', 'attest', 'nonce', 'log', 'pcr-selection', 'pcr-digest']);

export function appraiseTpmEvidence(
  evidence: TpmDeviceEvidence,
  nonce: Buffer,
  akPublic: Uint8Array,
  referenceValues: ReferenceValues,
  previousClock?: { resetCount: number; restartCount: number },
): TpmEvidenceAppraisal {
  const r = verifyQuote({ evidence, nonce, ak: akPublic, referenceValues, ...(previousClock ? { previousClock } : {}) });
  const out: TpmEvidenceAppraisal = {
    evidenceFormat: 'tpm2-quote',
    status: r.status,
    signatureValid: r.signatureValid,
    logReplays: r.logReplays,
    components: r.components,
    pcrs: r.pcrs,
  };
  if (r.failedCheck !== undefined) out.failedCheck = r.failedCheck;
  if (r.reason !== undefined) out.reason = r.failedCheck !== undefined && INVALID.has(r.failedCheck) ? `evidence-invalid: ${r.reason}` : r.reason;
  if (r.firstMismatch !== undefined) out.firstMismatch = r.firstMismatch;
  if (r.clockInfo !== undefined) out.clockInfo = r.clockInfo;
  if (r.rebooted !== undefined) out.rebooted = r.rebooted;
  if (r.logReplays) out.tim = replayLog(null, r.measurements.map((m) => ({ component: m.component, digest: m.digest })));
  return out;
}
