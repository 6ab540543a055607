/**
 * Interop (issue 10): the PVE's credential challenge at first contact, against swtpm through the simulator's
 * activate-credential RPC (henb-sw-verify-device 2026-12-03). Two simulated femtocells, each with its own swtpm
 * manufactured with an EK certificate (swtpm_setup --create-ek-cert, swtpm_localca). The PVE trusts the local CA,
 * makes a credential for the enrolled EK and AK Name (TPM2_MakeCredential in TypeScript) and sends it over NETCONF;
 * the device's TPM (tpm2_activatecredential) releases it only for its own AK under its own EK.
 *  - a genuine device passes and is appraised affirming; challenged once per PVE run;
 *  - a device enrolled with another TPM's (genuine, chaining) EK certificate and EK: its AK is not in that TPM, its
 *    TPM refuses the credential, the PVE answers contraindicated with the reason (its quotes alone would verify);
 *  - the same for an AK from the other TPM enrolled beside this TPM's EK.
 * A missing swtpm, swtpm_setup or tpm2-tools fails (scripts/install-peers.sh installs them).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet, SimulatedDevice } from '../../src/simulator/simulator.js';
import { createPveClient, startPve } from '../../src/pve/index.js';
import type { PveDeviceEntry, PveHandle, RestconfPveClient } from '../../src/pve/index.js';
import { newNonce } from '../../src/tokens/index.js';
import { createLogger } from '../../src/log/logger.js';

let dir: string;
let fleet: Fleet;
let a: SimulatedDevice;
let b: SimulatedDevice;
let pve: PveHandle;
let client: RestconfPveClient;
const lines: string[] = [];

/** device `of` with the EK (certificate, intermediates, EK public) of device `ekOf`, under another name */
function withEkOf(of: SimulatedDevice, ekOf: SimulatedDevice, henbId: string): PveDeviceEntry {
  return { ...of, henbId, ekCertificate: ekOf.ekCertificate!, ekIntermediates: ekOf.ekIntermediates!, ekPublic: ekOf.ekPublic! };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-tpm-activate-'));
  fleet = await startFleet({ fleet: [{ profile: 'healthy', count: 2, trustRoot: 'tpm' }], dataDir: join(dir, 'fleet'), tpmEkCa: join(dir, 'vendor-ca') });
  [a, b] = [fleet.devices[0]!, fleet.devices[1]!];
  const root = await readFile(join(dir, 'vendor-ca', 'swtpm-localca-rootca-cert.pem'), 'utf8');
  const log = createLogger({ level: 'info', write: (l: string) => lines.push(l) });
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), referenceValues: fleet.referenceValues, ekCa: [root], log,
    devices: [
      { ...a },
      // A's AK and quotes, B's EK certificate: the certificate chains, but A's AK does not live in B's TPM
      withEkOf(a, b, 'a-with-ek-of-b'),
      // B's AK enrolled for A's TPM (A's EK): A's TPM has no object with B's AK Name
      { ...withEkOf(a, a, 'a-with-ak-of-b'), akPublic: b.akPublic! },
    ],
  });
  client = createPveClient({ url: pve.url, ca: pve.ca, timeoutMs: 30_000 });
}, 180_000);

afterAll(async () => {
  client?.close();
  await pve?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

const ask = (henbId: string) => client.integrityRequest({ henbId, nonce: newNonce(), jobId: 'enrol' }, new AbortController().signal);
const REFUSED = 'evidence-invalid: the attestation key failed the credential challenge (TPM2_ActivateCredential for the enrolled EK and AK): the device answered activate-credential with operation-failed (credential-refused): the TPM did not release the credential (not made for this attestation key and endorsement key)';

describe('activate-credential at first contact (swtpm)', () => {
  it('a genuine device: its TPM releases the credential, the AK is bound, the quote is affirming; challenged once', async () => {
    expect((await ask(a.henbId)).earStatus).toBe('affirming');
    expect((await ask(a.henbId)).earStatus).toBe('affirming');
    const bound = lines.filter((l) => l.includes('attestation key bound to the EK') && l.includes(a.henbId));
    expect(bound).toHaveLength(1);
  }, 60_000);

  it('an AK from another TPM than the enrolled EK\'s is refused with the reason (ERR_PVE_AK_BINDING logged)', async () => {
    for (const id of ['a-with-ek-of-b', 'a-with-ak-of-b']) {
      const r = await ask(id);
      expect(r.earStatus).toBe('contraindicated');
      expect(r.reason).toBe(REFUSED);
      expect(lines.some((l) => l.includes('ERR_PVE_AK_BINDING') && l.includes(id))).toBe(true);
    }
  }, 60_000);

  it('the refusal is the binding\'s: without its EK the same device entry\'s quotes are affirming', async () => {
    const d = join(dir, 'pve-no-ek');
    const bare: PveDeviceEntry = { ...a, henbId: 'a-no-ek' };
    delete bare.ekCertificate;
    delete bare.ekIntermediates;
    delete bare.ekPublic;
    const p = await startPve({ listen: '127.0.0.1:0', dataDir: d, referenceValues: fleet.referenceValues, devices: [bare] });
    const c = createPveClient({ url: p.url, ca: p.ca, timeoutMs: 30_000 });
    try {
      expect((await c.integrityRequest({ henbId: 'a-no-ek', nonce: newNonce(), jobId: 'x' }, new AbortController().signal)).earStatus).toBe('affirming');
    } finally {
      c.close();
      await p.close();
    }
  }, 60_000);
});
