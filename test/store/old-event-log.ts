/**
 * The notification log's writer before migration 6 (`git show 5adf37c^:src/store/event-log.ts`): its schema,
 * pragmas and append, to write files in the old format for the import tests.
 */
import { join } from 'node:path';
import { EVENT_LOG_FILE, openDatabase } from '../../src/store/index.js';

/** The old writer: its schema, pragmas and append, as EventLog.open/append wrote them before 5adf37c. */
export function writeOldEventLog(dir: string, events: Array<{ stream: string; at: number; xml: string }>, created = new Date(0)): string {
  const file = join(dir, EVENT_LOG_FILE);
  const db = openDatabase(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE IF NOT EXISTS events (
      id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, time_ms INTEGER NOT NULL, xml TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS events_time ON events(time_ms);
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
  db.prepare(`INSERT INTO meta(key, value) VALUES ('created', ?)`).run(created.toISOString());
  const insert = db.prepare('INSERT INTO events(stream, time_ms, xml) VALUES (?, ?, ?)');
  for (const e of events) insert.run(e.stream, e.at, e.xml);
  db.close();
  return file;
}

