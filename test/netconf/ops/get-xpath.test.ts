import { afterEach, describe, expect, it } from 'vitest';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { el, leaf, serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { createFake, NC } from './fake.js';
import type { Fake } from './fake.js';
import { typeTagInfo } from '../../helpers/rpc-errors.js';
import type { YangValidator } from '../../../src/yang/types.js';

/** a validator that accepts everything and names the list keys, as the YANG validator does */
const KEYS: Record<string, string[]> = { 'henbs/henb': ['id'], 'jobs/job': ['job-id'] };
const keyedValidator = {
  hasRpc: () => false, validateRpcInput: () => [], validateRpcOutput: () => [], validateNotification: () => [], validateConfig: () => [],
  listKeys: (p: Array<{ name: string }>) => KEYS[p.map((x) => x.name).join('/')],
} as unknown as YangValidator;

const S = 'urn:example:state';
const X = 'urn:example:inv';
const NCM = 'urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring';
const show = (r: XmlElement[] | 'ok'): string => (r === 'ok' ? 'ok' : r.map((e) => serializeXml(e)).join(''));
const xget = (select: string, ns = `xmlns:s="${S}" xmlns:x="${X}"`): string => `<get xmlns="${NC}"><filter type="xpath" ${ns} select="${select}"/></get>`;
const xgetConfig = (select: string): string =>
  `<get-config xmlns="${NC}"><source><running/></source><filter type="xpath" xmlns:s="${S}" xmlns:x="${X}" select="${select}"/></get-config>`;

describe('get / get-config with XPath filters (:xpath, RFC 6241 8.9)', () => {
  let fake: Fake;
  let std: StandardOperations;
  let calls: string[];
  afterEach(async () => {
    await std?.close();
    fake?.cleanup();
  });
  const setup = async (keyed = false): Promise<void> => {
    fake = createFake(keyed ? { validator: keyedValidator } : {});
    calls = [];
    fake.states.push({ ns: S, name: 'henbs', provider: () => {
      calls.push('henbs');
      return el(S, 'henbs', el(S, 'henb', leaf(S, 'id', 'a'), leaf(S, 'status', 'trusted')), el(S, 'henb', leaf(S, 'id', 'b'), leaf(S, 'status', 'quarantined')));
    } });
    fake.states.push({ ns: S, name: 'jobs', provider: () => {
      calls.push('jobs');
      return el(S, 'jobs', el(S, 'job', leaf(S, 'job-id', '7'), leaf(S, 'henb', 'b')));
    } });
    std = registerStandardOperations(fake.reg, { ietfYangDir: '/nonexistent', eventLog: false });
    await fake.call(fake.session(), `<edit-config xmlns="${NC}"><target><running/></target><config><inv xmlns="${X}"><policy><q>1</q><r>2</r></policy></inv></config></edit-config>`);
    calls = [];
  };

  it('announces :xpath and the xpath feature of ietf-netconf', async () => {
    await setup();
    expect(fake.capabilities).toContain('urn:ietf:params:netconf:capability:xpath:1.0');
  });

  it('get selects nodes with their ancestors, and calls only the providers the expression reaches', async () => {
    await setup();
    const s = fake.session();
    expect(show(await fake.call(s, xget("/s:henbs/s:henb[s:status='quarantined']")))).toBe(
      `<data xmlns="${NC}"><henbs xmlns="${S}"><henb><id>b</id><status>quarantined</status></henb></henbs></data>`);
    expect(calls).toEqual(['henbs']);
    // without a YANG schema for these lists, no key is added (with one, and for the IETF lists: below)
    calls = [];
    expect(show(await fake.call(s, xget('/s:jobs/s:job/s:henb | /x:inv/x:policy/x:r')))).toBe(
      `<data xmlns="${NC}"><inv xmlns="${X}"><policy><r>2</r></policy></inv><jobs xmlns="${S}"><job><henb>b</henb></job></jobs></data>`);
    expect(calls).toEqual(['jobs']);
    // a predicate that looks at another tree: every provider is called
    calls = [];
    expect(show(await fake.call(s, xget("/s:henbs/s:henb[s:id = /s:jobs/s:job/s:henb]/s:status")))).toBe(
      `<data xmlns="${NC}"><henbs xmlns="${S}"><henb><status>quarantined</status></henb></henbs></data>`);
    expect(calls.sort()).toEqual(['henbs', 'jobs']);
  });

  it('a partly selected list entry keeps its keys (from the YANG schema)', async () => {
    await setup(true);
    const s = fake.session();
    expect(show(await fake.call(s, xget("/s:henbs/s:henb[s:id = /s:jobs/s:job/s:henb]/s:status | /s:jobs/s:job/s:henb")))).toBe(
      `<data xmlns="${NC}"><henbs xmlns="${S}"><henb><id>b</id><status>quarantined</status></henb></henbs>` +
      `<jobs xmlns="${S}"><job><job-id>7</job-id><henb>b</henb></job></jobs></data>`);
    // the same answer as the subtree filter gives for the same selection
    expect(show(await fake.call(s, `<get xmlns="${NC}"><filter><henbs xmlns="${S}"><henb><status/></henb></henbs></filter></get>`))).toBe(
      show(await fake.call(s, xget('/s:henbs/s:henb/s:status'))));
  });

  it('an unprefixed name matches any namespace (as a subtree filter node with xmlns="")', async () => {
    await setup();
    expect(show(await fake.call(fake.session(), xget("/henbs/henb[id='a']/status", '')))).toBe(
      `<data xmlns="${NC}"><henbs xmlns="${S}"><henb><status>trusted</status></henb></henbs></data>`);
  });

  it('/netconf-state/sessions: the session list, a partly selected entry with its key', async () => {
    await setup();
    const s = fake.session(5);
    const out = show(await fake.call(s, xget('/netconf-state/sessions/session[session-id=5]/username', '')));
    expect(out).toMatch(new RegExp(`^<data xmlns="${NC}"><netconf-state xmlns="${NCM}"><sessions><session><session-id>5</session-id><username>[^<]*</username></session></sessions></netconf-state></data>$`));
    const full = show(await fake.call(s, xget('/m:netconf-state/m:sessions', `xmlns:m="${NCM}"`)));
    expect(full).toContain('<session-id>5</session-id>');
    expect(full).not.toContain('<schemas>');
  });

  it('get-config filters config only', async () => {
    await setup();
    const s = fake.session();
    expect(show(await fake.call(s, xgetConfig('//x:q')))).toBe(`<data xmlns="${NC}"><inv xmlns="${X}"><policy><q>1</q></policy></inv></data>`);
    expect(show(await fake.call(s, xgetConfig('/s:henbs')))).toBe(`<data xmlns="${NC}"/>`);
    expect(show(await fake.call(s, xgetConfig('/')))).toBe(`<data xmlns="${NC}"><inv xmlns="${X}"><policy><q>1</q><r>2</r></policy></inv></data>`);
    expect(calls).toEqual([]);
  });

  it('rpc-errors: missing select is missing-attribute; a bad expression is invalid-value naming it', async () => {
    await setup();
    const s = fake.session();
    const info = [`<bad-attribute xmlns="${NC}">select</bad-attribute>`, `<bad-element xmlns="${NC}">filter</bad-element>`];
    const missing = await fake.fail(s, `<get xmlns="${NC}"><filter type="xpath"/></get>`);
    expect(typeTagInfo(missing)).toEqual([{ type: 'protocol', tag: 'missing-attribute', info }]);
    const cases: Array<[string, RegExp]> = [
      ['/s:henbs[', /"\/s:henbs\[": .*at the end/],
      ['/q:henbs', /"\/q:henbs": prefix "q" is not declared/],
      ['count(/s:henbs)', /"count\(\/s:henbs\)" gives a number, not a node-set/],
      ['/s:henbs/s:henb[frob()]', /unknown function frob\(\)/],
      ['$v', /variable \$v is not bound/],
      [`${'('.repeat(50)}/s:henbs${')'.repeat(50)}`, /nests deeper than 32/],
      [`/s:a${'/s:b'.repeat(1100)}`, /longer than 4096 characters/],
    ];
    for (const [expr, msg] of cases) {
      const errs = await fake.fail(s, xget(expr));
      expect(typeTagInfo(errs), expr).toEqual([{ type: 'protocol', tag: 'invalid-value', info }]);
      expect(errs[0]!.message, expr).toMatch(/^XPath expression "/);
      expect(errs[0]!.message, expr).toMatch(msg);
      const cfg = await fake.fail(s, xgetConfig(expr));
      expect(typeTagInfo(cfg), expr).toEqual([{ type: 'protocol', tag: 'invalid-value', info }]);
    }
    // the session goes on
    expect(show(await fake.call(s, xget('/s:henbs/s:henb[1]/s:id')))).toContain('<id>a</id>');
  });
});
