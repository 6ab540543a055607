/**
 * XML encoding of the device module (yang/henb-sw-verify-device.yang, prefix hsvd) shared by the simulator
 * (server side), the southbound driver and the PVE's evidence collector (client side). Elements are matched
 * by namespace URI + local name only.
 */
import { HsvError } from '../errors.js';
import { child, childText, childrenNamed, el, elements, leaf, textOf } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { MeasurementLogEntry } from '../oam/index.js';

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
export const DEVICE_REVISION = '2026-11-28';
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
  tim: string;
  log: MeasurementLogEntry[];
  softwareVersion?: string;
  signatureAlgorithm: string;
  keyId?: string;
  /** base64 */
  signature: string;
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
    leaf(n, 'tim', r.tim),
    measurementLogXml(r.log),
    ...(r.softwareVersion !== undefined ? [leaf(n, 'software-version', r.softwareVersion)] : []),
    leaf(n, 'signature-algorithm', r.signatureAlgorithm),
    ...(r.keyId !== undefined ? [leaf(n, 'key-id', r.keyId)] : []),
    leaf(n, 'signature', r.signature),
  ];
}

export function parseMeasurementReply(children: XmlElement[]): MeasurementReply {
  const wrap = el(n, 'output', children);
  const tim = (childText(wrap, n, 'tim') ?? '').trim();
  if (!HEX64.test(tim)) throw malformed('integrity-measurement reply (tim)');
  const signature = (childText(wrap, n, 'signature') ?? '').replace(/\s+/g, '');
  if (signature.length === 0) throw malformed('integrity-measurement reply (signature)');
  const out: MeasurementReply = {
    tim,
    log: parseMeasurementLog(child(wrap, n, 'measurement-log')),
    signatureAlgorithm: (childText(wrap, n, 'signature-algorithm') ?? '').trim(),
    signature,
  };
  const v = childText(wrap, n, 'software-version');
  if (v !== undefined) out.softwareVersion = v;
  const k = childText(wrap, n, 'key-id');
  if (k !== undefined) out.keyId = k.trim();
  return out;
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
  /** base64 */
  signature: string;
  /** base64 TPMS_ATTEST (tpm2-quote) */
  quote?: string;
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
      leaf(n, 'signature', c.evidence.signature),
      c.evidence.quote !== undefined ? leaf(n, 'quote', c.evidence.quote) : undefined) : undefined);
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
  const signature = text('signature');
  const signatureAlgorithm = text('signature-algorithm');
  if ((format !== 'software-key' && format !== 'tpm2-quote') || !nonce || !signature || !signatureAlgorithm) {
    throw malformed('completion evidence');
  }
  const out: CompletionEvidenceXml = { format, nonce, signature, signatureAlgorithm };
  const keyId = text('key-id');
  if (keyId !== undefined) out.keyId = keyId;
  const quote = text('quote');
  if (quote !== undefined) out.quote = quote;
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

/** the element children of a parsed element (helper for reply bodies) */
export function elementChildren(e: XmlElement): XmlElement[] {
  return elements(e);
}
