/**
 * The PVE's appraisal of TPM 2.0 evidence (`tpm2-quote`, docs/evidence-formats.md), pure: the device's
 * TPM2_Quote over the PVE's nonce and its TCG event log, against the AK enrolled for that H(e)NB
 * (TPM2B_PUBLIC) and the reference values. The checks are src/integrity/tpm's verifyQuote (fail closed);
 * this adds what the flow needs from an appraisal: the same Appraisal shape as the software-key path, the TIM
 * (the log's measurements replayed as one chain, as for `software-key`; with every component measured into one
 * PCR it is that PCR's value), the evidence format, and the TPM clock so a reboot is visible.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { completionMessage, replayLog } from '../integrity/index.js';
import type { CompletionStatement, MeasurementEntry, ReferenceValues } from '../integrity/index.js';
import { verifyQuote } from '../integrity/tpm/index.js';
import type { TpmAppraisal, TpmCheck, TpmPublic } from '../integrity/tpm/index.js';
import type { Appraisal, CompletionInput } from './appraise.js';

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
  /** the quote-backed measurement log (component, digest), in log order (empty unless the log replayed) */
  measurements: Array<{ component: string; digest: string }>;
  /**
   * AR4SI `hardware` claim for the EAR trustworthiness vector: 2 when the quote verified with the enrolled AK
   * (the evidence came from that TPM), 97 when it did not (the hardware is not recognised)
   */
  hardware: 2 | 97;
}

/** Failures of the evidence itself (not of the device's state) read like the software-key path's. */
const INVALID: ReadonlySet<TpmCheck> = new Set(['ak', 'signature', 'attest', 'nonce', 'clock', 'log', 'pcr-selection', 'pcr-digest']);

export function appraiseTpmEvidence(
  evidence: TpmDeviceEvidence,
  nonce: Buffer,
  akPublic: Uint8Array | TpmPublic,
  referenceValues: ReferenceValues | null,
  previousClock?: { resetCount: number; restartCount: number; clock?: number },
): TpmEvidenceAppraisal {
  const r = verifyQuote({ evidence, nonce, ak: akPublic, referenceValues, ...(previousClock ? { previousClock } : {}) });
  const out: TpmEvidenceAppraisal = {
    evidenceFormat: 'tpm2-quote',
    status: r.status,
    signatureValid: r.signatureValid,
    logReplays: r.logReplays,
    components: r.components,
    pcrs: r.pcrs,
    measurements: r.logReplays ? r.measurements.map((m) => ({ component: m.component, digest: m.digest })) : [],
    hardware: r.signatureValid ? 2 : 97,
  };
  if (r.failedCheck !== undefined) out.failedCheck = r.failedCheck;
  if (r.reason !== undefined) out.reason = r.failedCheck !== undefined && INVALID.has(r.failedCheck) ? `evidence-invalid: ${r.reason}` : r.reason;
  if (r.firstMismatch !== undefined) out.firstMismatch = r.firstMismatch;
  if (r.clockInfo !== undefined) out.clockInfo = r.clockInfo;
  if (r.rebooted !== undefined) out.rebooted = r.rebooted;
  if (r.logReplays) out.tim = replayLog(null, r.measurements.map((m) => ({ component: m.component, digest: m.digest })));
  return out;
}

/** The qualifying data of a completion's quote: SHA-256 of the completion statement (docs/device-obligations.md). */
export function completionQualifyingData(s: CompletionStatement): Buffer {
  return createHash('sha256').update(completionMessage(s)).digest();
}

function sameLog(a: readonly MeasurementEntry[] | ReadonlyArray<{ component: string; digest: string }>, b: ReadonlyArray<{ component: string; digest: string }>): boolean {
  return a.length === b.length && a.every((e, i) => e.component === b[i]!.component && e.digest === b[i]!.digest);
}

/**
 * Phase post-update for `tpm2-quote` (fail closed): the completion's quote must be by the enrolled AK, its
 * extraData must be SHA-256 of THIS completion statement (henb-id, job-id, the job's nonce, status, self-check,
 * version, TIM, log: a quote cannot be carried over to another completion, job or device), its event log must
 * replay to the quoted PCRs, the log's measurements must be the completion's measurement-log, and that log must
 * replay to the TIM. Affirming means "this completion is what the device's TPM measured, for this nonce"; the
 * TIM's comparison with the expected RIM is the relying party's (the OAM's).
 */
export function appraiseTpmCompletion(
  c: CompletionInput,
  ctx: { henbId: string; jobId: string; nonce: Buffer },
  ak: TpmPublic,
  previousClock?: { resetCount: number; restartCount: number; clock?: number },
): TpmEvidenceAppraisal {
  const base: TpmEvidenceAppraisal = { evidenceFormat: 'tpm2-quote', status: 'contraindicated', signatureValid: false, logReplays: false, components: [], pcrs: [], measurements: [], hardware: 97 };
  const fail = (reason: string, over: Partial<TpmEvidenceAppraisal> = {}): TpmEvidenceAppraisal => ({ ...base, ...over, status: 'contraindicated', reason: `evidence-invalid: ${reason}` });
  const ev = c.evidence;
  if (ev.quote === undefined || ev.eventLog === undefined) return fail('a tpm2-quote completion needs the quote (TPMS_ATTEST) and the TPM event log');
  const echoed = Buffer.from(ev.nonce, 'base64');
  if (echoed.length !== ctx.nonce.length || !timingSafeEqual(echoed, ctx.nonce)) return fail('the evidence echoes another nonce than the request\'s');
  if (ev.keyId !== undefined && ev.keyId.toLowerCase() !== ak.name.toString('hex')) {
    return fail('the quote names another attestation key than the one enrolled for this H(e)NB (certificate-name / key-id)');
  }
  const statement: CompletionStatement = {
    henbId: ctx.henbId, jobId: ctx.jobId, nonce: ctx.nonce, status: c.status, tim: c.tim, log: c.log,
    ...(c.selfCheck !== undefined ? { selfCheck: c.selfCheck } : {}),
    ...(c.softwareVersion !== undefined ? { softwareVersion: c.softwareVersion } : {}),
  };
  let qualifying: Buffer;
  try {
    qualifying = completionQualifyingData(statement);
  } catch {
    return fail('the completion statement cannot be encoded');
  }
  const r = appraiseTpmEvidence({ attest: Buffer.from(ev.quote, 'base64'), signature: Buffer.from(ev.signature, 'base64'), log: Buffer.from(ev.eventLog, 'base64') }, qualifying, ak, null, previousClock);
  if (r.status !== 'affirming') {
    if (r.failedCheck === 'nonce') {
      // the quote is genuine but was made for other content: another completion, job, nonce or device
      return { ...r, reason: 'evidence-invalid: the quote is not over this completion (its qualifying data is not SHA-256 of this completion statement): replayed or altered' };
    }
    return r;
  }
  if (!sameLog(r.measurements, c.log)) {
    return fail('the TPM event log does not match the completion\'s measurement-log', { signatureValid: true, hardware: 2, pcrs: r.pcrs, ...(r.clockInfo !== undefined ? { clockInfo: r.clockInfo } : {}) });
  }
  let timReplays = false;
  try {
    timReplays = replayLog(null, c.log) === c.tim;
  } catch {
    timReplays = false;
  }
  if (!timReplays) return fail('the measurement log does not replay to the TIM', { signatureValid: true, hardware: 2, pcrs: r.pcrs, ...(r.clockInfo !== undefined ? { clockInfo: r.clockInfo } : {}) });
  return r;
}

/**
 * The TPM clock of a genuine quote (signed by the enrolled AK, over the right qualifying data, its clock not
 * going backwards): what the PVE records as the device's last clock. Undefined for any other quote.
 */
export function genuineClock(r: TpmEvidenceAppraisal): { resetCount: number; restartCount: number; clock: number } | undefined {
  if (r.clockInfo === undefined || !r.signatureValid || r.failedCheck === 'nonce' || r.failedCheck === 'clock') return undefined;
  return { resetCount: r.clockInfo.resetCount, restartCount: r.clockInfo.restartCount, clock: r.clockInfo.clock };
}

/**
 * The token claims of a quote's clock: `tpm-clock` (reset-count, restart-count, clock in ms) and `rebooted` (the TPM
 * was reset or restarted since the PVE's previous quote of the device; absent when there was none).
 */
export function clockClaims(r: TpmEvidenceAppraisal): { 'tpm-clock'?: { 'reset-count': number; 'restart-count': number; clock: number }; rebooted?: boolean } {
  const c = genuineClock(r);
  if (c === undefined) return {};
  return { 'tpm-clock': { 'reset-count': c.resetCount, 'restart-count': c.restartCount, clock: c.clock }, ...(r.rebooted !== undefined ? { rebooted: r.rebooted } : {}) };
}
