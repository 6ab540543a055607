import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseXml } from '../../src/netconf/xml/index.js';
import type { LoadedYang } from '../../src/yang/index.js';
import { loadYang, YangLoadError } from '../../src/yang/index.js';

const YANG = resolve(import.meta.dirname, '../../yang');
const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const HSVD = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-device';
const HSVP = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-pve';

let y: LoadedYang;
beforeAll(async () => { y = await loadYang(YANG); });

describe('loadYang(yang/)', () => {
  it('lists every module with its file text, implemented or import-only', async () => {
    const byName = new Map(y.modules.map((m) => [m.name, m]));
    expect(byName.get('henb-sw-verify')).toMatchObject({ revision: '2026-12-03', namespace: HSV, prefix: 'hsv', implemented: true });
    expect(byName.get('henb-sw-verify-device')).toMatchObject({ namespace: HSVD, prefix: 'hsvd', implemented: true });
    expect(byName.get('henb-sw-verify-pve')).toMatchObject({ namespace: HSVP, prefix: 'hsvp', implemented: true });
    expect(byName.get('ietf-inet-types')?.implemented).toBe(false);
    expect(byName.get('ietf-netconf-monitoring')?.implemented).toBe(true);
    expect(byName.get('henb-sw-verify')!.text).toBe(await readFile(join(YANG, 'henb-sw-verify.yang'), 'utf8'));
  });

  it('knows the RPCs and notifications of the three modules', () => {
    for (const [ns, rpc] of [[HSV, 'integrity-request'], [HSV, 'software-update'], [HSV, 'completion-tim'],
      [HSVD, 'software-update'], [HSVD, 'integrity-measurement'], [HSVD, 'rollback'], [HSVP, 'integrity-request']] as const) {
      expect(y.validator.hasRpc(ns, rpc), rpc).toBe(true);
    }
    for (const [ns, n] of [[HSV, 'software-update-progress'], [HSV, 'software-update-result'], [HSV, 'integrity-alarm'],
      [HSVD, 'software-update-complete']] as const) {
      expect(y.validator.hasNotification(ns, n), n).toBe(true);
    }
  });

  it('gives list keys', () => {
    expect(y.keysOf(HSV, '/henbs/henb')).toEqual(['henb-id']);
    expect(y.keysOf(HSV, '/inventory/henb')).toEqual(['henb-id']);
    expect(y.keysOf(HSV, '/jobs/job')).toEqual(['job-id']);
    expect(y.keysOf(HSVD, '/software-slots/software-slot')).toEqual(['name']);
    expect(y.keysOf(HSV, '/signing-keys/jwks')).toBeUndefined();
  });

  it('rejects a bad software-update with error-paths the NMS can act on', () => {
    const op = parseXml(`<software-update xmlns="${HSV}"><henb-id>healthy-1</henb-id><software><sha256>ABC</sha256></software><on-mismatch>explode</on-mismatch></software-update>`);
    const errs = y.validator.validateRpcInput(op);
    expect(errs.map((e) => [e.tag, e.path])).toEqual([
      ['invalid-value', '/hsv:software-update/hsv:software/hsv:sha256'],
      ['missing-element', '/hsv:software-update/hsv:software/hsv:uri'],
      ['invalid-value', "/hsv:software-update/hsv:on-mismatch[.='explode']"],
    ]);
    expect(errs[0]!.pathNs).toEqual({ hsv: HSV });
  });

  it('checks digests and tokens by their typedef patterns', () => {
    const tim = (v: string) => y.validator.validateRpcInput(parseXml(`<completion-tim xmlns="${HSV}"><job-id>j1</job-id><henb-id>h1</henb-id><tim>${v}</tim></completion-tim>`));
    expect(tim('0123456789abcdef'.repeat(4))).toEqual([]);
    expect(tim('0123456789ABCDEF'.repeat(4))[0]!.tag).toBe('invalid-value');
    expect(tim('0123456789abcdef'.repeat(4).slice(1))[0]!.tag).toBe('invalid-value');
    const res = (tok: string) => y.validator.validateRpcOutput(HSVP, 'integrity-request',
      [parseXml(`<ear-status xmlns="${HSVP}">affirming</ear-status>`), parseXml(`<attestation-result xmlns="${HSVP}">${tok}</attestation-result>`)]);
    expect(res('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJoMSJ9.c2ln_-')).toEqual([]);
    expect(res('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJoMSJ9')[0]!.tag).toBe('invalid-value');
    expect(res('a.b.c=')[0]!.tag).toBe('invalid-value');
  });

  it('fails with a coded error on a missing directory or an import that is not there', async () => {
    await expect(loadYang('/nonexistent-dir-for-test')).rejects.toBeInstanceOf(YangLoadError);
    await expect(loadYang(resolve(import.meta.dirname, 'fixtures'))).rejects.toMatchObject({ code: 'ERR_YANG_SCHEMA' });
  });
});
