/**
 * The reference PVE of the interop tests that hand it reference values: it appraises `fleet`'s femtocells, trusts an
 * OAM key made here (`oam`; `other` is a key it does not trust), serves NETCONF to user oam / pve-secret, and its CA
 * is written to DIR/ca.pem for curl.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startPve } from '../../../src/pve/service.js';
import type { PveHandle } from '../../../src/pve/service.js';
import type { Fleet } from '../../../src/simulator/simulator.js';
import { generateSigningKey } from '../../../src/tokens/index.js';
import type { SigningKey } from '../../../src/tokens/index.js';

export async function startPveTrustingOam(dir: string, fleet: Fleet): Promise<{ pve: PveHandle; oam: SigningKey; other: SigningKey }> {
  const oam = await generateSigningKey('ES256', 'oam');
  const other = await generateSigningKey('ES256', 'other');
  await writeFile(join(dir, 'oam-jwks.json'), JSON.stringify({ keys: [oam.publicJwk] }));
  const pve = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues,
    oamJwks: join(dir, 'oam-jwks.json'), netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', password: 'pve-secret' }] },
  });
  await writeFile(join(dir, 'ca.pem'), pve.ca);
  return { pve, oam, other };
}
