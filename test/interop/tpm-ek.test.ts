/**
 * Interop (issue 10): EK certificate chains at enrolment and the AK's binding to the EK, with swtpm. The simulated
 * femtocell's swtpm is manufactured with an EK certificate by swtpm_setup --create-ek-cert and swtpm_localca (a
 * local CA standing in for the TPM vendor). The PVE, configured with that CA's root as manufacturer CA, enrols the
 * device (EK certificate -> issuer -> root, the certificate's key = the TPM's EK) and appraises it; with another
 * CA, without the intermediate, without the certificate, or with another TPM's EK it refuses to start, naming the
 * device. A credential our TypeScript TPM2_MakeCredential made for the EK and the AK's Name is recovered by the
 * TPM's own TPM2_ActivateCredential (tpm2-tools), and not for another Name: the AK lives in the TPM of that EK.
 * A missing swtpm, swtpm_setup or tpm2-tools fails (scripts/install-peers.sh installs them).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet, SimulatedDevice } from '../../src/simulator/simulator.js';
import { createPveClient, startPve } from '../../src/pve/index.js';
import type { PveDeviceEntry } from '../../src/pve/index.js';
import { makeCredential, parseAkPublic, parsePublic } from '../../src/integrity/tpm/index.js';
import { newNonce } from '../../src/tokens/index.js';
import { createTestPki } from '../helpers/tls-pki.js';

let dir: string;
let fleet: Fleet;
let dev: SimulatedDevice;
let root: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-tpm-ek-'));
  fleet = await startFleet({ fleet: [{ profile: 'healthy', count: 1, trustRoot: 'tpm' }], dataDir: join(dir, 'fleet'), tpmEkCa: join(dir, 'vendor-ca') });
  dev = fleet.devices[0]!;
  root = await readFile(join(dir, 'vendor-ca', 'swtpm-localca-rootca-cert.pem'), 'utf8');
}, 120_000);

afterAll(async () => {
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

async function enrol(entry: PveDeviceEntry, ekCa: string[], sub: string): Promise<{ earStatus?: string; error?: { code: string; message: string } }> {
  let pve;
  try {
    pve = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, sub), devices: [entry], referenceValues: fleet.referenceValues, ekCa });
  } catch (err) {
    return { error: { code: (err as { code: string }).code, message: (err as Error).message } };
  }
  const client = createPveClient({ url: pve.url, ca: pve.ca, timeoutMs: 20_000 });
  try {
    return { earStatus: (await client.integrityRequest({ henbId: entry.henbId, nonce: newNonce(), jobId: 'ek' }, new AbortController().signal)).earStatus };
  } finally {
    client.close();
    await pve.close();
  }
}

describe('EK certificate at enrolment (swtpm_setup --create-ek-cert, swtpm_localca)', () => {
  it('the device carries its EK certificate (from NV 0x01c00002), the issuer, and its EK', () => {
    expect(dev.ekCertificate).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(dev.ekIntermediates?.[0]).toContain('-----BEGIN CERTIFICATE-----');
    const ek = parsePublic(Buffer.from(dev.ekPublic!, 'base64'));
    expect(ek.ok && ek.value.type).toBe('rsa');
  });

  it('chains to the configured manufacturer CA: enrolled, appraised affirming', async () => {
    expect(await enrol({ ...dev }, [root], 'pve-ok')).toEqual({ earStatus: 'affirming' });
  });

  it('refused at start, naming the device: another CA, no intermediate, no certificate, another TPM\'s EK', async () => {
    const pki = createTestPki();
    try {
      const other = pki.issue('other-vendor', { cn: 'swtpm-localca-rootca', isCa: true }).cert;
      const cases: Array<[PveDeviceEntry, string[], string]> = [
        [{ ...dev }, [other], 'EK certificate refused: the EK certificate does not chain to a configured manufacturer CA (issuer CN=swtpm-localca-rootca)'],
        [{ ...dev, ekIntermediates: [] }, [root], 'does not chain to a configured manufacturer CA'],
        [(({ ekCertificate: _c, ...rest }) => rest)({ ...dev }), [root], 'an EK certificate is required'],
        [{ ...dev, ekPublic: parsePublicBase64Other() }, [root], 'for another key than the TPM\'s endorsement key'],
      ];
      for (const [i, [entry, ca, why]] of cases.entries()) {
        const r = await enrol(entry, ca, `pve-bad-${i}`);
        expect(r.error?.code).toBe('ERR_PVE_DEVICE_KEY');
        expect(r.error?.message).toContain(`device ${dev.henbId}: `);
        expect(r.error?.message).toContain(why);
      }
    } finally {
      pki.cleanup();
    }
  }, 60_000);
});

/** the fixture EK of another swtpm (test/integrity/tpm/fixtures/ek.pub), base64 */
function parsePublicBase64Other(): string {
  return readFileSync(new URL('../integrity/tpm/fixtures/ek.pub', import.meta.url)).toString('base64');
}

describe('the AK is bound to the EK: TPM2_MakeCredential (ours) / TPM2_ActivateCredential (the TPM)', () => {
  it('the TPM recovers the credential made for its EK and its AK\'s Name', async () => {
    const ek = parsePublic(Buffer.from(dev.ekPublic!, 'base64'));
    const ak = parseAkPublic(Buffer.from(dev.akPublic!, 'base64'));
    if (!ek.ok || !ak.ok) throw new Error('EK or AK does not parse');
    const credential = randomBytes(32);
    const made = makeCredential(ek.value, ak.value.name, credential);
    expect(await fleet.tpm(dev.henbId)!.activateCredential(made.credentialBlob, made.secret)).toEqual(credential);
  });

  it('a credential made for another AK Name is not released (the TPM\'s integrity check fails)', async () => {
    const ek = parsePublic(Buffer.from(dev.ekPublic!, 'base64'));
    if (!ek.ok) throw new Error(ek.reason);
    const otherName = Buffer.concat([Buffer.from('000b', 'hex'), randomBytes(32)]);
    const made = makeCredential(ek.value, otherName, randomBytes(32));
    await expect(fleet.tpm(dev.henbId)!.activateCredential(made.credentialBlob, made.secret)).rejects.toMatchObject({ code: 'ERR_TPM_COMMAND' });
    // and the TPM still works afterwards (sessions flushed)
    const again = makeCredential(ek.value, (() => { const a = parseAkPublic(Buffer.from(dev.akPublic!, 'base64')); if (!a.ok) throw new Error(a.reason); return a.value.name; })(), Buffer.from('ok'));
    expect((await fleet.tpm(dev.henbId)!.activateCredential(again.credentialBlob, again.secret)).toString()).toBe('ok');
  });

  it('the ECC P-256 EK (template L-2, tpm2_createek -G ecc): the TPM recovers our ECDH-seeded credential for its AK, not for another Name', async () => {
    const tpm = fleet.tpm(dev.henbId)!;
    const ek = parsePublic(await tpm.eccEkPublic());
    const ak = parseAkPublic(Buffer.from(dev.akPublic!, 'base64'));
    if (!ek.ok || !ak.ok) throw new Error('EK or AK does not parse');
    expect(ek.value).toMatchObject({ type: 'ecc', curve: 'P-256', symmetric: { keyBits: 128 } });
    const credential = randomBytes(32);
    const made = makeCredential(ek.value, ak.value.name, credential);
    expect(await tpm.activateCredential(made.credentialBlob, made.secret, 'ecc')).toEqual(credential);
    const other = makeCredential(ek.value, Buffer.concat([Buffer.from('000b', 'hex'), randomBytes(32)]), credential);
    await expect(tpm.activateCredential(other.credentialBlob, other.secret, 'ecc')).rejects.toMatchObject({ code: 'ERR_TPM_COMMAND' });
    // made for the ECC EK, it is not the RSA EK's
    await expect(tpm.activateCredential(made.credentialBlob, made.secret, 'rsa')).rejects.toMatchObject({ code: 'ERR_TPM_COMMAND' });
  }, 60_000);
});
