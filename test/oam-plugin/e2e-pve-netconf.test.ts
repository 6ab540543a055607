/**
 * The PVE reached over NETCONF (pve.transport: netconf): the built-in plugin's activate builds the NETCONF
 * PVE client from the config (ssh:// endpoint, pinned host key, user and password), and a software update of a
 * simulated femtocell ends verified with the PVE's token obtained over NETCONF/SSH. The config names no
 * RESTCONF URL at all. A wrong host key pin refuses the update before the device is touched.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { silentLogger } from '../../src/log/logger.js';
import type { NetconfRegistry, RpcHandler } from '../../src/netconf/server/registry.js';
import { childText, el, leaf } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { activate } from '../../src/oam-plugin/index.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import { extendDigest } from '../../src/oam/measure.js';
import { verifyTokenCli } from '../../src/tokens/index.js';
import { until } from '../helpers/until.js';

let dir: string;
let fleet: Fleet;
let pveSvc: PveHandle;
let handle: PluginHandle | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-e2e-pve-nc-'));
  fleet = await startFleet({ profiles: { healthy: 2 }, dataDir: join(dir, 'fleet') });
  pveSvc = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues,
    deviceTimeoutMs: 3000, netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', password: 'pve-secret' }] },
  });
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pveSvc.jwks));
  await writeFile(join(dir, 'image.bin'), Buffer.from('firmware 5.0.0 '.repeat(500)));
}, 60_000);

afterEach(async () => {
  await handle?.close();
  handle = undefined;
});

afterAll(async () => {
  await pveSvc?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);


async function startOam(pve: OamPluginConfig['pve'], sub: string, notes: XmlElement[]): Promise<Map<string, RpcHandler>> {
  const rpcs = new Map<string, RpcHandler>();
  const config: OamPluginConfig = {
    henbs: fleet.devices.map((d) => ({ 'henb-id': d.henbId, address: d.host, port: d.port, username: d.username, password: d.password, 'ssh-host-key': d.hostKeySha256 })),
    pve, policies: { 'on-mismatch': ['alarm'], 'step-timeout': 20 }, software: { 'file-root': dir },
  };
  const registry: NetconfRegistry = {
    addRpc: (_ns, name, h) => { rpcs.set(name, h); }, addState: () => undefined, addStream: () => undefined, addModule: () => undefined,
    notify: async (_s, e) => { notes.push(e); }, getRunning: () => el(NETCONF_BASE_NS, 'data'), onConfigChange: () => undefined,
  };
  handle = await activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, sub), config, signal: new AbortController().signal });
  return rpcs;
}

function update(rpcs: Map<string, RpcHandler>, henbId: string): Promise<XmlElement[]> {
  return rpcs.get('software-update')!(el(HSV_NS, 'software-update', leaf(HSV_NS, 'henb-id', henbId),
    el(HSV_NS, 'software', leaf(HSV_NS, 'uri', pathToFileURL(join(dir, 'image.bin')).href), leaf(HSV_NS, 'version', '5.0.0'))),
  { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger }) as Promise<XmlElement[]>;
}

const netconfPve = (): NonNullable<OamPluginConfig['pve']> => ({
  endpoint: `ssh://${pveSvc.netconf!.host}:${pveSvc.netconf!.port}`, transport: 'netconf',
  'ssh-host-key': pveSvc.netconf!.hostKeySha256, username: 'oam', password: 'pve-secret',
  jwks: join(dir, 'pve-jwks.json'), timeout: 10,
});

describe('PVE over NETCONF', () => {
  it('a job is verified with the PVE reached over NETCONF/SSH', async () => {
    const henbId = fleet.devices[0]!.henbId;
    const before = fleet.cell(henbId)!.tim();
    const notes: XmlElement[] = [];
    const rpcs = await startOam(netconfPve(), 'oam-ok', notes);
    const out = await update(rpcs, henbId);
    const jobId = childText(out[0]!, HSV_NS, 'job-id')!;
    expect(childText(out[0]!, HSV_NS, 'status')).toBe('started');
    await until(() => notes.some((n) => n.name === 'software-update-result'), 'the result');
    const res = notes.find((n) => n.name === 'software-update-result')!;
    expect(childText(res, HSV_NS, 'job-id')).toBe(jobId);
    expect(childText(res, HSV_NS, 'status')).toBe('verified');
    const rim = createHash('sha256').update(Buffer.from('firmware 5.0.0 '.repeat(500))).digest('hex');
    expect(childText(res, HSV_NS, 'reported-tim')).toBe(extendDigest(before, rim));
    // the PVE step (2-4) was answered: its progress notification is there
    const steps = notes.filter((n) => n.name === 'software-update-progress').map((n) => Number(childText(n, HSV_NS, 'step')));
    expect(steps).toContain(4);
    const { claims } = await verifyTokenCli(childText(res, HSV_NS, 'attestation-result')!, join(dir, 'oam-ok', 'keys', 'jwks.json'));
    expect(claims.ear_status).toBe('affirming');
    expect(claims.sub).toBe(henbId);
  }, 60_000);

  it('a PVE whose host key is not the pinned one: the update is refused, the device untouched', async () => {
    const henbId = fleet.devices[1]!.henbId;
    const before = fleet.cell(henbId)!.tim();
    const notes: XmlElement[] = [];
    const rpcs = await startOam({ ...netconfPve(), 'ssh-host-key': fleet.devices[0]!.hostKeySha256 }, 'oam-badkey', notes);
    await update(rpcs, henbId);
    await until(() => notes.some((n) => n.name === 'software-update-result'), 'the result');
    const res = notes.find((n) => n.name === 'software-update-result')!;
    expect(childText(res, HSV_NS, 'status')).not.toBe('verified');
    expect(childText(res, HSV_NS, 'reason')).toMatch(/ERR_PVE_HOST_KEY/);
    expect(fleet.cell(henbId)!.tim()).toBe(before);
    expect(fleet.cell(henbId)!.slots().find((s) => s.name === 'slot-b')?.status).toBe('EMPTY');
  }, 60_000);
});
