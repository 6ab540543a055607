/**
 * A live event is serialised once (issue 15): the text the replay log stores is the one every subscriber's
 * <notification> is made of, and that notification text is made once for all subscribers. What a subscriber
 * receives is, byte for byte, serializeXml(notificationElement(eventTime, event)), as before.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { notificationElement, notificationText } from '../../../src/netconf/server/notifications.js';
import { el, elA, leaf, parseXml, serializeXml, NETCONF_NOTIFICATION_NS } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { createFake } from './fake.js';
import type { Fake } from './fake.js';

const E = 'urn:example:events';
const T = new Date('2026-12-06T10:11:12.345Z');

/** events of every shape the serialiser treats apart: namespaces, prefixes, attributes, escapes */
const EVENTS: Array<[string, XmlElement]> = [
  ['plain', el(E, 'alarm', leaf(E, 'v', '1'))],
  ['the OAM progress', el('urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify', 'software-update-progress',
    leaf('urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify', 'job-id', 'job-1'), leaf('urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify', 'text', 'a < b & c > d'))],
  ['children in other namespaces', el(E, 'alarm', leaf('urn:other', 'x', '1'), el(E, 'in', leaf('urn:third', 'y', '"q"')))],
  ['prefixes declared (identityref text)', { ...el(E, 'alarm', leaf(E, 'kind', 'p:thing')), nsContext: { p: 'urn:p', q: 'urn:q' } }],
  ['attributes, namespaced ones too', elA(E, 'alarm', [{ ns: '', name: 'a', value: 'x"y' }, { ns: 'urn:attr', name: 'b', value: '1' }], leaf(E, 'v', '1'))],
  ['parsed, with prefixes', parseXml('<e:alarm xmlns:e="urn:example:events" xmlns:f="urn:f"><e:v>1</e:v><f:w f:k="2">t</f:w></e:alarm>')],
  ['in the notification namespace', el(NETCONF_NOTIFICATION_NS, 'replayComplete')],
  ['in no namespace', el('', 'bare', leaf('', 'v', '1'))],
  ['in no namespace, a child in one', el('', 'bare', leaf(E, 'v', '1'))],
];

describe('notificationText', () => {
  it.each(EVENTS)('%s: the bytes of serializeXml(notificationElement(...))', (_name, event) => {
    expect(notificationText(T, event, serializeXml(event))).toBe(serializeXml(notificationElement(T, event)));
  });
});

describe('a live event to several subscribers', () => {
  let fake: Fake;
  let std: StandardOperations;
  afterEach(async () => {
    await std?.close();
    fake?.cleanup();
  });

  it('is serialised once (log and every subscriber); each gets serializeXml(notificationElement(...))', async () => {
    fake = createFake();
    fake.streams.push({ name: 'henb', description: 'H(e)NB events', replaySupport: true });
    std = registerStandardOperations(fake.reg, { ietfYangDir: '/nonexistent' });
    const subs = [fake.session(), fake.session(), fake.session()];
    for (const s of subs) expect(await fake.call(s, `<create-subscription xmlns="${NETCONF_NOTIFICATION_NS}"><stream>henb</stream></create-subscription>`)).toBe('ok');
    await new Promise((r) => setImmediate(r));
    const plain = el(E, 'alarm', leaf(E, 'v', '1'), leaf(E, 'text', 'x & y'));
    // the serialiser reads each element's attributes once per serialisation: count the event's
    let serialised = 0;
    const event = new Proxy(plain, {
      get(target, key, receiver) {
        if (key === 'attrs') serialised++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    await fake.notify('henb', event, T);
    expect(serialised).toBe(1);
    const expected = serializeXml(notificationElement(T, plain));
    for (const s of subs) expect(s.texts).toEqual([expected]);
    // and the log holds the same event text (a replay sends it again)
    const late = fake.session();
    expect(await fake.call(late, `<create-subscription xmlns="${NETCONF_NOTIFICATION_NS}"><stream>henb</stream><startTime>2026-12-06T00:00:00Z</startTime></create-subscription>`)).toBe('ok');
    for (let i = 0; i < 50 && late.texts.length < 2; i++) await new Promise((r) => setImmediate(r));
    expect(late.texts[0]).toBe(expected);
  });
});
