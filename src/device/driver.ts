/**
 * The southbound DeviceDriver (src/oam/ports.ts) over NETCONF/SSH: at most one client session per device, held
 * only while a job needs it (an rpc, or a completion awaited: then with a RFC 5277 subscription so that
 * software-update-complete notifications reach the listeners), closed when idle, within a bound on the sessions
 * open at once (./pool.ts: a session that only awaits a completion may be closed for another device's rpc and is
 * re-opened with a replay from the last event seen); host keys pinned, connection retry with full-jitter backoff,
 * reconnect with bounded exponential backoff, per-call timeouts, coded errors (./driver-error.ts):
 *   ERR_DEVICE_UNKNOWN      henb-id not in the driver's inventory
 *   ERR_DEVICE_UNREACHABLE  / ERR_DEVICE_TIMEOUT / ERR_DEVICE_AUTH / ERR_DEVICE_HOST_KEY / ERR_DEVICE_NETCONF
 *                           (from src/device/connect.ts; the last attempt's error)
 *   ERR_DEVICE_REFUSED      the device answered refused or with an rpc-error (errorTag, appTag set)
 *   ERR_DEVICE_RPC_TIMEOUT  the device did not answer an rpc in time
 *   ERR_DEVICE_SESSION_LOST the session ended before the answer (the outcome is unknown)
 *   ERR_DEVICE_ABORTED      the caller's signal was aborted
 *   ERR_DEVICE_CLOSED       the driver is closed
 * Completions of a rollback the driver asked for are not handed to listeners (the flow's job is over by
 * then); they are logged.
 *
 * resume(henbId, jobId, since) (after an OAM restart): the job is awaited again and the subscription asks
 * the device for a replay (RFC 5277 startTime) from `since` minus a clock-skew margin, so that a completion
 * the device sent while the OAM was down reaches the listeners; the replay and the live events arrive on one
 * subscription, and a completion is handed on once per job whatever the overlap. When the session is already
 * open with a later start, a second, short session replays [since, now] (stopTime) and closes. A device
 * without replay gets a live subscription (logged): then only the completion-tim RPC can bring it.
 *
 * The parts, one screen each: ./link.ts (a device's state and decisions), ./sessions.ts (establishing, retrying,
 * reconnecting, telling the pool what each session is for), ./pool.ts (the bound and idle expiry), ./subscription.ts (RFC 5277 subscribe, read, replay window), ./rpc.ts (one rpc, coded failures),
 * ./completion.ts (completions as the port has them, the listeners). This file is the port's operations.
 */
import { silentLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { DeviceCompletion, DeviceDriver, PreUpdateEvidence, SoftwareUpdateCommand } from '../oam/index.js';
import type { RetryOptions } from '../retry.js';
import { callHomeDeviceOf } from './call-home.js';
import type { CallHomeListener } from './call-home.js';
import { DeviceConnectError, connectDevice } from './connect.js';
import type { DeviceConnector } from './connect.js';
import { CompletionListeners, toDeviceCompletion } from './completion.js';
import { DeviceDriverError, abortedError, closedError, retriable } from './driver-error.js';
import { DeviceLink, sameTarget } from './link.js';
import type { DeviceInventoryEntry } from './link.js';
import { deviceRpc } from './rpc.js';
import { LinkSessions } from './sessions.js';
import { replayWindow } from './subscription.js';
import { integrityMeasurementXml, parseCompletion, parseMeasurementReply, parseStartedReply, rollbackXml, softwareUpdateXml } from './wire.js';
import type { CompletionEvent } from './wire.js';

export { DeviceDriverError } from './driver-error.js';
export { toDeviceCompletion } from './completion.js';
export type { DeviceInventoryEntry } from './link.js';

export interface BackoffOptions extends RetryOptions {
  /** background reconnect attempts after a session drops while completions are awaited (default 8) */
  reconnectAttempts?: number;
}

export interface DeviceDriverOptions {
  devices: DeviceInventoryEntry[];
  /** SSH + hello budget per attempt, ms (default 10000) */
  connectTimeoutMs?: number;
  /** per rpc, ms (default 15000) */
  rpcTimeoutMs?: number;
  /** the connection retry (src/retry.ts: base 200 ms, cap 10000 ms, 3 attempts without a deadline) */
  backoff?: BackoffOptions;
  connector?: DeviceConnector;
  log?: Logger;
  /**
   * resume(): the replay starts this long before `since`, and a re-open after a dropped session this long before it
   * dropped (when no event was seen), for clock skew with the device, ms (default 60000)
   */
  replayMarginMs?: number;
  /** device sessions open at once (default 1000; config devices.max-open-sessions): see ./pool.ts */
  maxOpenSessions?: number;
  /** a session no job needs is closed after this long, ms (default 5000; config devices.idle-timeout; 0: at once) */
  idleTimeoutMs?: number;
  /**
   * sessions no job needs kept open at once (default: no bound but maxOpenSessions; config devices.max-idle-sessions,
   * 64): beyond it the least recently used is closed at once
   */
  maxIdleSessions?: number;
  /**
   * NETCONF Call Home (RFC 8071): entries with `callHome` are reached through this listener (a session on the
   * connection the device opened) instead of being dialled; the driver enrols them with it (setDevice).
   */
  callHome?: CallHomeListener;
}

/** How a device is connected now (/hsv:henbs). */
export interface DeviceConnectionInfo {
  kind: 'dialled' | 'called-home';
  /** epoch ms: when the session (dialled) or the device's call-home connection began */
  since: number;
}

/** NetconfDeviceDriver.remembered: what the driver keeps about one device between its jobs */
export interface DeviceMemory {
  delivered: number;
  awaiting: number;
  held: number;
  rollingBack: number;
  /** a wait for a pool slot is kept (only while one is under way) */
  slotWait: boolean;
  lastEventTime?: string;
}

export interface NetconfDeviceDriver extends DeviceDriver {
  /** after an OAM restart: await the job again, with a replay from `since` (epoch ms); see the header */
  resume(henbId: string, jobId: string, since: number, signal: AbortSignal): Promise<void>;
  /** step 3 relayed (pve.evidence: relay): integrity-measurement on the device's session, held for the job's software-update */
  integrityMeasurement(henbId: string, jobId: string, nonce: string, signal: AbortSignal, deadline?: number): Promise<PreUpdateEvidence>;
  /** the job ended: its completion is no longer awaited (nor its session held); the session closes once nothing else needs it */
  release(henbId: string, jobId: string): void;
  /** open (or reuse) the session to one device now, with its subscription */
  connect(henbId: string, signal?: AbortSignal): Promise<void>;
  /** add or replace a device (an open session to the old entry is closed) */
  setDevice(entry: DeviceInventoryEntry): void;
  /** whether a session is open now */
  connected(henbId: string): boolean;
  /** sessions open now (or being opened) and callers waiting for a free one (devices.max-open-sessions) */
  sessionCounts(): { open: number; queued: number };
  /**
   * What the driver keeps about one device between its jobs (tests and diagnostics of memory, issue 15): job ids
   * remembered (completions handed on, bounded), awaited, held and rolling back; whether a wait for a pool slot is
   * kept; the last event time. undefined for a device not in the inventory.
   */
  remembered(henbId: string): DeviceMemory | undefined;
  /**
   * whether the driver holds a device's state (its session, the jobs it awaits): made at the device's first operation,
   * not when its entry is set, so that an inventory of many waiting devices costs one frozen entry each (issue 15)
   */
  hasLink(henbId: string): boolean;
  /** how the device is connected now (a call-home device counts from its call, even before a session) */
  connection(henbId: string): DeviceConnectionInfo | undefined;
  /** forget a device (inventory change): its session is closed, pending calls fail */
  removeDevice(henbId: string): void;
  /** the henb-ids of the devices set and not removed, in the order they were first set (a copy) */
  deviceIds(): string[];
  /** close every session and timer; pending calls fail with ERR_DEVICE_CLOSED. Idempotent. */
  close(): Promise<void>;
}

export function createDeviceDriver(options: DeviceDriverOptions): NetconfDeviceDriver {
  return new NetconfDriver(options);
}

/** integrity-measurement's reply as the port has it (PreUpdateEvidence); a malformed reply is ERR_DEVICE_NETCONF */
function relayedEvidence(henbId: string, out: XmlElement[]): PreUpdateEvidence {
  let r;
  try {
    r = parseMeasurementReply(out);
  } catch (e) {
    throw new DeviceDriverError('ERR_DEVICE_NETCONF', `${henbId} answered integrity-measurement with a malformed reply`, { cause: e });
  }
  return {
    format: r.format, tim: r.tim, measurementLog: r.log, signatureAlgorithm: r.signatureAlgorithm, signature: r.signature,
    ...(r.keyId !== undefined ? { keyId: r.keyId } : {}),
    ...(r.softwareVersion !== undefined ? { softwareVersion: r.softwareVersion } : {}),
    ...(r.tpm !== undefined ? { tpm: { certificateName: r.tpm.certificateName, quote: r.tpm.quote, signature: r.tpm.signature, eventLog: r.tpm.eventLog } } : {}),
  };
}

/** a call-home device is never dialled: its sessions open on the connection it made (./call-home.ts) */
function routedConnector(dial: DeviceConnector, callHome: CallHomeListener | undefined): DeviceConnector {
  return (target, o) => {
    if (target.callHome !== true) return dial(target, o);
    if (callHome === undefined) return Promise.reject(new DeviceConnectError('ERR_DEVICE_CONFIG', 'the device calls home, but no call-home listener is configured (call-home.listen)'));
    return callHome.connect(target, o);
  };
}

class NetconfDriver implements NetconfDeviceDriver {
  private readonly log: Logger;
  /** the inventory: one entry per device (a copy of what setDevice was given, never changed) */
  private readonly devices = new Map<string, Readonly<DeviceInventoryEntry>>();
  /**
   * the state of the devices used since their entry was set (a DeviceLink is made at a device's first operation,
   * not with its entry: ~0.3 KiB per device of an inventory of 100,000 that mostly waits; issue 15, branch invmem)
   */
  private readonly links = new Map<string, DeviceLink>();
  private readonly listeners: CompletionListeners;
  private readonly sessions: LinkSessions;
  private readonly connector: DeviceConnector;
  private readonly callHome: CallHomeListener | undefined;
  private readonly connectTimeoutMs: number;
  private readonly rpcTimeoutMs: number;
  private readonly replayMarginMs: number;
  private closed = false;

  constructor(options: DeviceDriverOptions) {
    this.log = (options.log ?? silentLogger).child({ component: 'device-driver' });
    this.callHome = options.callHome;
    this.connector = routedConnector(options.connector ?? connectDevice, options.callHome);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.rpcTimeoutMs = options.rpcTimeoutMs ?? 15_000;
    this.replayMarginMs = Math.max(0, options.replayMarginMs ?? 60_000);
    this.listeners = new CompletionListeners(this.log);
    const { reconnectAttempts, ...retry } = options.backoff ?? {};
    this.sessions = new LinkSessions({
      connect: this.connector, connectTimeoutMs: this.connectTimeoutMs, rpcTimeoutMs: this.rpcTimeoutMs, retry,
      reconnectAttempts: reconnectAttempts ?? 8, log: this.log, onCompletion: (l, ev) => this.onCompletionEvent(l, ev),
      maxOpen: options.maxOpenSessions ?? 1000, idleMs: Math.max(0, options.idleTimeoutMs ?? 5000), replayMarginMs: this.replayMarginMs,
      ...(options.maxIdleSessions !== undefined ? { maxIdle: options.maxIdleSessions } : {}),
    });
    for (const d of options.devices) this.setDevice(d);
  }

  async softwareUpdate(henbId: string, cmd: SoftwareUpdateCommand, signal: AbortSignal, deadline?: number): Promise<void> {
    const l = this.linkOf(henbId);
    if (signal.aborted) throw abortedError(signal);
    const input = {
      jobId: cmd.jobId, uri: cmd.uri, softwareRim: cmd.softwareRim, selfCheck: cmd.selfCheck, nonce: cmd.nonce,
      ...(cmd.version !== undefined ? { version: cmd.version } : {}),
    };
    // Only the session's establishment is retried (nothing was sent to the device then). Once the software-update
    // rpc is written it is never sent again: a lost session is ERR_DEVICE_SESSION_LOST and the completion is awaited
    // (the device module does not promise that a repeated job-id is ignored, so a resend could install twice).
    await this.using(l, async () => {
      // subscribed before the rpc: the completion cannot pass unseen
      const s = await this.sessions.ensure(l, signal, 'rpc', { deadline, subscribe: true });
      await this.sessions.subscribed(l, s, signal);
      l.awaiting.add(cmd.jobId);
      l.held.delete(cmd.jobId); // held since its integrity-measurement (relay mode): awaited from now on
      try {
        const reply = parseStartedReply(await deviceRpc(henbId, s, softwareUpdateXml(input), signal, this.rpcTimeoutMs));
        if (reply.status !== 'started') {
          throw new DeviceDriverError('ERR_DEVICE_REFUSED', `${henbId} refused the software-update: ${reply.reason ?? 'no reason given'}`);
        }
      } catch (e) {
        // the outcome of a lost session is unknown: keep waiting for a completion then
        if ((e as { code?: unknown }).code !== 'ERR_DEVICE_SESSION_LOST') l.awaiting.delete(cmd.jobId);
        throw e;
      }
    });
  }

  async integrityMeasurement(henbId: string, jobId: string, nonce: string, signal: AbortSignal, deadline?: number): Promise<PreUpdateEvidence> {
    const l = this.linkOf(henbId);
    if (signal.aborted) throw abortedError(signal);
    // the session is held for the job from here: its software-update follows on it
    l.held.add(jobId);
    try {
      const out = await this.using(l, async () => {
        const s = await this.sessions.ensure(l, signal, 'rpc', { ...(deadline !== undefined ? { deadline } : {}) });
        const measured = deviceRpc(henbId, s, integrityMeasurementXml(Buffer.from(nonce, 'base64url')), signal, this.rpcTimeoutMs);
        // the software-update needs the session's subscription: asked for now, in the same write as the measurement
        // (one round trip fewer per update; the software-update still waits for its reply)
        this.sessions.subscribeAhead(l, s);
        return measured;
      });
      return relayedEvidence(henbId, out);
    } catch (e) {
      l.held.delete(jobId);
      this.sessions.settle(l);
      throw e;
    }
  }

  async rollback(henbId: string, jobId: string, signal: AbortSignal, deadline?: number): Promise<void> {
    const l = this.linkOf(henbId);
    l.expectRollback(jobId);
    try {
      // no subscription needed: the rollback's completion is only logged (the flow checks the device through the PVE)
      const reply = parseStartedReply(await this.using(l, () => this.call(l, rollbackXml(jobId), signal, deadline)));
      if (reply.status !== 'started') {
        throw new DeviceDriverError('ERR_DEVICE_REFUSED', `${henbId} refused the rollback: ${reply.reason ?? 'no reason given'}`);
      }
    } catch (e) {
      l.rollingBack.delete(jobId);
      throw e;
    }
  }

  async resume(henbId: string, jobId: string, since: number, signal: AbortSignal): Promise<void> {
    const l = this.linkOf(henbId);
    if (signal.aborted) throw abortedError(signal);
    const from = since - this.replayMarginMs;
    // the flow still waits for this job, so whatever this driver handed on before did not reach it
    const seenBefore = l.delivered.delete(jobId);
    l.awaiting.add(jobId);
    if (!l.open()) l.replaySince = Math.min(l.replaySince ?? from, from);
    await this.using(l, async () => {
      try {
        const s = await this.sessions.ensure(l, signal, 'watch', { subscribe: true });
        await this.sessions.subscribed(l, s, signal);
      } catch (e) {
        // the device is down now: keep trying in the background (the replay still starts at `from`)
        if (!signal.aborted && retriable(e)) this.sessions.scheduleReconnect(l, 0);
        throw e;
      }
      // a session opened before this call may not cover `from`, or already passed the completion
      const uncovered = l.coveredFrom === undefined || l.coveredFrom > from || seenBefore;
      if (uncovered && !l.noReplay && !l.delivered.has(jobId)) await this.replay(l, from, signal);
    });
  }

  /** the job ended (or no longer waits for this device): its completion is not awaited; the session may close */
  release(henbId: string, jobId: string): void {
    const l = this.links.get(henbId);
    if (l === undefined) return;
    const awaited = l.awaiting.delete(jobId);
    if (!l.held.delete(jobId) && !awaited) return;
    this.sessions.settle(l);
  }

  onCompletion(listener: (c: DeviceCompletion) => void): () => void {
    return this.listeners.add(listener);
  }

  async connect(henbId: string, signal?: AbortSignal): Promise<void> {
    const l = this.linkOf(henbId);
    const sig = signal ?? new AbortController().signal;
    await this.using(l, async () => {
      const s = await this.sessions.ensure(l, sig, 'rpc', { subscribe: true });
      await this.sessions.subscribed(l, s, sig);
    });
  }

  setDevice(entry: DeviceInventoryEntry): void {
    const old = this.devices.get(entry.henbId);
    if (old !== undefined && sameTarget(old, entry)) return; // unchanged: keep the session and what it awaits
    const l = this.links.get(entry.henbId);
    if (l !== undefined) {
      void this.sessions.retire(l);
      this.links.delete(entry.henbId); // the new entry's state starts afresh, at its first use
    }
    this.enrolCallHome(entry);
    // a copy of its own (the caller may change what it gave), not frozen: Object.freeze gives a spread copy a hidden
    // class of its own, ~260 bytes per device (V8 12, measured by bench/_inventory-memory.ts)
    this.devices.set(entry.henbId, { ...entry });
  }

  removeDevice(henbId: string): void {
    if (!this.devices.delete(henbId)) return;
    const l = this.links.get(henbId);
    if (l !== undefined) {
      void this.sessions.retire(l);
      this.links.delete(henbId);
    }
    this.callHome?.removeDevice(henbId);
  }

  hasLink(henbId: string): boolean {
    return this.links.has(henbId);
  }

  deviceIds(): string[] {
    return [...this.devices.keys()];
  }

  connected(henbId: string): boolean {
    return this.links.get(henbId)?.open() !== undefined;
  }

  sessionCounts(): { open: number; queued: number } {
    return { open: this.sessions.pool.open, queued: this.sessions.pool.queued };
  }

  remembered(henbId: string): DeviceMemory | undefined {
    const l = this.links.get(henbId);
    if (!l) return this.devices.has(henbId) ? { delivered: 0, awaiting: 0, held: 0, rollingBack: 0, slotWait: false } : undefined;
    return {
      delivered: l.delivered.size, awaiting: l.awaiting.size, held: l.held.size, rollingBack: l.rollingBack.size, slotWait: l.slotWait !== undefined,
      ...(l.lastEventTime !== undefined ? { lastEventTime: l.lastEventTime } : {}),
    };
  }

  connection(henbId: string): DeviceConnectionInfo | undefined {
    const entry = this.devices.get(henbId);
    if (entry === undefined) return undefined;
    if (entry.callHome === true) {
      const c = this.callHome?.connection(henbId);
      return c ? { kind: 'called-home', since: c.since.getTime() } : undefined;
    }
    const l = this.links.get(henbId);
    return l?.open() && l.since !== undefined ? { kind: 'dialled', since: l.since } : undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.sessions.close(this.links.values());
  }

  /** the device's state, made at its first use */
  private linkOf(henbId: string): DeviceLink {
    if (this.closed) throw closedError();
    let l = this.links.get(henbId);
    if (l !== undefined) return l;
    const entry = this.devices.get(henbId);
    if (entry === undefined) throw new DeviceDriverError('ERR_DEVICE_UNKNOWN', `H(e)NB ${henbId} is not in the device inventory`);
    l = new DeviceLink(entry);
    this.links.set(henbId, l);
    return l;
  }

  /** a call-home entry with what identifies it (SSH: pinned key; TLS: certificate) is enrolled with the listener; any other entry is not (or no longer) */
  private enrolCallHome(entry: DeviceInventoryEntry): void {
    if (this.callHome === undefined) return;
    const enrol = callHomeDeviceOf(entry);
    if (enrol !== undefined) this.callHome.setDevice(enrol);
    else this.callHome.removeDevice(entry.henbId);
  }

  private async call(l: DeviceLink, op: XmlElement, signal: AbortSignal, deadline?: number): Promise<XmlElement[]> {
    const s = await this.sessions.ensure(l, signal, 'rpc', deadline !== undefined ? { deadline } : {});
    return deviceRpc(l.henbId, s, op, signal, this.rpcTimeoutMs);
  }

  /** run `fn` while the device's session is busy (the pool does not close it); then tell the pool what it is for */
  private async using<T>(l: DeviceLink, fn: () => Promise<T>): Promise<T> {
    l.users++;
    this.sessions.settle(l);
    try {
      return await fn();
    } finally {
      l.users--;
      this.sessions.settle(l);
    }
  }

  /** resume()'s replay window on a second, short session: it takes a pool slot of its own */
  private async replay(l: DeviceLink, from: number, signal: AbortSignal): Promise<void> {
    const slot = {};
    await this.sessions.pool.acquire(slot, 'watch', signal);
    try {
      await replayWindow(l, from, signal, this.connector, this.connectTimeoutMs, (x, ev) => this.onCompletionEvent(x, ev),
        { log: this.log, rpcTimeoutMs: this.rpcTimeoutMs });
    } finally {
      this.sessions.pool.release(slot);
    }
  }

  private onCompletionEvent(l: DeviceLink, ev: XmlElement): void {
    let c: CompletionEvent;
    try {
      c = parseCompletion(ev);
    } catch (e) {
      this.log.warn('malformed completion ignored', { henbId: l.henbId, err: e });
      return;
    }
    const fate = l.classify(c.jobId);
    if (fate === 'rollback') this.log.info('rollback completed', { henbId: l.henbId, jobId: c.jobId, status: c.status, tim: c.tim });
    else if (fate === 'repeat') this.log.debug('repeated completion ignored', { henbId: l.henbId, jobId: c.jobId });
    else {
      // a completion for a job this driver did not send is still handed on: the flow decides (sent before a restart)
      this.listeners.emit(toDeviceCompletion(l.henbId, c));
      this.sessions.settle(l); // no job may wait on the session any more
    }
  }
}
