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
import { generateSigningKey, signReferenceValues } from '../../src/tokens/index.js';
import type { EarClaims, SigningKey } from '../../src/tokens/index.js';
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
  for (const id of ['cell-1', 'cell-2', 'cell-3']) cells.set(id, new Femtocell({ henbId: id, installMs: 1 }));
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
