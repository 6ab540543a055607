/**
 * The PVE's appraisal of one H(e)NB's evidence (step 3), pure: no transport, no keys of its own.
 * Checks, in order: the device signature over nonce-value || TIM with the device public key (fail closed:
 * nothing else is trusted when it fails), the nonce echoed, the measurement log replays to the TIM, and every
 * log entry's digest is a reference value for its component; every reference component must be measured.
 */
import { timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isEvidenceFormat, replayLog, verifyCompletion, verifyEvidence } from '../integrity/index.js';
import type { CompletionStatement, ReferenceValues } from '../integrity/index.js';
import type { MeasurementLogEntry } from '../oam/index.js';
import type { ComponentResult, EarStatus } from '../tokens/index.js';

export interface DeviceEvidence {
  /** software-key (default) or tpm2-quote (then `tpm` carries the quote and the event log) */
  format?: 'software-key' | 'tpm2-quote';
  tim: string;
  log: MeasurementLogEntry[];
  /** base64 signature over nonce-value || TIM */
  signature: string;
  signatureAlgorithm: string;
  keyId?: string;
  softwareVersion?: string;
  /** tpm2-quote: base64 TPMS_ATTEST, TPMT_SIGNATURE, TCG event log, and the AK's name (hex) */
  tpm?: { quote: string; signature: string; eventLog: string; certificateName: string };
}

export interface Appraisal {
  status: EarStatus;
  /** short reason when not affirming (never exception text) */
  reason?: string;
  signatureValid: boolean;
  logReplays: boolean;
  components: ComponentResult[];
  /** the first component that is not a reference value, when any */
  firstMismatch?: string;
}

export function appraiseEvidence(
  evidence: DeviceEvidence,
  nonce: Buffer,
  devicePublicKey: KeyObject | string,
  referenceValues: ReferenceValues,
): Appraisal {
  if (evidence.signatureAlgorithm !== 'ES256' && evidence.signatureAlgorithm !== 'Ed25519') {
    return { status: 'contraindicated', reason: 'evidence-invalid: unsupported signature algorithm', signatureValid: false, logReplays: false, components: [] };
  }
  const signatureValid = verifyEvidence({ nonce, tim: evidence.tim, signature: evidence.signature }, devicePublicKey);
  if (!signatureValid) {
    return { status: 'contraindicated', reason: 'evidence-invalid: the device signature did not verify', signatureValid, logReplays: false, components: [] };
  }
  const logReplays = replaysTo(evidence.log, evidence.tim);
  const components: ComponentResult[] = [];
  let firstMismatch: string | undefined;
  for (const e of evidence.log) {
    const refs = referenceValues[e.component];
    if (!refs || refs.length === 0) {
      components.push({ component: e.component, status: 'unexpected', reported: e.digest });
      firstMismatch ??= e.component;
    } else if (refs.includes(e.digest)) {
      components.push({ component: e.component, status: 'match', expected: e.digest, reported: e.digest });
    } else {
      components.push({ component: e.component, status: 'mismatch', expected: refs[0] as string, reported: e.digest });
      firstMismatch ??= e.component;
    }
  }
  const measured = new Set(evidence.log.map((e) => e.component));
  for (const [component, refs] of Object.entries(referenceValues)) {
    if (!measured.has(component) && refs.length > 0) {
      components.push({ component, status: 'missing', expected: refs[0] as string });
      firstMismatch ??= component;
    }
  }
  const out: Appraisal = { status: 'affirming', signatureValid, logReplays, components };
  if (!logReplays) {
    out.status = 'contraindicated';
    out.reason = 'the measurement log does not replay to the TIM';
  } else if (firstMismatch !== undefined) {
    out.status = 'contraindicated';
    out.firstMismatch = firstMismatch;
    const c = components.find((x) => x.component === firstMismatch && x.status !== 'match');
    out.reason = `component ${firstMismatch} ${c?.status === 'missing' ? 'was not measured' : 'is not a reference value'}`;
  }
  return out;
}

/** Whether the log replays to the TIM; a malformed digest in the log means it does not. */
function replaysTo(log: readonly MeasurementLogEntry[], tim: string): boolean {
  try {
    return replayLog(null, log) === tim;
  } catch {
    return false;
  }
}

/** A completion of a software-update as the OAM passes it for appraisal (phase post-update). */
export interface CompletionInput {
  status: string;
  selfCheck?: string;
  softwareVersion?: string;
  tim: string;
  log: MeasurementLogEntry[];
  evidence: {
    format: string;
    /** the nonce-value text the device echoed (base64) */
    nonce: string;
    signatureAlgorithm: string;
    keyId?: string;
    signature: string;
    /** tpm2-quote: base64 TPMS_ATTEST */
    quote?: string;
    /** tpm2-quote: base64 TCG event log */
    eventLog?: string;
  };
}

/**
 * Appraisal of a completion's evidence (phase post-update), fail closed: the format must be one this PVE verifies,
 * the nonce the device echoed must be the requester's, the signature must verify with the H(e)NB's enrolled key
 * over the completion statement (henb-id, job-id, nonce, status, self-check, version, TIM, log), and the log must
 * replay to the TIM. Affirming means "this completion is the device's own answer to this nonce"; whether its TIM is
 * the expected one is the Relying Party's (the OAM's) comparison.
 */
export function appraiseCompletion(
  c: CompletionInput,
  ctx: { henbId: string; jobId: string; nonce: Buffer },
  devicePublicKey: KeyObject | string,
): Appraisal {
  const fail = (reason: string, signatureValid = false): Appraisal =>
    ({ status: 'contraindicated', reason: `evidence-invalid: ${reason}`, signatureValid, logReplays: false, components: [] });
  if (!isEvidenceFormat(c.evidence.format)) return fail('unknown evidence format');
  if (c.evidence.format !== 'software-key') return fail(`${c.evidence.format} completion evidence is not verified by this PVE`);
  if (c.evidence.signatureAlgorithm !== 'ES256' && c.evidence.signatureAlgorithm !== 'Ed25519') return fail('unsupported signature algorithm');
  const echoed = Buffer.from(c.evidence.nonce, 'base64');
  if (echoed.length !== ctx.nonce.length || !timingSafeEqual(echoed, ctx.nonce)) return fail('the evidence echoes another nonce than the request\'s');
  const statement: CompletionStatement = {
    henbId: ctx.henbId, jobId: ctx.jobId, nonce: ctx.nonce, status: c.status, tim: c.tim, log: c.log,
    ...(c.selfCheck !== undefined ? { selfCheck: c.selfCheck } : {}),
    ...(c.softwareVersion !== undefined ? { softwareVersion: c.softwareVersion } : {}),
  };
  if (!verifyCompletion(statement, c.evidence.signature, devicePublicKey)) {
    return fail('the signature did not verify with the H(e)NB\'s enrolled attestation key');
  }
  if (!replaysTo(c.log, c.tim)) {
    return { status: 'contraindicated', reason: 'evidence-invalid: the measurement log does not replay to the TIM', signatureValid: true, logReplays: false, components: [] };
  }
  return { status: 'affirming', signatureValid: true, logReplays: true, components: [] };
}
