/**
 * XML encoding of the device module (yang/henb-sw-verify-device.yang, prefix hsvd) shared by the simulator
 * (server side), the southbound driver and the PVE's evidence collector (client side). Elements are matched
 * by namespace URI + local name only.
 */
import { HsvError } from '../errors.js';
import { child, childText, childrenNamed, el, elements, leaf, textOf } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { MeasurementLogEntry } from '../oam/index.js';
import { TPM_ALG, encodeEventLog, parseEventLog } from '../integrity/tpm/index.js';

/** a software slot as the device module lists it (hsvd:slots) */
export type SlotStatus = 'VALID' | 'INVALID' | 'EMPTY';
export interface SoftwareSlot {
  name: string;
  status: SlotStatus;
  active: boolean;
  running: boolean;
  /** software version label (empty when EMPTY) */
  version?: string;
  /** digest of the image installed in the slot (the software RIM for updates) */
  rim?: string;
}

export const DEVICE_NS = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-device';
export const DEVICE_MODULE = 'henb-sw-verify-device';
export const DEVICE_PREFIX = 'hsvd';
export const DEVICE_REVISION = '2026-12-03';
export const COMPLETION_NOTIFICATION = 'software-update-complete';

export class DeviceWireError extends HsvError<'ERR_DEVICE_BAD_REPLY'> {}

const HEX64 = /^[0-9a-f]{64}$/;
const n = DEVICE_NS;

function malformed(what: string): DeviceWireError {
  return new DeviceWireError('ERR_DEVICE_BAD_REPLY', `the device sent a malformed ${what}`);
}

// ---- software-update ----------------------------------------------------------------------------------

export interface SoftwareUpdateInput {
  jobId: string;
  uri: string;
  softwareRim: string;
  selfCheck: boolean;
  version?: string;
  /** nonce-value as text (canonical base64; the OAM's hex nonces are that too); '' when absent */
  nonce: string;
}

export function softwareUpdateXml(i: SoftwareUpdateInput): XmlElement {
  return el(n, 'software-update',
    leaf(n, 'job-id', i.jobId),
    leaf(n, 'uri', i.uri),
    leaf(n, 'software-rim', i.softwareRim),
    i.version !== undefined ? leaf(n, 'version', i.version) : undefined,
    leaf(n, 'self-check', i.selfCheck),
    leaf(n, 'nonce-value', i.nonce));
}

export function parseSoftwareUpdate(op: XmlElement): SoftwareUpdateInput {
  const out: SoftwareUpdateInput = {
    jobId: (childText(op, n, 'job-id') ?? '').trim(),
    uri: (childText(op, n, 'uri') ?? '').trim(),
    softwareRim: (childText(op, n, 'software-rim') ?? '').trim(),
    selfCheck: (childText(op, n, 'self-check') ?? 'false').trim() === 'true',
    nonce: (childText(op, n, 'nonce-value') ?? '').replace(/\s+/g, ''),
  };
  const version = childText(op, n, 'version');
  if (version !== undefined) out.version = version;
  return out;
}

/** started | refused (+ reason): the output of software-update and rollback */
export interface StartedReply {
  status: 'started' | 'refused';
  reason?: string;
}

export function startedReplyXml(r: StartedReply): XmlElement[] {
  return [leaf(n, 'status', r.status), ...(r.reason !== undefined ? [leaf(n, 'reason', r.reason)] : [])];
}

export function parseStartedReply(children: XmlElement[]): StartedReply {
  const status = children.find((c) => c.ns === n && c.name === 'status');
  const s = status ? textOf(status).trim() : '';
  if (s !== 'started' && s !== 'refused') throw malformed('reply (status)');
  const out: StartedReply = { status: s };
  const reason = children.find((c) => c.ns === n && c.name === 'reason');
  if (reason) out.reason = textOf(reason);
  return out;
}

// ---- rollback -----------------------------------------------------------------------------------------

export function rollbackXml(jobId?: string): XmlElement {
  return el(n, 'rollback', jobId !== undefined ? leaf(n, 'job-id', jobId) : undefined);
}

export function parseRollback(op: XmlElement): { jobId?: string } {
  const j = childText(op, n, 'job-id');
  return j !== undefined ? { jobId: j.trim() } : {};
}

// ---- integrity-measurement ----------------------------------------------------------------------------

export function integrityMeasurementXml(nonce: Buffer): XmlElement {
  return el(n, 'integrity-measurement', leaf(n, 'nonce-value', nonce.toString('base64')));
}

/** the nonce-value octets, or undefined when the text is not base64 */
export function parseIntegrityMeasurement(op: XmlElement): Buffer | undefined {
  const t = (childText(op, n, 'nonce-value') ?? '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) return undefined;
  return Buffer.from(t, 'base64');
}

export interface MeasurementReply {
  /** software-key (default) or tpm2-quote */
  format: 'software-key' | 'tpm2-quote';
  tim: string;
  log: MeasurementLogEntry[];
  softwareVersion?: string;
  /** ES256 | Ed25519 (software-key); the AK's ES256 | RS256 (tpm2-quote); '' when absent */
  signatureAlgorithm: string;
  keyId?: string;
  /** base64; '' for tpm2-quote */
  signature: string;
  /** tpm2-quote: the quote and the event log */
  tpm?: Tpm20Attestation;
}

// ---- tpm20-attestation (RFC 9684 shape) ---------------------------------------------------------------

/**
 * The device module's tpm20-attestation container as the layers above carry it: the quote octets and the
 * TCG event log as one crypto-agile log (base64), which is what the verifier parses. On the wire the log is
 * RFC 9684's bios-event-logs (one entry per TCG_PCR_EVENT2); this module converts.
 */
export interface Tpm20Attestation {
  /** the AK's TPM Name, lowercase hex */
  certificateName: string;
  /** base64 TPMS_ATTEST */
  quote: string;
  /** base64 TPMT_SIGNATURE */
  signature: string;
  /** the PCRs quoted per bank (a copy of the selection inside the quote) */
  pcrSelection: Array<{ hashAlg: 'sha256' | 'sha384' | 'sha512'; pcrs: number[] }>;
  /** base64 TCG crypto-agile event log (Spec ID event, then the events) */
  eventLog: string;
}

const BANKS: Record<string, number> = { sha256: TPM_ALG.SHA256, sha384: TPM_ALG.SHA384, sha512: TPM_ALG.SHA512 };
const BANK_NAMES = new Map(Object.entries(BANKS).map(([k, v]) => [v, k]));
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** bounds of one tpm20-attestation on the wire (a real boot log has a few hundred events) */
const MAX_EVENTS = 4096;

export function tpm20AttestationXml(t: Tpm20Attestation): XmlElement {
  const parsed = parseEventLog(Buffer.from(t.eventLog, 'base64'));
  if (!parsed.ok) throw new DeviceWireError('ERR_DEVICE_BAD_REPLY', `the event log to send is not a TCG log: ${parsed.reason}`);
  return el(n, 'tpm20-attestation',
    leaf(n, 'certificate-name', t.certificateName),
    leaf(n, 'TPMS_QUOTE_INFO', t.quote),
    leaf(n, 'quote-signature', t.signature),
    t.pcrSelection.map((s) => el(n, 'tpm20-pcr-selection', leaf(n, 'tpm20-hash-algo', s.hashAlg), s.pcrs.map((p) => leaf(n, 'pcr-index', p)))),
    el(n, 'bios-event-logs', parsed.value.events.map((e) => el(n, 'bios-event-entry',
      leaf(n, 'event-number', e.sequence),
      leaf(n, 'event-type', e.type),
      leaf(n, 'pcr-index', e.pcr),
      [...e.digests].map(([alg, d]) => el(n, 'digest-list', leaf(n, 'hash-algo', BANK_NAMES.get(alg) ?? `0x${alg.toString(16)}`), leaf(n, 'digest', d.toString('base64')))),
      e.data.length > 0 ? leaf(n, 'event-data', e.data.toString('base64')) : undefined))));
}

/** The tpm20-attestation container (namespace `ns`); throws DeviceWireError when it is not well formed. */
export function parseTpm20Attestation(c: XmlElement, ns: string = n): Tpm20Attestation {
  const bad = (what: string): DeviceWireError => malformed(`tpm20-attestation (${what})`);
  const b64 = (e: XmlElement | undefined, name: string, what: string): string => {
    const t = (e === undefined ? undefined : childText(e, ns, name))?.replace(/\s+/g, '');
    if (t === undefined || !B64.test(t)) throw bad(what);
    return t;
  };
  const certificateName = (childText(c, ns, 'certificate-name') ?? '').trim();
  if (!/^[0-9a-f]{2,134}$/.test(certificateName)) throw bad('certificate-name');
  const quote = b64(c, 'TPMS_QUOTE_INFO', 'TPMS_QUOTE_INFO');
  const signature = b64(c, 'quote-signature', 'quote-signature');
  if (quote === '' || signature === '') throw bad('empty quote');
  const pcrSelection = childrenNamed(c, ns, 'tpm20-pcr-selection').map((s) => {
    const hashAlg = (childText(s, ns, 'tpm20-hash-algo') ?? '').trim();
    if (BANKS[hashAlg] === undefined) throw bad('tpm20-hash-algo');
    const pcrs = childrenNamed(s, ns, 'pcr-index').map((p) => Number(textOf(p).trim()));
    if (pcrs.some((p) => !Number.isInteger(p) || p < 0 || p > 31)) throw bad('pcr-index');
    return { hashAlg: hashAlg as Tpm20Attestation['pcrSelection'][number]['hashAlg'], pcrs };
  });
  const logs = child(c, ns, 'bios-event-logs');
  const entries = logs ? childrenNamed(logs, ns, 'bios-event-entry') : [];
  if (entries.length > MAX_EVENTS) throw bad(`more than ${MAX_EVENTS} events`);
  const rows = entries.map((e) => {
    const num = (name: string, max: number): number => {
      const v = Number((childText(e, ns, name) ?? '').trim());
      if (!Number.isInteger(v) || v < 0 || v > max) throw bad(name);
      return v;
    };
    const digests = new Map<number, Buffer>();
    for (const d of childrenNamed(e, ns, 'digest-list')) {
      const alg = BANKS[(childText(d, ns, 'hash-algo') ?? '').trim()];
      if (alg === undefined || digests.has(alg)) throw bad('hash-algo');
      digests.set(alg, Buffer.from(b64(d, 'digest', 'digest'), 'base64'));
    }
    if (digests.size === 0) throw bad('digest-list');
    const data = childText(e, ns, 'event-data');
    return { number: num('event-number', 0xffffffff), pcr: num('pcr-index', 31), type: num('event-type', 0xffffffff), digests,
      data: data === undefined ? Buffer.alloc(0) : Buffer.from(b64(e, 'event-data', 'event-data'), 'base64') };
  }).sort((a, b) => a.number - b.number);
  // the log's banks: those of the first event; encodeEventLog refuses an event that lacks one
  const algorithms = rows.length > 0 ? [...rows[0]!.digests.keys()] : [TPM_ALG.SHA256];
  let eventLog: string;
  try {
    eventLog = encodeEventLog(algorithms, rows.map((r) => ({ pcr: r.pcr, type: r.type, digests: r.digests, data: r.data }))).toString('base64');
  } catch {
    throw bad('every event needs one digest per bank of the log');
  }
  if (rows.some((r) => r.digests.size !== algorithms.length)) throw bad('every event needs one digest per bank of the log');
  return { certificateName, quote, signature, pcrSelection, eventLog };
}

export function measurementLogXml(log: readonly MeasurementLogEntry[]): XmlElement {
  return el(n, 'measurement-log', log.map((e, i) =>
    el(n, 'entry', leaf(n, 'index', i), leaf(n, 'component', e.component), leaf(n, 'digest', e.digest))));
}

export function parseMeasurementLog(container: XmlElement | undefined): MeasurementLogEntry[] {
  if (!container) return [];
  const entries = childrenNamed(container, n, 'entry').map((e) => {
    const index = Number((childText(e, n, 'index') ?? '').trim());
    const component = (childText(e, n, 'component') ?? '').trim();
    const digest = (childText(e, n, 'digest') ?? '').trim();
    if (!Number.isInteger(index) || index < 0 || component.length === 0 || !HEX64.test(digest)) throw malformed('measurement-log');
    return { index, component, digest };
  });
  entries.sort((a, b) => a.index - b.index);
  return entries.map(({ component, digest }) => ({ component, digest }));
}

export function measurementReplyXml(r: MeasurementReply): XmlElement[] {
  return [
    ...(r.format === 'tpm2-quote' ? [leaf(n, 'evidence-format', r.format)] : []),
    leaf(n, 'tim', r.tim),
    measurementLogXml(r.log),
    ...(r.softwareVersion !== undefined ? [leaf(n, 'software-version', r.softwareVersion)] : []),
    ...(r.signatureAlgorithm !== '' ? [leaf(n, 'signature-algorithm', r.signatureAlgorithm)] : []),
    ...(r.keyId !== undefined ? [leaf(n, 'key-id', r.keyId)] : []),
    ...(r.signature !== '' ? [leaf(n, 'signature', r.signature)] : []),
    ...(r.tpm !== undefined ? [tpm20AttestationXml(r.tpm)] : []),
  ];
}

export function parseMeasurementReply(children: XmlElement[]): MeasurementReply {
  const wrap = el(n, 'output', children);
  const tim = (childText(wrap, n, 'tim') ?? '').trim();
  if (!HEX64.test(tim)) throw malformed('integrity-measurement reply (tim)');
  const formatText = (childText(wrap, n, 'evidence-format') ?? 'software-key').trim();
  if (formatText !== 'software-key' && formatText !== 'tpm2-quote') throw malformed('integrity-measurement reply (evidence-format)');
  const signature = (childText(wrap, n, 'signature') ?? '').replace(/\s+/g, '');
  const tpmEl = child(wrap, n, 'tpm20-attestation');
  if (formatText === 'software-key' && signature.length === 0) throw malformed('integrity-measurement reply (signature)');
  if (formatText === 'tpm2-quote' && tpmEl === undefined) throw malformed('integrity-measurement reply (tpm20-attestation)');
  const out: MeasurementReply = {
    format: formatText,
    tim,
    log: parseMeasurementLog(child(wrap, n, 'measurement-log')),
    signatureAlgorithm: (childText(wrap, n, 'signature-algorithm') ?? '').trim(),
    signature,
  };
  const v = childText(wrap, n, 'software-version');
  if (v !== undefined) out.softwareVersion = v;
  const k = childText(wrap, n, 'key-id');
  if (k !== undefined) out.keyId = k.trim();
  if (tpmEl !== undefined) out.tpm = parseTpm20Attestation(tpmEl);
  return out;
}

// ---- activate-credential ------------------------------------------------------------------------------

/** TPM2_MakeCredential's output as the verifier sends it: TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET (size first) */
export interface CredentialChallenge {
  credentialBlob: Buffer;
  secret: Buffer;
  /** which EK it was made for (default rsa: the RSA 2048 EK; ecc: the ECC P-256 EK) */
  endorsementKey?: 'rsa' | 'ecc';
}

export function activateCredentialXml(c: CredentialChallenge): XmlElement {
  return el(n, 'activate-credential',
    leaf(n, 'credential-blob', c.credentialBlob.toString('base64')),
    leaf(n, 'encrypted-secret', c.secret.toString('base64')),
    c.endorsementKey === 'ecc' ? leaf(n, 'endorsement-key', 'ecc') : undefined);
}

function base64Octets(text: string | undefined): Buffer | undefined {
  const t = (text ?? '').replace(/\s+/g, '');
  if (t.length === 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) return undefined;
  return Buffer.from(t, 'base64');
}

/** the device side: the challenge (endorsementKey only when ecc), or undefined when a leaf is missing, not base64 or not rsa/ecc */
export function parseActivateCredential(op: XmlElement): CredentialChallenge | undefined {
  const credentialBlob = base64Octets(childText(op, n, 'credential-blob'));
  const secret = base64Octets(childText(op, n, 'encrypted-secret'));
  if (credentialBlob === undefined || secret === undefined) return undefined;
  const ek = childText(op, n, 'endorsement-key')?.trim();
  if (ek !== undefined && ek !== 'rsa' && ek !== 'ecc') return undefined;
  return { credentialBlob, secret, ...(ek === 'ecc' ? { endorsementKey: 'ecc' as const } : {}) };
}

export interface ActivatedCredential {
  /** what the TPM released */
  secret: Buffer;
  /** the AK's TPM Name (hex), when the device names it */
  certificateName?: string;
}

export function activateCredentialReplyXml(r: ActivatedCredential): XmlElement[] {
  return [
    ...(r.certificateName !== undefined ? [leaf(n, 'certificate-name', r.certificateName)] : []),
    leaf(n, 'secret', r.secret.toString('base64')),
  ];
}

export function parseActivateCredentialReply(children: XmlElement[]): ActivatedCredential {
  const wrap = el(n, 'output', children);
  const secret = base64Octets(childText(wrap, n, 'secret'));
  if (secret === undefined) throw malformed('activate-credential reply (secret)');
  const name = childText(wrap, n, 'certificate-name')?.trim();
  if (name !== undefined && !/^[0-9a-f]{2,134}$/.test(name)) throw malformed('activate-credential reply (certificate-name)');
  return { secret, ...(name !== undefined ? { certificateName: name } : {}) };
}

// ---- software-update-complete -------------------------------------------------------------------------

export type CompletionStatus = 'completed' | 'download-error' | 'integrity-error' | 'install-error' | 'self-check-failed';
const COMPLETION_STATUSES: readonly string[] = ['completed', 'download-error', 'integrity-error', 'install-error', 'self-check-failed'];

/** The completion's evidence container (the device's signature over the completion statement). */
export interface CompletionEvidenceXml {
  format: 'software-key' | 'tpm2-quote';
  /** nonce-value text (base64), as the software-update carried it */
  nonce: string;
  signatureAlgorithm: string;
  keyId?: string;
  /** base64: the signature (software-key) or the quote's TPMT_SIGNATURE (tpm2-quote) */
  signature: string;
  /** tpm2-quote: base64 TPMS_ATTEST (tpm20-attestation/TPMS_QUOTE_INFO) */
  quote?: string;
  /** tpm2-quote: base64 TCG event log (from tpm20-attestation/bios-event-logs) */
  eventLog?: string;
  /** tpm2-quote: the whole container (certificate-name, PCR selection) */
  tpm?: Tpm20Attestation;
}

export interface CompletionEvent {
  jobId: string;
  status: CompletionStatus;
  tim?: string;
  log?: MeasurementLogEntry[];
  selfCheck?: 'passed' | 'failed' | 'not-performed';
  softwareVersion?: string;
  reason?: string;
  evidence?: CompletionEvidenceXml;
}

export function completionXml(c: CompletionEvent): XmlElement {
  return el(n, COMPLETION_NOTIFICATION,
    leaf(n, 'job-id', c.jobId),
    leaf(n, 'status', c.status),
    c.tim !== undefined ? leaf(n, 'tim', c.tim) : undefined,
    c.log !== undefined ? measurementLogXml(c.log) : undefined,
    c.selfCheck !== undefined ? leaf(n, 'self-check', c.selfCheck) : undefined,
    c.softwareVersion !== undefined ? leaf(n, 'software-version', c.softwareVersion) : undefined,
    c.reason !== undefined ? leaf(n, 'reason', c.reason) : undefined,
    c.evidence !== undefined ? el(n, 'evidence',
      leaf(n, 'evidence-format', c.evidence.format),
      leaf(n, 'nonce-value', c.evidence.nonce),
      leaf(n, 'signature-algorithm', c.evidence.signatureAlgorithm),
      c.evidence.keyId !== undefined ? leaf(n, 'key-id', c.evidence.keyId) : undefined,
      c.evidence.tpm === undefined ? leaf(n, 'signature', c.evidence.signature) : undefined,
      c.evidence.tpm !== undefined ? tpm20AttestationXml(c.evidence.tpm) : undefined) : undefined);
}

/** The evidence container of a completion (device notification or completion-tim RPC, in namespace `ns`). */
export function parseEvidence(container: XmlElement | undefined, ns: string = n): CompletionEvidenceXml | undefined {
  if (!container) return undefined;
  const text = (name: string): string | undefined => {
    const t = childText(container, ns, name);
    return t === undefined ? undefined : t.replace(/\s+/g, '');
  };
  const format = text('evidence-format');
  const nonce = text('nonce-value');
  const tpmEl = child(container, ns, 'tpm20-attestation');
  const tpm = format === 'tpm2-quote' && tpmEl !== undefined ? parseTpm20Attestation(tpmEl, ns) : undefined;
  // tpm2-quote: the signature is the quote's (tpm20-attestation/quote-signature)
  const signature = tpm?.signature ?? text('signature');
  const signatureAlgorithm = text('signature-algorithm');
  if ((format !== 'software-key' && format !== 'tpm2-quote') || !nonce || !signature || !signatureAlgorithm || (format === 'tpm2-quote' && tpm === undefined)) {
    throw malformed('completion evidence');
  }
  const out: CompletionEvidenceXml = { format, nonce, signature, signatureAlgorithm };
  const keyId = text('key-id');
  if (keyId !== undefined) out.keyId = keyId;
  if (tpm !== undefined) {
    out.quote = tpm.quote;
    out.eventLog = tpm.eventLog;
    out.tpm = tpm;
    out.keyId ??= tpm.certificateName;
  }
  return out;
}

/** Parse the event element (child of <notification>); throws DeviceWireError when malformed. */
export function parseCompletion(ev: XmlElement): CompletionEvent {
  if (ev.ns !== n || ev.name !== COMPLETION_NOTIFICATION) throw malformed('notification');
  const jobId = (childText(ev, n, 'job-id') ?? '').trim();
  const status = (childText(ev, n, 'status') ?? '').trim();
  if (jobId.length === 0 || !COMPLETION_STATUSES.includes(status)) throw malformed('completion notification');
  const out: CompletionEvent = { jobId, status: status as CompletionStatus };
  const tim = childText(ev, n, 'tim');
  if (tim !== undefined) {
    if (!HEX64.test(tim.trim())) throw malformed('completion notification (tim)');
    out.tim = tim.trim();
  }
  const logEl = child(ev, n, 'measurement-log');
  if (logEl) out.log = parseMeasurementLog(logEl);
  const sc = childText(ev, n, 'self-check')?.trim();
  if (sc === 'passed' || sc === 'failed' || sc === 'not-performed') out.selfCheck = sc;
  const v = childText(ev, n, 'software-version');
  if (v !== undefined) out.softwareVersion = v;
  const r = childText(ev, n, 'reason');
  if (r !== undefined) out.reason = r;
  const evidence = parseEvidence(child(ev, n, 'evidence'));
  if (evidence !== undefined) out.evidence = evidence;
  return out;
}

// ---- state --------------------------------------------------------------------------------------------

export function slotsXml(slots: readonly SoftwareSlot[]): XmlElement {
  return el(n, 'software-slots', slots.map((s) => el(n, 'software-slot',
    leaf(n, 'name', s.name),
    leaf(n, 'status', s.status),
    leaf(n, 'active', s.active),
    leaf(n, 'running', s.running),
    s.version !== undefined ? leaf(n, 'version', s.version) : undefined,
    s.rim !== undefined ? leaf(n, 'rim', s.rim) : undefined)));
}

export function parseSlots(container: XmlElement): SoftwareSlot[] {
  return childrenNamed(container, n, 'software-slot').map((s) => {
    const slot: SoftwareSlot = {
      name: (childText(s, n, 'name') ?? '').trim(),
      status: (childText(s, n, 'status') ?? 'EMPTY').trim() as SoftwareSlot['status'],
      active: (childText(s, n, 'active') ?? '').trim() === 'true',
      running: (childText(s, n, 'running') ?? '').trim() === 'true',
    };
    const v = childText(s, n, 'version');
    if (v !== undefined) slot.version = v;
    const r = childText(s, n, 'rim');
    if (r !== undefined) slot.rim = r.trim();
    return slot;
  });
}

export function integrityStateXml(tim: string, log: readonly MeasurementLogEntry[]): XmlElement {
  return el(n, 'integrity', leaf(n, 'tim', tim), measurementLogXml(log));
}

// ---- attestation-key (state) --------------------------------------------------------------------------

/**
 * The device module's attestation-key state container (revision 2026-12-03): the public half of the key that
 * signs the device's evidence, as the device presents it. Every leaf is optional on the wire: a reader judges.
 */
export interface AttestationKey {
  format?: string;
  signatureAlgorithm?: string;
  keyId?: string;
  /** base64: software-key the DER SubjectPublicKeyInfo, tpm2-quote the AK's TPM2B_PUBLIC */
  publicKey?: string;
}

export function attestationKeyXml(k: AttestationKey): XmlElement {
  return el(n, 'attestation-key',
    k.format !== undefined ? leaf(n, 'evidence-format', k.format) : undefined,
    k.signatureAlgorithm !== undefined ? leaf(n, 'signature-algorithm', k.signatureAlgorithm) : undefined,
    k.keyId !== undefined ? leaf(n, 'key-id', k.keyId) : undefined,
    k.publicKey !== undefined ? leaf(n, 'public-key', k.publicKey) : undefined);
}

export function parseAttestationKey(container: XmlElement): AttestationKey {
  const out: AttestationKey = {};
  const t = (name: string): string | undefined => {
    const v = childText(container, n, name);
    return v === undefined ? undefined : v.trim();
  };
  const format = t('evidence-format');
  if (format !== undefined) out.format = format;
  const alg = t('signature-algorithm');
  if (alg !== undefined) out.signatureAlgorithm = alg;
  const keyId = t('key-id');
  if (keyId !== undefined) out.keyId = keyId;
  const pk = childText(container, n, 'public-key');
  if (pk !== undefined) out.publicKey = pk.replace(/\s+/g, '');
  return out;
}

/** the element children of a parsed element (helper for reply bodies) */
export function elementChildren(e: XmlElement): XmlElement[] {
  return elements(e);
}
