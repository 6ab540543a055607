/**
 * Relayed evidence (issue 15: the background-check model for step 3, henb-sw-verify-pve 2026-12-04 integrity-request
 * input/evidence): the requester collected integrity-measurement's reply with its nonce-value; the PVE appraises it as
 * if collected (the same appraisal and claims), collects nothing itself, and refuses a nonce it has appraised already
 * for that H(e)NB. Over RESTCONF and the NETCONF endpoint; TPM quotes made in software (test/helpers/tpm-structures.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Femtocell, factoryReferenceValues } from '../../src/simulator/model.js';
import { createNetconfPveClient, createPveClient, startPve } from '../../src/pve/index.js';
import type { EvidenceCollector, NetconfPveClient, PveDeviceEntry, PveHandle, RestconfPveClient } from '../../src/pve/index.js';
import type { PreUpdateEvidence } from '../../src/oam/index.js';
import { EV, TPM_ALG, parsePublic } from '../../src/integrity/tpm/index.js';
import type { EventToWrite } from '../../src/integrity/tpm/index.js';
import { newNonce } from '../../src/tokens/nonce.js';
import type { EarClaims } from '../../src/tokens/types.js';
import { INTEGRITY_REQUEST_PATH, base64urlToBase64 } from '../../src/pve/restconf.js';
import { relayedEvidenceJson } from '../../src/pve/client.js';
import { makeAk, softQuote } from '../helpers/tpm-structures.js';

const ak = makeAk('ecc');
const akName = (() => {
  const p = parsePublic(ak.public);
  if (!p.ok) throw new Error(p.reason);
  return p.value.name.toString('hex');
})();
const events = (log: Array<{ component: string; digest: string }>): EventToWrite[] =>
  log.map((e) => ({ pcr: 9, type: EV.IPL, digests: new Map([[TPM_ALG.SHA256, Buffer.from(e.digest, 'hex')]]), data: Buffer.from(e.component) }));

const cells = new Map<string, Femtocell>();
let collected = 0;
/** the PVE must collect nothing for relayed evidence: every collection is counted */
const collector: EvidenceCollector = {
  async collect(device, nonce) {
    collected++;
    const ev = cells.get(device.henbId)!.measure(nonce);
    return { tim: ev.tim, log: ev.log, signature: ev.signature, signatureAlgorithm: 'ES256' };
  },
};

let dataDir: string;
let pve: PveHandle;
let client: RestconfPveClient;
let nc: NetconfPveClient;

function entry(id: string, over: Partial<PveDeviceEntry> = {}): PveDeviceEntry {
  return { henbId: id, host: '127.0.0.1', port: 1, username: 'u', devicePublicKey: cells.get(id)!.publicKeyPem(), ...over };
}

/** what integrity-measurement answers to `nonce` (software-key), as the OAM relays it */
function softwareEvidence(id: string, nonce: string): PreUpdateEvidence {
  const cell = cells.get(id)!;
  const ev = cell.measure(Buffer.from(nonce, 'base64url'));
  return { format: 'software-key', tim: ev.tim, measurementLog: ev.log, signature: ev.signature, signatureAlgorithm: 'ES256', keyId: cell.keyId(), softwareVersion: '1.0.0' };
}

function tpmEvidence(id: string, nonce: string): PreUpdateEvidence {
  const cell = cells.get(id)!;
  const log = cell.measurementLog();
  const q = softQuote(ak, Buffer.from(nonce, 'base64url'), events(log));
  return {
    format: 'tpm2-quote', tim: cell.tim(), measurementLog: log, signature: '', signatureAlgorithm: 'ES256',
    tpm: { certificateName: akName, quote: q.attest.toString('base64'), signature: q.signature.toString('base64'), eventLog: q.log.toString('base64') },
  };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hsv-pve-relay-'));
  for (const [id, profile] of [['healthy-1', 'healthy'], ['compromised-1', 'compromised'], ['forged-1', 'healthy'], ['healthy-tpm-1', 'healthy'], ['stranger', 'healthy']] as const) {
    cells.set(id, new Femtocell({ henbId: id, profile }));
  }
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir, referenceValues: factoryReferenceValues(), collector,
    devices: [
      entry('healthy-1'), entry('compromised-1'), entry('forged-1', { devicePublicKey: cells.get('stranger')!.publicKeyPem() }),
      entry('healthy-tpm-1', { trustRoot: 'tpm', akPublic: ak.public.toString('base64') }),
    ],
    netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', password: 'pve-secret' }] },
  });
  client = createPveClient({ url: pve.url, ca: pve.ca, timeoutMs: 10_000 });
  nc = createNetconfPveClient({ host: pve.netconf!.host, port: pve.netconf!.port, username: 'oam', password: 'pve-secret', hostKeySha256: pve.netconf!.hostKeySha256 });
});

afterAll(async () => {
  client?.close();
  nc?.close();
  await pve?.close();
  for (const c of cells.values()) c.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function claimsOf(token: string): Promise<EarClaims> {
  const { payload } = await jwtVerify(token, createLocalJWKSet(pve.jwks as never), { issuer: pve.issuer, audience: pve.audience as string });
  return payload as unknown as EarClaims;
}

const signal = (): AbortSignal => new AbortController().signal;

describe('PVE: relayed pre-update evidence (background-check model)', () => {
  it('valid software-key evidence over the requester nonce: affirming, the same claims as collected, nothing collected', async () => {
    const before = collected;
    const nonce = newNonce();
    const r = await client.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'job-r1', evidence: softwareEvidence('healthy-1', nonce) }, signal());
    expect(r.earStatus).toBe('affirming');
    const c = await claimsOf(r.token);
    expect(c).toMatchObject({ sub: 'healthy-1', ear_status: 'affirming', eat_nonce: nonce });
    expect(c.submods.platform).toMatchObject({
      ear_status: 'affirming', 'job-id': 'job-r1', phase: 'pre-update', 'evidence-format': 'software-key',
      'reported-tim': cells.get('healthy-1')!.tim(), 'software-version': '1.0.0',
    });
    // the same submodule a collection gives (what the OAM reads: reported TIM, log, components)
    const collectedToken = await client.integrityRequest({ henbId: 'healthy-1', nonce: newNonce(), jobId: 'job-r1' }, signal());
    const cc = await claimsOf(collectedToken.token);
    expect(c.submods.platform?.['measurement-log']).toEqual(cc.submods.platform?.['measurement-log']);
    expect(c.submods.platform?.components).toEqual(cc.submods.platform?.components);
    expect(collected).toBe(before + 1); // the collection of the comparison only
  });

  it('the same over the NETCONF endpoint', async () => {
    const nonce = newNonce();
    const r = await nc.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'job-r2', evidence: softwareEvidence('healthy-1', nonce) }, signal());
    expect(r.earStatus).toBe('affirming');
    expect((await claimsOf(r.token)).submods.platform).toMatchObject({ 'job-id': 'job-r2', phase: 'pre-update' });
  });

  it('a forged signature (not the enrolled key), or signature octets changed: contraindicated, never affirming', async () => {
    const n1 = newNonce();
    const forged = await client.integrityRequest({ henbId: 'forged-1', nonce: n1, jobId: 'j', evidence: softwareEvidence('forged-1', n1) }, signal());
    expect(forged.earStatus).toBe('contraindicated');
    expect((await claimsOf(forged.token)).submods.platform?.reason).toMatch(/evidence-invalid: the device signature did not verify/);
    const n2 = newNonce();
    const ev = softwareEvidence('healthy-1', n2);
    const sig = Buffer.from(ev.signature, 'base64');
    sig[5] = sig[5]! ^ 0xff;
    const r = await nc.integrityRequest({ henbId: 'healthy-1', nonce: n2, jobId: 'j', evidence: { ...ev, signature: sig.toString('base64') } }, signal());
    expect(r.earStatus).toBe('contraindicated');
    // a changed TIM with the old signature: the signature covers the TIM
    const n3 = newNonce();
    const ev3 = softwareEvidence('healthy-1', n3);
    const r3 = await client.integrityRequest({ henbId: 'healthy-1', nonce: n3, jobId: 'j', evidence: { ...ev3, tim: 'ab'.repeat(32) } }, signal());
    expect(r3.earStatus).toBe('contraindicated');
  });

  it('evidence signed over another nonce than nonce-value: contraindicated', async () => {
    const r = await client.integrityRequest({ henbId: 'healthy-1', nonce: newNonce(), jobId: 'j', evidence: softwareEvidence('healthy-1', newNonce()) }, signal());
    expect(r.earStatus).toBe('contraindicated');
    expect((await claimsOf(r.token)).submods.platform?.reason).toMatch(/evidence-invalid/);
  });

  it('a compromised H(e)NB: contraindicated with the component, as collected', async () => {
    const nonce = newNonce();
    const r = await client.integrityRequest({ henbId: 'compromised-1', nonce, jobId: 'j', evidence: softwareEvidence('compromised-1', nonce) }, signal());
    expect(r.earStatus).toBe('contraindicated');
    expect((await claimsOf(r.token)).submods.platform?.['first-mismatch']).toBe('kernel');
  });

  it('a replayed nonce is refused (nonce-reused) on both transports; the same request again from the same client gets the first result; another H(e)NB may use it', async () => {
    const nonce = newNonce();
    const ev = softwareEvidence('healthy-1', nonce);
    const first = await client.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'j', evidence: ev }, signal());
    expect(first.earStatus).toBe('affirming');
    // a retry after a lost answer (same client, nonce and body): the first one's signed result, not a refusal
    await expect(client.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'j', evidence: ev }, signal())).resolves.toEqual(first);
    // the same nonce with another body: a replay
    await expect(client.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'j2', evidence: ev }, signal()))
      .rejects.toMatchObject({ code: 'ERR_PVE_REJECTED', appTag: 'nonce-reused', errorTag: 'invalid-value' });
    // the same body from another client (the NETCONF endpoint's user): a replay
    await expect(nc.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'j', evidence: ev }, signal()))
      .rejects.toMatchObject({ code: 'ERR_PVE_REJECTED', appTag: 'nonce-reused' });
    const other = await client.integrityRequest({ henbId: 'compromised-1', nonce, jobId: 'j', evidence: softwareEvidence('compromised-1', nonce) }, signal());
    expect(other.earStatus).toBe('contraindicated'); // appraised: the nonce is fresh for that H(e)NB
  });

  it('a PVE restarted on the same data directory still refuses a nonce it appraised before (DATA_DIR/nonces/relayed.journal)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-pve-relay-restart-'));
    const start = (): ReturnType<typeof startPve> => startPve({ listen: '127.0.0.1:0', dataDir: dir, referenceValues: factoryReferenceValues(), collector, devices: [entry('healthy-1')] });
    try {
      const nonce = newNonce();
      const ev = softwareEvidence('healthy-1', nonce);
      const first = await start();
      const c1 = createPveClient({ url: first.url, ca: first.ca, timeoutMs: 10_000 });
      await expect(c1.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'j', evidence: ev }, signal())).resolves.toMatchObject({ earStatus: 'affirming' });
      c1.close();
      await first.close();
      const second = await start();
      const c2 = createPveClient({ url: second.url, ca: second.ca, timeoutMs: 10_000 });
      try {
        await expect(c2.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'j', evidence: ev }, signal()))
          .rejects.toMatchObject({ code: 'ERR_PVE_REJECTED', appTag: 'nonce-reused' });
        const fresh = newNonce();
        await expect(c2.integrityRequest({ henbId: 'healthy-1', nonce: fresh, jobId: 'j', evidence: softwareEvidence('healthy-1', fresh) }, signal())).resolves.toMatchObject({ earStatus: 'affirming' });
      } finally {
        c2.close();
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a TPM quote over nonce-value by the enrolled AK: affirming; over another nonce, or a software-key downgrade: contraindicated', async () => {
    const nonce = newNonce();
    const r = await client.integrityRequest({ henbId: 'healthy-tpm-1', nonce, jobId: 'jt', evidence: tpmEvidence('healthy-tpm-1', nonce) }, signal());
    expect(r.earStatus).toBe('affirming');
    expect((await claimsOf(r.token)).submods.platform).toMatchObject({ 'evidence-format': 'tpm2-quote', phase: 'pre-update' });
    const n2 = newNonce();
    const wrong = await nc.integrityRequest({ henbId: 'healthy-tpm-1', nonce: n2, jobId: 'jt', evidence: tpmEvidence('healthy-tpm-1', newNonce()) }, signal());
    expect(wrong.earStatus).toBe('contraindicated');
    const n3 = newNonce();
    const down = await client.integrityRequest({ henbId: 'healthy-tpm-1', nonce: n3, jobId: 'jt', evidence: softwareEvidence('healthy-tpm-1', n3) }, signal());
    expect(down.earStatus).toBe('contraindicated');
  });

  it('malformed evidence is refused with the leaf named; evidence with completion is refused; nothing remembered', async () => {
    const post = async (input: Record<string, unknown>): Promise<{ status: number; body: string }> => {
      const res = await fetchJson(input);
      return res;
    };
    const nonce = newNonce();
    const good = relayedEvidenceJson(softwareEvidence('healthy-1', nonce));
    const base = { 'henb-id': 'healthy-1', 'nonce-value': base64urlToBase64(nonce), 'job-id': 'j' };
    for (const [bad, path] of [
      [{ ...good, tim: 'XYZ' }, 'evidence/tim'],
      [{ ...good, signature: undefined }, 'evidence/signature'],
      [{ ...good, 'evidence-format': 'tpm2-quote', 'tpm2-quote': undefined }, 'evidence/tpm2-quote'],
      [{ ...good, extra: 1 }, 'evidence/extra'],
    ] as const) {
      const r = await post({ ...base, evidence: JSON.parse(JSON.stringify(bad)) });
      expect(r.status, r.body).toBe(400);
      expect(r.body).toContain(path);
    }
    const both = await post({ ...base, evidence: good, completion: { status: 'completed', tim: 'ab'.repeat(32), evidence: {} } });
    expect(both.status).toBe(400);
    // none of them used the nonce up
    const r = await client.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'j', evidence: softwareEvidence('healthy-1', nonce) }, signal());
    expect(r.earStatus).toBe('affirming');
  });
});

async function fetchJson(input: Record<string, unknown>): Promise<{ status: number; body: string }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const r = request(new URL(INTEGRITY_REQUEST_PATH, pve.url), { method: 'POST', ca: pve.ca, headers: { 'Content-Type': 'application/yang-data+json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    r.on('error', reject);
    r.end(JSON.stringify({ 'henb-sw-verify-pve:input': input }));
  });
}
