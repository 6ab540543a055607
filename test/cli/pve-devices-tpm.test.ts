/**
 * The PVE devices file's AK enrolment (src/cli/pve-service.ts): trust-root tpm with ak-public (base64
 * TPM2B_PUBLIC) or ak-public-file (the binary file tpm2_readpublic -f tss writes); camelCase as in
 * `simulate --json`; a tpm device without an AK, or a bad trust root, is ERR_CONFIG_PVE_DEVICES naming the field.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPveDevicesFile } from '../../src/cli/pve-service.js';
import { makeAk } from '../helpers/tpm-structures.js';

let dir: string;
const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const ak = makeAk('ecc').public;
const device = (extra: string): string =>
  `devices:\n  - henb-id: femto-1\n    host: 127.0.0.1\n    port: 4830\n    username: oam\n    device-public-key: |\n${pem.trim().split('\n').map((l) => `      ${l}`).join('\n')}\n${extra}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pve-devices-tpm-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('PVE devices file: TPM attestation keys', () => {
  it('reads ak-public (base64) and ak-public-file (binary TPM2B_PUBLIC) with trust-root tpm', async () => {
    const f = join(dir, 'a.yaml');
    await writeFile(f, device(`    trust-root: tpm\n    ak-public: ${ak.toString('base64')}\n`));
    expect((await loadPveDevicesFile(f)).devices[0]).toMatchObject({ henbId: 'femto-1', trustRoot: 'tpm', akPublic: ak.toString('base64') });
    await writeFile(join(dir, 'ak.pub'), ak);
    await writeFile(f, device('    trust-root: tpm\n    ak-public-file: ak.pub\n'));
    expect((await loadPveDevicesFile(f)).devices[0]).toMatchObject({ trustRoot: 'tpm', akPublic: ak.toString('base64') });
  });

  it('reads simulate --json\'s camelCase akPublic and trustRoot', async () => {
    const f = join(dir, 'sim.json');
    await writeFile(f, JSON.stringify({ devices: [{ henbId: 'healthy-tpm-1', host: '127.0.0.1', port: 4830, username: 'oam', password: 'p', devicePublicKey: pem, trustRoot: 'tpm', akPublic: ak.toString('base64') }] }));
    expect((await loadPveDevicesFile(f)).devices[0]).toMatchObject({ trustRoot: 'tpm', akPublic: ak.toString('base64') });
  });

  it('trust-root tpm without an AK, a bad trust root, an unreadable AK file: coded errors naming the field', async () => {
    const f = join(dir, 'bad.yaml');
    await writeFile(f, device('    trust-root: tpm\n'));
    await expect(loadPveDevicesFile(f)).rejects.toMatchObject({ code: 'ERR_CONFIG_PVE_DEVICES', message: expect.stringContaining('devices[0].ak-public: is required with trust-root tpm') });
    await writeFile(f, device('    trust-root: tpm2\n'));
    await expect(loadPveDevicesFile(f)).rejects.toMatchObject({ message: expect.stringContaining('devices[0].trust-root: expected software-key or tpm') });
    await writeFile(f, device('    trust-root: tpm\n    ak-public-file: missing.pub\n'));
    await expect(loadPveDevicesFile(f)).rejects.toMatchObject({ message: expect.stringContaining('devices[0].ak-public-file: cannot read missing.pub') });
    await writeFile(f, device('    ak-public: "not base64!"\n'));
    await expect(loadPveDevicesFile(f)).rejects.toMatchObject({ message: expect.stringContaining('devices[0].ak-public: expected base64') });
  });
});

describe('PVE devices file: EK certificates and manufacturer CAs (issue 10)', () => {
  const fx = (name: string): URL => new URL(`../integrity/tpm/fixtures/${name}`, import.meta.url);

  it('reads ek-ca (PEM files), ek-certificate-file (DER), ek-public-file and ek-intermediates; simulate --json\'s camelCase too', async () => {
    const { readFile, copyFile } = await import('node:fs/promises');
    for (const n of ['ek-root-ca.pem', 'ek-cert.der', 'ek.pub']) await copyFile(fx(n), join(dir, n));
    const issuer = await readFile(fx('ek-issuer-ca.pem'), 'utf8');
    const f = join(dir, 'ek.yaml');
    await writeFile(f, `ek-ca: [ek-root-ca.pem]\n${device(`    trust-root: tpm\n    ak-public: ${ak.toString('base64')}\n    ek-certificate-file: ek-cert.der\n    ek-public-file: ek.pub\n    ek-intermediates:\n      - |\n${issuer.trim().split('\n').map((l) => `        ${l}`).join('\n')}\n`)}`);
    const inv = await loadPveDevicesFile(f);
    const der = await readFile(fx('ek-cert.der'));
    expect(inv.ekCa).toEqual([await readFile(fx('ek-root-ca.pem'), 'utf8')]);
    expect(inv.devices[0]).toMatchObject({ ekCertificate: der.toString('base64'), ekPublic: (await readFile(fx('ek.pub'))).toString('base64'), ekIntermediates: [issuer.trim() + '\n'] });
    const j = join(dir, 'ek.json');
    await writeFile(j, JSON.stringify({ ekCa: ['ek-root-ca.pem'], devices: [{ henbId: 'h', host: '127.0.0.1', port: 1, username: 'u', devicePublicKey: pem, trustRoot: 'tpm', akPublic: ak.toString('base64'), ekCertificate: der.toString('base64'), ekIntermediates: [issuer] }] }));
    expect((await loadPveDevicesFile(j)).devices[0]).toMatchObject({ ekCertificate: der.toString('base64'), ekIntermediates: [issuer] });
  });

  it('a bad ek-ca or ek-certificate is ERR_CONFIG_PVE_DEVICES naming the field', async () => {
    const f = join(dir, 'bad.yaml');
    await writeFile(f, `ek-ca: [missing.pem]\n${device('')}`);
    await expect(loadPveDevicesFile(f)).rejects.toMatchObject({ code: 'ERR_CONFIG_PVE_DEVICES', message: expect.stringContaining('ek-ca[0]: cannot read') });
    await writeFile(f, device('    ek-certificate: "not base64!"\n'));
    await expect(loadPveDevicesFile(f)).rejects.toMatchObject({ code: 'ERR_CONFIG_PVE_DEVICES', message: expect.stringContaining('devices[0].ek-certificate: expected a PEM certificate or base64 DER') });
  });
});
