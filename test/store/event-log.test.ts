import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog, EventLogError, openEventLog, openSqliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/index.js';

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
