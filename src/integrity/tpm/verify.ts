/**
 * Appraisal of TPM 2.0 evidence: a TPM2_Quote (TPMS_ATTEST + TPMT_SIGNATURE) over the verifier's nonce and the
 * TCG event log, against the enrolled attestation key and the caller's reference values. Pure, fail closed:
 * the first failed check ends the appraisal `contraindicated` with a reason; no exception escapes.
 *
 * Checks, in order (Keylime's check_quote and go-attestation's verify do the same, in their own ways):
 *   1. the AK is an attestation key (parseAkPublic), the signature parses with an accepted scheme and hash,
 *      matches the key type (and the key's own scheme when it has one) and verifies over the TPMS_ATTEST octets;
 *   2. the TPMS_ATTEST parses: magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_QUOTE, no trailing octets;
 *   3. extraData == nonce (constant time);
 *   4. the event log parses; the quote selects the SHA-256 bank for every PCR the log measures into;
 *   5. the PCR digest == H_sig(concatenation of the PCR values replayed from the log, in selection order);
 *   6. every measurement event's SHA-256 digest is a reference value for its component (the event data
 *      names it) and every reference component was measured (skipped when referenceValues is null).
 * clockInfo (resetCount, restartCount) is reported so the appraiser knows whether the device rebooted since
 * a previous quote (`rebooted` when the caller gives the previous values). With previousClock, a TPM whose
 * counters went backwards, or whose clock went backwards without a reset or restart, is refused (check
 * `clock`, right after the nonce): the TPM's clock only moves forward while it runs, so such a quote comes from
 * a TPM state that was restored (rolled back) or is a replay.
 */
import { createHash, timingSafeEqual, verify as cryptoVerify, constants } from 'node:crypto';
import type { ComponentComparison, MeasurementEntry, ReferenceValues } from '../index.js';
import { parseQuoteAttest } from './attest.js';
import type { ClockInfo, QuoteAttest } from './attest.js';
import { EV, HASHES, TPM_ALG, algName } from './constants.js';
import { measuredPcrs, parseEventLog, replayPcrs } from './eventlog.js';
import type { EventLog, TcgEvent } from './eventlog.js';
import { parseAkPublic } from './public.js';
import type { TpmPublic } from './public.js';
import { parseSignature } from './signature.js';
import type { TpmSignature } from './signature.js';

export interface TpmQuoteEvidence {
  /** TPMS_ATTEST (or TPM2B_ATTEST) octets */
  attest: Uint8Array;
  /** TPMT_SIGNATURE octets */
  signature: Uint8Array;
  /** the TCG crypto-agile event log */
  log: Uint8Array;
}

export interface TpmVerifyInput {
  evidence: TpmQuoteEvidence;
  nonce: Uint8Array;
  /** the enrolled AK: parsed, or its TPM2B_PUBLIC octets */
  ak: TpmPublic | Uint8Array;
  /**
   * component -> accepted SHA-256 digests (lowercase hex); null: no comparison (check 6 is skipped, e.g. for a
   * completion, whose measurements the relying party compares with its expected RIM)
   */
  referenceValues: ReferenceValues | null;
  /**
   * the clockInfo of the device's previous quote, when known (clock in ms; without it only the counters are
   * compared)
   */
  previousClock?: { resetCount: number; restartCount: number; clock?: number };
}

export type TpmCheck = 'ak' | 'signature' | 'attest' | 'nonce' | 'clock' | 'log' | 'pcr-selection' | 'pcr-digest' | 'reference-values';

export interface TpmAppraisal {
  status: 'affirming' | 'contraindicated';
  /** the check that failed (absent when affirming) */
  failedCheck?: TpmCheck;
  /** short reason when not affirming */
  reason?: string;
  signatureValid: boolean;
  /** the log replays to the quoted PCR digest */
  logReplays: boolean;
  clockInfo?: { clock: number; resetCount: number; restartCount: number; safe: boolean };
  /** true/false when previousClock was given and the quote is valid: resetCount or restartCount moved */
  rebooted?: boolean;
  firmwareVersion?: string;
  /** the quoted PCR values (from the replay that matched the quote), hex */
  pcrs: Array<{ bank: string; pcr: number; value: string }>;
  /** the log's measurement events (SHA-256 digests), in log order */
  measurements: MeasurementEntry[];
  components: ComponentComparison[];
  firstMismatch?: string;
}

export function verifyQuote(input: TpmVerifyInput): TpmAppraisal {
  try {
    return appraise(input);
  } catch {
    // a defect of ours must still not escape as an exception, nor affirm
    return fail({ signatureValid: false }, 'attest', 'evidence not appraisable');
  }
}

function appraise(input: TpmVerifyInput): TpmAppraisal {
  const signed = signedQuote(input);
  if (!signed.ok) return signed.appraisal;

  // From here on the TPMS_ATTEST is the TPM's own statement.
  const { quote: q, sig } = signed.value;
  const fresh = freshQuote(q, input);
  if (!fresh.ok) return fresh.appraisal;
  const withClock = fresh.value;

  const log = parseEventLog(input.evidence.log);
  if (!log.ok) return fail(withClock, 'log', log.reason);
  const measurements = measurementsOf(log.value);
  const quoted = quotedPcrs(q, log.value, sig.hashAlg, { ...withClock, measurements });
  if (!quoted.ok) return quoted.appraisal;
  const pcrs = quoted.value;

  const { components, firstMismatch } = input.referenceValues === null ? { components: [] as ComponentComparison[], firstMismatch: undefined } : compareReferences(measurements, input.referenceValues);
  const out: TpmAppraisal = { status: 'affirming', ...withClock, logReplays: true, pcrs, measurements, components };
  if (firstMismatch !== undefined) {
    const c = components.find((x) => x.component === firstMismatch && x.status !== 'match');
    out.status = 'contraindicated';
    out.failedCheck = 'reference-values';
    out.firstMismatch = firstMismatch;
    out.reason = `component ${firstMismatch} ${c?.status === 'missing' ? 'was not measured' : 'is not a reference value'}`;
  }
  return out;
}

/** a check passed (its value), or the appraisal it ended with */
type Checked<T> = { ok: true; value: T } | { ok: false; appraisal: TpmAppraisal };

/** what a valid quote says of the TPM before its PCRs: its clock (and whether it rebooted), its firmware */
type QuoteFacts = Pick<TpmAppraisal, 'signatureValid' | 'clockInfo' | 'firmwareVersion' | 'rebooted'>;

function failed(partial: Partial<TpmAppraisal>, failedCheck: TpmCheck, reason: string): { ok: false; appraisal: TpmAppraisal } {
  return { ok: false, appraisal: fail(partial, failedCheck, reason) };
}

/** checks 1 and 2: the AK, the signature and the TPMS_ATTEST parse; the signature fits the key and verifies */
function signedQuote(input: TpmVerifyInput): Checked<{ quote: QuoteAttest; sig: TpmSignature }> {
  let ak: TpmPublic;
  if (input.ak instanceof Uint8Array) {
    const p = parseAkPublic(input.ak);
    if (!p.ok) return failed({ signatureValid: false }, 'ak', p.reason);
    ak = p.value;
  } else ak = input.ak;

  const sig = parseSignature(input.evidence.signature);
  if (!sig.ok) return failed({ signatureValid: false }, 'signature', sig.reason);
  const quote = parseQuoteAttest(input.evidence.attest);
  if (!quote.ok) return failed({ signatureValid: false }, 'attest', quote.reason);
  const schemeProblem = schemeMismatch(ak, sig.value);
  if (schemeProblem) return failed({ signatureValid: false }, 'signature', schemeProblem);
  // one message for every signature failure: no oracle
  if (!signatureVerifies(ak, sig.value, quote.value.raw)) return failed({ signatureValid: false }, 'signature', 'the quote signature did not verify with the enrolled attestation key');
  return { ok: true, value: { quote: quote.value, sig: sig.value } };
}

/** check 3 and the clock: the quote is over this nonce, and its clockInfo can follow the previous one */
function freshQuote(q: QuoteAttest, input: TpmVerifyInput): Checked<QuoteFacts> {
  const base = { signatureValid: true, clockInfo: clockReport(q.clockInfo), firmwareVersion: q.firmwareVersion.toString(16).padStart(16, '0') };
  const nonce = Buffer.from(input.nonce);
  if (nonce.length === 0 || q.extraData.length !== nonce.length || !timingSafeEqual(q.extraData, nonce)) {
    return failed(base, 'nonce', 'the quote is not over this nonce (extraData differs): stale or replayed');
  }
  const prev = input.previousClock;
  if (prev !== undefined) {
    const backwards = clockRegression(q.clockInfo, prev);
    if (backwards !== null) return failed(base, 'clock', backwards);
  }
  const rebooted = prev
    ? q.clockInfo.resetCount !== prev.resetCount || q.clockInfo.restartCount !== prev.restartCount
    : undefined;
  return { ok: true, value: rebooted === undefined ? base : { ...base, rebooted } };
}

/** checks 4 and 5: the selection covers the log, and the log replays to the quoted PCR digest; the PCRs, hex */
function quotedPcrs(q: QuoteAttest, log: EventLog, hashAlg: number, partial: Partial<TpmAppraisal>): Checked<TpmAppraisal['pcrs']> {
  const coverage = selectionProblem(q, log);
  if (coverage) return failed(partial, 'pcr-selection', coverage);

  const replayed = replaySelection(q, log);
  if (!replayed.ok) return failed(partial, 'log', replayed.reason);
  const digestAlg = HASHES[hashAlg]!;
  const pcrDigest = createHash(digestAlg.name).update(Buffer.concat(replayed.values.map((v) => v.value))).digest();
  if (q.pcrDigest.length !== pcrDigest.length || !timingSafeEqual(q.pcrDigest, pcrDigest)) {
    return failed(partial, 'pcr-digest', 'the event log does not replay to the quoted PCR digest');
  }
  return { ok: true, value: replayed.values.map((v) => ({ bank: HASHES[v.bank]!.name, pcr: v.pcr, value: v.value.toString('hex') })) };
}

function fail(partial: Partial<TpmAppraisal>, failedCheck: TpmCheck, reason: string): TpmAppraisal {
  return { pcrs: [], measurements: [], components: [], logReplays: false, signatureValid: false, ...partial, status: 'contraindicated', failedCheck, reason };
}

/**
 * Why a quote's clockInfo cannot follow the previous one, or null. resetCount counts TPM Resets (power cycles);
 * restartCount counts TPM Restarts since the last Reset (it starts again at 0 after one); clock (ms) only moves
 * forward while the TPM runs (a Reset may bring it back to its last saved value: allowed).
 */
export function clockRegression(now: ClockInfo, prev: { resetCount: number; restartCount: number; clock?: number }): string | null {
  if (now.resetCount < prev.resetCount) {
    return `the TPM's resetCount went back from ${prev.resetCount} to ${now.resetCount}: a restored (rolled back) TPM state or a replayed quote`;
  }
  if (now.resetCount === prev.resetCount && now.restartCount < prev.restartCount) {
    return `the TPM's restartCount went back from ${prev.restartCount} to ${now.restartCount} without a reset: a restored (rolled back) TPM state or a replayed quote`;
  }
  if (now.resetCount === prev.resetCount && now.restartCount === prev.restartCount && prev.clock !== undefined && Number(now.clock) < prev.clock) {
    return `the TPM clock went backwards (${now.clock} ms, previously ${prev.clock} ms) without a reset or restart: a restored (rolled back) TPM state or a replayed quote`;
  }
  return null;
}

function clockReport(c: ClockInfo): NonNullable<TpmAppraisal['clockInfo']> {
  return { clock: Number(c.clock), resetCount: c.resetCount, restartCount: c.restartCount, safe: c.safe };
}

/** The signature must fit the key: RSA schemes for an RSA key, ECDSA for an ECC key, the key's own scheme when set. */
function schemeMismatch(ak: TpmPublic, sig: TpmSignature): string | null {
  if (ak.type === 'rsa' && sig.sigAlg === 'ecdsa') return 'an ECDSA signature for an RSA attestation key';
  if (ak.type === 'ecc' && sig.sigAlg !== 'ecdsa') return `an ${sig.sigAlg} signature for an ECC attestation key`;
  if (ak.scheme.alg !== TPM_ALG.NULL) {
    const want = ak.scheme.alg === TPM_ALG.RSASSA ? 'rsassa' : ak.scheme.alg === TPM_ALG.RSAPSS ? 'rsapss' : 'ecdsa';
    if (want !== sig.sigAlg || ak.scheme.hashAlg !== sig.hashAlg) {
      return `the signature (${sig.sigAlg}/${algName(sig.hashAlg)}) is not the key's scheme (${want}/${algName(ak.scheme.hashAlg ?? 0)})`;
    }
  }
  return null;
}

function signatureVerifies(ak: TpmPublic, sig: TpmSignature, message: Buffer): boolean {
  try {
    const hash = HASHES[sig.hashAlg]!.name;
    if (sig.sigAlg === 'ecdsa') {
      const size = curveSize(ak.curve);
      if (sig.r.length > size || sig.s.length > size) return false;
      const p1363 = Buffer.concat([leftPad(sig.r, size), leftPad(sig.s, size)]);
      return cryptoVerify(hash, message, { key: ak.key, dsaEncoding: 'ieee-p1363' }, p1363);
    }
    const padding = sig.sigAlg === 'rsapss' ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
    const opts = sig.sigAlg === 'rsapss' ? { key: ak.key, padding, saltLength: constants.RSA_PSS_SALTLEN_AUTO } : { key: ak.key, padding };
    return cryptoVerify(hash, message, opts, sig.sig);
  } catch {
    return false;
  }
}

function curveSize(crv: string | undefined): number {
  return crv === 'P-384' ? 48 : crv === 'P-521' ? 66 : 32;
}

function leftPad(b: Buffer, size: number): Buffer {
  return b.length === size ? b : Buffer.concat([Buffer.alloc(size - b.length), b]);
}

/** Every PCR the log measures into must be quoted in the SHA-256 bank; other banks are replayed as selected. */
function selectionProblem(q: QuoteAttest, log: EventLog): string | null {
  const total = q.pcrSelect.reduce((n, s) => n + s.pcrs.length, 0);
  if (total === 0) return 'the quote selects no PCR';
  for (const s of q.pcrSelect) {
    if (s.pcrs.length > 0 && !HASHES[s.hashAlg]) return `the quote selects the ${algName(s.hashAlg)} bank (sha256, sha384, sha512 accepted)`;
  }
  const sha256 = q.pcrSelect.find((s) => s.hashAlg === TPM_ALG.SHA256);
  if (!log.specId.algorithms.some((a) => a.alg === TPM_ALG.SHA256)) return 'the event log has no sha256 digests';
  for (const pcr of measuredPcrs(log)) {
    if (!sha256?.pcrs.includes(pcr)) return `the event log measures into PCR ${pcr}, which the quote does not cover in the sha256 bank`;
  }
  return null;
}

function replaySelection(q: QuoteAttest, log: EventLog): { ok: true; values: Array<{ bank: number; pcr: number; value: Buffer }> } | { ok: false; reason: string } {
  const values: Array<{ bank: number; pcr: number; value: Buffer }> = [];
  for (const s of q.pcrSelect) {
    if (s.pcrs.length === 0) continue;
    const r = replayPcrs(log, s.hashAlg, s.pcrs);
    if (!r.ok) return r;
    for (const pcr of s.pcrs) values.push({ bank: s.hashAlg, pcr, value: r.value.get(pcr)! });
  }
  return { ok: true, values };
}

const EVENT_NAMES: Record<number, string> = { [EV.SEPARATOR]: 'EV_SEPARATOR', [EV.ACTION]: 'EV_ACTION', [EV.EVENT_TAG]: 'EV_EVENT_TAG', [EV.IPL]: 'EV_IPL' };

/**
 * The component an event measures: its event data when that is a printable name (what our devices write in
 * EV_IPL events), else the event type and PCR (so a reference set can still name it).
 */
export function eventComponent(e: TcgEvent): string {
  let end = e.data.length;
  while (end > 0 && e.data[end - 1] === 0) end--;
  const text = e.data.subarray(0, end).toString('utf8');
  if (end > 0 && end <= 128 && /^[\x21-\x7e][\x20-\x7e]*$/.test(text)) return text;
  return `${EVENT_NAMES[e.type] ?? `EV_0x${e.type.toString(16)}`}@pcr${e.pcr}`;
}

/** The log's measurement events as MeasurementEntry (component, SHA-256 digest, pcr), in log order. */
export function measurementsOf(log: EventLog): MeasurementEntry[] {
  return log.events
    .filter((e) => e.type !== EV.NO_ACTION && e.digests.has(TPM_ALG.SHA256))
    .map((e) => ({ component: eventComponent(e), digest: e.digests.get(TPM_ALG.SHA256)!.toString('hex'), pcr: e.pcr }));
}

function compareReferences(measurements: MeasurementEntry[], refs: ReferenceValues): { components: ComponentComparison[]; firstMismatch?: string } {
  const components: ComponentComparison[] = [];
  let firstMismatch: string | undefined;
  for (const m of measurements) {
    const accepted = Object.hasOwn(refs, m.component) ? refs[m.component] : undefined;
    if (!accepted || accepted.length === 0) {
      components.push({ component: m.component, status: 'unexpected', reported: m.digest });
      firstMismatch ??= m.component;
    } else if (accepted.some((d) => d.toLowerCase() === m.digest)) {
      components.push({ component: m.component, status: 'match', expected: m.digest, reported: m.digest });
    } else {
      components.push({ component: m.component, status: 'mismatch', expected: accepted[0]!, reported: m.digest });
      firstMismatch ??= m.component;
    }
  }
  const measured = new Set(measurements.map((m) => m.component));
  for (const [component, accepted] of Object.entries(refs)) {
    if (!measured.has(component) && accepted.length > 0) {
      components.push({ component, status: 'missing', expected: accepted[0]! });
      firstMismatch ??= component;
    }
  }
  return firstMismatch === undefined ? { components } : { components, firstMismatch };
}
