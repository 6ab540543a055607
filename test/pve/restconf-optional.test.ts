/**
 * The reference PVE answers every integrity-request input the YANG module allows without a 500 (issue 13
 * item 5): each optional node of henb-sw-verify-pve's input left out in turn (job-id, completion, and in
 * completion self-check, software-version, measurement-log, evidence/key-id, evidence/quote), each with a
 * completion signed over exactly what is sent, so every one is appraised affirming. Also: the Accept
 * negotiation and the JSON -> XML encoding of restconf-resources.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { INTEGRITY_REQUEST_PATH } from '../../src/pve/restconf.js';
import { readFileSync } from 'node:fs';
import { PVE_REVISION, jsonToXml, negotiate, pruneDepth } from '../../src/pve/restconf-resources.js';
import { factoryReferenceValues, replayTim } from '../../src/simulator/model.js';
import { signCompletion } from '../../src/integrity/index.js';

let dir: string;
let pve: PveHandle;
const device = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const HENB = 'opt-1';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pve-opt-'));
  const collector = {
    async collect(): Promise<never> {
      throw Object.assign(new Error('not reachable in this test'), { code: 'ERR_DEVICE_UNREACHABLE' });
    },
  };
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir: dir, referenceValues: factoryReferenceValues(), collector,
    devices: [{ henbId: HENB, host: '127.0.0.1', port: 1, username: 'u', devicePublicKey: device.publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
  });
});
afterAll(async () => {
  await pve.close();
  await rm(dir, { recursive: true, force: true });
});

function post(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const r = request(new URL(INTEGRITY_REQUEST_PATH, pve.url), { method: 'POST', ca: pve.ca, headers: { 'Content-Type': 'application/yang-data+json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
    });
    r.on('error', reject);
    r.end(JSON.stringify(body));
  });
}

const DIGEST = 'ab'.repeat(32);

/** an input with every optional node, minus `drop` (paths like 'completion/self-check'), signed over what remains */
function input(drop: string | undefined): Record<string, unknown> {
  const nonce = randomBytes(32);
  const jobId = 'job-opt';
  const log = drop === 'completion/measurement-log' ? [] : [{ component: 'rootfs', digest: DIGEST }];
  const tim = replayTim(log);
  const statement = {
    henbId: HENB, jobId, nonce, status: 'completed', tim, log,
    ...(drop === 'completion/self-check' ? {} : { selfCheck: 'passed' }),
    ...(drop === 'completion/software-version' ? {} : { softwareVersion: '2.0.0' }),
  };
  const evidence: Record<string, unknown> = {
    'evidence-format': 'software-key', 'nonce-value': nonce.toString('base64'), 'signature-algorithm': 'ES256',
    'key-id': 'kid-1', signature: signCompletion(statement, device.privateKey), quote: 'AAAA',
  };
  const completion: Record<string, unknown> = {
    status: 'completed', 'self-check': 'passed', 'software-version': '2.0.0', tim,
    'measurement-log': { entry: [{ index: 0, component: 'rootfs', digest: DIGEST }] }, evidence,
  };
  if (drop?.startsWith('completion/evidence/')) delete evidence[drop.slice('completion/evidence/'.length)];
  else if (drop?.startsWith('completion/')) delete completion[drop.slice('completion/'.length)];
  const inp: Record<string, unknown> = { 'henb-id': HENB, 'nonce-value': nonce.toString('base64'), 'job-id': jobId, completion };
  if (drop === 'completion') delete inp.completion;
  if (drop === 'job-id') {
    delete inp['job-id'];
    delete inp.completion; // completion needs job-id (the module's description): without both, a pre-update request
  }
  return { 'henb-sw-verify-pve:input': inp };
}

describe('every optional input node of henb-sw-verify-pve may be absent: never a 500', () => {
  for (const drop of [undefined, 'completion/self-check', 'completion/software-version', 'completion/measurement-log', 'completion/evidence/key-id', 'completion/evidence/quote']) {
    it(`post-update, ${drop ?? 'all optional nodes present'}${drop ? ' absent' : ''}: 200 affirming`, async () => {
      const r = await post(input(drop));
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect((r.json['henb-sw-verify-pve:output'] as Record<string, unknown>)['ear-status']).toBe('affirming');
    });
  }

  it('completion absent, job-id absent (pre-update): the device is unreachable here, so 500 operation-failed henb-unreachable is the device\'s outcome, not an internal error', async () => {
    for (const drop of ['completion', 'job-id']) {
      const r = await post(input(drop));
      const err = (r.json['ietf-restconf:errors'] as { error: Array<Record<string, string>> }).error[0]!;
      expect(err).toMatchObject({ 'error-tag': 'operation-failed', 'error-app-tag': 'henb-unreachable' });
      expect(err['error-message']).not.toBe('internal error');
    }
  });

  it('completion with job-id absent: 400 missing-element naming job-id', async () => {
    const body = input(undefined);
    delete (body['henb-sw-verify-pve:input'] as Record<string, unknown>)['job-id'];
    const r = await post(body);
    expect(r.status, JSON.stringify(r.json)).toBe(400);
    expect((r.json['ietf-restconf:errors'] as { error: Array<Record<string, string>> }).error[0]).toMatchObject({ 'error-tag': 'missing-element', 'error-path': '/henb-sw-verify-pve:integrity-request/input/job-id' });
  });
});

describe('restconf-resources: encodings', () => {
  it('the YANG library names the revision of yang/henb-sw-verify-pve.yang (its newest revision statement)', () => {
    const text = readFileSync(join(import.meta.dirname, '../../yang/henb-sw-verify-pve.yang'), 'utf8');
    const newest = [...text.matchAll(/^\s*revision (\d{4}-\d{2}-\d{2})/gm)].map((m) => m[1]!).sort().pop();
    expect(PVE_REVISION).toBe(newest);
  });

  it.each([
    [undefined, 'json'], ['', 'json'], ['*/*', 'json'], ['application/yang-data+xml', 'xml'], ['application/xml', 'xml'],
    ['application/yang-data+json;q=0.5, application/yang-data+xml', 'xml'], ['application/yang-data+xml;q=0.1, application/json', 'json'],
    ['text/html', undefined], ['application/yang-data+xml;q=0', undefined],
  ])('Accept %s -> %s', (accept, want) => {
    expect(negotiate(accept)).toBe(want);
  });

  it('JSON to XML: module namespaces, lists, [null], identityrefs with a declared prefix, escaping', () => {
    expect(jsonToXml('ietf-yang-library:yang-library', { datastore: [{ name: 'ietf-datastores:running', schema: 'a<b' }], 'content-id': 'x' })).toBe(
      '<yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"><datastore><name xmlns:id="urn:ietf:params:xml:ns:yang:ietf-datastores">id:running</name>' +
      '<schema>a&lt;b</schema></datastore><content-id>x</content-id></yang-library>');
    expect(jsonToXml('ietf-restconf:operations', { 'henb-sw-verify-pve:integrity-request': [null] })).toBe(
      '<operations xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf"><integrity-request xmlns="urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-pve"/></operations>');
  });

  it('depth: the target is level 1', () => {
    const t = { a: { b: { c: 1 } }, l: [{ k: 1, d: { e: 2 } }], leaf: 3 };
    expect(pruneDepth(t, 1)).toEqual({});
    expect(pruneDepth(t, 2)).toEqual({ a: {}, l: [{}], leaf: 3 });
    expect(pruneDepth(t, 3)).toEqual({ a: { b: {} }, l: [{ k: 1, d: {} }], leaf: 3 });
    expect(pruneDepth(t, Infinity)).toEqual(t);
  });
});
