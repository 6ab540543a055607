import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog, EventLogError, SQLITE_FILE_NAME, openDatabase, openEventLog, openSqliteStore } from '../../src/store/index.js';
import type { SqliteStore, Store } from '../../src/store/index.js';

describe('EventLog', () => {
  const dirs: string[] = [];
  const logs: EventLog[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const l of logs.splice(0)) await l.close();
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const open = async (opts: Partial<Parameters<typeof openEventLog>[0]> = {}, dir?: string): Promise<EventLog> => {
    const d = dir ?? mkdtempSync(join(tmpdir(), 'hsv-evlog-'));
    if (!dir) dirs.push(d);
    const l = await openEventLog({ dir: d, ...opts });
    logs.push(l);
    return l;
  };
  const all = async (l: EventLog, q: Parameters<EventLog['replayPage']>[0]): Promise<string[]> => (await l.replayPage(q, 0, 1000)).map((e) => e.xml);

  it('appends, replays by time window, stream and id, and survives a reopen', async () => {
    const l = await open();
    const base = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const t = (s: number): Date => new Date(base + s * 1000);
    await l.append('NETCONF', t(1), '<a/>');
    await l.append('henb', t(2), '<b/>');
    const last = await l.append('henb', t(3), '<c/>');
    expect(await l.lastId()).toBe(last);
    expect(await all(l, { startTime: t(0) })).toEqual(['<a/>', '<b/>', '<c/>']);
    expect(await all(l, { startTime: t(2) })).toEqual(['<b/>', '<c/>']);
    expect(await all(l, { stream: 'henb', startTime: t(0), stopTime: t(2) })).toEqual(['<b/>']);
    expect(await all(l, { startTime: t(0), upToId: last - 1 })).toHaveLength(2);
    expect((await l.replayPage({ startTime: t(0) }, 0, 2)).map((e) => e.xml)).toEqual(['<a/>', '<b/>']);
    const created = (await l.times()).created.toISOString();
    const dir = dirs[0]!;
    await l.close();
    const again = await open({}, dir);
    expect(await again.count()).toBe(3);
    expect((await again.times()).created.toISOString()).toBe(created);
    const ev = (await again.replayPage({ startTime: t(3) }, 0, 10))[0]!;
    expect(ev).toEqual({ id: last, stream: 'henb', eventTime: t(3), xml: '<c/>' });
  });

  it('bounds the log by count and age and reports replayLogAgedTime', async () => {
    let now = new Date('2026-01-10T00:00:00Z');
    const l = await open({ maxEvents: 5, maxAgeMs: 24 * 3600 * 1000, now: () => now });
    for (let i = 0; i < 10; i++) await l.append('NETCONF', new Date(now.getTime() - (10 - i) * 1000), `<e${i}/>`);
    await l.prune();
    expect(await l.count()).toBe(5);
    expect((await all(l, { startTime: new Date(0) }))[0]).toBe('<e5/>');
    expect((await l.times()).aged!.toISOString()).toBe(new Date(now.getTime() - 6000).toISOString());
    now = new Date('2026-01-12T00:00:00Z');
    await l.prune();
    expect(await l.count()).toBe(0);
  });

  it('runs retention every 256 appends', async () => {
    const l = await open({ maxEvents: 10 });
    const t = new Date(Date.now() - 1000);
    for (let i = 0; i < 255; i++) await l.append('NETCONF', t, '<e/>');
    expect(await l.count()).toBe(255);
    await l.append('NETCONF', t, '<e/>');
    expect(await l.count()).toBe(10);
  });

  it('appends one after the other: concurrent appends get ids in call order', async () => {
    const l = await open();
    const t = new Date(Date.now() - 1000);
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => l.append('NETCONF', t, `<e${i}/>`)));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(await all(l, { startTime: t })).toEqual(Array.from({ length: 20 }, (_, i) => `<e${i}/>`));
  });

  it('over a store it does not own: the notifications are the store\'s, and close leaves the store open', async () => {
    const d = mkdtempSync(join(tmpdir(), 'hsv-evlog-'));
    dirs.push(d);
    const store = await openSqliteStore({ dataDir: d });
    stores.push(store);
    const l = new EventLog(store);
    const id = await l.append('henb', new Date(1000), '<a/>');
    expect(await store.listNotifications({ since: 0 })).toEqual([{ id, stream: 'henb', eventTime: 1000, xml: '<a/>' }]);
    await l.close();
    expect(await store.lastNotificationId()).toBe(id);
  });

  describe('appends in groups, one transaction each (issue 15)', () => {
    const T = new Date(1_800_000_000_000);
    const ownStore = async (): Promise<{ store: SqliteStore; file: string }> => {
      const d = mkdtempSync(join(tmpdir(), 'hsv-evlog-'));
      dirs.push(d);
      const store = await openSqliteStore({ dataDir: d });
      stores.push(store);
      return { store, file: join(d, SQLITE_FILE_NAME) };
    };
    /** what another connection (another process) reads from the database file: what is committed */
    const committed = (file: string): string[] => {
      const db = openDatabase(file, { readonly: true });
      try {
        return (db.prepare('SELECT xml FROM notifications ORDER BY id').all() as Array<{ xml: string }>).map((r) => r.xml);
      } finally {
        db.close();
      }
    };

    it('appends made together are one group, ids in call order; each resolves only once committed', async () => {
      const { store, file } = await ownStore();
      const l = new EventLog(store);
      const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => l.append(i % 2 ? 'henb' : 'NETCONF', T, `<e${i}/>`)));
      expect(l.groups).toBe(1);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).toBe(10);
      expect(committed(file)).toEqual(Array.from({ length: 10 }, (_, i) => `<e${i}/>`));
      const one = l.append('henb', T, '<alone/>');
      await expect(one).resolves.toBeGreaterThan(ids[9]!);
      expect(committed(file)).toContain('<alone/>');
      expect(l.groups).toBe(2);
    });

    it('appends made while a store transaction is open wait for it and then share one group, in call order', async () => {
      const { store } = await ownStore();
      const l = new EventLog(store);
      let release!: () => void;
      const held = store.transaction(() => new Promise<void>((r) => (release = r)));
      const first = l.append('henb', T, '<a/>');
      await new Promise((r) => setImmediate(r));
      const more = [l.append('henb', T, '<b/>'), l.append('henb', T, '<c/>')];
      release();
      await held;
      const ids = await Promise.all([first, ...more]);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(l.groups).toBe(2);
      expect((await store.listNotifications({ since: 0 })).map((n) => n.xml)).toEqual(['<a/>', '<b/>', '<c/>']);
    });

    it('a group the database fails mid-way stores none of it and rejects each of its appends; acknowledged ones stay, later ones go on', async () => {
      const { store, file } = await ownStore();
      const l = new EventLog(store);
      const kept = await Promise.all([l.append('henb', T, '<k1/>'), l.append('henb', T, '<k2/>')]);
      const db = openDatabase(file);
      db.exec("CREATE TRIGGER test_refuse BEFORE INSERT ON notifications WHEN NEW.xml = '<boom/>' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
      db.close();
      const group = ['<g1/>', '<g2/>', '<boom/>', '<g4/>'].map((x) => l.append('henb', T, x));
      const outcomes = await Promise.allSettled(group);
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
      expect(committed(file)).toEqual(['<k1/>', '<k2/>']);
      const later = await l.append('henb', T, '<later/>');
      expect(later).toBeGreaterThan(kept[1]!);
      expect((await l.replayPage({ startTime: new Date(0) }, 0, 100)).map((e) => [e.id, e.xml])).toEqual([[kept[0], '<k1/>'], [kept[1], '<k2/>'], [later, '<later/>']]);
    });

    it('a bad event fails only its own append: the others of its group are stored, in call order', async () => {
      const { store } = await ownStore();
      const l = new EventLog(store);
      const outcomes = await Promise.allSettled([
        l.append('henb', T, '<a/>'), l.append('henb', new Date(Number.NaN), '<bad/>'), l.append('', T, '<bad2/>'), l.append('henb', T, '<b/>'),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_STORE_INVALID' });
      const [a, b] = [outcomes[0], outcomes[3]].map((o) => (o as PromiseFulfilledResult<number>).value);
      expect(b).toBeGreaterThan(a!);
      expect((await store.listNotifications({ since: 0 })).map((n) => [n.id, n.xml])).toEqual([[a, '<a/>'], [b, '<b/>']]);
    });

    it('close waits for the group being written; an append after close is ERR_EVENT_LOG_CLOSED and writes nothing', async () => {
      const { store } = await ownStore();
      const l = new EventLog(store);
      const p = [l.append('henb', T, '<a/>'), l.append('henb', T, '<b/>')];
      await l.close();
      expect(await Promise.all(p)).toHaveLength(2);
      await expect(l.append('henb', T, '<c/>')).rejects.toThrow(expect.objectContaining({ code: 'ERR_EVENT_LOG_CLOSED' }));
      expect((await store.listNotifications({ since: 0 })).map((n) => n.xml)).toEqual(['<a/>', '<b/>']);
    });
  });

  it('fails with coded errors', async () => {
    const l = await open();
    await l.close();
    await expect(l.lastId()).rejects.toThrow(EventLogError);
    await expect(l.append('NETCONF', new Date(), '<a/>')).rejects.toThrow(expect.objectContaining({ code: 'ERR_EVENT_LOG_CLOSED' }));
    const file = join(dirs[0]!, 'a-file');
    writeFileSync(file, 'x');
    await expect(openEventLog({ dir: join(file, 'sub') })).rejects.toThrow(expect.objectContaining({ code: 'ERR_EVENT_LOG_OPEN' }));
  });
});
