import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyEdit } from '../../../src/netconf/server/edit-config.js';
import type { EditOptions } from '../../../src/netconf/server/edit-config.js';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { DatastoreError, RunningDatastore } from '../../../src/netconf/server/datastore.js';
import { elements, parseXml, serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import type { YangValidator } from '../../../src/yang/types.js';
import { createFake, NC } from './fake.js';
import type { Fake } from './fake.js';

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
    expect(r.errors[0]!.path).toMatch(/^\/n\d+:inv\/n\d+:henb$/);
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
  it('operation attributes are not stored', () => {
    const r = edit(`<inv xmlns="${X}"><henb nc:operation="create"><henb-id>n</henb-id></henb></inv>`);
    expect(show(r.top)).not.toContain('operation');
  });
});

describe('edit-config, lock, unlock, validate over the running datastore', () => {
  let fake: Fake;
  let std: StandardOperations;
  afterEach(() => {
    std?.close();
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
