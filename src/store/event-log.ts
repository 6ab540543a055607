/**
 * The notification event log behind RFC 5277 replay (section 3.2.1 replaySupport, replayLogCreationTime,
 * replayLogAgedTime), kept in a Store (the table `notifications`, migration 6): bounded by a maximum number of
 * events and a maximum age, the oldest events going first.
 *
 * - The OAM plugin gives the NETCONF server an EventLog over its own Store (NetconfRegistry.setReplayLog): with
 *   several OAM instances on one PostgreSQL database, every instance logs into the same table, so an NMS that
 *   subscribes to any instance replays the events of all of them.
 * - A server without such a store (a simulated femtocell) keeps its own: openEventLog(dir) opens a SQLite Store
 *   in `<dir>/event-log.sqlite` (the same schema) for it alone.
 *
 * Events are stored once, with the stream they were emitted on; a query without a stream replays every event
 * (RFC 5277 section 3.2.3: the NETCONF stream carries all notifications). Appends of one EventLog are
 * serialised, so that within one process ids commit in the order they were taken (a subscription's replay
 * bound, lastId(), then never passes an event that is still being written by this process); those made while the
 * one before is written share one transaction (group commit; issue 15: one commit per notification was 4% of the OAM's main
 * thread at 1,000 devices).
 */
import { join } from 'node:path';
import { EventLogError } from './event-log-error.js';
import { importLegacyEventsInPlace } from './legacy-event-log.js';
import { openSqliteStore } from './sqlite.js';
import type { NewNotification, Store, StoreOps } from './types.js';

export { EventLogError } from './event-log-error.js';
export type { EventLogErrorCode } from './event-log-error.js';

export const EVENT_LOG_FILE = 'event-log.sqlite';

export interface StoredEvent {
  /** position in the log, increasing */
  id: number;
  stream: string;
  eventTime: Date;
  /** the serialised event element (the child of <notification> after eventTime) */
  xml: string;
}

export interface ReplayQuery {
  /** stream name; undefined replays every stream */
  stream?: string;
  startTime: Date;
  /** inclusive upper bound on eventTime */
  stopTime?: Date;
  /** only events with id <= this (events logged later are delivered live) */
  upToId?: number;
}

export interface EventLogRetention {
  /** keep at most this many events (default 100000) */
  maxEvents?: number;
  /** drop events older than this (default 30 days) */
  maxAgeMs?: number;
  /** clock (tests) */
  now?: () => Date;
}

export interface EventLogOptions extends EventLogRetention {
  /** directory for the database file (created when missing) */
  dir: string;
  fileName?: string;
  /**
   * Told what became of the events of an earlier version's file at this path (its `events` table): imported
   * (counts), or not (the error; they stay for the next open). Not called when there were none.
   */
  onEarlierEvents?: (outcome: { imported: number; skipped: number } | { error: EventLogError }) => void;
}

type NotificationOps = Pick<StoreOps, 'appendNotifications' | 'lastNotificationId' | 'listNotifications' | 'pruneNotifications' | 'notificationLogTimes'>;

interface PendingAppend {
  event: NewNotification;
  resolve: (id: number) => void;
  reject: (err: unknown) => void;
}

/** Appends between two retention runs. */
const PRUNE_EVERY = 256;

export class EventLog {
  private readonly maxEvents: number;
  private readonly maxAgeMs: number;
  private readonly now: () => Date;
  private appendsSincePrune = 0;
  /** groups written so far (each one transaction; tests) */
  groups = 0;
  /** appends not yet written (the next group) */
  private pending: PendingAppend[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  /**
   * An event log over `store`'s notification table. `onClose` runs at close (openEventLog closes the store it
   * opened; a log over a store someone else owns leaves it open).
   */
  constructor(private readonly store: NotificationOps, retention: EventLogRetention = {}, private readonly onClose?: () => Promise<void>) {
    this.maxEvents = retention.maxEvents ?? 100_000;
    this.maxAgeMs = retention.maxAgeMs ?? 30 * 24 * 3600 * 1000;
    this.now = retention.now ?? (() => new Date());
  }

  /**
   * Append one event; resolves with its id once it is committed. Appends are written in groups (group commit): the
   * appends made while a group is being written (or waits for the store, e.g. for a transaction open on it), and
   * those made in the same synchronous run, form the next group, written in call order in one transaction
   * (Store.appendNotifications: one commit for all of them instead of one each); a group starts when the one
   * before it has ended, so ids commit in the order appends were called. No append waits for a timer. A group that fails stores none of its events and rejects each of their appends with the error, except a
   * bad event (ERR_STORE_INVALID, found before anything is written): then each of the group's events is appended
   * alone, so that only the bad one fails.
   */
  append(stream: string, eventTime: Date, xml: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ event: { stream, eventTime: eventTime.getTime(), xml }, resolve, reject });
      if (this.pending.length > 1) return;
      const write = (): Promise<void> => this.writeGroup();
      this.tail = this.tail.then(write, write);
    });
  }

  /** the appends waiting now, as one transaction (see append) */
  private async writeGroup(): Promise<void> {
    const group = this.pending.splice(0);
    this.groups++;
    try {
      this.assertOpen();
      const ids = await this.store.appendNotifications(group.map((p) => p.event));
      group.forEach((p, i) => p.resolve(ids[i]!));
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_STORE_INVALID' && group.length > 1) await this.appendEach(group);
      else for (const p of group) p.reject(err);
      return;
    }
    this.appendsSincePrune += group.length;
    // retention is not the appends' business: they are committed; a failed run is tried again after the next group
    if (this.appendsSincePrune >= PRUNE_EVERY) await this.prune().catch(() => undefined);
  }

  /** a group refused for a bad event: each event alone, so only the bad one fails */
  private async appendEach(group: PendingAppend[]): Promise<void> {
    for (const p of group) {
      try {
        const [id] = await this.store.appendNotifications([p.event]);
        this.appendsSincePrune++;
        p.resolve(id!);
      } catch (err) {
        p.reject(err);
      }
    }
  }

  /** Id of the newest event (0 when empty). */
  async lastId(): Promise<number> {
    this.assertOpen();
    return this.store.lastNotificationId();
  }

  async count(): Promise<number> {
    let n = 0;
    for (let after = 0; ;) {
      const page = await this.replayPage({ startTime: new Date(-8.64e15) }, after, 1000);
      n += page.length;
      if (page.length < 1000) return n;
      after = page[page.length - 1]!.id;
    }
  }

  /** replayLogCreationTime, and replayLogAgedTime (the eventTime of the newest event retention dropped), if any */
  async times(): Promise<{ created: Date; aged: Date | undefined }> {
    this.assertOpen();
    const t = await this.store.notificationLogTimes();
    return { created: new Date(t.createdAt), aged: t.agedAt === null ? undefined : new Date(t.agedAt) };
  }

  /**
   * One page of a replay: at most `limit` events with id > `afterId`, oldest first. Pages let a
   * replay yield to other work between pages (appends may happen in between).
   */
  async replayPage(q: ReplayQuery, afterId: number, limit: number): Promise<StoredEvent[]> {
    this.assertOpen();
    const rows = await this.store.listNotifications({
      since: q.startTime.getTime(), afterId, limit: Math.max(1, Math.floor(limit)),
      ...(q.stopTime ? { until: q.stopTime.getTime() } : {}),
      ...(q.stream !== undefined ? { stream: q.stream } : {}),
      ...(q.upToId !== undefined ? { upToId: q.upToId } : {}),
    });
    return rows.map((r) => ({ id: r.id, stream: r.stream, eventTime: new Date(r.eventTime), xml: r.xml }));
  }

  /** Apply retention now (also done every 256 appends, and by openEventLog at open). */
  async prune(): Promise<void> {
    this.assertOpen();
    await this.store.pruneNotifications(this.maxEvents, this.now().getTime() - this.maxAgeMs);
    this.appendsSincePrune = 0;
  }

  /** Waits for the appends under way, then releases the log (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.tail;
    this.closed = true;
    await this.onClose?.();
  }

  private assertOpen(): void {
    if (this.closed) throw new EventLogError('ERR_EVENT_LOG_CLOSED', 'the event log is closed');
  }
}

/**
 * An event log of its own for a server without a Store: a SQLite Store in `<dir>/event-log.sqlite`.
 * The file of a version before migration 6 (a simulated femtocell's, a server's without a plugin's log) is the
 * same path: opening it as a Store migrates it in place, and its events, still in the old table `events`, are then
 * appended to the log (oldest first, once: src/store/legacy-event-log.ts) so that a replay delivers them.
 */
export async function openEventLog(options: EventLogOptions): Promise<EventLog> {
  const file = join(options.dir, options.fileName ?? EVENT_LOG_FILE);
  let store: Store;
  try {
    store = await openSqliteStore({ path: file });
  } catch (e) {
    throw new EventLogError('ERR_EVENT_LOG_OPEN', `cannot open the event log ${file}`, { cause: e });
  }
  const log = new EventLog(store, options, () => store.close());
  try {
    const earlier = await importLegacyEventsInPlace(log, file);
    if (earlier !== undefined) options.onEarlierEvents?.(earlier);
  } catch (e) {
    options.onEarlierEvents?.({ error: e as EventLogError });
  }
  await log.prune();
  return log;
}
