/**
 * The persistent notification event log behind RFC 5277 replay (section 3.2.1 replaySupport,
 * replayLogCreationTime, replayLogAgedTime). SQLite (better-sqlite3, WAL) in the data directory,
 * bounded by a maximum number of events and a maximum age; the oldest events go first.
 *
 * Events are stored once, with the stream they were emitted on; the NETCONF stream replays every
 * event (RFC 5277 section 3.2.3: the NETCONF stream carries all notifications).
 */
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HsvError } from '../errors.js';

export type EventLogErrorCode = 'ERR_EVENT_LOG_OPEN' | 'ERR_EVENT_LOG_CLOSED';

export class EventLogError extends HsvError<EventLogErrorCode> {}

export const EVENT_LOG_FILE = 'event-log.sqlite';
export const NETCONF_STREAM = 'NETCONF';

export interface StoredEvent {
  /** position in the log, increasing */
  id: number;
  stream: string;
  eventTime: Date;
  /** the serialised event element (the child of <notification> after eventTime) */
  xml: string;
}

export interface EventLogOptions {
  /** directory for the database file (created when missing) */
  dir: string;
  fileName?: string;
  /** keep at most this many events (default 100000) */
  maxEvents?: number;
  /** drop events older than this (default 30 days) */
  maxAgeMs?: number;
  /** clock (tests) */
  now?: () => Date;
}

export interface ReplayQuery {
  /** stream name; NETCONF (or undefined) replays every stream */
  stream?: string;
  startTime: Date;
  /** inclusive upper bound on eventTime */
  stopTime?: Date;
  /** only events with id <= this (events logged later are delivered live) */
  upToId?: number;
}

interface Statement {
  run(...params: unknown[]): { lastInsertRowid: number | bigint; changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface Database {
  pragma(s: string): unknown;
  exec(s: string): void;
  prepare(s: string): Statement;
  close(): void;
  transaction<A extends unknown[]>(fn: (...a: A) => void): (...a: A) => void;
}
type DatabaseCtor = new (file: string, opts?: { fileMustExist?: boolean }) => Database;

const require = createRequire(import.meta.url);

interface Row { id: number; stream: string; time_ms: number; xml: string }

export class EventLog {
  private readonly db: Database;
  private readonly maxEvents: number;
  private readonly maxAgeMs: number;
  private readonly now: () => Date;
  private readonly insert: Statement;
  private appendsSincePrune = 0;
  private closed = false;
  /** replayLogCreationTime */
  readonly creationTime: Date;
  private aged: Date | undefined;

  private constructor(db: Database, options: EventLogOptions) {
    this.db = db;
    this.maxEvents = options.maxEvents ?? 100_000;
    this.maxAgeMs = options.maxAgeMs ?? 30 * 24 * 3600 * 1000;
    this.now = options.now ?? (() => new Date());
    db.exec(`CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, time_ms INTEGER NOT NULL, xml TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS events_time ON events(time_ms);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
    const created = db.prepare(`SELECT value FROM meta WHERE key = 'created'`).get() as { value: string } | undefined;
    if (created) this.creationTime = new Date(created.value);
    else {
      this.creationTime = this.now();
      db.prepare(`INSERT INTO meta(key, value) VALUES ('created', ?)`).run(this.creationTime.toISOString());
    }
    const aged = db.prepare(`SELECT value FROM meta WHERE key = 'aged'`).get() as { value: string } | undefined;
    if (aged) this.aged = new Date(aged.value);
    this.insert = db.prepare('INSERT INTO events(stream, time_ms, xml) VALUES (?, ?, ?)');
    this.prune();
  }

  static open(options: EventLogOptions): EventLog {
    const file = join(options.dir, options.fileName ?? EVENT_LOG_FILE);
    try {
      mkdirSync(options.dir, { recursive: true });
      const Ctor = require('better-sqlite3') as DatabaseCtor;
      const db = new Ctor(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      return new EventLog(db, options);
    } catch (e) {
      throw new EventLogError('ERR_EVENT_LOG_OPEN', `cannot open the event log ${file}`, { cause: e });
    }
  }

  /** Append one event; returns its id. */
  append(stream: string, eventTime: Date, xml: string): number {
    this.assertOpen();
    const r = this.insert.run(stream, eventTime.getTime(), xml);
    if (++this.appendsSincePrune >= 256) this.prune();
    return Number(r.lastInsertRowid);
  }

  /** Id of the newest event (0 when empty). */
  lastId(): number {
    this.assertOpen();
    const r = this.db.prepare('SELECT MAX(id) AS id FROM events').get() as { id: number | null };
    return r.id ?? 0;
  }

  count(): number {
    this.assertOpen();
    return (this.db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
  }

  /** replayLogAgedTime: the eventTime of the newest event dropped by retention, if any */
  agedTime(): Date | undefined {
    return this.aged;
  }

  /** Events for a replay, oldest first (by position in the log). Do not append while iterating. */
  *replay(q: ReplayQuery): IterableIterator<StoredEvent> {
    let after = 0;
    for (;;) {
      const page = this.replayPage(q, after, 1000);
      yield* page;
      if (page.length < 1000) return;
      after = page[page.length - 1]!.id;
    }
  }

  /**
   * One page of a replay: at most `limit` events with id > `afterId`, oldest first. Pages let a
   * replay yield to other work between pages (appends may happen in between).
   */
  replayPage(q: ReplayQuery, afterId: number, limit: number): StoredEvent[] {
    this.assertOpen();
    const where: string[] = ['id > ?', 'time_ms >= ?'];
    const params: unknown[] = [afterId, q.startTime.getTime()];
    if (q.stopTime) {
      where.push('time_ms <= ?');
      params.push(q.stopTime.getTime());
    }
    if (q.stream !== undefined && q.stream !== NETCONF_STREAM) {
      where.push('stream = ?');
      params.push(q.stream);
    }
    if (q.upToId !== undefined) {
      where.push('id <= ?');
      params.push(q.upToId);
    }
    params.push(Math.max(1, Math.floor(limit)));
    const stmt = this.db.prepare(`SELECT id, stream, time_ms, xml FROM events WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`);
    return (stmt.all(...params) as Row[]).map((r) => ({ id: r.id, stream: r.stream, eventTime: new Date(r.time_ms), xml: r.xml }));
  }

  /** Apply retention now (also done every 256 appends and at open). */
  prune(): void {
    this.assertOpen();
    this.appendsSincePrune = 0;
    const cutoff = this.now().getTime() - this.maxAgeMs;
    const last = this.lastId();
    const byCount = last - this.maxEvents;
    const victims = this.db.prepare('SELECT MAX(time_ms) AS t, COUNT(*) AS n FROM events WHERE id <= ? OR time_ms < ?')
      .get(byCount, cutoff) as { t: number | null; n: number };
    if (victims.n === 0 || victims.t === null) return;
    const newestDropped = new Date(victims.t);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM events WHERE id <= ? OR time_ms < ?').run(byCount, cutoff);
      if (!this.aged || newestDropped > this.aged) {
        this.aged = newestDropped;
        this.db.prepare(`INSERT OR REPLACE INTO meta(key, value) VALUES ('aged', ?)`).run(newestDropped.toISOString());
      }
    })();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new EventLogError('ERR_EVENT_LOG_CLOSED', 'the event log is closed');
  }
}
