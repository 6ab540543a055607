/**
 * Interop: curl (a RESTCONF client as an operator uses it) against the reference PVE's RESTCONF resources
 * (RFC 8040): the root, data, the YANG library, operations, yang-library-version, module download (3.7),
 * OPTIONS, query parameters, and errors in JSON and XML by Accept (section 7). The PVE's YANG library, in
 * both encodings, is validated by yanglint against ietf-yang-library 2019-01-04 (RFC 8525), and every module
 * the library lists is downloaded from its location and compiled by yanglint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { factoryReferenceValues } from '../../src/simulator/model.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
let dir: string;
let pve: PveHandle;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pve-curl-'));
  pve = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: [], referenceValues: factoryReferenceValues() });
});
afterAll(async () => {
  await pve.close();
  await rm(dir, { recursive: true, force: true });
});

interface Reply { status: number; type: string; allow: string; body: string }

/** curl -X METHOD with the PVE's CA pinned; status, Content-Type, Allow and body */
async function curl(method: string, path: string, accept?: string, body?: string): Promise<Reply> {
  const args = ['-sS', '--cacert', pve.caPath, '-X', method, '-D', '-', `${pve.url}${path}`];
  if (method === 'HEAD') args.splice(args.indexOf('-X'), 2, '-I');
  if (accept !== undefined) args.push('-H', `Accept: ${accept}`);
  if (body !== undefined) args.push('-H', 'Content-Type: application/yang-data+json', '--data-binary', body);
  const { stdout } = await run('curl', args, { timeout: 20_000 });
  const split = stdout.indexOf('\r\n\r\n');
  const head = stdout.slice(0, split);
  const header = (n: string): string => new RegExp(`^${n}: *(.*)$`, 'im').exec(head)?.[1]?.trim() ?? '';
  return { status: Number(/^HTTP\/\S+ (\d{3})/.exec(head)?.[1]), type: header('content-type'), allow: header('allow'), body: stdout.slice(split + 4) };
}

const JSON_T = 'application/yang-data+json';
const XML_T = 'application/yang-data+xml';

describe('curl against the PVE\'s RESTCONF resources', () => {
  const table: Array<[string, string, string | undefined, number, string, (body: string) => void]> = [
    ['GET', '/restconf', undefined, 200, JSON_T, (b) => expect(JSON.parse(b)).toEqual({ 'ietf-restconf:restconf': { data: {}, operations: {}, 'yang-library-version': '2019-01-04' } })],
    ['GET', '/restconf', XML_T, 200, XML_T, (b) => expect(b).toBe('<restconf xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf"><data/><operations/><yang-library-version>2019-01-04</yang-library-version></restconf>')],
    ['GET', '/restconf/yang-library-version', undefined, 200, JSON_T, (b) => expect(JSON.parse(b)).toEqual({ 'ietf-restconf:yang-library-version': '2019-01-04' })],
    ['GET', '/restconf/yang-library-version', 'application/xml', 200, XML_T, (b) => expect(b).toBe('<yang-library-version xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf">2019-01-04</yang-library-version>')],
    ['GET', '/restconf/operations', undefined, 200, JSON_T, (b) => expect(JSON.parse(b)).toEqual({ 'ietf-restconf:operations': {
      'henb-sw-verify-pve:integrity-request': [null], 'henb-sw-verify-pve:integrity-requests': [null],
      'henb-sw-verify-pve:provide-reference-values': [null], 'henb-sw-verify-pve:provide-reference-values-list': [null],
    } })],
    ['GET', '/restconf/operations', XML_T, 200, XML_T, (b) => expect(b).toBe('<operations xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf">'
      + ['integrity-request', 'integrity-requests', 'provide-reference-values', 'provide-reference-values-list'].map((op) => `<${op} xmlns="urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-pve"/>`).join('') + '</operations>')],
    ['GET', '/restconf/data', undefined, 200, JSON_T, (b) => {
      const d = JSON.parse(b)['ietf-restconf:data'];
      expect(Object.keys(d)).toEqual(['ietf-yang-library:yang-library', 'ietf-yang-library:modules-state']);
    }],
    ['GET', '/restconf/data?content=config', undefined, 200, JSON_T, (b) => expect(JSON.parse(b)).toEqual({ 'ietf-restconf:data': {} })],
    ['GET', '/restconf/data/ietf-yang-library:yang-library?depth=1', undefined, 200, JSON_T, (b) => expect(JSON.parse(b)).toEqual({ 'ietf-yang-library:yang-library': {} })],
    ['GET', '/restconf/data/ietf-yang-library:yang-library?depth=2', undefined, 200, JSON_T, (b) => {
      const y = JSON.parse(b)['ietf-yang-library:yang-library'];
      expect(y['module-set']).toEqual([{}]);
      expect(typeof y['content-id']).toBe('string');
    }],
    ['GET', '/restconf/data/ietf-yang-library:modules-state', undefined, 200, JSON_T, (b) => {
      const m = JSON.parse(b)['ietf-yang-library:modules-state'];
      expect(m.module.map((x: { name: string; 'conformance-type': string }) => `${x.name}:${x['conformance-type']}`)).toContain('henb-sw-verify-pve:implement');
    }],
    ['HEAD', '/restconf/data', undefined, 200, JSON_T, (b) => expect(b.trim()).toBe('')],
    // errors (section 7): JSON by default, XML when the client prefers it
    ['GET', '/restconf/data/henb-sw-verify-pve:nothing', undefined, 404, JSON_T, (b) => expect(JSON.parse(b)['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-type': 'protocol', 'error-tag': 'invalid-value' })],
    ['GET', '/restconf/data/henb-sw-verify-pve:nothing', XML_T, 404, XML_T, (b) => expect(b).toMatch(/^<errors xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf"><error><error-type>protocol<\/error-type><error-tag>invalid-value<\/error-tag><error-message>[^<]+<\/error-message><\/error><\/errors>$/)],
    ['GET', '/restconf/data?depth=0', undefined, 400, JSON_T, (b) => expect(JSON.parse(b)['ietf-restconf:errors'].error[0]['error-tag']).toBe('invalid-value')],
    ['GET', '/restconf/data?fields=x', XML_T, 400, XML_T, (b) => expect(b).toContain('<error-tag>invalid-value</error-tag>')],
    ['GET', '/restconf/data?content=everything', undefined, 400, JSON_T, (b) => expect(b).toContain('content must be')],
    ['PUT', '/restconf/data/ietf-yang-library:yang-library', undefined, 405, JSON_T, (b) => expect(JSON.parse(b)['ietf-restconf:errors'].error[0]['error-tag']).toBe('operation-not-supported')],
    ['DELETE', '/restconf/data', XML_T, 405, XML_T, (b) => expect(b).toContain('<error-tag>operation-not-supported</error-tag>')],
    ['GET', '/restconf/data', 'text/html', 406, JSON_T, (b) => expect(JSON.parse(b)['ietf-restconf:errors'].error[0]['error-tag']).toBe('invalid-value')],
    ['GET', '/restconf/operations/henb-sw-verify-pve:integrity-request', XML_T, 405, XML_T, (b) => expect(b).toContain('<error-tag>operation-not-supported</error-tag>')],
    ['GET', '/restconf/yang/henb-sw-verify-pve@2026-12-07', undefined, 200, 'application/yang', (b) => expect(b).toMatch(/^module henb-sw-verify-pve \{/)],
    ['GET', '/restconf/yang/ietf-yang-library@2019-01-04', undefined, 200, 'application/yang', (b) => expect(b).toContain('module ietf-yang-library')],
    ['GET', '/restconf/yang/henb-sw-verify-pve@2020-01-01', undefined, 404, JSON_T, () => undefined],
    ['GET', '/restconf/nothing', undefined, 404, JSON_T, () => undefined],
  ];
  for (const [method, path, accept, status, type, check] of table) {
    it(`${method} ${path}${accept ? ` (Accept: ${accept})` : ''} -> ${status} ${type}`, async () => {
      const r = await curl(method, path, accept);
      expect(r.status, r.body).toBe(status);
      expect(r.type).toBe(type);
      check(r.body);
    });
  }

  it('OPTIONS names the methods of each resource (RFC 8040 4.1)', async () => {
    expect((await curl('OPTIONS', '/restconf/data')).allow).toBe('GET, HEAD, OPTIONS');
    expect((await curl('OPTIONS', '/restconf/operations/henb-sw-verify-pve:integrity-request')).allow).toBe('POST, OPTIONS');
    expect((await curl('PATCH', '/restconf/data')).allow).toBe('GET, HEAD, OPTIONS');
  });

  it('an operation error in XML carries error-path with declared prefixes', async () => {
    const r = await curl('POST', '/restconf/operations/henb-sw-verify-pve:integrity-request', XML_T, JSON.stringify({ 'henb-sw-verify-pve:input': { 'henb-id': 'h1', 'nonce-value': 'c2hvcnQ=' } }));
    expect(r.status).toBe(400);
    expect(r.type).toBe(XML_T);
    expect(r.body).toContain('<error-path xmlns:m1="urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-pve">/m1:integrity-request/m1:input/m1:nonce-value</error-path>');
  });

  it('yanglint validates the YANG library (JSON and XML) against ietf-yang-library 2019-01-04; every listed module downloads and compiles', async () => {
    const json = await curl('GET', '/restconf/data/ietf-yang-library:yang-library', JSON_T);
    const xml = await curl('GET', '/restconf/data/ietf-yang-library:yang-library', XML_T);
    const all = await curl('GET', '/restconf/data', XML_T);
    const ms = await curl('GET', '/restconf/data/ietf-yang-library:modules-state', JSON_T);
    const files = { 'lib.json': json.body, 'lib.xml': xml.body, 'ms.json': ms.body };
    for (const [n, t] of Object.entries(files)) await writeFile(join(dir, n), t);
    // the data resource's children, without the ietf-restconf:data wrapper (a yang-data, not a module node)
    await writeFile(join(dir, 'all.xml'), all.body.replace(/^<data xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf">/, '').replace(/<\/data>$/, ''));
    // ietf-datastores implemented too, as the library says (its identities name the datastores)
    const lib = [join(ROOT, 'yang-library/ietf-yang-library@2019-01-04.yang'), join(ROOT, 'yang-library/ietf-datastores@2018-02-14.yang')];
    const path = ['-p', join(ROOT, 'yang-library'), '-p', join(ROOT, 'yang/ietf')];
    // a single resource is a part of the datastore (-t get: no check of what lies outside it); the whole
    // data resource is the complete operational datastore (-t data: mandatory nodes checked too)
    for (const [f, type] of [['lib.json', 'get'], ['lib.xml', 'get'], ['ms.json', 'get'], ['all.xml', 'data']] as const) {
      const { stdout, stderr } = await run('yanglint', [...path, '-t', type, ...lib, join(dir, f)], { timeout: 30_000 }).catch((e: { stdout: string; stderr: string }) => e);
      expect(`${stdout}${stderr}`, f).toBe('');
    }
    // module download: each location, compiled by yanglint
    const y = JSON.parse(json.body)['ietf-yang-library:yang-library'] as { 'module-set': Array<{ module: Array<{ name: string; revision: string; location: string[] }>; 'import-only-module': Array<{ name: string; revision: string; location: string[] }> }> };
    const mods = [...y['module-set'][0]!.module, ...y['module-set'][0]!['import-only-module']];
    expect(mods.map((m) => m.name).sort()).toEqual(['henb-sw-verify-pve', 'ietf-datastores', 'ietf-inet-types', 'ietf-yang-library', 'ietf-yang-types']);
    const dl = join(dir, 'dl');
    await run('mkdir', ['-p', dl]);
    for (const m of mods) {
      expect(m.location[0]).toBe(`${pve.url}/restconf/yang/${m.name}@${m.revision}`);
      await run('curl', ['-sSf', '--cacert', pve.caPath, '-o', join(dl, `${m.name}@${m.revision}.yang`), m.location[0]!], { timeout: 20_000 });
    }
    const { stdout, stderr } = await run('yanglint', ['-p', dl, ...mods.map((m) => join(dl, `${m.name}@${m.revision}.yang`))], { timeout: 30_000 }).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${stdout}${stderr}`).toBe('');
  });
});
