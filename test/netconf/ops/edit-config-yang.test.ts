/** edit-config against the project's YANG modules with the real validator (keys, leaf-lists, validation). */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadYang } from '../../../src/yang/index.js';
import type { LoadedYang } from '../../../src/yang/index.js';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { serializeXml } from '../../../src/netconf/xml/index.js';
import { createFake, NC } from './fake.js';
import type { Fake, FakeSession } from './fake.js';

const H = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const ROOT = join(import.meta.dirname, '../../..');

describe('edit-config with the henb-sw-verify YANG modules', () => {
  let yang: LoadedYang;
  let fake: Fake;
  let std: StandardOperations;
  let s: FakeSession;
  beforeAll(async () => {
    yang = await loadYang(join(ROOT, 'yang'));
  });
  afterEach(async () => {
    await std?.close();
    fake?.cleanup();
  });
  const setup = (): void => {
    fake = createFake({ validator: yang.validator });
    for (const m of yang.modules) fake.modules.push(m);
    std = registerStandardOperations(fake.reg, { ietfYangDir: join(ROOT, 'yang/ietf'), eventLog: false });
    s = fake.session();
  };
  const ec = (cfg: string): string =>
    `<edit-config xmlns="${NC}" xmlns:nc="${NC}"><target><running/></target><config>${cfg}</config></edit-config>`;
  const running = (): string => serializeXml(fake.datastore!.getRunning());

  it('list entries are matched by their schema keys; leaf-list values accumulate', async () => {
    setup();
    await fake.call(s, ec(`<inventory xmlns="${H}"><henb><henb-id>a</henb-id><address>10.0.0.1</address></henb></inventory><policies xmlns="${H}"><on-mismatch>alarm</on-mismatch></policies>`));
    await fake.call(s, ec(`<inventory xmlns="${H}"><henb><henb-id>a</henb-id><address>10.0.0.9</address></henb><henb><henb-id>b</henb-id><address>10.0.0.2</address></henb></inventory><policies xmlns="${H}"><on-mismatch>rollback</on-mismatch></policies>`));
    const r = running();
    expect(r).toContain('<henb><henb-id>a</henb-id><address>10.0.0.9</address></henb><henb><henb-id>b</henb-id><address>10.0.0.2</address></henb>');
    expect(r).toContain('<on-mismatch>alarm</on-mismatch><on-mismatch>rollback</on-mismatch>');
    await fake.call(s, ec(`<inventory xmlns="${H}"><henb nc:operation="delete"><henb-id>a</henb-id></henb></inventory><policies xmlns="${H}"><on-mismatch nc:operation="delete">alarm</on-mismatch></policies>`));
    expect(running()).not.toContain('<henb-id>a</henb-id>');
    expect(running()).toContain(`<policies xmlns="${H}"><on-mismatch>rollback</on-mismatch></policies>`);
  });

  it('get-config and get with a filter that selects a non-key leaf answer each list entry with its key', async () => {
    setup();
    await fake.call(s, ec(`<inventory xmlns="${H}"><henb><henb-id>a</henb-id><address>10.0.0.1</address></henb><henb><henb-id>b</henb-id><address>10.0.0.2</address></henb></inventory>`));
    for (const op of ['get-config', 'get']) {
      const src = op === 'get-config' ? '<source><running/></source>' : '';
      const r = await fake.call(s, `<${op} xmlns="${NC}">${src}<filter type="subtree"><inventory xmlns="${H}"><henb><address/></henb></inventory></filter></${op}>`);
      expect(serializeXml((r as Exclude<typeof r, 'ok'>)[0]!)).toBe(
        `<data xmlns="${NC}"><inventory xmlns="${H}"><henb><henb-id>a</henb-id><address>10.0.0.1</address></henb><henb><henb-id>b</henb-id><address>10.0.0.2</address></henb></inventory></data>`);
    }
    // the IETF state lists too: a session entry selected by one leaf keeps its session-id
    const m = await fake.call(s, `<get xmlns="${NC}"><filter type="subtree"><netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><sessions><session><username/></session></sessions></netconf-state></filter></get>`);
    expect(serializeXml((m as Exclude<typeof m, 'ok'>)[0]!)).toContain(`<session><session-id>${s.id}</session-id><username>`);
  });

  it('list keys (RFC 7950 8.3.1): an entry without its key is missing-element; a key leaf cannot be deleted or removed', async () => {
    setup();
    await fake.call(s, ec(`<inventory xmlns="${H}"><henb><henb-id>a</henb-id><address>10.0.0.1</address></henb></inventory>`));
    const before = running();
    const noKey = await fake.fail(s, ec(`<inventory xmlns="${H}"><henb><address>10.0.0.9</address></henb></inventory>`));
    expect(noKey[0]).toMatchObject({ tag: 'missing-element' });
    expect(serializeXml(noKey[0]!.info![0]!)).toBe(`<bad-element xmlns="${NC}">henb-id</bad-element>`);
    for (const op of ['delete', 'remove']) {
      const errs = await fake.fail(s, ec(`<inventory xmlns="${H}"><henb><henb-id nc:operation="${op}">a</henb-id></henb></inventory>`));
      expect(errs[0], op).toMatchObject({ tag: 'missing-element' });
      expect(errs[0]!.path, op).toMatch(/henb.*henb-id/);
    }
    expect(running()).toBe(before);
  });

  it('data-exists / data-missing name the list entry by its schema key and the leaf-list entry by value', async () => {
    setup();
    await fake.call(s, ec(`<inventory xmlns="${H}"><henb><henb-id>a</henb-id><address>10.0.0.1</address></henb></inventory><policies xmlns="${H}"><on-mismatch>alarm</on-mismatch></policies>`));
    const dup = await fake.fail(s, ec(`<inventory xmlns="${H}"><henb nc:operation="create"><henb-id>a</henb-id></henb></inventory>`));
    expect(dup[0]).toMatchObject({ type: 'application', tag: 'data-exists', path: "/hsv:inventory/hsv:henb[hsv:henb-id='a']", pathNs: { hsv: H } });
    const gone = await fake.fail(s, ec(`<policies xmlns="${H}"><on-mismatch nc:operation="delete">rollback</on-mismatch></policies>`));
    expect(gone[0]).toMatchObject({ type: 'application', tag: 'data-missing', path: "/hsv:policies/hsv:on-mismatch[.='rollback']" });
  });

  it('invalid configuration is rejected with the validator error-path and changes nothing', async () => {
    setup();
    await fake.call(s, ec(`<inventory xmlns="${H}"><henb><henb-id>a</henb-id><address>10.0.0.1</address></henb></inventory>`));
    const before = running();
    const bad = await fake.fail(s, ec(`<inventory xmlns="${H}"><henb><henb-id>a</henb-id><port>70000</port></henb></inventory>`));
    expect(bad[0]!.tag).toBe('invalid-value');
    expect(bad[0]!.path).toMatch(/henb.*port/);
    const missing = await fake.fail(s, ec(`<inventory xmlns="${H}"><henb><henb-id>c</henb-id></henb></inventory>`));
    expect(missing[0]!.tag).toMatch(/missing-element|data-missing/);
    // henb-sw-verify 2026-12-03: an H(e)NB is dialled (address) or calls home, not both
    const both = await fake.fail(s, ec(`<inventory xmlns="${H}"><henb><henb-id>c</henb-id><address>10.0.0.3</address><call-home/></henb></inventory>`));
    expect(both[0]!.tag).toBe('bad-element');
    await fake.call(s, ec(`<inventory xmlns="${H}"><henb><henb-id>c</henb-id><call-home/><ssh-host-key>SHA256:${'A'.repeat(43)}</ssh-host-key></henb></inventory>`));
    // henb-sw-verify 2026-12-03 typedef ssh-host-key: the OpenSSH public key line is taken too; other text is not
    const pub = `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${'B'.repeat(43)} oam@bench`;
    await fake.call(s, ec(`<inventory xmlns="${H}"><henb><henb-id>c</henb-id><ssh-host-key>${pub}</ssh-host-key></henb></inventory>`));
    expect(running()).toContain(`<ssh-host-key>${pub}</ssh-host-key>`);
    for (const badKey of ['SHA256:short', 'md5:aa:bb', 'ssh-ed25519', 'ssh-ed25519 !!!', 'ssh-foo AAAA']) {
      const refused = await fake.fail(s, ec(`<inventory xmlns="${H}"><henb><henb-id>c</henb-id><ssh-host-key>${badKey}</ssh-host-key></henb></inventory>`));
      expect(refused[0]!.tag, badKey).toBe('invalid-value');
      expect(refused[0]!.path, badKey).toMatch(/henb.*ssh-host-key/);
    }
    await fake.call(s, ec(`<inventory xmlns="${H}"><henb xmlns:nc="${NC}" nc:operation="delete"><henb-id>c</henb-id></henb></inventory>`));
    const state = await fake.fail(s, ec(`<henbs xmlns="${H}"/>`));
    expect(state.length).toBeGreaterThan(0);
    const unknown = await fake.fail(s, ec(`<nothing xmlns="urn:not-a-module"/>`));
    expect(unknown[0]!.tag).toMatch(/unknown-namespace|unknown-element/);
    expect(running()).toBe(before);
  });
});
