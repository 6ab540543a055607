/**
 * RFC 7950 sections 1.1 and 5.6.4, RFC 7895: modules announced through ietf-yang-library, over a real
 * SSH session (our server and client). YANG 1.1 modules are in /modules-state and not in the hello;
 * YANG 1.0 modules are in both; the hello's module-set-id is the one in /modules-state and follows the
 * module list.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadModuleFile } from '../../../src/netconf/server/monitoring.js';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { NetconfRegistry, YangModuleInfo } from '../../../src/netconf/server/registry.js';
import { moduleSetId, modulesState as modulesStateOf, yangVersionOf, YANG_LIBRARY_NS } from '../../../src/netconf/server/yang-library.js';
import { child, childText, childrenNamed, textOf } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { startServer } from '../server/helpers.js';
import type { Started } from '../server/helpers.js';

const ROOT = join(import.meta.dirname, '../../..');
const L = YANG_LIBRARY_NS;
const NC_BASE = 'urn:ietf:params:xml:ns:netconf:base:1.0';
const CAP = 'urn:ietf:params:netconf:capability:yang-library:1.0';
const OURS = ['henb-sw-verify', 'henb-sw-verify-device', 'henb-sw-verify-pve'];

let s: Started | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

/** a server whose modules are all registered before it listens (as the plugin host does) */
async function start(): Promise<Started> {
  return startServer({
    operations: [(reg) => {
      registerStandardOperations(reg, { ietfYangDir: join(ROOT, 'yang/ietf') });
      for (const m of OURS) (reg as unknown as NetconfRegistry).addModule(loadModuleFile(join(ROOT, 'yang', `${m}.yang`)));
    }],
  });
}

type Entry = { name: string; revision: string; namespace: string; conformance: string; features: string[] };

async function modulesState(c: Awaited<ReturnType<Started['connect']>>, filter = `<modules-state xmlns="${L}"/>`): Promise<{ id: string | undefined; modules: Entry[] }> {
  const reply = await c.rpc(`<get><filter type="subtree">${filter}</filter></get>`);
  const ms = child(child(reply, NC_BASE, 'data')!, L, 'modules-state');
  if (!ms) return { id: undefined, modules: [] };
  return {
    id: childText(ms, L, 'module-set-id'),
    modules: childrenNamed(ms, L, 'module').map((m: XmlElement) => ({
      name: childText(m, L, 'name')!,
      revision: childText(m, L, 'revision')!,
      namespace: childText(m, L, 'namespace')!,
      conformance: childText(m, L, 'conformance-type')!,
      features: childrenNamed(m, L, 'feature').map((f) => textOf(f)),
    })),
  };
}

const capId = (caps: string[]): string | undefined => {
  const c = caps.find((x) => x.startsWith(`${CAP}?`));
  return c ? new URLSearchParams(c.slice(c.indexOf('?') + 1)).get('module-set-id') ?? undefined : undefined;
};

describe('ietf-yang-library (RFC 7895, RFC 7950 5.6.4)', () => {
  it('reads the YANG version from the module text', () => {
    expect(yangVersionOf({ text: 'module a {\n  yang-version 1.1;\n' })).toBe('1.1');
    expect(yangVersionOf({ text: 'module a {\n  yang-version "1.1";\n' })).toBe('1.1');
    expect(yangVersionOf({ text: 'module a {\n  yang-version 1;\n' })).toBe('1');
    expect(yangVersionOf({ text: 'module a {\n  namespace "urn:a";\n' })).toBe('1');
    expect(yangVersionOf({ text: 'module a {\n  // yang-version 1.1;\n' })).toBe('1');
  });

  it('the hello has yang-library:1.0 with revision and module-set-id, YANG 1.0 modules, and no YANG 1.1 module', async () => {
    s = await start();
    const c = await s.connect();
    const caps = c.serverCapabilities;
    const lib = caps.filter((x) => x.startsWith(`${CAP}?`));
    expect(lib).toHaveLength(1);
    const params = new URLSearchParams(lib[0]!.slice(lib[0]!.indexOf('?') + 1));
    expect(params.get('revision')).toBe('2019-01-04');
    expect(params.get('module-set-id')).toMatch(/^[0-9a-f]{32}$/);
    for (const m of OURS) expect(caps.some((x) => x.includes(`?module=${m}&`))).toBe(false);
    expect(caps).toContain('urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring?module=ietf-netconf-monitoring&revision=2010-10-04');
    // ietf-yang-library 2019-01-04 is YANG 1.1: announced through the library only
    expect(caps.some((x) => x.includes('module=ietf-yang-library'))).toBe(false);
    expect(caps.some((x) => x.includes('module=ietf-yang-types'))).toBe(false); // import-only: not a capability
  });

  it('/modules-state lists every module served, implemented or imported, with the hello\'s module-set-id', async () => {
    s = await start();
    const c = await s.connect();
    const { id, modules } = await modulesState(c);
    expect(id).toBe(capId(c.serverCapabilities));
    const by = new Map(modules.map((m) => [m.name, m]));
    // each module's newest revision statement, as the file says (not pinned here: a module's revision moves with it)
    for (const m of OURS) expect(by.get(m)).toMatchObject({ revision: loadModuleFile(join(ROOT, 'yang', `${m}.yang`)).revision, conformance: 'implement' });
    expect(by.get('henb-sw-verify')!.namespace).toBe('urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify');
    expect(by.get('ietf-netconf')).toMatchObject({ conformance: 'implement', features: ['writable-running', 'rollback-on-error', 'validate', 'xpath'] });
    expect(by.get('ietf-yang-library')).toMatchObject({ revision: '2019-01-04', conformance: 'implement' });
    expect(by.get('ietf-netconf-nmda')).toMatchObject({ revision: '2019-01-07', conformance: 'implement', features: ['origin', 'with-defaults'] });
    expect(by.get('ietf-yang-metadata')).toMatchObject({ conformance: 'import' });
    expect(by.get('ietf-yang-types')).toMatchObject({ conformance: 'import' });
    expect(by.get('ietf-inet-types')).toMatchObject({ conformance: 'import' });
    // what get-schema serves is exactly what the library lists
    const schemas = await c.rpc('<get><filter type="subtree"><netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><schemas/></netconf-state></filter></get>');
    const ids = new Set(childrenNamed(child(child(child(schemas, NC_BASE, 'data')!, 'urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring', 'netconf-state')!, 'urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring', 'schemas')!, 'urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring', 'schema')
      .map((e) => childText(e, 'urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring', 'identifier')));
    expect(new Set(modules.map((m) => m.name))).toEqual(ids);
  });

  it('a subtree filter selects one module entry', async () => {
    s = await start();
    const c = await s.connect();
    const { modules } = await modulesState(c, `<modules-state xmlns="${L}"><module><name>henb-sw-verify-pve</name></module></modules-state>`);
    expect(modules.map((m) => m.name)).toEqual(['henb-sw-verify-pve']);
  });

  it('the module-set-id changes when a module is added, and new sessions see the new one', async () => {
    s = await start();
    const c1 = await s.connect();
    const before = capId(c1.serverCapabilities);
    s.server.registry.addModule({ name: 'late', revision: '2026-11-28', namespace: 'urn:test:late', prefix: 'late', text: 'module late {\n  yang-version 1.1;\n  namespace "urn:test:late";\n  prefix late;\n  revision 2026-11-28;\n}\n' });
    const after = await modulesState(c1);
    expect(after.id).not.toBe(before);
    expect(after.modules.some((m) => m.name === 'late')).toBe(true);
    const c2 = await s.connect();
    expect(capId(c2.serverCapabilities)).toBe(after.id);
  });

  it('a module added while serving sends yang-library-update (RFC 8525) and yang-library-change (RFC 7895) with the new ids; start-up modules do not', async () => {
    s = await start();
    const c = await s.connect();
    const notes = c.notifications()[Symbol.asyncIterator]();
    // replay from the beginning: the modules registered before listen() left no event behind
    await c.rpc('<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"><startTime>2000-01-01T00:00:00Z</startTime></create-subscription>');
    const first = (await notes.next()).value!;
    expect(child(first, 'urn:ietf:params:xml:ns:netmod:notification', 'replayComplete')).toBeDefined();
    s.server.registry.addModule({ name: 'later', revision: '2026-11-28', namespace: 'urn:test:later', prefix: 'l', text: 'module later {\n  yang-version 1.1;\n}\n' });
    const u = (await notes.next()).value!;
    const update = child(u, L, 'yang-library-update');
    expect(update).toBeDefined();
    const lib = await c.rpc(`<get><filter type="subtree"><yang-library xmlns="${L}"><content-id/></yang-library></filter></get>`);
    expect(childText(update!, L, 'content-id')).toBe(childText(child(child(lib, NC_BASE, 'data')!, L, 'yang-library')!, L, 'content-id'));
    const n = (await notes.next()).value!;
    const change = child(n, L, 'yang-library-change');
    expect(change).toBeDefined();
    expect(childText(change!, L, 'module-set-id')).toBe((await modulesState(c)).id);
  });

  it('RFC 7895 2.2 list rules: revision "" without a revision statement, one implemented revision of a YANG 1.1 module', () => {
    const m = (name: string, revision: string, v11: boolean, implemented?: boolean): YangModuleInfo => ({
      name, revision, namespace: `urn:${name}`, prefix: name, text: `module ${name} {\n${v11 ? '  yang-version 1.1;\n' : ''}}\n`,
      ...(implemented === undefined ? {} : { implemented }),
    });
    const rows = (mods: YangModuleInfo[]): string[] => childrenNamed(modulesStateOf(mods), L, 'module')
      .map((e) => `${childText(e, L, 'name')}@${childText(e, L, 'revision')}:${childText(e, L, 'conformance-type')}`);
    const cases: Array<[string, YangModuleInfo[], string[]]> = [
      // the leaf is present and empty ("A zero-length string is used if no revision statement is present")
      ['no revision statement', [m('norev', '', true)], ['norev@:implement']],
      // "For YANG version 1.1 modules, there is at most one module entry with conformance type
      // 'implement' for a particular module name": the newest revision is the implemented one
      ['two implemented revisions, YANG 1.1', [m('two', '2026-02-01', true), m('two', '2026-01-01', true)], ['two@2026-01-01:import', 'two@2026-02-01:implement']],
      ['one implemented, one imported, YANG 1.1', [m('mix', '2026-02-01', true, false), m('mix', '2026-01-01', true)], ['mix@2026-01-01:implement', 'mix@2026-02-01:import']],
      // YANG 1 ("SHOULD NOT be more than one module entry"): reported as registered
      ['two implemented revisions, YANG 1', [m('old', '2026-01-01', false), m('old', '2026-02-01', false)], ['old@2026-01-01:implement', 'old@2026-02-01:implement']],
      ['the same name@revision implemented and imported: implemented', [m('dup', '2026-01-01', true, false), m('dup', '2026-01-01', true)], ['dup@2026-01-01:implement']],
    ];
    for (const [what, mods, want] of cases) expect(rows(mods), what).toEqual(want);
    // the module-set-id follows what the list says
    expect(moduleSetId([m('two', '2026-02-01', true), m('two', '2026-01-01', true)])).toBe(moduleSetId([m('two', '2026-02-01', true), m('two', '2026-01-01', true, false)]));
  });

  it('the module-set-id depends on the list, not on registration order', () => {
    const a = { name: 'a', revision: '2026-01-01', namespace: 'urn:a', prefix: 'a', text: '' };
    const b = { name: 'b', revision: '2026-01-01', namespace: 'urn:b', prefix: 'b', text: '' };
    expect(moduleSetId([a, b])).toBe(moduleSetId([b, a]));
    expect(moduleSetId([a, b])).not.toBe(moduleSetId([a]));
    expect(moduleSetId([a])).not.toBe(moduleSetId([{ ...a, implemented: false }]));
    expect(moduleSetId([a])).not.toBe(moduleSetId([{ ...a, features: ['f'] }]));
  });
});
