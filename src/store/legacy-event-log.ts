/**
 * The notification log of versions before migration 6: `event-log.sqlite` in the server's data directory, a
 * SQLite file of its own per instance (table `events`: id, stream, time_ms, xml; table `meta`: created, aged).
 * When a plugin provides the server's replay log (an EventLog over the OAM's store), the server imports the events
 * of that file into it on the first start after the upgrade (oldest first) and renames the file to
 * `event-log.sqlite.imported`, so that later starts leave it.
 *
 * Idempotent: an event the log holds already (same stream, eventTime and XML) is not appended again, so an import
 * cut short (a crash before the rename) completes at the next start without duplicates. A file without the
 * `events` table (not the old format, e.g. a server's own log of this version) is left alone; one that cannot be
 * read is ERR_EVENT_LOG_IMPORT and stays where it is. Imported events get ids after those already in the log: a
 * replay delivers them in log order.
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync } from 'node:fs';
import { EventLogError } from './event-log-error.js';
import { openDatabase } from './sqlite-driver.js';
import type { SqliteDatabase } from './sqlite-driver.js';

/** Where the events go: a replay log (the store's EventLog, or any NETCONF ReplayLog). */
export interface ImportTarget {
  append(stream: string, eventTime: Date, xml: string): Promise<number>;
  replayPage(q: { startTime: Date; stopTime?: Date }, afterId: number, limit: number): Promise<Array<{ id: number; stream: string; eventTime: Date; xml: string }>>;
}

export interface LegacyEventLogImport {
  /** events appended to the log */
  imported: number;
  /** events the log held already (an earlier, interrupted import) */
  skipped: number;
  /** where the old file went */
  renamedTo: string;
}

interface LegacyRow { id: number; stream: string; time_ms: number; xml: string }

const PAGE = 1000;

/**
 * Import the old-format event log `file` (if there is one) into `log`, then rename it. Resolves undefined when
 * there is no such file, or it is not of the old format.
 */
export async function importLegacyEventLog(log: ImportTarget, file: string): Promise<LegacyEventLogImport | undefined> {
  if (!existsSync(file)) return undefined;
  let db: SqliteDatabase | undefined;
  try {
    db = openWithEvents(file);
  } catch (e) {
    throw new EventLogError('ERR_EVENT_LOG_IMPORT', `cannot read the event log of an earlier version ${file}: it is left in place`, { cause: e });
  }
  if (db === undefined) return undefined;
  let counts: { imported: number; skipped: number };
  try {
    counts = await appendAll(log, db, await loggedKeys(log, db));
  } catch (e) {
    throw new EventLogError('ERR_EVENT_LOG_IMPORT', `cannot import the event log of an earlier version ${file}: it is left in place`, { cause: e });
  } finally {
    db.close(); // the last connection: SQLite folds the WAL into the file
  }
  return { ...counts, renamedTo: renameAside(file) };
}

/**
 * The same import for a file that is now itself the log's SQLite Store (openEventLog: a server's own log, migrated
 * in place, the old events still in its table `events`): they are appended to `log`, then the table is renamed
 * `events_imported`, so that later opens leave it. Idempotent as above (a crash before the rename skips what the
 * log holds). Resolves undefined when the file has no `events` table.
 */
export async function importLegacyEventsInPlace(log: ImportTarget, file: string): Promise<{ imported: number; skipped: number } | undefined> {
  let db: SqliteDatabase | undefined;
  try {
    db = openWithEvents(file);
    if (db === undefined) return undefined;
    const counts = await appendAll(log, db, await loggedKeys(log, db));
    db.exec('ALTER TABLE events RENAME TO events_imported');
    return counts;
  } catch (e) {
    throw new EventLogError('ERR_EVENT_LOG_IMPORT', `cannot import the events of an earlier version in ${file}: they stay there for the next start`, { cause: e });
  } finally {
    if (db?.open === true) db.close();
  }
}

/** `file` opened, if it has an old-format `events` table; else closed again and undefined */
function openWithEvents(file: string): SqliteDatabase | undefined {
  const db = openDatabase(file, { fileMustExist: true });
  try {
    if (hasEventsTable(db)) return db;
  } catch (e) {
    db.close();
    throw e;
  }
  db.close();
  return undefined;
}

function hasEventsTable(db: SqliteDatabase): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'`).get() !== undefined;
}

/** one event's identity: its stream, time and XML */
function keyOf(stream: string, eventTime: number, xml: string): string {
  return createHash('sha256').update(`${stream}\u0000${eventTime}\u0000${xml}`).digest('base64');
}

/** the events the log holds in the old log's time span (an import cut short before the rename) */
async function loggedKeys(log: ImportTarget, db: SqliteDatabase): Promise<Set<string>> {
  const span = db.prepare('SELECT MIN(time_ms) AS lo, MAX(time_ms) AS hi FROM events').get() as { lo: number | null; hi: number | null };
  const known = new Set<string>();
  if (span.lo === null || span.hi === null) return known;
  for (let afterId = 0; ;) {
    const page = await log.replayPage({ startTime: new Date(span.lo), stopTime: new Date(span.hi) }, afterId, PAGE);
    for (const n of page) known.add(keyOf(n.stream, n.eventTime.getTime(), n.xml));
    if (page.length < PAGE) return known;
    afterId = page[page.length - 1]!.id;
  }
}

/** the old events, oldest first, appended unless known */
async function appendAll(log: ImportTarget, db: SqliteDatabase, known: Set<string>): Promise<{ imported: number; skipped: number }> {
  const page = db.prepare('SELECT id, stream, time_ms, xml FROM events WHERE id > ? ORDER BY id LIMIT ?');
  let imported = 0;
  let skipped = 0;
  for (let afterId = 0; ;) {
    const rows = page.all(afterId, PAGE) as LegacyRow[];
    for (const r of rows) {
      if (known.has(keyOf(r.stream, r.time_ms, r.xml))) {
        skipped++;
        continue;
      }
      await log.append(r.stream, new Date(r.time_ms), r.xml);
      imported++;
    }
    if (rows.length < PAGE) return { imported, skipped };
    afterId = rows[rows.length - 1]!.id;
  }
}

/** `file` -> `file.imported` (or `.imported.2`, ... when taken), with a WAL or shared-memory file left beside it */
function renameAside(file: string): string {
  let target = `${file}.imported`;
  for (let i = 2; existsSync(target); i++) target = `${file}.imported.${i}`;
  renameSync(file, target);
  for (const side of ['-wal', '-shm']) {
    if (existsSync(file + side)) renameSync(file + side, target + side);
  }
  return target;
}
