/**
 * PORTS: what the verified-update flow (src/oam) needs from the outside world. The flow depends on these
 * interfaces only; src/pve and src/device implement them (real NETCONF / RESTCONF), tests use fakes.
 *
 * Encodings used across every port:
 * - digests (software RIM, expected RIM, TIM, measurement-log entries) are lowercase hex SHA-256, 64 chars;
 * - ids (henb-id, job-id) are the YANG strings as-is;
 * - every call takes an AbortSignal: the runner aborts it when the step's timeout fires or on close().
 *   An implementation must reject promptly (with the signal's reason or its own error) once aborted.
 * - errors: reject with an HsvError whose `code` says what went wrong (e.g. ERR_PVE_UNREACHABLE,
 *   ERR_DEVICE_UNREACHABLE, ERR_DEVICE_REFUSED); the message may be shown to the operator, so no secrets.
 *   The codes each port rejects with are the unions below; the flow tells them apart with pveFailureKind and
 *   deviceRefused, never by matching text.
 */
import { errorCode } from '../errors.js';

/** The codes a PveClient rejects with (src/pve: RESTCONF and NETCONF clients). */
export type PveClientErrorCode =
  | 'ERR_PVE_CONFIG' | 'ERR_PVE_UNREACHABLE' | 'ERR_PVE_TLS' | 'ERR_PVE_TIMEOUT' | 'ERR_PVE_REJECTED' | 'ERR_PVE_BAD_RESPONSE'
  | 'ERR_PVE_ABORTED' | 'ERR_PVE_AUTH' | 'ERR_PVE_HOST_KEY' | 'ERR_PVE_UNKNOWN_HENB';

/** The error-app-tag with which the PVE says that it could not collect evidence from the H(e)NB. */
export const PVE_HENB_UNREACHABLE = 'henb-unreachable';

/**
 * The error-app-tag with which the PVE says that the H(e)NB is not in its devices file; the clients reject with
 * ERR_PVE_UNKNOWN_HENB then (the PVE answered: it was reachable).
 */
export const PVE_HENB_UNKNOWN = 'unknown-henb';

/** What a PveClient's rejection carries beyond its code: for ERR_PVE_REJECTED, the PVE's error-app-tag. */
export interface PveFailure {
  readonly code: PveClientErrorCode;
  readonly appTag?: string;
}

/**
 * How the flow reads a failed integrity-request: the PVE timed out, the PVE could not reach the H(e)NB, the PVE
 * does not know the H(e)NB, or other.
 */
export type PveFailureKind = 'timeout' | 'henb-unreachable' | 'henb-unknown' | 'other';

export function pveFailureKind(err: unknown): PveFailureKind {
  const code = errorCode(err);
  if (code === ('ERR_PVE_TIMEOUT' satisfies PveClientErrorCode)) return 'timeout';
  if (code === ('ERR_PVE_UNKNOWN_HENB' satisfies PveClientErrorCode)) return 'henb-unknown';
  if (code === ('ERR_PVE_REJECTED' satisfies PveClientErrorCode) && (err as Partial<PveFailure>).appTag === PVE_HENB_UNREACHABLE) return 'henb-unreachable';
  return 'other';
}

/** The codes a DeviceDriver rejects with (src/device: the driver's own and its connector's). */
export type DeviceDriverErrorCode =
  | 'ERR_DEVICE_ABORTED' | 'ERR_DEVICE_CLOSED' | 'ERR_DEVICE_NETCONF' | 'ERR_DEVICE_REFUSED' | 'ERR_DEVICE_RPC_TIMEOUT'
  | 'ERR_DEVICE_SESSION_LOST' | 'ERR_DEVICE_TIMEOUT' | 'ERR_DEVICE_UNKNOWN' | 'ERR_DEVICE_UNREACHABLE'
  | 'ERR_DEVICE_AUTH' | 'ERR_DEVICE_CONFIG' | 'ERR_DEVICE_HOST_KEY' | 'ERR_DEVICE_CERTIFICATE';

const DEVICE_REFUSALS: ReadonlySet<string> = new Set<DeviceDriverErrorCode>(['ERR_DEVICE_REFUSED', 'ERR_DEVICE_UNKNOWN']);

/** Whether a DeviceDriver rejection says the H(e)NB did not take the command (refused, or not in the inventory). */
export function deviceRefused(err: unknown): boolean {
  return DEVICE_REFUSALS.has(errorCode(err));
}

/** Step 2-4: the PVE's integrity check of one H(e)NB. */
export interface PveIntegrityRequest {
  henbId: string;
  /** fresh, single-use, >= 128 bits, base64url (from src/tokens newNonce); must come back as eat_nonce */
  nonce: string;
  /** correlation id of the job (also carried in the token's submods when the PVE supports it) */
  jobId: string;
  /**
   * phase post-update (background check, RFC 9334): appraise this completion instead of collecting evidence. The
   * nonce above is then the job's update nonce, the one the device signed over.
   */
  completion?: PostUpdateEvidence;
  /**
   * phase pre-update, background-check model (RFC 9334; config pve.evidence: relay): appraise this evidence, which
   * the OAM collected from the H(e)NB with integrity-measurement and `nonce`, instead of collecting it
   */
  evidence?: PreUpdateEvidence;
}

/** integrity-measurement's reply (step 3) as the OAM relays it to the PVE: appraised there as if the PVE had collected it. */
export interface PreUpdateEvidence {
  format: EvidenceFormat;
  tim: string;
  measurementLog: MeasurementLogEntry[];
  softwareVersion?: string;
  /** ES256 | Ed25519 (software-key); the AK's for tpm2-quote ('' when the device sent none) */
  signatureAlgorithm: string;
  keyId?: string;
  /** software-key: base64 signature over nonce-value || TIM; '' for tpm2-quote */
  signature: string;
  /** tpm2-quote: the AK's Name (hex), base64 TPMS_ATTEST, its TPMT_SIGNATURE and the TCG event log */
  tpm?: { certificateName: string; quote: string; signature: string; eventLog: string };
}

/** The signed content of a completion, as the PVE appraises it (src/integrity/evidence.ts CompletionStatement). */
export interface PostUpdateEvidence {
  /** the device module's completion status (completed, self-check-failed, download-error, ...) */
  status: string;
  selfCheck?: string;
  softwareVersion?: string;
  tim: string;
  measurementLog: MeasurementLogEntry[];
  evidence: CompletionEvidence;
}

export interface PveClient {
  /**
   * Ask the PVE to check the H(e)NB. Resolves with the PVE's signed result (JWS compact, EAR claims). The
   * OAM verifies the token itself (allow-list, iss, aud, max age, nonce, jti) before trusting anything in
   * it; a rejection (transport error, RESTCONF error) means "not trusted" and the update is refused.
   * `deadline` (epoch ms, the step's): a connection that failed before an answer (before the request was sent, or
   * reset/closed after it) is retried until then, with the same nonce and body (the PVE answers a repeat with the
   * first request's outcome).
   */
  integrityRequest(req: PveIntegrityRequest, signal: AbortSignal, deadline?: number): Promise<{ token: string }>;
  /**
   * Optional. Step 9 after a verified update: hand the PVE the new reference values (a JWS signed with the OAM's
   * key; src/tokens reference-values). Resolves when the PVE accepted them; rejects (coded) otherwise.
   */
  provideReferenceValues?(jws: string, signal: AbortSignal): Promise<void>;
  /**
   * Optional, preferred by the flow to provideReferenceValues: the same hand-over, the values unsigned. The client
   * signs them with the signer it was given (ReferenceValuesSigner) when it knows how they travel: alone as a single
   * statement, or with the values of other H(e)NBs in one list operation as one list statement (one signature).
   */
  signAndProvideReferenceValues?(values: ReferenceValuesInput, signal: AbortSignal): Promise<void>;
}

/** What the OAM provides to the PVE after a verified update (signed by ResultTokens.signReferenceValues, or by the client). */
export interface ReferenceValuesInput {
  henbId: string;
  jobId: string;
  values: Array<{ component: string; digest: string; version?: string }>;
}

/** Step 6: what the OAM sends to the device. */
export interface SoftwareUpdateCommand {
  /** correlation: echoed back in the completion (like CWMP CommandKey) */
  jobId: string;
  /** file:, http: or https: URI of the image, as the NMS gave it */
  uri: string;
  /** SHA-256 of the image as the OAM computed it (step 5), hex */
  softwareRim: string;
  /** ask the device to run its self-check after install (step 7') */
  selfCheck: boolean;
  /** software version label, when the NMS gave one */
  version?: string;
  /**
   * fresh single-use nonce bound to this job (>= 128 bits, base64url as src/tokens newNonce makes it): the device
   * signs its completion evidence over it (the device module's nonce-value, base64 on the wire)
   */
  nonce: string;
}

/** Which trust root made a piece of evidence (YANG evidence-format; EAR submod `evidence-format`). */
export type EvidenceFormat = 'software-key' | 'tpm2-quote';

/**
 * The device's signature over its completion (src/integrity/evidence.ts completionMessage): what makes a completion
 * the device's own. Checked by the PVE (phase post-update), never by the flow itself.
 */
export interface CompletionEvidence {
  format: EvidenceFormat;
  /** the nonce the device signed over, as the job's nonce is written (base64url) */
  nonce: string;
  /** ES256 | Ed25519 (software-key); the AK's algorithm for tpm2-quote */
  signatureAlgorithm: string;
  /** RFC 7638 thumbprint of the device's attestation key, when the device names it */
  keyId?: string;
  /** software-key: base64 signature over completionMessage(); tpm2-quote: base64 TPMT_SIGNATURE */
  signature: string;
  /** tpm2-quote: base64 TPMS_ATTEST whose extraData is SHA-256(completionMessage()) */
  quote?: string;
  /** tpm2-quote: base64 TCG event log behind the quoted PCRs */
  eventLog?: string;
}

/**
 * A completion the PVE appraised (phase post-update) and the OAM checked: the PVE's token verified (issuer,
 * audience, nonce = the job's update nonce, jti), about this H(e)NB and job, signature valid, log replaying to
 * this TIM. Only the runner builds it; transition() accepts no completion without it.
 */
export interface AttestedCompletion {
  henbId: string;
  jobId: string;
  nonce: string;
  /** the TIM the PVE appraised */
  tim: string;
  format: EvidenceFormat;
  /** the PVE's post-update token */
  token: string;
}

/** One entry of a measurement log, in measurement order (the TIM is the extend chain over all entries). */
export interface MeasurementLogEntry {
  /** component name, e.g. bootloader, kernel, rootfs, config */
  component: string;
  /** SHA-256 of the component as measured, hex */
  digest: string;
}

/** Step 8: the device's completion report (a device notification, or the completion-tim RPC). */
export interface DeviceCompletion {
  henbId: string;
  jobId: string;
  /** completed: installed and re-measured; failed: the device could not install (reason says why) */
  status: 'completed' | 'failed';
  /** the TIM measured after install, hex; absent only when status is failed */
  tim?: string;
  /** the measurement log behind the TIM, when the device sends it (then the OAM replays it) */
  measurementLog?: MeasurementLogEntry[];
  /** the device's self-check outcome (7'), when it ran one */
  selfCheck?: 'passed' | 'failed' | 'not-performed';
  /** free text from the device: failure reason or self-check detail (not signed: shown, never acted upon) */
  reason?: string;
  /** the version of the software the device runs now, as it signed it */
  softwareVersion?: string;
  /** the device module's status as sent (signed); status above is its flow meaning */
  deviceStatus?: string;
  /** the device's signature over the completion; without it the completion is refused */
  evidence?: CompletionEvidence;
}

/** Southbound: one driver for the whole fleet (it owns the sessions to the devices). */
export interface DeviceDriver {
  /**
   * Step 6: send software-update. Resolves when the device ACCEPTED it (O-RAN style "started"); the
   * outcome arrives later through onCompletion. Rejects when the device is unreachable or refuses.
   * The runner never calls this twice for the same jobId. `deadline` (epoch ms, the step's): transient connection
   * failures are retried until then, and the rejection names the attempts made and the last error.
   */
  softwareUpdate(henbId: string, cmd: SoftwareUpdateCommand, signal: AbortSignal, deadline?: number): Promise<void>;
  /**
   * Optional (config pve.evidence: relay). Step 3 in the background-check model (RFC 9334): integrity-measurement
   * with `nonce` (the job's PVE nonce, base64url) on the device's session; resolves with the reply, which the flow
   * relays to the PVE. The session is then held for the job (idle expiry does not close it; the bound on open
   * sessions may, for another device's rpc), so that its software-update goes on the same session; the hold ends with
   * softwareUpdate or release(henbId, jobId). `deadline`: as softwareUpdate's. Rejects like softwareUpdate (coded).
   */
  integrityMeasurement?(henbId: string, jobId: string, nonce: string, signal: AbortSignal, deadline?: number): Promise<PreUpdateEvidence>;
  /** A measure on mismatch: ask the device to go back to its previous slot. Resolves when accepted. */
  rollback(henbId: string, jobId: string, signal: AbortSignal): Promise<void>;
  /** Subscribe to completions from every device; returns the unsubscribe function. */
  onCompletion(listener: (c: DeviceCompletion) => void): () => void;
  /**
   * Optional. After an OAM restart, a job sent before the restart still waits for its completion: make sure
   * it reaches the listeners, i.e. open the session to the device and subscribe with replay from `since`
   * (epoch ms, when the software-update was sent), so that a completion sent while the OAM was down is
   * not lost. Resolves when the subscription is in place. Without it, the completion may only arrive
   * through the completion-tim RPC (or the job times out).
   */
  resume?(henbId: string, jobId: string, since: number, signal: AbortSignal): Promise<void>;
  /**
   * Optional. The job ended (whatever its outcome, e.g. timed out before a completion came): the driver stops
   * awaiting its completion (or holding the session integrityMeasurement kept for it) and may close the device's
   * session when nothing else needs it. Idempotent.
   */
  release?(henbId: string, jobId: string): void;
}

/** Step 5: fetch the image by URI and hash it as a stream (constant memory). */
export interface SoftwareFetcher {
  /** Resolves with the hex SHA-256 and the byte size; rejects with a coded HsvError (not found, too big...). */
  fetchAndDigest(uri: string, signal: AbortSignal): Promise<{ sha256: string; size: number }>;
  /**
   * The same digest for a check before any job starts (a wrong sha256 refused once, not per H(e)NB): may come
   * from an earlier download that the server says is unchanged (ETag / Last-Modified), and concurrent calls for
   * one URI share one download. Never a substitute for step 5, which fetches and digests for the job itself.
   */
  digestAhead?(uri: string, signal: AbortSignal): Promise<{ sha256: string; size: number; cached: boolean }>;
}

/**
 * Step 5 under the policy require-signed-software: the image's vendor-signed manifest (JWS over digest, version and
 * component), checked against the configured vendor keys before anything is sent to a device.
 */
export interface SoftwareManifestCheck {
  /**
   * Resolves when the manifest of `uri` is signed by a configured vendor key and names this digest, component and
   * (when the request gives one) version; rejects with a coded HsvError (ERR_SOFTWARE_MANIFEST*) otherwise.
   */
  check(req: { uri: string; sha256: string; component: string; version?: string }, signal: AbortSignal): Promise<void>;
}

/** Opaque timer handle returned by Clock.setTimeout. */
export type TimerHandle = unknown;

/** Time source (tests inject a fake, or use vitest fake timers with the system clock). */
export interface Clock {
  /** milliseconds since the epoch */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
