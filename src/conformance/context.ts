/**
 * What the checks share during one run: the device target, the current session, the kit's image server,
 * the enrolled key, timeouts, the state read before the updates, and the results recorded so far (one per
 * requirement; recording twice keeps the first verdict, so a check cannot hide an earlier fail).
 */
import { randomBytes } from 'node:crypto';
import type { DeviceConnector, DeviceTarget, SoftwareSlot } from '../device/index.js';
import { COMPLETION_NOTIFICATION, DEVICE_NS, parseMeasurementLog, parseSlots } from '../device/index.js';
import { NETCONF_BASE_NS, child, childText, el, elA, elements } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { MeasurementEntry } from '../integrity/index.js';
import type { EnrolledKey } from './evidence-key.js';
import type { ImageServer } from './image-server.js';
import { requirement } from './requirements.js';
import type { RequirementId } from './requirements.js';
import { KitSession } from './session.js';
import type { RpcOutcome } from './session.js';
import type { Exchange, RequirementResult } from './types.js';

/** how a signature check that used the key the device presents is marked */
export const UNPINNED_KEY = 'unpinned key (presented by the device)';

export interface DeviceState {
  slots: SoftwareSlot[];
  tim: string;
  log: MeasurementEntry[];
}

export interface KitOptions {
  target: DeviceTarget;
  /** how a session is opened: dialling (connectDevice) or on the device's call-home connection */
  connect: DeviceConnector;
  /**
   * a device that calls home: end its call-home connection (resolves once it is closed), so that the kit's
   * reconnect is a new transport connection, as when it dials (the device calls again)
   */
  dropConnection?: () => Promise<void>;
  /** the enrolled evidence key (software: SPKI; tpm: the AK); absent: signature checks are skipped as unpinned */
  enrolledKey?: EnrolledKey;
  /** the H(e)NB id the device signs into its completion statement */
  henbId?: string;
  trustRoot: 'software' | 'tpm';
  connectTimeoutMs: number;
  rpcTimeoutMs: number;
  /** how long the kit waits for a completion (install, download, rollback) */
  completionTimeoutMs: number;
  /** every rpc and notification of every session, in order */
  transcript?: Exchange[];
}

export class Kit {
  readonly results = new Map<RequirementId, RequirementResult>();
  /** the device announces the device module under its name (else module checks are skipped) */
  moduleAnnounced = true;
  /** a live notification subscription is running on `session` */
  subscribed = false;
  /** state read before any update (HSV-STATE-01) */
  before: DeviceState | undefined;
  /**
   * the key the signature checks use: the enrolled one (pinned), else the one the device presents when
   * HSV-KEY-01 found it usable (check-key.ts), else none (the checks skip as unpinned)
   */
  signing: { key: EnrolledKey; source: 'pinned' | 'presented' } | undefined;
  private jobs = 0;
  private readonly runId = Date.now().toString(36);

  constructor(readonly options: KitOptions, public session: KitSession, readonly image: ImageServer) {
    this.signing = options.enrolledKey !== undefined ? { key: options.enrolledKey, source: 'pinned' } : undefined;
  }

  /**
   * another session to the device (recorded in the same transcript). A device that calls home ends its
   * connection when the kit's last session on it closes and calls again (RFC 8071 section 3.1; the kit's
   * "reconnect"): a session opened on a connection that is just ending waits for the next call instead,
   * within the same connect budget.
   */
  async openSession(): Promise<KitSession> {
    const o = this.options;
    return KitSession.open(o.connect, o.target, o.connectTimeoutMs, o.rpcTimeoutMs, o.transcript);
  }

  /**
   * the kit's "reconnect" (HSV-CPL-03): close the current session and open a new one on a new connection
   * (dialled: a new SSH connection; calling home: the kit ends the device's connection and waits for its call)
   */
  async reconnect(): Promise<KitSession> {
    await this.session.close();
    await this.options.dropConnection?.();
    return this.openSession();
  }

  newJobId(): string {
    this.jobs += 1;
    return `hsv-kit-${this.runId}-${this.jobs}`;
  }

  nonce(): Buffer {
    return randomBytes(32);
  }

  private record(id: RequirementId, r: Omit<RequirementResult, 'id' | 'title' | 'level'>): void {
    if (this.results.has(id)) return;
    const q = requirement(id);
    this.results.set(id, { id, title: q.title, level: q.level, ...r });
  }

  pass(id: RequirementId, detail: string, exchanges: Exchange[] = []): void {
    this.record(id, { outcome: 'pass', detail, exchanges });
  }

  /**
   * a signature check passed with `signing`: with the key the device presents (not pinned) the pass says so, in
   * its detail and as `unpinned`, so that it reads differently from a pass with the enrolled key
   */
  passSigned(id: RequirementId, detail: string, exchanges: Exchange[] = []): void {
    if (this.signing?.source === 'presented') this.record(id, { outcome: 'pass', detail: `${UNPINNED_KEY}: ${detail}`, exchanges, unpinned: true });
    else this.record(id, { outcome: 'pass', detail, exchanges });
  }

  /** how a failed signature check names the key it used */
  keyName(): string {
    return this.signing?.source === 'presented' ? 'the key the device presents (unpinned)' : 'the enrolled key';
  }

  fail(id: RequirementId, detail: string, expected: string, exchanges: Exchange[] = []): void {
    this.record(id, { outcome: 'fail', detail, expected, exchanges });
  }

  skip(id: RequirementId, detail: string, exchanges: Exchange[] = []): void {
    this.record(id, { outcome: 'skip', detail, exchanges });
  }

  has(id: RequirementId): boolean {
    return this.results.has(id);
  }

  outcome(id: RequirementId): RequirementResult['outcome'] | undefined {
    return this.results.get(id)?.outcome;
  }

  /** <get> with a subtree filter */
  get(...filter: XmlElement[]): Promise<RpcOutcome> {
    return this.session.rpc(el(NETCONF_BASE_NS, 'get', elA(NETCONF_BASE_NS, 'filter', [{ ns: '', name: 'type', value: 'subtree' }], filter)));
  }

  /** software-slots and integrity as the device reports them now */
  async readState(): Promise<{ state?: DeviceState; exchange: Exchange; problem?: string }> {
    const o = await this.get(el(DEVICE_NS, 'software-slots'), el(DEVICE_NS, 'integrity'));
    if (!o.reply) return { exchange: o.exchange, problem: 'the get of software-slots and integrity failed' };
    const data = child(o.reply, NETCONF_BASE_NS, 'data');
    const slotsEl = data ? child(data, DEVICE_NS, 'software-slots') : undefined;
    const integ = data ? child(data, DEVICE_NS, 'integrity') : undefined;
    if (!slotsEl || !integ) return { exchange: o.exchange, problem: `the reply lacks ${!slotsEl ? 'software-slots' : 'integrity'}` };
    try {
      const tim = (childText(integ, DEVICE_NS, 'tim') ?? '').trim();
      return { state: { slots: parseSlots(slotsEl), tim, log: parseMeasurementLog(child(integ, DEVICE_NS, 'measurement-log')) }, exchange: o.exchange };
    } catch (e) {
      return { exchange: o.exchange, problem: `malformed state: ${(e as Error).message}` };
    }
  }
}

/** the software-update-complete element of a notification, when it is one (in the device namespace) */
export function completionOf(n: XmlElement): XmlElement | undefined {
  return elements(n).find((e) => e.ns === DEVICE_NS && e.name === COMPLETION_NOTIFICATION);
}

/** predicate: a completion for `jobId` */
export function isCompletionFor(jobId: string): (n: XmlElement) => boolean {
  return (n) => {
    const c = completionOf(n);
    return c !== undefined && (childText(c, DEVICE_NS, 'job-id') ?? '').trim() === jobId;
  };
}

/** slots equal in what the device module reports */
export function sameSlots(a: readonly SoftwareSlot[], b: readonly SoftwareSlot[]): boolean {
  const key = (s: SoftwareSlot): string => JSON.stringify([s.name, s.status, s.active, s.running, s.version ?? null, s.rim ?? null]);
  return a.length === b.length && a.map(key).sort().join() === b.map(key).sort().join();
}

export function describeSlots(slots: readonly SoftwareSlot[]): string {
  return slots.map((s) => `${s.name}=${s.status}${s.active ? ',active' : ''}${s.running ? ',running' : ''}${s.version !== undefined ? `,v${s.version}` : ''}`).join(' ');
}
