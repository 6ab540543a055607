/**
 * docs/pve-devices-file.md (issue 14 item 3): its format example is a valid devices file, and the simulator's
 * `simulate --json` document loads as it is.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPveDevicesFile } from '../../src/cli/pve-service.js';
import { makeAk } from '../helpers/tpm-structures.js';
import { startFleet } from '../../src/simulator/simulator.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pve-devices-doc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('docs/pve-devices-file.md', () => {
  it('the YAML example loads, with every key the doc names', async () => {
    const doc = await readFile(new URL('../../docs/pve-devices-file.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(yaml).toBeDefined();
    await mkdir(join(dir, 'keys'));
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await writeFile(join(dir, 'keys', 'femto-0001.pem'), pem);
    await writeFile(join(dir, 'keys', 'femto-0002.pem'), pem);
    const ak = makeAk('ecc').public;
    await writeFile(join(dir, 'keys', 'femto-0002-ak.pub'), ak);
    await writeFile(join(dir, 'devices.yaml'), yaml!);
    const f = await loadPveDevicesFile(join(dir, 'devices.yaml'), { FEMTO_0001_PW: 'pw1', FEMTO_0002_PW: 'pw3', PVE_NETCONF_PW: 'pw2' });
    expect(f.devices).toEqual([
      { henbId: 'femto-0001', host: '192.0.2.10', port: 830, username: 'pve', password: 'pw1', hostKeySha256: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU', devicePublicKey: pem },
      { henbId: 'femto-0002', host: '192.0.2.11', port: 830, username: 'pve', password: 'pw3', devicePublicKey: pem, trustRoot: 'tpm', akPublic: ak.toString('base64') },
    ]);
    expect(Object.keys(f.referenceValues)).toEqual(['bootloader', 'kernel', 'rootfs']);
    expect(f.approvedSoftware).toEqual(['/srv/henb-images']);
    expect(f.netconf).toEqual({ listen: '127.0.0.1:8831', users: [{ username: 'oam', password: 'pw2' }] });
    expect(f.oamJwks).toBe(join(dir, 'oam-jwks.json'));
    expect(f.oamIssuer).toBe('urn:henb-sw-verify:oam');
    // a variable the doc says must be set, unset: the error names the field
    await expect(loadPveDevicesFile(join(dir, 'devices.yaml'), { FEMTO_0002_PW: 'pw3' })).rejects.toMatchObject({ code: 'ERR_CONFIG_PVE_DEVICES', message: expect.stringContaining('devices[0].password-env') });
  });

  it('the output of simulate --json is a devices file as it is', async () => {
    const fleet = await startFleet({ profiles: { healthy: 1, compromised: 1 } });
    try {
      await writeFile(join(dir, 'fleet.json'), JSON.stringify({ event: 'ready', devices: fleet.devices, referenceValues: fleet.referenceValues }));
      const f = await loadPveDevicesFile(join(dir, 'fleet.json'), {});
      expect(f.devices.map((d) => d.henbId).sort()).toEqual(fleet.devices.map((d) => d.henbId).sort());
      expect(f.referenceValues).toEqual(fleet.referenceValues);
    } finally {
      await fleet.close();
    }
  }, 30_000);
});
