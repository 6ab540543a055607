import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { el, leaf, serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { loadYang } from '../../../src/yang/index.js';
import type { LoadedYang } from '../../../src/yang/index.js';
import { createFake, NC } from './fake.js';
import type { Fake } from './fake.js';
import { typeTagInfo } from '../../helpers/rpc-errors.js';

const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const WD = 'urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults';
const WDA = 'urn:ietf:params:xml:ns:netconf:default:1.0';
const show = (r: XmlElement[] | 'ok'): string => (r === 'ok' ? 'ok' : r.map((e) => serializeXml(e)).join(''));
const wd = (mode: string): string => `<with-defaults xmlns="${WD}">${mode}</with-defaults>`;
const getConfig = (mode: string, filter = ''): string => `<get-config xmlns="${NC}"><source><running/></source>${filter}${mode ? wd(mode) : ''}</get-config>`;

describe('with-defaults (RFC 6243) with the defaults of our YANG modules', () => {
  let yang: LoadedYang;
  let fake: Fake;
  let std: StandardOperations;
  beforeAll(async () => {
    yang = await loadYang(join(import.meta.dirname, '../../../yang'));
  });
  afterEach(async () => {
    await std?.close();
    fake?.cleanup();
  });
  const setup = async (): Promise<void> => {
    fake = createFake({ validator: yang.validator });
    fake.states.push({ ns: HSV, name: 'henbs', provider: () => el(HSV, 'henbs', el(HSV, 'henb', leaf(HSV, 'henb-id', 'h1'), leaf(HSV, 'state', 'trusted'))) });
    std = registerStandardOperations(fake.reg, { ietfYangDir: join(import.meta.dirname, '../../../yang/ietf'), eventLog: false });
    // transport ssh and step-timeout 300 are set to their defaults on purpose; token-lifetime is not a default, nor is
    // port (no default statement since 2026-12-03: 830 for ssh, 6513 for tls, decided by the transport)
    await fake.call(fake.session(), `<edit-config xmlns="${NC}"><target><running/></target><config>` +
      `<inventory xmlns="${HSV}"><henb><henb-id>a</henb-id><address>10.0.0.1</address><transport>ssh</transport></henb>` +
      `<henb><henb-id>b</henb-id><address>10.0.0.2</address><port>2022</port></henb><henb><henb-id>c</henb-id><address>10.0.0.3</address></henb></inventory>` +
      `<policies xmlns="${HSV}"><step-timeout>300</step-timeout><token-lifetime>100</token-lifetime></policies></config></edit-config>`);
  };
  const inventory = (a: string, b: string, c: string): string =>
    `<inventory xmlns="${HSV}"><henb><henb-id>a</henb-id><address>10.0.0.1</address>${a}</henb>` +
    `<henb><henb-id>b</henb-id><address>10.0.0.2</address>${b}</henb><henb><henb-id>c</henb-id><address>10.0.0.3</address>${c}</henb></inventory>`;

  it('announces the capability (basic-mode explicit) and serves ietf-netconf-with-defaults', async () => {
    await setup();
    expect(fake.capabilities).toContain('urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim');
    expect(fake.capabilities).toContain(`${WD}?module=ietf-netconf-with-defaults&revision=2011-06-01`);
  });

  it('explicit (the basic mode, and no parameter): what clients set, defaults set explicitly included', async () => {
    await setup();
    const s = fake.session();
    const want = `<data xmlns="${NC}">${inventory('<transport>ssh</transport>', '<port>2022</port>', '')}` +
      `<policies xmlns="${HSV}"><step-timeout>300</step-timeout><token-lifetime>100</token-lifetime></policies></data>`;
    expect(show(await fake.call(s, getConfig('')))).toBe(want);
    expect(show(await fake.call(s, getConfig('explicit')))).toBe(want);
  });

  it('trim: leaves with their default value are left out', async () => {
    await setup();
    expect(show(await fake.call(fake.session(), getConfig('trim')))).toBe(
      `<data xmlns="${NC}">${inventory('', '<port>2022</port>', '')}<policies xmlns="${HSV}"><token-lifetime>100</token-lifetime></policies></data>`);
  });

  it('report-all: every default, in list entries, present containers and configuration containers not set', async () => {
    await setup();
    expect(show(await fake.call(fake.session(), getConfig('report-all')))).toBe(
      // transport (default ssh, revision 2026-12-03) in every entry; port has no default
      `<data xmlns="${NC}">${inventory('<transport>ssh</transport>', '<port>2022</port><transport>ssh</transport>', '<transport>ssh</transport>')}` +
      // on-mismatch is a leaf-list with two default entries (YANG 1.1)
      `<policies xmlns="${HSV}"><step-timeout>300</step-timeout><token-lifetime>100</token-lifetime><self-check>true</self-check><on-mismatch>alarm</on-mismatch><on-mismatch>rollback</on-mismatch></policies>` +
      `<pve xmlns="${HSV}"><transport>restconf</transport><timeout>30</timeout></pve></data>`);
  });

  it('report-all-tagged: as report-all, every leaf at its default tagged wd:default="true"', async () => {
    await setup();
    const t = (name: string, v: string): string => `<${name} xmlns:wd="${WDA}" wd:default="true">${v}</${name}>`;
    expect(show(await fake.call(fake.session(), getConfig('report-all-tagged')))).toBe(
      `<data xmlns="${NC}">${inventory(t('transport', 'ssh'), '<port>2022</port>' + t('transport', 'ssh'), t('transport', 'ssh'))}` +
      `<policies xmlns="${HSV}">${t('step-timeout', '300')}<token-lifetime>100</token-lifetime>${t('self-check', 'true')}${t('on-mismatch', 'alarm')}${t('on-mismatch', 'rollback')}</policies>` +
      `<pve xmlns="${HSV}">${t('transport', 'restconf')}${t('timeout', '30')}</pve></data>`);
  });

  it('defaults are filtered like data: a subtree or xpath filter selects a default leaf', async () => {
    await setup();
    const s = fake.session();
    const want = `<data xmlns="${NC}"><policies xmlns="${HSV}"><self-check>true</self-check></policies></data>`;
    expect(show(await fake.call(s, getConfig('report-all', `<filter><policies xmlns="${HSV}"><self-check/></policies></filter>`)))).toBe(want);
    expect(show(await fake.call(s, getConfig('report-all', `<filter type="xpath" xmlns:h="${HSV}" select="/h:policies/h:self-check"/>`)))).toBe(want);
    expect(show(await fake.call(s, getConfig('', `<filter><policies xmlns="${HSV}"><self-check/></policies></filter>`)))).toBe(`<data xmlns="${NC}"/>`);
  });

  it('get: the same modes over config and state', async () => {
    await setup();
    const s = fake.session();
    const get = (mode: string): string => `<get xmlns="${NC}"><filter><inventory xmlns="${HSV}"/><henbs xmlns="${HSV}"/></filter>${wd(mode)}</get>`;
    const trimmed = show(await fake.call(s, get('trim')));
    expect(trimmed).toContain(inventory('', '<port>2022</port>', ''));
    expect(trimmed).toContain(`<henbs xmlns="${HSV}"><henb><henb-id>h1</henb-id><state>trusted</state></henb></henbs>`);
    expect(show(await fake.call(s, get('report-all')))).toContain(inventory('<transport>ssh</transport>', '<port>2022</port><transport>ssh</transport>', '<transport>ssh</transport>'));
  });

  it('copy-config accepts the parameter (it governs a <url> target: none here); other values and operations are refused', async () => {
    await setup();
    const s = fake.session();
    expect(await fake.call(s, `<copy-config xmlns="${NC}"><target><running/></target><source><running/></source>${wd('trim')}</copy-config>`)).toBe('ok');
    expect(typeTagInfo(await fake.fail(s, getConfig('report-none')))).toEqual([{ type: 'application', tag: 'invalid-value', info: [`<bad-element xmlns="${NC}">with-defaults</bad-element>`] }]);
    expect(typeTagInfo(await fake.fail(s, `<get xmlns="${NC}">${wd('everything')}</get>`))[0]!.tag).toBe('invalid-value');
    const edit = await fake.fail(s, `<edit-config xmlns="${NC}"><target><running/></target>${wd('trim')}<config/></edit-config>`);
    expect(typeTagInfo(edit)).toEqual([{ type: 'protocol', tag: 'unknown-namespace', info: [`<bad-element xmlns="${NC}">with-defaults</bad-element>`, `<bad-namespace xmlns="${NC}">${WD}</bad-namespace>`] }]);
    expect(edit[0]!.message).toMatch(/edit-config has no parameter with-defaults/);
  });
});

describe('with-defaults: YANG 1.1 leaf-list defaults (RFC 7950 7.7.4)', () => {
  const LL = 'urn:test:leaf-list-defaults';
  let fake: Fake;
  let std: StandardOperations;
  let dir: string;
  afterEach(async () => {
    await std?.close();
    fake?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const setup = async (config: string): Promise<void> => {
    dir = mkdtempSync(join(tmpdir(), 'hsv-llwd-'));
    writeFileSync(join(dir, 'lld.yang'), `module lld { yang-version 1.1; namespace "${LL}"; prefix l;
      grouping g { leaf-list tags { type string; default "x"; } }
      container servers {
        leaf-list names { type string; default "alpha"; default "beta"; }
        leaf-list none { type string; }
        container sub { uses g { refine tags { default "r1"; default "r2"; } } }
      }
    }\n`);
    const { validator } = await loadYang(dir);
    fake = createFake({ validator });
    std = registerStandardOperations(fake.reg, { ietfYangDir: join(import.meta.dirname, '../../../yang/ietf'), eventLog: false });
    if (config) await fake.call(fake.session(), `<edit-config xmlns="${NC}"><target><running/></target><config>${config}</config></edit-config>`);
  };

  it('report-all: a leaf-list without entries is reported with its default entries, in order; a refine replaces them', async () => {
    await setup('');
    expect(show(await fake.call(fake.session(), getConfig('report-all')))).toBe(
      `<data xmlns="${NC}"><servers xmlns="${LL}"><names>alpha</names><names>beta</names><sub><tags>r1</tags><tags>r2</tags></sub></servers></data>`);
    expect(show(await fake.call(fake.session(), getConfig('')))).toBe(`<data xmlns="${NC}"/>`);
  });

  it('report-all: a leaf-list with entries keeps them (no default entry added); tagged marks the defaults only', async () => {
    await setup(`<servers xmlns="${LL}"><names>gamma</names></servers>`);
    expect(show(await fake.call(fake.session(), getConfig('report-all')))).toBe(
      `<data xmlns="${NC}"><servers xmlns="${LL}"><names>gamma</names><sub><tags>r1</tags><tags>r2</tags></sub></servers></data>`);
    const t = (v: string): string => `<tags xmlns:wd="${WDA}" wd:default="true">${v}</tags>`;
    expect(show(await fake.call(fake.session(), getConfig('report-all-tagged')))).toBe(
      `<data xmlns="${NC}"><servers xmlns="${LL}"><names>gamma</names><sub>${t('r1')}${t('r2')}</sub></servers></data>`);
    // trim keeps leaf-list entries that a client set, even one equal to a default value
    await fake.call(fake.session(), `<edit-config xmlns="${NC}"><target><running/></target><config><servers xmlns="${LL}"><names>alpha</names></servers></config></edit-config>`);
    expect(show(await fake.call(fake.session(), getConfig('trim')))).toBe(
      `<data xmlns="${NC}"><servers xmlns="${LL}"><names>gamma</names><names>alpha</names></servers></data>`);
  });
});
