/**
 * The PVE's list operations (henb-sw-verify-pve revision 2026-12-07): integrity-requests and
 * provide-reference-values-list answer each entry as the single operation would, independently; the list itself,
 * when wrong, is refused whole with nothing done. Over RESTCONF (raw POSTs and the OAM's client, which sends requests
 * together under load and falls back to one per operation for a PVE without them) and over the NETCONF endpoint.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:https';
import type { Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Femtocell, factoryReferenceValues } from '../../src/simulator/model.js';
import { createNetconfPveClient, createPveClient, startPve } from '../../src/pve/index.js';
import type { DeviceConnector } from '../../src/device/index.js';
import type { PveHandle } from '../../src/pve/index.js';
import type { PreUpdateEvidence } from '../../src/oam/index.js';
import { relayedEvidenceJson } from '../../src/pve/client.js';
import { INTEGRITY_REQUESTS_PATH, INTEGRITY_REQUEST_PATH, PROVIDE_LIST_PATH, PVE_NS, base64urlToBase64 } from '../../src/pve/restconf.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import { NETCONF_BASE_NS, child, childText, childrenNamed, el, leaf } from '../../src/netconf/xml/index.js';
import { NetconfError } from '../../src/netconf/rpc-error.js';
import { newNonce } from '../../src/tokens/nonce.js';
import { generateSigningKey, signReferenceValues, signReferenceValuesList } from '../../src/tokens/index.js';
import type { EarClaims, ReferenceValuesListInput, SigningKey } from '../../src/tokens/index.js';
import { createReferenceValuesSigner } from '../../src/oam/index.js';
import type { ReferenceValuesInput, ReferenceValuesSigner } from '../../src/oam/index.js';
import { SignJWT } from 'jose';
import { toLowS } from '../../src/tokens/low-s.js';
import { cellCollector, cellEntry } from './cells.js';
import { createTestPki } from '../helpers/tls-pki.js';
import type { TestPki } from '../helpers/tls-pki.js';

const DIGEST = 'cd'.repeat(32);
const cells = new Map<string, Femtocell>();
let collected = 0;
const inner = cellCollector(cells);
const collector = { collect: (...a: Parameters<typeof inner.collect>) => (collected++, inner.collect(...a)) };

let dir: string;
let pve: PveHandle;
let oamKey: SigningKey;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pve-lists-'));
  oamKey = await generateSigningKey('ES256', 'oam');
  await writeFile(join(dir, 'oam-jwks.json'), JSON.stringify({ keys: [oamKey.publicJwk] }));
  for (const id of ['cell-1', 'cell-2', 'cell-3', 'cell-4']) cells.set(id, new Femtocell({ henbId: id, installMs: 1 }));
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: [...cells.values()].map(cellEntry), referenceValues: factoryReferenceValues(), collector,
    oamJwks: join(dir, 'oam-jwks.json'), netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', password: 'pve-secret' }] },
  });
});

afterAll(async () => {
  await pve?.close();
  for (const c of cells.values()) c.close();
  await rm(dir, { recursive: true, force: true });
});

const signal = (): AbortSignal => new AbortController().signal;

function evidence(id: string, nonce: string): PreUpdateEvidence {
  const cell = cells.get(id)!;
  const ev = cell.measure(Buffer.from(nonce, 'base64url'));
  return { format: 'software-key', tim: ev.tim, measurementLog: ev.log, signature: ev.signature, signatureAlgorithm: 'ES256', keyId: cell.keyId(), softwareVersion: '1.0.0' };
}

/** one request of integrity-requests (RFC 7951 JSON) with relayed evidence over a fresh nonce */
function relayed(index: number, id: string, nonce = newNonce()): Record<string, unknown> {
  return { index, 'henb-id': id, 'nonce-value': base64urlToBase64(nonce), 'job-id': `job-${index}`, evidence: relayedEvidenceJson(evidence(id, nonce)) };
}

function statement(henbId: string, jobId: string): Promise<string> {
  return signReferenceValues({ iss: 'urn:henb-sw-verify:oam', aud: 'urn:henb-sw-verify:pve', sub: henbId, 'job-id': jobId, 'reference-values': [{ component: 'rootfs', digest: DIGEST }] }, oamKey);
}

interface Result {
  index: number;
  'ear-status'?: string;
  'attestation-result'?: string;
  accepted?: unknown;
  error?: Record<string, unknown>;
}
/** an answer's JSON: an output (a list's results, or a single operation's leaves) or an errors document */
interface Doc {
  'henb-sw-verify-pve:output': { result: Result[]; 'attestation-result'?: string };
  'ietf-restconf:errors': { error: Array<Record<string, unknown>> };
}

/** a raw POST to the PVE: status and JSON */
function post(path: string, body: unknown): Promise<{ status: number; json: Doc }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const url = new URL(path, pve.url);
    const rq = request({ hostname: url.hostname, port: url.port, path: url.pathname, method: 'POST', ca: pve.ca, headers: { 'Content-Type': 'application/yang-data+json', 'Content-Length': Buffer.byteLength(text) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const t = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, json: (t === '' ? {} : JSON.parse(t)) as Doc });
      });
    });
    rq.on('error', reject);
    rq.end(text);
  });
}

async function claimsOf(token: string): Promise<EarClaims> {
  const { payload } = await jwtVerify(token, createLocalJWKSet(pve.jwks as never), { issuer: pve.issuer, audience: pve.audience as string });
  return payload as unknown as EarClaims;
}

const INPUT = 'henb-sw-verify-pve:input';
const OUTPUT = 'henb-sw-verify-pve:output';

describe('integrity-requests over RESTCONF', () => {
  it('each request answered as integrity-request answers it: signed results by index, a refusal in its own result with the path into its request', async () => {
    const n0 = newNonce();
    const before = collected;
    const r = await post(INTEGRITY_REQUESTS_PATH, { [INPUT]: { request: [
      relayed(7, 'cell-1', n0),
      relayed(2, 'cell-2'),
      { ...relayed(3, 'cell-3'), 'henb-id': 'no-such-cell' },
      { ...relayed(4, 'cell-3'), 'nonce-value': 'not base64!' },
    ] } });
    expect(r.status).toBe(200);
    const results = r.json[OUTPUT].result;
    expect(results.map((x) => x.index)).toEqual([7, 2, 3, 4]);
    expect(results[0]!['ear-status']).toBe('affirming');
    const c = await claimsOf(results[0]!['attestation-result']!);
    expect(c).toMatchObject({ sub: 'cell-1', eat_nonce: n0 });
    expect(c.submods.platform).toMatchObject({ 'job-id': 'job-7', phase: 'pre-update' });
    expect((await claimsOf(results[1]!['attestation-result']!)).sub).toBe('cell-2');
    expect(results[2]!.error).toMatchObject({ 'error-type': 'application', 'error-app-tag': 'unknown-henb' });
    expect(results[3]!.error).toMatchObject({
      'error-tag': 'invalid-value', 'error-path': "/henb-sw-verify-pve:integrity-requests/input/request[index='4']/nonce-value",
    });
    expect(collected).toBe(before); // relayed evidence: nothing collected
  });

  it('a repeat of a request (its input the same) is answered with the first outcome, not refused as nonce-reused', async () => {
    const req = relayed(0, 'cell-1');
    const first = await post(INTEGRITY_REQUESTS_PATH, { [INPUT]: { request: [req] } });
    const again = await post(INTEGRITY_REQUESTS_PATH, { [INPUT]: { request: [{ ...req, index: 9 }] } });
    expect(again.json[OUTPUT].result[0]!['attestation-result']).toBe(first.json[OUTPUT].result[0]!['attestation-result']);
    // and the same request alone, with integrity-request, is the same request
    const { index: _i, ...alone } = req;
    const single = await post(INTEGRITY_REQUEST_PATH, { [INPUT]: alone });
    expect(single.json[OUTPUT]['attestation-result']).toBe(first.json[OUTPUT].result[0]!['attestation-result']);
  });

  it('a wrong list is refused whole and nothing in it is appraised: an index twice, no request, more than 64, a stray member', async () => {
    const nonce = newNonce();
    const dup = await post(INTEGRITY_REQUESTS_PATH, { [INPUT]: { request: [relayed(1, 'cell-2', nonce), relayed(1, 'cell-3')] } });
    expect(dup.status).toBe(400);
    expect(dup.json['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-tag': 'invalid-value', 'error-path': "/henb-sw-verify-pve:integrity-requests/input/request[index='1']" });
    // the nonce of the refused list is still fresh: it was not appraised
    const fresh = await post(INTEGRITY_REQUESTS_PATH, { [INPUT]: { request: [relayed(1, 'cell-2', nonce)] } });
    expect(fresh.json[OUTPUT].result[0]!['ear-status']).toBe('affirming');
    expect((await post(INTEGRITY_REQUESTS_PATH, { [INPUT]: { request: [] } })).json['ietf-restconf:errors'].error[0]!['error-tag']).toBe('missing-element');
    const many = Array.from({ length: 65 }, (_, i) => ({ index: i, 'henb-id': 'cell-1' }));
    expect((await post(INTEGRITY_REQUESTS_PATH, { [INPUT]: { request: many } })).json['ietf-restconf:errors'].error[0]!['error-tag']).toBe('too-big');
    const stray = await post(INTEGRITY_REQUESTS_PATH, { [INPUT]: { request: [relayed(0, 'cell-1')], extra: 1 } });
    expect(stray.json['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-tag': 'unknown-element', 'error-path': '/henb-sw-verify-pve:integrity-requests/input/extra' });
    const noIndex = await post(INTEGRITY_REQUESTS_PATH, { [INPUT]: { request: [{ 'henb-id': 'cell-1' }] } });
    expect(noIndex.json['ietf-restconf:errors'].error[0]!['error-tag']).toBe('missing-element');
  });

  it('the operations resource lists the list operations', async () => {
    expect(await operationsOf()).toEqual(expect.arrayContaining([
      'henb-sw-verify-pve:integrity-request', 'henb-sw-verify-pve:integrity-requests',
      'henb-sw-verify-pve:provide-reference-values', 'henb-sw-verify-pve:provide-reference-values-list',
    ]));
  });
});

async function operationsOf(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const url = new URL('/restconf/operations', pve.url);
    request({ hostname: url.hostname, port: url.port, path: url.pathname, ca: pve.ca, headers: { Accept: 'application/yang-data+json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Object.keys((JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, Record<string, unknown>>)['ietf-restconf:operations']!)));
    }).on('error', reject).end();
  });
}

describe('provide-reference-values-list over RESTCONF', () => {
  it('each statement accepted or refused as provide-reference-values would: accepted ones held, a refused one changes nothing', async () => {
    const good = await statement('cell-1', 'job-list-1');
    const unknown = await statement('no-such-cell', 'job-list-2');
    const r = await post(PROVIDE_LIST_PATH, { [INPUT]: { statement: [
      { index: 0, 'reference-values': good }, { index: 1, 'reference-values': unknown }, { index: 2, 'reference-values': 'a.b.c' },
    ] } });
    expect(r.status).toBe(200);
    const results = r.json[OUTPUT].result;
    expect(results[0]).toEqual({ index: 0, accepted: [null] });
    expect(results[1]!.error).toMatchObject({ 'error-app-tag': 'unknown-henb' });
    expect(results[2]!.error).toMatchObject({ 'error-app-tag': 'reference-values-unsigned', 'error-path': "/henb-sw-verify-pve:provide-reference-values-list/input/statement[index='2']/reference-values" });
    expect(pve.providedReferenceValues('cell-1')).toEqual({ rootfs: [DIGEST] });
  });
});

describe('the OAM\'s client: together under load, alone otherwise', () => {
  it('requests made while one is on its way go in one integrity-requests; every caller gets its own verified token', async () => {
    const sent: Array<[string, number]> = [];
    const client = createPveClient({ url: pve.url, ca: pve.ca, batch: { maxInFlight: 1 }, onSent: (op, n) => sent.push([op, n]) });
    try {
      const ids = ['cell-1', 'cell-2', 'cell-3', 'cell-1', 'cell-2'];
      const nonces = ids.map(() => newNonce());
      const rs = await Promise.all(ids.map((id, i) => client.integrityRequest({ henbId: id, nonce: nonces[i]!, jobId: `job-c${i}`, evidence: evidence(id, nonces[i]!) }, signal())));
      expect(sent).toEqual([['integrity-request', 1], ['integrity-requests', 4]]);
      for (const [i, r] of rs.entries()) {
        expect(r.earStatus).toBe('affirming');
        expect(await claimsOf(r.token)).toMatchObject({ sub: ids[i], eat_nonce: nonces[i] });
      }
      // a collection (no evidence to appraise) goes alone, whatever is on its way
      sent.length = 0;
      await Promise.all([0, 1].map(() => client.integrityRequest({ henbId: 'cell-3', nonce: newNonce(), jobId: 'job-col' }, signal())));
      expect(sent).toEqual([['integrity-request', 1], ['integrity-request', 1]]);
    } finally {
      client.close();
    }
  });

  it('a refusal in a list reaches its caller as the same error the request alone gets', async () => {
    const client = createPveClient({ url: pve.url, ca: pve.ca, batch: { maxInFlight: 1 } });
    try {
      const n = [newNonce(), newNonce(), newNonce()];
      const out = await Promise.allSettled([
        client.integrityRequest({ henbId: 'cell-1', nonce: n[0]!, jobId: 'j0', evidence: evidence('cell-1', n[0]!) }, signal()),
        client.integrityRequest({ henbId: 'cell-2', nonce: n[1]!, jobId: 'j1', evidence: evidence('cell-2', n[1]!) }, signal()),
        client.integrityRequest({ henbId: 'no-such-cell', nonce: n[2]!, jobId: 'j2', evidence: evidence('cell-3', n[2]!) }, signal()),
      ]);
      expect(out[0]!.status).toBe('fulfilled');
      expect(out[1]!.status).toBe('fulfilled');
      const alone = await client.integrityRequest({ henbId: 'no-such-cell', nonce: newNonce(), jobId: 'j3' }, signal()).catch((e: unknown) => e);
      const inList = (out[2] as PromiseRejectedResult).reason as Record<string, unknown>;
      expect(inList.code).toBe('ERR_PVE_UNKNOWN_HENB');
      expect(inList.code).toBe((alone as Record<string, unknown>).code);
      expect(inList.httpStatus).toBe((alone as Record<string, unknown>).httpStatus);
    } finally {
      client.close();
    }
  });

  it('statements made while one is on its way go in one provide-reference-values-list', async () => {
    const sent: Array<[string, number]> = [];
    const client = createPveClient({ url: pve.url, ca: pve.ca, batch: { maxInFlight: 1 }, onSent: (op, n) => sent.push([op, n]) });
    try {
      await Promise.all(['cell-1', 'cell-2', 'cell-3'].map(async (id, i) => client.provideReferenceValues(await statement(id, `job-pl${i}`), signal())));
      expect(sent).toEqual([['provide-reference-values', 1], ['provide-reference-values-list', 2]]);
      for (const id of ['cell-1', 'cell-2', 'cell-3']) expect(pve.providedReferenceValues(id)).toEqual({ rootfs: [DIGEST] });
    } finally {
      client.close();
    }
  });
});

describe('the OAM\'s client and a PVE without the list operations', () => {
  let old: Server;
  let pki: TestPki;
  let port = 0;
  const seen: string[] = [];
  beforeAll(async () => {
    pki = createTestPki();
    // in front of the real PVE: the list operations unknown (404, as an older PVE answers), the rest passed on
    old = createServer({ key: pki.server.key, cert: pki.server.cert }, (rq, res) => {
      seen.push(rq.url!);
      if (rq.url === INTEGRITY_REQUESTS_PATH || rq.url === PROVIDE_LIST_PATH) {
        rq.resume();
        const body = JSON.stringify({ 'ietf-restconf:errors': { error: [{ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': 'unknown operation' }] } });
        res.writeHead(404, { 'Content-Type': 'application/yang-data+json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      const target = new URL(rq.url!, pve.url);
      rq.pipe(request({ hostname: target.hostname, port: target.port, path: rq.url, method: rq.method, headers: rq.headers, ca: pve.ca }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      }));
    });
    await new Promise<void>((r) => old.listen(0, '127.0.0.1', r));
    port = (old.address() as { port: number }).port;
  });
  afterAll(async () => {
    old.closeAllConnections();
    await new Promise<void>((r) => old.close(() => r()));
    pki.cleanup();
  });

  it('told once; the requests of the refused list sent again alone, and alone from then on; every caller answered', async () => {
    const told: unknown[] = [];
    const client = createPveClient({ url: `https://127.0.0.1:${port}`, ca: pki.ca.cert, batch: { maxInFlight: 1 }, onBatchUnsupported: (e) => told.push(e) });
    try {
      const ids = ['cell-1', 'cell-2', 'cell-3'];
      const nonces = ids.map(() => newNonce());
      const rs = await Promise.all(ids.map((id, i) => client.integrityRequest({ henbId: id, nonce: nonces[i]!, jobId: `job-o${i}`, evidence: evidence(id, nonces[i]!) }, signal())));
      expect(rs.map((r) => r.earStatus)).toEqual(['affirming', 'affirming', 'affirming']);
      expect(told).toHaveLength(1);
      expect(seen.filter((u) => u === INTEGRITY_REQUESTS_PATH)).toHaveLength(1);
      expect(seen.filter((u) => u === INTEGRITY_REQUEST_PATH)).toHaveLength(3);
    } finally {
      client.close();
    }
  });
  it('values signed as they leave: the refused list\'s values signed again alone and sent alone, every caller answered', async () => {
    const told: unknown[] = [];
    const signer = countingSigner();
    const client = createPveClient({ url: `https://127.0.0.1:${port}`, ca: pki.ca.cert, batch: { maxInFlight: 1 }, onBatchUnsupported: (e) => told.push(e), referenceValuesSigner: signer });
    try {
      const before = seen.filter((u) => u === PROVIDE_LIST_PATH).length;
      await Promise.all(['cell-1', 'cell-2', 'cell-3'].map((id) => client.signAndProvideReferenceValues!(values(id, 0x81), signal())));
      expect(told).toHaveLength(1);
      expect(seen.filter((u) => u === PROVIDE_LIST_PATH).length - before).toBe(1);
      expect(signer).toMatchObject({ ones: 3, lists: [2] });
      for (const id of ['cell-1', 'cell-2', 'cell-3']) expect(pve.providedReferenceValues(id)).toEqual({ rootfs: [digestOf(0x81)] });
    } finally {
      client.close();
    }
  });
});

describe('integrity-requests over the NETCONF endpoint', () => {
  it('results by index, a refused request in its own result; a list with an index twice refused as an rpc-error', async () => {
    const nc = await connectNetconf({ host: pve.netconf!.host, port: pve.netconf!.port, username: 'oam', password: 'pve-secret', hostKeySha256: pve.netconf!.hostKeySha256 });
    try {
      const n0 = newNonce();
      const ev = evidence('cell-2', n0);
      const reqXml = (index: number, henbId: string, nonce: string, e: PreUpdateEvidence) => el(PVE_NS, 'request',
        leaf(PVE_NS, 'index', String(index)), leaf(PVE_NS, 'henb-id', henbId), leaf(PVE_NS, 'nonce-value', base64urlToBase64(nonce)), leaf(PVE_NS, 'job-id', `job-n${index}`),
        el(PVE_NS, 'evidence', leaf(PVE_NS, 'evidence-format', 'software-key'), leaf(PVE_NS, 'tim', e.tim),
          el(PVE_NS, 'measurement-log', ...e.measurementLog.map((m, i) => el(PVE_NS, 'entry', leaf(PVE_NS, 'index', String(i)), leaf(PVE_NS, 'component', m.component), leaf(PVE_NS, 'digest', m.digest)))),
          leaf(PVE_NS, 'signature-algorithm', 'ES256'), leaf(PVE_NS, 'signature', e.signature)));
      const reply = await nc.rpc(el(PVE_NS, 'integrity-requests', reqXml(5, 'cell-2', n0, ev), reqXml(6, 'no-such-cell', newNonce(), ev)));
      const results = childrenNamed(reply, PVE_NS, 'result');
      expect(results.map((r) => childText(r, PVE_NS, 'index'))).toEqual(['5', '6']);
      expect(childText(results[0]!, PVE_NS, 'ear-status')).toBe('affirming');
      expect((await claimsOf(childText(results[0]!, PVE_NS, 'attestation-result')!)).eat_nonce).toBe(n0);
      expect(childText(child(results[1]!, PVE_NS, 'error')!, PVE_NS, 'error-app-tag')).toBe('unknown-henb');
      const twice = await nc.rpc(el(PVE_NS, 'integrity-requests', reqXml(1, 'cell-1', newNonce(), ev), reqXml(1, 'cell-3', newNonce(), ev))).catch((e: unknown) => e);
      expect(twice).toBeInstanceOf(NetconfError);
      expect(child(reply, NETCONF_BASE_NS, 'rpc-error')).toBeUndefined();
    } finally {
      await nc.close();
    }
  });
});

describe('the OAM\'s NETCONF client: together in one session under load', () => {
  const target = (): { host: string; port: number; username: string; password: string; hostKeySha256: string } =>
    ({ host: pve.netconf!.host, port: pve.netconf!.port, username: 'oam', password: 'pve-secret', hostKeySha256: pve.netconf!.hostKeySha256 });

  it('requests made while one is on its way go in one integrity-requests (one session); each caller its own token; a refusal as the lone one\'s', async () => {
    const sent: Array<[string, number]> = [];
    const client = createNetconfPveClient({ ...target(), batch: { maxInFlight: 1 }, onSent: (op, n) => sent.push([op, n]) });
    const ids = ['cell-1', 'cell-2', 'cell-3', 'no-such-cell'];
    const nonces = ids.map(() => newNonce());
    const out = await Promise.allSettled(ids.map((id, i) => client.integrityRequest({ henbId: id, nonce: nonces[i]!, jobId: `job-nc${i}`, evidence: evidence(id === 'no-such-cell' ? 'cell-1' : id, nonces[i]!) }, signal())));
    expect(sent).toEqual([['integrity-request', 1], ['integrity-requests', 3]]);
    for (const i of [0, 1, 2]) {
      const r = (out[i] as PromiseFulfilledResult<{ token: string; earStatus: string }>).value;
      expect(r.earStatus).toBe('affirming');
      expect(await claimsOf(r.token)).toMatchObject({ sub: ids[i], eat_nonce: nonces[i] });
    }
    const inList = (out[3] as PromiseRejectedResult).reason as Record<string, unknown>;
    const alone = (await client.integrityRequest({ henbId: 'no-such-cell', nonce: newNonce(), jobId: 'j' }, signal()).catch((e: unknown) => e)) as Record<string, unknown>;
    expect(inList.code).toBe('ERR_PVE_UNKNOWN_HENB');
    expect(inList.code).toBe(alone.code);
    expect(inList.appTag).toBe(alone.appTag);
  });

  it('statements made while one is on its way go in one provide-reference-values-list', async () => {
    const sent: Array<[string, number]> = [];
    const client = createNetconfPveClient({ ...target(), batch: { maxInFlight: 1 }, onSent: (op, n) => sent.push([op, n]) });
    await Promise.all(['cell-1', 'cell-2', 'cell-3'].map(async (id, i) => client.provideReferenceValues(await statement(id, `job-ncl${i}`), signal())));
    expect(sent).toEqual([['provide-reference-values', 1], ['provide-reference-values-list', 2]]);
  });

  it('a PVE that answers the list operation operation-not-supported: told once, its requests sent again alone', async () => {
    const told: unknown[] = [];
    const ops: string[] = [];
    // a PVE without the list operations, behind a connector: the single operation is answered, the list refused
    const old: DeviceConnector = async () => ({
      closed: false,
      notifications: async function* () { /* none */ },
      whenClosed: () => new Promise(() => undefined),
      close: async () => undefined,
      async rpc(op) {
        ops.push(op.name);
        if (op.name === 'integrity-requests') throw new NetconfError({ type: 'protocol', tag: 'operation-not-supported', message: 'operation integrity-requests is not supported' });
        await new Promise((r) => setTimeout(r, 5));
        return el(NETCONF_BASE_NS, 'rpc-reply', leaf(PVE_NS, 'ear-status', 'affirming'), leaf(PVE_NS, 'attestation-result', `t.${childText(op, PVE_NS, 'henb-id')}.s`));
      },
    });
    const client = createNetconfPveClient({ ...target(), connector: old, batch: { maxInFlight: 1 }, onBatchUnsupported: (e) => told.push(e) });
    const rs = await Promise.all(['a', 'b', 'c'].map((id) => client.integrityRequest({ henbId: id, nonce: newNonce(), jobId: 'j', evidence: evidence('cell-1', newNonce()) }, signal())));
    expect(rs.map((r) => r.token)).toEqual(['t.a.s', 't.b.s', 't.c.s']);
    expect(ops).toEqual(['integrity-request', 'integrity-requests', 'integrity-request', 'integrity-request']);
    expect(told).toHaveLength(1);
  });
});

// --- the list statement (issue 15): one signature for the H(e)NBs of one provide-reference-values-list

const OAM = 'urn:henb-sw-verify:oam';
const PVE = 'urn:henb-sw-verify:pve';
const LIST_PATH = '/henb-sw-verify-pve:provide-reference-values-list/input/reference-values-list';
const digestOf = (n: number): string => n.toString(16).padStart(2, '0').repeat(32);

/** a list statement of `entries` ([H(e)NB, digest]) signed with `key` (default the OAM's) */
function listStatement(entries: Array<[string, string]>, over: Partial<ReferenceValuesListInput> = {}, key = oamKey): Promise<string> {
  return signReferenceValuesList({
    iss: OAM, aud: PVE, entries: entries.map(([sub, digest], i) => ({ sub, 'job-id': `job-l${i}`, 'reference-values': [{ component: 'rootfs', digest }] })), ...over,
  }, key);
}

const postList = (jws: string): Promise<{ status: number; json: Doc }> => post(PROVIDE_LIST_PATH, { [INPUT]: { 'reference-values-list': jws } });

describe('provide-reference-values-list with one list statement over RESTCONF', () => {
  it('each entry taken as a statement alone: accepted ones held, an unknown H(e)NB or a bad entry refused alone, results by position', async () => {
    const d = digestOf(0x11);
    const jws = toLowS(await new SignJWT({
      iss: OAM, aud: PVE, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300, jti: `list-${newNonce()}`,
      entries: [
        { sub: 'cell-1', 'job-id': 'j0', 'reference-values': [{ component: 'rootfs', digest: d }] },
        { sub: 'no-such-cell', 'job-id': 'j1', 'reference-values': [{ component: 'rootfs', digest: d }] },
        { sub: 'cell-3', 'job-id': 'j2', 'reference-values': [{ component: 'rootfs', digest: 'NOT HEX' }] },
        { sub: 'cell-2', 'job-id': 'j3', 'reference-values': [{ component: 'rootfs', digest: d }] },
      ],
    }).setProtectedHeader({ alg: 'ES256', kid: oamKey.kid, typ: 'rv-list+jwt' }).sign(oamKey.privateKey), 'ES256');
    const before3 = pve.providedReferenceValues('cell-3');
    const r = await postList(jws);
    expect(r.status).toBe(200);
    const results = r.json[OUTPUT].result;
    expect(results.map((x) => x.index)).toEqual([0, 1, 2, 3]);
    expect(results[0]).toEqual({ index: 0, accepted: [null] });
    expect(results[1]!.error).toMatchObject({ 'error-type': 'application', 'error-tag': 'invalid-value', 'error-app-tag': 'unknown-henb', 'error-path': LIST_PATH });
    expect(results[2]!.error).toMatchObject({ 'error-app-tag': 'reference-values-invalid', 'error-path': LIST_PATH });
    expect(results[3]).toEqual({ index: 3, accepted: [null] });
    expect(pve.providedReferenceValues('cell-1')).toEqual({ rootfs: [d] });
    expect(pve.providedReferenceValues('cell-2')).toEqual({ rootfs: [d] });
    expect(pve.providedReferenceValues('cell-3')).toEqual(before3);
  });

  it('a tampered entry, another key, an expired list: the operation refused with the single statement\'s error, nothing taken', async () => {
    const held = pve.providedReferenceValues('cell-1');
    const jws = await listStatement([['cell-1', digestOf(0x21)], ['cell-2', digestOf(0x21)]]);
    const [h, p, sig] = jws.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as { entries: Array<{ 'reference-values': Array<{ digest: string }> }> };
    claims.entries[1]!['reference-values'][0]!.digest = digestOf(0x66);
    const tampered = await postList(`${h!}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig!}`);
    expect(tampered.status).toBe(403);
    expect(tampered.json['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-tag': 'access-denied', 'error-app-tag': 'reference-values-untrusted', 'error-path': LIST_PATH });
    const other = await postList(await listStatement([['cell-1', digestOf(0x22)]], {}, await generateSigningKey('ES256', 'oam')));
    expect(other.json['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-app-tag': 'reference-values-untrusted' });
    const now = Math.floor(Date.now() / 1000);
    const expired = await postList(await listStatement([['cell-1', digestOf(0x23)]], { iat: now - 100, exp: now - 50 }));
    expect(expired.json['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-tag': 'invalid-value', 'error-app-tag': 'reference-values-stale' });
    expect(pve.providedReferenceValues('cell-1')).toEqual(held);
    // the untampered list was never accepted: it still is accepted once
    expect((await postList(jws)).json[OUTPUT].result.map((x) => x.accepted)).toEqual([[null], [null]]);
  });

  it('sent again: a current entry is a repeat, an entry replaced since is refused as replayed (no rollback); a list with no current entry is a replay', async () => {
    const jws = await listStatement([['cell-1', digestOf(0x31)], ['cell-2', digestOf(0x31)]]);
    expect((await postList(jws)).json[OUTPUT].result.map((x) => x.accepted)).toEqual([[null], [null]]);
    // the same list again (its answer was lost): both answered as accepted, nothing changed
    expect((await postList(jws)).json[OUTPUT].result.map((x) => x.accepted)).toEqual([[null], [null]]);
    // cell-2 gets newer values; an attacker who kept the list sends it again
    await pve.provideReferenceValues(await signReferenceValues({ iss: OAM, aud: PVE, sub: 'cell-2', 'job-id': 'job-newer', 'reference-values': [{ component: 'rootfs', digest: digestOf(0x32) }] }, oamKey));
    const again = await postList(jws);
    expect(again.json[OUTPUT].result[0]).toEqual({ index: 0, accepted: [null] });
    expect(again.json[OUTPUT].result[1]!.error).toMatchObject({ 'error-app-tag': 'reference-values-replayed', 'error-path': LIST_PATH });
    expect(pve.providedReferenceValues('cell-2')).toEqual({ rootfs: [digestOf(0x32)] });
    // once no entry is current, the list is a replay as a whole
    await pve.provideReferenceValues(await signReferenceValues({ iss: OAM, aud: PVE, sub: 'cell-1', 'job-id': 'job-newer', 'reference-values': [{ component: 'rootfs', digest: digestOf(0x33) }] }, oamKey));
    const replay = await postList(jws);
    expect(replay.status).toBe(400);
    expect(replay.json['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-app-tag': 'reference-values-replayed', 'error-path': LIST_PATH });
    expect(pve.providedReferenceValues('cell-1')).toEqual({ rootfs: [digestOf(0x33)] });
  });

  it('an entry older than the H(e)NB\'s current values is refused as stale, alone', async () => {
    const now = Math.floor(Date.now() / 1000);
    await pve.provideReferenceValues(await signReferenceValues({ iss: OAM, aud: PVE, sub: 'cell-3', 'job-id': 'job-now', 'reference-values': [{ component: 'rootfs', digest: digestOf(0x41) }] }, oamKey));
    // cell-4 has no values yet: its entry is taken
    const r = await postList(await listStatement([['cell-3', digestOf(0x42)], ['cell-4', digestOf(0x42)]], { iat: now - 60 }));
    expect(r.json[OUTPUT].result[0]!.error).toMatchObject({ 'error-app-tag': 'reference-values-stale', 'error-path': LIST_PATH });
    expect(r.json[OUTPUT].result[1]).toEqual({ index: 1, accepted: [null] });
    expect(pve.providedReferenceValues('cell-4')).toEqual({ rootfs: [digestOf(0x42)] });
    expect(pve.providedReferenceValues('cell-3')).toEqual({ rootfs: [digestOf(0x41)] });
  });

  it('type confusion refused: a list statement as a single statement, a single statement as a list; both input forms at once', async () => {
    const list = await listStatement([['cell-1', digestOf(0x51)]]);
    const asSingle = await post('/restconf/operations/henb-sw-verify-pve:provide-reference-values', { [INPUT]: { 'reference-values': list } });
    expect(asSingle.json['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-app-tag': 'reference-values-invalid' });
    const single = await statement('cell-1', 'job-conf');
    const asList = await postList(single);
    expect(asList.json['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-app-tag': 'reference-values-invalid', 'error-path': LIST_PATH });
    const both = await post(PROVIDE_LIST_PATH, { [INPUT]: { statement: [{ index: 0, 'reference-values': single }], 'reference-values-list': list } });
    expect(both.status).toBe(400);
    expect(both.json['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-tag': 'invalid-value', 'error-path': LIST_PATH });
    expect((await postList(list)).json[OUTPUT].result[0]).toEqual({ index: 0, accepted: [null] });
  });
});

/** the OAM's signer, counting its signatures */
function countingSigner(key = oamKey): ReferenceValuesSigner & { ones: number; lists: number[] } {
  const s = createReferenceValuesSigner({ signingKey: key });
  const c = {
    ones: 0, lists: [] as number[],
    one: (v: ReferenceValuesInput) => (c.ones++, s.one(v)),
    list: (vs: readonly ReferenceValuesInput[]) => (c.lists.push(vs.length), s.list(vs)),
  };
  return c;
}
const values = (henbId: string, n: number): ReferenceValuesInput => ({ henbId, jobId: `job-v${n}`, values: [{ component: 'rootfs', digest: digestOf(n) }] });

describe('the OAM\'s clients sign the values as they leave: several as one list statement', () => {
  it('RESTCONF: values made while one is on its way go as one list statement (one signature); each caller its own outcome, a refusal as the lone one\'s', async () => {
    const sent: Array<[string, number]> = [];
    const signer = countingSigner();
    const client = createPveClient({ url: pve.url, ca: pve.ca, batch: { maxInFlight: 1 }, onSent: (op, n) => sent.push([op, n]), referenceValuesSigner: signer });
    try {
      const out = await Promise.allSettled([values('cell-1', 0x61), values('cell-2', 0x61), values('no-such-cell', 0x61), values('cell-3', 0x61)]
        .map((v) => client.signAndProvideReferenceValues!(v, signal())));
      expect(sent).toEqual([['provide-reference-values', 1], ['provide-reference-values-list', 3]]);
      expect(signer).toMatchObject({ ones: 1, lists: [3] });
      expect(out.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      for (const id of ['cell-1', 'cell-2', 'cell-3']) expect(pve.providedReferenceValues(id)).toEqual({ rootfs: [digestOf(0x61)] });
      const alone = await client.signAndProvideReferenceValues!(values('no-such-cell', 0x62), signal()).catch((e: unknown) => e) as Record<string, unknown>;
      expect((out[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_PVE_UNKNOWN_HENB', httpStatus: alone.httpStatus });
      expect(alone.code).toBe('ERR_PVE_UNKNOWN_HENB');
    } finally {
      client.close();
    }
  });

  it('RESTCONF: a list statement the PVE refuses (not the OAM\'s key) fails every caller with the refusal a lone statement gets', async () => {
    const client = createPveClient({ url: pve.url, ca: pve.ca, batch: { maxInFlight: 1 }, referenceValuesSigner: countingSigner(await generateSigningKey('ES256', 'oam')) });
    try {
      const out = await Promise.allSettled(['cell-1', 'cell-2', 'cell-3'].map((id) => client.signAndProvideReferenceValues!(values(id, 0x63), signal())));
      for (const o of out) expect((o as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_PVE_REJECTED', appTag: 'reference-values-untrusted', httpStatus: 403 });
      expect(pve.providedReferenceValues('cell-2')).not.toEqual({ rootfs: [digestOf(0x63)] });
    } finally {
      client.close();
    }
  });

  it('NETCONF: values made while one is on its way go as one list statement in one session', async () => {
    const sent: Array<[string, number]> = [];
    const signer = countingSigner();
    const client = createNetconfPveClient({
      host: pve.netconf!.host, port: pve.netconf!.port, username: 'oam', password: 'pve-secret', hostKeySha256: pve.netconf!.hostKeySha256,
      batch: { maxInFlight: 1 }, onSent: (op, n) => sent.push([op, n]), referenceValuesSigner: signer,
    });
    const out = await Promise.allSettled([values('cell-1', 0x64), values('cell-2', 0x64), values('no-such-cell', 0x64)].map((v) => client.signAndProvideReferenceValues!(v, signal())));
    expect(sent).toEqual([['provide-reference-values', 1], ['provide-reference-values-list', 2]]);
    expect(signer).toMatchObject({ ones: 1, lists: [2] });
    expect(out.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((out[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_PVE_UNKNOWN_HENB' });
    expect(pve.providedReferenceValues('cell-2')).toEqual({ rootfs: [digestOf(0x64)] });
  });
});

describe('the list statement over the NETCONF endpoint', () => {
  it('results by position; a list statement refused as a whole is an rpc-error with the single statement\'s error-app-tag', async () => {
    const nc = await connectNetconf({ host: pve.netconf!.host, port: pve.netconf!.port, username: 'oam', password: 'pve-secret', hostKeySha256: pve.netconf!.hostKeySha256 });
    try {
      const jws = await listStatement([['cell-1', digestOf(0x71)], ['no-such-cell', digestOf(0x71)]]);
      const reply = await nc.rpc(el(PVE_NS, 'provide-reference-values-list', leaf(PVE_NS, 'reference-values-list', jws)));
      const results = childrenNamed(reply, PVE_NS, 'result');
      expect(results.map((r) => childText(r, PVE_NS, 'index'))).toEqual(['0', '1']);
      expect(child(results[0]!, PVE_NS, 'accepted')).toBeDefined();
      expect(childText(child(results[1]!, PVE_NS, 'error')!, PVE_NS, 'error-app-tag')).toBe('unknown-henb');
      const again = await nc.rpc(el(PVE_NS, 'provide-reference-values-list', leaf(PVE_NS, 'reference-values-list', await listStatement([['cell-1', digestOf(0x72)]], {}, await generateSigningKey('ES256', 'oam'))))).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(NetconfError);
      expect((again as NetconfError).errors[0]).toMatchObject({ tag: 'access-denied', appTag: 'reference-values-untrusted', path: '/hsvp:provide-reference-values-list/hsvp:reference-values-list' });
      expect(pve.providedReferenceValues('cell-1')).toEqual({ rootfs: [digestOf(0x71)] });
    } finally {
      await nc.close();
    }
  });
});
