/**
 * The PVE's EK enrolment check (src/pve/enrol-ek.ts) with the swtpm_localca chain of the fixtures: with manufacturer
 * CAs configured, a TPM device needs its EK certificate, chaining to one of them, for its EK when given; each refusal
 * is ERR_PVE_DEVICE_KEY naming the device, and startPve refuses to start on it. Against swtpm:
 * test/interop/tpm-ek.test.ts.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkEk } from '../../src/pve/enrol-ek.js';
import { startPve } from '../../src/pve/index.js';
import type { PveDeviceEntry } from '../../src/pve/index.js';
import { makeAk } from '../helpers/tpm-structures.js';

const fx = (name: string): Buffer => readFileSync(new URL(`../integrity/tpm/fixtures/${name}`, import.meta.url));
const root = fx('ek-root-ca.pem').toString('utf8');
const issuer = fx('ek-issuer-ca.pem').toString('utf8');
const device: PveDeviceEntry = {
  henbId: 'femto-7', host: '127.0.0.1', port: 1, username: 'u', trustRoot: 'tpm', akPublic: makeAk('ecc').public.toString('base64'),
  devicePublicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  ekCertificate: fx('ek-cert.der').toString('base64'), ekIntermediates: [issuer], ekPublic: fx('ek.pub').toString('base64'),
};

describe('EK enrolment', () => {
  it('accepts the chain to the configured CA', () => {
    expect(() => checkEk(device, [root])).not.toThrow();
  });

  it.each([
    ['no certificate', { ekCertificate: undefined }, 'device femto-7: an EK certificate is required'],
    ['no intermediate', { ekIntermediates: [] }, 'device femto-7: EK certificate refused: the EK certificate does not chain'],
    ['another EK', { ekPublic: makeAk('rsa').public.toString('base64') }, 'for another key than the TPM\'s endorsement key'],
    ['an EK that does not parse', { ekPublic: 'AAAA' }, 'device femto-7: ekPublic is not a TPM public key'],
  ] as Array<[string, Partial<PveDeviceEntry>, string]>)('refuses %s (ERR_PVE_DEVICE_KEY)', (_n, over, why) => {
    const d = { ...device, ...over };
    if (over.ekCertificate === undefined && 'ekCertificate' in over) delete d.ekCertificate;
    expect(() => checkEk(d, [root])).toThrow(expect.objectContaining({ code: 'ERR_PVE_DEVICE_KEY', message: expect.stringContaining(why) }) as Error);
  });

  it('startPve with ek-ca refuses to start on such a device; without ek-ca the certificate is not required', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-enrol-ek-'));
    try {
      const bare: PveDeviceEntry = { ...device };
      delete bare.ekCertificate;
      await expect(startPve({ listen: '127.0.0.1:0', dataDir: dir, devices: [bare], referenceValues: {}, ekCa: [root] }))
        .rejects.toMatchObject({ code: 'ERR_PVE_DEVICE_KEY', message: expect.stringContaining('device femto-7: an EK certificate is required') });
      const pve = await startPve({ listen: '127.0.0.1:0', dataDir: dir, devices: [bare], referenceValues: {} });
      await pve.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
