/**
 * An OAM restart in the middle of a real install: the OAM (plugin, device driver, SQLite store) goes down
 * after the software-update reached a simulated femtocell over NETCONF/SSH, a new OAM opens the same data
 * directory, resumes the job, watches the device again and verifies the completion. The update is sent once.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { createDeviceDriver } from '../../src/device/driver.js';
import type { NetconfDeviceDriver } from '../../src/device/driver.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { createPveClient } from '../../src/pve/client.js';
import type { RestconfPveClient } from '../../src/pve/client.js';
import { silentLogger } from '../../src/log/logger.js';
import type { NetconfRegistry, RpcHandler } from '../../src/netconf/server/registry.js';
import { childText, el, leaf } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { createOamPlugin } from '../../src/oam-plugin/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import type { DeviceDriver } from '../../src/oam/ports.js';
import { extendDigest } from '../../src/oam/measure.js';
import { until } from '../helpers/until.js';

let dir: string;
let fleet: Fleet;
let pveSvc: PveHandle;
let pveClient: RestconfPveClient;
const drivers: NetconfDeviceDriver[] = [];
const handles: PluginHandle[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-e2e-restart-'));
  // the install takes long enough for the OAM to go down and come back before it completes
  fleet = await startFleet({ profiles: { slow: 1 }, slowInstallMs: 2500, dataDir: join(dir, 'fleet') });
  pveSvc = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues, deviceTimeoutMs: 3000 });
  pveClient = createPveClient({ url: pveSvc.url, ca: pveSvc.ca, timeoutMs: 8000 });
}, 60_000);

afterAll(async () => {
  for (const h of handles) await h.close();
  for (const d of drivers) await d.close();
  pveClient?.close();
  await pveSvc?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);


/** one OAM "process": a new device driver and plugin on the same data directory */
async function startOam(notes: XmlElement[], rpcs: Map<string, RpcHandler>, sent: string[]): Promise<{ handle: PluginHandle; driver: NetconfDeviceDriver }> {
  const d = fleet.devices[0]!;
  const driver = createDeviceDriver({ devices: [{ henbId: d.henbId, host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 }], connectTimeoutMs: 3000, rpcTimeoutMs: 5000 });
  drivers.push(driver);
  // count what reaches the device; resume as the plugin's default activate wires it
  const devices: DeviceDriver = {
    softwareUpdate: async (h, cmd, sig) => { sent.push(cmd.jobId); await driver.softwareUpdate(h, cmd, sig); },
    rollback: (h, j, sig) => driver.rollback(h, j, sig),
    onCompletion: (l) => driver.onCompletion(l),
    resume: (h, j, since, sig) => driver.resume(h, j, since, sig),
  };
  const registry: NetconfRegistry = {
    addRpc: (_ns, name, h) => { rpcs.set(name, h); }, addState: () => undefined, addStream: () => undefined, addModule: () => undefined,
    notify: async (_s, e) => { notes.push(e); }, getRunning: () => el(NETCONF_BASE_NS, 'data'), onConfigChange: () => undefined,
  };
  const plugin = createOamPlugin({
    pve: pveClient, devices, pveJwks: pveSvc.jwks, inventory: [d.henbId],
    policies: { selfCheck: true, onMismatch: ['alarm'], stepTimeoutSec: 20, pveTimeoutSec: 10 },
  });
  const handle = await plugin.activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, 'oam'), config: { software: { 'file-root': dir } }, signal: new AbortController().signal });
  handles.push(handle);
  return { handle, driver };
}

describe('OAM restart during a real install', () => {
  it('the second OAM resumes the job and verifies it; the software-update went out once', async () => {
    const image = Buffer.from('firmware 3.0.0 '.repeat(1000));
    await writeFile(join(dir, 'image.bin'), image);
    const rim = createHash('sha256').update(image).digest('hex');
    const henbId = fleet.devices[0]!.henbId;
    const before = fleet.cell(henbId)!.tim();
    const sent: string[] = [];

    const notes1: XmlElement[] = [];
    const rpcs1 = new Map<string, RpcHandler>();
    const first = await startOam(notes1, rpcs1, sent);
    const out = (await rpcs1.get('software-update')!(el(HSV_NS, 'software-update', leaf(HSV_NS, 'henb-id', henbId),
      el(HSV_NS, 'software', leaf(HSV_NS, 'uri', pathToFileURL(join(dir, 'image.bin')).href), leaf(HSV_NS, 'version', '3.0.0'))),
    { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger })) as XmlElement[];
    const jobId = childText(out[0]!, HSV_NS, 'job-id')!;
    await until(() => notes1.some((n) => n.name === 'software-update-progress' && childText(n, HSV_NS, 'step') === '7'), 'the device accepting the update');
    await first.handle.close();
    await first.driver.close();

    const notes2: XmlElement[] = [];
    await startOam(notes2, new Map(), sent);
    await until(() => notes2.some((n) => n.name === 'software-update-result'), 'the result after the restart', 20_000);
    const res = notes2.find((n) => n.name === 'software-update-result')!;
    expect(childText(res, HSV_NS, 'job-id')).toBe(jobId);
    expect(childText(res, HSV_NS, 'status')).toBe('verified');
    expect(childText(res, HSV_NS, 'reported-tim')).toBe(extendDigest(before, rim));
    expect(sent).toEqual([jobId]);
    expect(notes1.some((n) => n.name === 'software-update-result')).toBe(false);
  }, 60_000);
});
