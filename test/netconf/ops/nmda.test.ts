/**
 * NMDA (RFC 8526, RFC 8525, RFC 8342): get-data and edit-data over the standard operations with our real
 * YANG modules (defaults, config true / false), /yang-library, the hello, and the rpc-errors for bad input.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { child, childText, childrenNamed, el, elements, leaf, serializeXml, textOf } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { loadYang } from '../../../src/yang/index.js';
import type { LoadedYang } from '../../../src/yang/index.js';
import { createFake, NC } from './fake.js';
import type { Fake } from './fake.js';
import type { RpcErrorInfo } from '../../../src/netconf/rpc-error.js';

const ROOT = join(import.meta.dirname, '../../..');
const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const NM = 'urn:ietf:params:xml:ns:yang:ietf-netconf-nmda';
const DS = 'urn:ietf:params:xml:ns:yang:ietf-datastores';
const OR = 'urn:ietf:params:xml:ns:yang:ietf-origin';
const L = 'urn:ietf:params:xml:ns:yang:ietf-yang-library';
const WD = 'urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults';
const show = (r: XmlElement[] | 'ok'): string => (r === 'ok' ? 'ok' : r.map((e) => serializeXml(e)).join(''));
const getData = (body: string): string => `<get-data xmlns="${NM}" xmlns:ds="${DS}" xmlns:or="${OR}">${body}</get-data>`;
const editData = (body: string): string => `<edit-data xmlns="${NM}" xmlns:ds="${DS}">${body}</edit-data>`;
const dataOf = (r: XmlElement[] | 'ok'): XmlElement => {
  if (r === 'ok') throw new Error('no data');
  expect(r).toHaveLength(1);
  expect(r[0]!.ns).toBe(NM);
  expect(r[0]!.name).toBe('data');
  return r[0]!;
};
/** an rpc-error as type, tag and its error-info by element name */
const typeTagInfo = (e: RpcErrorInfo): { type: string; tag: string; info: Record<string, string> } =>
  ({ type: e.type, tag: e.tag, info: Object.fromEntries((e.info ?? []).map((i) => [i.name, textOf(i)])) });
const originOf = (e: XmlElement | undefined): string | undefined => e?.attrs.find((a) => a.ns === OR && a.name === 'origin')?.value;

describe('NMDA get-data / edit-data (RFC 8526)', () => {
  let yang: LoadedYang;
  let fake: Fake;
  let std: StandardOperations;
  beforeAll(async () => {
    yang = await loadYang(join(ROOT, 'yang'));
  });
  afterEach(async () => {
    await std?.close();
    fake?.cleanup();
  });
  const setup = async (): Promise<void> => {
    fake = createFake({ validator: yang.validator });
    fake.states.push({ ns: HSV, name: 'henbs', provider: () => el(HSV, 'henbs',
      el(HSV, 'henb', leaf(HSV, 'henb-id', 'h1'), leaf(HSV, 'state', 'trusted')),
      el(HSV, 'henb', leaf(HSV, 'henb-id', 'h2'), leaf(HSV, 'state', 'quarantined'))) });
    std = registerStandardOperations(fake.reg, { ietfYangDir: join(ROOT, 'yang/ietf'), nmdaYangDir: join(ROOT, 'yang-library'), eventLog: false });
    // step-timeout is set to its default value on purpose: it is configuration (intended), not a default in use
    expect(await fake.call(fake.session(), editData(`<datastore>ds:running</datastore><config>` +
      `<inventory xmlns="${HSV}"><henb><henb-id>a</henb-id><address>10.0.0.1</address></henb></inventory>` +
      `<policies xmlns="${HSV}"><step-timeout>300</step-timeout></policies></config>`))).toBe('ok');
  };

  it('the hello: yang-library 1.1 (content-id) and 1.0 (module-set-id), with-operational-defaults', async () => {
    await setup();
    const caps = fake.capabilities;
    const v11 = caps.find((c) => c.startsWith('urn:ietf:params:netconf:capability:yang-library:1.1?'))!;
    expect(v11).toMatch(/^urn:ietf:params:netconf:capability:yang-library:1\.1\?revision=2019-01-04&content-id=[0-9a-f]{32}$/);
    expect(caps.some((c) => /^urn:ietf:params:netconf:capability:yang-library:1\.0\?revision=2019-01-04&module-set-id=[0-9a-f]{32}$/.test(c))).toBe(true);
    expect(caps).toContain('urn:ietf:params:netconf:capability:with-operational-defaults:1.0?basic-mode=report-all&also-supported=explicit,trim,report-all-tagged');
    // the YANG 1.1 NMDA modules are announced through the library, not as capabilities
    expect(caps.some((c) => c.includes('module=ietf-netconf-nmda'))).toBe(false);
    // the content-id is /yang-library/content-id
    const lib = child(dataOf(await fake.call(fake.session(), getData(`<datastore>ds:operational</datastore><subtree-filter><yang-library xmlns="${L}"/></subtree-filter>`))), L, 'yang-library')!;
    expect(v11.endsWith(`content-id=${childText(lib, L, 'content-id')}`)).toBe(true);
  });

  it('/yang-library (RFC 8525): one module set and schema, the three datastores, implemented and import-only modules', async () => {
    await setup();
    const xml = show(await fake.call(fake.session(), getData(`<datastore>ds:operational</datastore><subtree-filter><yang-library xmlns="${L}"/></subtree-filter>`)));
    const lib = child(dataOf(await fake.call(fake.session(), getData(`<datastore>ds:operational</datastore><subtree-filter><yang-library xmlns="${L}"/></subtree-filter>`))), L, 'yang-library')!;
    const set = child(lib, L, 'module-set')!;
    expect(childText(set, L, 'name')).toBe('complete');
    const implemented = childrenNamed(set, L, 'module').map((m) => `${childText(m, L, 'name')}@${childText(m, L, 'revision')}`);
    expect(implemented).toEqual(expect.arrayContaining(['ietf-netconf-nmda@2019-01-07', 'ietf-yang-library@2019-01-04', 'ietf-datastores@2018-02-14', 'ietf-origin@2018-02-14', 'ietf-netconf@2011-06-01']));
    const nmda = childrenNamed(set, L, 'module').find((m) => childText(m, L, 'name') === 'ietf-netconf-nmda')!;
    expect(childrenNamed(nmda, L, 'feature').map((f) => textOf(f))).toEqual(['origin', 'with-defaults']);
    expect(childrenNamed(set, L, 'import-only-module').map((m) => childText(m, L, 'name'))).toEqual(expect.arrayContaining(['ietf-yang-metadata', 'ietf-yang-types', 'ietf-inet-types']));
    // no module is both implemented and import-only, and no name is implemented twice
    expect(new Set(implemented.map((m) => m.split('@')[0])).size).toBe(implemented.length);
    expect(xml).toContain('<schema><name>complete</name><module-set>complete</module-set></schema>');
    // datastore names are identities of ietf-datastores, with their prefix declared
    expect(xml).toContain(`xmlns:ds="${DS}"`);
    expect(childrenNamed(lib, L, 'datastore').map((d) => childText(d, L, 'name'))).toEqual(['ds:running', 'ds:intended', 'ds:operational']);
  });

  it('running and intended: the configuration as written; operational adds state and the defaults in use', async () => {
    await setup();
    const s = fake.session();
    const running = show(await fake.call(s, getData('<datastore>ds:running</datastore>')));
    expect(running).toBe(`<data xmlns="${NM}"><inventory xmlns="${HSV}"><henb><henb-id>a</henb-id><address>10.0.0.1</address></henb></inventory>` +
      `<policies xmlns="${HSV}"><step-timeout>300</step-timeout></policies></data>`);
    expect(show(await fake.call(s, getData('<datastore>ds:intended</datastore>')))).toBe(running);
    const op = dataOf(await fake.call(s, getData('<datastore>ds:operational</datastore>')));
    const names = elements(op).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['inventory', 'policies', 'henbs', 'netconf-state', 'yang-library', 'modules-state', 'pve']));
    // the transport default is in use for henb a (port has none: the transport's port), token-lifetime for the policies
    expect(childText(child(child(op, HSV, 'inventory')!, HSV, 'henb')!, HSV, 'transport')).toBe('ssh');
    expect(child(child(child(op, HSV, 'inventory')!, HSV, 'henb')!, HSV, 'port')).toBeUndefined();
    expect(childText(child(op, HSV, 'policies')!, HSV, 'token-lifetime')).toBe('86400');
  });

  it('with-origin: or:intended on configuration, or:default on defaults in use, none on state; inherited from the parent', async () => {
    await setup();
    const op = dataOf(await fake.call(fake.session(), getData('<datastore>ds:operational</datastore><with-origin/>')));
    const inv = child(op, HSV, 'inventory')!;
    expect(originOf(inv)).toBe('or:intended');
    const henb = child(inv, HSV, 'henb')!;
    expect(originOf(henb)).toBeUndefined(); // same as its parent
    expect(originOf(child(henb, HSV, 'address'))).toBeUndefined();
    expect(originOf(child(henb, HSV, 'transport'))).toBe('or:default');
    const pol = child(op, HSV, 'policies')!;
    expect(originOf(child(pol, HSV, 'step-timeout'))).toBeUndefined(); // set by a client, though equal to the default
    expect(originOf(child(pol, HSV, 'token-lifetime'))).toBe('or:default');
    // a top-level container made only of defaults carries or:default itself
    expect(originOf(child(op, HSV, 'pve'))).toBe('or:default');
    // state carries no origin
    expect(originOf(child(op, HSV, 'henbs'))).toBeUndefined();
    expect(show([op])).toContain(`xmlns:or="${OR}"`);
  });

  it('config-filter: true keeps configuration only; false keeps state with the ancestors and keys that lead to it', async () => {
    await setup();
    const s = fake.session();
    const cfg = dataOf(await fake.call(s, getData('<datastore>ds:operational</datastore><config-filter>true</config-filter>')));
    expect(elements(cfg).map((e) => e.name).sort()).toEqual(['inventory', 'policies', 'pve']);
    const state = dataOf(await fake.call(s, getData('<datastore>ds:operational</datastore><config-filter>false</config-filter>')));
    expect(elements(state).map((e) => e.name)).toEqual(expect.arrayContaining(['henbs', 'netconf-state', 'yang-library']));
    expect(elements(state).some((e) => e.name === 'inventory' || e.name === 'policies')).toBe(false);
    // running has configuration only
    expect(show(await fake.call(s, getData('<datastore>ds:running</datastore><config-filter>false</config-filter>')))).toBe(`<data xmlns="${NM}"/>`);
  });

  it('origin-filter and negated-origin-filter select configuration by origin (derived-from-or-self); state is not filtered', async () => {
    await setup();
    const s = fake.session();
    const defaults = dataOf(await fake.call(s, getData(`<datastore>ds:operational</datastore><origin-filter>or:default</origin-filter><subtree-filter><inventory xmlns="${HSV}"/><policies xmlns="${HSV}"/><henbs xmlns="${HSV}"/></subtree-filter>`)));
    // transport (ssh, henb-sw-verify 2026-12-03) is the inventory entry's default in use (port has no default)
    expect(show([defaults])).toBe(`<data xmlns="${NM}"><inventory xmlns="${HSV}"><henb><henb-id>a</henb-id><transport>ssh</transport></henb></inventory>` +
      `<policies xmlns="${HSV}"><self-check>true</self-check><on-mismatch>alarm</on-mismatch><on-mismatch>rollback</on-mismatch><token-lifetime>86400</token-lifetime></policies>` +
      `<henbs xmlns="${HSV}"><henb><henb-id>h1</henb-id><state>trusted</state></henb><henb><henb-id>h2</henb-id><state>quarantined</state></henb></henbs></data>`);
    const notDefault = show(await fake.call(s, getData(`<datastore>ds:operational</datastore><negated-origin-filter>or:default</negated-origin-filter><subtree-filter><inventory xmlns="${HSV}"/><policies xmlns="${HSV}"/></subtree-filter>`)));
    expect(notDefault).toBe(`<data xmlns="${NM}"><inventory xmlns="${HSV}"><henb><henb-id>a</henb-id><address>10.0.0.1</address></henb></inventory><policies xmlns="${HSV}"><step-timeout>300</step-timeout></policies></data>`);
    // or:origin is the base of every origin: everything; two values are ORed
    const all = show(await fake.call(s, getData(`<datastore>ds:operational</datastore><origin-filter>or:origin</origin-filter><subtree-filter><policies xmlns="${HSV}"/></subtree-filter>`)));
    expect(all).toContain('<step-timeout>300</step-timeout>');
    expect(all).toContain('<token-lifetime>86400</token-lifetime>');
    const both = show(await fake.call(s, getData(`<datastore>ds:operational</datastore><origin-filter>or:intended</origin-filter><origin-filter>or:default</origin-filter><subtree-filter><policies xmlns="${HSV}"/></subtree-filter>`)));
    expect(both).toBe(all);
    // learned: this server has none
    expect(show(await fake.call(s, getData(`<datastore>ds:operational</datastore><origin-filter>or:learned</origin-filter><config-filter>true</config-filter>`)))).toBe(`<data xmlns="${NM}"/>`);
  });

  it('subtree-filter and xpath-filter select as get does, ANDed with config-filter', async () => {
    await setup();
    const s = fake.session();
    const sub = show(await fake.call(s, getData(`<datastore>ds:operational</datastore><subtree-filter><henbs xmlns="${HSV}"><henb><state>quarantined</state></henb></henbs></subtree-filter>`)));
    expect(sub).toBe(`<data xmlns="${NM}"><henbs xmlns="${HSV}"><henb><henb-id>h2</henb-id><state>quarantined</state></henb></henbs></data>`);
    const xp = show(await fake.call(s, getData(`<datastore>ds:operational</datastore><xpath-filter xmlns:h="${HSV}">/h:henbs/h:henb[h:state='trusted']/h:state</xpath-filter>`)));
    expect(xp).toBe(`<data xmlns="${NM}"><henbs xmlns="${HSV}"><henb><henb-id>h1</henb-id><state>trusted</state></henb></henbs></data>`);
    const anded = show(await fake.call(s, getData(`<datastore>ds:operational</datastore><config-filter>true</config-filter><xpath-filter xmlns:h="${HSV}">/h:henbs</xpath-filter>`)));
    expect(anded).toBe(`<data xmlns="${NM}"/>`);
    // the xpath context is the datastore: running has no state
    expect(show(await fake.call(s, getData(`<datastore>ds:running</datastore><xpath-filter xmlns:h="${HSV}">/h:henbs</xpath-filter>`)))).toBe(`<data xmlns="${NM}"/>`);
    // an empty subtree-filter selects nothing
    expect(show(await fake.call(s, getData('<datastore>ds:operational</datastore><subtree-filter/>')))).toBe(`<data xmlns="${NM}"/>`);
  });

  it('xpath-filter has the RFC 7950 section 10 functions (RFC 8526 3.1.1); get keeps the XPath 1.0 core library', async () => {
    await setup();
    const s = fake.session();
    const names = async (xpath: string): Promise<string[]> => {
      const d = dataOf(await fake.call(s, getData(`<datastore>ds:operational</datastore><xpath-filter xmlns:h="${HSV}" xmlns:y="${L}">${xpath}</xpath-filter>`)));
      return [...show([d]).matchAll(/<(?:henb-id|name)>([^<]+)<\/(?:henb-id|name)>/g)].map((m) => m[1]!);
    };
    // identities: the datastore names of the YANG library (ietf-datastores' hierarchy)
    expect(await names(`/y:yang-library/y:datastore[derived-from-or-self(y:name, 'ds:conventional')]/y:name`)).toEqual(['ds:running', 'ds:intended']);
    expect(await names(`/y:yang-library/y:datastore[derived-from(y:name, 'ds:datastore')]/y:name`)).toEqual(['ds:running', 'ds:intended', 'ds:operational']);
    expect(await names(`/y:yang-library/y:datastore[derived-from(y:name, 'ds:running')]/y:name`)).toEqual([]);
    expect(await names(`/y:yang-library/y:datastore[derived-from-or-self(y:name, 'ds:operational')]/y:name`)).toEqual(['ds:operational']);
    // re-match: an XSD pattern over the whole value; current(): the datastore's root
    expect(await names(`/h:henbs/h:henb[re-match(h:henb-id, 'h[0-9]')]/h:henb-id`)).toEqual(['h1', 'h2']);
    expect(await names(`/h:henbs/h:henb[re-match(h:henb-id, '1')]/h:henb-id`)).toEqual([]);
    expect(await names(`/h:henbs/h:henb[h:henb-id = current()/h:henbs/h:henb[h:state = 'quarantined']/h:henb-id]/h:henb-id`)).toEqual(['h2']);
    expect(await names(`/h:henbs/h:henb[bit-is-set(h:state, 'trusted')]/h:henb-id`)).toEqual(['h1']);
    // deref(): /yang-library's datastore/schema is a leafref to schema/name (RFC 8525); enum-value(): the
    // pve transport (restconf 0, netconf 1), its default reported in operational
    expect(await names(`/y:yang-library/y:datastore[deref(y:schema)/../y:module-set = 'complete']/y:name`)).toEqual(['ds:running', 'ds:intended', 'ds:operational']);
    expect(await names(`/y:yang-library/y:schema[count(deref(y:module-set)) = 1]/y:name`)).toEqual(['complete']);
    const pveTransport = async (xpath: string): Promise<string> => show([dataOf(await fake.call(s, getData(`<datastore>ds:operational</datastore><xpath-filter xmlns:h="${HSV}">${xpath}</xpath-filter>`)))]);
    expect(await pveTransport(`/h:pve[enum-value(h:transport) = 0]/h:transport`)).toBe(`<data xmlns="${NM}"><pve xmlns="${HSV}"><transport>restconf</transport></pve></data>`);
    expect(await pveTransport(`/h:pve[enum-value(h:transport) = 1]/h:transport`)).toBe(`<data xmlns="${NM}"/>`);
    // refused: a pattern that could backtrack without end, one that does not compile, an undeclared identity prefix
    for (const [xpath, says] of [
      [`/h:henbs/h:henb[re-match(h:henb-id, '(h+)+x')]`, 'backtrack'],
      [`/h:henbs/h:henb[re-match(h:henb-id, '[a-')]`, 'not a valid regular expression'],
      [`/y:yang-library/y:datastore[derived-from(y:name, 'zz:running')]`, 'undeclared prefix'],
    ] as const) {
      const errs = await fake.fail(s, getData(`<datastore>ds:operational</datastore><xpath-filter xmlns:h="${HSV}" xmlns:y="${L}">${xpath}</xpath-filter>`));
      expect(typeTagInfo(errs[0]!), xpath).toEqual({ type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'xpath-filter' } });
      expect(errs[0]!.message, xpath).toContain(says);
    }
    // RFC 6241 8.9 gives get's filter the core library only
    const get = await fake.fail(s, `<get xmlns="${NC}"><filter type="xpath" xmlns:h="${HSV}" select="/h:henbs/h:henb[h:henb-id = current()/h:henbs/h:henb/h:henb-id]"/></get>`);
    expect(get[0]!.tag).toBe('invalid-value');
    expect(get[0]!.message).toContain('unknown function current()');
    const getDeref = await fake.fail(s, `<get xmlns="${NC}"><filter type="xpath" xmlns:y="${L}" select="/y:yang-library/y:datastore[deref(y:schema)]"/></get>`);
    expect(getDeref[0]!.message).toContain('unknown function deref()');
  });

  it('max-depth counts from each selected node (1 = the node alone; list entries keep their keys)', async () => {
    await setup();
    const s = fake.session();
    const top = show(await fake.call(s, getData('<datastore>ds:running</datastore><max-depth>1</max-depth>')));
    expect(top).toBe(`<data xmlns="${NM}"><inventory xmlns="${HSV}"/><policies xmlns="${HSV}"/></data>`);
    const two = show(await fake.call(s, getData('<datastore>ds:running</datastore><max-depth>2</max-depth>')));
    expect(two).toBe(`<data xmlns="${NM}"><inventory xmlns="${HSV}"><henb><henb-id>a</henb-id></henb></inventory><policies xmlns="${HSV}"><step-timeout>300</step-timeout></policies></data>`);
    // the selected node is the list entry: depth 1 is the entry with its key
    const entry = show(await fake.call(s, getData(`<datastore>ds:operational</datastore><max-depth>1</max-depth><xpath-filter xmlns:h="${HSV}">/h:henbs/h:henb[h:henb-id='h1']</xpath-filter>`)));
    expect(entry).toBe(`<data xmlns="${NM}"><henbs xmlns="${HSV}"><henb><henb-id>h1</henb-id></henb></henbs></data>`);
    const sub = show(await fake.call(s, getData(`<datastore>ds:operational</datastore><max-depth>1</max-depth><subtree-filter><henbs xmlns="${HSV}"/></subtree-filter>`)));
    expect(sub).toBe(`<data xmlns="${NM}"><henbs xmlns="${HSV}"/></data>`);
    expect(show(await fake.call(s, getData('<datastore>ds:running</datastore><max-depth>unbounded</max-depth>')))).toBe(show(await fake.call(s, getData('<datastore>ds:running</datastore>'))));
  });

  it('with-defaults on running (as get-config) and on operational (:with-operational-defaults)', async () => {
    await setup();
    const s = fake.session();
    const runAll = show(await fake.call(s, getData(`<datastore>ds:running</datastore><with-defaults xmlns="${WD}">report-all</with-defaults><subtree-filter><policies xmlns="${HSV}"/></subtree-filter>`)));
    expect(runAll).toContain('<token-lifetime>86400</token-lifetime>');
    const runTrim = show(await fake.call(s, getData(`<datastore>ds:running</datastore><with-defaults xmlns="${WD}">trim</with-defaults><subtree-filter><policies xmlns="${HSV}"/></subtree-filter>`)));
    expect(runTrim).toBe(`<data xmlns="${NM}"><policies xmlns="${HSV}"/></data>`);
    const opExplicit = show(await fake.call(s, getData(`<datastore>ds:operational</datastore><with-defaults xmlns="${WD}">explicit</with-defaults><subtree-filter><policies xmlns="${HSV}"/></subtree-filter>`)));
    expect(opExplicit).toBe(`<data xmlns="${NM}"><policies xmlns="${HSV}"><step-timeout>300</step-timeout></policies></data>`);
    const opTagged = show(await fake.call(s, getData(`<datastore>ds:operational</datastore><with-defaults xmlns="${WD}">report-all-tagged</with-defaults><subtree-filter><policies xmlns="${HSV}"/></subtree-filter>`)));
    expect(opTagged).toMatch(/<token-lifetime [^>]*:default="true">86400<\/token-lifetime>/);
  });

  it('edit-data: merge, default-operation none with nc:operation, replace; running and operational follow', async () => {
    await setup();
    const s = fake.session();
    expect(await fake.call(s, editData(`<datastore>ds:running</datastore><config><policies xmlns="${HSV}"><token-lifetime>60</token-lifetime></policies></config>`))).toBe('ok');
    expect(show(await fake.call(s, getData(`<datastore>ds:running</datastore><subtree-filter><policies xmlns="${HSV}"/></subtree-filter>`))))
      .toBe(`<data xmlns="${NM}"><policies xmlns="${HSV}"><step-timeout>300</step-timeout><token-lifetime>60</token-lifetime></policies></data>`);
    expect(await fake.call(s, editData(`<datastore>ds:running</datastore><default-operation>none</default-operation><config><policies xmlns="${HSV}"><step-timeout xmlns:nc="${NC}" nc:operation="delete"/></policies></config>`))).toBe('ok');
    const op = dataOf(await fake.call(s, getData(`<datastore>ds:operational</datastore><with-origin/><subtree-filter><policies xmlns="${HSV}"/></subtree-filter>`)));
    const pol = child(op, HSV, 'policies')!;
    expect(childText(pol, HSV, 'step-timeout')).toBe('300');
    expect(originOf(child(pol, HSV, 'step-timeout'))).toBe('or:default'); // deleted: the default is in use again
    expect(childText(pol, HSV, 'token-lifetime')).toBe('60');
    expect(originOf(child(pol, HSV, 'token-lifetime'))).toBeUndefined();
    expect(await fake.call(s, editData(`<datastore>ds:running</datastore><default-operation>replace</default-operation><config><policies xmlns="${HSV}"><self-check>false</self-check></policies></config>`))).toBe('ok');
    expect(show(await fake.call(s, getData('<datastore>ds:running</datastore>')))).toBe(`<data xmlns="${NM}"><policies xmlns="${HSV}"><self-check>false</self-check></policies></data>`);
  });

  it('edit-data that fails changes nothing (validation, a missing node to delete), as edit-config', async () => {
    await setup();
    const s = fake.session();
    const before = show(await fake.call(s, getData('<datastore>ds:running</datastore>')));
    const invalid = await fake.fail(s, editData(`<datastore>ds:running</datastore><config><policies xmlns="${HSV}"><token-lifetime>-5</token-lifetime></policies><inventory xmlns="${HSV}"><henb><henb-id>b</henb-id><address>10.0.0.2</address></henb></inventory></config>`));
    expect(invalid[0]!.tag).toBe('invalid-value');
    const missing = await fake.fail(s, editData(`<datastore>ds:running</datastore><config><inventory xmlns="${HSV}"><henb xmlns:nc="${NC}" nc:operation="delete"><henb-id>zz</henb-id></henb></inventory></config>`));
    expect(missing[0]!.tag).toBe('data-missing');
    expect(show(await fake.call(s, getData('<datastore>ds:running</datastore>')))).toBe(before);
  });

  it('edit-data is refused while another session holds the lock (taken with the NMDA datastore leaf)', async () => {
    await setup();
    const holder = fake.session();
    const other = fake.session();
    expect(await fake.call(holder, `<lock xmlns="${NC}"><target><datastore xmlns="${NM}" xmlns:ds="${DS}">ds:running</datastore></target></lock>`)).toBe('ok');
    const errs = await fake.fail(other, editData(`<datastore>ds:running</datastore><config><policies xmlns="${HSV}"><token-lifetime>61</token-lifetime></policies></config>`));
    expect(errs[0]!.tag).toBe('in-use');
    expect(await fake.call(holder, `<unlock xmlns="${NC}"><target><datastore xmlns="${NM}" xmlns:ds="${DS}">ds:running</datastore></target></unlock>`)).toBe('ok');
    expect(await fake.call(other, `<validate xmlns="${NC}"><source><datastore xmlns="${NM}" xmlns:ds="${DS}">ds:running</datastore></source></validate>`)).toBe('ok');
    const notLockable = await fake.fail(other, `<lock xmlns="${NC}"><target><datastore xmlns="${NM}" xmlns:ds="${DS}">ds:operational</datastore></target></lock>`);
    expect(typeTagInfo(notLockable[0]!)).toEqual({ type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'datastore' } });
  });

  it('bad input: the rpc-error RFC 8526 asks for, naming the element', async () => {
    await setup();
    const s = fake.session();
    const rows: Array<[string, string, { type: string; tag: string; info: Record<string, string> }]> = [
      ['no datastore', getData(''), { type: 'protocol', tag: 'missing-element', info: { 'bad-element': 'datastore' } }],
      ['unknown datastore identity', getData('<datastore>ds:nowhere</datastore>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'datastore' } }],
      ['startup (not supported)', getData('<datastore>ds:startup</datastore>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'datastore' } }],
      ['candidate (not supported)', getData('<datastore>ds:candidate</datastore>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'datastore' } }],
      ['unprefixed (resolved in the default namespace)', getData('<datastore>running</datastore>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'datastore' } }],
      ['undeclared prefix', getData('<datastore>zz:running</datastore>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'datastore' } }],
      ['the datastore twice', getData('<datastore>ds:running</datastore><datastore>ds:running</datastore>'), { type: 'protocol', tag: 'bad-element', info: { 'bad-element': 'datastore' } }],
      ['with-origin on running', getData('<datastore>ds:running</datastore><with-origin/>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'with-origin' } }],
      ['origin-filter on intended', getData('<datastore>ds:intended</datastore><origin-filter>or:default</origin-filter>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'origin-filter' } }],
      ['origin-filter not an origin', getData('<datastore>ds:operational</datastore><origin-filter>ds:running</origin-filter>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'origin-filter' } }],
      ['both origin filters', getData('<datastore>ds:operational</datastore><origin-filter>or:default</origin-filter><negated-origin-filter>or:default</negated-origin-filter>'), { type: 'protocol', tag: 'bad-element', info: { 'bad-element': 'negated-origin-filter' } }],
      ['both filters', getData(`<datastore>ds:operational</datastore><subtree-filter/><xpath-filter>/a</xpath-filter>`), { type: 'protocol', tag: 'bad-element', info: { 'bad-element': 'xpath-filter' } }],
      ['xpath that does not parse', getData('<datastore>ds:operational</datastore><xpath-filter>/a[</xpath-filter>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'xpath-filter' } }],
      ['xpath that is not a node-set', getData('<datastore>ds:operational</datastore><xpath-filter>1 + 1</xpath-filter>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'xpath-filter' } }],
      ['max-depth 0', getData('<datastore>ds:running</datastore><max-depth>0</max-depth>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'max-depth' } }],
      ['max-depth 65536', getData('<datastore>ds:running</datastore><max-depth>65536</max-depth>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'max-depth' } }],
      ['max-depth words', getData('<datastore>ds:running</datastore><max-depth>deep</max-depth>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'max-depth' } }],
      ['config-filter not boolean', getData('<datastore>ds:running</datastore><config-filter>yes</config-filter>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'config-filter' } }],
      ['with-defaults unknown mode', getData(`<datastore>ds:operational</datastore><with-defaults xmlns="${WD}">all</with-defaults>`), { type: 'application', tag: 'invalid-value', info: { 'bad-element': 'with-defaults' } }],
      ['unknown parameter', getData('<datastore>ds:running</datastore><depth>1</depth>'), { type: 'protocol', tag: 'unknown-element', info: { 'bad-element': 'depth' } }],
      ['a get parameter', getData(`<datastore>ds:running</datastore><filter xmlns="${NC}"/>`), { type: 'protocol', tag: 'unknown-namespace', info: { 'bad-element': 'filter', 'bad-namespace': NC } }],
      ['edit-data on operational', editData('<datastore>ds:operational</datastore><config/>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'datastore' } }],
      ['edit-data on intended', editData('<datastore>ds:intended</datastore><config/>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'datastore' } }],
      ['edit-data without config', editData('<datastore>ds:running</datastore>'), { type: 'protocol', tag: 'missing-element', info: { 'bad-element': 'config' } }],
      ['edit-data with url', editData('<datastore>ds:running</datastore><url>file:///tmp/x.xml</url>'), { type: 'protocol', tag: 'unknown-element', info: { 'bad-element': 'url' } }],
      ['edit-data default-operation', editData('<datastore>ds:running</datastore><default-operation>remove</default-operation><config/>'), { type: 'protocol', tag: 'invalid-value', info: { 'bad-element': 'default-operation' } }],
      ['edit-data with-defaults', editData(`<datastore>ds:running</datastore><config/><with-defaults xmlns="${WD}">trim</with-defaults>`), { type: 'protocol', tag: 'unknown-namespace', info: { 'bad-element': 'with-defaults', 'bad-namespace': WD } }],
    ];
    for (const [what, xml, want] of rows) {
      const errs = await fake.fail(s, xml);
      expect(typeTagInfo(errs[0]!), what).toEqual(want);
      expect(errs[0]!.message ?? '', what).not.toBe('');
    }
  });
});
