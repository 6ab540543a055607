/**
 * The event log of versions before migration 6 (event-log.sqlite, written by the old src/store/event-log.ts; see
 * `git show 5adf37c^:src/store/event-log.ts`) is imported into a replay log over the store once, then renamed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_LOG_FILE, EventLog, importLegacyEventLog, openDatabase, openEventLog, openSqliteStore } from '../../src/store/index.js';
import { writeOldEventLog } from './old-event-log.js';
import type { Store } from '../../src/store/index.js';

const T = Date.now() - 3_600_000;
const OLD = [
  { stream: 'henb-sw-verify', at: T, xml: '<software-update-result xmlns="urn:x"><job-id>j1</job-id></software-update-result>' },
  { stream: 'NETCONF', at: T + 1, xml: '<netconf-config-change xmlns="urn:y"/>' },
  { stream: 'henb-sw-verify', at: T + 2, xml: '<software-update-result xmlns="urn:x"><job-id>j2</job-id></software-update-result>' },
];

describe('importLegacyEventLog', () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const setup = async (): Promise<{ dir: string; store: Store }> => {
    const dir = mkdtempSync(join(tmpdir(), 'hsv-legacy-log-'));
    dirs.push(dir);
    const store = await openSqliteStore({ path: join(dir, 'store.sqlite') });
    stores.push(store);
    return { dir, store };
  };
  const logged = async (store: Store) => (await new EventLog(store).replayPage({ startTime: new Date(0) }, 0, 100))
    .map((e) => ({ stream: e.stream, at: e.eventTime.getTime(), xml: e.xml }));

  it('imports every event oldest first, renames the file, and does nothing at the next start', async () => {
    const { dir, store } = await setup();
    await store.appendNotification('henb-sw-verify', T + 10, '<after-upgrade xmlns="urn:x"/>');
    const file = writeOldEventLog(dir, OLD);
    const done = await importLegacyEventLog(new EventLog(store), file);
    expect(done).toEqual({ imported: 3, skipped: 0, renamedTo: `${file}.imported` });
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.imported`)).toBe(true);
    expect(await logged(store)).toEqual([{ stream: 'henb-sw-verify', at: T + 10, xml: '<after-upgrade xmlns="urn:x"/>' }, ...OLD]);
    // replayed through the log the server uses, by stream too
    const replay = await new EventLog(store).replayPage({ stream: 'henb-sw-verify', startTime: new Date(T - 1), stopTime: new Date(T + 5) }, 0, 10);
    expect(replay.map((e) => e.xml)).toEqual([OLD[0]!.xml, OLD[2]!.xml]);
    expect(await importLegacyEventLog(new EventLog(store), file)).toBeUndefined();
    expect(await logged(store)).toHaveLength(4);
  });

  it('idempotent: a crash after the import but before the rename imports nothing twice', async () => {
    const { dir, store } = await setup();
    const file = writeOldEventLog(dir, OLD);
    copyFileSync(file, join(dir, 'copy'));
    await importLegacyEventLog(new EventLog(store), file);
    copyFileSync(join(dir, 'copy'), file); // as if the rename had not happened
    expect(await importLegacyEventLog(new EventLog(store), file)).toEqual({ imported: 0, skipped: 3, renamedTo: `${file}.imported.2` });
    expect(await logged(store)).toEqual(OLD);
  });

  it('a file of the current format (a server\'s own SQLite log) is left alone', async () => {
    const { dir, store } = await setup();
    const own = await openEventLog({ dir });
    await own.append('NETCONF', new Date(T), '<own/>');
    await own.close();
    expect(await importLegacyEventLog(new EventLog(store), join(dir, EVENT_LOG_FILE))).toBeUndefined();
    expect(existsSync(join(dir, EVENT_LOG_FILE))).toBe(true);
    expect(await logged(store)).toEqual([]);
  });

  it('a damaged file: ERR_EVENT_LOG_IMPORT, nothing imported, the file left in place', async () => {
    const { dir, store } = await setup();
    const file = join(dir, EVENT_LOG_FILE);
    writeFileSync(file, 'not a database, just some bytes that are long enough to be read as a header. '.repeat(10));
    await expect(importLegacyEventLog(new EventLog(store), file)).rejects.toMatchObject({ code: 'ERR_EVENT_LOG_IMPORT', message: expect.stringContaining('left in place') });
    expect(existsSync(file)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('.imported'))).toEqual([]);
    expect(await logged(store)).toEqual([]);
  });

  it('no file: nothing to do', async () => {
    const { dir, store } = await setup();
    expect(await importLegacyEventLog(new EventLog(store), join(dir, EVENT_LOG_FILE))).toBeUndefined();
  });
});

describe('openEventLog on a file of an earlier version (a server\'s own log: a simulated femtocell\'s)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const dir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'hsv-legacy-own-'));
    dirs.push(d);
    return d;
  };
  const all = async (log: EventLog) => (await log.replayPage({ startTime: new Date(0) }, 0, 100)).map((e) => ({ stream: e.stream, at: e.eventTime.getTime(), xml: e.xml }));
  const tables = (file: string): string[] => {
    const db = openDatabase(file, { fileMustExist: true, readonly: true });
    try {
      return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'events%'`).all() as Array<{ name: string }>).map((r) => r.name);
    } finally {
      db.close();
    }
  };

  it('migrates the file in place and imports its old events into the log, once; the old table is renamed', async () => {
    const d = dir();
    const file = writeOldEventLog(d, OLD);
    const outcomes: unknown[] = [];
    const log = await openEventLog({ dir: d, onEarlierEvents: (o) => outcomes.push(o) });
    expect(outcomes).toEqual([{ imported: 3, skipped: 0 }]);
    expect(await all(log)).toEqual(OLD);
    await log.append('NETCONF', new Date(T + 10), '<after/>');
    await log.close();
    expect(tables(file)).toEqual(['events_imported']);
    const again = await openEventLog({ dir: d, onEarlierEvents: (o) => outcomes.push(o) });
    expect(outcomes).toHaveLength(1);
    expect(await all(again)).toEqual([...OLD, { stream: 'NETCONF', at: T + 10, xml: '<after/>' }]);
    await again.close();
  });

  it('a file the previous version already migrated in place (old events left in `events`): they are imported after what it logged since', async () => {
    const d = dir();
    const file = writeOldEventLog(d, OLD);
    const migrated = await openSqliteStore({ path: file }); // what openEventLog did before: the old rows stay unread
    await migrated.appendNotification('henb-sw-verify', T + 20, '<since-upgrade/>');
    await migrated.close();
    const log = await openEventLog({ dir: d });
    expect(await all(log)).toEqual([{ stream: 'henb-sw-verify', at: T + 20, xml: '<since-upgrade/>' }, ...OLD]);
    await log.close();
  });

  it('old events that cannot be read: the log opens anyway, ERR_EVENT_LOG_IMPORT is reported, the table stays for the next open', async () => {
    const d = dir();
    const db = openDatabase(join(d, EVENT_LOG_FILE));
    db.exec('CREATE TABLE events (something_else TEXT)');
    db.close();
    const outcomes: Array<{ error?: { code: string } }> = [];
    const log = await openEventLog({ dir: d, onEarlierEvents: (o) => outcomes.push(o as { error?: { code: string } }) });
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]!.error?.code).toBe('ERR_EVENT_LOG_IMPORT');
    await log.append('NETCONF', new Date(T), '<still-works/>');
    expect(await all(log)).toHaveLength(1);
    await log.close();
    expect(tables(join(d, EVENT_LOG_FILE))).toEqual(['events']);
  });
});
