/**
 * For the end-to-end tests of the built-in OAM plugin (test/oam-plugin/e2e-*.test.ts): the OAM activated as the host
 * would, over a simulated fleet and a PVE, and the teardown of what a test file started.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../src/log/logger.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { activate } from '../../src/oam-plugin/index.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';
import type { PveHandle } from '../../src/pve/service.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { recordingRegistry } from './registry.js';
import type { RecordingRegistry } from './registry.js';

/**
 * The OAM (activate) on a recording registry: every H(e)NB of the fleet (password, pinned SSH host key), the given
 * `pve`, policies on-mismatch alarm and step-timeout 20 s, software files under `dir`, its data in `dir`/`sub`.
 */
export async function activateOam(fleet: Fleet, dir: string, pve: OamPluginConfig['pve'], sub: string): Promise<{ registry: RecordingRegistry; handle: PluginHandle }> {
  const config: OamPluginConfig = {
    henbs: fleet.devices.map((d) => ({ 'henb-id': d.henbId, address: d.host, port: d.port, username: d.username, password: d.password, 'ssh-host-key': d.hostKeySha256 })),
    pve, policies: { 'on-mismatch': ['alarm'], 'step-timeout': 20 }, software: { 'file-root': dir },
  };
  const registry = recordingRegistry();
  const handle = await activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, sub), config, signal: new AbortController().signal });
  return { registry, handle };
}

/** closes the OAMs (in order), then the PVE and the fleet, then removes `dir`; any of them may not have started */
export async function closeE2e(e: { oams?: PluginHandle[]; pve: PveHandle | undefined; fleet: Fleet | undefined; dir: string | undefined }): Promise<void> {
  for (const h of e.oams ?? []) await h.close();
  await e.pve?.close();
  await e.fleet?.close();
  if (e.dir !== undefined) await rm(e.dir, { recursive: true, force: true });
}
