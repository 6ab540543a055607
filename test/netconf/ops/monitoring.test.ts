import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { moduleCapability } from '../../../src/netconf/server/yang-library.js';
import { serializeXml, textOf } from '../../../src/netconf/xml/index.js';
import { createFake, NC } from './fake.js';
import type { Fake } from './fake.js';

const M = 'urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring';
const YANG_DIR = join(import.meta.dirname, '../../../yang/ietf');

describe('RFC 6022 monitoring', () => {
  let fake: Fake;
  let std: StandardOperations;
  afterEach(async () => {
    await std?.close();
    fake?.cleanup();
  });
  const setup = (): void => {
    fake = createFake();
    fake.modules.push(
      { name: 'ex', revision: '2026-01-01', namespace: 'urn:ex', prefix: 'ex', text: 'module ex { }\n' },
      { name: 'two', revision: '2026-01-01', namespace: 'urn:two', prefix: 't', text: 'module two { /* 1 */ }\n' },
      { name: 'two', revision: '2026-02-01', namespace: 'urn:two', prefix: 't', text: 'module two { /* 2 */ }\n' },
    );
    std = registerStandardOperations(fake.reg, { ietfYangDir: YANG_DIR });
  };
  const getSchema = (inner: string): string => `<get-schema xmlns="${M}">${inner}</get-schema>`;

  it('advertises ietf-netconf-monitoring and the other implemented IETF modules in the hello', () => {
    setup();
    expect(fake.capabilities).toContain('urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring?module=ietf-netconf-monitoring&revision=2010-10-04');
    expect(fake.capabilities).toContain('urn:ietf:params:xml:ns:netconf:base:1.0?module=ietf-netconf&revision=2011-06-01&features=writable-running,rollback-on-error,validate,xpath');
    expect(fake.capabilities).toContain('urn:ietf:params:netconf:capability:writable-running:1.0');
    expect(fake.capabilities.some((c) => c.includes('module=ietf-yang-types'))).toBe(false);
    expect(moduleCapability({ name: 'a', revision: '2020-01-01', namespace: 'urn:a', prefix: 'a', text: '' })).toBe('urn:a?module=a&revision=2020-01-01');
  });

  it('get-schema serves module text byte-identical to the file', async () => {
    setup();
    const s = fake.session();
    const r = await fake.call(s, getSchema('<identifier>ietf-netconf-monitoring</identifier><version>2010-10-04</version><format>yang</format>'));
    expect(r).not.toBe('ok');
    const data = (r as Exclude<typeof r, 'ok'>)[0]!;
    expect(data.ns).toBe(M);
    expect(data.name).toBe('data');
    expect(textOf(data)).toBe(readFileSync(join(YANG_DIR, 'ietf-netconf-monitoring@2010-10-04.yang'), 'utf8'));
    const r2 = await fake.call(s, getSchema(`<identifier>ex</identifier><format xmlns:ncm="${M}">ncm:yang</format>`));
    expect(textOf((r2 as Exclude<typeof r2, 'ok'>)[0]!)).toBe('module ex { }\n');
    const r3 = await fake.call(s, getSchema('<identifier>ietf-yang-types</identifier>'));
    expect(textOf((r3 as Exclude<typeof r3, 'ok'>)[0]!)).toContain('module ietf-yang-types');
  });

  it('get-schema errors: unknown -> invalid-value, ambiguous -> data-not-unique, other format -> invalid-value', async () => {
    setup();
    const s = fake.session();
    expect((await fake.fail(s, getSchema('<identifier>nope</identifier>')))[0]).toMatchObject({ tag: 'invalid-value' });
    expect((await fake.fail(s, getSchema('<identifier>two</identifier>')))[0]).toMatchObject({ tag: 'operation-failed', appTag: 'data-not-unique' });
    const ok = await fake.call(s, getSchema('<identifier>two</identifier><version>2026-02-01</version>'));
    expect(textOf((ok as Exclude<typeof ok, 'ok'>)[0]!)).toContain('/* 2 */');
    expect((await fake.fail(s, getSchema('<identifier>ex</identifier><format>xsd</format>')))[0]!.tag).toBe('invalid-value');
    expect((await fake.fail(s, getSchema('')))[0]!.tag).toBe('missing-element');
  });

  it('netconf-state lists capabilities, datastore lock, schemas, sessions and statistics', async () => {
    setup();
    const a = fake.session();
    await fake.call(a, `<lock xmlns="${NC}"><target><running/></target></lock>`);
    const r = await fake.call(a, `<get xmlns="${NC}"><filter type="subtree"><netconf-state xmlns="${M}"/></filter></get>`);
    const xml = serializeXml((r as Exclude<typeof r, 'ok'>)[0]!);
    expect(xml).toContain('<capability>urn:ietf:params:netconf:capability:writable-running:1.0</capability>');
    expect(xml).toMatch(new RegExp(`<datastore><name>running</name><locks><global-lock><locked-by-session>${a.id}</locked-by-session><locked-time>`));
    expect(xml).toContain('<schema><identifier>ex</identifier><version>2026-01-01</version><format>yang</format><namespace>urn:ex</namespace><location>NETCONF</location></schema>');
    expect(xml).toContain('<identifier>ietf-inet-types</identifier>');
    expect(xml).toContain(`<session><session-id>${a.id}</session-id><transport>netconf-ssh</transport><username>admin</username><source-host>127.0.0.1</source-host><login-time>2026-01-01T00:00:01.000Z</login-time><in-rpcs>1</in-rpcs>`);
    expect(xml).toContain('<statistics><netconf-start-time>2026-01-01T00:00:00.000Z</netconf-start-time><in-bad-hellos>1</in-bad-hellos><in-sessions>2</in-sessions>');
    const only = await fake.call(a, `<get xmlns="${NC}"><filter><netconf-state xmlns="${M}"><schemas><schema><identifier>ex</identifier><version/></schema></schemas></netconf-state></filter></get>`);
    // the schema list is keyed by identifier, version and format: a selected entry keeps all three keys
    expect(serializeXml((only as Exclude<typeof only, 'ok'>)[0]!)).toBe(`<data xmlns="${NC}"><netconf-state xmlns="${M}"><schemas><schema><identifier>ex</identifier><version>2026-01-01</version><format>yang</format></schema></schemas></netconf-state></data>`);
  });
});
