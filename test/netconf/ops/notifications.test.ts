import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { el, leaf, serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { createFake, NC } from './fake.js';
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

describe('RFC 5277 notifications', () => {
  let fake: Fake;
  let std: StandardOperations;
  afterEach(() => {
    vi.useRealTimers();
    std?.close();
    fake?.cleanup();
  });
  const setup = (now?: () => Date, replayPageSize?: number): void => {
    fake = createFake();
    fake.streams.push({ name: 'henb', description: 'H(e)NB events', replaySupport: true }, { name: 'live', description: 'no replay', replaySupport: false });
    std = registerStandardOperations(fake.reg, {
      ietfYangDir: '/nonexistent', ...(now ? { now } : {}), ...(replayPageSize ? { notifications: { replayPageSize } } : {}),
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

  it('answers the RFC 5277 errors', async () => {
    setup();
    const s = fake.session();
    const future = new Date(Date.now() + 3600_000).toISOString();
    const past = new Date(Date.now() - 3600_000).toISOString();
    const e1 = await fake.fail(s, sub(`<stopTime>${past}</stopTime>`));
    expect(e1[0]).toMatchObject({ type: 'protocol', tag: 'missing-element' });
    expect(serializeXml(e1[0]!.info![0]!)).toContain('startTime');
    expect((await fake.fail(s, sub(`<startTime>${future}</startTime>`)))[0]).toMatchObject({ tag: 'bad-element' });
    const e3 = await fake.fail(s, sub(`<startTime>${past}</startTime><stopTime>${new Date(Date.now() - 7200_000).toISOString()}</stopTime>`));
    expect(e3[0]!.tag).toBe('bad-element');
    expect(serializeXml(e3[0]!.info![0]!)).toContain('stopTime');
    expect((await fake.fail(s, sub('<stream>nope</stream>')))[0]!.tag).toBe('invalid-value');
    expect((await fake.fail(s, sub(`<stream>live</stream><startTime>${past}</startTime>`)))[0]!.tag).toBe('operation-failed');
    expect((await fake.fail(s, sub('<startTime>yesterday</startTime>')))[0]!.tag).toBe('invalid-value');
    expect(await fake.call(s, sub())).toBe('ok');
    expect((await fake.fail(s, sub()))[0]!.tag).toBe('in-use');
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
});
