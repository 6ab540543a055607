import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog, EventLogError } from '../../src/store/event-log.js';

describe('EventLog', () => {
  const dirs: string[] = [];
  const logs: EventLog[] = [];
  afterEach(() => {
    for (const l of logs.splice(0)) l.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const open = (opts: Partial<Parameters<typeof EventLog.open>[0]> = {}, dir?: string): EventLog => {
    const d = dir ?? mkdtempSync(join(tmpdir(), 'hsv-evlog-'));
    if (!dir) dirs.push(d);
    const l = EventLog.open({ dir: d, ...opts });
    logs.push(l);
    return l;
  };

  it('appends, replays by time window, stream and id, and survives a reopen', () => {
    const l = open();
    const base = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const t = (s: number): Date => new Date(base + s * 1000);
    l.append('NETCONF', t(1), '<a/>');
    l.append('henb', t(2), '<b/>');
    const last = l.append('henb', t(3), '<c/>');
    expect(l.lastId()).toBe(last);
    expect([...l.replay({ startTime: t(0) })].map((e) => e.xml)).toEqual(['<a/>', '<b/>', '<c/>']);
    expect([...l.replay({ stream: 'NETCONF', startTime: t(2) })].map((e) => e.xml)).toEqual(['<b/>', '<c/>']);
    expect([...l.replay({ stream: 'henb', startTime: t(0), stopTime: t(2) })].map((e) => e.xml)).toEqual(['<b/>']);
    expect([...l.replay({ startTime: t(0), upToId: last - 1 })]).toHaveLength(2);
    const created = l.creationTime.toISOString();
    const dir = dirs[0]!;
    l.close();
    const again = open({}, dir);
    expect(again.count()).toBe(3);
    expect(again.creationTime.toISOString()).toBe(created);
    const ev = [...again.replay({ startTime: t(3) })][0]!;
    expect(ev).toEqual({ id: last, stream: 'henb', eventTime: t(3), xml: '<c/>' });
  });

  it('bounds the log by count and age and reports replayLogAgedTime', () => {
    let now = new Date('2026-01-10T00:00:00Z');
    const l = open({ maxEvents: 5, maxAgeMs: 24 * 3600 * 1000, now: () => now });
    for (let i = 0; i < 10; i++) l.append('NETCONF', new Date(now.getTime() - (10 - i) * 1000), `<e${i}/>`);
    l.prune();
    expect(l.count()).toBe(5);
    expect([...l.replay({ startTime: new Date(0) })][0]!.xml).toBe('<e5/>');
    expect(l.agedTime()!.toISOString()).toBe(new Date(now.getTime() - 6000).toISOString());
    now = new Date('2026-01-12T00:00:00Z');
    l.prune();
    expect(l.count()).toBe(0);
  });

  it('fails with coded errors', () => {
    const l = open();
    l.close();
    expect(() => l.lastId()).toThrow(EventLogError);
    const file = join(dirs[0]!, 'a-file');
    writeFileSync(file, 'x');
    expect(() => EventLog.open({ dir: join(file, 'sub') })).toThrow(expect.objectContaining({ code: 'ERR_EVENT_LOG_OPEN' }));
  });
});
