/**
 * The femtocell (H(e)NB) model behind the simulator: components measured into a TIM with a measurement
 * log, a device key that signs evidence, two O-RAN style software slots, an install that takes time, and
 * the self-check of step 7'. No transport here: src/device/simulator.ts puts it behind NETCONF.
 *
 * Measurement semantics (documented in docs, relied on by the OAM's step 9):
 * - The TIM is the TCG extend chain over the measurement log, starting from 32 zero bytes:
 *   TIM = extend(...extend(extend(0^32, d1), d2)..., dn), extend(old, d) = SHA-256(old || d) over raw bytes.
 * - A software update is a live activation (no reboot in between): the device measures the installed image
 *   and APPENDS one log entry {component: 'rootfs', digest: measured image digest}. Hence for a healthy
 *   device TIM_after = extend(TIM_before, softwareRIM): exactly the seed's arithmetic, and log replay gives
 *   the same number.
 * - The *-reboot profiles reboot into the update instead: the boot chain is measured again from zero, the new
 *   rootfs in its own place (the old log with rootfs's digest REPLACED, src/integrity/log.ts
 *   rebootLogAfterUpdate); the self-check (7') expects exactly that.
 * - The completion carries evidence: the device key's signature over the completion statement (the update's
 *   nonce, job, status, self-check, version, TIM and log; src/integrity/evidence.ts completionMessage).
 * - A rollback is a reboot into the previous slot: the boot chain is measured again from zero, so the
 *   log and TIM become the ones in effect before the last update.
 * - Evidence signature (yang/henb-sw-verify-device.yang integrity-measurement: ES256 = ECDSA P-256 with
 *   SHA-256, IEEE P1363 r||s, base64 on the wire) over the octets nonce-value || TIM (32 raw bytes). The log
 *   is not signed itself: its digests are bound by the TIM (the verifier replays it), its names are not.
 */
import { createHash, createPublicKey, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { HsvError } from '../errors.js';
import { generatePrivateKey } from '../generate-key.js';
import { SOFTWARE_COMPONENT, evidenceMessage, extend, jwkThumbprint, rebootLogAfterUpdate, replayLog, signCompletion, verifyEvidence } from '../integrity/index.js';
import type { ReferenceValues } from '../integrity/index.js';
import type { SlotStatus, SoftwareSlot } from '../device/index.js';

export { evidenceMessage, jwkThumbprint, verifyEvidence };
export type { ReferenceValues };
import type { MeasurementLogEntry } from '../oam/index.js';

export type { MeasurementLogEntry, SlotStatus, SoftwareSlot };

export const COMPONENTS = ['bootloader', 'kernel', 'rootfs', 'config'] as const;
export type ComponentName = (typeof COMPONENTS)[number];
/** the component a software update replaces (and the name of its measurement log entry) */
export const UPDATED_COMPONENT: ComponentName = SOFTWARE_COMPONENT;

/**
 * healthy-reboot: installs, reboots, re-measures from boot, completes (verified); bad-install-reboot: reboots into a
 * rootfs that is not the image (mismatch naming rootfs; no self-check, like bad-install).
 *
 * The flaw-* profiles are the conformance kit's negative controls (src/conformance): a healthy device with ONE
 * deliberate defect each, so that a test can show the kit catches exactly that defect.
 * - flaw-no-replay: keeps no event log, so create-subscription with startTime is refused (simulator.ts);
 * - flaw-nonce-ignored: answers every integrity-measurement with the evidence of its first one (stale nonce);
 * - flaw-digest-unchecked: fetches the image but does not check its SHA-256 against software-rim (simulator.ts);
 * - flaw-unsigned-completion: its software-update-complete carries no evidence container;
 * - flaw-wrong-namespace: announces and serves the device module under another namespace (simulator.ts),
 *   while it answers in the right one;
 * - flaw-foreign-key: presents (state attestation-key) another key than the one it signs with, with that other
 *   key's own key-id (a device whose presented key cannot verify its evidence);
 * - flaw-key-id-mismatch: presents its own key, but with a key-id that is not that key's (RFC 7638 thumbprint, or
 *   for a tpm device the AK's Name with its last octet changed).
 */
export const FLAW_PROFILES = [
  'flaw-no-replay', 'flaw-nonce-ignored', 'flaw-digest-unchecked', 'flaw-unsigned-completion', 'flaw-wrong-namespace', 'flaw-foreign-key',
  'flaw-key-id-mismatch',
] as const;
export type FlawProfile = (typeof FLAW_PROFILES)[number];
export const PROFILES = ['healthy', 'compromised', 'bad-install', 'self-check-fail', 'unreachable', 'slow', 'healthy-reboot', 'bad-install-reboot', ...FLAW_PROFILES] as const;
export type DeviceProfile = (typeof PROFILES)[number];

export function isDeviceProfile(s: string): s is DeviceProfile {
  return (PROFILES as readonly string[]).includes(s);
}

const HEX64 = /^[0-9a-f]{64}$/;

/** the simulated device's refusals (they become rpc-errors of the device module) */
export type DeviceErrorCode =
  | 'ERR_DEVICE_BAD_JOB' | 'ERR_DEVICE_BAD_NONCE' | 'ERR_DEVICE_BAD_RIM' | 'ERR_DEVICE_BUSY' | 'ERR_DEVICE_CLOSED'
  | 'ERR_DEVICE_DUPLICATE_JOB' | 'ERR_DEVICE_JOB_UNKNOWN' | 'ERR_DEVICE_NO_ROLLBACK' | 'ERR_DEVICE_NO_SLOT'
  | 'ERR_SOFTWARE_DIGEST_MISMATCH';

export class DeviceError extends HsvError<DeviceErrorCode> {}

/** extend(old, digest) = SHA-256(old || digest) over the raw 32-byte values, hex (src/integrity). */
export const extendHex: (old: string, digest: string) => string = extend;

/** nonce-value text (canonical base64) -> its 16..64 octets, or undefined */
function decodeNonce(text: string): Buffer | undefined {
  if (typeof text !== 'string' || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return undefined;
  const b = Buffer.from(text, 'base64');
  return b.length >= 16 && b.length <= 64 ? b : undefined;
}

/** Replay a measurement log from the zero TIM. */
export function replayTim(log: readonly MeasurementLogEntry[]): string {
  return replayLog(null, log);
}

/** Digest of a component of a firmware release (deterministic, so a fleet shares reference values). */
export function firmwareDigest(component: string, release = '1.0.0'): string {
  return createHash('sha256').update(`henb-sw-verify/firmware/${release}/${component}`).digest('hex');
}

/** The initial (factory) component digests of every simulated femtocell. */
export function factoryComponents(release = '1.0.0'): Record<ComponentName, string> {
  return Object.fromEntries(COMPONENTS.map((c) => [c, firmwareDigest(c, release)])) as Record<ComponentName, string>;
}

/** The reference values a PVE needs for the factory firmware. */
export function factoryReferenceValues(release = '1.0.0'): ReferenceValues {
  return Object.fromEntries(COMPONENTS.map((c) => [c, [firmwareDigest(c, release)]]));
}

/** The kernel digest of a compromised device (not in any reference values). */
export const COMPROMISED_KERNEL = createHash('sha256').update('henb-sw-verify/firmware/1.0.0/kernel+implant').digest('hex');


export interface Evidence {
  /** the verifier's nonce, echoed */
  nonce: Buffer;
  tim: string;
  log: MeasurementLogEntry[];
  /** base64 ECDSA P-256 signature (P1363) over evidenceMessage() */
  signature: string;
}

export interface UpdateRequest {
  jobId: string;
  uri: string;
  softwareRim: string;
  selfCheck: boolean;
  version?: string;
  /** the OAM's nonce-value text (base64, 16..64 octets): the completion's evidence is signed over it */
  nonce: string;
}

/** The completion's evidence (the device module's evidence container). */
export interface CompletionEvidence {
  format: 'software-key';
  /** the nonce-value text, echoed */
  nonce: string;
  signatureAlgorithm: 'ES256' | 'Ed25519';
  keyId: string;
  /** base64 signature over completionMessage() */
  signature: string;
}

/** Step 8 as the device reports it (the software-update-complete notification's content). */
export interface Completion {
  henbId: string;
  jobId: string;
  /**
   * yang: completed (installed, activated, re-measured), self-check-failed (installed, 7' failed),
   * download-error (the image could not be fetched), integrity-error (its digest is not software-rim);
   * after the last two nothing was installed and tim/measurementLog are absent.
   */
  status: 'completed' | 'self-check-failed' | 'download-error' | 'integrity-error';
  /** what ended: an update or a rollback (a rollback reports the same way, with the rolled-back TIM) */
  kind: 'update' | 'rollback';
  tim?: string;
  measurementLog?: MeasurementLogEntry[];
  selfCheck: 'passed' | 'failed' | 'not-performed';
  /** version of the software now running, when known */
  softwareVersion?: string;
  /** the TIM before the operation, and the one the self-check expected (extend(old, RIM)) */
  previousTim: string;
  expectedTim?: string;
  slot: string;
  reason?: string;
  /** the signature over this completion (absent on a rollback, which has no nonce: a fresh measurement checks it) */
  evidence?: CompletionEvidence;
}

export interface FemtocellOptions {
  henbId: string;
  profile?: DeviceProfile;
  /** install duration in ms (default 50); the `slow` profile uses slowInstallMs */
  installMs?: number;
  /** install duration of the `slow` profile (default 600000: longer than any sane OAM timeout) */
  slowInstallMs?: number;
  /** device key (ECDSA P-256 private key); generated when absent */
  privateKey?: KeyObject;
  /** how long a rollback (reboot) takes before its completion is reported, ms (default 10) */
  rollbackMs?: number;
  /**
   * fetch the image before installing (default: none, the URI is taken as given). Rejecting with code
   * ERR_SOFTWARE_DIGEST_MISMATCH reports integrity-error, any other rejection download-error.
   */
  fetchImage?: (uri: string, softwareRim: string, signal: AbortSignal) => Promise<void>;
  /** firmware release of the factory image (default '1.0.0') */
  release?: string;
}

/**
 * One femtocell. Timers use the global setTimeout, so vitest fake timers drive installs. close() cancels
 * a pending install (its completion is never emitted).
 */
export class Femtocell {
  readonly henbId: string;
  readonly profile: DeviceProfile;
  readonly publicKey: KeyObject;
  private readonly privateKey: KeyObject;
  private readonly installMs: number;
  private log: MeasurementLogEntry[];
  private readonly slotList: SoftwareSlot[];
  /** log in effect before the last activation (what a rollback reboots into) */
  private previousLog: MeasurementLogEntry[] | undefined;
  private pending: { jobId: string; timer: ReturnType<typeof setTimeout> | undefined; abort: AbortController } | undefined;
  private readonly fetchImage: FemtocellOptions['fetchImage'];
  private readonly rollbackMs: number;
  private readonly listeners = new Set<(c: Completion) => void>();
  private readonly seenJobs = new Set<string>();
  private closed = false;
  /** flaw-nonce-ignored: the first measurement's evidence, answered to every later request */
  private staleEvidence: Evidence | undefined;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  /** flaw-foreign-key / flaw-key-id-mismatch: the other key it presents or names */
  private foreignKey: KeyObject | undefined;

  constructor(options: FemtocellOptions) {
    this.henbId = options.henbId;
    this.profile = options.profile ?? 'healthy';
    this.installMs = this.profile === 'slow' ? (options.slowInstallMs ?? 600_000) : (options.installMs ?? 50);
    this.rollbackMs = options.rollbackMs ?? 10;
    this.fetchImage = options.fetchImage;
    if (options.privateKey) {
      this.privateKey = options.privateKey;
    } else {
      this.privateKey = generatePrivateKey('P-256');
    }
    this.publicKey = createPublicKey(this.privateKey);
    const release = options.release ?? '1.0.0';
    const comps = factoryComponents(release);
    if (this.profile === 'compromised') comps.kernel = COMPROMISED_KERNEL;
    this.log = COMPONENTS.map((c) => ({ component: c, digest: comps[c] }));
    this.slotList = [
      { name: 'slot-a', status: 'VALID', active: true, running: true, version: release, rim: comps.rootfs },
      { name: 'slot-b', status: 'EMPTY', active: false, running: false },
    ];
  }

  /** SPKI PEM of the device key (what a PVE's inventory holds) */
  publicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** RFC 7638 thumbprint of the device public key (the key-id leaf) */
  keyId(): string {
    return jwkThumbprint(this.publicKey);
  }

  /**
   * The software key as the device presents it (state attestation-key): its SPKI (DER) and key-id. The
   * flaw-foreign-key profile presents another key (with that key's key-id), flaw-key-id-mismatch its own key
   * with another key's key-id.
   */
  presentedKey(): { spki: Buffer; keyId: string } {
    const own = this.publicKey.export({ type: 'spki', format: 'der' });
    if (this.profile !== 'flaw-foreign-key' && this.profile !== 'flaw-key-id-mismatch') return { spki: own, keyId: this.keyId() };
    this.foreignKey ??= createPublicKey(generatePrivateKey('P-256'));
    if (this.profile === 'flaw-key-id-mismatch') return { spki: own, keyId: jwkThumbprint(this.foreignKey) };
    return { spki: this.foreignKey.export({ type: 'spki', format: 'der' }), keyId: jwkThumbprint(this.foreignKey) };
  }

  tim(): string {
    return replayTim(this.log);
  }

  measurementLog(): MeasurementLogEntry[] {
    return this.log.map((e) => ({ ...e }));
  }

  slots(): SoftwareSlot[] {
    return this.slotList.map((s) => ({ ...s }));
  }

  /** true while an install is running */
  busy(): boolean {
    return this.pending !== undefined;
  }

  /** Integrity measurement with the verifier's nonce (>= 16 bytes): signed evidence. */
  measure(nonce: Buffer): Evidence {
    if (nonce.length < 16 || nonce.length > 64) {
      throw new DeviceError('ERR_DEVICE_BAD_NONCE', 'nonce-value must be 16 to 64 octets');
    }
    if (this.profile === 'flaw-nonce-ignored' && this.staleEvidence) return { ...this.staleEvidence, log: this.measurementLog() };
    const log = this.measurementLog();
    const tim = replayTim(log);
    const signature = sign('sha256', evidenceMessage(nonce, tim), { key: this.privateKey, dsaEncoding: 'ieee-p1363' })
      .toString('base64');
    const ev = { nonce: Buffer.from(nonce), tim, log, signature };
    if (this.profile === 'flaw-nonce-ignored') this.staleEvidence = ev;
    return ev;
  }

  onCompletion(listener: (c: Completion) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Start an install into the inactive slot; answers at once (O-RAN "started"). The completion is emitted
   * after installMs. Rejects (DeviceError) when busy, when the job id was already used, or on bad input;
   * nothing changes then.
   */
  startUpdate(req: UpdateRequest): { status: 'started'; slot: string } {
    if (this.closed) throw new DeviceError('ERR_DEVICE_CLOSED', 'device is shut down');
    if (!HEX64.test(req.softwareRim)) {
      throw new DeviceError('ERR_DEVICE_BAD_RIM', 'software-rim must be 64 lowercase hex digits');
    }
    if (req.jobId.length === 0) throw new DeviceError('ERR_DEVICE_BAD_JOB', 'job-id must not be empty');
    const nonce = decodeNonce(req.nonce);
    if (nonce === undefined) throw new DeviceError('ERR_DEVICE_BAD_NONCE', 'nonce-value must be base64 of 16 to 64 octets');
    if (this.pending) throw new DeviceError('ERR_DEVICE_BUSY', `an install is already running (job ${this.pending.jobId})`);
    if (this.seenJobs.has(req.jobId)) throw new DeviceError('ERR_DEVICE_DUPLICATE_JOB', `job ${req.jobId} was already started`);
    const target = this.slotList.find((s) => !s.active);
    if (!target) throw new DeviceError('ERR_DEVICE_NO_SLOT', 'no inactive slot');
    this.seenJobs.add(req.jobId);
    const pending: NonNullable<Femtocell['pending']> = { jobId: req.jobId, timer: undefined, abort: new AbortController() };
    this.pending = pending;
    const install = (): void => {
      pending.timer = setTimeout(() => this.finishInstall(req, target), this.installMs);
    };
    if (!this.fetchImage) install();
    else {
      this.fetchImage(req.uri, req.softwareRim, pending.abort.signal).then(() => {
        if (this.pending === pending && !this.closed) install();
      }, (e: unknown) => {
        if (this.pending !== pending || this.closed) return;
        this.pending = undefined;
        const mismatch = (e as { code?: unknown }).code === 'ERR_SOFTWARE_DIGEST_MISMATCH';
        const slot = this.slotList.find((x) => x.running)?.name ?? '';
        const c: Completion = {
          henbId: this.henbId, jobId: req.jobId, status: mismatch ? 'integrity-error' : 'download-error', kind: 'update',
          selfCheck: 'not-performed', previousTim: this.tim(), slot, tim: this.tim(), measurementLog: this.measurementLog(),
          reason: mismatch ? 'the image digest is not software-rim' : `the image could not be fetched (${String((e as { code?: unknown }).code ?? 'error')})`,
        };
        const running = this.runningVersion();
        if (running !== undefined) c.softwareVersion = running;
        this.emit(this.signed(c, req.nonce));
      });
    }
    return { status: 'started', slot: target.name };
  }

  private finishInstall(req: UpdateRequest, target: SoftwareSlot): void {
    this.pending = undefined;
    if (this.closed) return;
    const previousTim = this.tim();
    const previousLog = this.measurementLog();
    const reboot = this.profile === 'healthy-reboot' || this.profile === 'bad-install-reboot';
    // 7' expectation: the seed's extend chain for a live activation; after a reboot the old log with rootfs replaced
    const expectedTim = reboot
      ? replayTim(rebootLogAfterUpdate(previousLog, UPDATED_COMPONENT, req.softwareRim))
      : extendHex(previousTim, req.softwareRim);
    const measured = this.measureInstalled(req.softwareRim, previousLog, reboot);
    const tim = this.tim();
    // 7': the self-check; the bad-install devices have none (model a device that just reports)
    let selfCheck: Completion['selfCheck'] = 'not-performed';
    if (req.selfCheck && this.profile !== 'bad-install' && this.profile !== 'bad-install-reboot') selfCheck = tim === expectedTim ? 'passed' : 'failed';
    target.version = req.version;
    target.rim = measured;
    this.previousLog = previousLog;
    this.activateSlot(target, selfCheck !== 'failed');
    const c: Completion = {
      henbId: this.henbId,
      jobId: req.jobId,
      status: selfCheck === 'failed' ? 'self-check-failed' : 'completed',
      kind: 'update',
      tim,
      measurementLog: this.measurementLog(),
      selfCheck,
      previousTim,
      expectedTim,
      slot: target.name,
    };
    const running = this.runningVersion();
    if (running !== undefined) c.softwareVersion = running;
    if (selfCheck === 'failed') {
      c.reason = `self-check failed: TIM is not the expected ${expectedTim}; component ${UPDATED_COMPONENT} measured ${measured}`;
    }
    this.emit(this.signed(c, req.nonce));
  }

  /**
   * What the device measures for the installed image (the bad-install profiles: a corrupted flash), into its log:
   * live, the image's measurement is appended; reboot, the boot chain is measured again, rootfs in its place.
   */
  private measureInstalled(softwareRim: string, previousLog: MeasurementLogEntry[], reboot: boolean): string {
    const corrupt = this.profile === 'bad-install' || this.profile === 'self-check-fail' || this.profile === 'bad-install-reboot';
    const measured = corrupt
      ? createHash('sha256').update(Buffer.from(softwareRim, 'hex')).update('corrupted-on-flash').digest('hex')
      : softwareRim;
    this.log = reboot
      ? rebootLogAfterUpdate(previousLog, UPDATED_COMPONENT, measured)
      : [...this.log, { component: UPDATED_COMPONENT, digest: measured }];
    return measured;
  }

  /** a trusted image: its slot VALID, active and running; an untrusted one: the slot INVALID, the old slot keeps running */
  private activateSlot(target: SoftwareSlot, trusted: boolean): void {
    if (!trusted) {
      target.status = 'INVALID';
      return;
    }
    const old = this.slotList.find((s) => s.active);
    if (old) {
      old.active = false;
      old.running = false;
    }
    target.status = 'VALID';
    target.active = true;
    target.running = true;
  }

  /** The completion with its evidence: the device key's signature over the completion statement. */
  private signed(c: Completion, nonceText: string): Completion {
    const tim = c.tim ?? this.tim();
    const log = c.measurementLog ?? this.measurementLog();
    if (this.profile === 'flaw-unsigned-completion') return { ...c, tim, measurementLog: log };
    const signature = signCompletion({
      henbId: this.henbId, jobId: c.jobId, nonce: Buffer.from(nonceText, 'base64'), status: c.status, selfCheck: c.selfCheck,
      ...(c.softwareVersion !== undefined ? { softwareVersion: c.softwareVersion } : {}), tim, log,
    }, this.privateKey);
    return {
      ...c, tim, measurementLog: log,
      evidence: {
        format: 'software-key', nonce: nonceText, keyId: this.keyId(), signature,
        signatureAlgorithm: this.privateKey.asymmetricKeyType === 'ed25519' ? 'Ed25519' : 'ES256',
      },
    };
  }

  private emit(c: Completion): void {
    for (const l of [...this.listeners]) {
      try {
        l(c);
      } catch {
        // a listener's failure is not the device's
      }
    }
  }

  /** version of the running slot's software */
  runningVersion(): string | undefined {
    return this.slotList.find((s) => s.running)?.version;
  }

  /**
   * Roll back: reboot into the previous slot. The boot chain is measured again, so the log and TIM become
   * the ones in effect before the last update. Answers "started" at once; a completion (kind 'rollback',
   * same job id) with the rolled-back TIM follows after rollbackMs. Fails (DeviceError, nothing changes)
   * when busy, when the job id is unknown, or when there is nothing to roll back to.
   */
  rollback(jobId?: string): { status: 'started'; slot: string } {
    if (this.closed) throw new DeviceError('ERR_DEVICE_CLOSED', 'device is shut down');
    if (this.pending) throw new DeviceError('ERR_DEVICE_BUSY', `an install is running (job ${this.pending.jobId})`);
    if (jobId !== undefined && !this.seenJobs.has(jobId)) {
      throw new DeviceError('ERR_DEVICE_JOB_UNKNOWN', `job ${jobId} is not known to this device`);
    }
    if (!this.previousLog) throw new DeviceError('ERR_DEVICE_NO_ROLLBACK', 'no previous software to roll back to');
    const previousTim = this.tim();
    const current = this.slotList.find((s) => s.active);
    const other = this.slotList.find((s) => !s.active && s.status === 'VALID');
    if (current && other) {
      // switch back; the slot we leave stays VALID (it can be activated again)
      current.active = false;
      current.running = false;
      other.active = true;
      other.running = true;
    }
    // else: the update never became active (self-check failed); the running slot reboots as it is
    this.log = this.previousLog;
    this.previousLog = undefined;
    const slot = this.slotList.find((s) => s.active)?.name ?? '';
    const c: Completion = {
      henbId: this.henbId,
      jobId: jobId ?? 'rollback',
      status: 'completed',
      kind: 'rollback',
      tim: this.tim(),
      measurementLog: this.measurementLog(),
      selfCheck: 'not-performed',
      previousTim,
      slot,
    };
    const running = this.runningVersion();
    if (running !== undefined) c.softwareVersion = running;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) this.emit(c);
    }, this.rollbackMs);
    this.timers.add(timer);
    return { status: 'started', slot };
  }

  /** Stop: cancels a pending install (no completion). Idempotent. */
  close(): void {
    this.closed = true;
    if (this.pending) {
      clearTimeout(this.pending.timer);
      this.pending.abort.abort();
    }
    this.pending = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.listeners.clear();
  }
}
