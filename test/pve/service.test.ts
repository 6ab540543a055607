import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Femtocell, factoryReferenceValues } from '../../src/simulator/model.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import type { EvidenceCollector, PveDeviceEntry } from '../../src/pve/types.js';
import { createPveClient } from '../../src/pve/client.js';
import type { RestconfPveClient } from '../../src/pve/client.js';
import { INTEGRITY_REQUEST_PATH, base64urlToBase64 } from '../../src/pve/restconf.js';
import { loadOrCreatePveTls } from '../../src/pve/tls.js';
import { newNonce } from '../../src/tokens/nonce.js';
import type { EarClaims, Jwks } from '../../src/tokens/types.js';

/** the OAM's nonce for a software-update (hex text is canonical base64: 48 octets) */
const NONCE = 'a1'.repeat(32);

let dataDir: string;
const cells = new Map<string, Femtocell>();
let hang: (() => void) | undefined;

/** evidence straight from the model (the NETCONF collector is tested with the simulator) */
const collector: EvidenceCollector = {
  async collect(device, nonce, signal) {
    if (device.henbId === 'unreachable-1') throw Object.assign(new Error('refused'), { code: 'ERR_DEVICE_UNREACHABLE' });
    if (device.henbId === 'hang-1') {
      await new Promise<void>((resolve, reject) => {
        hang = resolve;
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
    }
    const cell = cells.get(device.henbId)!;
    const ev = cell.measure(nonce);
    return { tim: ev.tim, log: ev.log, signature: ev.signature, signatureAlgorithm: 'ES256', keyId: cell.keyId(), softwareVersion: '1.0.0' };
  },
};

function entry(cell: Femtocell, keyOf: Femtocell = cell): PveDeviceEntry {
  return { henbId: cell.henbId, host: '127.0.0.1', port: 1, username: 'u', password: 'p', devicePublicKey: keyOf.publicKeyPem() };
}

let pve: PveHandle;
let client: RestconfPveClient;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hsv-pve-'));
  for (const [id, profile] of [['healthy-1', 'healthy'], ['compromised-1', 'compromised'], ['forged-1', 'healthy'], ['hang-1', 'healthy']] as const) {
    cells.set(id, new Femtocell({ henbId: id, profile }));
  }
  const stranger = new Femtocell({ henbId: 'x' });
  const devices = [
    entry(cells.get('healthy-1')!), entry(cells.get('compromised-1')!), entry(cells.get('forged-1')!, stranger),
    entry(cells.get('hang-1')!),
    { henbId: 'unreachable-1', host: '127.0.0.1', port: 1, username: 'u', devicePublicKey: stranger.publicKeyPem() },
  ];
  pve = await startPve({ listen: '127.0.0.1:0', dataDir, devices, referenceValues: factoryReferenceValues(), collector, deviceTimeoutMs: 5000 });
  client = createPveClient({ url: pve.url, ca: pve.ca, timeoutMs: 10_000 });
});

afterEach(() => {
  hang?.();
  hang = undefined;
});

afterAll(async () => {
  client.close();
  await pve.close();
  for (const c of cells.values()) c.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function verify(token: string, jwks: Jwks): Promise<EarClaims> {
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks as never), {
    issuer: pve.issuer, audience: pve.audience as string, algorithms: ['ES256', 'EdDSA'],
  });
  expect(protectedHeader.typ).toBe('eat+jwt');
  return payload as unknown as EarClaims;
}

function raw(method: string, path: string, body?: string, contentType = 'application/yang-data+json'): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const r = request(new URL(path, pve.url), { method, ca: pve.ca, headers: body !== undefined ? { 'Content-Type': contentType } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe('reference PVE over RESTCONF/HTTPS', () => {
  it('healthy: affirming, signed, eat_nonce is the requester nonce, per-component submods', async () => {
    const nonce = newNonce();
    const r = await client.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'job-1' }, new AbortController().signal);
    expect(r.earStatus).toBe('affirming');
    const claims = await verify(r.token, pve.jwks);
    expect(claims).toMatchObject({ sub: 'healthy-1', ear_status: 'affirming', eat_nonce: nonce });
    const platform = claims.submods.platform!;
    expect(platform).toMatchObject({ ear_status: 'affirming', 'job-id': 'job-1', phase: 'pre-update', 'reported-tim': cells.get('healthy-1')!.tim() });
    expect(platform.components?.map((c) => [c.component, c.status])).toEqual([
      ['bootloader', 'match'], ['kernel', 'match'], ['rootfs', 'match'], ['config', 'match'],
    ]);
  });

  it('job-id is optional (henb-sw-verify-pve): a request without it is appraised, the token has no job-id (was a 500)', async () => {
    const nonce = newNonce();
    const res = await raw('POST', INTEGRITY_REQUEST_PATH, JSON.stringify({ 'henb-sw-verify-pve:input': { 'henb-id': 'healthy-1', 'nonce-value': base64urlToBase64(nonce) } }));
    expect(res.status, res.text).toBe(200);
    const out = JSON.parse(res.text)['henb-sw-verify-pve:output'] as { 'ear-status': string; 'attestation-result': string };
    expect(out['ear-status']).toBe('affirming');
    const claims = await verify(out['attestation-result'], pve.jwks);
    expect(claims.eat_nonce).toBe(nonce);
    expect(claims.submods.platform).toMatchObject({ ear_status: 'affirming', phase: 'pre-update' });
    expect(claims.submods.platform).not.toHaveProperty('job-id');
  });

  it('the JWKS is served and matches', async () => {
    const res = await raw('GET', '/jwks.json');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual(pve.jwks);
    const hm = await raw('GET', '/.well-known/host-meta');
    expect(hm.status).toBe(200);
    expect(hm.text).toContain("rel='restconf' href='/restconf'");
  });

  it('compromised: contraindicated, the kernel named', async () => {
    const nonce = newNonce();
    const r = await client.integrityRequest({ henbId: 'compromised-1', nonce, jobId: 'job-2' }, new AbortController().signal);
    expect(r.earStatus).toBe('contraindicated');
    expect(r.reason).toMatch(/kernel/);
    const claims = await verify(r.token, pve.jwks);
    expect(claims.ear_status).toBe('contraindicated');
    expect(claims.submods.platform?.['first-mismatch']).toBe('kernel');
    expect(claims.submods.platform?.components?.find((c) => c.component === 'kernel')?.status).toBe('mismatch');
  });

  it('evidence signed by another key: contraindicated (evidence-invalid)', async () => {
    const r = await client.integrityRequest({ henbId: 'forged-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal);
    expect(r.earStatus).toBe('contraindicated');
    expect(r.reason).toMatch(/evidence-invalid/);
  });

  it('a reference value added later is accepted', async () => {
    const d = new Femtocell({ henbId: 'healthy-2', release: '1.1.0' });
    cells.set('healthy-2', d);
    pve.setDevice(entry(d));
    const first = await client.integrityRequest({ henbId: 'healthy-2', nonce: newNonce(), jobId: 'j' }, new AbortController().signal);
    expect(first.earStatus).toBe('contraindicated');
    for (const e of d.measurementLog()) pve.addReferenceValue(e.component, e.digest);
    const second = await client.integrityRequest({ henbId: 'healthy-2', nonce: newNonce(), jobId: 'j' }, new AbortController().signal);
    expect(second.earStatus).toBe('affirming');
  });

  it('approved software: an H(e)NB that installed an approved image still appraises affirming', async () => {
    const { writeFile, mkdir } = await import('node:fs/promises');
    const { createHash } = await import('node:crypto');
    const dir = join(dataDir, 'approved');
    await mkdir(dir, { recursive: true });
    const image = Buffer.from('approved firmware 2.0.0');
    const rim = createHash('sha256').update(image).digest('hex');
    const d = new Femtocell({ henbId: 'updated-1', installMs: 1 });
    cells.set('updated-1', d);
    const done = new Promise((resolve) => d.onCompletion(resolve));
    d.startUpdate({ jobId: 'job-u', uri: 'file:///img', softwareRim: rim, selfCheck: true, nonce: NONCE });
    await done;
    const second = await startPve({ listen: '127.0.0.1:0', dataDir, devices: [entry(d)], referenceValues: factoryReferenceValues(), collector, approvedSoftware: [dir] });
    const c = createPveClient({ url: second.url, ca: second.ca });
    try {
      const before = await c.integrityRequest({ henbId: 'updated-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal);
      expect(before.earStatus).toBe('contraindicated');
      await writeFile(join(dir, 'fw-2.0.0.bin'), image);
      const after = await c.integrityRequest({ henbId: 'updated-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal);
      expect(after.earStatus).toBe('affirming');
    } finally {
      c.close();
      await second.close();
    }
  });

  it('bounded concurrency: beyond the queue, resource-denied; queued requests complete', async () => {
    const gates: Array<() => void> = [];
    const slow: EvidenceCollector = {
      async collect(device, nonce) {
        await new Promise<void>((r) => gates.push(r));
        return collector.collect(device, nonce, new AbortController().signal);
      },
    };
    const small = await startPve({ listen: '127.0.0.1:0', dataDir, devices: [entry(cells.get('healthy-1')!)], referenceValues: factoryReferenceValues(), collector: slow, maxConcurrent: 1 });
    // two clients: one client's agent holds at most 16 sockets
    const c = createPveClient({ url: small.url, ca: small.ca });
    const c2 = createPveClient({ url: small.url, ca: small.ca });
    try {
      const settled: string[] = [];
      const all = Array.from({ length: 18 }, (_, i) => (i % 2 === 0 ? c : c2).integrityRequest({ henbId: 'healthy-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal)
        .then((r) => r.earStatus, (e: { errorTag?: string; httpStatus?: number }) => `${e.errorTag}/${e.httpStatus}`)
        .then((r) => { settled.push(r); return r; }));
      // one collecting, 16 queued: the 18th is refused at once
      for (let i = 0; i < 1000 && settled.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(settled).toEqual(['resource-denied/503']);
      // then let the others through one by one
      for (let i = 0; i < 17; i++) {
        for (let j = 0; j < 500 && gates.length === 0; j++) await new Promise((r) => setTimeout(r, 10));
        gates.shift()?.();
      }
      const results = await Promise.all(all);
      expect(results.filter((r) => r === 'affirming')).toHaveLength(17);
      expect(results.filter((r) => r === 'resource-denied/503')).toHaveLength(1);
    } finally {
      c.close();
      c2.close();
      for (const g of gates) g();
      await small.close();
    }
  });

  it('unknown henb-id: ERR_PVE_UNKNOWN_HENB (invalid-value / unknown-henb)', async () => {
    await expect(client.integrityRequest({ henbId: 'nobody', nonce: newNonce(), jobId: 'j' }, new AbortController().signal))
      .rejects.toMatchObject({ code: 'ERR_PVE_UNKNOWN_HENB', appTag: 'unknown-henb', httpStatus: 400 });
  });

  it('device not reachable by the PVE: ERR_PVE_REJECTED operation-failed / henb-unreachable', async () => {
    await expect(client.integrityRequest({ henbId: 'unreachable-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal))
      .rejects.toMatchObject({ code: 'ERR_PVE_REJECTED', errorTag: 'operation-failed', appTag: 'henb-unreachable', httpStatus: 500 });
  });

  it('bad JSON and bad input: RESTCONF errors in RFC 8040 section 7.1 form', async () => {
    const notJson = await raw('POST', INTEGRITY_REQUEST_PATH, '{"henb-sw-verify-pve:input": ');
    expect(notJson.status).toBe(400);
    expect(notJson.headers['content-type']).toBe('application/yang-data+json');
    expect(JSON.parse(notJson.text)).toEqual({ 'ietf-restconf:errors': { error: [
      { 'error-type': 'protocol', 'error-tag': 'malformed-message', 'error-message': 'the body is not JSON' }] } });

    const badNonce = await raw('POST', INTEGRITY_REQUEST_PATH, JSON.stringify({ 'henb-sw-verify-pve:input': { 'henb-id': 'healthy-1', 'nonce-value': 'c2hvcnQ=' } }));
    expect(badNonce.status).toBe(400);
    expect(JSON.parse(badNonce.text)['ietf-restconf:errors'].error[0]).toMatchObject({
      'error-tag': 'invalid-value', 'error-path': '/henb-sw-verify-pve:integrity-request/input/nonce-value' });

    const missing = await raw('POST', INTEGRITY_REQUEST_PATH, JSON.stringify({ 'henb-sw-verify-pve:input': { 'nonce-value': newNonce() } }));
    expect(missing.status).toBe(400); // was 500: missing-element had no status
    expect(JSON.parse(missing.text)['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-tag': 'missing-element' });

    const stray = await raw('POST', INTEGRITY_REQUEST_PATH, JSON.stringify({ 'henb-sw-verify-pve:input': { 'henb-id': 'a', 'nonce-value': newNonce(), extra: 1 } }));
    expect(JSON.parse(stray.text)['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-tag': 'unknown-element' });

    const media = await raw('POST', INTEGRITY_REQUEST_PATH, '{}', 'text/plain');
    expect(media.status).toBe(415);

    const get = await raw('GET', INTEGRITY_REQUEST_PATH);
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST, OPTIONS');

    const unknownOp = await raw('POST', '/restconf/operations/henb-sw-verify-pve:nope', '{}');
    expect(unknownOp.status).toBe(404);
  });

  it('a body over the limit: too-big', async () => {
    const big = await raw('POST', INTEGRITY_REQUEST_PATH, JSON.stringify({ x: 'a'.repeat(70_000) }));
    expect(big.status).toBe(413);
  });

  it('client timeout and abort are coded', async () => {
    const quick = createPveClient({ url: pve.url, ca: pve.ca, timeoutMs: 200 });
    try {
      await expect(quick.integrityRequest({ henbId: 'hang-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal))
        .rejects.toMatchObject({ code: 'ERR_PVE_TIMEOUT' });
      hang?.();
      const ac = new AbortController();
      const p = client.integrityRequest({ henbId: 'hang-1', nonce: newNonce(), jobId: 'j' }, ac.signal);
      ac.abort(new Error('step timeout'));
      await expect(p).rejects.toMatchObject({ code: 'ERR_PVE_ABORTED' });
    } finally {
      quick.close();
    }
  });

  it('a CA that is not pinned: ERR_PVE_TLS', async () => {
    const other = await mkdtemp(join(tmpdir(), 'hsv-pve-ca-'));
    try {
      const tls = await loadOrCreatePveTls(other);
      const c = createPveClient({ url: pve.url, ca: tls.ca });
      await expect(c.integrityRequest({ henbId: 'healthy-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal))
        .rejects.toMatchObject({ code: 'ERR_PVE_TLS' });
      c.close();
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('the TLS material persists in the data dir', async () => {
    const again = await loadOrCreatePveTls(dataDir);
    expect(again.ca).toBe(pve.ca);
    expect(await readFile(pve.caPath, 'utf8')).toBe(pve.ca);
  });
});

describe('PVE client against no PVE', () => {
  it('connection refused: ERR_PVE_UNREACHABLE', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const c = createPveClient({ url: `https://127.0.0.1:${port}`, ca: pve.ca });
    await expect(c.integrityRequest({ henbId: 'healthy-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal))
      .rejects.toMatchObject({ code: 'ERR_PVE_UNREACHABLE' });
    c.close();
  });

  it('a bad URL is a config error', () => {
    expect(() => createPveClient({ url: 'http://127.0.0.1:1', ca: '' })).toThrow(expect.objectContaining({ code: 'ERR_PVE_CONFIG' }));
  });
});
