/**
 * The PVE rotates its signing key while the OAM runs: the PVE restarts with a new key (rotateSigningKey on its keys
 * directory) on the same addresses and its jwks.json is written anew by a rename (as src/cli/pve-service.ts does).
 * The OAM (the built-in activate, config pve.jwks naming that file) verifies the new key's tokens without a restart,
 * over RESTCONF and over NETCONF; until the file names the new key, its tokens are refused as before. Before the change the OAM kept the keys it read at start: every integrity check
 * failed with ERR_TOKEN_KEY_UNKNOWN until the OAM restarted.
 */
import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle, StartPveOptions } from '../../src/pve/service.js';
import { silentLogger } from '../../src/log/logger.js';
import { el, leaf, textOf } from '../../src/netconf/xml/build.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import { rotateSigningKey } from '../../src/tokens/index.js';
import { activateOam, closeE2e } from '../helpers/oam-e2e.js';
import type { RecordingRegistry } from '../helpers/registry.js';

let dir: string;
let fleet: Fleet;
let pveSvc: PveHandle | undefined;
const handles: PluginHandle[] = [];

const jwksFile = (): string => join(dir, 'pve-jwks.json');

async function publishJwks(pve: PveHandle): Promise<void> {
  await writeFile(`${jwksFile()}.tmp`, JSON.stringify(pve.jwks, null, 2) + '\n');
  await rename(`${jwksFile()}.tmp`, jwksFile());
}

function pveOptions(listen: string, ncListen: string): StartPveOptions {
  return {
    listen, dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues,
    deviceTimeoutMs: 3000, netconf: { listen: ncListen, users: [{ username: 'oam', password: 'pve-secret' }] },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-e2e-pve-rotation-'));
  fleet = await startFleet({ profiles: { healthy: 2 }, dataDir: join(dir, 'fleet') });
  pveSvc = await startPve(pveOptions('127.0.0.1:0', '127.0.0.1:0'));
  await publishJwks(pveSvc);
}, 60_000);

afterAll(() => closeE2e({ oams: handles, pve: pveSvc, fleet, dir }), 30_000);

async function startOam(pve: OamPluginConfig['pve'], sub: string): Promise<RecordingRegistry> {
  const { registry, handle } = await activateOam(fleet, dir, pve, sub);
  handles.push(handle);
  return registry;
}

/** an integrity-request's ear-status, or the rpc-error's message */
async function integrity({ rpcs }: RecordingRegistry, henbId: string): Promise<string> {
  try {
    const out = (await rpcs.get('integrity-request')!(el(HSV_NS, 'integrity-request', leaf(HSV_NS, 'henb-id', henbId)),
      { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger })) as XmlElement[];
    return textOf(out.find((e) => e.name === 'ear-status')!);
  } catch (err) {
    return (err as Error).message;
  }
}

describe('the PVE rotates its key while the OAM runs', () => {
  it('the new key\'s tokens verify without an OAM restart, over RESTCONF and NETCONF', async () => {
    const first = pveSvc!;
    const restconf = await startOam({ endpoint: first.url, ca: first.caPath, jwks: jwksFile(), timeout: 10 }, 'oam-rc');
    const netconf = await startOam({
      endpoint: `ssh://${first.netconf!.host}:${first.netconf!.port}`, transport: 'netconf', 'ssh-host-key': first.netconf!.hostKeySha256,
      username: 'oam', password: 'pve-secret', jwks: jwksFile(), timeout: 10,
    }, 'oam-nc');
    const [a, b] = fleet.devices.map((d) => d.henbId) as [string, string];
    expect(await integrity(restconf, a)).toBe('affirming');
    expect(await integrity(netconf, b)).toBe('affirming');

    // the rotation: the PVE restarts with a new key on the same addresses, its jwks.json renamed into place
    const oldKid = first.jwks.keys[0]!.kid;
    await first.close();
    pveSvc = undefined;
    await rotateSigningKey(join(dir, 'pve', 'keys'), 'pve');
    pveSvc = await startPve(pveOptions(`127.0.0.1:${first.port}`, `127.0.0.1:${first.netconf!.port}`));
    expect(pveSvc.jwks.keys.map((k) => k.kid)).not.toContain(oldKid);
    // until the file names the new key, its tokens are refused as any unknown key's (the same rpc-error as before)
    expect(await integrity(restconf, a)).toBe('the PVE\'s result did not verify (ERR_TOKEN_KEY_UNKNOWN)');
    await publishJwks(pveSvc);

    expect(await integrity(restconf, a)).toBe('affirming');
    expect(await integrity(netconf, b)).toBe('affirming');
  }, 90_000);
});
