/**
 * provide-reference-values (issue 10 item 4): the PVE takes new reference values of an H(e)NB only from the OAM's
 * key, over RESTCONF and NETCONF, and its next appraisal of that H(e)NB (and only that one) affirms the verified
 * software. Every refusal leaves the PVE's values and verdicts as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { Femtocell, factoryReferenceValues } from '../../src/simulator/model.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { cellCollector, cellEntry } from './cells.js';
import { createPveClient } from '../../src/pve/client.js';
import type { PveClientError, RestconfPveClient } from '../../src/pve/client.js';
import { createNetconfPveClient } from '../../src/pve/netconf-client.js';
import type { NetconfPveClient } from '../../src/pve/netconf-client.js';
import { PROVIDE_REFERENCE_VALUES_PATH } from '../../src/pve/restconf.js';
import { readProvidedRecord } from '../../src/pve/provided-record.js';
import type { ProvidedEntry } from '../../src/pve/provided-record.js';
import { generateSigningKey, newNonce, signReferenceValues, signResult } from '../../src/tokens/index.js';
import type { ReferenceValuesClaimsInput, SigningKey } from '../../src/tokens/index.js';
import { claims as earClaims } from '../tokens/helpers.js';

const OAM = 'urn:henb-sw-verify:oam';
const PVE = 'urn:henb-sw-verify:pve';
const NEW_ROOTFS = createHash('sha256').update('firmware 2.0.0').digest('hex');
const signal = (): AbortSignal => new AbortController().signal;

let dir: string;
let oamKey: SigningKey;
let otherKey: SigningKey;
const cells = new Map<string, Femtocell>();
let pve: PveHandle;
let rest: RestconfPveClient;
let nc: NetconfPveClient;

const collector = cellCollector(cells);
const entry = cellEntry;

/** install NEW_ROOTFS on a cell (live activation: its rootfs measurement is appended) */
async function install(cell: Femtocell): Promise<void> {
  const done = new Promise<void>((resolve) => { const off = cell.onCompletion(() => { off(); resolve(); }); });
  cell.startUpdate({ jobId: `job-${cell.henbId}`, uri: 'file:///x', softwareRim: NEW_ROOTFS, selfCheck: false, version: '2.0.0', nonce: Buffer.alloc(32, 7).toString('base64') });
  await done;
}

function statement(over: Partial<ReferenceValuesClaimsInput> = {}): ReferenceValuesClaimsInput {
  return { iss: OAM, aud: PVE, sub: 'updated-1', 'job-id': 'job-1', 'reference-values': [{ component: 'rootfs', digest: NEW_ROOTFS, version: '2.0.0' }], ...over };
}

/** the statement the PVE's record (DATA_DIR/reference-values) holds for an H(e)NB: what a restart reads back */
async function recorded(henbId: string): Promise<ProvidedEntry | undefined> {
  return (await readProvidedRecord(join(dir, 'pve', 'reference-values'))).henbs[henbId];
}

async function verdict(henbId: string): Promise<string> {
  return (await rest.integrityRequest({ henbId, nonce: newNonce(), jobId: 'check' }, signal())).earStatus;
}

function startPveOn(dataDir: string): Promise<PveHandle> {
  return startPve({
    listen: '127.0.0.1:0', dataDir, devices: [...cells.values()].map(entry), referenceValues: factoryReferenceValues(), collector,
    oamJwks: join(dir, 'oam-jwks.json'), netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', password: 'pve-secret' }] },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pve-rv-'));
  oamKey = await generateSigningKey('ES256', 'oam');
  otherKey = await generateSigningKey('ES256', 'other');
  await writeFile(join(dir, 'oam-jwks.json'), JSON.stringify({ keys: [oamKey.publicJwk] }));
  for (const id of ['updated-1', 'updated-2']) cells.set(id, new Femtocell({ henbId: id, installMs: 1 }));
  await install(cells.get('updated-1')!);
  await install(cells.get('updated-2')!);
  pve = await startPveOn(join(dir, 'pve'));
  rest = createPveClient({ url: pve.url, ca: pve.ca });
  nc = createNetconfPveClient({ host: pve.netconf!.host, port: pve.netconf!.port, username: 'oam', password: 'pve-secret', hostKeySha256: pve.netconf!.hostKeySha256 });
});

afterAll(async () => {
  rest?.close();
  await pve?.close();
  for (const c of cells.values()) c.close();
  await rm(dir, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<{ code: string; appTag?: string; errorTag?: string; httpStatus?: number; message: string }> {
  const e = (await p.then(() => undefined, (x: unknown) => x)) as PveClientError | undefined;
  expect(e, 'expected a refusal').toBeDefined();
  return { code: e!.code, message: e!.message, ...(e!.appTag !== undefined ? { appTag: e!.appTag } : {}), ...(e!.errorTag !== undefined ? { errorTag: e!.errorTag } : {}), ...(e!.httpStatus !== undefined ? { httpStatus: e!.httpStatus } : {}) };
}

describe('provide-reference-values', () => {
  it('before: an updated H(e)NB is contraindicated (its new rootfs is no reference value)', async () => {
    expect(await verdict('updated-1')).toBe('contraindicated');
    expect(pve.providedReferenceValues('updated-1')).toEqual({});
  });

  describe('refused, nothing changes', () => {
    const cases: Array<[string, () => Promise<string>, string, string]> = [
      ['unsigned (alg none)', async () => {
        const b = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
        return `${b({ alg: 'none', typ: 'rv+jwt' })}.${b({ ...statement(), iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300, jti: 'j' })}.AAAA`;
      }, 'reference-values-unsigned', 'invalid-value'],
      ['not a JWS at all', async () => 'hello', 'reference-values-unsigned', 'invalid-value'],
      ['signed with another key', async () => signReferenceValues(statement(), otherKey), 'reference-values-untrusted', 'access-denied'],
      ['signed with another key under the OAM kid', async () => {
        const forged = { ...otherKey, kid: oamKey.kid };
        return signReferenceValues(statement(), forged);
      }, 'reference-values-untrusted', 'access-denied'],
      ['stale: older than the max age', async () => signReferenceValues(statement(), oamKey, { now: () => Date.now() / 1000 - 3600, ttlSec: 86_400 }), 'reference-values-stale', 'invalid-value'],
      ['expired', async () => signReferenceValues(statement(), oamKey, { now: () => Date.now() / 1000 - 120, ttlSec: 60 }), 'reference-values-stale', 'invalid-value'],
      ['for another PVE', async () => signReferenceValues(statement({ aud: 'urn:other-pve' }), oamKey), 'reference-values-invalid', 'invalid-value'],
      ['a result token of the OAM, not reference values', async () => signResult(earClaims({ iss: OAM, aud: PVE }), oamKey), 'reference-values-invalid', 'invalid-value'],
      ['about an unknown H(e)NB', async () => signReferenceValues(statement({ sub: 'stranger-1' }), oamKey), 'unknown-henb', 'invalid-value'],
    ];
    it.each(cases)('RESTCONF: %s', async (_name, make, appTag, errorTag) => {
      const r = await refusal(rest.provideReferenceValues(await make(), signal()));
      expect(r).toMatchObject({ code: appTag === 'unknown-henb' ? 'ERR_PVE_UNKNOWN_HENB' : 'ERR_PVE_REJECTED', appTag, errorTag });
      expect(pve.providedReferenceValues('updated-1')).toEqual({});
      expect(await verdict('updated-1')).toBe('contraindicated');
    });
    // over NETCONF the module's compact-jws pattern refuses what is not a JWS before the operation sees it
    it.each(cases.filter((c) => c[0] !== 'not a JWS at all'))('NETCONF: %s', async (_name, make, appTag, errorTag) => {
      const r = await refusal(nc.provideReferenceValues(await make(), signal()));
      expect(r).toMatchObject({ code: appTag === 'unknown-henb' ? 'ERR_PVE_UNKNOWN_HENB' : 'ERR_PVE_REJECTED', appTag, errorTag });
      expect(pve.providedReferenceValues('updated-1')).toEqual({});
    });
  });

  it('NETCONF: what is not a JWS fails the YANG type (invalid-value), nothing changes', async () => {
    expect(await refusal(nc.provideReferenceValues('hello', signal()))).toMatchObject({ code: 'ERR_PVE_REJECTED', errorTag: 'invalid-value' });
    expect(pve.providedReferenceValues('updated-1')).toEqual({});
  });

  it('bad input: a missing leaf or a stray member is a protocol error naming the path', async () => {
    const raw = (body: string): Promise<{ status: number; text: string }> => new Promise((resolve, reject) => {
      const r = request(new URL(PROVIDE_REFERENCE_VALUES_PATH, pve.url), { method: 'POST', ca: pve.ca, headers: { 'Content-Type': 'application/yang-data+json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      });
      r.on('error', reject);
      r.end(body);
    });
    const missing = await raw(JSON.stringify({ 'henb-sw-verify-pve:input': {} }));
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text)['ietf-restconf:errors'].error[0]).toMatchObject({
      'error-tag': 'missing-element', 'error-path': '/henb-sw-verify-pve:provide-reference-values/input/reference-values',
    });
    const stray = await raw(JSON.stringify({ 'henb-sw-verify-pve:input': { 'reference-values': 'a.b.c', x: 1 } }));
    expect(JSON.parse(stray.text)['ietf-restconf:errors'].error[0]).toMatchObject({ 'error-tag': 'unknown-element' });
  });

  it('signed by the OAM (RESTCONF, 204): accepted for that H(e)NB only; its next appraisal affirms', async () => {
    await rest.provideReferenceValues(await signReferenceValues(statement(), oamKey), signal());
    expect(pve.providedReferenceValues('updated-1')).toEqual({ rootfs: [NEW_ROOTFS] });
    expect(await verdict('updated-1')).toBe('affirming');
    // another H(e)NB running the same image is not vouched for by this statement
    expect(await verdict('updated-2')).toBe('contraindicated');
  });

  it('signed by the OAM (NETCONF, ok): accepted', async () => {
    await nc.provideReferenceValues(await signReferenceValues(statement({ sub: 'updated-2', 'job-id': 'job-2' }), oamKey), signal());
    expect(await verdict('updated-2')).toBe('affirming');
  });

  it('repeated: the current statement again is answered as accepted and changes nothing, over either transport (a retry after a lost answer)', async () => {
    const jws = await signReferenceValues(statement({ 'job-id': 'job-3' }), oamKey);
    await rest.provideReferenceValues(jws, signal());
    const before = await recorded('updated-1');
    await rest.provideReferenceValues(jws, signal());
    await nc.provideReferenceValues(jws, signal());
    expect(await recorded('updated-1')).toEqual(before);
    expect(pve.providedReferenceValues('updated-1')).toEqual({ rootfs: [NEW_ROOTFS] });
  });

  it('replayed: a statement accepted before and since superseded is refused, over either transport', async () => {
    const first = await signReferenceValues(statement({ 'job-id': 'job-3a' }), oamKey);
    await rest.provideReferenceValues(first, signal());
    await rest.provideReferenceValues(await signReferenceValues(statement({ 'job-id': 'job-3b' }), oamKey), signal());
    expect(await refusal(rest.provideReferenceValues(first, signal()))).toMatchObject({ appTag: 'reference-values-replayed' });
    expect(await refusal(nc.provideReferenceValues(first, signal()))).toMatchObject({ appTag: 'reference-values-replayed' });
    expect((await recorded('updated-1'))?.jobId).toBe('job-3b');
  });

  it('a repeat of the current statement of another H(e)NB is not a repeat for this one', async () => {
    // the jti of updated-2's current statement passes the replay cache; only its own H(e)NB's entry makes it a repeat
    const jws = await signReferenceValues(statement({ sub: 'updated-2', 'job-id': 'job-3c' }), oamKey);
    await nc.provideReferenceValues(jws, signal());
    expect((await recorded('updated-2'))?.jobId).toBe('job-3c');
    await nc.provideReferenceValues(jws, signal());
    expect((await recorded('updated-1'))?.jobId).not.toBe('job-3c');
  });

  it('stale: a statement older than the one accepted last for the H(e)NB is refused (it would undo a newer update)', async () => {
    const older = await signReferenceValues(statement({ 'job-id': 'job-old', 'reference-values': [{ component: 'rootfs', digest: 'ee'.repeat(32) }] }), oamKey, { now: () => Date.now() / 1000 - 60 });
    const r = await refusal(rest.provideReferenceValues(older, signal()));
    expect(r).toMatchObject({ appTag: 'reference-values-stale' });
    expect(r.message).toMatch(/older than those accepted for updated-1/);
    expect(pve.providedReferenceValues('updated-1')).toEqual({ rootfs: [NEW_ROOTFS] });
  });

  it('kept across a PVE restart: still affirming, the last statement is still a repeat, an older one is refused', async () => {
    const older = await signReferenceValues(statement({ 'job-id': 'job-4a' }), oamKey, { now: () => Date.now() / 1000 + 2 });
    const jws = await signReferenceValues(statement({ 'job-id': 'job-4' }), oamKey, { now: () => Date.now() / 1000 + 3 });
    await rest.provideReferenceValues(older, signal());
    await rest.provideReferenceValues(jws, signal());
    const file = await readProvidedRecord(join(dir, 'pve', 'reference-values'));
    expect(file.henbs['updated-1']?.jobId).toBe('job-4');
    rest.close();
    await pve.close();
    pve = await startPveOn(join(dir, 'pve'));
    rest = createPveClient({ url: pve.url, ca: pve.ca });
    nc = createNetconfPveClient({ host: pve.netconf!.host, port: pve.netconf!.port, username: 'oam', password: 'pve-secret', hostKeySha256: pve.netconf!.hostKeySha256 });
    expect(await verdict('updated-1')).toBe('affirming');
    // the replay cache is empty after the restart: the stored record still knows which statement is current
    await rest.provideReferenceValues(jws, signal());
    expect((await recorded('updated-1'))?.jobId).toBe('job-4');
    expect(await refusal(rest.provideReferenceValues(older, signal()))).toMatchObject({ appTag: 'reference-values-stale' });
    expect((await recorded('updated-1'))?.jobId).toBe('job-4');
  });

  it('a PVE that trusts no OAM key refuses every statement, saying so', async () => {
    const bare = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve-bare'), devices: [entry(cells.get('updated-1')!)], referenceValues: factoryReferenceValues(), collector });
    const client = createPveClient({ url: bare.url, ca: bare.ca });
    try {
      const r = await refusal(client.provideReferenceValues(await signReferenceValues(statement(), oamKey), signal()));
      expect(r).toMatchObject({ appTag: 'reference-values-untrusted', httpStatus: 403 });
      expect(r.message).toMatch(/trusts no OAM key/);
      expect(bare.providedReferenceValues('updated-1')).toEqual({});
    } finally {
      client.close();
      await bare.close();
    }
  });
});
