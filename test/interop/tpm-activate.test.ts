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
 * And from the command line: `simulate --trust-root tpm --tpm-ek-ca DIR --json` is a devices file that `pve --devices`
 * reads as it is (ekCa included): the PVE checks each EK certificate's chain and challenges each AK.
 * A missing swtpm, swtpm_setup or tpm2-tools fails (scripts/install-peers.sh installs them).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet, SimulatedDevice } from '../../src/simulator/simulator.js';
import { createPveClient, startPve } from '../../src/pve/index.js';
import type { PveDeviceEntry, PveHandle, RestconfPveClient } from '../../src/pve/index.js';
import { newNonce } from '../../src/tokens/index.js';
import { createLogger } from '../../src/log/logger.js';
import { runSimulateCommand } from '../../src/simulator/cli.js';
import { runPveCommand } from '../../src/cli/pve-service.js';

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

  it('enrolled with the TPM\'s ECC P-256 EK: the PVE sends endorsement-key ecc, the device activates with that EK, affirming', async () => {
    const eccEk = (await fleet.tpm(a.henbId)!.eccEkPublic()).toString('base64');
    const entry: PveDeviceEntry = { ...a, henbId: 'a-ecc-ek', ekPublic: eccEk };
    delete entry.ekCertificate;
    delete entry.ekIntermediates;
    const own: string[] = [];
    const p = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve-ecc'), referenceValues: fleet.referenceValues, devices: [entry, { ...entry, henbId: 'b-ecc-ek-of-a', akPublic: b.akPublic! }],
      log: createLogger({ level: 'info', write: (l: string) => own.push(l) }) });
    const c = createPveClient({ url: p.url, ca: p.ca, timeoutMs: 30_000 });
    try {
      expect((await c.integrityRequest({ henbId: 'a-ecc-ek', nonce: newNonce(), jobId: 'x' }, new AbortController().signal)).earStatus).toBe('affirming');
      expect(own.some((l) => l.includes('attestation key bound to the EK') && l.includes('a-ecc-ek'))).toBe(true);
      // B's AK with A's ECC EK: A's TPM holds no object with B's AK Name
      const r = await c.integrityRequest({ henbId: 'b-ecc-ek-of-a', nonce: newNonce(), jobId: 'x' }, new AbortController().signal);
      expect(r).toMatchObject({ earStatus: 'contraindicated', reason: REFUSED });
    } finally {
      c.close();
      await p.close();
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

class Out {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

async function firstLine(out: Out, running: Promise<number>): Promise<string> {
  let ended: unknown;
  running.then((rc) => { ended = new Error(`the command ended with ${rc} before printing`); }, (e: unknown) => { ended = e; });
  for (let i = 0; i < 3000 && !out.text.includes('\n'); i++) {
    if (ended !== undefined) throw ended;
    await new Promise((r) => setTimeout(r, 20));
  }
  return out.text.split('\n')[0]!;
}

describe('simulate --tpm-ek-ca (the command line)', () => {
  it('its JSON names ekCa and each device\'s EK; pve --devices reads it as it is, checks the chain and challenges the AK; the text inventory shows the CA and each EK certificate', async () => {
    const cwd = join(dir, 'cli');
    const simOut = new Out();
    const simStop = new AbortController();
    const sim = runSimulateCommand({ fleet: [{ profile: 'healthy', count: 1 }], 'trust-root': 'tpm', 'tpm-ek-ca': 'cli-vendor-ca', 'data-dir': 'cli-fleet', json: true, 'log-level': 'silent' },
      { stdout: simOut, stderr: new Out(), signal: simStop.signal, cwd: dir });
    const inv = JSON.parse(await firstLine(simOut, sim)) as { ekCa: string[]; devices: Array<{ henbId: string; ekCertificate?: string; ekIntermediates?: string[]; ekPublic?: string }> };
    expect(inv.ekCa).toEqual([join(dir, 'cli-vendor-ca', 'swtpm-localca-rootca-cert.pem')]);
    const d = inv.devices[0]!;
    expect(d.henbId).toBe('healthy-tpm-1');
    expect(d.ekCertificate).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(d.ekIntermediates).toHaveLength(1);
    expect(d.ekPublic).toMatch(/^[A-Za-z0-9+/]+=*$/);
    await rm(cwd, { recursive: true, force: true });
    await mkdir(cwd, { recursive: true });
    await writeFile(join(cwd, 'fleet.json'), JSON.stringify(inv));
    const pveOut = new Out();
    const pveErr = new Out();
    const pveStop = new AbortController();
    const pveRun = runPveCommand({ listen: '127.0.0.1:0', 'data-dir': 'pve', devices: 'fleet.json', json: true, 'log-level': 'info' },
      { stdout: pveOut, stderr: pveErr, signal: pveStop.signal, cwd, env: {} });
    const ready = JSON.parse(await firstLine(pveOut, pveRun)) as { url: string; ca: string; devices: number };
    expect(ready.devices).toBe(1);
    const c = createPveClient({ url: ready.url, ca: await readFile(ready.ca, 'utf8'), timeoutMs: 30_000 });
    try {
      expect((await c.integrityRequest({ henbId: 'healthy-tpm-1', nonce: newNonce(), jobId: 'cli' }, new AbortController().signal)).earStatus).toBe('affirming');
    } finally {
      c.close();
    }
    expect(pveErr.text).toContain('attestation key bound to the EK');
    pveStop.abort();
    simStop.abort();
    expect(await pveRun).toBe(0);
    expect(await sim).toBe(0);

    // again in text: the same TPM (kept in the data dir) with its EK certificate
    const textOut = new Out();
    const textStop = new AbortController();
    const text = runSimulateCommand({ fleet: [{ profile: 'healthy', count: 1 }], 'trust-root': 'tpm', 'tpm-ek-ca': 'cli-vendor-ca', 'data-dir': 'cli-fleet', 'log-level': 'silent' },
      { stdout: textOut, stderr: new Out(), signal: textStop.signal, cwd: dir });
    await firstLine(textOut, text);
    for (let i = 0; i < 500 && !textOut.text.includes('healthy-tpm-1 '); i++) await new Promise((r) => setTimeout(r, 20));
    expect(textOut.text).toContain(`TPM EK certificates: manufacturer CA ${join(dir, 'cli-vendor-ca', 'swtpm-localca-rootca-cert.pem')} (the PVE's ek-ca), intermediate ${join(dir, 'cli-vendor-ca', 'issuercert.pem')}`);
    const fp = createHash('sha256').update(Buffer.from(d.ekCertificate!, 'base64')).digest('hex');
    expect(textOut.text).toMatch(new RegExp(`^healthy-tpm-1 .* trust-root tpm ak [0-9a-f]+ ek-certificate ${fp}$`, 'm'));
    textStop.abort();
    expect(await text).toBe(0);
  }, 180_000);
});
