/**
 * The checked inputs of the PVE's operations, the same for both transports: integrity-request's leaves (RESTCONF
 * JSON members, or the NETCONF endpoint's leaf texts converted to RFC 7951 JSON) and provide-reference-values'
 * body. Every refusal is a RestconfError naming the leaf (error-path); the NETCONF endpoint maps it to an rpc-error.
 */
import type { CompletionInput, DeviceEvidence } from './appraise.js';
import { checkProvideLeaves } from './provided.js';
import { INPUT_MEMBER, RestconfError, decodeBase64Strict } from './restconf.js';
import type { RestconfErrorEntry } from './restconf.js';
import type { IntegrityInput } from './types.js';

const HENB_ID = /^[0-9A-Za-z][-.0-9A-Z_a-z]*$/;
const JOB_ID = /^[0-9A-Za-z][-.0-9:A-Z_a-z]*$/;
const BASE = '/henb-sw-verify-pve:integrity-request/input';
const C = `${BASE}/completion`;
const HEX64 = /^[0-9a-f]{64}$/;

function bad(tag: string, message: string, path?: string): RestconfError {
  const entry: RestconfErrorEntry = { 'error-type': 'protocol', 'error-tag': tag, 'error-message': message };
  if (path !== undefined) entry['error-path'] = path;
  return new RestconfError(entry);
}

/**
 * An operation's body (integrity-request, provide-reference-values, and the list forms: ./batch.ts): exactly the member
 * henb-sw-verify-pve:input, an object; returned for its leaves to be checked.
 */
export function inputMember(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw bad('malformed-message', `the body must be an object with member "${INPUT_MEMBER}"`);
  }
  const stray = Object.keys(body).find((k) => k !== INPUT_MEMBER);
  if (stray !== undefined) throw bad('unknown-element', `unknown member "${stray}"`, `/${stray}`);
  const input = (body as Record<string, unknown>)[INPUT_MEMBER];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw bad('malformed-message', `the body must be an object with member "${INPUT_MEMBER}"`);
  }
  return input as Record<string, unknown>;
}

/** integrity-request's body: exactly the member henb-sw-verify-pve:input, whose leaves are checked. */
export function readInput(body: unknown): IntegrityInput {
  return checkInputLeaves(inputMember(body));
}

/** provide-reference-values' input: exactly the leaf reference-values (a string). */
export function readProvideInput(body: unknown): string {
  return checkProvideLeaves(inputMember(body));
}

/** Check the leaves of an integrity-request input (RESTCONF JSON members or NETCONF leaf texts). */
export function checkInputLeaves(rec: Record<string, unknown>): IntegrityInput {
  for (const k of Object.keys(rec)) {
    if (k !== 'henb-id' && k !== 'nonce-value' && k !== 'job-id' && k !== 'completion' && k !== 'evidence') throw bad('unknown-element', `unknown input leaf "${k}"`, `${BASE}/${k}`);
  }
  const henbId = rec['henb-id'];
  if (henbId === undefined) throw bad('missing-element', 'henb-id is mandatory', `${BASE}/henb-id`);
  if (typeof henbId !== 'string' || henbId.length > 64 || !HENB_ID.test(henbId)) {
    throw bad('invalid-value', 'henb-id must be 1..64 characters [0-9A-Za-z][-.0-9A-Z_a-z]*', `${BASE}/henb-id`);
  }
  const nonceText = rec['nonce-value'];
  if (nonceText === undefined) throw bad('missing-element', 'nonce-value is mandatory', `${BASE}/nonce-value`);
  const nonce = typeof nonceText === 'string' ? decodeBase64Strict(nonceText) : undefined;
  if (typeof nonceText !== 'string' || !nonce || nonce.length < 16 || nonce.length > 64) {
    throw bad('invalid-value', 'nonce-value must be base64 of 16..64 octets', `${BASE}/nonce-value`);
  }
  const jobId = rec['job-id'];
  if (jobId !== undefined && (typeof jobId !== 'string' || jobId.length > 64 || !JOB_ID.test(jobId))) {
    throw bad('invalid-value', 'job-id must be 1..64 characters [0-9A-Za-z][-.0-9:A-Z_a-z]*', `${BASE}/job-id`);
  }
  const out: IntegrityInput = { henbId, nonce, nonceText };
  if (jobId !== undefined) out.jobId = jobId as string;
  if (rec.completion !== undefined) {
    if (jobId === undefined) throw bad('missing-element', 'job-id is mandatory with completion', `${BASE}/job-id`);
    out.completion = checkCompletion(rec.completion);
  }
  if (rec.evidence !== undefined) {
    if (rec.completion !== undefined) throw bad('invalid-value', 'evidence (pre-update) and completion (post-update) are exclusive', `${BASE}/evidence`);
    out.evidence = checkRelayedEvidence(rec.evidence);
  }
  return out;
}

function obj(x: unknown, path: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw bad('invalid-value', `${path.split('/').pop() ?? ''} must be a container`, path);
  return x as Record<string, unknown>;
}

function str(o: Record<string, unknown>, k: string, path: string, mandatory: boolean): string | undefined {
  const x = o[k];
  if (x === undefined) {
    if (mandatory) throw bad('missing-element', `${k} is mandatory`, `${path}/${k}`);
    return undefined;
  }
  if (typeof x !== 'string') throw bad('invalid-value', `${k} must be a string`, `${path}/${k}`);
  return x;
}

/** The completion container (RFC 7951 JSON shape; the NETCONF endpoint converts its XML to it). */
export function checkCompletion(v: unknown): CompletionInput {
  const c = obj(v, C);
  for (const k of Object.keys(c)) {
    if (!['status', 'self-check', 'software-version', 'tim', 'measurement-log', 'evidence'].includes(k)) throw bad('unknown-element', `unknown leaf "${k}"`, `${C}/${k}`);
  }
  const tim = str(c, 'tim', C, true) as string;
  if (!HEX64.test(tim)) throw bad('invalid-value', 'tim must be 64 lowercase hex digits', `${C}/tim`);
  const log = checkMeasurementLog(c['measurement-log'], C);
  const evidence = checkCompletionEvidence(c.evidence);
  const out: CompletionInput = { status: str(c, 'status', C, true) as string, tim, log, evidence };
  const selfCheck = str(c, 'self-check', C, false);
  if (selfCheck !== undefined) out.selfCheck = selfCheck;
  const version = str(c, 'software-version', C, false);
  if (version !== undefined) out.softwareVersion = version;
  return out;
}

/** completion/measurement-log or evidence/measurement-log (under `at`): its entries in index order (absent: empty) */
function checkMeasurementLog(v: unknown, at: string): CompletionInput['log'] {
  const entries = v === undefined ? [] : obj(v, `${at}/measurement-log`).entry;
  if (entries !== undefined && !Array.isArray(entries)) throw bad('invalid-value', 'measurement-log entry must be a list', `${at}/measurement-log/entry`);
  return (entries ?? []).map((e: unknown) => {
    const o = obj(e, `${at}/measurement-log/entry`);
    const component = o.component;
    const digest = o.digest;
    const index = Number(o.index);
    if (typeof component !== 'string' || component === '' || typeof digest !== 'string' || !HEX64.test(digest) || !Number.isInteger(index) || index < 0) {
      throw bad('invalid-value', 'a measurement-log entry needs index, component and a 64-hex digest', `${at}/measurement-log/entry`);
    }
    return { index, component, digest };
  }).sort((a, b) => a.index - b.index).map(({ component, digest }) => ({ component, digest }));
}

/** completion/evidence (mandatory): format, nonce, signature and, for a TPM, quote and event log */
function checkCompletionEvidence(v: unknown): CompletionInput['evidence'] {
  const E = `${C}/evidence`;
  if (v === undefined) throw bad('missing-element', 'evidence is mandatory', E);
  const ev = obj(v, E);
  const evidence: CompletionInput['evidence'] = {
    format: str(ev, 'evidence-format', E, true) as string,
    nonce: str(ev, 'nonce-value', E, true) as string,
    signatureAlgorithm: str(ev, 'signature-algorithm', E, true) as string,
    signature: str(ev, 'signature', E, true) as string,
  };
  const keyId = str(ev, 'key-id', E, false);
  if (keyId !== undefined) evidence.keyId = keyId;
  const quote = str(ev, 'quote', E, false);
  if (quote !== undefined) evidence.quote = quote;
  const eventLog = str(ev, 'event-log', E, false);
  if (eventLog !== undefined) evidence.eventLog = eventLog;
  return evidence;
}

const EV = `${BASE}/evidence`;
const EVIDENCE_LEAVES = ['evidence-format', 'tim', 'measurement-log', 'software-version', 'signature-algorithm', 'key-id', 'signature', 'tpm2-quote'];

/**
 * evidence (phase pre-update, background-check model): integrity-measurement's reply as the requester relays it,
 * checked as the PVE's collector checks a reply it reads itself (src/device parseMeasurementReply): a 64-hex TIM,
 * software-key with a signature, tpm2-quote with its quote container.
 */
export function checkRelayedEvidence(v: unknown): DeviceEvidence {
  const ev = obj(v, EV);
  for (const k of Object.keys(ev)) if (!EVIDENCE_LEAVES.includes(k)) throw bad('unknown-element', `unknown leaf "${k}"`, `${EV}/${k}`);
  const format = str(ev, 'evidence-format', EV, false) ?? 'software-key';
  if (format !== 'software-key' && format !== 'tpm2-quote') throw bad('invalid-value', 'evidence-format must be software-key or tpm2-quote', `${EV}/evidence-format`);
  const tim = str(ev, 'tim', EV, true) as string;
  if (!HEX64.test(tim)) throw bad('invalid-value', 'tim must be 64 lowercase hex digits', `${EV}/tim`);
  const signature = binary(ev, 'signature', EV, format === 'software-key') ?? '';
  const out: DeviceEvidence = {
    format, tim, log: checkMeasurementLog(ev['measurement-log'], EV), signature,
    signatureAlgorithm: str(ev, 'signature-algorithm', EV, format === 'software-key') ?? '',
  };
  const keyId = str(ev, 'key-id', EV, false);
  if (keyId !== undefined) out.keyId = keyId;
  const version = str(ev, 'software-version', EV, false);
  if (version !== undefined) out.softwareVersion = version;
  if (format === 'tpm2-quote') {
    if (ev['tpm2-quote'] === undefined) throw bad('missing-element', 'tpm2-quote is mandatory with evidence-format tpm2-quote', `${EV}/tpm2-quote`);
  }
  if (ev['tpm2-quote'] !== undefined) out.tpm = checkQuote(ev['tpm2-quote']);
  return out;
}

/** evidence/tpm2-quote: the AK's Name, the TPMS_ATTEST, its TPMT_SIGNATURE and the event log */
function checkQuote(v: unknown): NonNullable<DeviceEvidence['tpm']> {
  const Q = `${EV}/tpm2-quote`;
  const q = obj(v, Q);
  for (const k of Object.keys(q)) {
    if (!['certificate-name', 'quote', 'quote-signature', 'event-log'].includes(k)) throw bad('unknown-element', `unknown leaf "${k}"`, `${Q}/${k}`);
  }
  const certificateName = str(q, 'certificate-name', Q, true) as string;
  if (!/^[0-9a-f]{1,134}$/.test(certificateName)) throw bad('invalid-value', 'certificate-name must be 1..134 lowercase hex digits', `${Q}/certificate-name`);
  return {
    certificateName,
    quote: binary(q, 'quote', Q, true) as string,
    signature: binary(q, 'quote-signature', Q, true) as string,
    eventLog: binary(q, 'event-log', Q, true) as string,
  };
}

/** a binary leaf (canonical base64, not empty when mandatory) */
function binary(o: Record<string, unknown>, k: string, path: string, mandatory: boolean): string | undefined {
  const t = str(o, k, path, mandatory);
  if (t === undefined) return undefined;
  const b = decodeBase64Strict(t);
  if (b === undefined || (mandatory && b.length === 0)) throw bad('invalid-value', `${k} must be base64${mandatory ? ' (not empty)' : ''}`, `${path}/${k}`);
  return t;
}
