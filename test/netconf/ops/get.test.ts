import { afterEach, describe, expect, it } from 'vitest';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { el, leaf, serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { createFake, NC } from './fake.js';
import type { Fake } from './fake.js';
import { typeTagInfo } from '../../helpers/rpc-errors.js';

const S = 'urn:example:state';
const X = 'urn:example:inv';
const show = (r: XmlElement[] | 'ok'): string => (r === 'ok' ? 'ok' : r.map((e) => serializeXml(e)).join(''));

describe('get / get-config (RFC 6241 7.1, 7.7)', () => {
  let fake: Fake;
  let std: StandardOperations;
  let calls: string[];
  afterEach(async () => {
    await std?.close();
    fake?.cleanup();
  });
  const setup = async (): Promise<void> => {
    fake = createFake();
    calls = [];
    fake.states.push({ ns: S, name: 'henbs', provider: () => {
      calls.push('henbs');
      return el(S, 'henbs', el(S, 'henb', leaf(S, 'id', 'a'), leaf(S, 'status', 'trusted')), el(S, 'henb', leaf(S, 'id', 'b'), leaf(S, 'status', 'quarantined')));
    } });
    fake.states.push({ ns: S, name: 'jobs', provider: async () => {
      calls.push('jobs');
      return undefined;
    } });
    std = registerStandardOperations(fake.reg, { ietfYangDir: '/nonexistent' });
    const s = fake.session();
    await fake.call(s, `<edit-config xmlns="${NC}"><target><running/></target><config><inv xmlns="${X}"><policy><q>1</q></policy></inv></config></edit-config>`);
  };

  it('get without a filter returns config and every state provider', async () => {
    await setup();
    const out = show(await fake.call(fake.session(), `<get xmlns="${NC}"/>`));
    expect(out).toContain(`<inv xmlns="${X}"><policy><q>1</q></policy></inv>`);
    expect(out).toContain('<status>quarantined</status>');
    expect(out).toContain('<netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring">');
    expect(calls.sort()).toEqual(['henbs', 'jobs']);
  });

  it('get with a subtree filter calls only the providers the filter can reach', async () => {
    await setup();
    const out = show(await fake.call(fake.session(),
      `<get xmlns="${NC}"><filter type="subtree"><henbs xmlns="${S}"><henb><status>quarantined</status></henb></henbs></filter></get>`));
    expect(out).toBe(`<data xmlns="${NC}"><henbs xmlns="${S}"><henb><id>b</id><status>quarantined</status></henb></henbs></data>`);
    expect(calls).toEqual(['henbs']);
  });

  it('an empty filter selects nothing and calls no provider', async () => {
    await setup();
    expect(show(await fake.call(fake.session(), `<get xmlns="${NC}"><filter type="subtree"/></get>`))).toBe(`<data xmlns="${NC}"/>`);
    expect(calls).toEqual([]);
  });

  it('get-config returns config only, filtered', async () => {
    await setup();
    const s = fake.session();
    expect(show(await fake.call(s, `<get-config xmlns="${NC}"><source><running/></source><filter><henbs xmlns="${S}"/></filter></get-config>`)))
      .toBe(`<data xmlns="${NC}"/>`);
    expect(show(await fake.call(s, `<get-config xmlns="${NC}"><source><running/></source><filter><inv xmlns="${X}"/></filter></get-config>`)))
      .toBe(`<data xmlns="${NC}"><inv xmlns="${X}"><policy><q>1</q></policy></inv></data>`);
    expect(calls).toEqual([]);
  });

  it('unknown filter types bad-attribute; missing source missing-element', async () => {
    await setup();
    const s = fake.session();
    expect((await fake.fail(s, `<get xmlns="${NC}"><filter type="regex"/></get>`))[0]!.tag).toBe('bad-attribute');
    expect((await fake.fail(s, `<get-config xmlns="${NC}"/>`))[0]!.tag).toBe('missing-element');
    expect((await fake.fail(s, `<get-config xmlns="${NC}"><source><candidate/></source></get-config>`))[0]).toMatchObject({ type: 'protocol', tag: 'unknown-element' });
  });

  it('get-config <source>: RFC 6241 7.1 with only :writable-running (RFC 7950 8.3.1 for the choice)', async () => {
    await setup();
    const s = fake.session();
    const cases: Array<{ source: string; tag: string; bad: string }> = [
      // candidate and startup are if-feature cases of ietf-netconf whose features we do not advertise
      { source: '<candidate/>', tag: 'unknown-element', bad: 'candidate' },
      { source: '<startup/>', tag: 'unknown-element', bad: 'startup' },
      { source: '<url>file:///x.xml</url>', tag: 'unknown-element', bad: 'url' },
      { source: '<running xmlns="urn:not-netconf"/>', tag: 'unknown-element', bad: 'running' },
      { source: '<running/><startup/>', tag: 'unknown-element', bad: 'startup' },
      // two cases of one choice: RFC 7950 8.3.1 bad-element
      { source: '<running/><running/>', tag: 'bad-element', bad: 'source' },
      { source: '', tag: 'missing-element', bad: 'source' },
    ];
    for (const c of cases) {
      const errs = await fake.fail(s, `<get-config xmlns="${NC}"><source>${c.source}</source></get-config>`);
      expect(typeTagInfo(errs), c.source).toEqual([{ type: 'protocol', tag: c.tag, info: [`<bad-element xmlns="${NC}">${c.bad}</bad-element>`] }]);
    }
  });

  it('unknown parameters are refused, not ignored; with-defaults (RFC 6243, :with-defaults) is a parameter of get and get-config only', async () => {
    await setup();
    const s = fake.session();
    const WD = 'urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults';
    expect(fake.capabilities).toContain('urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim');
    for (const op of [`<get xmlns="${NC}">`, `<get-config xmlns="${NC}"><source><running/></source>`]) {
      const close = op.startsWith('<get ') ? '</get>' : '</get-config>';
      // accepted (the modes themselves: test/netconf/ops/with-defaults.test.ts)
      expect(show(await fake.call(s, `${op}<filter><inv xmlns="${X}"/></filter><with-defaults xmlns="${WD}">explicit</with-defaults>${close}`)))
        .toBe(`<data xmlns="${NC}"><inv xmlns="${X}"><policy><q>1</q></policy></inv></data>`);
      const other = await fake.fail(s, `${op}<with-defaults xmlns="urn:example:not-wd">report-all</with-defaults>${close}`);
      expect(typeTagInfo(other)).toEqual([{ type: 'protocol', tag: 'unknown-namespace', info: [
        `<bad-element xmlns="${NC}">with-defaults</bad-element>`, `<bad-namespace xmlns="${NC}">urn:example:not-wd</bad-namespace>`] }]);
      const bogus = await fake.fail(s, `${op}<bogus/>${close}`);
      expect(bogus[0]).toMatchObject({ type: 'protocol', tag: 'unknown-element' });
      expect(bogus[0]!.info!.map((i) => serializeXml(i))).toEqual([`<bad-element xmlns="${NC}">bogus</bad-element>`]);
    }
    const wd = await fake.fail(s, `<lock xmlns="${NC}"><target><running/></target><with-defaults xmlns="${WD}">trim</with-defaults></lock>`);
    expect(typeTagInfo(wd)).toEqual([{ type: 'protocol', tag: 'unknown-namespace', info: [
      `<bad-element xmlns="${NC}">with-defaults</bad-element>`, `<bad-namespace xmlns="${NC}">${WD}</bad-namespace>`] }]);
    expect(wd[0]!.message).toMatch(/lock has no parameter with-defaults/);
  });

  it('filter types (RFC 6241 6.1, 8.9): absent, subtree or xpath filter; anything else is a bad attribute', async () => {
    await setup();
    const s = fake.session();
    expect(fake.capabilities).toContain('urn:ietf:params:netconf:capability:xpath:1.0');
    const q = `<henbs xmlns="${S}"><henb><id>a</id></henb></henbs>`;
    const want = `<data xmlns="${NC}"><henbs xmlns="${S}"><henb><id>a</id><status>trusted</status></henb></henbs></data>`;
    expect(show(await fake.call(s, `<get xmlns="${NC}"><filter>${q}</filter></get>`))).toBe(want);
    expect(show(await fake.call(s, `<get xmlns="${NC}"><filter type="subtree">${q}</filter></get>`))).toBe(want);
    expect(show(await fake.call(s, `<get xmlns="${NC}"><filter type="subtree">  </filter></get>`))).toBe(`<data xmlns="${NC}"/>`);
    expect(show(await fake.call(s, `<get xmlns="${NC}"><filter type="xpath" select="/x:henbs/x:henb[x:id='a']" xmlns:x="${S}"/></get>`))).toBe(want);
    const bad = await fake.fail(s, `<get-config xmlns="${NC}"><source><running/></source><filter type="regex"/></get-config>`);
    expect(bad[0]).toMatchObject({ type: 'protocol', tag: 'bad-attribute' });
    expect(bad[0]!.info!.map((i) => serializeXml(i))).toEqual([`<bad-attribute xmlns="${NC}">type</bad-attribute>`, `<bad-element xmlns="${NC}">filter</bad-element>`]);
  });

  it('merges state into a config node of the same name, list entries by key', async () => {
    fake = createFake();
    fake.states.push({ ns: X, name: 'sys', provider: () => el(X, 'sys',
      el(X, 'node', leaf(X, 'name', 'a'), leaf(X, 'oper', 'up')),
      el(X, 'node', leaf(X, 'name', 'b'), leaf(X, 'oper', 'down')),
      leaf(X, 'uptime', 5)) });
    std = registerStandardOperations(fake.reg, { ietfYangDir: '/nonexistent', eventLog: false });
    const s = fake.session();
    await fake.call(s, `<edit-config xmlns="${NC}"><target><running/></target><config><sys xmlns="${X}"><node><name>a</name><cfg>1</cfg></node></sys></config></edit-config>`);
    const out = show(await fake.call(s, `<get xmlns="${NC}"><filter><sys xmlns="${X}"/></filter></get>`));
    expect(out).toBe(`<data xmlns="${NC}"><sys xmlns="${X}"><node><name>a</name><cfg>1</cfg><oper>up</oper></node><node><name>b</name><oper>down</oper></node><uptime>5</uptime></sys></data>`);
  });

  it('a failing state provider gives operation-failed without its message', async () => {
    await setup();
    fake.states.push({ ns: S, name: 'broken', provider: () => {
      throw new Error('secret internals');
    } });
    const errs = await fake.fail(fake.session(), `<get xmlns="${NC}"><filter><broken xmlns="${S}"/></filter></get>`);
    expect(errs[0]!.tag).toBe('operation-failed');
    expect(JSON.stringify(errs)).not.toContain('secret internals');
  });
});
