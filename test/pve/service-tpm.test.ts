/**
 * The reference PVE with TPM-rooted devices (trust root tpm, src/pve/service.ts): AK enrolment, step 3 with a
 * quote over the PVE's nonce, phase post-update with a quote over the completion statement, no downgrade to
 * software-key evidence, and the EAR `hardware` claim. Quotes are made in software here with an AK-shaped key
 * (test/helpers/tpm-structures.ts); the same paths against swtpm are in test/interop/tpm-nine-steps.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Femtocell, factoryReferenceValues } from '../../src/simulator/model.js';
import { completionQualifyingData, createPveClient, startPve } from '../../src/pve/index.js';
import type { EvidenceCollector, PveDeviceEntry, PveHandle, RestconfPveClient } from '../../src/pve/index.js';
import { EV, TPM_ALG, parsePublic } from '../../src/integrity/tpm/index.js';
import type { EventToWrite } from '../../src/integrity/tpm/index.js';
import { replayLog } from '../../src/integrity/index.js';
import { newNonce } from '../../src/tokens/nonce.js';
import type { EarClaims } from '../../src/tokens/types.js';
import { base64urlToBase64 } from '../../src/pve/restconf.js';
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
/** what each device answers: its TPM's quote, or (a downgrade) its software key's signature */
const answers = new Map<string, 'tpm' | 'software-key'>();

const collector: EvidenceCollector = {
  async collect(device, nonce) {
    const cell = cells.get(device.henbId)!;
    const log = cell.measurementLog();
    if (answers.get(device.henbId) === 'software-key') {
      const ev = cell.measure(nonce);
      return { format: 'software-key', tim: ev.tim, log: ev.log, signature: ev.signature, signatureAlgorithm: 'ES256' };
    }
    const q = softQuote(ak, nonce, events(log));
    return {
      format: 'tpm2-quote', tim: cell.tim(), log, signature: '', signatureAlgorithm: 'ES256',
      tpm: { quote: q.attest.toString('base64'), signature: q.signature.toString('base64'), eventLog: q.log.toString('base64'), certificateName: akName },
    };
  },
};

let dataDir: string;
let pve: PveHandle;
let client: RestconfPveClient;

function entry(id: string, over: Partial<PveDeviceEntry> = {}): PveDeviceEntry {
  return { henbId: id, host: '127.0.0.1', port: 1, username: 'u', devicePublicKey: cells.get(id)!.publicKeyPem(), ...over };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hsv-pve-tpm-'));
  for (const [id, profile] of [['healthy-tpm-1', 'healthy'], ['compromised-tpm-1', 'compromised'], ['downgrade-tpm-1', 'healthy'], ['healthy-1', 'healthy']] as const) {
    cells.set(id, new Femtocell({ henbId: id, profile }));
  }
  answers.set('downgrade-tpm-1', 'software-key');
  answers.set('healthy-1', 'software-key');
  const akPublic = ak.public.toString('base64');
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir, referenceValues: factoryReferenceValues(), collector,
    devices: [
      entry('healthy-tpm-1', { trustRoot: 'tpm', akPublic }), entry('compromised-tpm-1', { trustRoot: 'tpm', akPublic }),
      entry('downgrade-tpm-1', { trustRoot: 'tpm', akPublic }), entry('healthy-1'),
    ],
  });
  client = createPveClient({ url: pve.url, ca: pve.ca, timeoutMs: 10_000 });
});

afterAll(async () => {
  client?.close();
  await pve?.close();
  for (const c of cells.values()) c.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function claimsOf(token: string): Promise<EarClaims> {
  const { payload } = await jwtVerify(token, createLocalJWKSet(pve.jwks as never), { issuer: pve.issuer, audience: pve.audience as string, algorithms: ['ES256', 'EdDSA'] });
  return payload as unknown as EarClaims;
}

describe('AK enrolment', () => {
  it('trust root tpm without an AK, or with a key that is not an attestation key, is refused at start naming the device', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-pve-tpm-bad-'));
    try {
      await expect(startPve({ listen: '127.0.0.1:0', dataDir: dir, referenceValues: {}, collector, devices: [entry('healthy-1', { trustRoot: 'tpm' })] }))
        .rejects.toMatchObject({ code: 'ERR_PVE_DEVICE_KEY', message: expect.stringContaining('healthy-1: trust root tpm needs akPublic') });
      const notAk = makeAk('ecc', { attributes: 0x00060072 & ~0x10000 }).public.toString('base64');
      await expect(startPve({ listen: '127.0.0.1:0', dataDir: dir, referenceValues: {}, collector, devices: [entry('healthy-1', { akPublic: notAk })] }))
        .rejects.toMatchObject({ code: 'ERR_PVE_DEVICE_KEY', message: expect.stringContaining('akPublic is not an attestation key') });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('step 3 (pre-update) with a TPM quote', () => {
  it('a healthy TPM device is affirming; the token says tpm2-quote and hardware 2, and its TIM is the quoted PCR chain', async () => {
    const nonce = newNonce();
    const r = await client.integrityRequest({ henbId: 'healthy-tpm-1', nonce, jobId: 'j1' }, new AbortController().signal);
    expect(r.earStatus).toBe('affirming');
    const sub = (await claimsOf(r.token)).submods.platform!;
    expect(sub).toMatchObject({ ear_status: 'affirming', 'evidence-format': 'tpm2-quote', ear_trustworthiness_vector: { hardware: 2 }, 'reported-tim': cells.get('healthy-tpm-1')!.tim() });
    expect(sub['measurement-log']).toEqual(cells.get('healthy-tpm-1')!.measurementLog());
  });

  it('a compromised TPM device: genuine hardware (2), contraindicated naming the kernel', async () => {
    const r = await client.integrityRequest({ henbId: 'compromised-tpm-1', nonce: newNonce(), jobId: 'j2' }, new AbortController().signal);
    expect(r.earStatus).toBe('contraindicated');
    expect(r.reason).toBe('component kernel is not a reference value');
    expect((await claimsOf(r.token)).submods.platform).toMatchObject({ ear_trustworthiness_vector: { hardware: 2 }, 'first-mismatch': 'kernel' });
  });

  it('a TPM-enrolled device answering with its software key is refused (no downgrade)', async () => {
    const r = await client.integrityRequest({ henbId: 'downgrade-tpm-1', nonce: newNonce(), jobId: 'j2' }, new AbortController().signal);
    expect(r.earStatus).toBe('contraindicated');
    expect(r.reason).toBe('evidence-invalid: downgrade-tpm-1 is enrolled with a TPM attestation key but answered with software-key evidence');
  });

  it('a software-key device keeps its path: no hardware claim, evidence-format software-key', async () => {
    const r = await client.integrityRequest({ henbId: 'healthy-1', nonce: newNonce(), jobId: 'j2' }, new AbortController().signal);
    expect(r.earStatus).toBe('affirming');
    const sub = (await claimsOf(r.token)).submods.platform!;
    expect(sub['evidence-format']).toBe('software-key');
    expect(sub.ear_trustworthiness_vector).toBeUndefined();
  });
});

describe('phase post-update with a TPM quote over the completion', () => {
  const cell = (): Femtocell => cells.get('healthy-tpm-1')!;
  function completion(nonceText: string, jobId: string, henbId = 'healthy-tpm-1') {
    const log = [...cell().measurementLog(), { component: 'rootfs', digest: 'ab'.repeat(32) }];
    const tim = replayLog(null, log);
    const nonce = Buffer.from(base64urlToBase64(nonceText), 'base64');
    const q = softQuote(ak, completionQualifyingData({ henbId, jobId, nonce, status: 'completed', selfCheck: 'passed', softwareVersion: '2.0.0', tim, log }), events(log));
    return {
      status: 'completed', selfCheck: 'passed', softwareVersion: '2.0.0', tim, measurementLog: log,
      evidence: { format: 'tpm2-quote' as const, nonce: nonceText, signatureAlgorithm: 'ES256', keyId: akName, signature: q.signature.toString('base64'), quote: q.attest.toString('base64'), eventLog: q.log.toString('base64') },
    };
  }

  it('the quote of this completion is affirming with hardware 2', async () => {
    const nonce = newNonce();
    const r = await client.integrityRequest({ henbId: 'healthy-tpm-1', nonce, jobId: 'job-7', completion: completion(nonce, 'job-7') }, new AbortController().signal);
    expect(r.earStatus).toBe('affirming');
    expect((await claimsOf(r.token)).submods.completion).toMatchObject({ 'evidence-format': 'tpm2-quote', ear_trustworthiness_vector: { hardware: 2 }, phase: 'post-update' });
  });

  it('the same quote relayed for another job is refused: not over this completion', async () => {
    const nonce = newNonce();
    const r = await client.integrityRequest({ henbId: 'healthy-tpm-1', nonce, jobId: 'job-8', completion: completion(nonce, 'job-7') }, new AbortController().signal);
    expect(r.earStatus).toBe('contraindicated');
    expect(r.reason).toMatch(/^evidence-invalid: the quote is not over this completion/);
  });

  it('a software-key completion from a TPM-enrolled device is refused; a tpm2-quote one from a software-key device too', async () => {
    const nonce = newNonce();
    const c = completion(nonce, 'job-9');
    const soft = { ...c, evidence: { format: 'software-key' as const, nonce, signatureAlgorithm: 'ES256', signature: 'AAAA' } };
    const a = await client.integrityRequest({ henbId: 'healthy-tpm-1', nonce, jobId: 'job-9', completion: soft }, new AbortController().signal);
    expect(a.reason).toBe('evidence-invalid: healthy-tpm-1 is enrolled with a TPM attestation key; software-key evidence is not accepted from it');
    const b = await client.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'job-9', completion: completion(nonce, 'job-9', 'healthy-1') }, new AbortController().signal);
    expect(b.reason).toBe('evidence-invalid: healthy-1 has no enrolled TPM attestation key (its trust root is software-key)');
  });
});
