/**
 * The PVE's credential challenge at first contact (src/pve/ak-binding.ts): a TPM device enrolled with its EK must
 * recover a TPM2_MakeCredential secret made for that EK and the enrolled AK's Name before any of its evidence is
 * affirmed. The device's TPM is played in software here (test/helpers/tpm-structures.ts activateSoft with the EK's
 * private key: the TPM's side of TPM2_ActivateCredential per Part 1, 24); swtpm answering it through the simulator's
 * activate-credential RPC: test/interop/tpm-activate.test.ts. The NETCONF collector against a software-key
 * simulated device (no TPM: operation-not-supported) is at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Femtocell, factoryReferenceValues } from '../../src/simulator/model.js';
import { startFleet } from '../../src/simulator/simulator.js';
import { completionQualifyingData, createPveClient, netconfEvidenceCollector, startPve } from '../../src/pve/index.js';
import type { CredentialAnswer, EvidenceCollector, PveDeviceEntry, PveHandle, RestconfPveClient } from '../../src/pve/index.js';
import { EV, TPM_ALG, parsePublic } from '../../src/integrity/tpm/index.js';
import type { EventToWrite } from '../../src/integrity/tpm/index.js';
import { replayLog } from '../../src/integrity/index.js';
import { newNonce } from '../../src/tokens/nonce.js';
import type { EarClaims } from '../../src/tokens/types.js';
import { base64urlToBase64 } from '../../src/pve/restconf.js';
import { silentLogger } from '../../src/log/logger.js';
import { activateSoft, makeAk, makeEccEk, makeEk, softQuote } from '../helpers/tpm-structures.js';
import type { SoftEk } from '../helpers/tpm-structures.js';

const ak = makeAk('ecc');
const akName = (() => {
  const p = parsePublic(ak.public);
  if (!p.ok) throw new Error(p.reason);
  return p.value.name;
})();
const events = (log: Array<{ component: string; digest: string }>): EventToWrite[] =>
  log.map((e) => ({ pcr: 9, type: EV.IPL, digests: new Map([[TPM_ALG.SHA256, Buffer.from(e.digest, 'hex')]]), data: Buffer.from(e.component) }));

/** each device's TPM: the EK its activation uses (the AK is always `ak`, loaded in that TPM) */
const tpmEk = new Map<string, SoftEk>();
/** what each device does with a challenge besides activating it honestly */
const behaviour = new Map<string, 'honest' | 'wrong-secret' | 'other-name' | 'unreachable' | 'no-tpm'>();
const challenges = new Map<string, number>();
/** which EK each device was told the credential is for */
const endorsementKeys = new Map<string, 'rsa' | 'ecc'>();
const cell = new Femtocell({ henbId: 'model', profile: 'healthy' });

const collector: EvidenceCollector = {
  async collect(_device, nonce) {
    const log = cell.measurementLog();
    const q = softQuote(ak, nonce, events(log));
    return {
      format: 'tpm2-quote', tim: cell.tim(), log, signature: '', signatureAlgorithm: 'ES256',
      tpm: { quote: q.attest.toString('base64'), signature: q.signature.toString('base64'), eventLog: q.log.toString('base64'), certificateName: akName.toString('hex') },
    };
  },
  async activateCredential(device, challenge): Promise<CredentialAnswer> {
    challenges.set(device.henbId, (challenges.get(device.henbId) ?? 0) + 1);
    endorsementKeys.set(device.henbId, challenge.endorsementKey ?? 'rsa');
    await new Promise((r) => setTimeout(r, 20));
    const how = behaviour.get(device.henbId) ?? 'honest';
    if (how === 'unreachable') throw Object.assign(new Error('connection refused'), { code: 'ERR_DEVICE_UNREACHABLE' });
    if (how === 'no-tpm') return { refused: 'the device answered activate-credential with operation-not-supported (no-tpm)' };
    try {
      const secret = activateSoft(tpmEk.get(device.henbId)!.privateKey, akName, challenge.credentialBlob, challenge.secret);
      if (how === 'wrong-secret') return { secret: Buffer.alloc(secret.length, 1) };
      if (how === 'other-name') return { secret, certificateName: '000b' + '11'.repeat(32) };
      return { secret, certificateName: akName.toString('hex') };
    } catch {
      return { refused: 'the device answered activate-credential with operation-failed (credential-refused)' };
    }
  },
};

let dataDir: string;
let pve: PveHandle;
let client: RestconfPveClient;
const enrolledEk = makeEk();
const otherTpmEk = makeEk();
const eccEk = makeEccEk();

function entry(id: string, over: Partial<PveDeviceEntry> = {}): PveDeviceEntry {
  return {
    henbId: id, host: '127.0.0.1', port: 1, username: 'u', devicePublicKey: cell.publicKeyPem(), trustRoot: 'tpm',
    akPublic: ak.public.toString('base64'), ekPublic: enrolledEk.public.toString('base64'), ...over,
  };
}

const IDS = ['bound', 'other-tpm', 'wrong-secret', 'other-name', 'no-tpm', 'unreachable', 'concurrent', 'no-ek', 'no-activate', 'ecc-ek'] as const;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hsv-ak-binding-'));
  for (const id of IDS) tpmEk.set(id, enrolledEk);
  // the AK lives in another TPM than the one whose EK was enrolled: that TPM cannot decrypt the seed
  tpmEk.set('other-tpm', otherTpmEk);
  tpmEk.set('ecc-ek', eccEk);
  behaviour.set('wrong-secret', 'wrong-secret');
  behaviour.set('other-name', 'other-name');
  behaviour.set('no-tpm', 'no-tpm');
  behaviour.set('unreachable', 'unreachable');
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir, referenceValues: factoryReferenceValues(), collector,
    devices: IDS.filter((id) => id !== 'no-ek' && id !== 'ecc-ek').map((id) => entry(id))
      .concat([(({ ekPublic: _e, ...rest }) => rest)(entry('no-ek')), entry('ecc-ek', { ekPublic: eccEk.public.toString('base64') })]),
  });
  client = createPveClient({ url: pve.url, ca: pve.ca, timeoutMs: 10_000 });
});

afterAll(async () => {
  client?.close();
  await pve?.close();
  cell.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function claimsOf(token: string): Promise<EarClaims> {
  const { payload } = await jwtVerify(token, createLocalJWKSet(pve.jwks as never), { issuer: pve.issuer, audience: pve.audience as string, algorithms: ['ES256', 'EdDSA'] });
  return payload as unknown as EarClaims;
}

const ask = (henbId: string) => client.integrityRequest({ henbId, nonce: newNonce(), jobId: 'j' }, new AbortController().signal);
const PREFIX = 'evidence-invalid: the attestation key failed the credential challenge (TPM2_ActivateCredential for the enrolled EK and AK): ';

describe('the AK credential challenge at first contact', () => {
  it('an AK in the TPM of the enrolled EK passes once: affirming, and the next request is not challenged again', async () => {
    const r = await ask('bound');
    expect(r.earStatus).toBe('affirming');
    expect(challenges.get('bound')).toBe(1);
    expect((await ask('bound')).earStatus).toBe('affirming');
    expect(challenges.get('bound')).toBe(1);
  });

  it('an ECC P-256 EK: the credential is made with an ephemeral ECDH point and named endorsement-key ecc; the device passes', async () => {
    expect((await ask('ecc-ek')).earStatus).toBe('affirming');
    expect(endorsementKeys.get('ecc-ek')).toBe('ecc');
    expect(endorsementKeys.get('bound')).toBe('rsa');
  });

  it('an AK from another TPM than the enrolled EK\'s: contraindicated, hardware 97, no measurement log; challenged again next time', async () => {
    const r = await ask('other-tpm');
    expect(r.earStatus).toBe('contraindicated');
    expect(r.reason).toBe(`${PREFIX}the device answered activate-credential with operation-failed (credential-refused)`);
    const sub = (await claimsOf(r.token)).submods.platform!;
    expect(sub).toMatchObject({ ear_status: 'contraindicated', 'evidence-format': 'tpm2-quote', ear_trustworthiness_vector: { hardware: 97 } });
    expect(sub['measurement-log']).toBeUndefined();
    expect((await ask('other-tpm')).earStatus).toBe('contraindicated');
    expect(challenges.get('other-tpm')).toBe(2);
  });

  it.each([
    ['wrong-secret', 'the device answered with another secret than the credential'],
    ['other-name', 'the device activated it with another attestation key than the one enrolled'],
    ['no-tpm', 'the device answered activate-credential with operation-not-supported (no-tpm)'],
  ])('%s: contraindicated with the reason', async (id, why) => {
    const r = await ask(id);
    expect(r.earStatus).toBe('contraindicated');
    expect(r.reason).toBe(PREFIX + why);
  });

  it('a device not reached during the challenge: henb-unreachable (as a failed collection), nothing remembered', async () => {
    await expect(ask('unreachable')).rejects.toMatchObject({ code: 'ERR_PVE_REJECTED', message: expect.stringContaining('cannot challenge the attestation key of unreachable') });
    behaviour.set('unreachable', 'honest');
    expect((await ask('unreachable')).earStatus).toBe('affirming');
    expect(challenges.get('unreachable')).toBe(2);
  });

  it('concurrent first requests share one challenge', async () => {
    const rs = await Promise.all([ask('concurrent'), ask('concurrent'), ask('concurrent')]);
    expect(rs.map((r) => r.earStatus)).toEqual(['affirming', 'affirming', 'affirming']);
    expect(challenges.get('concurrent')).toBe(1);
  });

  it('a TPM device enrolled without an EK is not challenged (its AK is trusted as enrolled)', async () => {
    expect((await ask('no-ek')).earStatus).toBe('affirming');
    expect(challenges.get('no-ek')).toBeUndefined();
  });

  it('post-update on a PVE that has not challenged the device yet: challenged before the completion is appraised', async () => {
    const log = [...cell.measurementLog(), { component: 'rootfs', digest: 'ab'.repeat(32) }];
    const tim = replayLog(null, log);
    const completion = (nonceText: string, henbId: string) => {
      const nonce = Buffer.from(base64urlToBase64(nonceText), 'base64');
      const q = softQuote(ak, completionQualifyingData({ henbId, jobId: 'job-1', nonce, status: 'completed', selfCheck: 'passed', softwareVersion: '2.0.0', tim, log }), events(log));
      return {
        status: 'completed', selfCheck: 'passed', softwareVersion: '2.0.0', tim, measurementLog: log,
        evidence: { format: 'tpm2-quote' as const, nonce: nonceText, signatureAlgorithm: 'ES256', keyId: akName.toString('hex'), signature: q.signature.toString('base64'), quote: q.attest.toString('base64'), eventLog: q.log.toString('base64') },
      };
    };
    const dir = await mkdtemp(join(tmpdir(), 'hsv-ak-binding-post-'));
    challenges.clear();
    const fresh = await startPve({ listen: '127.0.0.1:0', dataDir: dir, referenceValues: factoryReferenceValues(), collector, devices: [entry('bound'), entry('other-tpm')] });
    const c = createPveClient({ url: fresh.url, ca: fresh.ca, timeoutMs: 10_000 });
    try {
      const n1 = newNonce();
      const ok = await c.integrityRequest({ henbId: 'bound', nonce: n1, jobId: 'job-1', completion: completion(n1, 'bound') }, new AbortController().signal);
      expect(ok.earStatus).toBe('affirming');
      expect(challenges.get('bound')).toBe(1);
      const n2 = newNonce();
      const bad = await c.integrityRequest({ henbId: 'other-tpm', nonce: n2, jobId: 'job-1', completion: completion(n2, 'other-tpm') }, new AbortController().signal);
      expect(bad).toMatchObject({ earStatus: 'contraindicated', reason: `${PREFIX}the device answered activate-credential with operation-failed (credential-refused)` });
    } finally {
      c.close();
      await fresh.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('relayed evidence (issue 15, pve.evidence relay): the AK is challenged over the PVE\'s own session at first contact only, nothing is collected', async () => {
    const relayed = (nonceText: string) => {
      const log = cell.measurementLog();
      const q = softQuote(ak, Buffer.from(base64urlToBase64(nonceText), 'base64'), events(log));
      return {
        format: 'tpm2-quote' as const, tim: cell.tim(), measurementLog: log, signature: '', signatureAlgorithm: 'ES256',
        tpm: { quote: q.attest.toString('base64'), signature: q.signature.toString('base64'), eventLog: q.log.toString('base64'), certificateName: akName.toString('hex') },
      };
    };
    const dir = await mkdtemp(join(tmpdir(), 'hsv-ak-binding-relay-'));
    challenges.clear();
    let collected = 0;
    const counting: EvidenceCollector = {
      collect: async (...a) => { collected++; return collector.collect(...a); },
      activateCredential: collector.activateCredential!.bind(collector),
    };
    const fresh = await startPve({ listen: '127.0.0.1:0', dataDir: dir, referenceValues: factoryReferenceValues(), collector: counting, devices: [entry('bound'), entry('other-tpm')] });
    const c = createPveClient({ url: fresh.url, ca: fresh.ca, timeoutMs: 10_000 });
    try {
      for (let i = 0; i < 2; i++) {
        const n = newNonce();
        const r = await c.integrityRequest({ henbId: 'bound', nonce: n, jobId: 'j', evidence: relayed(n) }, new AbortController().signal);
        expect(r.earStatus).toBe('affirming');
      }
      expect(challenges.get('bound')).toBe(1); // first contact only
      const n = newNonce();
      const bad = await c.integrityRequest({ henbId: 'other-tpm', nonce: n, jobId: 'j', evidence: relayed(n) }, new AbortController().signal);
      expect(bad).toMatchObject({ earStatus: 'contraindicated', reason: `${PREFIX}the device answered activate-credential with operation-failed (credential-refused)` });
      const { payload } = await jwtVerify(bad.token, createLocalJWKSet(fresh.jwks as never), { issuer: fresh.issuer, audience: fresh.audience as string });
      expect((payload as unknown as EarClaims).submods.platform).toMatchObject({ ear_trustworthiness_vector: { hardware: 97 } });
      expect(collected).toBe(0);
    } finally {
      c.close();
      await fresh.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a collector that cannot send activate-credential: such a device is refused, not trusted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-ak-binding-noact-'));
    const bare: EvidenceCollector = { collect: collector.collect.bind(collector) };
    const p = await startPve({ listen: '127.0.0.1:0', dataDir: dir, referenceValues: factoryReferenceValues(), collector: bare, devices: [entry('no-activate')] });
    const c = createPveClient({ url: p.url, ca: p.ca, timeoutMs: 10_000 });
    try {
      const r = await c.integrityRequest({ henbId: 'no-activate', nonce: newNonce(), jobId: 'j' }, new AbortController().signal);
      expect(r).toMatchObject({ earStatus: 'contraindicated', reason: `${PREFIX}the PVE's evidence collector cannot send activate-credential` });
    } finally {
      c.close();
      await p.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an EK MakeCredential cannot use is refused at enrolment (ERR_PVE_DEVICE_KEY naming the device)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-ak-binding-ecc-'));
    try {
      // a signing key (no symmetric definition) is no endorsement key
      await expect(startPve({ listen: '127.0.0.1:0', dataDir: dir, referenceValues: {}, collector, devices: [entry('ak-as-ek', { ekPublic: makeAk('ecc').public.toString('base64') })] }))
        .rejects.toMatchObject({ code: 'ERR_PVE_DEVICE_KEY', message: expect.stringContaining('device ak-as-ek: the AK cannot be challenged for this EK') });
      await expect(startPve({ listen: '127.0.0.1:0', dataDir: dir, referenceValues: {}, collector, devices: [entry('bad-cert', { ekPublic: undefined, ekCertificate: 'AAAA' })] }))
        .rejects.toMatchObject({ code: 'ERR_PVE_DEVICE_KEY', message: expect.stringContaining('device bad-cert: ekCertificate is not an X.509 certificate') });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the NETCONF collector\'s activate-credential against a simulated device without a TPM', () => {
  it('the device\'s rpc-error is its answer (operation-not-supported, no-tpm), not an exception', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-ak-binding-sim-'));
    const fleet = await startFleet({ fleet: [{ profile: 'healthy', count: 1 }], dataDir: dir });
    try {
      const d = fleet.devices[0]!;
      const nc = netconfEvidenceCollector({ timeoutMs: 10_000, log: silentLogger });
      const made = { credentialBlob: Buffer.from('00020102', 'hex'), secret: Buffer.from('00020304', 'hex') };
      const a = await nc.activateCredential!({ ...d }, made, new AbortController().signal);
      expect(a).toEqual({ refused: 'the device answered activate-credential with operation-not-supported (no-tpm): this device has no TPM (trust root software-key)' });
    } finally {
      await fleet.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
