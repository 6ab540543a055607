/** nacm.ts without sockets: reading /nacm (defaults, rule types) and rule paths (RFC 8341 node-instance-identifier). */
import { describe, expect, it } from 'vitest';
import { NACM_NS, initialNacm, parseNacm, parsePath } from '../../../src/netconf/server/nacm.js';
import { parseXml } from '../../../src/netconf/xml/index.js';

const MODULES = [{ name: 'henb-sw-verify', prefix: 'hsv', namespace: 'urn:hsv', revision: '2026-11-28', text: '' }];

describe('parsePath', () => {
  it.each([
    ['/hsv:inventory', {}, [{ ns: 'urn:hsv', name: 'inventory', keys: [] }]],
    ['/henb-sw-verify:inventory/henb-sw-verify:henb', {}, [{ ns: 'urn:hsv', name: 'inventory', keys: [] }, { ns: 'urn:hsv', name: 'henb', keys: [] }]],
    ["/x:inventory/x:henb[x:henb-id='site-1']", { x: 'urn:other' }, [{ ns: 'urn:other', name: 'inventory', keys: [] },
      { ns: 'urn:other', name: 'henb', keys: [{ ns: 'urn:other', name: 'henb-id', value: 'site-1' }] }]],
    ['/hsv:henbs/hsv:henb[hsv:henb-id="a b"]/hsv:rim', {}, [{ ns: 'urn:hsv', name: 'henbs', keys: [] },
      { ns: 'urn:hsv', name: 'henb', keys: [{ ns: 'urn:hsv', name: 'henb-id', value: 'a b' }] }, { ns: 'urn:hsv', name: 'rim', keys: [] }]],
    ['/', {}, []],
  ])('%s', (text, ctx, want) => {
    expect(parsePath(text, ctx, MODULES)).toEqual(want);
  });

  it.each(['hsv:inventory', '/nope:inventory', '/hsv:inventory[', "/hsv:a[hsv:k='v'", '/hsv:a//hsv:b'])('%s cannot be read: matches nothing', (text) => {
    expect(parsePath(text, {}, MODULES)).toBeUndefined();
  });
});

describe('parseNacm', () => {
  it('RFC 8341 defaults without /nacm', () => {
    expect(parseNacm([], MODULES)).toMatchObject({ enabled: true, readDefault: 'permit', writeDefault: 'deny', execDefault: 'permit', externalGroups: true, ruleLists: [] });
  });

  it('the first-start configuration: rule-list admin permits everything to group admin', () => {
    const cfg = parseNacm([initialNacm()], MODULES);
    expect(cfg.ruleLists).toEqual([{ name: 'admin', groups: ['admin'], rules: [{ name: 'permit-all', module: '*', type: { kind: 'any' }, ops: '*', action: 'permit' }] }]);
  });

  it('globals, groups and the four rule types', () => {
    const cfg = parseNacm([parseXml(`<nacm xmlns="${NACM_NS}"><enable-nacm>false</enable-nacm><read-default>deny</read-default>
      <write-default>permit</write-default><exec-default>deny</exec-default><enable-external-groups>false</enable-external-groups>
      <groups><group><name>noc</name><user-name>ann</user-name><user-name>bob</user-name></group></groups>
      <rule-list><name>l</name><group>noc</group><group>*</group>
        <rule><name>r1</name><module-name>henb-sw-verify</module-name><rpc-name>software-update</rpc-name><access-operations>exec</access-operations><action>permit</action></rule>
        <rule><name>r2</name><notification-name>*</notification-name><access-operations>read</access-operations><action>deny</action></rule>
        <rule><name>r3</name><path xmlns:h="urn:hsv">/h:inventory</path><access-operations>create update</access-operations><action>deny</action></rule>
        <rule><name>r4</name><action>deny</action></rule>
      </rule-list></nacm>`)], MODULES);
    expect(cfg).toMatchObject({ enabled: false, readDefault: 'deny', writeDefault: 'permit', execDefault: 'deny', externalGroups: false });
    expect([...cfg.groups.get('noc')!]).toEqual(['ann', 'bob']);
    const [r1, r2, r3, r4] = cfg.ruleLists[0]!.rules;
    expect(cfg.ruleLists[0]!.groups).toEqual(['noc', '*']);
    expect(r1).toMatchObject({ module: 'henb-sw-verify', type: { kind: 'rpc', name: 'software-update' }, ops: new Set(['exec']), action: 'permit' });
    expect(r2).toMatchObject({ module: '*', type: { kind: 'notification', name: '*' }, ops: new Set(['read']), action: 'deny' });
    expect(r3).toMatchObject({ type: { kind: 'path', steps: [{ ns: 'urn:hsv', name: 'inventory', keys: [] }] }, ops: new Set(['create', 'update']) });
    expect(r4).toMatchObject({ module: '*', type: { kind: 'any' }, ops: '*', action: 'deny' });
  });
});
