import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { createPveClient } from '../../src/pve/client.js';
import type { RestconfPveClient } from '../../src/pve/client.js';
import { createNetconfPveClient } from '../../src/pve/netconf-client.js';
import { newNonce } from '../../src/tokens/nonce.js';
import type { EarClaims } from '../../src/tokens/types.js';

// the PVE collecting evidence from simulated femtocells over real NETCONF/SSH sessions
let fleet: Fleet;
let pve: PveHandle;
let client: RestconfPveClient;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hsv-pve-nc-'));
  fleet = await startFleet({ profiles: { healthy: 1, compromised: 1, unreachable: 1 } });
  const devices = fleet.devices.map((d) => ({ ...d }));
  // a device whose host key is not the one pinned in the PVE's inventory
  devices.push({ ...fleet.devices[0]!, henbId: 'impostor-1', hostKeySha256: fleet.devices[1]!.hostKeySha256 });
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir, devices, referenceValues: fleet.referenceValues, deviceTimeoutMs: 5000,
    netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', password: 'pve-secret' }] },
  });
  client = createPveClient({ url: pve.url, ca: pve.ca });
});

afterAll(async () => {
  client.close();
  await pve.close();
  await fleet.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function claimsOf(token: string): Promise<EarClaims> {
  const { payload } = await jwtVerify(token, createLocalJWKSet(pve.jwks as never), { issuer: pve.issuer, audience: pve.audience as string });
  return payload as unknown as EarClaims;
}

describe('PVE with NETCONF evidence collection', () => {
  it('healthy-1: affirming; the reported TIM is the device TIM', async () => {
    const nonce = newNonce();
    const r = await client.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'job-1' }, new AbortController().signal);
    expect(r.earStatus).toBe('affirming');
    const c = await claimsOf(r.token);
    expect(c.eat_nonce).toBe(nonce);
    expect(c.submods.platform?.['reported-tim']).toBe(fleet.cell('healthy-1')!.tim());
    expect(c.submods.platform?.['software-version']).toBe('1.0.0');
  });

  it('compromised-1: contraindicated, kernel named', async () => {
    const r = await client.integrityRequest({ henbId: 'compromised-1', nonce: newNonce(), jobId: 'job-2' }, new AbortController().signal);
    expect(r.earStatus).toBe('contraindicated');
    expect((await claimsOf(r.token)).submods.platform?.['first-mismatch']).toBe('kernel');
  });

  it('unreachable-1 and a host key mismatch: henb-unreachable errors with the cause code', async () => {
    await expect(client.integrityRequest({ henbId: 'unreachable-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal))
      .rejects.toMatchObject({ code: 'ERR_PVE_REJECTED', appTag: 'henb-unreachable', message: expect.stringContaining('ERR_DEVICE_UNREACHABLE') });
    await expect(client.integrityRequest({ henbId: 'impostor-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal))
      .rejects.toMatchObject({ code: 'ERR_PVE_REJECTED', appTag: 'henb-unreachable', message: expect.stringContaining('ERR_DEVICE_HOST_KEY') });
  });
});

describe('PVE over NETCONF', () => {
  const target = () => ({ host: pve.netconf!.host, port: pve.netconf!.port, username: 'oam', password: 'pve-secret', hostKeySha256: pve.netconf!.hostKeySha256 });

  it('integrity-request over NETCONF: the same signed results', async () => {
    const c = createNetconfPveClient(target());
    const nonce = newNonce();
    const ok = await c.integrityRequest({ henbId: 'healthy-1', nonce, jobId: 'job-n1' }, new AbortController().signal);
    expect(ok.earStatus).toBe('affirming');
    expect((await claimsOf(ok.token)).eat_nonce).toBe(nonce);
    const bad = await c.integrityRequest({ henbId: 'compromised-1', nonce: newNonce(), jobId: 'job-n2' }, new AbortController().signal);
    expect(bad.earStatus).toBe('contraindicated');
  });

  it('rpc-errors and connection failures are coded', async () => {
    const c = createNetconfPveClient(target());
    await expect(c.integrityRequest({ henbId: 'nobody', nonce: newNonce(), jobId: 'j' }, new AbortController().signal))
      .rejects.toMatchObject({ code: 'ERR_PVE_UNKNOWN_HENB', appTag: 'unknown-henb' });
    await expect(c.integrityRequest({ henbId: 'unreachable-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal))
      .rejects.toMatchObject({ code: 'ERR_PVE_REJECTED', errorTag: 'operation-failed', appTag: 'henb-unreachable' });
    await expect(c.integrityRequest({ henbId: 'healthy-1', nonce: 'c2hvcnQ', jobId: 'j' }, new AbortController().signal))
      .rejects.toMatchObject({ code: 'ERR_PVE_REJECTED', errorTag: 'invalid-value' });
    await expect(createNetconfPveClient({ ...target(), password: 'wrong' }).integrityRequest({ henbId: 'healthy-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal))
      .rejects.toMatchObject({ code: 'ERR_PVE_AUTH' });
    await expect(createNetconfPveClient({ ...target(), hostKeySha256: fleet.devices[0]!.hostKeySha256 }).integrityRequest({ henbId: 'healthy-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal))
      .rejects.toMatchObject({ code: 'ERR_PVE_HOST_KEY' });
  });
});
