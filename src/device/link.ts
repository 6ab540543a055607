/**
 * What the driver knows about one device (DeviceLink): its inventory entry, its session (when one is open), the
 * jobs that wait for its completion, and what a re-opened session must replay (RFC 5277 startTime) so that a
 * completion sent while no session was open is not lost. No I/O here: ./sessions.ts opens and closes, this file
 * holds the state and the decisions that follow from it.
 */
import { ownString } from '../netconf/xml/index.js';
import type { DeviceSession, DeviceTarget, DeviceTlsSettings } from './connect.js';
import type { HolderState } from './pool.js';
import { SmallSet } from './small-set.js';

export interface DeviceInventoryEntry extends DeviceTarget {
  henbId: string;
}

/** the most job ids remembered per device for "handed on once" and "the next completion is a rollback's" */
const REMEMBERED = 1000;

/** what to do with a completion the device sent (see DeviceLink.classify) */
export type CompletionFate = 'rollback' | 'repeat' | 'deliver';

export class DeviceLink {
  /** the entry as given (not copied: the driver hands over its own copy, which nothing changes) */
  readonly entry: Readonly<DeviceInventoryEntry>;
  session: DeviceSession | undefined;
  /** the open session has its RFC 5277 subscription (made when a job first waits on it; there is no way to end one) */
  subscribed = false;
  /** the subscription being made */
  subscribing: Promise<void> | undefined;
  /**
   * the subscription asked for with a job's integrity-measurement (relay mode), until the job's software-update takes
   * it: a refusal is that software-update's failure, as if it had asked (./sessions.ts subscribeAhead)
   */
  ahead: { session: DeviceSession; made: Promise<void> } | undefined;
  /** calls in flight that need the session now (an rpc, a resume) */
  users = 0;
  /** aborted when the device no longer needs a session: a wait for a pool slot ends (made when one waits) */
  slotWait: AbortController | undefined;
  /** the shared establishment in flight (one per device) */
  connecting: Promise<DeviceSession> | undefined;
  /** jobs sent whose completion has not arrived */
  readonly awaiting = new SmallSet();
  /** jobs whose integrity-measurement went on the session and whose software-update is to follow on it (relay mode) */
  readonly held = new SmallSet();
  /** jobs whose rollback we asked for: their next completion is the rollback's */
  readonly rollingBack = new SmallSet();
  /**
   * jobs whose completion was handed on (a replay after reconnect may repeat it); bounded (REMEMBERED), each id a
   * copy of its own (ownString: never a slice of the notification's text)
   */
  readonly delivered = new SmallSet();
  /** last event time seen, the device's clock (replay start after a reconnect); set by noteEventTime */
  lastEventTime: string | undefined;
  /** when the session dropped, epoch ms (replay start when no event was seen) */
  droppedAt: number | undefined;
  reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** bumped when the entry is replaced or removed, or the driver closes: work of an older generation stops */
  generation = 0;
  /** resume(): replay from here (epoch ms) on the next subscription, until its replayComplete */
  replaySince: number | undefined;
  /** epoch ms from which the open session's subscription delivers events (its startTime, or when it began) */
  coveredFrom: number | undefined;
  /** the device refused a replay (no event log): do not ask again */
  noReplay = false;
  /** epoch ms: when the current session was established */
  since: number | undefined;

  constructor(entry: Readonly<DeviceInventoryEntry>) {
    this.entry = entry;
  }

  get henbId(): string {
    return this.entry.henbId;
  }

  /** an open session (not closed by either side) */
  open(): DeviceSession | undefined {
    return this.session !== undefined && !this.session.closed ? this.session : undefined;
  }

  /** what the session pool may do with the open session (./pool.ts) */
  poolState(): HolderState {
    return this.users > 0 ? 'busy' : this.awaiting.size > 0 || this.held.size > 0 ? 'watching' : 'idle';
  }

  /** whether a job needs a session (an rpc in flight, a completion awaited, or a software-update to follow) */
  needed(): boolean {
    return this.users > 0 || this.awaiting.size > 0 || this.held.size > 0;
  }

  /** the session is gone (dropped, closed, or taken back by the pool): a later replay starts from now */
  detach(): void {
    this.session = undefined;
    this.subscribed = false;
    this.ahead = undefined;
    this.coveredFrom = undefined;
    this.since = undefined;
    this.droppedAt = Date.now();
  }

  /** the eventTime of a notification the session delivered (kept as a string of its own: see ownString) */
  noteEventTime(text: string): void {
    this.lastEventTime = ownString(text);
  }

  /** whether `other` reaches the device the same way (same address, pin, login and mode) */
  sameTarget(other: DeviceInventoryEntry): boolean {
    return sameTarget(this.entry, other);
  }

  /**
   * The replay start of the next subscription: the earliest of where the last session stopped (the last event it
   * delivered, by the device's clock; else when it ended, by ours, minus `marginMs` for clock skew) and a pending
   * resume() replay. Overlap is harmless: a completion is handed on once (classify).
   */
  replayStart(marginMs = 0): string | undefined {
    const stopped = this.lastEventTime ?? (this.droppedAt !== undefined ? new Date(this.droppedAt - marginMs).toISOString() : undefined);
    const since = [stopped, this.replaySince !== undefined ? new Date(this.replaySince).toISOString() : undefined]
      .filter((t): t is string => t !== undefined && Number.isFinite(Date.parse(t)));
    if (since.length === 0) return undefined;
    return since.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b));
  }

  /**
   * A completion for `jobId` arrived: the rollback's we asked for (logged only), a repeat of one handed on
   * already (a replay overlapping the live stream), or one to hand on (then no longer awaited).
   */
  classify(jobId: string): CompletionFate {
    if (this.rollingBack.delete(jobId)) return 'rollback';
    if (this.delivered.has(jobId)) return 'repeat';
    remember(this.delivered, ownString(jobId));
    this.awaiting.delete(jobId);
    return 'deliver';
  }

  /** the next completion of `jobId` is the rollback's */
  expectRollback(jobId: string): void {
    remember(this.rollingBack, jobId);
  }
}

/** whether two entries reach the device the same way (same address, pin, login and mode) */
export function sameTarget(a: Readonly<DeviceInventoryEntry>, other: Readonly<DeviceInventoryEntry>): boolean {
  return a.host === other.host && a.port === other.port && a.username === other.username && a.password === other.password
    && a.privateKey === other.privateKey && a.hostKeySha256 === other.hostKeySha256 && (a.callHome === true) === (other.callHome === true)
    && a.insecureAcceptAnyHostKey === other.insecureAcceptAnyHostKey
    && (a.transport ?? 'ssh') === (other.transport ?? 'ssh') && sameTls(a.tls, other.tls);
}

/**
 * The same TLS settings, field by field (DeviceTlsSettings: the PEMs compared as strings; an absent field and one
 * set to undefined are the same, as they were when the settings were compared as JSON). Was JSON.stringify of both
 * at every change of running, for every TLS entry: ~0.45 s at 10,000 entries (issue 15, branch editcut).
 */
function sameTls(a: DeviceTlsSettings | undefined, b: DeviceTlsSettings | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.ca === b.ca && a.certSha256 === b.certSha256 && a.serverName === b.serverName && a.cert === b.cert && a.key === b.key;
}

/** add to a bounded set, forgetting the oldest */
function remember(set: SmallSet, id: string): void {
  set.add(id);
  if (set.size > REMEMBERED) set.delete(set.oldest()!);
}
