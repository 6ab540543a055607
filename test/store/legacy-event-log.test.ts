/**
 * The event log of versions before migration 6 (event-log.sqlite, written by the old src/store/event-log.ts; see
 * `git show 5adf37c^:src/store/event-log.ts`) is imported into a replay log over the store once, then renamed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_LOG_FILE, EventLog, importLegacyEventLog, openEventLog, openSqliteStore } from '../../src/store/index.js';
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
