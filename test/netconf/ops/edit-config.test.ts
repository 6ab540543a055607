import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { applyEdit, editRunning } from '../../../src/netconf/server/edit-config.js';
import type { EditConfigDeps } from '../../../src/netconf/server/edit-config.js';
import type { OperationContext } from '../../../src/netconf/server/operations.js';
import { frozenTree } from '../../../src/netconf/xml/frozen.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { EditOptions } from '../../../src/netconf/server/edit-config.js';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { DatastoreError, RunningDatastore } from '../../../src/netconf/server/datastore.js';
import { elements, parseXml, serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import type { YangValidator } from '../../../src/yang/types.js';
import { createFake, NC } from './fake.js';
import type { Fake } from './fake.js';
import { typeTagInfo } from '../../helpers/rpc-errors.js';

const X = 'urn:example:inv';
const top = (xml: string): XmlElement[] => elements(parseXml(`<c xmlns="${NC}" xmlns:nc="${NC}">${xml}</c>`));
const show = (els: XmlElement[]): string => els.map((e) => serializeXml(e)).join('');
const plain = (xml: string): string => show(elements(parseXml(`<c xmlns="${NC}">${xml}</c>`)));
const BASE = `<inv xmlns="${X}"><henb><henb-id>a</henb-id><ip>10.0.0.1</ip></henb><henb><henb-id>b</henb-id><ip>10.0.0.2</ip></henb><policy><quarantine>true</quarantine></policy></inv>`;

function edit(config: string, options: EditOptions = {}, base = BASE) {
  return applyEdit(top(base), top(config), options);
}

describe('applyEdit (RFC 6241 section 7.2)', () => {
  it('merge changes a leaf in a list entry matched by key and adds a new entry', () => {
    const r = edit(`<inv xmlns="${X}"><henb><henb-id>b</henb-id><ip>10.0.0.9</ip></henb><henb><henb-id>c</henb-id></henb></inv>`);
    expect(r.errors).toEqual([]);
    expect(show(r.top)).toBe(show(top(`<inv xmlns="${X}"><henb><henb-id>a</henb-id><ip>10.0.0.1</ip></henb><henb><henb-id>b</henb-id><ip>10.0.0.9</ip></henb><policy><quarantine>true</quarantine></policy><henb><henb-id>c</henb-id></henb></inv>`)));
  });
  it('create of an existing entry is data-exists and changes nothing', () => {
    const r = edit(`<inv xmlns="${X}"><henb nc:operation="create"><henb-id>a</henb-id></henb></inv>`);
    expect(r.errors.map((e) => e.tag)).toEqual(['data-exists']);
    expect(r.errors[0]!.path).toMatch(/^\/n\d+:inv\/n\d+:henb\[n\d+:henb-id='a'\]$/);
    expect(show(r.top)).toBe(show(top(BASE)));
  });
  it('delete of a missing entry is data-missing; remove of a missing one is fine', () => {
    expect(edit(`<inv xmlns="${X}"><henb nc:operation="delete"><henb-id>zz</henb-id></henb></inv>`).errors[0]!.tag).toBe('data-missing');
    const r = edit(`<inv xmlns="${X}"><henb nc:operation="remove"><henb-id>zz</henb-id></henb><henb nc:operation="delete"><henb-id>a</henb-id></henb></inv>`);
    expect(r.errors).toEqual([]);
    expect(show(r.top)).not.toContain('10.0.0.1');
    expect(show(r.top)).toContain('10.0.0.2');
  });
  it('replace swaps a whole subtree', () => {
    const r = edit(`<inv xmlns="${X}"><policy nc:operation="replace"><max-age>5</max-age></policy></inv>`);
    expect(show(r.top)).toContain(`<policy><max-age>5</max-age></policy>`);
    expect(show(r.top)).not.toContain('quarantine');
  });
  it('default-operation none leaves untouched data alone and only applies explicit operations', () => {
    const r = edit(`<inv xmlns="${X}"><henb><henb-id>a</henb-id><ip nc:operation="delete"/></henb><policy><quarantine>false</quarantine></policy></inv>`, { defaultOperation: 'none' });
    expect(r.errors).toEqual([]);
    expect(show(r.top)).toContain('<henb><henb-id>a</henb-id></henb>');
    expect(show(r.top)).toContain('<quarantine>true</quarantine>');
  });
  it('default-operation none on missing data is data-missing', () => {
    expect(edit(`<other xmlns="${X}"><x>1</x></other>`, { defaultOperation: 'none' }).errors[0]!.tag).toBe('data-missing');
  });
  it('stop-on-error reports the first error, continue-on-error every error; neither changes anything', () => {
    const cfg = `<inv xmlns="${X}"><henb nc:operation="create"><henb-id>a</henb-id></henb><henb nc:operation="delete"><henb-id>q</henb-id></henb></inv>`;
    expect(edit(cfg, { errorOption: 'stop-on-error' }).errors.map((e) => e.tag)).toEqual(['data-exists']);
    const r = edit(cfg, { errorOption: 'continue-on-error' });
    expect(r.errors.map((e) => e.tag)).toEqual(['data-exists', 'data-missing']);
    expect(show(r.top)).toBe(show(top(BASE)));
  });
  it('an invalid operation attribute is bad-attribute', () => {
    expect(edit(`<inv xmlns="${X}" nc:operation="frobnicate"/>`).errors[0]!.tag).toBe('bad-attribute');
  });
  it('leaf-lists are matched by value', () => {
    const base = `<t xmlns="${X}"><tag>a</tag><tag>b</tag></t>`;
    const r = edit(`<t xmlns="${X}"><tag nc:operation="delete">b</tag><tag>c</tag></t>`, {}, base);
    expect(show(r.top)).toBe(show(top(`<t xmlns="${X}"><tag>a</tag><tag>c</tag></t>`)));
  });
  it('uses list keys from schema hints', () => {
    const base = `<t xmlns="${X}"><e><k>1</k><v>x</v></e></t>`;
    const hints = { listKeys: (p: Array<{ name: string }>) => (p[p.length - 1]!.name === 'e' ? ['k'] : undefined) };
    const r = edit(`<t xmlns="${X}"><e><k>1</k><v>y</v></e><e><k>2</k></e></t>`, { schema: hints }, base);
    expect(show(r.top)).toBe(show(top(`<t xmlns="${X}"><e><k>1</k><v>y</v></e><e><k>2</k></e></t>`)));
    expect(edit(`<t xmlns="${X}"><e><v>z</v></e></t>`, { schema: hints }, base).errors[0]!.tag).toBe('missing-element');
  });
  it('copies only the path to a change (copy on write): every other subtree is current\'s, and current is not written', () => {
    // current frozen as the datastore holds it: a write into it would throw
    const current = top(BASE).map(frozenTree);
    const [henbA, henbB, policy] = elements(current[0]!);
    const cases: Array<[string, EditOptions, (r: XmlElement[]) => void]> = [
      [`<inv xmlns="${X}"><henb><henb-id>b</henb-id><ip>10.0.0.9</ip></henb></inv>`, {}, (r) => {
        expect(elements(r[0]!)[0]).toBe(henbA);
        expect(elements(r[0]!)[2]).toBe(policy);
        expect(elements(r[0]!)[1]).not.toBe(henbB);
      }],
      [`<inv xmlns="${X}"><henb nc:operation="delete"><henb-id>a</henb-id></henb></inv>`, {}, (r) => expect(elements(r[0]!)).toEqual([henbB, policy])],
      [`<inv xmlns="${X}"><policy nc:operation="replace"><max-age>5</max-age></policy></inv>`, {}, (r) => expect(elements(r[0]!).slice(0, 2)).toEqual([henbA, henbB])],
      [`<inv xmlns="${X}"><henb><henb-id>a</henb-id><ip nc:operation="delete"/></henb></inv>`, { defaultOperation: 'none' }, (r) => {
        expect(elements(r[0]!)[1]).toBe(henbB);
        expect(elements(r[0]!)[2]).toBe(policy);
      }],
      [`<inv xmlns="${X}" nc:operation="merge"><henb><henb-id>c</henb-id></henb></inv>`, { defaultOperation: 'replace' }, (r) => expect(elements(r[0]!).slice(0, 3)).toEqual([henbA, henbB, policy])],
    ];
    for (const [cfg, options, check] of cases) {
      const r = applyEdit(current, top(cfg), options);
      expect(r.errors, cfg).toEqual([]);
      check(r.top);
      expect(show(current), cfg).toBe(show(top(BASE)));
    }
  });
  it('operation attributes are not stored', () => {
    const r = edit(`<inv xmlns="${X}"><henb nc:operation="create"><henb-id>n</henb-id></henb></inv>`);
    expect(show(r.top)).not.toContain('operation');
  });

  describe('each operation on each kind of node (RFC 6241 7.2; RFC 7950 7.5.8, 7.6.8, 7.7.9, 7.8.6)', () => {
    // schema: t is a container, c a container, e a list keyed by name, ll a leaf-list, l a leaf
    const hints = {
      listKeys: (p: Array<{ name: string }>) => (p.map((s) => s.name).join('/') === 't/e' ? ['name'] : undefined),
      isLeafList: (p: Array<{ name: string }>) => p.map((s) => s.name).join('/') === 't/ll',
    };
    const T0 = '<c><leaf>1</leaf></c><e><name>a</name><v>1</v></e><e><name>b</name><v>2</v></e><ll>x</ll><ll>y</ll><l>5</l>';
    const rows: Array<[string, string, string]> = [
      // [what, edit inside <t>, expected <t> content or "!error-tag"]
      ['merge container', '<c nc:operation="merge"><leaf2>2</leaf2></c>', '<c><leaf>1</leaf><leaf2>2</leaf2></c><e><name>a</name><v>1</v></e><e><name>b</name><v>2</v></e><ll>x</ll><ll>y</ll><l>5</l>'],
      ['replace container', '<c nc:operation="replace"><leaf2>2</leaf2></c>', '<c><leaf2>2</leaf2></c><e><name>a</name><v>1</v></e><e><name>b</name><v>2</v></e><ll>x</ll><ll>y</ll><l>5</l>'],
      ['create existing container', '<c nc:operation="create"/>', '!data-exists'],
      ['create new container', '<d nc:operation="create"><x>1</x></d>', `${T0}<d><x>1</x></d>`],
      ['delete container', '<c nc:operation="delete"/>', '<e><name>a</name><v>1</v></e><e><name>b</name><v>2</v></e><ll>x</ll><ll>y</ll><l>5</l>'],
      ['delete missing container', '<d nc:operation="delete"/>', '!data-missing'],
      ['remove missing container', '<d nc:operation="remove"/>', T0],
      ['merge list entry', '<e nc:operation="merge"><name>a</name><w>9</w></e>', '<c><leaf>1</leaf></c><e><name>a</name><v>1</v><w>9</w></e><e><name>b</name><v>2</v></e><ll>x</ll><ll>y</ll><l>5</l>'],
      ['replace list entry', '<e nc:operation="replace"><name>a</name><w>9</w></e>', '<c><leaf>1</leaf></c><e><name>a</name><w>9</w></e><e><name>b</name><v>2</v></e><ll>x</ll><ll>y</ll><l>5</l>'],
      ['create existing list entry', '<e nc:operation="create"><name>b</name></e>', '!data-exists'],
      ['create new list entry', '<e nc:operation="create"><name>c</name></e>', `${T0}<e><name>c</name></e>`],
      ['delete list entry', '<e nc:operation="delete"><name>a</name></e>', '<c><leaf>1</leaf></c><e><name>b</name><v>2</v></e><ll>x</ll><ll>y</ll><l>5</l>'],
      ['delete missing list entry', '<e nc:operation="delete"><name>zz</name></e>', '!data-missing'],
      ['remove missing list entry', '<e nc:operation="remove"><name>zz</name></e>', T0],
      ['list entry without its key', '<e><v>3</v></e>', '!missing-element'],
      ['merge existing leaf-list value', '<ll>x</ll>', T0],
      ['merge new leaf-list value', '<ll>z</ll>', `${T0}<ll>z</ll>`],
      ['create existing leaf-list value', '<ll nc:operation="create">y</ll>', '!data-exists'],
      ['create new leaf-list value', '<ll nc:operation="create">z</ll>', `${T0}<ll>z</ll>`],
      ['delete leaf-list value', '<ll nc:operation="delete">x</ll>', '<c><leaf>1</leaf></c><e><name>a</name><v>1</v></e><e><name>b</name><v>2</v></e><ll>y</ll><l>5</l>'],
      ['delete missing leaf-list value', '<ll nc:operation="delete">q</ll>', '!data-missing'],
      ['remove missing leaf-list value', '<ll nc:operation="remove">q</ll>', T0],
      ['merge leaf', '<l>6</l>', '<c><leaf>1</leaf></c><e><name>a</name><v>1</v></e><e><name>b</name><v>2</v></e><ll>x</ll><ll>y</ll><l>6</l>'],
      ['replace leaf', '<l nc:operation="replace">7</l>', '<c><leaf>1</leaf></c><e><name>a</name><v>1</v></e><e><name>b</name><v>2</v></e><ll>x</ll><ll>y</ll><l>7</l>'],
      ['create existing leaf', '<l nc:operation="create">6</l>', '!data-exists'],
      ['create new leaf', '<m nc:operation="create">1</m>', `${T0}<m>1</m>`],
      ['delete leaf', '<l nc:operation="delete"/>', '<c><leaf>1</leaf></c><e><name>a</name><v>1</v></e><e><name>b</name><v>2</v></e><ll>x</ll><ll>y</ll>'],
      ['delete missing leaf', '<m nc:operation="delete"/>', '!data-missing'],
      ['remove missing leaf', '<m nc:operation="remove"/>', T0],
    ];
    for (const [what, cfg, want] of rows) {
      it(what, () => {
        const r = edit(`<t xmlns="${X}">${cfg}</t>`, { schema: hints }, `<t xmlns="${X}">${T0}</t>`);
        if (want.startsWith('!')) {
          expect(r.errors.map((e) => e.tag)).toEqual([want.slice(1)]);
          expect(show(r.top)).toBe(show(top(`<t xmlns="${X}">${T0}</t>`)));
        } else {
          expect(r.errors).toEqual([]);
          expect(show(r.top)).toBe(show(top(`<t xmlns="${X}">${want}</t>`)));
        }
      });
    }
  });

  it('error-path names list entries by key and leaf-list entries by value (RFC 6241 4.3)', () => {
    const hints = {
      listKeys: (p: Array<{ name: string }>) => (p.map((s) => s.name).join('/') === 't/e' ? ['name'] : undefined),
      isLeafList: (p: Array<{ name: string }>) => p.map((s) => s.name).join('/') === 't/ll',
    };
    const base = `<t xmlns="${X}"><e><name>a</name><v>1</v></e><ll>x</ll></t>`;
    const prefixes = new Map([[X, 'inv']]);
    const dup = edit(`<t xmlns="${X}"><e nc:operation="create"><name>a</name></e></t>`, { schema: hints, prefixes }, base).errors[0]!;
    expect(dup).toMatchObject({ type: 'application', tag: 'data-exists', path: "/inv:t/inv:e[inv:name='a']", pathNs: { inv: X } });
    const leaf = edit(`<t xmlns="${X}"><e><name>a</name><v nc:operation="create">2</v></e></t>`, { schema: hints, prefixes }, base).errors[0]!;
    expect(leaf.path).toBe("/inv:t/inv:e[inv:name='a']/inv:v");
    const ll = edit(`<t xmlns="${X}"><ll nc:operation="delete">it's</ll></t>`, { schema: hints, prefixes }, base).errors[0]!;
    expect(ll).toMatchObject({ tag: 'data-missing', path: `/inv:t/inv:ll[.="it's"]` });
    // default-operation none: the missing parent is named with its key
    const none = edit(`<t xmlns="${X}"><e><name>zz</name><v nc:operation="delete"/></e></t>`, { schema: hints, prefixes, defaultOperation: 'none' }, base).errors[0]!;
    expect(none).toMatchObject({ tag: 'data-missing', path: "/inv:t/inv:e[inv:name='zz']" });
    // keys found by the name/id heuristic when there is no schema
    const heur = edit(`<inv xmlns="${X}"><henb nc:operation="delete"><henb-id>q</henb-id></henb></inv>`, { prefixes }).errors[0]!;
    expect(heur.path).toBe("/inv:inv/inv:henb[inv:henb-id='q']");
  });

  it('an operation attribute outside the NETCONF namespace, or any other attribute, is unknown-attribute (RFC 6241 7.2: the attribute "belongs to the NETCONF namespace")', () => {
    const cases: Array<[string, string, string]> = [
      [`<inv xmlns="${X}"><henb operation="delete"><henb-id>a</henb-id></henb></inv>`, 'operation', 'henb'],
      [`<inv xmlns="${X}" xmlns:o="urn:other"><henb o:operation="delete"><henb-id>a</henb-id></henb></inv>`, 'operation', 'henb'],
      [`<inv xmlns="${X}"><policy colour="red"><quarantine>true</quarantine></policy></inv>`, 'colour', 'policy'],
      [`<inv xmlns="${X}"><new-one nc:operation="create"><x flag="1">1</x></new-one></inv>`, 'flag', 'x'],
    ];
    for (const [cfg, attrName, elName] of cases) {
      for (const errorOption of ['stop-on-error', 'continue-on-error'] as const) {
        const r = edit(cfg, { errorOption });
        expect(r.errors, cfg).toHaveLength(1);
        expect(r.errors[0], cfg).toMatchObject({ type: 'protocol', tag: 'unknown-attribute' });
        expect(r.errors[0]!.info!.map((i) => serializeXml(i)), cfg).toEqual([
          `<bad-attribute xmlns="${NC}">${attrName}</bad-attribute>`, `<bad-element xmlns="${NC}">${elName}</bad-element>`]);
        expect(show(r.top), cfg).toBe(show(top(BASE)));
      }
    }
    expect(edit(`<inv xmlns="${X}"><henb operation="delete"><henb-id>a</henb-id></henb></inv>`).errors[0]!.message).toMatch(/NETCONF base namespace/);
  });

  it('default-operation replace: the config completely replaces the datastore, explicit operations included (RFC 6241 7.2)', () => {
    const base = `<a xmlns="${X}"><b>1</b></a><y xmlns="${X}"><v>1</v></y><z xmlns="${X}"/>`;
    const merged = edit(`<a xmlns="${X}" nc:operation="merge"><c>2</c></a><y xmlns="${X}"><w>2</w></y>`, { defaultOperation: 'replace' }, base);
    expect(merged.errors).toEqual([]);
    // (the nc prefix declaration the request carried is not part of the comparison)
    const bare = (xml: string): string => xml.replaceAll(` xmlns:nc="${NC}"`, '');
    expect(bare(show(merged.top))).toBe(plain(`<a xmlns="${X}"><b>1</b><c>2</c></a><y xmlns="${X}"><w>2</w></y>`));
    const deleted = edit(`<z xmlns="${X}" nc:operation="delete"/><y xmlns="${X}"><w>2</w></y>`, { defaultOperation: 'replace' }, base);
    expect(deleted.errors).toEqual([]);
    expect(bare(show(deleted.top))).toBe(plain(`<y xmlns="${X}"><w>2</w></y>`));
    expect(edit(`<a xmlns="${X}" nc:operation="create"/>`, { defaultOperation: 'replace' }, base).errors.map((e) => e.tag)).toEqual(['data-exists']);
    expect(show(edit('', { defaultOperation: 'replace' }, base).top)).toBe('');
  });
});

describe('edit-config, lock, unlock, validate over the running datastore', () => {
  let fake: Fake;
  let std: StandardOperations;
  afterEach(async () => {
    await std?.close();
    fake?.cleanup();
  });
  const setup = (validator?: YangValidator): void => {
    fake = createFake(validator ? { validator } : {});
    std = registerStandardOperations(fake.reg, { ietfYangDir: '/nonexistent' });
  };
  const ec = (cfg: string, extra = ''): string =>
    `<edit-config xmlns="${NC}" xmlns:nc="${NC}"><target><running/></target>${extra}<config>${cfg}</config></edit-config>`;
  const getConfig = async (s: ReturnType<Fake['session']>): Promise<string> => {
    const r = await fake.call(s, `<get-config xmlns="${NC}"><source><running/></source></get-config>`);
    return r === 'ok' ? 'ok' : show(r);
  };

  it('commits, persists atomically, reloads, and tells listeners', async () => {
    setup();
    const s = fake.session();
    const seen: string[] = [];
    fake.datastore!.onConfigChange((r) => void seen.push(serializeXml(r)));
    expect(await fake.call(s, ec(BASE))).toBe('ok');
    expect(await getConfig(s)).toBe(`<data xmlns="${NC}">${plain(BASE)}</data>`);
    expect(seen).toHaveLength(1);
    expect(readdirSync(fake.dataDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const reloaded = RunningDatastore.open(fake.dataDir);
    expect(show(reloaded.getTop())).toBe(plain(BASE));
    expect(serializeXml(fake.datastore!.getRunning())).toBe(`<data xmlns="${NC}">${plain(BASE)}</data>`);
  });

  it('a failed edit leaves running and the file untouched', async () => {
    setup();
    const s = fake.session();
    await fake.call(s, ec(BASE));
    const before = readFileSync(join(fake.dataDir, 'running.xml'), 'utf8');
    const errs = await fake.fail(s, ec(`<inv xmlns="${X}"><henb><henb-id>z</henb-id></henb><henb nc:operation="create"><henb-id>a</henb-id></henb></inv>`, '<error-option>rollback-on-error</error-option>'));
    expect(errs[0]!.tag).toBe('data-exists');
    expect(readFileSync(join(fake.dataDir, 'running.xml'), 'utf8')).toBe(before);
    expect(await getConfig(s)).not.toContain('<henb-id>z</henb-id>');
  });

  it('validates with the YANG validator before commit; test-only does not commit', async () => {
    const validator: YangValidator = {
      hasRpc: () => false, validateRpcInput: () => [], validateRpcOutput: () => [], validateNotification: () => [],
      validateConfig: (t) => (t.map((x) => serializeXml(x)).join('').includes('bad') ? [{ type: 'application', tag: 'invalid-value', message: 'bad value', path: '/x:inv' }] : []),
    };
    setup(validator);
    const s = fake.session();
    const errs = await fake.fail(s, ec(`<inv xmlns="${X}"><policy><quarantine>bad</quarantine></policy></inv>`));
    expect(errs).toEqual([{ type: 'application', tag: 'invalid-value', message: 'bad value', path: '/x:inv' }]);
    expect(await fake.call(s, ec(BASE, '<test-option>test-only</test-option>'))).toBe('ok');
    expect(await getConfig(s)).toBe(`<data xmlns="${NC}"/>`);
    const verr = await fake.fail(s, `<validate xmlns="${NC}"><source><config><inv xmlns="${X}"><policy><quarantine>bad</quarantine></policy></inv></config></source></validate>`);
    expect(verr[0]!.tag).toBe('invalid-value');
    expect(await fake.call(s, `<validate xmlns="${NC}"><source><running/></source></validate>`)).toBe('ok');
  });

  it('default-operation replace replaces the whole configuration', async () => {
    setup();
    const s = fake.session();
    await fake.call(s, ec(BASE));
    await fake.call(s, ec(`<other xmlns="${X}"><x>1</x></other>`, '<default-operation>replace</default-operation>'));
    expect(await getConfig(s)).toBe(`<data xmlns="${NC}"><other xmlns="${X}"><x>1</x></other></data>`);
  });

  it('rejects candidate/startup targets, bad parameters and a missing config', async () => {
    setup();
    const s = fake.session();
    const e1 = await fake.fail(s, `<edit-config xmlns="${NC}"><target><candidate/></target><config/></edit-config>`);
    expect(e1[0]).toMatchObject({ type: 'protocol', tag: 'unknown-element' });
    expect(serializeXml(e1[0]!.info![0]!)).toContain('candidate');
    expect((await fake.fail(s, `<get-config xmlns="${NC}"><source><startup/></source></get-config>`))[0]!.tag).toBe('unknown-element');
    expect((await fake.fail(s, ec('', '<default-operation>merge-ish</default-operation>')))[0]!.tag).toBe('invalid-value');
    expect((await fake.fail(s, `<edit-config xmlns="${NC}"><target><running/></target></edit-config>`))[0]!.tag).toBe('missing-element');
  });

  it('unknown parameters of edit-config, copy-config, delete-config, validate, lock, unlock, kill-session are refused', async () => {
    setup();
    const s = fake.session();
    const other = fake.session();
    const ops = [
      `<edit-config xmlns="${NC}"><target><running/></target>%<config/></edit-config>`,
      `<copy-config xmlns="${NC}"><target><running/></target><source><running/></source>%</copy-config>`,
      `<delete-config xmlns="${NC}"><target><running/></target>%</delete-config>`,
      `<validate xmlns="${NC}"><source><running/></source>%</validate>`,
      `<lock xmlns="${NC}"><target><running/></target>%</lock>`,
      `<unlock xmlns="${NC}"><target><running/></target>%</unlock>`,
      `<kill-session xmlns="${NC}"><session-id>${other.id}</session-id>%</kill-session>`,
    ];
    for (const op of ops) {
      const unknown = await fake.fail(s, op.replace('%', '<bogus/>'));
      expect(typeTagInfo(unknown), op).toEqual([{ type: 'protocol', tag: 'unknown-element', info: [`<bad-element xmlns="${NC}">bogus</bad-element>`] }]);
      const foreign = await fake.fail(s, op.replace('%', '<bogus xmlns="urn:bogus"/>'));
      expect(foreign[0], op).toMatchObject({ type: 'protocol', tag: 'unknown-namespace' });
      expect(foreign[0]!.info!.map((i) => serializeXml(i)), op).toEqual([
        `<bad-element xmlns="${NC}">bogus</bad-element>`, `<bad-namespace xmlns="${NC}">urn:bogus</bad-namespace>`]);
    }
    // nothing happened: no lock taken, the other session alive, running untouched
    expect(std.locks.running).toBeUndefined();
    expect(other.signal.aborted).toBe(false);
    expect(await getConfig(s)).toBe(`<data xmlns="${NC}"/>`);
  });

  it('targets: RFC 6241 8.2 :writable-running only; RFC 7950 8.3.1 for the rest', async () => {
    setup();
    const s = fake.session();
    const cases: Array<{ target: string; tag: string; bad: string }> = [
      { target: '<candidate/>', tag: 'unknown-element', bad: 'candidate' },
      { target: '<running/><candidate/>', tag: 'unknown-element', bad: 'candidate' },
      { target: '<running/><running/>', tag: 'bad-element', bad: 'target' },
      { target: '', tag: 'missing-element', bad: 'target' },
    ];
    for (const op of ['edit-config', 'lock', 'unlock']) {
      for (const c of cases) {
        const body = op === 'edit-config' ? '<config/>' : '';
        const errs = await fake.fail(s, `<${op} xmlns="${NC}"><target>${c.target}</target>${body}</${op}>`);
        expect(typeTagInfo(errs), `${op} ${c.target}`).toEqual([{ type: 'protocol', tag: c.tag, info: [`<bad-element xmlns="${NC}">${c.bad}</bad-element>`] }]);
      }
    }
  });

  it('delete-config (RFC 6241 7.4): running cannot be deleted; startup and url are not supported', async () => {
    setup();
    const s = fake.session();
    await fake.call(s, ec(BASE));
    const cases: Array<{ target: string; tag: string; bad: string; message: RegExp }> = [
      { target: '<target><running/></target>', tag: 'unknown-element', bad: 'running', message: /running.*cannot be deleted/ },
      { target: '<target><startup/></target>', tag: 'unknown-element', bad: 'startup', message: /startup/ },
      { target: '<target><url>file:///x.xml</url></target>', tag: 'unknown-element', bad: 'url', message: /url/ },
      { target: '<target/>', tag: 'missing-element', bad: 'target', message: /target/ },
      { target: '', tag: 'missing-element', bad: 'target', message: /target/ },
    ];
    for (const c of cases) {
      const errs = await fake.fail(s, `<delete-config xmlns="${NC}">${c.target}</delete-config>`);
      expect(typeTagInfo(errs), c.target).toEqual([{ type: 'protocol', tag: c.tag, info: [`<bad-element xmlns="${NC}">${c.bad}</bad-element>`] }]);
      expect(errs[0]!.message, c.target).toMatch(c.message);
    }
    expect(await getConfig(s)).toBe(`<data xmlns="${NC}">${plain(BASE)}</data>`);
  });

  it('error-option and test-option (RFC 6241 7.2, 8.5, 8.6): every failed edit leaves running unchanged', async () => {
    const validator: YangValidator = {
      hasRpc: () => false, validateRpcInput: () => [], validateRpcOutput: () => [], validateNotification: () => [],
      validateConfig: (t) => (t.map((x) => serializeXml(x)).join('').includes('bad') ? [{ type: 'application', tag: 'invalid-value', message: 'bad value' }] : []),
    };
    setup(validator);
    const s = fake.session();
    await fake.call(s, ec(BASE));
    const before = await getConfig(s);
    // one good change, then two errors
    const cfg = `<inv xmlns="${X}"><policy><max-age>9</max-age></policy><henb nc:operation="create"><henb-id>a</henb-id></henb><henb nc:operation="delete"><henb-id>q</henb-id></henb></inv>`;
    const rows: Array<[string, string[]]> = [['stop-on-error', ['data-exists']], ['continue-on-error', ['data-exists', 'data-missing']], ['rollback-on-error', ['data-exists']]];
    for (const [option, tags] of rows) {
      const errs = await fake.fail(s, ec(cfg, `<error-option>${option}</error-option>`));
      expect(errs.map((e) => e.tag), option).toEqual(tags);
      expect(await getConfig(s), option).toBe(before);
    }
    // test-option set still validates running (RFC 7950 8.3.3: constraints enforced at the end of edit-config)
    for (const option of ['set', 'test-then-set', 'test-only']) {
      const errs = await fake.fail(s, ec(`<inv xmlns="${X}"><policy><quarantine>bad</quarantine></policy></inv>`, `<test-option>${option}</test-option>`));
      expect(errs.map((e) => e.tag), option).toEqual(['invalid-value']);
    }
    expect(await fake.call(s, ec(`<inv xmlns="${X}"><policy><max-age>9</max-age></policy></inv>`, '<test-option>test-only</test-option>'))).toBe('ok');
    expect(await getConfig(s)).toBe(before);
    expect(await fake.call(s, ec(`<inv xmlns="${X}"><policy><max-age>9</max-age></policy></inv>`, '<test-option>set</test-option>'))).toBe('ok');
    expect(await getConfig(s)).toContain('<max-age>9</max-age>');
    expect((await fake.fail(s, ec('', '<error-option>ignore</error-option>')))[0]).toMatchObject({ tag: 'invalid-value' });
    expect((await fake.fail(s, ec('', '<test-option>maybe</test-option>')))[0]).toMatchObject({ tag: 'invalid-value' });
  });

  it('edit-config refuses unknown attributes on data and stores none (RFC 6241 7.2)', async () => {
    setup();
    const s = fake.session();
    await fake.call(s, ec(BASE));
    const errs = await fake.fail(s, ec(`<inv xmlns="${X}"><henb operation="delete"><henb-id>a</henb-id></henb></inv>`));
    expect(errs[0]).toMatchObject({ type: 'protocol', tag: 'unknown-attribute' });
    expect(await getConfig(s)).toBe(`<data xmlns="${NC}">${plain(BASE)}</data>`);
    const copy = await fake.fail(s, `<copy-config xmlns="${NC}"><target><running/></target><source><config><other xmlns="${X}" colour="red"><x>2</x></other></config></source></copy-config>`);
    expect(copy[0]).toMatchObject({ type: 'protocol', tag: 'unknown-attribute' });
    expect(copy[0]!.info!.map((i) => serializeXml(i))).toEqual([`<bad-attribute xmlns="${NC}">colour</bad-attribute>`, `<bad-element xmlns="${NC}">other</bad-element>`]);
    expect(await getConfig(s)).toBe(`<data xmlns="${NC}">${plain(BASE)}</data>`);
    // validate (8.6) judges an inline config as copy-config would take it
    const val = await fake.fail(s, `<validate xmlns="${NC}"><source><config><other xmlns="${X}"><x colour="red">2</x></other></config></source></validate>`);
    expect(val[0]).toMatchObject({ type: 'protocol', tag: 'unknown-attribute' });
    expect(await fake.call(s, `<validate xmlns="${NC}" xmlns:nc="${NC}"><source><config><other xmlns="${X}" nc:operation="merge"><x>2</x></other></config></source></validate>`)).toBe('ok');
  });

  it('lock: lock-denied with the holder, in-use for other writers, released at session end', async () => {
    setup();
    const a = fake.session();
    const b = fake.session();
    const lock = `<lock xmlns="${NC}"><target><running/></target></lock>`;
    const unlock = `<unlock xmlns="${NC}"><target><running/></target></unlock>`;
    expect(await fake.call(a, lock)).toBe('ok');
    const denied = await fake.fail(b, lock);
    expect(denied[0]!.tag).toBe('lock-denied');
    expect(serializeXml(denied[0]!.info![0]!)).toBe(`<session-id xmlns="${NC}">${a.id}</session-id>`);
    expect((await fake.fail(a, lock))[0]!.tag).toBe('lock-denied');
    expect((await fake.fail(b, ec(BASE)))[0]!.tag).toBe('in-use');
    expect((await fake.fail(b, unlock))[0]!.tag).toBe('operation-failed');
    expect(await fake.call(a, ec(BASE))).toBe('ok');
    a.end();
    expect(std.locks.running).toBeUndefined();
    expect(await fake.call(b, lock)).toBe('ok');
    expect(await fake.call(b, unlock)).toBe('ok');
    expect((await fake.fail(b, unlock))[0]!.tag).toBe('operation-failed');
  });

  it('kill-session ends another session and frees its lock', async () => {
    setup();
    const a = fake.session();
    const b = fake.session();
    await fake.call(a, `<lock xmlns="${NC}"><target><running/></target></lock>`);
    expect(await fake.call(b, `<kill-session xmlns="${NC}"><session-id>${a.id}</session-id></kill-session>`)).toBe('ok');
    expect(a.signal.aborted).toBe(true);
    expect(std.locks.running).toBeUndefined();
    expect((await fake.fail(b, `<kill-session xmlns="${NC}"><session-id>${b.id}</session-id></kill-session>`))[0]!.tag).toBe('invalid-value');
    expect((await fake.fail(b, `<kill-session xmlns="${NC}"><session-id>999</session-id></kill-session>`))[0]!.tag).toBe('invalid-value');
  });

  it('copy-config replaces running from an inline config; delete-config of running is refused', async () => {
    setup();
    const s = fake.session();
    await fake.call(s, ec(BASE));
    expect(await fake.call(s, `<copy-config xmlns="${NC}"><target><running/></target><source><running/></source></copy-config>`)).toBe('ok');
    expect(await fake.call(s, `<copy-config xmlns="${NC}" xmlns:nc="${NC}"><target><running/></target><source><config><other xmlns="${X}" nc:operation="merge"><x>2</x></other></config></source></copy-config>`)).toBe('ok');
    expect(await getConfig(s)).toBe(`<data xmlns="${NC}"><other xmlns="${X}"><x>2</x></other></data>`);
    expect((await fake.fail(s, `<copy-config xmlns="${NC}"><target><startup/></target><source><running/></source></copy-config>`))[0]!.tag).toBe('unknown-element');
    const del = await fake.fail(s, `<delete-config xmlns="${NC}"><target><running/></target></delete-config>`);
    expect(del[0]).toMatchObject({ type: 'protocol', tag: 'unknown-element' });
    const b = fake.session();
    await fake.call(b, `<lock xmlns="${NC}"><target><running/></target></lock>`);
    expect((await fake.fail(s, `<copy-config xmlns="${NC}"><target><running/></target><source><config/></source></copy-config>`))[0]!.tag).toBe('in-use');
  });

  it('a failed write keeps the old running configuration and leaves no temporary file', async () => {
    setup();
    const s = fake.session();
    await fake.call(s, ec(BASE));
    const before = await getConfig(s);
    // the data dir vanishes: the temporary file cannot be created
    rmSync(fake.dataDir, { recursive: true, force: true });
    let err: unknown;
    try {
      await fake.call(s, ec(`<other xmlns="${X}"><x>1</x></other>`));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatastoreError);
    expect((err as DatastoreError).code).toBe('ERR_DATASTORE_WRITE');
    expect(await getConfig(s)).toBe(before);
    mkdirSync(fake.dataDir, { recursive: true });
    expect(await fake.call(s, ec(`<other xmlns="${X}"><x>1</x></other>`))).toBe('ok');
    expect(readdirSync(fake.dataDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a corrupt running.xml is an error at start, never an empty configuration', () => {
    fake = createFake();
    writeFileSync(join(fake.dataDir, 'running.xml'), '<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><x>');
    let err: unknown;
    try {
      registerStandardOperations(fake.reg, { ietfYangDir: '/nonexistent', eventLog: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatastoreError);
    expect((err as DatastoreError).code).toBe('ERR_DATASTORE_CORRUPT');
  });

  it('serialises concurrent edits', async () => {
    setup();
    const s = fake.session();
    await Promise.all(Array.from({ length: 10 }, (_, i) =>
      fake.call(s, ec(`<inv xmlns="${X}"><henb><henb-id>h${i}</henb-id></henb></inv>`))));
    const cfg = await getConfig(s);
    for (let i = 0; i < 10; i++) expect(cfg).toContain(`<henb-id>h${i}</henb-id>`);
  });
});

describe('the running datastore\'s snapshots (issue 15, branch editcut: no deep copy of running per edit)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const open = (): RunningDatastore => {
    const d = join(tmpdir(), `hsv-snapshot-${process.pid}-${dirs.length}-${Date.now()}`);
    dirs.push(d);
    return RunningDatastore.open(d);
  };
  const ctx = { session: { id: 1, username: 'admin' }, log: silentLogger } as unknown as OperationContext;
  const depsOf = (datastore: RunningDatastore, validator?: YangValidator): EditConfigDeps =>
    ({ datastore, locks: { checkWrite: () => undefined }, validator, prefixes: () => new Map() }) as unknown as EditConfigDeps;
  const run = (deps: EditConfigDeps, cfg: string, testOption: 'test-then-set' | 'set' | 'test-only' = 'test-then-set') =>
    editRunning(deps, ctx, { operation: 'edit-config', defaultOperation: 'merge', errorOption: 'rollback-on-error', testOption, config: top(cfg) });

  it('a listener cannot change running, nor what the next listener sees, through the element it was given', async () => {
    const ds = open();
    const seen: string[] = [];
    const refused: unknown[] = [];
    ds.onConfigChange((r) => {
      try {
        (r.children[0] as XmlElement).children.splice(0);
      } catch (e) {
        refused.push(e);
      }
      try {
        r.children.push(leafOf('injected'));
      } catch (e) {
        refused.push(e);
      }
    });
    ds.onConfigChange((r) => void seen.push(serializeXml(r)));
    await run(depsOf(ds), BASE);
    expect(refused.map((e) => (e as Error).constructor.name)).toEqual(['TypeError', 'TypeError']);
    expect(seen).toEqual([`<data xmlns="${NC}">${plain(BASE)}</data>`]);
    expect(show([...ds.snapshot()])).toBe(plain(BASE));
    expect(readFileSync(ds.file, 'utf8')).toContain('<henb-id>b</henb-id>');
    // getTop is still a copy its caller may change
    const copy = ds.getTop();
    copy[0]!.children.splice(0);
    expect(show([...ds.snapshot()])).toBe(plain(BASE));
  });

  it('an edit that fails validation, or is test-only, leaves running byte-identical (the file and the same objects)', async () => {
    const validator: YangValidator = {
      hasRpc: () => false, validateRpcInput: () => [], validateRpcOutput: () => [], validateNotification: () => [],
      validateConfig: (t) => (t.map((x) => serializeXml(x)).join('').includes('bad') ? [{ type: 'application', tag: 'invalid-value', message: 'bad value' }] : []),
    };
    const ds = open();
    const deps = depsOf(ds, validator);
    await run(deps, BASE);
    const file = readFileSync(ds.file);
    const snap = ds.snapshot();
    const text = show([...snap]);
    await expect(run(deps, `<inv xmlns="${X}"><henb><henb-id>a</henb-id><ip>bad</ip></henb></inv>`)).rejects.toThrow(/bad value/);
    await expect(run(deps, `<inv xmlns="${X}"><henb><henb-id>b</henb-id><ip>bad</ip></henb><henb nc:operation="create"><henb-id>a</henb-id></henb></inv>`)).rejects.toThrow();
    expect(await run(deps, `<inv xmlns="${X}"><henb><henb-id>a</henb-id><ip>10.9.9.9</ip></henb></inv>`, 'test-only')).toBe('ok');
    expect(readFileSync(ds.file).equals(file)).toBe(true);
    expect(ds.snapshot()).toBe(snap);
    expect(show([...ds.snapshot()])).toBe(text);
    // a good edit then shares what it did not change with the snapshot before it
    await run(deps, `<inv xmlns="${X}"><henb><henb-id>b</henb-id><ip>10.0.0.8</ip></henb></inv>`);
    const after = ds.snapshot();
    expect(after).not.toBe(snap);
    expect(elements(after[0]!)[0]).toBe(elements(snap[0]!)[0]);
    expect(elements(after[0]!)[2]).toBe(elements(snap[0]!)[2]);
    expect(show([...snap])).toBe(text);
  });
});

function leafOf(name: string): XmlElement {
  return { ns: X, name, attrs: [], children: ['x'] };
}
