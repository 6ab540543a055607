import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { el, leaf, serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_LOG_FILE, EventLog, openSqliteStore } from '../../../src/store/index.js';
import type { Store } from '../../../src/store/index.js';
import type { ReplayLog } from '../../../src/netconf/server/registry.js';
import { createFake, NC } from './fake.js';
import { writeOldEventLog } from '../../store/old-event-log.js';
import type { Fake, FakeSession } from './fake.js';

const N = 'urn:ietf:params:xml:ns:netconf:notification:1.0';
const E = 'urn:example:events';
const ev = (name: string, v: string): XmlElement => el(E, name, leaf(E, 'v', v));
const names = (s: FakeSession): string[] => s.sent.map((n) => {
  const kids = n.children.filter((c): c is XmlElement => typeof c !== 'string');
  const body = kids[1]!;
  const v = body.children.find((c): c is XmlElement => typeof c !== 'string' && c.name === 'v');
  return v ? `${body.name}:${v.children[0] as string}` : body.name;
});
const sub = (inner = ''): string => `<create-subscription xmlns="${N}">${inner}</create-subscription>`;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const iso = (ms: number): string => new Date(ms).toISOString();

describe('RFC 5277 notifications', () => {
  let fake: Fake;
  let std: StandardOperations;
  afterEach(async () => {
    vi.useRealTimers();
    await std?.close();
    fake?.cleanup();
  });
  const setup = (now?: () => Date, replayPageSize?: number, maxEvents?: number): void => {
    fake = createFake();
    fake.streams.push({ name: 'henb', description: 'H(e)NB events', replaySupport: true }, { name: 'live', description: 'no replay', replaySupport: false });
    std = registerStandardOperations(fake.reg, {
      ietfYangDir: '/nonexistent', ...(now ? { now } : {}), ...(replayPageSize ? { notifications: { replayPageSize } } : {}),
      ...(maxEvents ? { eventLog: { maxEvents } } : {}),
    });
  };

  it('advertises notification and interleave and delivers live events matching the stream', async () => {
    setup();
    expect(fake.capabilities).toContain('urn:ietf:params:netconf:capability:notification:1.0');
    expect(fake.capabilities).toContain('urn:ietf:params:netconf:capability:interleave:1.0');
    const all = fake.session();
    const henb = fake.session();
    expect(await fake.call(all, sub())).toBe('ok');
    expect(await fake.call(henb, sub('<stream>henb</stream>'))).toBe('ok');
    await tick();
    await fake.notify('henb', ev('alarm', '1'), new Date('2026-01-01T00:00:05Z'));
    await fake.notify('other', ev('x', '2'));
    expect(names(all)).toEqual(['alarm:1', 'x:2']);
    expect(names(henb)).toEqual(['alarm:1']);
    expect(serializeXml(henb.sent[0]!)).toBe(`<notification xmlns="${N}"><eventTime>2026-01-01T00:00:05.000Z</eventTime><alarm xmlns="${E}"><v>1</v></alarm></notification>`);
    // :interleave: the subscribed session still runs operations
    expect(await fake.call(all, `<get-config xmlns="${NC}"><source><running/></source></get-config>`)).not.toBe('ok');
  });

  it('applies the subtree filter to select events', async () => {
    setup();
    const s = fake.session();
    await fake.call(s, sub(`<filter type="subtree"><alarm xmlns="${E}"><v>2</v></alarm></filter>`));
    await tick();
    await fake.notify('NETCONF', ev('alarm', '1'));
    await fake.notify('NETCONF', ev('alarm', '2'));
    await fake.notify('NETCONF', ev('other', '2'));
    expect(names(s)).toEqual(['alarm:2']);
  });

  it('applies an XPath filter (:xpath, RFC 5277 3.6) to select events, by node-set or by boolean', async () => {
    setup();
    expect(fake.capabilities).toContain('urn:ietf:params:netconf:capability:xpath:1.0');
    const a = fake.session();
    const b = fake.session();
    expect(await fake.call(a, sub(`<filter type="xpath" xmlns:e="${E}" select="/e:alarm[e:v &gt; 1]"/>`))).toBe('ok');
    expect(await fake.call(b, sub(`<filter type="xpath" xmlns:e="${E}" select="local-name(/*) = 'other' or /e:alarm/e:v = 1"/>`))).toBe('ok');
    await tick();
    await fake.notify('NETCONF', ev('alarm', '1'));
    await fake.notify('NETCONF', ev('alarm', '2'));
    await fake.notify('NETCONF', ev('other', '3'));
    expect(names(a)).toEqual(['alarm:2']);
    expect(names(b)).toEqual(['alarm:1', 'other:3']);
  });

  it('replays from the log, then replayComplete, then live; nothing lost or repeated', async () => {
    setup();
    const t0 = new Date(Date.now() - 60_000);
    await fake.notify('henb', ev('a', '1'), new Date(t0.getTime() + 1000));
    await fake.notify('other', ev('a', '2'), new Date(t0.getTime() + 2000));
    await fake.notify('henb', ev('a', '3'), new Date(t0.getTime() + 3000));
    const s = fake.session();
    await fake.call(s, sub(`<stream>henb</stream><startTime>${new Date(t0.getTime() + 1500).toISOString()}</startTime>`));
    // an event between the reply and the replay is queued, not lost, not repeated
    await fake.notify('henb', ev('a', '4'));
    expect(s.sent).toEqual([]);
    await tick();
    expect(names(s)).toEqual(['a:3', 'replayComplete', 'a:4']);
    await fake.notify('henb', ev('a', '5'));
    expect(names(s)).toEqual(['a:3', 'replayComplete', 'a:4', 'a:5']);
  });

  it('a replay in pages keeps order while live events arrive between pages', async () => {
    setup(undefined, 3);
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 10; i++) await fake.notify('NETCONF', ev('r', String(i)), new Date(t0 + i));
    const s = fake.session();
    await fake.call(s, sub(`<startTime>${new Date(t0).toISOString()}</startTime>`));
    for (let i = 0; i < 8 && !names(s).includes('replayComplete'); i++) {
      await tick();
      await fake.notify('NETCONF', ev('l', String(i)));
    }
    await tick();
    const got = names(s);
    const rc = got.indexOf('replayComplete');
    expect(got.slice(0, rc)).toEqual(Array.from({ length: 10 }, (_, i) => `r:${i}`));
    const live = got.slice(rc + 1);
    expect(live.length).toBeGreaterThan(0);
    expect(live).toEqual(live.map((_, i) => `l:${i}`));
  });

  it('replay with a past stopTime ends with notificationComplete and frees the session for a new subscription', async () => {
    setup();
    const t0 = Date.now() - 60_000;
    await fake.notify('NETCONF', ev('a', '1'), new Date(t0 + 1000));
    await fake.notify('NETCONF', ev('a', '2'), new Date(t0 + 5000));
    const s = fake.session();
    await fake.call(s, sub(`<startTime>${new Date(t0).toISOString()}</startTime><stopTime>${new Date(t0 + 2000).toISOString()}</stopTime>`));
    await tick();
    expect(names(s)).toEqual(['a:1', 'replayComplete', 'notificationComplete']);
    expect(std.notifications.activeSubscriptions()).toBe(0);
    expect(await fake.call(s, sub())).toBe('ok');
  });

  it('a future stopTime sends notificationComplete when it passes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(new Date('2026-02-01T00:00:00Z'));
    setup();
    const s = fake.session();
    await fake.call(s, sub(`<startTime>2026-01-31T00:00:00Z</startTime><stopTime>2026-02-01T00:00:10Z</stopTime>`));
    await new Promise<void>((r) => setImmediate(r));
    await fake.notify('NETCONF', ev('a', '1'), new Date('2026-02-01T00:00:01Z'));
    await fake.notify('NETCONF', ev('a', '2'), new Date('2026-02-01T00:00:11Z'));
    vi.advanceTimersByTime(10_000);
    expect(names(s)).toEqual(['replayComplete', 'a:1', 'notificationComplete']);
    expect(std.notifications.activeSubscriptions()).toBe(0);
  });

  // RFC 5277 section 2.1.1 (negative response) and 6.5; RFC 6241 appendix A for the rest
  const ERRORS: Array<[string, (now: number) => string, { type: string; tag: string; badElement?: string }]> = [
    ['stopTime without startTime', (n) => `<stopTime>${iso(n - 3600_000)}</stopTime>`, { type: 'protocol', tag: 'missing-element', badElement: 'startTime' }],
    ['startTime later than now', (n) => `<startTime>${iso(n + 3600_000)}</startTime>`, { type: 'protocol', tag: 'bad-element', badElement: 'startTime' }],
    ['stopTime earlier than startTime', (n) => `<startTime>${iso(n - 3600_000)}</startTime><stopTime>${iso(n - 7200_000)}</stopTime>`, { type: 'protocol', tag: 'bad-element', badElement: 'stopTime' }],
    ['replay on a stream without replay support', (n) => `<stream>live</stream><startTime>${iso(n - 3600_000)}</startTime>`, { type: 'protocol', tag: 'operation-failed' }],
    ['unknown stream', () => '<stream>nope</stream>', { type: 'application', tag: 'invalid-value', badElement: 'stream' }],
    ['startTime not a date-time', () => '<startTime>yesterday</startTime>', { type: 'protocol', tag: 'invalid-value', badElement: 'startTime' }],
    ['startTime on a day the month does not have (RFC 3339 5.7)', () => '<startTime>2025-02-30T00:00:00Z</startTime>', { type: 'protocol', tag: 'invalid-value', badElement: 'startTime' }],
    ['stopTime at hour 24 (RFC 3339 5.6)', () => '<startTime>2025-01-01T00:00:00Z</startTime><stopTime>2025-01-01T24:00:00Z</stopTime>', { type: 'protocol', tag: 'invalid-value', badElement: 'stopTime' }],
    ['startTime with an offset of 24 hours', () => '<startTime>2025-01-01T00:00:00+24:00</startTime>', { type: 'protocol', tag: 'invalid-value', badElement: 'startTime' }],
    ['an xpath filter without select (RFC 6241 8.9)', () => '<filter type="xpath"/>', { type: 'protocol', tag: 'missing-attribute', badElement: 'filter' }],
    ['an xpath filter that does not parse', () => '<filter type="xpath" select="/a["/>', { type: 'protocol', tag: 'invalid-value', badElement: 'filter' }],
    ['an xpath filter with an undeclared prefix', () => '<filter type="xpath" select="/e:alarm"/>', { type: 'protocol', tag: 'invalid-value', badElement: 'filter' }],
  ];
  it.each(ERRORS)('refuses %s', async (_name, body, want) => {
    setup();
    const s = fake.session();
    const [e, ...more] = await fake.fail(s, sub(body(Date.now())));
    expect(more).toEqual([]);
    expect({ type: e!.type, tag: e!.tag }).toEqual({ type: want.type, tag: want.tag });
    const infos = (e!.info ?? []).map((i) => serializeXml(i));
    if (want.badElement) expect(infos).toContain(`<bad-element xmlns="${NC}">${want.badElement}</bad-element>`);
    if (want.tag === 'operation-failed') expect(infos).toEqual([]); // RFC 5277: Error-info: none
    // nothing was subscribed: the session may still subscribe
    expect(std.notifications.activeSubscriptions()).toBe(0);
    expect(await fake.call(s, sub())).toBe('ok');
  });

  it('a second create-subscription while one is active: operation-failed, protocol, no error-info (RFC 5277 6.5)', async () => {
    setup();
    const s = fake.session();
    expect(await fake.call(s, sub())).toBe('ok');
    const errs = await fake.fail(s, sub());
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ type: 'protocol', tag: 'operation-failed' });
    expect(errs[0]!.info ?? []).toEqual([]);
    expect(std.notifications.activeSubscriptions()).toBe(1);
  });

  it('accepts RFC 3339 times with offsets and fractions, and the filter in either namespace', async () => {
    setup();
    const t = Date.now() - 3600_000;
    await fake.notify('NETCONF', ev('a', '1'), new Date(t + 1000));
    // the same instant as t, written with a +05:30 offset and nanoseconds
    const local = new Date(t + 5.5 * 3600_000).toISOString().replace('Z', '').replace(/\.\d+$/, '');
    const ms = String(t % 1000).padStart(3, '0');
    const a = fake.session();
    expect(await fake.call(a, sub(`<startTime>${local}.${ms}000000+05:30</startTime>`))).toBe('ok');
    const b = fake.session();
    expect(await fake.call(b, sub(`<filter xmlns="${NC}" type="subtree"><a xmlns="${E}"/></filter>`))).toBe('ok');
    await tick();
    expect(names(a)).toEqual(['a:1', 'replayComplete']);
    await fake.notify('NETCONF', ev('b', '2'));
    await fake.notify('NETCONF', ev('a', '3'));
    expect(names(b)).toEqual(['a:3']);
    // February 29 of a leap year is a day
    expect(await fake.call(fake.session(), sub('<startTime>2024-02-29T23:59:59-00:00</startTime>'))).toBe('ok');
  });

  it('the filter selects events only: replayComplete and notificationComplete are always sent', async () => {
    setup();
    const t = Date.now() - 60_000;
    await fake.notify('NETCONF', ev('a', '1'), new Date(t + 1000));
    const s = fake.session();
    await fake.call(s, sub(`<filter type="subtree"><nothing-matches xmlns="${E}"/></filter><startTime>${iso(t)}</startTime><stopTime>${iso(t + 2000)}</stopTime>`));
    await tick();
    expect(names(s)).toEqual(['replayComplete', 'notificationComplete']);
  });

  it('a startTime earlier than the log keeps begins with the earliest kept event; replayLogAgedTime says what was dropped', async () => {
    setup(undefined, undefined, 2);
    const t = Date.now() - 60_000;
    for (let i = 0; i < 5; i++) await fake.notify('henb', ev('e', String(i)), new Date(t + i * 1000));
    // retention (run now rather than every 256 appends) keeps the newest two
    const log = (await std.eventLog())!;
    await log.prune();
    expect(await log.count()).toBe(2);
    const s = fake.session();
    await fake.call(s, sub(`<stream>henb</stream><startTime>${iso(t - 3600_000)}</startTime>`));
    await tick();
    expect(names(s)).toEqual(['e:3', 'e:4', 'replayComplete']);
    const out = await fake.call(fake.session(), `<get xmlns="${NC}"><filter><netconf xmlns="urn:ietf:params:xml:ns:netmod:notification"/></filter></get>`);
    const xml = out === 'ok' ? '' : serializeXml(out[0]!);
    expect(xml).toContain(`<stream><name>henb</name><description>H(e)NB events</description><replaySupport>true</replaySupport><replayLogCreationTime>${(await log.times()).created.toISOString()}</replayLogCreationTime><replayLogAgedTime>${iso(t + 2000)}</replayLogAgedTime></stream>`);
    expect(xml).toContain('<stream><name>live</name><description>no replay</description><replaySupport>false</replaySupport></stream>');
  });

  it('ends the subscription when the session ends', async () => {
    setup();
    const s = fake.session();
    await fake.call(s, sub());
    await tick();
    s.end();
    expect(std.notifications.activeSubscriptions()).toBe(0);
    await fake.notify('NETCONF', ev('a', '1'));
    expect(s.sent).toEqual([]);
  });

  it('lists streams in the nc-notifications netconf state', async () => {
    setup();
    const out = await fake.call(fake.session(), `<get xmlns="${NC}"><filter><netconf xmlns="urn:ietf:params:xml:ns:netmod:notification"/></filter></get>`);
    const xml = out === 'ok' ? '' : serializeXml(out[0]!);
    expect(xml).toContain('<stream><name>NETCONF</name>');
    expect(xml).toMatch(/<stream><name>henb<\/name><description>H\(e\)NB events<\/description><replaySupport>true<\/replaySupport><replayLogCreationTime>/);
    expect(xml).toContain('<stream><name>live</name><description>no replay</description><replaySupport>false</replaySupport></stream>');
  });

  describe('a replay log provided in place of the server\'s own (NetconfRegistry.setReplayLog), shared with other instances', () => {
    let store: Store | undefined;
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });
    const xmlOf = (e: XmlElement): string => serializeXml(e);

    it('logs into it and replays what another instance logged, before and after this server started', async () => {
      setup();
      store = await openSqliteStore({ path: ':memory:' });
      const mine = new EventLog(store);
      const other = new EventLog(store); // another OAM instance's view of the same table
      const t = Date.now() - 60_000;
      await other.append('henb', new Date(t + 1000), xmlOf(ev('a', '1')));
      std.notifications.useReplayLog(mine);
      await fake.notify('henb', ev('a', '2'), new Date(t + 2000));
      await other.append('henb', new Date(t + 3000), xmlOf(ev('a', '3')));
      await other.append('other', new Date(t + 3500), xmlOf(ev('b', '1')));
      const s = fake.session();
      await fake.call(s, sub(`<stream>henb</stream><startTime>${iso(t)}</startTime>`));
      await tick();
      await tick();
      expect(names(s)).toEqual(['a:1', 'a:2', 'a:3', 'replayComplete']);
      // live events of this instance follow; the other instance's go to its own subscribers only
      await fake.notify('henb', ev('a', '4'));
      expect(names(s).at(-1)).toBe('a:4');
      expect((await store.listNotifications({ since: 0 })).map((n) => n.stream)).toEqual(['henb', 'henb', 'henb', 'other', 'henb']);
      // the server never opened a file of its own
      expect(await std.eventLog()).toBeUndefined();
      expect(existsSync(join(fake.dataDir, EVENT_LOG_FILE))).toBe(false);
      const out = await fake.call(fake.session(), `<get xmlns="${NC}"><filter><netconf xmlns="urn:ietf:params:xml:ns:netmod:notification"/></filter></get>`);
      expect(out === 'ok' ? '' : serializeXml(out[0]!)).toContain(`<replayLogCreationTime>${new Date((await store.notificationLogTimes()).createdAt).toISOString()}</replayLogCreationTime>`);
    });

    it('the server\'s event-log.sqlite of an earlier version goes into the provided log before its first use, once', async () => {
      const t = Date.now() - 60_000;
      const dataDir = createFake().dataDir;
      writeOldEventLog(dataDir, [
        { stream: 'henb', at: t + 1000, xml: xmlOf(ev('old', '1')) },
        { stream: 'NETCONF', at: t + 2000, xml: xmlOf(ev('old', '2')) },
      ]);
      store = await openSqliteStore({ path: ':memory:' });
      for (const round of [1, 2]) {
        fake = createFake({ dataDir });
        std = registerStandardOperations(fake.reg, { ietfYangDir: '/nonexistent' });
        std.notifications.useReplayLog(new EventLog(store));
        await fake.notify('henb', ev('new', String(round)), new Date(t + 3000 + round));
        const s = fake.session();
        await fake.call(s, sub(`<startTime>${iso(t)}</startTime>`));
        await tick();
        await tick();
        // the old events come first (imported before this server logged anything), and only once
        expect(names(s)).toEqual(['old:1', 'old:2', ...(round === 2 ? ['new:1'] : []), `new:${round}`, 'replayComplete']);
        expect(existsSync(join(dataDir, EVENT_LOG_FILE))).toBe(false);
        expect(existsSync(join(dataDir, `${EVENT_LOG_FILE}.imported`))).toBe(true);
        await std.close();
      }
      fake.cleanup();
    });

    it('a server without a provided log (a simulated femtocell): its own event-log.sqlite of an earlier version is replayed, once', async () => {
      const t = Date.now() - 60_000;
      const dataDir = createFake().dataDir;
      writeOldEventLog(dataDir, [
        { stream: 'henb', at: t + 1000, xml: xmlOf(ev('old', '1')) },
        { stream: 'NETCONF', at: t + 2000, xml: xmlOf(ev('old', '2')) },
      ]);
      for (const round of [1, 2]) {
        fake = createFake({ dataDir });
        std = registerStandardOperations(fake.reg, { ietfYangDir: '/nonexistent' });
        await fake.notify('henb', ev('new', String(round)), new Date(t + 3000 + round));
        const s = fake.session();
        await fake.call(s, sub(`<startTime>${iso(t)}</startTime>`));
        await tick();
        await tick();
        // the file is the server's own log (migrated in place); the old events are in it once, by time
        expect(names(s)).toEqual(['old:1', 'old:2', ...(round === 2 ? ['new:1'] : []), `new:${round}`, 'replayComplete']);
        expect(existsSync(join(dataDir, EVENT_LOG_FILE))).toBe(true);
        await std.close();
      }
      fake.cleanup();
    });

    it('is refused once the server\'s own log is in use (no event is split between two logs)', async () => {
      setup();
      await fake.notify('henb', ev('a', '1'));
      store = await openSqliteStore({ path: ':memory:' });
      expect(() => std.notifications.useReplayLog(new EventLog(store!))).toThrow(expect.objectContaining({ code: 'ERR_REGISTRY_INVALID' }));
    });

    it('a log that cannot be read: create-subscription with startTime is operation-failed and the session may subscribe again', async () => {
      setup();
      const broken: ReplayLog = {
        append: () => Promise.resolve(1),
        lastId: () => Promise.reject(new Error('connection lost')),
        replayPage: () => Promise.resolve([]),
        times: () => Promise.resolve({ created: new Date(0), aged: undefined }),
      };
      std.notifications.useReplayLog(broken);
      const s = fake.session();
      await expect(fake.call(s, sub(`<startTime>${iso(Date.now() - 1000)}</startTime>`))).rejects.toMatchObject({ errors: [{ type: 'application', tag: 'operation-failed' }] });
      expect(std.notifications.activeSubscriptions()).toBe(0);
      expect(await fake.call(s, sub())).toBe('ok');
    });
  });
});
